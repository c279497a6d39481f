"""Callbacks of a training run: the loss log and its plot, EMA sample grids,
`.keras` checkpoints, the `runs/latest` pointer, and a backup that only ever
holds a good training state.

All of them act at the end of an epoch, when every backend has written the
training state back into the model's variables (JAX keeps it outside them
during an epoch). `train` therefore makes one epoch a period of
`gcd(steps, sample_every, checkpoint_every)` steps. Every file is written
atomically (`keras_simple_diffusion.files`), so a kill at any moment leaves
complete files only.

A period is good when its loss is finite and not far above the run's earlier
ones (`divergence`); `RunLog` stops training at the first bad one, and the
checkpoints, grids and backups are written for good periods only, so the
last of each is a state that samples well.
"""

import contextlib
import csv
import json
import math
import os
import shutil
import statistics
import sys
import warnings

import keras
import numpy as np

from keras_simple_diffusion import files
from keras_simple_diffusion.training import runs
from keras_simple_diffusion.training.images import save_image_grid

# A period is bad when its loss exceeds this many times the median of the
# run's earlier period losses. A diverging run can log a finite loss of 5e13
# one period before it turns NaN, and weights saved then sample NaN; the
# period losses of a healthy run stay within a small factor of each other
# (they fall about tenfold over a whole run), far below 100x.
DIVERGENCE_FACTOR = 100.0
LOG_FIELDS = ("epoch", "step", "loss", "learning_rate")


@contextlib.contextmanager
def ema_weights(model):
    """Temporarily puts the optimizer's EMA weights into `model`.

    Inside the block the trainable variables hold the exponential moving
    average that `use_ema=True` keeps; on exit the raw training weights are
    put back, so training continues unchanged. Without EMA it does nothing.

    Example:
    >>> with ema_weights(model):  # doctest: +SKIP
    ...     model.save("ema.keras")
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not optimizer.use_ema or not optimizer.built:
        yield model
        return
    variables = model.trainable_variables
    averages = optimizer._model_variables_moving_average
    raw = [keras.ops.copy(variable.value) for variable in variables]
    for variable in variables:
        variable.assign(averages[optimizer._get_variable_index(variable)])
    try:
        yield model
    finally:
        for variable, value in zip(variables, raw):
            variable.assign(value)


def _step(model):
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def learning_rate_at(optimizer, step):
    """The learning rate `optimizer` uses at optimizer step `step`.

    Computed from the schedule rather than read from the optimizer, whose
    step count JAX updates only at the end of an epoch.
    """
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # loss scaling
    rate = optimizer._learning_rate
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        rate = rate(step)
    return float(keras.ops.convert_to_numpy(rate))


def divergence(loss, earlier_losses):
    """Why a period with `loss` is bad, or None when it is good.

    Args:
        loss: the period's mean loss.
        earlier_losses: the run's earlier period losses.

    Example:
    >>> divergence(5e13, [1.0, 0.5, 0.4]) is not None
    True
    >>> divergence(0.6, [1.0, 0.5, 0.4]) is None
    True
    """
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    finite = [value for value in earlier_losses if math.isfinite(value)]
    if finite and loss > DIVERGENCE_FACTOR * statistics.median(finite):
        return (
            f"the loss reached {loss:.3g}, over {DIVERGENCE_FACTOR:g}x the median "
            f"({statistics.median(finite):.3g}) of the earlier periods"
        )
    return None


def _is_good_period(model, logs):
    """Whether the period just ended left a state worth saving: training
    goes on (a `RunLog` or `TerminateOnNaN` stops it at a bad one) and the
    loss is finite."""
    loss = (logs or {}).get("loss")
    return not model.stop_training and (loss is None or math.isfinite(loss))


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class RunLog(keras.callbacks.Callback):
    """Writes `log.csv` (epoch, step, loss, learning rate per period) and
    stops training at the first bad period (see `divergence`).

    On a resumed run the rows of the periods the backup does not cover
    (logged before a kill, then trained again) are dropped, so every
    period appears once. `divergence` then describes why training stopped.

    Args:
        path: the CSV file (None: no file, the stops only).
        write: False reads the earlier periods' rows but writes nothing: the
            processes of a multi-process run but process 0, which stop where
            it stops.

    Example:
    >>> model.fit(dataset, callbacks=[RunLog("runs/x/log.csv")])  # doctest: +SKIP
    """

    def __init__(self, path, write=True):
        super().__init__()
        self.path = path
        self.write = write
        self.divergence = None
        self._rows = None

    def on_train_begin(self, logs=None):
        self.divergence = None
        self._rows = None

    def _write_rows(self, rows):
        with files.atomic_path(self.path) as temporary, open(temporary, "w", newline="") as file:
            writer = csv.DictWriter(file, LOG_FIELDS, restval="", extrasaction="ignore")
            writer.writeheader()
            # `read_log` gives floats: the counts go back as integers.
            writer.writerows(
                {
                    key: int(value) if key in ("epoch", "step") else value
                    for key, value in row.items()
                }
                for row in rows
            )

    def on_epoch_end(self, epoch, logs=None):
        writes = self.write and self.path is not None
        if self._rows is None:  # first period of this fit: drop the rows it repeats
            earlier = runs.read_log(self.path) if self.path is not None else []
            self._rows = [row for row in earlier if row["epoch"] < epoch]
            if writes:
                self._write_rows(self._rows)
        step = _step(self.model)
        loss = float((logs or {}).get("loss", math.nan))
        row = {
            "epoch": epoch,
            "step": step,
            "loss": loss,
            "learning_rate": learning_rate_at(self.model.optimizer, step),
        }
        reason = divergence(loss, [earlier["loss"] for earlier in self._rows])
        self._rows.append(row)
        if writes:
            with open(self.path, "a", newline="") as file:
                csv.DictWriter(file, LOG_FIELDS).writerow(row)
        if reason:
            self.divergence = f"{reason} at step {step}"
            self.model.stop_training = True

    def get_config(self):
        return {"path": self.path, "write": self.write}


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class LossPlot(keras.callbacks.Callback):
    """Draws a run's `log.csv` as a PNG every `every` steps and when
    training ends (`keras_simple_diffusion.training.plots.plot_loss`).

    Args:
        log_path: the `RunLog` CSV file.
        path: the PNG file.
        every: period in optimizer steps.
    """

    def __init__(self, log_path, path, every):
        super().__init__()
        self.log_path = log_path
        self.path = path
        self.every = int(every)

    def _plot(self):
        try:
            from keras_simple_diffusion.training.plots import plot_loss
        except ImportError as error:  # matplotlib is optional: training goes on
            warnings.warn(f"No {self.path}: {error}", stacklevel=2)
            return
        plot_loss(self.log_path, self.path)

    def on_epoch_end(self, epoch, logs=None):
        if _step(self.model) % self.every == 0:
            self._plot()

    def on_train_end(self, logs=None):
        self._plot()

    def get_config(self):
        return {"log_path": self.log_path, "path": self.path, "every": self.every}


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class SampleGrid(keras.callbacks.Callback):
    """Saves a PNG grid of samples, drawn with the EMA weights, every `every` steps.

    Files are `folder/step_XXXXXX.png`; the same `seed` is used every time so
    the grids show how the same noise develops during training.

    Args:
        folder: where to write the grids.
        every: sampling period in optimizer steps.
        labels: labels to sample (one grid row per `columns` images), or
            None for unconditional samples.
        prompts: text prompts to sample instead (text-conditioned models).
        num_images: number of unconditional samples when neither `labels`
            nor `prompts` are given.
        columns: images per grid row.
        steps: sampler steps.
        sampler: the sampler (see `samplers.SAMPLERS`); None for the model's.
        guidance: classifier-free guidance weight.
        seed: sampling seed.

    Example:
    >>> grid = SampleGrid("runs/x/samples", every=500, labels=list(range(10)) * 2)
    >>> model.fit(dataset, callbacks=[grid])  # doctest: +SKIP
    """

    def __init__(
        self,
        folder,
        every,
        labels=None,
        num_images=16,
        columns=None,
        steps=64,
        guidance=0.0,
        seed=0,
        prompts=None,
        sampler=None,
    ):
        super().__init__()
        self.folder = folder
        self.every = int(every)
        self.labels = None if labels is None else [int(label) for label in labels]
        self.prompts = None if prompts is None else [str(prompt) for prompt in prompts]
        self.num_images = num_images
        self.columns = columns
        self.steps = steps
        self.sampler = sampler
        self.guidance = guidance
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        step = _step(self.model)
        if step % self.every or not _is_good_period(self.model, logs):
            return
        with ema_weights(self.model):
            conditioned = bool(self.labels or self.prompts)
            samples = self.model.generate(
                labels=self.labels,
                prompts=self.prompts,
                num_images=None if conditioned else self.num_images,
                steps=self.steps,
                sampler=self.sampler,
                guidance=self.guidance if conditioned else 0.0,
                seed=self.seed,
            )
        save_image_grid(samples, os.path.join(self.folder, f"step_{step:06d}.png"), self.columns)

    def get_config(self):
        return {
            "folder": self.folder,
            "every": self.every,
            "labels": self.labels,
            "num_images": self.num_images,
            "columns": self.columns,
            "steps": self.steps,
            "sampler": self.sampler,
            "guidance": self.guidance,
            "seed": self.seed,
            "prompts": self.prompts,
        }


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class EMACheckpoint(keras.callbacks.Callback):
    """Saves the model with its EMA weights as `folder/step_XXXXXX.keras`.

    Unlike `keras.callbacks.ModelCheckpoint` it saves the averaged weights
    (the ones to sample with), writes each file atomically, and saves good
    periods only (see `RunLog`), so the last file written is the last good
    model.

    Args:
        folder: where to write the `.keras` files.
        every: checkpoint period in optimizer steps.

    Example:
    >>> model.fit(dataset, callbacks=[EMACheckpoint("runs/x/checkpoints", every=500)])  # doctest: +SKIP
    """

    def __init__(self, folder, every):
        super().__init__()
        self.folder = folder
        self.every = int(every)

    def on_train_begin(self, logs=None):
        files.remove_partial_files(self.folder)  # of a killed run

    def on_epoch_end(self, epoch, logs=None):
        step = _step(self.model)
        if step % self.every or not _is_good_period(self.model, logs):
            return
        with (
            ema_weights(self.model),
            files.atomic_path(os.path.join(self.folder, f"step_{step:06d}.keras")) as temporary,
        ):
            self.model.save(temporary)

    def get_config(self):
        return {"folder": self.folder, "every": self.every}


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class LatestPointer(keras.callbacks.Callback):
    """Points `runs/latest` at the run once it has a model to sample.

    Args:
        run_dir: the run folder (see `runs.point_latest`).
    """

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir
        self._pointed = False

    def on_train_begin(self, logs=None):
        self._pointed = False

    def on_epoch_end(self, epoch, logs=None):
        if not self._pointed and runs.latest_checkpoint(self.run_dir):
            runs.point_latest(self.run_dir)
            self._pointed = True

    def get_config(self):
        return {"run_dir": self.run_dir}


class BackupError(ValueError):
    """A backup file that cannot be restored; the message names it."""


class BackupMismatchError(BackupError):
    """A readable backup of another network than the one being trained."""


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class NaNSafeBackupAndRestore(keras.callbacks.Callback):
    """Backs up the training state after every good period and restores it
    when `fit` starts, like `keras.callbacks.BackupAndRestore`, but safe
    against kills and divergence.

    - Each file is written atomically, and the previous state is kept as
      `*.bkp` copies. A set of files that was cut short (the metadata's
      step differs from the weights'), or that cannot be read, is skipped
      for the previous one, and the error names the file. Weights of
      another network (a preset whose definition changed since the run
      began) stop the restore with both sets left as they are.
    - Nothing is backed up once training was stopped (a bad period), and
      the backup is kept when `fit` ends then, so `--resume` restarts from the
      last good state.
    - The seed generators' states (which `save_weights` leaves out) are
      backed up too, so a resumed run draws the noise and times it would
      have drawn.

    Args:
        backup_dir: folder of the backup (used by nothing else).
        write: False restores but writes nothing (no backups, no repair of
            a cut-short set, kept at the end): the processes of a
            multi-process run but process 0, which writes the backup.

    Example:
    >>> backup = NaNSafeBackupAndRestore("runs/x/backup")
    >>> model.fit(dataset, epochs=10, callbacks=[keras.callbacks.TerminateOnNaN(), backup])  # doctest: +SKIP
    """

    # Keras' file names, so a backup written by `BackupAndRestore` resumes too.
    WEIGHTS = "latest.weights.h5"
    METADATA = "training_metadata.json"
    RANDOM_STATES = "random_states.npz"
    PREVIOUS = ".bkp"

    def __init__(self, backup_dir, write=True):
        super().__init__()
        self.backup_dir = backup_dir
        self.write = write

    def _path(self, name, previous=False):
        return os.path.join(self.backup_dir, name + (self.PREVIOUS if previous else ""))

    def _random_states(self):
        """Seed-generator states: in `model.variables` but not in its weights file."""
        weights = {id(weight) for weight in self.model.weights}
        return [v for v in self.model.variables if id(v) not in weights]

    def on_train_begin(self, logs=None):
        if self.write:
            files.remove_partial_files(self.backup_dir)  # of a killed run
        failures = []
        # Only the writer falls back to the previous set (by copying it).
        for previous in (False, True) if self.write else (False,):
            if not os.path.exists(self._path(self.METADATA, previous)):
                continue
            if previous:  # promote it: Keras loads `*.weights.h5` files only
                for name in (self.WEIGHTS, self.RANDOM_STATES, self.METADATA):
                    if os.path.exists(self._path(name, previous=True)):
                        files.copy_file(self._path(name, previous=True), self._path(name))
                    elif os.path.exists(self._path(name)):
                        os.remove(self._path(name))
            try:
                self._restore()
            except BackupMismatchError as error:
                raise BackupMismatchError(f"Cannot resume: {error}; the backup is kept.") from None
            except BackupError as error:
                failures.append(str(error))
                continue
            if failures:
                print(f"notice: {failures[0]}; resumed from the previous backup", file=sys.stderr)
            return
        if failures:
            raise BackupError(f"Cannot resume: {'; '.join(failures)}.")

    def _restore(self):
        metadata_path = self._path(self.METADATA)
        try:
            with open(metadata_path) as file:
                metadata = json.load(file)
            epoch = int(metadata["epoch"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BackupError(f"{metadata_path} is unreadable ({_first_line(error)})") from None
        weights_path = self._path(self.WEIGHTS)
        if not self.model.optimizer.built:  # its state is in the weights file
            self.model.optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(weights_path)
        except Exception as error:  # h5py and Keras raise many kinds for a bad file
            # What Keras says when the file's variables are not this network's.
            if isinstance(error, ValueError) and "could not be loaded" in str(error):
                raise BackupMismatchError(
                    f"{weights_path} holds the weights of another network than this run "
                    f"builds ({_first_line(error)})"
                ) from None
            raise BackupError(f"{weights_path} is unreadable ({_first_line(error)})") from None
        step = metadata.get("step")
        if step is not None and _step(self.model) != step:
            raise BackupError(
                f"{weights_path} holds step {_step(self.model)} but {metadata_path} step "
                f"{step} (a backup was cut short)"
            )
        self._restore_random_states(step)
        self.model._initial_epoch = epoch

    def _restore_random_states(self, step):
        path = self._path(self.RANDOM_STATES)
        if not os.path.exists(path):
            return
        variables = self._random_states()
        try:
            with np.load(path) as saved:
                states = [saved[f"arr_{index}"] for index in range(len(variables))]
                saved_step = int(saved["step"]) if "step" in saved.files else step
        except Exception as error:  # numpy and zipfile raise many kinds for a bad file
            raise BackupError(f"{path} is unreadable ({_first_line(error)})") from None
        if step is not None and saved_step != step:
            raise BackupError(f"{path} holds step {saved_step}, not {step}")
        for variable, state in zip(variables, states):
            variable.assign(state)

    def on_epoch_end(self, epoch, logs=None):
        if not (self.write and _is_good_period(self.model, logs)):
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        # The metadata is written last and names the step: a kill in between
        # leaves a set whose steps disagree, which `on_train_begin` skips.
        for name in (self.WEIGHTS, self.RANDOM_STATES, self.METADATA):
            if os.path.exists(self._path(name)):
                files.copy_file(self._path(name), self._path(name, previous=True))
        step = _step(self.model)
        with files.atomic_path(self._path(self.WEIGHTS)) as temporary:
            self.model.save_weights(temporary)
        states = [keras.ops.convert_to_numpy(v) for v in self._random_states()]
        with files.atomic_path(self._path(self.RANDOM_STATES)) as temporary:
            with open(temporary, "wb") as file:
                np.savez(file, *states, step=step)
        files.write_json(self._path(self.METADATA), {"epoch": epoch + 1, "batch": 0, "step": step})

    def on_train_end(self, logs=None):
        if self.write and not self.model.stop_training and os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir)

    def get_config(self):
        return {"backup_dir": self.backup_dir, "write": self.write}


def _first_line(error):
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def epoch_length(steps, *periods):
    """Steps per epoch so that every period ends on an epoch boundary.

    Example:
    >>> epoch_length(2000, 500, 250)
    250
    """
    return math.gcd(int(steps), *(int(period) for period in periods))
