"""The names that options of the API and of the command line accept, spelled
once: the modules that act on them (`losses`, `precision`, `distillation`,
`distribution`) check against these, and the command line offers them as
choices before a backend is imported (this module is free of Keras)."""

# `SimpleDiffusion(loss_weighting=...)`, `--loss-weighting` (`losses`).
LOSS_WEIGHTINGS = ("eps", "v", "sigmoid")
# `ProgressiveDistillation(weighting=...)`, `distill --weighting` (`distillation`).
DISTILLATION_WEIGHTINGS = ("truncated_snr", "snr_plus_one")
# `--precision` names and the Keras dtype policy of each (`precision`).
PRECISION_POLICIES = {
    "float32": "float32",
    "bfloat16": "mixed_bfloat16",
    "float16": "mixed_float16",
}
# `--distribution` kinds (`distribution.configure_distribution`).
DISTRIBUTION_KINDS = ("data", "model")
# `generate(sampler=...)`, `--sampler` (`samplers`).
SAMPLERS = ("ancestral", "ddim", "stochastic", "dpmpp-2m", "dpmpp-2m-sde")
# `generate(spacing=...)`, `--spacing`: where the steps fall between pure
# noise and the data end (`samplers.logsnr_grid`).
SPACINGS = ("time", "logsnr", "karras")
