"""Guidance rescale (Lin et al. 2023) tried on a trained run without changing
the package: the guided output's per-image standard deviation brought back
towards the conditional output's. Usage: try.py RUN PHI SEED OUT.json"""

import sys

from keras import ops

import keras_simple_diffusion.diffusion as diffusion
from keras_simple_diffusion import cli
from keras_simple_diffusion.samplers import guide

run, phi, seed, out = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]


def rescaled_guide(conditional, unconditional, weight):
    guided = guide(conditional, unconditional, weight)
    axes = tuple(range(1, len(conditional.shape)))
    ratio = ops.std(conditional, axis=axes, keepdims=True) / ops.std(
        guided, axis=axes, keepdims=True
    )
    return phi * guided * ratio + (1.0 - phi) * guided


diffusion.guide = rescaled_guide
cli.main(["evaluate", "--checkpoint", run, "--seed", seed, "--json", out])
