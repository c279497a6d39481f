"""The PyTorch peers of the equal-time study: timed training, EMA checkpoints, sampling."""

import os

import numpy as np
import pytest

from benchmarks import peer_training

pytestmark = pytest.mark.backends("torch")  # the peers are PyTorch programs

CONFIG = dict(dataset="digits", image_size=16, batch_size=16, seed=0)
BUDGET_S, EVERY_S = 10.0, 4.0


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # Two OpenMP threads on a loaded 2-core machine run a step 50x slower;
    # what these tests check does not depend on the thread count.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class SteppingClock:
    """`time` for `peer_training`: each reading is one second after the last.

    The plan, the checkpoints and the stop follow the clock; on the real one
    they follow the machine's load (a calibration under load plans fewer
    steps than then run), and the counts below would be a matter of luck.
    """

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        self.now += 1.0
        return self.now


@pytest.fixture(scope="module", params=peer_training.KINDS)
def trained(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(peer_training, "time", SteppingClock())
        run = peer_training.train_peer(request.param, CONFIG, BUDGET_S, EVERY_S, str(folder))
    return request.param, folder, run


@pytest.mark.slow
def test_a_peer_trains_for_its_budget_with_timed_ema_checkpoints(trained):
    kind, folder, run = trained
    checkpoints = run["checkpoints"]
    # Calibrated at one second a step: 10 steps fill the 10 s budget, with
    # checkpoints at 4 s and 8 s and the last after the step that reaches it.
    assert run["seconds_per_step"] == 1.0 and run["planned_steps"] == 10
    steps = [entry["step"] for entry in checkpoints]
    assert steps == [4, 8, 10]
    assert [entry["minutes"] * 60 for entry in checkpoints] == [4.0, 8.0, 11.0]
    # The loss falls from the first interval to the last.
    assert checkpoints[-1]["loss"] < checkpoints[0]["loss"]
    # Written atomically: the checkpoints and nothing else.
    names = [os.path.basename(entry["path"]) for entry in checkpoints]
    assert sorted(os.listdir(folder / "checkpoints")) == names
    assert names == [f"step_{step:07d}.pt" for step in steps]
    expected_parameters = {"diffusers": 1_114_081, "lucidrains": 935_977}[kind]
    assert run["parameters"] == expected_parameters
    assert run["peak_rss_gib"] > 0


@pytest.mark.slow
def test_a_peer_samples_images_in_range_repeatably(trained, monkeypatch):
    kind, _, run = trained
    path = run["checkpoints"][-1]["path"]
    monkeypatch.setattr(peer_training, "SAMPLE_BATCH", 2)  # a partial last chunk
    labels = np.array([0, 1, 2, 3, 9])
    images = peer_training.sample_peer(kind, path, labels, 5, seed=3, steps=4)
    assert images.shape == (5, 16, 16, 1) and images.dtype == np.float32
    assert np.isfinite(images).all() and images.min() >= -1.0 and images.max() <= 1.0
    again = peer_training.sample_peer(kind, path, labels, 5, seed=3, steps=4)
    np.testing.assert_array_equal(images, again)
    other = peer_training.sample_peer(kind, path, labels, 5, seed=4, steps=4)
    assert not np.array_equal(images, other)
    unconditional = peer_training.sample_peer(kind, path, None, 5, seed=3, steps=4)
    assert unconditional.shape == (5, 16, 16, 1)
    if kind == "lucidrains":  # unconditional: the labels change nothing
        np.testing.assert_array_equal(images, unconditional)


@pytest.mark.slow
def test_sampling_refuses_the_wrong_peer_and_bad_labels(trained):
    kind, _, run = trained
    path = run["checkpoints"][0]["path"]
    other = next(name for name in peer_training.KINDS if name != kind)
    with pytest.raises(ValueError, match=f"holds a '{kind}' peer, not '{other}'"):
        peer_training.sample_peer(other, path, None, 2, seed=0, steps=2)
    if kind == "diffusers":
        with pytest.raises(ValueError, match="one label per image, 3; got shape"):
            peer_training.sample_peer(kind, path, np.array([1, 2]), 3, seed=0, steps=2)
        with pytest.raises(ValueError, match=r"Labels must lie in \[0, 10\); got 0..10"):
            peer_training.sample_peer(kind, path, np.array([0, 10]), 2, seed=0, steps=2)


def test_peers_learn_the_classes_or_on_captions_each_image():
    from keras_simple_diffusion.data import load_dataset

    digits = load_dataset("digits", image_size=8, batch_size=8)
    labels, num_classes = peer_training.peer_targets(digits)
    assert num_classes == 10 and labels is digits.labels
    unlabelled = load_dataset(np.zeros((6, 8, 8, 1)), batch_size=2)
    assert peer_training.peer_targets(unlabelled) == (None, None)
    shapes = load_dataset("shapes:12", image_size=16, batch_size=4)
    labels, num_classes = peer_training.peer_targets(shapes)
    assert num_classes == 12 and list(labels) == list(range(12))


def test_unknown_peers_and_budgets_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Unknown peer 'keras'. Peers: diffusers, lucidrains."):
        peer_training.train_peer("keras", CONFIG, 1, 1, str(tmp_path))
    with pytest.raises(ValueError, match="budget_s and every_s must be positive; got 0 and 1"):
        peer_training.train_peer("diffusers", CONFIG, 0, 1, str(tmp_path))
    with pytest.raises(ValueError, match="Unknown peer 'keras'"):
        peer_training.sample_peer("keras", str(tmp_path / "x.pt"), None, 1, seed=0, steps=1)
