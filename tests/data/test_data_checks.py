import numpy as np
import pytest

from keras_simple_diffusion.data.checks import (
    MAX_CLASSES,
    check_images,
    check_labels,
    infer_num_classes,
)


def _images(low=-1.0, high=1.0):
    return np.linspace(low, high, 2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3)


def test_check_images_accepts_unit_range():
    assert check_images(_images()) is None
    # Values a hair outside [-1, 1] (resizing overshoot) are tolerated.
    assert check_images(_images(-1.0005, 1.0005)) is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_images_refuses_non_finite(bad):
    images = _images()
    images[1, 2, 3, 0] = bad
    with pytest.raises(ValueError, match=r"Images in 'x.npz' hold 1 non-finite value\(s\)"):
        check_images(images, source="'x.npz'")


def test_check_images_refuses_out_of_range_with_rescaling_hint():
    with pytest.raises(ValueError, match=r"the first batch.*\[0, 255\].*images / 127\.5 - 1"):
        check_images(_images(0, 255), source="the first batch")
    with pytest.raises(ValueError, match=r"must be in \[-1, 1\]; found values in \[-3, 0\]"):
        check_images(_images(-3, 0))
    with pytest.warns(UserWarning, match=r"no negative values.*images \* 2 - 1"):
        check_images(_images(0, 1))


def test_check_images_refuses_bad_shapes_and_dtypes():
    with pytest.raises(ValueError, match=r"shape \(batch, height, width, channels\)"):
        check_images(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="No images in the data"):
        check_images(np.zeros((0, 4, 4, 3)))
    with pytest.raises(ValueError, match="numeric array. Received dtype: <U1"):
        check_images(np.full((1, 2, 2, 1), "a"))


def test_check_labels():
    assert check_labels(np.array([0, 3, 1], "int64"), num_classes=4) is None
    with pytest.raises(ValueError, match=r"integer class indices, not float32.*astype"):
        check_labels(np.array([0.0, 1.0], "float32"))
    with pytest.raises(ValueError, match="Labels in the batch must be non-negative.*found -2"):
        check_labels(np.array([0, -2]), source="the batch")
    with pytest.raises(ValueError, match="below num_classes=4; found 4"):
        check_labels(np.array([0, 4]), num_classes=4)
    with pytest.raises(ValueError, match="Received dtype: <U3"):
        check_labels(np.array(["cat"]))


def test_infer_num_classes():
    assert infer_num_classes(np.array([2, 0, 1, 2])) == 3
    # Small class counts may have gaps: a subset of digits without some digits.
    assert infer_num_classes(np.array([0, 9])) == 10
    # Half of the classes used is still accepted.
    assert infer_num_classes(np.arange(0, 40, 2)) == 39
    with pytest.raises(
        ValueError,
        match=r"'d.npz' would make 1000000001 classes.*labels range 0\.\.1000000000 but only 2 distinct values appear",
    ):
        infer_num_classes(np.array([0, 10**9]), source="'d.npz'")
    with pytest.raises(ValueError, match="labels range 0..99 but only 3 distinct"):
        infer_num_classes(np.array([0, 1, 99]))
    many = np.arange(MAX_CLASSES + 1)
    with pytest.raises(ValueError, match=f"would make {MAX_CLASSES + 1} classes, more than"):
        infer_num_classes(many)
    with pytest.raises(ValueError, match="No labels in the data"):
        infer_num_classes(np.array([], "int32"))
