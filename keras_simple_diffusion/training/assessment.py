"""Evaluating a checkpoint: generate samples and score them against real data."""

import os
import re
import warnings

import keras
import numpy as np

from keras_simple_diffusion import evaluation
from keras_simple_diffusion.data import held_out_split, load_dataset
from keras_simple_diffusion.data.emoji import parse_emoji_spec
from keras_simple_diffusion.data.shapes import DRAWING_VERSION
from keras_simple_diffusion.data.specs import source_name
from keras_simple_diffusion.files import default_cache_dir
from keras_simple_diffusion.samplers import DEFAULT_SPACINGS, guidance_interval_config
from keras_simple_diffusion.training import runs
from keras_simple_diffusion.training.config import (
    DISTILL_CONFIG_FILE,
    EVALUATION_GUIDANCE,
    EVALUATION_REFERENCE_DRAWS,
    DistillConfig,
    TrainConfig,
)

FID_SKIPPED = "skipped: no --inception-weights file (InceptionV3 weights are never downloaded)"


# Folders from a checkpoint up to its run's: a round's checkpoint of a
# distillation run is `run/round_1_64_steps/checkpoints/step_000250.keras`.
RUN_FOLDER_DEPTH = 3


def run_config(checkpoint):
    """The config of the checkpoint's run: the nearest training run's
    `config.json` (a `TrainConfig`) or distillation run's `distill.json` (a
    `DistillConfig`, which holds the teacher's dataset) in the folders above
    it; else None."""
    candidate = os.path.abspath(checkpoint)
    for _ in range(RUN_FOLDER_DEPTH):
        candidate = os.path.dirname(candidate)
        for name, config_class in (
            (runs.CONFIG_FILE, TrainConfig),
            (DISTILL_CONFIG_FILE, DistillConfig),
        ):
            path = os.path.join(candidate, name)
            if os.path.isfile(path):
                return config_class.load(path)
    return None


def run_dataset(checkpoint):
    """`(dataset, data_dir)` the checkpoint's run trained on, else Nones."""
    config = run_config(checkpoint)
    return (config.dataset, config.data_dir) if config else (None, None)


def run_folder_options(checkpoint):
    """The image-folder options (`background`, `fit`, `max_pixels`) the
    checkpoint's training run read its data with; empty (the defaults) for
    other runs."""
    config = run_config(checkpoint)
    return config.folder_options() if hasattr(config, "folder_options") else {}


def real_data(source, image_size, channels, data_dir, max_real, folder_options=None):
    """Up to `max_real` real images (and labels, or None) at the model's size,
    image folders read with `folder_options`."""
    info = load_dataset(
        source,
        image_size=image_size,
        channels=channels,
        batch_size=256,
        shuffle=False,
        drop_remainder=False,
        data_dir=data_dir,
        **(folder_options or {}),
    )
    if info.images is not None:
        return info.images[:max_real], None if info.labels is None else info.labels[:max_real], info
    images, labels = [], []
    for batch in info.dataset.take(-(-max_real // 256)):
        if isinstance(batch, tuple):
            batch, batch_labels = batch
            if info.num_classes:
                labels.append(keras.ops.convert_to_numpy(batch_labels))
        images.append(keras.ops.convert_to_numpy(batch))
    images = np.concatenate(images)[:max_real]
    labels = np.concatenate(labels)[:max_real] if labels else None
    return images, labels, info


def _cache_path(source, image_size, channels):
    slug = re.sub(
        r"[^A-Za-z0-9_.-]+", "_", os.path.abspath(source) if os.path.exists(source) else source
    )
    return os.path.join(
        default_cache_dir(), "classifiers", f"{slug.strip('_')}-{image_size}px-{channels}ch.keras"
    )


def shape_readers_dir(image_size):
    """Cache folder of the attribute readers of prompt adherence, keyed by
    the drawing version so that a change of the drawing retrains them."""
    return os.path.join(default_cache_dir(), "shape_readers", f"v{DRAWING_VERSION}-{image_size}px")


def reference_data(source, image_size, channels, data_dir, max_real, folder_options=None):
    """The real images that samples of a run on `source` are judged against
    (image folders read with `folder_options`, as `real_data`).

    Returns `(real, held_out, info)`: `real` is `(images, labels)` of the
    training source (`real_data`), `held_out` those of its test split
    (`data.held_out_split`, e.g. Fashion-MNIST's) or None when the source
    holds none out, and `info` the training source's `DatasetInfo`.
    """
    images, labels, info = real_data(
        source, image_size, channels, data_dir, max_real, folder_options
    )
    test_source = held_out_split(source)
    held_out = None
    if test_source is not None:
        test_images, test_labels, _ = real_data(
            test_source, image_size, channels, data_dir, max_real
        )
        held_out = (test_images, test_labels)
    return (images, labels), held_out, info


def score_samples(
    samples,
    sample_labels,
    source,
    real,
    held_out,
    info,
    classifier_cache=None,
    reference_draws=1,
    seed=0,
):
    """The classifier's metrics of `samples` (`evaluation.evaluate_samples`)
    against the real images of `reference_data`, whatever made the samples:
    this package's models, or another program's (the benchmarks' peers).

    The classifier learns the training images `real`. With a test split
    (`held_out`), the samples are compared with it, the training images are
    the real-vs-real baseline and the classifier's accuracy on real images
    is read on the test split; otherwise everything comes from `real`.
    `sample_labels` None scores unconditional samples (no accuracy);
    `reference_draws` and `seed` (of the real sets' draws) are
    `evaluate_samples`'."""
    real_images, real_labels = real
    if real_labels is None:
        return {"classifier_metrics": f"skipped: dataset {source!r} has no labels"}
    image_size, channels = real_images.shape[1], real_images.shape[-1]
    classifier = evaluation.train_classifier(
        real_images,
        real_labels,
        cache_path=classifier_cache or _cache_path(source, image_size, channels),
        num_classes=info.num_classes,
    )
    if held_out is None:
        return evaluation.evaluate_samples(
            samples,
            sample_labels,
            real_images,
            real_labels,
            classifier=classifier,
            seed=seed,
            reference_draws=reference_draws,
        )
    test_images, test_labels = held_out
    metrics = evaluation.evaluate_samples(
        samples,
        sample_labels,
        test_images,
        test_labels,
        classifier=classifier,
        other_real_images=real_images,
        seed=seed,
        reference_draws=reference_draws,
    )
    return {**metrics, "reference": "test split; real-vs-real: training split"}


def evaluate_checkpoint(
    model,
    checkpoint,
    dataset=None,
    data_dir=None,
    num_samples=1000,
    max_real=10000,
    steps=None,
    sampler=None,
    guidance=None,
    seed=0,
    batch_size=None,
    inception_weights=None,
    classifier_cache=None,
    report_path=None,
    progress=None,
    spacing=None,
    guidance_interval=None,
    reference_draws=EVALUATION_REFERENCE_DRAWS,
):
    """Generates samples from `model` and measures them against real data.

    With labelled real data, a small classifier is trained on them (once;
    cached) and gives the class accuracy of class-conditional samples and the
    Frechet distance / KID in its feature space, next to the same distances
    between two real splits (`keras_simple_diffusion.evaluation`). FID and
    the Inception KID are computed only from a local InceptionV3 weights
    file, otherwise they are reported as skipped.

    Args:
        model: a trained `SimpleDiffusion`.
        checkpoint: its file; the run's `config.json` or `distill.json`
            above it names the default dataset (`run_dataset`).
        dataset: real-data source spec; default the run's, else "digits".
        data_dir: TFDS data directory.
        num_samples: samples to generate, labels cycling through the classes.
        max_real: real images to read at most.
        steps, sampler, guidance, seed, batch_size, spacing,
            guidance_interval: passed to `generate`; None steps, sampler,
            guidance or guidance_interval take the model's own
            (`sampling_defaults`, `resolve_guidance`, whose default here is
            `EVALUATION_GUIDANCE`, `resolve_guidance_interval`), None
            spacing the sampler's.
        inception_weights: local InceptionV3 (no top) weights file, or None.
        classifier_cache: `.keras` path caching the classifier.
        report_path: where to write a one-page PNG of samples next to real
            images and the metrics (`plots.save_report`), or None.
        progress: called with the name of each phase as it begins (e.g.
            `keras_simple_diffusion.progress.Progress.begin`), or None.
        reference_draws: draws of the real sets that each distance ratio
            averages over (`evaluation.evaluate_samples`).

    A model of the emoji conditioned on their names (captions, or each
    emoji as its class) is scored by `evaluate_caption_retrieval` instead;
    another text-conditioned model by `evaluate_prompt_adherence` (the
    captioned shapes: `dataset`, `max_real` and the Inception figures do
    not apply).

    Returns:
        `(metrics, report)`: a JSON-ready dict and a readable summary.

    Example:
    >>> metrics, report = evaluate_checkpoint(model, "runs/x/model.keras")  # doctest: +SKIP
    """
    steps, sampler = model.sampling_defaults(steps, sampler)
    guidance = model.resolve_guidance(guidance, EVALUATION_GUIDANCE)
    guidance_interval = model.resolve_guidance_interval(guidance_interval)
    begin = progress or (lambda phase: None)
    run_source, run_data_dir = run_dataset(checkpoint)
    source = dataset or run_source or "digits"
    if is_emoji_by_name(model, source):
        return evaluate_caption_retrieval(
            model,
            source,
            data_dir or (None if dataset else run_data_dir),
            num_samples,
            _settings(steps, sampler, spacing, guidance, guidance_interval, seed),
            batch_size,
            report_path,
            reference_draws,
        )
    if model.text_encoder is not None:
        return evaluate_prompt_adherence(
            model,
            num_samples,
            steps,
            sampler,
            guidance,
            seed,
            batch_size,
            report_path=report_path,
            spacing=spacing,
            guidance_interval=guidance_interval,
        )
    begin("real images")
    image_size, channels = model.image_size, model.denoiser.channels
    real, held_out, info = reference_data(
        source,
        image_size,
        channels,
        data_dir or (None if dataset else run_data_dir),
        max_real,
        None if dataset else run_folder_options(checkpoint),
    )
    sample_labels = None
    if model.num_classes:
        if info.captions is not None:
            raise ValueError(
                f"The model draws one of {model.num_classes} classes but dataset {source!r} "
                "gives captions; score it on the labelled data it learned (for the emoji by "
                "name: 'emoji:name')."
            )
        if info.num_classes and info.num_classes != model.num_classes:
            raise ValueError(
                f"The model has {model.num_classes} classes but dataset {source!r} has "
                f"{info.num_classes}."
            )
        sample_labels = np.arange(num_samples) % model.num_classes
    begin("sampling")
    samples = model.generate(
        labels=sample_labels,
        num_images=num_samples,
        steps=steps,
        sampler=sampler,
        spacing=spacing,
        guidance=guidance if sample_labels is not None else 0.0,
        guidance_interval=guidance_interval,
        seed=seed,
        batch_size=batch_size,
    )
    begin("classifier features and distances")
    metrics = score_samples(
        samples, sample_labels, source, real, held_out, info, classifier_cache, reference_draws
    )
    real_images, real_labels = held_out or real
    if inception_weights:
        if not os.path.isfile(inception_weights):
            raise FileNotFoundError(f"--inception-weights {inception_weights!r} does not exist.")
        begin("Inception features")
        sample_features = evaluation.inception_features(samples, inception_weights)
        real_features = evaluation.inception_features(real_images, inception_weights)
        metrics["fid"] = evaluation.frechet_distance(sample_features, real_features)
        metrics["inception_kid"] = evaluation.kernel_inception_distance(
            sample_features, real_features
        )
    else:
        metrics["fid"] = FID_SKIPPED
    report = evaluation.format_report(metrics)
    if report_path:
        columns = min(model.num_classes, 10) if model.num_classes else None
        shown = real_images
        if sample_labels is not None and real_labels is not None:
            shown = real_images[matching_labels(real_labels, sample_labels[:REPORT_IMAGES])]
        _save_report(report_path, samples, report, checkpoint, shown, columns)
    metrics.update(
        checkpoint=checkpoint,
        dataset=source,
        **_settings(steps, sampler, spacing, guidance, guidance_interval, seed),
    )
    return metrics, report


def matching_labels(real_labels, labels):
    """Indices of real images set out like samples of `labels`: the k-th
    sample of a class beside the k-th real image of that class (a class
    with no real image shows the first real image)."""
    members = {label: np.flatnonzero(real_labels == label) for label in set(labels.tolist())}
    seen = dict.fromkeys(members, 0)
    picked = []
    for label in labels.tolist():
        images = members[label] if len(members[label]) else np.zeros(1, "int64")
        picked.append(images[seen[label] % len(images)])
        seen[label] += 1
    return np.array(picked)


# Images per grid of the report: enough to judge, small enough to see each.
REPORT_IMAGES = 100


def _save_report(path, samples, report, title, real_images=None, columns=None):
    """`plots.save_report` with as many real images as samples (at most
    `REPORT_IMAGES`), `columns` a row (one column per class)."""
    try:
        from keras_simple_diffusion.training.plots import save_report
    except ImportError as error:  # matplotlib is optional: keep the metrics
        warnings.warn(f"No {path}: {error}", stacklevel=2)
        return

    count = min(len(samples), REPORT_IMAGES)
    real = None if real_images is None else real_images[:count]
    save_report(path, samples[:count], report, real_images=real, title=title, columns=columns)


def _settings(steps, sampler, spacing, guidance, guidance_interval, seed):
    """What the metrics were measured with, for the JSON report (an
    unbounded end of the guidance interval as null: JSON has no infinity)."""
    return dict(
        backend=keras.config.backend(),
        steps=steps,
        sampler=sampler,
        spacing=spacing or DEFAULT_SPACINGS[sampler],
        guidance=guidance,
        guidance_interval=guidance_interval_config(guidance_interval),
        seed=seed,
    )


def data_for_model(model, source, data_dir=None):
    """`load_dataset(source)` at the model's image size and channels, in
    order, with its images and captions in memory (`info.images`)."""
    return load_dataset(
        source,
        image_size=model.image_size,
        channels=model.denoiser.channels,
        batch_size=1,
        shuffle=False,
        data_dir=data_dir,
    )


def is_emoji_by_name(model, source):
    """Whether `model` draws one named emoji of `source` at a time: from its
    caption, or from its class under "emoji:name"."""
    if source_name(source) != "emoji":
        return False
    conditioning, _ = parse_emoji_spec(source)
    return model.text_encoder is not None or conditioning == "name"


def evaluate_caption_retrieval(
    model,
    source,
    data_dir,
    num_samples,
    settings,
    batch_size=None,
    report_path=None,
    reference_draws=EVALUATION_REFERENCE_DRAWS,
):
    """Caption retrieval and two distance ratios (`evaluation.retrieval`) of
    a model of a captioned set held in memory (the emoji): `num_samples`
    samples from the captions of real images, or from their classes when
    each image is its own class ("emoji:name"), taken in a seeded order
    (`retrieval.caption_sample_indices`). The distance ratios average over
    `reference_draws` draws of the real sets (`retrieval.distance_metrics`).

    Returns:
        `(metrics, report)`, as `evaluate_checkpoint`.
    """
    from keras_simple_diffusion.evaluation import retrieval

    info = data_for_model(model, source, data_dir)
    indices = retrieval.caption_sample_indices(len(info.images), num_samples, settings["seed"])
    condition = (
        dict(prompts=[info.captions[index] for index in indices])
        if model.text_encoder is not None
        else dict(labels=indices)
    )
    samples = model.generate(
        **condition,
        steps=settings["steps"],
        sampler=settings["sampler"],
        spacing=settings["spacing"],
        guidance=settings["guidance"],
        guidance_interval=settings["guidance_interval"],
        seed=settings["seed"],
        batch_size=batch_size,
    )
    metrics = retrieval.evaluate_captioned_samples(
        samples, indices, info.images, settings["seed"], reference_draws
    )
    report = evaluation.format_report(metrics)
    if report_path:
        _save_report(report_path, samples, report, source, info.images[indices])
    metrics.update(dataset=source, **settings)
    return metrics, report


def evaluate_prompt_adherence(
    model,
    num_samples=1000,
    steps=None,
    sampler=None,
    guidance=None,
    seed=0,
    batch_size=None,
    cache_dir=None,
    report_path=None,
    spacing=None,
    guidance_interval=None,
):
    """Prompt adherence of a text-to-image model trained on the captioned shapes.

    Samples from random shape prompts, with `guidance` (None: the model's
    own, else `EVALUATION_GUIDANCE`) and without (when it is > 0), are read
    by attribute classifiers trained on the generator's labelled images
    (`evaluation.adherence`); the same measure on real images is the
    ceiling. The guided samples are also compared with real drawings in
    pooled pixels (`pixel_fd_ratio`, 1 = like real data), a measure that
    owes nothing to the readers.

    Returns:
        `(metrics, report)`, as `evaluate_checkpoint`, which describes
        `report_path`.
    """
    from keras_simple_diffusion.evaluation import adherence

    steps, sampler = model.sampling_defaults(steps, sampler)
    guidance = model.resolve_guidance(guidance, EVALUATION_GUIDANCE)
    guidance_interval = model.resolve_guidance_interval(guidance_interval)
    readers = adherence.train_attribute_classifiers(
        image_size=model.image_size,
        cache_dir=cache_dir or shape_readers_dir(model.image_size),
    )
    prompts = adherence.adherence_prompts(num_samples, image_size=model.image_size)
    metrics = {}
    weights = (guidance, 0.0) if guidance else (0.0,)
    for weight in weights:
        samples = model.generate(
            prompts=prompts,
            steps=steps,
            sampler=sampler,
            spacing=spacing,
            guidance=weight,
            guidance_interval=guidance_interval,
            seed=seed,
            batch_size=batch_size,
        )
        result = adherence.prompt_adherence(readers, samples, prompts)
        key = "prompt_adherence" if weight == guidance else "prompt_adherence_unguided"
        if weight == guidance:
            guided_samples = samples
        metrics[key] = result["all"]
        for attribute in adherence.SCORED_ATTRIBUTES:
            metrics[f"{key}_{attribute}"] = result[attribute]
    real = adherence.real_image_adherence(readers, image_size=model.image_size)
    metrics["real_image_adherence"] = real["all"]
    metrics.update(adherence.pixel_metrics(guided_samples))
    report = evaluation.format_report(metrics)
    if report_path:
        _save_report(report_path, guided_samples, report, f"{num_samples} random shape prompts")
    metrics.update(
        num_samples=num_samples,
        **_settings(steps, sampler, spacing, guidance, guidance_interval, seed),
    )
    return metrics, report
