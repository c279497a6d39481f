"""The conditioning kinds: targets, guidance dropout, the null condition,
batching, denoiser inputs and `generate`'s arguments."""

import types

import keras
import numpy as np
import pytest
from keras import ops

from keras_simple_diffusion.conditioning import (
    ClassLabels,
    TextPrompts,
    Unconditional,
    for_denoiser,
)

LENGTH = 8


def _np(structure):
    return keras.tree.map_structure(ops.convert_to_numpy, structure)


@pytest.fixture(scope="module")
def text():
    keras_hub = pytest.importorskip("keras_hub")
    from keras_simple_diffusion.text import TextPreprocessor

    tokenizer = keras_hub.tokenizers.ByteTokenizer(sequence_length=LENGTH)
    return TextPrompts(TextPreprocessor(tokenizer, sequence_length=LENGTH))


def test_for_denoiser_picks_the_kind():
    def denoiser(num_classes=None, text_encoder=None):
        return types.SimpleNamespace(
            num_classes=num_classes, null_class=num_classes, text_encoder=text_encoder
        )

    assert type(for_denoiser(denoiser())) is Unconditional
    labels = for_denoiser(denoiser(num_classes=3))
    assert type(labels) is ClassLabels and (labels.num_classes, labels.null_class) == (3, 3)
    encoder = types.SimpleNamespace(preprocessor="the preprocessor")
    prompts = for_denoiser(denoiser(text_encoder=encoder))
    assert type(prompts) is TextPrompts and prompts.preprocessor == "the preprocessor"
    with pytest.raises(ValueError, match="both text and class labels is not supported"):
        for_denoiser(denoiser(num_classes=3, text_encoder=encoder))


# Class labels.


def test_class_labels_from_targets():
    labels = ClassLabels(3, 3)
    condition = labels.from_targets(np.array([2, 0, 1], "int64"))
    assert keras.backend.standardize_dtype(condition.dtype) == "int32"
    np.testing.assert_array_equal(_np(condition), [2, 0, 1])
    with pytest.raises(ValueError, match=r"must yield \(images, labels\)"):
        labels.from_targets(None)
    with pytest.raises(ValueError, match="tensor of integer labels"):
        labels.from_targets({"token_ids": np.zeros((2, 4), "int32")})
    with pytest.raises(ValueError, match=r"shape \(batch,\); received shape \(3, 1\)"):
        labels.from_targets(np.zeros((3, 1), "int32"))


def test_class_labels_check_targets_reads_the_values():
    labels = ClassLabels(3, 3)
    labels.check_targets(np.array([0, 2]), "the data")
    with pytest.raises(ValueError, match="Labels in the data must be below num_classes=3; found 3"):
        labels.check_targets(np.array([0, 3]), "the data")


def test_class_label_dropout_is_seeded_and_uses_the_null_class():
    labels = ClassLabels(3, 3)
    condition = ops.convert_to_tensor(np.arange(64) % 3, "int32")
    generator = keras.random.SeedGenerator(0)
    state = _np(generator.state.value).copy()
    unchanged = labels.drop(condition, 0.0, generator)
    np.testing.assert_array_equal(_np(unchanged), _np(condition))
    np.testing.assert_array_equal(_np(generator.state.value), state)  # nothing drawn
    dropped = _np(labels.drop(condition, 0.5, keras.random.SeedGenerator(0)))
    again = _np(labels.drop(condition, 0.5, keras.random.SeedGenerator(0)))
    np.testing.assert_array_equal(dropped, again)
    null = dropped == 3
    assert 10 < null.sum() < 54
    np.testing.assert_array_equal(dropped[~null], (np.arange(64) % 3)[~null])


def test_class_labels_batching_and_inputs():
    labels = ClassLabels(3, 3)
    condition = labels.take(np.array([0, 1, 2, 1], "int32"), 1, 3)
    np.testing.assert_array_equal(_np(condition), [1, 2])
    guided = labels.concatenate(condition, labels.null(condition))
    np.testing.assert_array_equal(_np(guided), [1, 2, 3, 3])
    assert int(labels.batch_size(guided)) == 4
    assert list(labels.denoiser_inputs(guided)) == ["class_labels"]


def test_class_labels_from_user():
    labels = ClassLabels(3, 3)
    condition, count = labels.from_user(labels=[2, 0], guidance=1.5)
    assert count == 2 and condition.dtype == np.int32
    np.testing.assert_array_equal(condition, [2, 0])
    condition, count = labels.from_user(labels=[])
    assert count == 0 and condition.shape == (0,)
    condition, count = labels.from_user(num_images=2)
    np.testing.assert_array_equal(condition, [3, 3])  # unconditional samples: the null class
    for kwargs, message in [
        (dict(), "Pass `labels`"),
        (dict(num_images=2, guidance=1.0), "guidance needs `labels`"),
        (dict(labels=[0], guidance=float("nan")), "`guidance` must be finite"),
        (dict(labels=[0], guidance=-1.0), r"`guidance` must be in \[0.0, inf\]"),
        (dict(labels=[0, 1], num_images=3), "num_images=3 does not match 2 labels"),
        (dict(labels=[0], num_images=1.5), "`num_images` must be an integer"),
        (dict(labels=[0.5]), "must be integer class indices"),
        (dict(labels=[3]), "must be below num_classes=3; found 3"),
        (dict(prompts=["a"]), "not text-conditioned"),
    ]:
        with pytest.raises(ValueError, match=message):
            labels.from_user(**kwargs)


# Text prompts.


def test_text_prompts_from_targets(text):
    tokens = text.preprocessor.tokenize(["ab", ""])
    from_dict = _np(text.from_targets(tokens))
    np.testing.assert_array_equal(from_dict["token_ids"], tokens["token_ids"])
    np.testing.assert_array_equal(from_dict["padding_mask"], [[1, 1] + [0] * 6, [0] * 8])
    from_pair = _np(text.from_targets((tokens["token_ids"], tokens["padding_mask"])))
    np.testing.assert_array_equal(from_pair["padding_mask"], tokens["padding_mask"])
    # Without a mask, it is read from the padding ids.
    ids_only = _np(text.from_targets({"token_ids": tokens["token_ids"]}))
    np.testing.assert_array_equal(ids_only["padding_mask"], tokens["padding_mask"])
    with pytest.raises(ValueError, match="tokenize_dataset"):
        text.from_targets(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"`token_ids` must have shape \(batch, 8\)"):
        text.from_targets({"token_ids": np.zeros((2, 5), "int32")})
    with pytest.raises(ValueError, match="`padding_mask` must be integers"):
        text.from_targets({"token_ids": tokens["token_ids"], "padding_mask": np.ones((2, 8))})


def test_text_dropout_gives_the_empty_prompt(text):
    tokens = text.preprocessor.tokenize(["abc"] * 64)
    condition = text.from_targets(tokens)
    dropped = _np(text.drop(condition, 0.5, keras.random.SeedGenerator(0)))
    empty = dropped["padding_mask"].sum(axis=1) == 0
    assert 10 < empty.sum() < 54
    assert (dropped["token_ids"][empty] == text.preprocessor.pad_id).all()
    np.testing.assert_array_equal(dropped["token_ids"][~empty], tokens["token_ids"][~empty])
    guided = _np(text.concatenate(condition, text.null(condition)))
    assert guided["token_ids"].shape == (128, LENGTH)
    assert guided["padding_mask"][64:].sum() == 0
    assert sorted(text.denoiser_inputs(condition)) == ["padding_mask", "token_ids"]


def test_text_prompts_from_user(text):
    condition, count = text.from_user(prompts="ab", guidance=2.0)
    assert count == 1 and condition["token_ids"].shape == (1, LENGTH)
    condition, count = text.from_user(prompts=[])
    assert count == 0 and condition["token_ids"].shape == (0, LENGTH)
    condition, count = text.from_user(num_images=2)
    np.testing.assert_array_equal(condition["padding_mask"], np.zeros((2, LENGTH)))
    for kwargs, message in [
        (dict(labels=[0]), "pass `prompts=\\[...\\]`, not `labels`"),
        (dict(prompts=[1, 2]), "must be a list of strings"),
        (dict(num_images=2, guidance=1.0), "guidance needs `prompts`"),
        (dict(prompts=["a"], num_images=2), "num_images=2 does not match 1 prompts"),
        (dict(), "Pass `prompts`"),
    ]:
        with pytest.raises(ValueError, match=message):
            text.from_user(**kwargs)


# Unconditional.


def test_unconditional():
    kind = Unconditional()
    assert kind.from_user(num_images=3) == (None, 3)
    assert kind.from_targets(np.array([1, 2])) is None  # labels in the data are ignored
    assert kind.drop(None, 0.5, keras.random.SeedGenerator(0)) is None
    assert kind.denoiser_inputs(None) == {}
    for kwargs, message in [
        (dict(labels=[0]), "the denoiser is unconditional"),
        (dict(num_images=2, guidance=1.0), "guidance needs a conditional denoiser"),
        (dict(prompts=["a"]), "not text-conditioned"),
        (dict(num_images=-1), "`num_images` must be at least 0"),
        (dict(), "Pass `num_images`"),
    ]:
        with pytest.raises(ValueError, match=message):
            kind.from_user(**kwargs)
