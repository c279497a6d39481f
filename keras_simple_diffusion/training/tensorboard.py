"""TensorBoard logs of a run, on every Keras backend.

`TensorBoardLog` writes, under the optimizer step as TensorBoard's step:
the loss and learning rate every `every` steps, the sample grids that
`SampleGrid` saves as PNGs (at the same steps), and the run's config as text.

    tensorboard --logdir runs/

The events are written with TensorFlow's `tf.summary.write` and the
metadata of TensorBoard's scalar, image and text plugins, which is what
`tf.summary.scalar` and the like do: those need the `tensorboard` package
installed, the plain op does not (TensorFlow reads the data on every backend
anyway).
"""

import json
import os

import keras
from PIL import Image

from keras_simple_diffusion.training.callbacks import learning_rate_at


def _write(tag, value, step, plugin):
    """Writes one summary of TensorBoard's `plugin` ("scalars", "images", "text")."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    data_class = {
        "scalars": summary_pb2.DATA_CLASS_SCALAR,
        "images": summary_pb2.DATA_CLASS_BLOB_SEQUENCE,
        "text": summary_pb2.DATA_CLASS_TENSOR,
    }[plugin]
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin),
        data_class=data_class,
    )
    tf.summary.write(tag, tf.constant(value), step=step, metadata=metadata)


def _write_png(tag, path, step):
    """Writes the PNG file `path` as TensorBoard image `tag` (as stored by
    the image plugin: width, height, then the encoded image)."""
    with Image.open(path) as image:
        width, height = image.size
    with open(path, "rb") as file:
        _write(tag, [str(width).encode(), str(height).encode(), file.read()], step, "images")


# Steps between loss and learning-rate points (at most; `train` takes the
# largest divisor of its epoch length, so that every epoch ends on a point):
# a smooth curve for runs of a few hundred steps upwards, at a negligible cost.
SCALAR_EVERY = 10


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class TensorBoardLog(keras.callbacks.Callback):
    """Writes a run's TensorBoard events to `log_dir`.

    Unlike `keras.callbacks.TensorBoard`, its step is the optimizer step, so
    a resumed run continues its curves where the backup left off, and it
    logs the learning rate at every point and the EMA sample grids.

    Args:
        log_dir: folder of the event files.
        every: steps between loss / learning-rate points. Each point is the
            mean loss over the steps since the previous point.
        samples_dir: the `SampleGrid` folder; each new `step_XXXXXX.png` is
            logged as the image "samples" at its step. None logs no images.
        config: a JSON-ready dict logged once as the text "config".

    Example:
    >>> model.fit(dataset, callbacks=[TensorBoardLog("runs/x/tensorboard")])  # doctest: +SKIP
    """

    def __init__(self, log_dir, every=SCALAR_EVERY, samples_dir=None, config=None):
        super().__init__()
        self.log_dir = log_dir
        self.every = int(every)
        self.samples_dir = samples_dir
        self.config = config
        self._writer = None

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        self._writer = tf.summary.create_file_writer(self.log_dir)
        if self.config is not None:
            text = json.dumps(self.config, indent=2)
            # Indented lines are a code block in TensorBoard's Markdown.
            markdown = "\n".join("    " + line for line in text.splitlines())
            with self._writer.as_default():
                _write("config", markdown, self._optimizer_step(), "text")

    def _optimizer_step(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        # Within an epoch Keras reports the running mean of the loss since
        # its start; each point is the mean since the previous one.
        self._epoch_start = self._optimizer_step()
        self._logged_batches, self._logged_sum = 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        step = self._epoch_start + batch + 1
        if step % self.every or "loss" not in (logs or {}):
            return
        total = float(logs["loss"]) * (batch + 1)
        loss = (total - self._logged_sum) / (batch + 1 - self._logged_batches)
        self._logged_batches, self._logged_sum = batch + 1, total
        learning_rate = learning_rate_at(self.model.optimizer, step)
        with self._writer.as_default():
            _write("loss", float(loss), step, "scalars")
            _write("learning_rate", learning_rate, step, "scalars")

    def on_epoch_end(self, epoch, logs=None):
        step = self._optimizer_step()
        grid = self.samples_dir and os.path.join(self.samples_dir, f"step_{step:06d}.png")
        if grid and os.path.isfile(grid):
            with self._writer.as_default():
                _write_png("samples", grid, step)
        self._writer.flush()

    def on_train_end(self, logs=None):
        self._writer.close()

    def get_config(self):
        return {
            "log_dir": self.log_dir,
            "every": self.every,
            "samples_dir": self.samples_dir,
            "config": self.config,
        }
