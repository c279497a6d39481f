"""Text conditioning: a keras-hub text backbone and its tokenizer.

`TextEncoder` wraps any keras-hub text backbone (T5, CLIP text encoder,
BERT-like); its `TextPreprocessor` holds the matching tokenizer. The encoder
lives inside the denoiser's graph, so a `.keras` file of a text-conditioned
`SimpleDiffusion` holds the encoder's weights and the tokenizer (with its
vocabulary assets) too.

Strings cannot be tensors on JAX or PyTorch, so tokenisation happens outside
the model, in the preprocessor: in the `tf.data` pipeline
(`tokenize_dataset`) during training and on the host in
`SimpleDiffusion.generate(prompts=...)`. Both produce the same fixed-length
`{"token_ids": int32 (batch, L), "padding_mask": int32 (batch, L)}`.

The null condition of classifier-free guidance is the empty prompt: all
padding ids with an all-zero mask. The encoder always lets the first position
through its masks (for the empty prompt that is a padding token), so the
empty prompt has a well-defined, learned representation and no attention
ever runs over a fully masked sequence.

keras-hub (and tensorflow-text behind it) is heavy to import, so it is
imported lazily: only code on the text path pays for it.

Example:
>>> encoder = build_text_encoder()                 # tiny T5 over bytes, no download
>>> tokens = encoder.preprocessor.tokenize(["a red circle at the top left", ""])
>>> context, pooled, mask = encoder([tokens["token_ids"], tokens["padding_mask"]])
"""

import contextlib
import warnings

import keras
import numpy as np
from keras import ops

from keras_simple_diffusion.checks import check_choice, check_int, check_positive_int

DEFAULT_SEQUENCE_LENGTH = 48
BYTE_VOCABULARY_SIZE = 256
DEFAULT_WORD_BUCKETS = 8192
# What the default encoder reads: UTF-8 bytes, or whole words hashed to ids.
TOKEN_KINDS = ("bytes", "words")
# Words are the runs of letters and digits (RE2's Unicode classes).
WORD_SEPARATORS = r"[^\p{L}\p{N}]+"
# Keras warnings that keras-hub's T5 raises when built or called, none of
# them true of how it is used here: it takes its masks as inputs, so its
# attention drops no mask that matters, and the one-token decoder's softmax
# is not used.
T5_WARNINGS = (
    r"Layer '\w+' \(of type T5MultiHeadAttention\) was passed an input with a mask",
    r"You are using a softmax over axis -1 of a tensor of shape .* This axis has size 1\.",
)


@contextlib.contextmanager
def _without_t5_warnings():
    with warnings.catch_warnings():
        for message in T5_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        yield


def _keras_hub():
    import keras_hub  # noqa: PLC0415 (lazy: heavy import, text path only)

    return keras_hub


def default_text_backbone(
    hidden_dim=128,
    num_layers=2,
    num_heads=4,
    intermediate_dim=256,
    dropout=0.0,
    vocabulary_size=BYTE_VOCABULARY_SIZE,
):
    """A small `keras_hub.models.T5Backbone` over bytes (vocabulary 256) or
    hashed words (`vocabulary_size` buckets).

    Only its (bidirectional) encoder is used; the decoder is fed a single
    dummy token and `TextEncoder` freezes it. The token embeddings start at
    unit scale (see below).
    """
    with _without_t5_warnings():
        backbone = _keras_hub().models.T5Backbone(
            vocabulary_size=vocabulary_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            activation="gelu",
            use_gated_activation=True,
            tie_embedding_weights=True,
            name="text_backbone",
        )
    # Unit-scale token embeddings, as in the original T5: with keras-hub's
    # small default init the attention's shared component swamps the bytes,
    # every caption encodes to nearly the same vectors (spread 0.3 of a norm
    # of 11) and a jointly trained denoiser learns to ignore the text.
    embeddings = backbone.get_layer("token_embedding").embeddings
    embeddings.assign(keras.initializers.RandomNormal(stddev=1.0)(embeddings.shape))
    return backbone


def default_tokenizer(sequence_length=DEFAULT_SEQUENCE_LENGTH):
    """keras-hub's vocabulary-free `ByteTokenizer` (UTF-8 bytes; 0 pads)."""
    return _keras_hub().tokenizers.ByteTokenizer(
        sequence_length=sequence_length, name="text_tokenizer"
    )


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class WordHashTokenizer:
    """Whole words hashed to ids: a word-level tokenizer without a vocabulary.

    Lower-cases, splits at everything but letters and digits, and hashes
    each word (FarmHash's fingerprint, the same on every machine) to an id
    in `1 .. vocabulary_size - 1`; 0 pads. A jointly trained encoder over
    bytes must first learn to spell: names that share letters ("red apple",
    "green apple", "pineapple") start out encoded alike. Hashed words give
    each word its own embedding from the first step, and take any prompt,
    unseen words included (two words may share an id; with 1,500 words in
    8,192 ids about one in ten does).

    Called on a TensorFlow string tensor (shape `(batch,)`), it returns a
    `tf.RaggedTensor` of int64 ids, as keras-hub's tokenizers do.

    Args:
        vocabulary_size: number of ids, the padding id included.
    """

    pad_token_id = 0

    def __init__(self, vocabulary_size=DEFAULT_WORD_BUCKETS):
        self.vocabulary_size = check_int("vocabulary_size", vocabulary_size, minimum=2)

    def __call__(self, strings):
        import tensorflow as tf  # noqa: PLC0415

        text = tf.strings.lower(strings, encoding="utf-8")
        words = tf.strings.split(
            tf.strings.strip(tf.strings.regex_replace(text, WORD_SEPARATORS, " "))
        )
        return tf.ragged.map_flat_values(
            lambda flat: tf.strings.to_hash_bucket_fast(flat, self.vocabulary_size - 1) + 1, words
        )

    def get_config(self):
        return {"vocabulary_size": self.vocabulary_size}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _backbone_kind(backbone):
    """How to call a backbone: by the names of its inputs."""
    names = set(backbone.input.keys()) if isinstance(backbone.input, dict) else set()
    if "encoder_token_ids" in names:
        return "encoder_decoder"  # T5
    if {"token_ids", "padding_mask"} <= names:
        return "masked"  # BERT, RoBERTa, ...
    if "token_ids" in names:
        return "token_ids"  # CLIP text encoder (causal, no padding mask)
    raise ValueError(
        "TextEncoder needs a keras-hub text backbone with a `token_ids` (and "
        f"optionally `padding_mask`) input. Received inputs: {sorted(names) or backbone.input}."
    )


def _freeze_unused_decoder(backbone):
    """Freezes the layers of an encoder-decoder backbone (T5) that do not lead
    to its encoder output: only the encoder is used, and trainable variables
    without gradients make the optimizer warn at every step of `fit`."""
    encoder_inputs = {
        name: backbone.input[name] for name in ("encoder_token_ids", "encoder_padding_mask")
    }
    encoder = keras.Model(encoder_inputs, backbone.output["encoder_sequence_output"])
    encoder_layers = {id(layer) for layer in encoder.layers}
    for layer in backbone.layers:
        if id(layer) not in encoder_layers:
            layer.trainable = False


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class TextPreprocessor:
    """A keras-hub tokenizer giving fixed-length `{"token_ids", "padding_mask"}`.

    The host side of text conditioning, kept apart from the network as
    keras-hub keeps a `Preprocessor` apart from its `Backbone`: it runs in
    TensorFlow (`tokenize_tf`, usable inside `tf.data`) or on the host
    (`tokenize`, NumPy out), never inside the model, because strings cannot
    be tensors on JAX or PyTorch.

    Args:
        tokenizer: a keras-hub tokenizer, or its serialised config.
        sequence_length: fixed token length; longer prompts are truncated.
    """

    def __init__(self, tokenizer, sequence_length=DEFAULT_SEQUENCE_LENGTH):
        if isinstance(tokenizer, dict):
            _keras_hub()  # registers the keras-hub classes
            tokenizer = keras.saving.deserialize_keras_object(tokenizer)
        self.tokenizer = tokenizer
        self.sequence_length = check_positive_int("sequence_length", sequence_length)
        self.pad_id = int(getattr(tokenizer, "pad_token_id", None) or 0)
        self._tf_tokenize = None

    def tokenize_tf(self, strings):
        """Tokenises a 1-D string tensor with TF ops (usable inside `tf.data`)."""
        import tensorflow as tf  # noqa: PLC0415
        from keras_hub.src.utils.tensor_utils import no_convert_scope  # noqa: PLC0415

        # A guard string: some keras-hub tokenizers (ByteTokenizer) fail on a
        # batch whose strings are all empty.
        strings = tf.concat([tf.reshape(strings, [-1]), tf.constant(["."])], axis=0)
        with no_convert_scope():
            ids = self.tokenizer(strings)
        ids = ids[:-1]
        length = self.sequence_length
        if isinstance(ids, tf.RaggedTensor):
            ids = ids[..., :length].to_tensor(default_value=self.pad_id, shape=[None, length])
        else:
            ids = ids[..., :length]
            missing = length - tf.shape(ids)[-1]
            ids = tf.pad(ids, [[0, 0], [0, missing]], constant_values=self.pad_id)
            ids = tf.ensure_shape(ids, [None, length])
        ids = tf.cast(ids, "int32")
        mask = tf.cast(tf.not_equal(ids, self.pad_id), "int32")
        return {"token_ids": ids, "padding_mask": mask}

    def tokenize(self, strings):
        """Tokenises a list of strings on the host; returns NumPy int32 arrays."""
        import tensorflow as tf  # noqa: PLC0415

        if isinstance(strings, str):
            strings = [strings]
        strings = [str(s) for s in strings]
        if not strings:
            return self.null_tokens(0)
        if self._tf_tokenize is None:
            self._tf_tokenize = tf.function(
                self.tokenize_tf, input_signature=[tf.TensorSpec([None], tf.string)]
            )
        out = self._tf_tokenize(tf.constant(strings))
        return {key: value.numpy() for key, value in out.items()}

    def null_tokens(self, batch):
        """The empty prompt (the guidance null condition) as NumPy arrays."""
        return {
            "token_ids": np.full((batch, self.sequence_length), self.pad_id, "int32"),
            "padding_mask": np.zeros((batch, self.sequence_length), "int32"),
        }

    def tokenize_dataset(self, dataset):
        """Maps a `tf.data` dataset of `(images, captions)` to `(images, tokens)`,
        batched or unbatched."""
        import tensorflow as tf  # noqa: PLC0415

        def tokenize(images, captions):
            captions = tf.convert_to_tensor(captions)
            if captions.shape.rank == 0:
                tokens = self.tokenize_tf(captions[None])
                return images, {key: value[0] for key, value in tokens.items()}
            return images, self.tokenize_tf(captions)

        return dataset.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)

    def get_config(self):
        return {
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
            "sequence_length": self.sequence_length,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class TextEncoder(keras.layers.Layer):
    """A keras-hub text backbone, giving token and pooled embeddings, with the
    `TextPreprocessor` that tokenises its prompts.

    Inputs `[token_ids, padding_mask]`, both (batch, sequence_length) ints;
    outputs `[context, pooled, context_mask]`: the backbone's token
    embeddings (batch, L, hidden), their masked mean (batch, hidden) and the
    mask used (the padding mask with position 0 always on).

    Args:
        backbone: a keras-hub text backbone (e.g. `T5Backbone`,
            `CLIPTextEncoder`, `BertBackbone`), or its serialised config.
        tokenizer: the matching keras-hub tokenizer, or its serialised
            config; `preprocessor` tokenises with it on the host.
        sequence_length: fixed token length; longer prompts are truncated.
        trainable: False freezes the backbone (e.g. a pretrained T5 / CLIP
            encoder loaded with `from_preset`). The unused decoder of an
            encoder-decoder backbone (T5) is always frozen.

    Use `build_text_encoder()` for the default (a small byte-level T5
    trained jointly, no download) or `build_text_encoder(preset=local_dir)`.
    """

    def __init__(self, backbone, tokenizer, sequence_length=DEFAULT_SEQUENCE_LENGTH, **kwargs):
        super().__init__(**kwargs)
        if isinstance(backbone, dict):
            _keras_hub()  # registers the keras-hub classes
            with _without_t5_warnings():
                backbone = keras.saving.deserialize_keras_object(backbone)
        self.backbone = backbone
        self.preprocessor = TextPreprocessor(tokenizer, sequence_length)
        self.kind = _backbone_kind(backbone)
        self.hidden_dim = int(self._sequence_output_dim())
        # Layer.__init__ set `trainable` before the backbone existed: apply it
        # to the backbone now. (Not `self.trainable = self.trainable`: on
        # TensorFlow, Keras' tracking skips assigning an attribute its own
        # value, so the setter would never run and the backbone stay trainable.)
        self.backbone.trainable = self.trainable
        if self.kind == "encoder_decoder":
            _freeze_unused_decoder(self.backbone)

    @property
    def tokenizer(self):
        """The preprocessor's tokenizer. Keras' saving walks this attribute,
        so the tokenizer's assets (a vocabulary) are saved with the model."""
        return self.preprocessor.tokenizer

    @property
    def sequence_length(self):
        return self.preprocessor.sequence_length

    def _sequence_output_dim(self):
        output = self.backbone.output
        if isinstance(output, dict):
            output = output.get("encoder_sequence_output", output.get("sequence_output"))
        return output.shape[-1]

    # The network.

    def build(self, input_shape):
        # keras-hub backbones are functional models: already built.
        self.built = True

    def call(self, inputs, training=False):
        token_ids, padding_mask = inputs
        token_ids = ops.cast(token_ids, "int32")
        first = ops.expand_dims(ops.equal(ops.arange(ops.shape(token_ids)[1]), 0), 0)
        mask = ops.logical_or(ops.cast(padding_mask, "bool"), first)
        mask_int = ops.cast(mask, "int32")
        training = training and self.trainable
        if self.kind == "encoder_decoder":
            batch = ops.shape(token_ids)[0]
            dummy = ops.zeros((batch, 1), "int32")
            with _without_t5_warnings():
                outputs = self.backbone(
                    {
                        "encoder_token_ids": token_ids,
                        "encoder_padding_mask": mask_int,
                        "decoder_token_ids": dummy,
                        "decoder_padding_mask": ops.ones_like(dummy),
                    },
                    training=training,
                )
            context = outputs["encoder_sequence_output"]
        else:
            feed = {"token_ids": token_ids}
            if self.kind == "masked":
                feed["padding_mask"] = mask_int
            outputs = self.backbone(feed, training=training)
            context = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
        context = ops.cast(context, self.compute_dtype)
        weights = ops.cast(mask, context.dtype)[..., None]
        pooled = ops.sum(context * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        return context, pooled, mask_int

    def compute_output_spec(self, inputs, training=False):
        token_ids = inputs[0]
        batch, length = token_ids.shape[0], token_ids.shape[1]
        return (
            keras.KerasTensor((batch, length, self.hidden_dim), dtype=self.compute_dtype),
            keras.KerasTensor((batch, self.hidden_dim), dtype=self.compute_dtype),
            keras.KerasTensor((batch, length), dtype="int32"),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
            "sequence_length": self.sequence_length,
        }


def build_text_encoder(
    preset=None,
    trainable=True,
    sequence_length=DEFAULT_SEQUENCE_LENGTH,
    hidden_dim=128,
    num_layers=2,
    num_heads=4,
    intermediate_dim=256,
    dropout=0.0,
    tokens="bytes",
    word_buckets=DEFAULT_WORD_BUCKETS,
    name="text_encoder",
):
    """Builds a `TextEncoder`.

    Args:
        preset: None for the default (a small byte-level `T5Backbone` with
            keras-hub's vocabulary-free `ByteTokenizer`, trained jointly; no
            download), or a keras-hub preset: a local directory written by
            `backbone.save_to_preset(dir)` and `tokenizer.save_to_preset(dir)`
            (a T5 or CLIP text encoder, say). It is loaded with
            `keras_hub.models.Backbone.from_preset` and
            `keras_hub.tokenizers.Tokenizer.from_preset`.
        trainable: False freezes the backbone.
        sequence_length: fixed token length.
        hidden_dim, num_layers, num_heads, intermediate_dim, dropout: size
            of the default backbone (ignored with a preset).
        tokens: what the default backbone reads: "bytes" (keras-hub's
            `ByteTokenizer`) or "words" (`WordHashTokenizer`, whose words
            start apart: faster to learn many distinct names, such as the
            emoji's). Ignored with a preset.
        word_buckets: the number of word ids with `tokens="words"`.

    Example:
    >>> encoder = build_text_encoder()
    >>> encoder = build_text_encoder(tokens="words", sequence_length=16)
    >>> encoder = build_text_encoder(preset="/path/to/t5_small_preset", trainable=False)
    """
    keras_hub = _keras_hub()
    check_choice("tokens", tokens, TOKEN_KINDS)
    if preset is None:
        if tokens == "words":
            tokenizer, vocabulary_size = WordHashTokenizer(word_buckets), word_buckets
        else:
            tokenizer, vocabulary_size = default_tokenizer(sequence_length), BYTE_VOCABULARY_SIZE
        backbone = default_text_backbone(
            hidden_dim, num_layers, num_heads, intermediate_dim, dropout, vocabulary_size
        )
    else:
        with _without_t5_warnings():
            backbone = keras_hub.models.Backbone.from_preset(preset)
        tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(preset)
    return TextEncoder(
        backbone, tokenizer, sequence_length=sequence_length, trainable=trainable, name=name
    )


def tokenize_dataset(dataset, text_encoder):
    """Maps a `tf.data` dataset of `(images, captions)` to `(images, tokens)`.

    `tokens` is `{"token_ids", "padding_mask"}` from the preprocessor of
    `text_encoder` (or of a text-conditioned denoiser / `SimpleDiffusion`).
    Works batched or unbatched.
    """
    return _find_text_encoder(text_encoder).preprocessor.tokenize_dataset(dataset)


def _find_text_encoder(obj):
    if isinstance(obj, TextEncoder):
        return obj
    encoder = getattr(obj, "text_encoder", None)
    if encoder is None and hasattr(obj, "denoiser"):
        encoder = getattr(obj.denoiser, "text_encoder", None)
    if encoder is None:
        raise ValueError(f"{obj!r} has no text encoder.")
    return encoder
