"""The section-5.1 study harness: variant selection, budgets, resuming, reports."""

import json
import os
import warnings

import numpy as np
import pytest
from real_data import require

from benchmarks import effects
from keras_simple_diffusion.data import emoji
from keras_simple_diffusion.models import PRESETS


def test_variants_and_groups_select_by_name():
    assert effects.select_variants(["base", "schedule"])[:2] == ["base", "no-shift"]
    assert "downsample-patch" in effects.select_variants(["downsampling"])
    assert effects.select_variants(["base", "base"]) == ["base"]
    with pytest.raises(ValueError, match="Unknown variant or group 'nope'"):
        effects.select_variants(["nope"])


def test_a_variant_resolves_to_train_config_fields():
    config = effects.resolve_config("digits64", "no-shift", seed=3)
    assert config["noise_d"] == 64 and config["seed"] == 3 and config["image_size"] == 64
    config = effects.resolve_config("digits64", "interpolated", seed=0)
    assert (config["noise_d"], config["noise_d_high"]) == (16, 64)
    config = effects.resolve_config("digits64", "downsample-none", seed=0)
    assert config["model_options"] == {"downsample": None}
    with pytest.raises(ValueError, match="Unknown study"):
        effects.resolve_config("cifar", "base", seed=0)


@pytest.mark.parametrize("study", sorted(effects.STUDIES))
def test_every_variant_of_every_study_has_a_model(study):
    for variant in effects.VARIANTS:
        config = effects.resolve_config(study, variant, seed=0)
        assert config["model"] in PRESETS, (variant, config["model"])
    assert effects.resolve_config(study, "unet", seed=0)["model"].startswith("unet-")


def test_the_peers_are_variants_with_the_study_data():
    assert effects.select_variants(["peers"]) == ["peer-diffusers", "peer-lucidrains"]
    config = effects.resolve_config("digits64", "peer-lucidrains", seed=2)
    assert (config["dataset"], config["image_size"], config["seed"]) == ("digits", 64, 2)
    assert effects.peer_of("peer-diffusers") == "diffusers" and effects.peer_of("base") is None


def test_a_budget_too_short_for_one_checkpoint_is_refused(capsys):
    assert effects.main(["--budget-min", "1", "--every-min", "2"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "shorter than one checkpoint interval" in error
    assert effects.main(["--variants", "warp-drive"]) == 2
    assert "Unknown variant or group 'warp-drive'" in capsys.readouterr().err
    assert effects.main(["--eval-samples", "-1"]) == 2
    assert "--eval-samples must be 0 (train only) or more" in capsys.readouterr().err
    assert effects.main(["--reference-draws", "0"]) == 2
    assert "--reference-draws must be 1 or more; got 0." in capsys.readouterr().err


CLASSIFIER_METRICS = dict(class_accuracy=0.9, kid=0.01)
MACHINE = dict(cpu_model="Test CPU", usable_cores=2)


def _fake_variant(
    out,
    variant,
    seed,
    minutes,
    fd_ratios,
    scored=None,
    study="tiny",
    metrics=CLASSIFIER_METRICS,
    machine=MACHINE,
):
    folder = effects.run_folder(out, study, variant, seed)
    os.makedirs(folder, exist_ok=True)
    checkpoints = [
        dict(path=os.path.join(folder, f"minute_{m:07.2f}.keras"), minutes=m, step=10 * i, loss=0.1)
        for i, m in enumerate(minutes, 1)
    ]
    state = dict(
        trained=True,
        variant=variant,
        seed=seed,
        seconds_per_step=0.5,
        peak_rss_gib=1.0,
        load_start=[1.0, 1.0, 1.0],
        load_end=[1.5, 1.0, 1.0],
        checkpoints=checkpoints,
        machine=machine,
    )
    effects.write_json(os.path.join(folder, "state.json"), state)
    scores = {
        os.path.basename(c["path"]): dict(c, **metrics, fd_ratio=f, pixel_fd_ratio=2 * f)
        for c, f in list(zip(checkpoints, fd_ratios))[: scored if scored is not None else None]
    }
    effects.write_json(os.path.join(folder, "scores.json"), scores)


def test_the_report_pools_seeds_of_each_variants_last_checkpoint(tmp_path):
    out = str(tmp_path)
    _fake_variant(out, "base", 0, [1.0, 2.0], [3.0, 2.0])
    _fake_variant(out, "base", 1, [1.0, 2.0], [3.0, 4.0])
    _fake_variant(out, "no-shift", 0, [1.0, 2.0], [5.0, 6.0])
    records = effects.write_report(out, "tiny")
    assert len(records) == 6
    rows = {row["variant"]: row for row in effects.summary_rows(records)}
    assert rows["base"]["seeds"] == 2 and rows["base"]["fd_ratio"] == "3 ± 1"
    assert rows["no-shift"]["fd_ratio"] == "6"
    table = open(os.path.join(out, "tiny.md")).read()
    assert "Machine: Test CPU, 2 cores; 1-minute load during training 1.0-1.5" in table
    assert "| schedule | no-shift |" in table
    assert os.path.getsize(os.path.join(out, "tiny.png")) > 0
    saved = json.load(open(os.path.join(out, "tiny.json")))
    assert len(saved["records"]) == 6
    assert {record["machine"] for record in saved["records"]} == {"Test CPU, 2 cores"}


def test_the_report_says_how_many_draws_of_the_real_sets_its_ratios_average(tmp_path):
    out = str(tmp_path)
    _fake_variant(out, "base", 0, [1.0], [3.0])  # scored before the key: one pair
    effects.write_report(out, "tiny")
    header = open(os.path.join(out, "tiny.md")).readline()
    assert header.rstrip().endswith("Distance ratios over one pair of real sets.")
    _fake_variant(
        out, "unet", 0, [1.0], [4.0], metrics=dict(CLASSIFIER_METRICS, reference_draws=16)
    )
    records = effects.write_report(out, "tiny")
    assert {(r["variant"], r["reference_draws"]) for r in records} == {("base", 1), ("unet", 16)}
    header = open(os.path.join(out, "tiny.md")).readline()
    assert "over 1 or 16 draws of the real sets: compare only rows of one count." in header


def test_the_report_names_each_machine_with_the_variants_trained_on_it(tmp_path):
    out = str(tmp_path)
    other = dict(cpu_model="Other CPU", usable_cores=4)
    _fake_variant(out, "base", 0, [1.0], [3.0], machine=other)
    _fake_variant(out, "base", 1, [1.0], [3.0], machine=other)
    _fake_variant(out, "unet", 0, [1.0], [4.0])
    _fake_variant(out, "no-shift", 0, [1.0], [5.0], machine=None)
    effects.write_report(out, "tiny")
    header = open(os.path.join(out, "tiny.md")).readline()
    assert (
        "Machines: Other CPU, 4 cores (base); an unrecorded machine (no-shift); "
        "Test CPU, 2 cores (unet); 1-minute load" in header
    )


def test_an_emoji_study_reports_caption_retrieval_and_patch_distances(tmp_path):
    out = str(tmp_path)
    captions = dict(top1_retrieval=0.25, top5_retrieval=0.5, patch_fd_ratio=4.0)
    _fake_variant(out, "base", 0, [1.0, 2.0], [3.0, 2.0], study="emoji128", metrics=captions)
    _fake_variant(out, "unet", 0, [1.0, 2.0], [3.0, 5.0], study="emoji128", metrics=captions)
    records = effects.write_report(out, "emoji128")
    header = open(os.path.join(out, "emoji128.md")).read().splitlines()[2]
    columns = [column.strip() for column in header.strip("|").split("|")]
    assert columns[-4:] == ["top1_retrieval", "top5_retrieval", "pixel_fd_ratio", "patch_fd_ratio"]
    assert "class_accuracy" not in columns
    rows = {row["variant"]: row for row in effects.summary_rows(records, effects.CAPTION_SCORES)}
    assert rows["unet"]["pixel_fd_ratio"] == "10" and rows["base"]["top5_retrieval"] == "0.5"
    assert os.path.getsize(os.path.join(out, "emoji128.png")) > 0


@pytest.mark.parametrize("kind", ["diffusers", "lucidrains"])
def test_a_peer_on_the_emoji_is_judged_as_the_package_is(monkeypatch, kind):
    """The diffusers peer is asked for the images whose captions `evaluate`
    asks the package's models for, and scored by caption retrieval; the
    unconditional lucidrains peer by the two distance ratios alone. Real
    emoji in their place retrieve themselves and score near real-vs-real."""
    require(emoji.find_font, "the emoji font")
    from benchmarks import peer_training
    from keras_simple_diffusion.data import load_dataset
    from keras_simple_diffusion.evaluation import retrieval

    images = load_dataset("emoji", image_size=64, batch_size=1, shuffle=False).images
    shuffled = np.random.default_rng(1).permutation(images)
    asked = []

    def real_emoji(kind, path, labels, num_images, seed, steps):
        asked.append(labels)
        return shuffled[:num_images] if labels is None else images[labels]

    monkeypatch.setattr(peer_training, "sample_peer", real_emoji)
    argv = ["--study", "emoji64", "--eval-samples", "200", "--reference-draws", "2"]
    args = effects.build_parser().parse_args(argv)
    args.variant = f"peer-{kind}"
    metrics = effects._score_peer(args, "unused.pt")
    assert "class_accuracy" not in metrics and metrics["num_compared"] == 200
    assert metrics["reference_draws"] == 2
    assert metrics["pixel_fd_ratio"] < 2 and metrics["patch_fd_ratio"] < 2
    if kind == "lucidrains":
        assert asked == [None] and "top1_retrieval" not in metrics
        assert metrics["pixel_fd_ratio"] > 0.5 and metrics["patch_fd_ratio"] > 0.5
    else:  # the seeded order that picks the captions also picks the reference images
        expected = retrieval.caption_sample_indices(len(images), 200, seed=0)
        np.testing.assert_array_equal(asked[0], expected)
        assert metrics["top1_retrieval"] == 1.0 and metrics["top5_retrieval"] == 1.0


def test_a_variant_not_scored_yet_reports_its_time_and_memory(tmp_path):
    out = str(tmp_path)
    _fake_variant(out, "base", 0, [1.0, 2.0], [3.0, 2.0])
    _fake_variant(out, "downsample-none", 0, [1.0, 2.5], [3.0, 2.0], scored=0)
    rows = {row["variant"]: row for row in effects.summary_rows(effects.collect(out, "tiny"))}
    unscored = rows["downsample-none"]
    assert (unscored["minutes"], unscored["steps"], unscored["seconds_per_step"]) == (
        "2.5",
        "20",
        "0.5",
    )
    assert unscored["class_accuracy"] == unscored["fd_ratio"] == "-"
    assert rows["base"]["fd_ratio"] == "2"
    effects.write_report(out, "tiny")
    with open(os.path.join(out, "tiny.md")) as file:
        assert file.readline().startswith(
            "Study 'tiny': 2 scored checkpoints and 1 trained, not scored."
        )


def test_a_resumed_study_skips_what_is_done(tmp_path, monkeypatch):
    out = str(tmp_path)
    _fake_variant(out, "base", 0, [1.0, 2.0], [3.0, 2.0])  # trained and scored
    _fake_variant(out, "shift-8", 0, [1.0, 2.0], [3.0, 2.0], scored=1)  # killed while scoring
    calls = []

    def fake_worker(phase, args, variant, seed):
        calls.append((phase, variant))
        if phase == "train":
            _fake_variant(out, variant, seed, [1.0, 2.0], [4.0, 3.0], scored=0)
        else:
            _fake_variant(out, variant, seed, [1.0, 2.0], [4.0, 3.0])

    monkeypatch.setattr(effects, "_run_worker", fake_worker)
    args = effects.build_parser().parse_args(["--study", "tiny", "--out", out])
    effects.run_study(args, ["base", "shift-8", "shift-16"])
    assert calls == [("score", "shift-8"), ("train", "shift-16"), ("score", "shift-16")]


def test_a_study_with_no_eval_samples_trains_without_scoring(tmp_path, monkeypatch):
    out = str(tmp_path)
    calls = []

    def fake_worker(phase, args, variant, seed):
        calls.append((phase, variant))
        _fake_variant(out, variant, seed, [1.0, 2.0], [4.0, 3.0], scored=0)

    monkeypatch.setattr(effects, "_run_worker", fake_worker)
    args = effects.build_parser().parse_args(
        ["--study", "tiny", "--out", out, "--eval-samples", "0"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the plot of a study with nothing scored warns of nothing
        effects.run_study(args, ["downsample-none"])
    assert calls == [("train", "downsample-none")]
    with open(tmp_path / "tiny.md") as file:
        assert file.readline().startswith("Study 'tiny': 0 scored checkpoints and 1 trained")


@pytest.mark.parametrize("budget,warned", [("2", False), ("4", True)])
def test_a_variant_that_trained_short_of_its_budget_is_flagged(
    tmp_path, monkeypatch, capsys, budget, warned
):
    out = str(tmp_path)

    def fake_worker(phase, args, variant, seed):
        _fake_variant(out, variant, seed, [1.0, 2.0], [4.0, 3.0], scored=None)

    monkeypatch.setattr(effects, "_run_worker", fake_worker)
    args = effects.build_parser().parse_args(
        ["--study", "tiny", "--out", out, "--budget-min", budget, "--every-min", "1"]
    )
    effects.run_study(args, ["base"])
    error = capsys.readouterr().err
    assert ("base seed 0 trained 2.0 of its 4 minutes" in error) == warned, error


@pytest.mark.slow
@pytest.mark.backends("torch")  # one backend is enough
def test_a_tiny_study_trains_scores_and_reports(tmp_path):
    out = str(tmp_path)
    # The package's run and one peer: each peer's training and sampling are
    # tested in test_peer_training; here, that the driver trains, scores and
    # tabulates both kinds.
    argv = ["--study", "tiny", "--variants", "base,peer-diffusers", "--budget-min", "0.1"]
    argv += ["--every-min", "0.1", "--eval-samples", "16", "--eval-steps", "2", "--out", out]
    assert effects.main(argv + ["--backend", "torch"]) == 0
    records = json.load(open(os.path.join(out, "tiny.json")))["records"]
    variants = {"base", "peer-diffusers"}
    assert {r["variant"] for r in records} == variants
    for record in records:
        assert record["fd_ratio"] > 0 and record["pixel_fd_ratio"] > 0
        assert record["reference_draws"] == 1  # the harness's default, for every kind of row
        assert 0.0 <= record["class_accuracy"] <= 1.0
    for variant in variants:
        minutes = [r["minutes"] for r in records if r["variant"] == variant]
        # How many timed checkpoints fit depends on the machine's load (the
        # peers' own tests count them); the last one always exists, and
        # training stops at the first step past the budget.
        assert len(minutes) >= 1, variant
        assert sum(m >= 0.1 for m in minutes) <= 1, (variant, minutes)
    table = open(os.path.join(out, "tiny.md")).read()
    assert "| peers | peer-diffusers |" in table
