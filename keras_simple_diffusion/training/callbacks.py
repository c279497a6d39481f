"""Callbacks of a training run: EMA sample grids, `.keras` checkpoints, and a
`BackupAndRestore` that never backs up a NaN state.

All of them act at the end of an epoch, when every backend has written the
training state back into the model's variables (JAX keeps it outside them
during an epoch). `train` therefore makes one epoch a period of
`gcd(steps, sample_every, checkpoint_every)` steps.
"""

import contextlib
import math
import os

import keras
import numpy as np

from keras_simple_diffusion.training.images import save_image_grid


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


def _loss_is_finite(logs):
    loss = (logs or {}).get("loss")
    return loss is None or bool(np.isfinite(loss))


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
    ):
        super().__init__()
        self.folder = folder
        self.every = int(every)
        self.labels = None if labels is None else [int(label) for label in labels]
        self.prompts = None if prompts is None else [str(prompt) for prompt in prompts]
        self.num_images = num_images
        self.columns = columns
        self.steps = steps
        self.guidance = guidance
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        step = _step(self.model)
        if step % self.every or not _loss_is_finite(logs) or self.model.stop_training:
            return
        with ema_weights(self.model):
            conditioned = bool(self.labels or self.prompts)
            samples = self.model.generate(
                labels=self.labels,
                prompts=self.prompts,
                num_images=None if conditioned else self.num_images,
                steps=self.steps,
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
            "guidance": self.guidance,
            "seed": self.seed,
            "prompts": self.prompts,
        }


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class EMACheckpoint(keras.callbacks.Callback):
    """Saves the model with its EMA weights as `folder/step_XXXXXX.keras`.

    Unlike `keras.callbacks.ModelCheckpoint` it saves the averaged weights
    (the ones to sample with) and never saves once the loss is NaN, so the
    last file written is always the last good model.

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

    def on_epoch_end(self, epoch, logs=None):
        step = _step(self.model)
        if step % self.every or not _loss_is_finite(logs) or self.model.stop_training:
            return
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, f"step_{step:06d}.keras")
        with ema_weights(self.model):
            self.model.save(path + ".tmp.keras")
        os.replace(path + ".tmp.keras", path)

    def get_config(self):
        return {"folder": self.folder, "every": self.every}


class NaNSafeBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that keeps the last good backup when the loss is NaN.

    Keras' callback backs up at the end of the epoch in which
    `TerminateOnNaN` stopped training, and deletes the backup when `fit`
    returns; both would lose the last good state. This one skips both once
    training was stopped, so `--resume` restarts from the last finite step.
    It keeps the previous backup too (`double_checkpoint`), in case a kill
    interrupts a write, and also backs up the seed generators' states (which
    `save_weights` leaves out), so a resumed run draws the noise and times
    it would have drawn.

    Args:
        backup_dir: folder of the backup (used by nothing else).

    Example:
    >>> backup = NaNSafeBackupAndRestore("runs/x/backup")
    >>> model.fit(dataset, epochs=10, callbacks=[keras.callbacks.TerminateOnNaN(), backup])  # doctest: +SKIP
    """

    def __init__(self, backup_dir):
        super().__init__(backup_dir, save_freq="epoch", double_checkpoint=True)
        self._random_states_path = os.path.join(backup_dir, "random_states.npz")

    def _random_states(self):
        """Seed-generator states: in `model.variables` but not in its weights file."""
        weights = {id(weight) for weight in self.model.weights}
        return [v for v in self.model.variables if id(v) not in weights]

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if os.path.exists(self._random_states_path):
            with np.load(self._random_states_path) as saved:
                for variable, name in zip(self._random_states(), saved.files):
                    variable.assign(saved[name])

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training or not _loss_is_finite(logs):
            return
        super().on_epoch_end(epoch, logs)
        temporary = self._random_states_path + ".tmp.npz"
        np.savez(temporary, *(keras.ops.convert_to_numpy(v) for v in self._random_states()))
        os.replace(temporary, self._random_states_path)

    def on_train_end(self, logs=None):
        if self.model.stop_training:
            return
        super().on_train_end(logs)


def epoch_length(steps, *periods):
    """Steps per epoch so that every period ends on an epoch boundary.

    Example:
    >>> epoch_length(2000, 500, 250)
    250
    """
    return math.gcd(int(steps), *(int(period) for period in periods))
