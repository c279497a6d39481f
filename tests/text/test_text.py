"""Text conditioning: tokenisation, encoder wiring, fit, prompts,
the empty prompt, `.keras` round trip and local keras-hub presets.

Tiny models only; run on each backend with KERAS_BACKEND=jax|tensorflow|torch.
"""

import warnings

import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub")

import keras  # noqa: E402
from keras import ops  # noqa: E402

import keras_simple_diffusion as ksd  # noqa: E402
from keras_simple_diffusion.data import make_shapes  # noqa: E402
from keras_simple_diffusion.layers import TransformerBlock  # noqa: E402
from keras_simple_diffusion.text import (  # noqa: E402
    TextEncoder,
    WordHashTokenizer,
    build_text_encoder,
    tokenize_dataset,
)

CAPTION = "a large red circle at the top left"
TINY = dict(hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32, sequence_length=48)


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


@pytest.fixture(scope="module")
def encoder():
    return build_text_encoder(**TINY)


@pytest.fixture(scope="module")
def trained():
    """A tiny text-conditioned U-ViT fitted for a few steps on shapes."""
    keras.utils.set_random_seed(0)
    model = ksd.SimpleDiffusion(ksd.build_denoiser("uvit-text-tiny"), seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(3e-3))
    images, captions, _ = make_shapes(128, 32, seed=0)
    tokens = model.tokenize(captions)
    before = model.evaluate(images, tokens, batch_size=64, verbose=0)
    initial_weights = {id(w): _np(w).copy() for w in model.trainable_weights}
    model.fit(images, tokens, batch_size=16, epochs=4, verbose=0)
    after = model.evaluate(images, tokens, batch_size=64, verbose=0)
    return model, before, after, initial_weights


# Tokenisation.


def test_tokenize_fixed_length_and_mask(encoder):
    tokens = encoder.preprocessor.tokenize([CAPTION, "", "x" * 100])
    ids, mask = tokens["token_ids"], tokens["padding_mask"]
    assert ids.shape == mask.shape == (3, 48)
    assert ids.dtype == mask.dtype == np.int32
    assert mask[0].sum() == len(CAPTION)
    assert list(ids[0, : len(CAPTION)]) == list(CAPTION.encode())
    assert (ids[0, len(CAPTION) :] == 0).all()
    assert mask[1].sum() == 0 and (ids[1] == 0).all()  # the empty prompt: all padding
    assert mask[2].sum() == 48  # truncated


def test_tokenize_all_empty_batch(encoder):
    tokens = encoder.preprocessor.tokenize(["", ""])
    null = encoder.preprocessor.null_tokens(2)
    np.testing.assert_array_equal(tokens["token_ids"], null["token_ids"])
    np.testing.assert_array_equal(tokens["padding_mask"], null["padding_mask"])


def test_tokenize_dataset_matches_host(encoder):
    import tensorflow as tf

    images, captions, _ = make_shapes(6, 32, seed=0)
    captions[2] = ""
    host = encoder.preprocessor.tokenize(captions)
    batched = tf.data.Dataset.from_tensor_slices((images, captions)).batch(3)
    out = list(tokenize_dataset(batched, encoder).as_numpy_iterator())
    np.testing.assert_array_equal(
        np.concatenate([b[1]["token_ids"] for b in out]), host["token_ids"]
    )
    np.testing.assert_array_equal(
        np.concatenate([b[1]["padding_mask"] for b in out]), host["padding_mask"]
    )
    unbatched = tf.data.Dataset.from_tensor_slices((images, captions))
    first = next(iter(tokenize_dataset(unbatched, encoder).as_numpy_iterator()))
    assert first[1]["token_ids"].shape == (48,)
    np.testing.assert_array_equal(first[1]["token_ids"], host["token_ids"][0])


# Encoder and denoiser wiring.


def test_encoder_outputs(encoder):
    tokens = encoder.preprocessor.tokenize([CAPTION, ""])
    context, pooled, mask = encoder([tokens["token_ids"], tokens["padding_mask"]])
    assert tuple(context.shape) == (2, 48, 16)
    assert tuple(pooled.shape) == (2, 16)
    mask = _np(mask)
    assert mask[0].sum() == len(CAPTION)
    # The empty prompt keeps position 0 visible: a defined, learned null.
    assert mask[1, 0] == 1 and mask[1].sum() == 1
    assert np.isfinite(_np(context)).all() and np.isfinite(_np(pooled)).all()
    np.testing.assert_allclose(_np(pooled)[1], _np(context)[1, 0], atol=1e-5)


def test_default_encoder_tells_captions_apart_at_init():
    # With keras-hub's small default embedding init, every caption encoded
    # to nearly the same vectors (spread ~3 % of their norm) and the
    # denoiser learned to ignore the text; unit-scale bytes keep them apart.
    keras.utils.set_random_seed(0)
    encoder = build_text_encoder()
    _, captions, _ = make_shapes(64, 32, seed=5)
    tokens = encoder.preprocessor.tokenize(captions)
    context = _np(encoder([tokens["token_ids"], tokens["padding_mask"]])[0])[:, :30]
    norm = np.linalg.norm(context, axis=-1).mean()
    spread = np.sqrt(((context - context.mean(0)) ** 2).sum(-1).mean())
    assert spread > 0.3 * norm


def test_word_tokens():
    encoder = build_text_encoder(**{**TINY, "sequence_length": 6}, tokens="words", word_buckets=64)
    assert isinstance(encoder.tokenizer, WordHashTokenizer)
    assert encoder.backbone.vocabulary_size == 64
    tokens = encoder.preprocessor.tokenize(
        ["red apple", "Red  APPLE!", "apple, red", "piñata", "", "a b c d e f g h"]
    )
    ids, mask = tokens["token_ids"], tokens["padding_mask"]
    assert ids.shape == (6, 6)
    # Case and punctuation do not matter; a word has one id wherever it is.
    np.testing.assert_array_equal(ids[0], ids[1])
    assert list(ids[2, :2]) == [ids[0, 1], ids[0, 0]]
    assert list(mask.sum(axis=1)) == [2, 2, 2, 1, 0, 6]  # "piñata" is one word; truncated at 6
    assert ((ids >= 1) & (ids < 64))[mask == 1].all() and (ids[mask == 0] == 0).all()


def test_word_tokenizer_errors():
    with pytest.raises(ValueError, match="`tokens` must be one of"):
        build_text_encoder(**TINY, tokens="letters")
    with pytest.raises(ValueError, match="vocabulary_size"):
        WordHashTokenizer(1)


def test_word_encoder_tells_names_that_share_letters_apart_at_init():
    # Over bytes, names that share letters start out encoded alike (mean
    # cosine of their pooled embeddings 0.57-0.71 over seeds 0-2 on JAX and
    # TensorFlow), and a jointly trained denoiser did not learn 1,377 emoji
    # names apart in 4000 steps; hashed words start each word apart
    # (0.01-0.13).
    names = ["red apple", "green apple", "pineapple", "apple", "grapes", "red heart", "pear"]

    def mean_cosine(tokens):
        keras.utils.set_random_seed(0)
        encoder = build_text_encoder(tokens=tokens, sequence_length=16)
        ids = encoder.preprocessor.tokenize(names)
        pooled = _np(encoder([ids["token_ids"], ids["padding_mask"]])[1])
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        cosine = pooled @ pooled.T
        return cosine[~np.eye(len(names), dtype=bool)].mean()

    assert mean_cosine("words") < 0.3 < 0.45 < mean_cosine("bytes")


def test_keras_round_trip_with_word_encoder(tmp_path):
    text_encoder = dict(**{**TINY, "sequence_length": 8}, tokens="words", word_buckets=128)
    model = ksd.SimpleDiffusion(ksd.build_denoiser("uvit-text-tiny", text_encoder=text_encoder))
    path = str(tmp_path / "words.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.denoiser.text_encoder.tokenizer.vocabulary_size == 128
    tokens = loaded.tokenize(["red apple", ""])
    np.testing.assert_array_equal(
        tokens["token_ids"], model.tokenize(["red apple", ""])["token_ids"]
    )
    inputs = {
        "images": np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32"),
        "noise_level": np.array([0.0, 3.0], "float32"),
        **tokens,
    }
    np.testing.assert_array_equal(_np(model.denoiser(inputs)), _np(loaded.denoiser(inputs)))


@pytest.mark.parametrize("preset", ["uvit-text-tiny", "unet-text-tiny"])
def test_denoiser_wiring(preset):
    denoiser = ksd.build_denoiser(preset)
    assert denoiser.text_conditioned
    assert {"token_ids", "padding_mask"} <= set(denoiser.input.keys())
    blocks = [layer for layer in denoiser.layers if isinstance(layer, TransformerBlock)]
    assert blocks and all(block.cross_attention for block in blocks)
    names = [layer.name for layer in denoiser.layers]
    assert "text_pooled_embedding" in names and "text_encoder" in names
    tokens = denoiser.text_encoder.preprocessor.tokenize([CAPTION, ""])
    out = denoiser(
        {
            "images": np.zeros((2, 32, 32, 3), "float32"),
            "noise_level": np.zeros((2,), "float32"),
            **tokens,
        }
    )
    assert tuple(out.shape) == (2, 32, 32, 3)
    assert denoiser.get_config()["text_encoder"]["class_name"] == "TextEncoder"


def test_unconditioned_config_unchanged():
    config = ksd.build_denoiser("uvit-tiny", num_classes=3).get_config()
    assert "text_encoder" not in config


# Training and sampling.


def test_short_fit_lowers_loss(trained):
    _, before, after, _ = trained
    assert after < before, (before, after)


def test_fit_trains_every_trainable_weight(trained):
    # A trainable weight without a gradient (T5's unused decoder) would make
    # the optimizer warn at every step.
    model, _, _, initial_weights = trained
    unchanged = [
        w.path for w in model.trainable_weights if np.array_equal(initial_weights[id(w)], _np(w))
    ]
    assert not unchanged
    decoder = model.denoiser.text_encoder.backbone.get_layer("transformer_decoder_layer_0")
    assert not decoder.trainable


def test_generate_from_prompts(trained):
    model, *_ = trained
    prompts = [
        CAPTION,
        "a small blue square at the bottom right",
        "a large green triangle at the center",
    ]
    images = model.generate(prompts=prompts, steps=3, guidance=2.0, seed=1)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.float32
    assert np.isfinite(images).all() and np.abs(images).max() <= 1.0
    again = model.generate(prompts=prompts, steps=3, guidance=2.0, seed=1)
    np.testing.assert_array_equal(images, again)
    chunked = model.generate(prompts=prompts, steps=3, guidance=2.0, seed=1, batch_size=2)
    assert chunked.shape == (3, 32, 32, 3)


def test_empty_prompt_path(trained):
    model, *_ = trained
    plain = model.generate(prompts=["", ""], steps=3, seed=2)
    assert plain.shape == (2, 32, 32, 3) and np.isfinite(plain).all()
    # Guidance with the empty prompt: conditional == null, so nothing changes.
    guided = model.generate(prompts=["", ""], steps=3, guidance=3.0, seed=2)
    np.testing.assert_allclose(guided, plain, atol=1e-4)
    # Unconditional samples (num_images only) are empty-prompt samples.
    unconditional = model.generate(num_images=2, steps=3, seed=2)
    np.testing.assert_allclose(unconditional, plain, atol=1e-5)


def test_prompt_errors(trained):
    model, *_ = trained
    with pytest.raises(ValueError, match="prompts"):
        model.generate(labels=[0, 1], steps=2)
    with pytest.raises(ValueError, match="strings"):
        model.generate(prompts=[1, 2], steps=2)
    with pytest.raises(ValueError, match="tokenize_dataset"):
        model.compute_loss(np.zeros((2, 32, 32, 3), "float32"), np.zeros((2,), "int32"))
    class_model = ksd.SimpleDiffusion(ksd.build_denoiser("uvit-tiny", num_classes=3))
    with pytest.raises(ValueError, match="not text-conditioned"):
        class_model.generate(prompts=[CAPTION], steps=2)


def test_caption_dropout_is_seeded_and_empties_tokens(trained):
    model, *_ = trained
    tokens = model.tokenize([CAPTION] * 64)
    model.label_dropout = 0.5
    try:
        condition = model._training_condition(tokens, training=True)
    finally:
        model.label_dropout = 0.1
    ids, mask = _np(condition["token_ids"]), _np(condition["padding_mask"])
    dropped = mask.sum(axis=1) == 0
    assert 0 < dropped.sum() < 64
    assert (ids[dropped] == 0).all()
    np.testing.assert_array_equal(ids[~dropped], tokens["token_ids"][~dropped])


def test_keras_round_trip_with_text_encoder(trained, tmp_path):
    model, *_ = trained
    path = str(tmp_path / "text_model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode=True
    assert isinstance(loaded.denoiser.text_encoder, TextEncoder)
    tokens = loaded.tokenize([CAPTION, ""])
    np.testing.assert_array_equal(tokens["token_ids"], model.tokenize([CAPTION, ""])["token_ids"])
    inputs = {
        "images": np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32"),
        "noise_level": np.array([0.0, 3.0], "float32"),
        **tokens,
    }
    np.testing.assert_array_equal(_np(model.denoiser(inputs)), _np(loaded.denoiser(inputs)))
    prompts = [CAPTION, ""]
    np.testing.assert_array_equal(
        model.generate(prompts=prompts, steps=3, guidance=2.0, seed=3),
        loaded.generate(prompts=prompts, steps=3, guidance=2.0, seed=3),
    )


# Any keras-hub backbone + tokenizer from a local preset directory.


@pytest.mark.slow
def test_local_preset_frozen(tmp_path):
    # keras-hub 0.32's ByteTokenizer cannot `save_to_preset` (it has no
    # `save_assets`), so the preset pairs a tiny T5 with a WordPiece
    # vocabulary of the captions' words: any backbone + tokenizer works.
    from keras_simple_diffusion.data import ATTRIBUTES

    words = sorted(
        {w for v in ATTRIBUTES.values() for p in v for w in p.split()} | {"a", "at", "the"}
    )
    vocabulary = ["[PAD]", "[UNK]"] + words
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocabulary, sequence_length=12)
    backbone = keras_hub.models.T5Backbone(
        vocabulary_size=len(vocabulary),
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
    )
    preset = str(tmp_path / "tiny_t5_preset")
    backbone.save_to_preset(preset)
    tokenizer.save_to_preset(preset)

    encoder = build_text_encoder(preset=preset, trainable=False, sequence_length=12)
    assert not encoder.trainable_weights
    tokens = encoder.preprocessor.tokenize([CAPTION, ""])
    assert (
        tokens["padding_mask"][0].sum() == len(CAPTION.split())
        and tokens["padding_mask"][1].sum() == 0
    )
    for a, b in zip(backbone.weights, encoder.backbone.weights):
        np.testing.assert_array_equal(_np(a), _np(b))

    denoiser = ksd.build_denoiser("uvit-text-tiny", text_encoder=encoder)
    model = ksd.SimpleDiffusion(denoiser, seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    images, captions, _ = make_shapes(16, 32, seed=0)
    before = [_np(w).copy() for w in encoder.backbone.weights]
    model.fit(images, model.tokenize(captions), batch_size=8, epochs=1, verbose=0)
    for a, b in zip(before, encoder.backbone.weights):
        np.testing.assert_array_equal(a, _np(b))  # frozen
    assert model.generate(prompts=[CAPTION], steps=2, seed=0).shape == (1, 32, 32, 3)
    # The vocabulary is an asset of the tokenizer (not in its config): it is
    # saved with the model and tokenises the same after loading.
    path = str(tmp_path / "wordpiece.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        loaded.tokenize([CAPTION])["token_ids"], model.tokenize([CAPTION])["token_ids"]
    )
    # Also by path, through the denoiser argument.
    by_path = ksd.build_denoiser(
        "unet-text-tiny", text_encoder=dict(preset=preset, sequence_length=12)
    )
    assert by_path.text_encoder.backbone.__class__.__name__ == "T5Backbone"


def test_clip_text_encoder_backbone():
    backbone = keras_hub.models.CLIPTextEncoder(
        vocabulary_size=256,
        embedding_dim=16,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        max_sequence_length=48,
    )
    encoder = TextEncoder(backbone, keras_hub.tokenizers.ByteTokenizer(sequence_length=48))
    tokens = encoder.preprocessor.tokenize([CAPTION])
    context, pooled, _ = encoder([tokens["token_ids"], tokens["padding_mask"]])
    assert tuple(context.shape) == (1, 48, 16) and tuple(pooled.shape) == (1, 16)


def test_the_t5_encoder_is_built_called_and_loaded_without_mask_warnings():
    # keras-hub's T5 takes its masks as inputs, so Keras' warnings that its
    # attention drops attached masks, and about the unused decoder's softmax
    # over one token, say nothing to a user.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder = build_text_encoder(**TINY)
        tokens = encoder.preprocessor.tokenize([CAPTION, ""])
        encoder([tokens["token_ids"], tokens["padding_mask"]])
        TextEncoder.from_config(encoder.get_config())
    messages = [str(warning.message) for warning in caught]
    assert not [m for m in messages if "T5MultiHeadAttention" in m or "softmax" in m], messages
