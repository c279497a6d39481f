"""Mixed precision: bfloat16 and float16 fits on the active backend.

KERAS_BACKEND=jax|tensorflow|torch pytest tests/precision
"""

import keras
import numpy as np
import pytest

import keras_simple_diffusion as ksd
from keras_simple_diffusion import precision

STEPS, BATCH = 30, 16


@pytest.fixture
def restore_policy():
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)


def blobs(n, seed=0):
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, 32)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    centres = rng.uniform(-0.6, 0.6, size=(n, 2))
    radius = rng.uniform(0.2, 0.5, size=(n, 1, 1))
    d2 = (xx[None] - centres[:, 0, None, None]) ** 2 + (yy[None] - centres[:, 1, None, None]) ** 2
    return (2.0 * np.exp(-d2 / radius**2) - 1.0).astype("float32")[..., None]


class StepLosses(keras.callbacks.Callback):
    """Per-step losses, recovered from Keras' running mean (equal batches)."""

    def on_train_begin(self, logs=None):
        self.means = []

    def on_train_batch_end(self, batch, logs=None):
        self.means.append(float(logs["loss"]))

    @property
    def losses(self):
        m = np.asarray(self.means)
        k = np.arange(1, len(m) + 1)
        return k * m - np.concatenate([[0.0], (k[:-1] * m[:-1])])


def test_policy_names(restore_policy):
    assert precision.policy_name("bfloat16") == "mixed_bfloat16"
    assert precision.policy_name("float16") == "mixed_float16"
    assert precision.policy_name(None) == "float32"
    with pytest.raises(ValueError, match="float32, bfloat16, float16"):
        precision.policy_name("int8")
    assert precision.configure_precision("float16").name == "mixed_float16"
    assert precision.needs_loss_scaling()
    opt = precision.loss_scale_optimizer(keras.optimizers.Adam())
    assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
    assert precision.loss_scale_optimizer(opt) is opt


def _jax_cpu():
    if keras.config.backend() != "jax":
        return False
    import jax

    return jax.default_backend() == "cpu"


@pytest.mark.parametrize(
    "name",
    [
        "bfloat16",
        pytest.param(
            "float16",
            marks=pytest.mark.xfail(
                _jax_cpu(),
                strict=True,
                reason="XLA:CPU has no float16 x float16 -> float32 dot_general, which "
                "Keras' JAX dot_product_attention asks for (GPU/TPU have it)",
            ),
        ),
    ],
)
def test_mixed_precision_fit_is_finite_and_decreasing(name, restore_policy):
    policy = precision.configure_precision(name)
    keras.utils.set_random_seed(0)
    denoiser = ksd.build_denoiser("uvit-tiny")
    model = ksd.SimpleDiffusion(denoiser, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    half = "bfloat16" if name == "bfloat16" else "float16"
    # Variables stay float32, computations run in the half type.
    assert denoiser.dtype_policy.name == policy.name
    assert denoiser.get_layer("transformer_0").compute_dtype == half
    assert all(v.dtype == "float32" for v in model.trainable_weights)
    # Loss scaling for float16 (Keras wraps the optimizer at compile).
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (name == "float16")
    # The numerically sensitive parts are float32: the denoiser output is
    # half, the loss (schedule, noise, weighting) is float32, norms float32.
    x = blobs(STEPS * BATCH)
    out = denoiser({"images": x[:2], "noise_level": np.zeros(2, "float32")})
    assert keras.backend.standardize_dtype(out.dtype) == half
    loss = model.compute_loss(x=keras.ops.convert_to_tensor(x[:2]), training=False)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    assert ksd.schedules.LogSNRSchedule(32)(keras.ops.ones((2,))).dtype is not None
    norm = keras.layers.LayerNormalization(dtype=policy)
    y = norm(keras.ops.cast(np.full((1, 4), 300.0, "float32") + np.arange(4), half))
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(y, "float32"))))

    record = StepLosses()
    model.fit(x, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    losses = record.losses
    assert len(losses) == STEPS
    assert np.all(np.isfinite(losses)), losses
    first, last = losses[:8].mean(), losses[-8:].mean()
    assert last < first, (first, last, losses)


def test_denoiser_dtype_trains_under_the_float32_global_policy(restore_policy):
    # The policy given to the denoiser alone: the diffusion model around it
    # (schedule, noise, loss) and the global policy stay float32.
    denoiser = ksd.build_denoiser("uvit-tiny", dtype="mixed_bfloat16")
    model = ksd.SimpleDiffusion(denoiser, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    assert keras.config.dtype_policy().name == "float32"
    assert denoiser.get_layer("transformer_0").compute_dtype == "bfloat16"
    x = blobs(2 * BATCH)
    before = [keras.ops.convert_to_numpy(w) for w in denoiser.trainable_weights]
    losses = model.fit(x, batch_size=BATCH, epochs=1, shuffle=False, verbose=0).history["loss"]
    assert np.isfinite(losses[0]), losses
    assert all(v.dtype == "float32" for v in model.trainable_weights)
    after = [keras.ops.convert_to_numpy(w) for w in denoiser.trainable_weights]
    assert any(not np.array_equal(b, a) for b, a in zip(before, after))
