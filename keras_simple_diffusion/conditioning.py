"""What a denoiser is conditioned on: one class per kind, one interface.

A *condition* is the structure of tensors that tells the denoiser what to
draw, one entry per image: nothing (`Unconditional`), int32 class ids
`(batch,)` (`ClassLabels`), or `{"token_ids", "padding_mask"}` int32
`(batch, L)` (`TextPrompts`). Each kind knows

- `from_targets(y)`: the dataset's targets -> the condition (graph-safe;
  structure, rank and dtype are checked from static shapes);
- `check_targets(y, source)`: the same checks plus the values, on the host,
  for a first batch of NumPy targets before training;
- `null(condition)`: the null condition of classifier-free guidance (the
  null class, the empty prompt);
- `drop(condition, rate, seed_generator)`: guidance dropout, each example
  replaced by the null condition with probability `rate`;
- `concatenate(a, b)`, `take(condition, start, stop)`,
  `batch_size(condition)`: batching, for the guided batch and for chunks;
- `denoiser_inputs(condition)`: the denoiser's named condition inputs;
- `from_user(labels, prompts, num_images, guidance)`: `generate`'s
  arguments -> a NumPy condition and the image count, with every check.

`for_denoiser(denoiser)` picks the kind from the denoiser. Nothing here
knows about noise, schedules or networks beyond those input names.

Example:
>>> conditioning = for_denoiser(ksd.build_denoiser("uvit-tiny", num_classes=3))
>>> condition, count = conditioning.from_user(labels=[0, 2], guidance=2.0)
>>> conditioning.denoiser_inputs(condition)  # {"class_labels": array([0, 2])}
"""

import keras
import numpy as np
from keras import ops

from keras_simple_diffusion.checks import check_int, check_number
from keras_simple_diffusion.data.checks import check_labels


def _dtype(value):
    return keras.backend.standardize_dtype(value.dtype)


def _shape(value):
    return tuple(value.shape)


class Conditioning:
    """The interface shared by the kinds; conditions are nested structures
    of tensors (or NumPy arrays) whose leading axis is the batch."""

    conditional = True

    def check_spec(self, y):
        """Checks the targets' structure, rank and dtype (static; graph-safe)."""
        raise NotImplementedError

    def from_targets(self, y):
        raise NotImplementedError

    def check_targets(self, y, source):
        """`check_spec`, then the values of NumPy targets from `source`."""
        self.check_spec(y)

    def null(self, condition):
        raise NotImplementedError

    def from_user(self, labels=None, prompts=None, num_images=None, guidance=0.0):
        raise NotImplementedError

    def denoiser_inputs(self, condition):
        raise NotImplementedError

    def drop(self, condition, rate, seed_generator):
        """Replaces each example's condition by the null condition with
        probability `rate`, drawing one uniform number per example."""
        if not rate:
            return condition
        batch = self.batch_size(condition)
        dropped = keras.random.uniform((batch,), seed=seed_generator) < rate

        def choose(value, null):
            mask = ops.reshape(dropped, (-1,) + (1,) * (len(value.shape) - 1))
            return ops.where(mask, null, value)

        return keras.tree.map_structure(choose, condition, self.null(condition))

    def concatenate(self, a, b):
        return keras.tree.map_structure(lambda x, y: ops.concatenate([x, y]), a, b)

    def take(self, condition, start, stop):
        """Examples `start:stop` as int32 tensors (a chunk of `generate`)."""
        return keras.tree.map_structure(
            lambda value: ops.convert_to_tensor(value[start:stop], "int32"), condition
        )

    def batch_size(self, condition):
        return ops.shape(keras.tree.flatten(condition)[0])[0]


class Unconditional(Conditioning):
    """A denoiser without conditioning: the condition is `None`; targets
    in the dataset are ignored."""

    conditional = False

    def check_spec(self, y):
        return None

    def from_targets(self, y):
        return None

    def null(self, condition):
        return None

    def drop(self, condition, rate, seed_generator):
        return None

    def concatenate(self, a, b):
        return None

    def take(self, condition, start, stop):
        return None

    def batch_size(self, condition):
        return None

    def denoiser_inputs(self, condition):
        return {}

    def from_user(self, labels=None, prompts=None, num_images=None, guidance=0.0):
        guidance = check_number("guidance", guidance, minimum=0.0)
        if labels is not None:
            raise ValueError(
                "`labels` were given but the denoiser is unconditional (num_classes=None)."
            )
        if prompts is not None:
            raise ValueError("`prompts` were given but the denoiser is not text-conditioned.")
        if guidance:
            raise ValueError(
                "Classifier-free guidance needs a conditional denoiser; this one is "
                f"unconditional. Received: guidance={guidance}"
            )
        if num_images is None:
            raise ValueError("Pass `num_images` (the denoiser is unconditional).")
        return None, check_int("num_images", num_images, minimum=0)


class ClassLabels(Conditioning):
    """Class ids in `[0, num_classes)`; `null_class` is the guidance null."""

    def __init__(self, num_classes, null_class):
        self.num_classes = int(num_classes)
        self.null_class = int(null_class)

    def check_spec(self, y):
        if y is None:
            raise ValueError(
                f"The denoiser is class-conditional (num_classes={self.num_classes}); "
                "the dataset must yield (images, labels)."
            )
        if isinstance(y, (dict, list, tuple)) or not hasattr(y, "shape"):
            raise ValueError(
                f"The denoiser is class-conditional (num_classes={self.num_classes}); "
                f"the targets must be a tensor of integer labels. Received: {y!r}"
            )
        if len(y.shape) != 1:
            raise ValueError(
                f"Class labels must have shape (batch,); received shape {_shape(y)}. "
                "Flatten them with labels.reshape(-1)."
            )

    def from_targets(self, y):
        self.check_spec(y)
        return ops.cast(y, "int32")

    def check_targets(self, y, source):
        self.check_spec(y)
        check_labels(y, self.num_classes, source)

    def null(self, condition):
        return ops.full_like(condition, self.null_class)

    def denoiser_inputs(self, condition):
        return {"class_labels": condition}

    def from_user(self, labels=None, prompts=None, num_images=None, guidance=0.0):
        guidance = check_number("guidance", guidance, minimum=0.0)
        num_images = check_int("num_images", num_images, minimum=0, allow_none=True)
        if prompts is not None:
            raise ValueError("`prompts` were given but the denoiser is not text-conditioned.")
        if labels is None:
            if num_images is None:
                raise ValueError("Pass `labels` (class-conditional) or `num_images`.")
            if guidance:
                raise ValueError("Classifier-free guidance needs `labels`.")
            # Unconditional samples of a conditional model: the null class.
            return np.full((num_images,), self.null_class, "int32"), num_images
        labels = np.asarray(labels)
        if labels.size == 0:
            labels = labels.astype("int32")
        if labels.ndim != 1:
            raise ValueError(
                f"`labels` must be a 1-D list of integers. Received shape {labels.shape}."
            )
        check_labels(labels, self.num_classes, "`labels`")
        if num_images is not None and num_images != labels.size:
            raise ValueError(f"num_images={num_images} does not match {labels.size} labels.")
        return labels.astype("int32"), labels.size


class TextPrompts(Conditioning):
    """Tokenised prompts `{"token_ids", "padding_mask"}` from a
    `TextPreprocessor`; the empty prompt (all padding) is the guidance null."""

    def __init__(self, preprocessor):
        self.preprocessor = preprocessor

    def check_spec(self, y):
        self._unpack(y)

    def _unpack(self, y):
        """`(token_ids, padding_mask or None)` after checking structure, rank,
        length and dtype."""
        if isinstance(y, dict) and "token_ids" in y:
            token_ids, padding_mask = y["token_ids"], y.get("padding_mask")
        elif isinstance(y, (tuple, list)) and len(y) == 2:
            token_ids, padding_mask = y
        else:
            raise ValueError(
                "The denoiser is text-conditioned; the dataset must yield (images, "
                '{"token_ids", "padding_mask"}). Map a dataset of (images, captions) '
                f"with `model.tokenize_dataset(dataset)`. Received targets: {y!r}"
            )
        length = self.preprocessor.sequence_length
        for name, value in (("token_ids", token_ids), ("padding_mask", padding_mask)):
            if value is None:
                continue
            shape = _shape(value)
            if len(shape) != 2 or shape[1] not in (None, length):
                raise ValueError(
                    f"`{name}` must have shape (batch, {length}) (the tokenizer's "
                    f"sequence_length); received shape {shape}."
                )
            dtype = _dtype(value)
            if not (keras.backend.is_int_dtype(dtype) or dtype == "bool"):
                raise ValueError(f"`{name}` must be integers; received dtype {dtype}.")
        return token_ids, padding_mask

    def from_targets(self, y):
        token_ids, padding_mask = self._unpack(y)
        token_ids = ops.cast(token_ids, "int32")
        if padding_mask is None:
            padding_mask = ops.not_equal(token_ids, self.preprocessor.pad_id)
        return {"token_ids": token_ids, "padding_mask": ops.cast(padding_mask, "int32")}

    def null(self, condition):
        return {
            "token_ids": ops.full_like(condition["token_ids"], self.preprocessor.pad_id),
            "padding_mask": ops.zeros_like(condition["padding_mask"]),
        }

    def denoiser_inputs(self, condition):
        return {"token_ids": condition["token_ids"], "padding_mask": condition["padding_mask"]}

    def from_user(self, labels=None, prompts=None, num_images=None, guidance=0.0):
        guidance = check_number("guidance", guidance, minimum=0.0)
        num_images = check_int("num_images", num_images, minimum=0, allow_none=True)
        if labels is not None:
            raise ValueError(
                "The denoiser is text-conditioned: pass `prompts=[...]`, not `labels`."
            )
        if prompts is None:
            if num_images is None:
                raise ValueError("Pass `prompts` (text-conditioned model) or `num_images`.")
            if guidance:
                raise ValueError("Classifier-free guidance needs `prompts`.")
            # Unconditional samples: the empty prompt.
            return self.preprocessor.null_tokens(num_images), num_images
        if isinstance(prompts, str):
            prompts = [prompts]
        prompts = list(prompts)
        if not all(isinstance(prompt, str) for prompt in prompts):
            raise ValueError(f"`prompts` must be a list of strings. Received: {prompts!r}")
        if num_images is not None and num_images != len(prompts):
            raise ValueError(f"num_images={num_images} does not match {len(prompts)} prompts.")
        return self.preprocessor.tokenize(prompts), len(prompts)


def for_denoiser(denoiser):
    """The conditioning of `denoiser`: text if it has a `text_encoder`, class
    labels if it has `num_classes`, else unconditional."""
    text_encoder = getattr(denoiser, "text_encoder", None)
    num_classes = getattr(denoiser, "num_classes", None)
    if text_encoder is not None and num_classes:
        raise ValueError(
            "A denoiser conditioned on both text and class labels is not supported; "
            f"build it with num_classes=None or without a text_encoder. Received: "
            f"num_classes={num_classes}"
        )
    if text_encoder is not None:
        return TextPrompts(text_encoder.preprocessor)
    if num_classes:
        return ClassLabels(num_classes, denoiser.null_class)
    return Unconditional()
