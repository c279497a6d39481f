"""The paper's section-5.1 effects at small scale, at equal wall-clock time.

Named variants of one base recipe are each trained for the same budget of
minutes, in their own process and on one backend, with an EMA checkpoint
every few minutes. Every checkpoint is then scored at fixed sampler settings
by the package's own evaluation: class accuracy, Frechet distance and KID in
the offline classifier's features, and the Frechet distance in a second,
independent space (pixels pooled to 8 x 8); on the captioned emoji, caption
retrieval and the Frechet distances of pooled pixels and of full-resolution
patches. The results go to JSON, a
Markdown table and plots of quality against training minutes.

    python -m benchmarks.effects --list
    python -m benchmarks.effects --study digits64 --variants schedule,downsampling --seeds 0 1
    python -m benchmarks.effects --study digits64 --report-only

A study survives a kill: each finished variant and each scored checkpoint
is on disk (written atomically) and is skipped when the command runs again;
a variant whose training was interrupted is trained again from the start, so
that every variant's budget is one uninterrupted run.

How a variant spends its budget: a short calibration (the median of a few
steps after the first compile, not counted) measures its time a step; the
run then gets as many steps as fit in the budget, so that its learning-rate
schedule and EMA end where the budget ends, and it stops at the budget in
any case.
"""

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time

from benchmarks import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "effects")

# The base recipe of each study: `TrainConfig` fields. The studies at 64 and
# 128 px are where the paper says its modifications matter.
STUDIES = {
    "tiny": dict(dataset="digits", image_size=16, model="uvit-tiny", batch_size=16),
    "digits32": dict(dataset="digits", image_size=32, model="uvit-digits", batch_size=32),
    "digits64": dict(dataset="digits", image_size=64, model="uvit-digits-64", batch_size=32),
    "digits128": dict(dataset="digits", image_size=128, model="uvit-digits-128", batch_size=16),
    # Held out: judged against Fashion-MNIST's test split, at the default
    # run's own 28 px, on the shifted schedule its rows were measured with.
    "fashion28": dict(
        dataset="fashion", image_size=28, model="uvit-digits", batch_size=32, noise_d=14
    ),
    # Real detail at the paper's resolutions: the emoji's captions, as
    # `simple-diffusion train --dataset emoji` trains on them, at 64 px on
    # the shift its rows were measured with (the default now interpolates).
    "emoji64": dict(dataset="emoji", image_size=64, model="uvit-emoji", batch_size=32, noise_d=32),
    "emoji128": dict(dataset="emoji", image_size=128, model="uvit-emoji-128", batch_size=16),
}

# What each study's checkpoints are judged by, the columns of its table:
# the offline classifier's accuracy and distances, or, on the captioned
# emoji, caption retrieval and the distances in pooled pixels and in
# full-resolution patches (`evaluation.retrieval`).
CLASSIFIER_SCORES = ("class_accuracy", "fd_ratio", "kid", "pixel_fd_ratio")
CAPTION_SCORES = ("top1_retrieval", "top5_retrieval", "pixel_fd_ratio", "patch_fd_ratio")


def study_scores(study):
    return CAPTION_SCORES if STUDIES[study]["dataset"] == "emoji" else CLASSIFIER_SCORES


@dataclasses.dataclass(frozen=True)
class Variant:
    """One row of the study: `TrainConfig` fields and denoiser options over the base."""

    group: str
    description: str
    config: dict = dataclasses.field(default_factory=dict)
    model_options: dict = dataclasses.field(default_factory=dict)


def _variants():
    variants = {"base": Variant("base", "the study's base recipe (`STUDIES`)")}
    schedules = {
        "no-shift": ("cosine schedule without shift", dict(noise_d="image")),
        "shift-8": ("cosine shifted to noise_d 8", dict(noise_d=8)),
        "shift-16": ("cosine shifted to noise_d 16", dict(noise_d=16)),
        "shift-32": ("cosine shifted to noise_d 32", dict(noise_d=32)),
        "interpolated": (
            "interpolated from noise_d 16 (noise) to the image size (detail)",
            dict(noise_d=16, noise_d_high="image"),
        ),
    }
    for name, (description, config) in schedules.items():
        variants[name] = Variant("schedule", description, config)
    for name in ("patch", "none"):
        variants[f"downsample-{name}"] = Variant(
            "downsampling",
            f"early downsampling: {name}",
            model_options=dict(downsample=None if name == "none" else name),
        )
    variants["single-scale-loss"] = Variant(
        "multiscale loss", "the plain loss at full resolution", dict(multiscale=False)
    )
    variants["dropout-everywhere"] = Variant(
        "dropout",
        "dropout 0.1 at every resolution",
        model_options=dict(dropout=0.1, dropout_max_resolution=1024),
    )
    variants["dropout-low-res"] = Variant(
        "dropout",
        "dropout 0.1 at 16 x 16 and below",
        model_options=dict(dropout=0.1, dropout_max_resolution=16),
    )
    for weighting in ("eps", "v", "sigmoid"):
        variants[f"weighting-{weighting}"] = Variant(
            "loss weighting", f"{weighting} loss weighting", dict(loss_weighting=weighting)
        )
    variants["unet"] = Variant("architecture", "the U-Net of the same size", dict(model="unet"))
    for kind, description in PEER_DESCRIPTIONS.items():
        variants[f"peer-{kind}"] = Variant("peers", description, dict(peer=kind))
    return variants


# What users would run instead (`benchmarks.peer_training`), on the same
# data, batch size, seed, budget and judge; PyTorch programs, whatever the
# study's backend.
PEER_DESCRIPTIONS = {
    "diffusers": "diffusers UNet2DModel + DDPMScheduler, its training example's recipe, "
    "class-conditional (on captions: one class per image)",
    "lucidrains": "lucidrains' simple_diffusion UViT + GaussianDiffusion (unconditional)",
}


VARIANTS = _variants()
GROUPS = sorted({variant.group for variant in VARIANTS.values()})


def select_variants(names):
    """Variant names from a list of variant and group names; one-line errors."""
    chosen = []
    for name in names:
        matches = [key for key, variant in VARIANTS.items() if variant.group == name]
        if name in VARIANTS:
            matches = [name]
        if not matches:
            raise ValueError(
                f"Unknown variant or group {name!r}. Variants: {', '.join(VARIANTS)}; "
                f"groups: {', '.join(GROUPS)}."
            )
        chosen += [match for match in matches if match not in chosen]
    return chosen


def resolve_config(study, variant, seed):
    """The `TrainConfig` keyword arguments of one variant of a study."""
    if study not in STUDIES:
        raise ValueError(f"Unknown study {study!r}. Studies: {', '.join(STUDIES)}.")
    base = dict(STUDIES[study])
    spec = VARIANTS[variant]
    config = {**base, **spec.config, "seed": seed}
    for key in ("noise_d", "noise_d_high"):
        if config.get(key) == "image":
            config[key] = base["image_size"]
    if config.get("model") == "unet":
        config["model"] = base["model"].replace("uvit", "unet")
    config["model_options"] = dict(spec.model_options)
    return config


def peer_of(variant):
    """The peer kind of a peer variant ("diffusers", "lucidrains"), else None."""
    return VARIANTS[variant].config.get("peer")


def check_budget_and_scoring(budget_min, every_min, eval_samples, reference_draws):
    if eval_samples < 0:
        raise ValueError(f"--eval-samples must be 0 (train only) or more; got {eval_samples}.")
    if reference_draws < 1:
        raise ValueError(f"--reference-draws must be 1 or more; got {reference_draws}.")
    if not budget_min > 0 or not every_min > 0:
        raise ValueError(
            f"--budget-min and --every-min must be positive; got {budget_min} and {every_min}."
        )
    if every_min > budget_min:
        raise ValueError(
            f"--budget-min {budget_min} is shorter than one checkpoint interval "
            f"(--every-min {every_min}): no checkpoint would be written."
        )


# --------------------------------------------------------------------------
# Files of a study: <out>/<study>/<variant>-s<seed>/{state.json, checkpoints/}
# --------------------------------------------------------------------------


def run_folder(out, study, variant, seed):
    return os.path.join(out, study, f"{variant}-s{seed}")


def read_json(path, default=None):
    if not os.path.isfile(path):
        return default
    with open(path) as file:
        return json.load(file)


def write_json(path, value):
    from keras_simple_diffusion.files import write_json as atomic_write_json

    atomic_write_json(path, value)


# --------------------------------------------------------------------------
# The worker: one variant's training, or the scoring of its checkpoints.
# --------------------------------------------------------------------------


def _peak_rss_gib():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _write_state(args, backend, load_start, **run):
    """The variant's `state.json`: what trained, on what, how loaded, and
    `run` (planned steps, time a step, peak memory, parameters, checkpoints)."""
    write_json(
        os.path.join(run_folder(args.out, args.study, args.variant, args.seed), "state.json"),
        dict(
            trained=True,
            study=args.study,
            variant=args.variant,
            seed=args.seed,
            backend=backend,
            config=resolve_config(args.study, args.variant, args.seed),
            **run,
            load_start=list(load_start),
            load_end=list(os.getloadavg()),
            machine=common.machine_info(),
        ),
    )


def _train_peer_worker(args):
    from benchmarks.peer_training import train_peer

    folder = run_folder(args.out, args.study, args.variant, args.seed)
    config = resolve_config(args.study, args.variant, args.seed)
    load_start = os.getloadavg()
    run = train_peer(
        peer_of(args.variant),
        config,
        budget_s=60 * args.budget_min,
        every_s=60 * args.every_min,
        folder=folder,
        calibration_steps=args.calibration_steps,
    )
    _write_state(args, "torch (the peer's own PyTorch code)", load_start, **run)


def _train_worker(args):
    if peer_of(args.variant):
        return _train_peer_worker(args)
    import keras
    import numpy as np

    from keras_simple_diffusion.backend import default_jit_compile
    from keras_simple_diffusion.training.callbacks import ema_weights
    from keras_simple_diffusion.training.trainer import (
        TrainConfig,
        build_model,
        is_text_conditioned,
        load_training_data,
    )

    folder = run_folder(args.out, args.study, args.variant, args.seed)
    checkpoints = os.path.join(folder, "checkpoints")
    os.makedirs(checkpoints, exist_ok=True)
    config = TrainConfig(**resolve_config(args.study, args.variant, args.seed), steps=10_000)
    info, num_classes = load_training_data(config)
    text = is_text_conditioned(config, info)
    dataset = info.dataset

    def model_for(steps):
        from dataclasses import replace

        # Every row trains the backend's default step, XLA on TensorFlow even
        # for the presets a run now trains without it, as the committed rows did.
        model = build_model(
            replace(config, steps=steps),
            info.image_size,
            info.channels,
            num_classes,
            jit_compile=default_jit_compile(),
            text=text,
        )
        return model, (model.tokenize_dataset(dataset) if text else dataset)

    class StepTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    # Calibration: time a few steps after the first compile, on a throwaway
    # model. The median step, as for the peers: neither `fit`'s own start-up
    # nor one stalled step may shrink the plan below the budget.
    model, data = model_for(10_000)
    model.fit(data, epochs=1, steps_per_epoch=2, verbose=0)
    step_times = StepTimes()
    model.fit(
        data, epochs=1, steps_per_epoch=args.calibration_steps, callbacks=[step_times], verbose=0
    )
    step_seconds = float(np.median(step_times.seconds))
    budget_s, every_s = 60 * args.budget_min, 60 * args.every_min
    steps = max(int(budget_s / step_seconds), 1)

    class TimedCheckpoints(keras.callbacks.Callback):
        """EMA checkpoints every `every_s` seconds of training; stops at the budget."""

        def __init__(self):
            super().__init__()
            self.index, self.next_mark = [], every_s

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def step(self):
            return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

        def save(self, elapsed, loss):
            step = self.step()
            path = os.path.join(checkpoints, f"step_{step:07d}.keras")
            with ema_weights(self.model):
                self.model.save(path)
            self.index.append(dict(path=path, minutes=elapsed / 60, step=step, loss=loss))

        def on_train_batch_end(self, batch, logs=None):
            elapsed = time.perf_counter() - self.start
            loss = float(np.asarray(logs.get("loss"))) if logs else None
            if elapsed >= self.next_mark:
                self.save(elapsed, loss)
                self.next_mark += every_s
            if elapsed >= budget_s:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            elapsed = time.perf_counter() - self.start
            if not self.index or self.index[-1]["step"] < self.step():
                loss = float(np.asarray(logs.get("loss"))) if logs and "loss" in logs else None
                self.save(elapsed, loss)

    model, data = model_for(steps)
    timed = TimedCheckpoints()
    load_start = os.getloadavg()
    model.fit(data, epochs=1, steps_per_epoch=steps, callbacks=[timed], verbose=0)
    _write_state(
        args,
        keras.config.backend(),
        load_start,
        planned_steps=steps,
        seconds_per_step=step_seconds,
        peak_rss_gib=_peak_rss_gib(),
        parameters=int(model.denoiser.count_params()),
        checkpoints=timed.index,
    )


def _score_peer(args, path):
    """The metrics of a peer's checkpoint: its samples (ancestral, the
    study's step count) judged as this package's are. The diffusers peer
    draws the classes in turn, or on captions each image asked for by
    `evaluate`'s captions (`peer_targets`: one class per image); the
    unconditional lucidrains peer is judged by the distances alone."""
    import numpy as np

    from benchmarks.peer_training import sample_peer
    from keras_simple_diffusion.evaluation import retrieval
    from keras_simple_diffusion.training.assessment import reference_data, score_samples

    base = STUDIES[args.study]
    real, held_out, info = reference_data(
        base["dataset"], base["image_size"], None, None, max_real=10_000
    )
    captioned = study_scores(args.study) == CAPTION_SCORES
    conditional = peer_of(args.variant) == "diffusers"
    labels = None
    if conditional and captioned:
        labels = retrieval.caption_sample_indices(len(real[0]), args.eval_samples, seed=0)
    elif conditional and info.num_classes:
        labels = np.arange(args.eval_samples) % info.num_classes
    samples = sample_peer(
        peer_of(args.variant), path, labels, args.eval_samples, seed=0, steps=args.eval_steps
    )
    draws = args.reference_draws
    if captioned and labels is not None:
        return retrieval.evaluate_captioned_samples(samples, labels, real[0], reference_draws=draws)
    if captioned:
        return retrieval.distance_metrics(samples, real[0], reference_draws=draws)
    return score_samples(
        samples, labels, base["dataset"], real, held_out, info, reference_draws=draws
    )


def _score_worker(args):
    import keras

    import keras_simple_diffusion  # noqa: F401  (registers the classes)
    from keras_simple_diffusion.training.assessment import evaluate_checkpoint

    folder = run_folder(args.out, args.study, args.variant, args.seed)
    state = read_json(os.path.join(folder, "state.json"))
    scores_path = os.path.join(folder, "scores.json")
    scores = read_json(scores_path, default={})
    for entry in state["checkpoints"]:
        name = os.path.basename(entry["path"])
        if name in scores:
            continue
        start = time.perf_counter()
        if peer_of(args.variant):
            metrics = _score_peer(args, entry["path"])
        else:
            model = keras.saving.load_model(entry["path"], compile=False)
            metrics, _ = evaluate_checkpoint(
                model,
                entry["path"],
                dataset=STUDIES[args.study]["dataset"],
                num_samples=args.eval_samples,
                steps=args.eval_steps,
                sampler="ancestral",
                guidance=0.0,
                seed=0,
                reference_draws=args.reference_draws,
            )
        metrics.update(entry, scoring_seconds=time.perf_counter() - start)
        scores[name] = metrics
        write_json(scores_path, scores)  # after every checkpoint: a kill loses at most one


# --------------------------------------------------------------------------
# The driver.
# --------------------------------------------------------------------------


def _run_worker(phase, args, variant, seed):
    command = [
        sys.executable,
        "-m",
        "benchmarks.effects",
        "--worker",
        phase,
        "--study",
        args.study,
        "--variants",
        variant,
        "--seeds",
        str(seed),
        "--budget-min",
        str(args.budget_min),
        "--every-min",
        str(args.every_min),
        "--eval-samples",
        str(args.eval_samples),
        "--eval-steps",
        str(args.eval_steps),
        "--calibration-steps",
        str(args.calibration_steps),
        "--reference-draws",
        str(args.reference_draws),
        "--out",
        args.out,
    ]
    # The peers are PyTorch programs, whatever the study's backend.
    backend = "torch" if peer_of(variant) else args.backend
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT)
    print(f"[effects] {phase} {variant} seed {seed} ({args.backend})", flush=True)
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"{phase} of {variant} (seed {seed}) failed: {last}")


def run_study(args, variants):
    for variant in variants:
        for seed in args.seeds:
            folder = run_folder(args.out, args.study, variant, seed)
            state = read_json(os.path.join(folder, "state.json"), default={})
            if not state.get("trained"):
                _run_worker("train", args, variant, seed)
                state = read_json(os.path.join(folder, "state.json"))
                _warn_if_short(state, args.budget_min)
            scores = read_json(os.path.join(folder, "scores.json"), default={})
            if args.eval_samples and len(scores) < len(state["checkpoints"]):
                _run_worker("score", args, variant, seed)
            write_report(args.out, args.study)


def _warn_if_short(state, budget_min):
    """Steps are planned from step times measured at the start: a load that
    falls later leaves part of the budget unused, and the row is not at
    equal time."""
    minutes = state["checkpoints"][-1]["minutes"] if state.get("checkpoints") else 0.0
    if minutes < 0.9 * budget_min:
        print(
            f"[effects] warning: {state['variant']} seed {state['seed']} trained "
            f"{minutes:.1f} of its {budget_min:g} minutes: its calibration "
            f"({state['seconds_per_step']:.3g} s a step) planned fewer steps than the "
            "budget allowed, so the load changed; run it again on a steady machine.",
            file=sys.stderr,
            flush=True,
        )


def collect(out, study):
    """Every scored checkpoint of a study: one record per (variant, seed, checkpoint).

    A trained variant not scored yet gives one record of its last
    checkpoint without metrics, so that its time per step and memory show.
    """
    records = []
    study_dir = os.path.join(out, study)
    if not os.path.isdir(study_dir):
        return records
    for name in sorted(os.listdir(study_dir)):
        state = read_json(os.path.join(study_dir, name, "state.json"))
        scores = read_json(os.path.join(study_dir, name, "scores.json"), default={})
        if not state:
            continue
        scored = bool(scores)
        if not scored and state["checkpoints"]:
            last = state["checkpoints"][-1]
            scores = {"unscored": dict(minutes=last["minutes"], step=last["step"])}
        for metrics in scores.values():
            records.append(
                dict(
                    variant=state["variant"],
                    scored=scored,
                    group=VARIANTS[state["variant"]].group,
                    seed=state["seed"],
                    seconds_per_step=state["seconds_per_step"],
                    peak_rss_gib=state["peak_rss_gib"],
                    load=[state["load_start"][0], state["load_end"][0]],
                    machine=machine_name(state.get("machine")),
                    # Scores written before the key existed compared one pair.
                    reference_draws=metrics.get("reference_draws", 1) if scored else None,
                    **{key: metrics.get(key) for key in REPORTED},
                )
            )
    return records


def machine_name(machine):
    """The "<cpu model>, <n> cores" of a run's `common.machine_info()`."""
    if not machine:
        return "an unrecorded machine"
    return f"{machine['cpu_model']}, {machine['usable_cores']} cores"


def machines_line(records):
    """The machines the records were trained on; each with its variants
    where there are several."""
    variants = {}
    for record in records:
        variants.setdefault(record["machine"], {})[record["variant"]] = None
    if len(variants) == 1:
        return f"Machine: {next(iter(variants))}"
    return "Machines: " + "; ".join(
        f"{machine} ({', '.join(names)})" for machine, names in variants.items()
    )


REPORTED = ("minutes", "step", *dict.fromkeys(CLASSIFIER_SCORES + CAPTION_SCORES))


def _spread(values):
    import numpy as np

    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{np.mean(values):.3g} ± {np.std(values):.2g}"


def summary_rows(records, scores=CLASSIFIER_SCORES):
    """The last checkpoint of each variant, its seeds pooled (mean ± std),
    with the columns of `scores`."""
    final = {}
    for record in records:
        key = (record["variant"], record["seed"])
        if key not in final or record["minutes"] > final[key]["minutes"]:
            final[key] = record
    rows = []
    for variant in VARIANTS:
        runs = [record for (name, _), record in final.items() if name == variant]
        if not runs:
            continue
        rows.append(
            dict(
                group=VARIANTS[variant].group,
                variant=variant,
                seeds=len(runs),
                minutes=_spread([r["minutes"] for r in runs]),
                steps=_spread([r["step"] for r in runs]),
                seconds_per_step=_spread([r["seconds_per_step"] for r in runs]),
                peak_rss_gib=_spread([r["peak_rss_gib"] for r in runs]),
                **{score: _spread([r[score] for r in runs]) for score in scores},
            )
        )
    return rows


def markdown_table(rows):
    columns = list(rows[0]) if rows else []
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def plot(records, path, scores=CLASSIFIER_SCORES):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [score for score in scores if score != "kid"]
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4))
    variants = [variant for variant in VARIANTS if any(r["variant"] == variant for r in records)]
    colours = {variant: f"C{index % 10}" for index, variant in enumerate(variants)}
    for axis, metric in zip(axes, metrics):
        for variant in variants:
            labelled = False  # one legend entry a variant; its seeds share its colour
            for seed in sorted({r["seed"] for r in records if r["variant"] == variant}):
                points = sorted(
                    (r["minutes"], r[metric])
                    for r in records
                    if r["variant"] == variant and r["seed"] == seed and r[metric] is not None
                )
                if points:
                    label = None if labelled else variant
                    axis.plot(*zip(*points), marker="o", color=colours[variant], label=label)
                    labelled = True
        axis.set_xlabel("training minutes")
        axis.set_title(metric)
        if metric.endswith("fd_ratio"):
            axis.set_yscale("log")
    # The legend goes where most variants have points (not every one reports
    # accuracy); a study with nothing scored yet has none.
    legend_axis = max(axes, key=lambda axis: len(axis.get_legend_handles_labels()[1]))
    if legend_axis.get_legend_handles_labels()[1]:
        legend_axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def draws_line(records):
    """How many draws of the real sets the scored rows' ratios average over."""
    counts = sorted({r["reference_draws"] for r in records if r["scored"]})
    if len(counts) > 1:
        return (
            f"Distance ratios over {' or '.join(map(str, counts))} draws of the real sets: "
            "compare only rows of one count."
        )
    if counts == [1]:
        return "Distance ratios over one pair of real sets."
    return f"Distance ratios over {counts[0]} draws of the real sets." if counts else ""


def write_report(out, study):
    """`<out>/<study>.json`, `.md` and `.png` from what is on disk."""
    records = collect(out, study)
    if not records:
        return None
    write_json(os.path.join(out, f"{study}.json"), dict(records=records))
    loads = [load for record in records for load in record["load"]]
    scored = sum(record["scored"] for record in records)
    unscored = f" and {len(records) - scored} trained, not scored" if scored < len(records) else ""
    header = (
        f"Study {study!r}: {scored} scored checkpoints{unscored}. {machines_line(records)}; "
        f"1-minute load during training {min(loads):.1f}-{max(loads):.1f}. "
        f"{draws_line(records)}\n\n"
    )
    with open(os.path.join(out, f"{study}.md"), "w") as file:
        file.write(header + markdown_table(summary_rows(records, study_scores(study))))
    plot(records, os.path.join(out, f"{study}.png"), study_scores(study))
    return records


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="digits64", help="base recipe (default %(default)s)")
    parser.add_argument("--variants", default="base", help="comma-separated variants or groups")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--budget-min", type=float, default=20.0, help="training minutes each")
    parser.add_argument("--every-min", type=float, default=5.0, help="minutes between checkpoints")
    parser.add_argument(
        "--eval-samples",
        type=int,
        default=500,
        help="samples a checkpoint is judged on; 0 trains without judging, for a row "
        "that measures time and memory only (default %(default)s)",
    )
    parser.add_argument("--eval-steps", type=int, default=128, help="ancestral sampler steps")
    parser.add_argument(
        "--reference-draws",
        type=int,
        default=1,
        help="draws of the real sets that each distance ratio averages over; 1 (one pair, "
        "as every committed row was scored) keeps new rows comparable with them "
        "(evaluate's default is 16)",
    )
    parser.add_argument("--calibration-steps", type=int, default=5)
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report and exit")
    parser.add_argument("--worker", choices=("train", "score"), help=argparse.SUPPRESS)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.list:
            for name, variant in VARIANTS.items():
                print(f"{name:22s} {variant.group:16s} {variant.description}")
            return 0
        if args.study not in STUDIES:
            raise ValueError(f"Unknown study {args.study!r}. Studies: {', '.join(STUDIES)}.")
        variants = select_variants([name for name in args.variants.split(",") if name])
        if args.report_only:
            write_report(args.out, args.study)
            return 0
        check_budget_and_scoring(
            args.budget_min, args.every_min, args.eval_samples, args.reference_draws
        )
        if args.worker:
            args.variant, args.seed = variants[0], args.seeds[0]
            (_train_worker if args.worker == "train" else _score_worker)(args)
            return 0
        run_study(args, variants)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
