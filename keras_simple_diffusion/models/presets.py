"""Named denoiser configurations, from tiny (tests) to paper-like.

`build_denoiser("uvit-digits", num_classes=10)` builds one; any keyword
overrides the preset. Text-conditioned presets (`*-text*`) carry a
`text_encoder`; any preset becomes one with `text_encoder="default"` or a
local keras-hub preset directory (`build_denoiser("uvit-256",
text_encoder="/path/to/t5_preset")`). Paper-like presets follow the paper's recipe: early
downsampling to 64 (or 32), residual levels down to 16 x 16, most capacity
at 16 x 16.
"""

import math

from keras_simple_diffusion.models.unet import UNet
from keras_simple_diffusion.models.uvit import UViT

# `build_text_encoder` arguments of a seconds-sized byte-level T5.
TINY_TEXT_ENCODER = dict(
    hidden_dim=32, num_layers=1, num_heads=2, intermediate_dim=64, sequence_length=48
)
# The default encoder over hashed words; emoji names have at most 8 words.
EMOJI_TEXT_ENCODER = dict(tokens="words", sequence_length=16)

PRESETS = {
    # Seconds-sized models for the test suite.
    "unet-tiny": (
        UNet,
        dict(
            image_size=32,
            channels=1,
            widths=(16,),
            bottom_width=32,
            num_res_blocks=1,
            bottom_blocks=1,
            num_heads=2,
            embedding_dim=32,
            groups=8,
            downsample="dwt",
            downsample_factor=2,
        ),
    ),
    "uvit-tiny": (
        UViT,
        dict(
            image_size=32,
            channels=1,
            widths=(16,),
            num_res_blocks=1,
            transformer_width=32,
            transformer_depth=1,
            num_heads=2,
            embedding_dim=32,
            groups=8,
            downsample="dwt",
            downsample_factor=2,
        ),
    ),
    # The default `simple-diffusion train` run: digits at 32 px, wavelet to
    # 16 x 16, transformer at 8 x 8; sized to train in about 10 minutes on
    # 2 CPU cores.
    "uvit-digits": (
        UViT,
        dict(
            image_size=32,
            channels=1,
            widths=(32,),
            num_res_blocks=1,
            transformer_width=96,
            transformer_depth=3,
            num_heads=4,
            embedding_dim=96,
            groups=16,
            downsample="dwt",
            downsample_factor=2,
        ),
    ),
    # A U-Net of about the default run's size (0.75M parameters to its
    # 0.66M), for the section-5.1 study's U-Net against U-ViT: residual
    # blocks with attention at both levels (16 x 16 and 8 x 8 at 32 px) in
    # place of the transformer. Attention only at the bottom halves its
    # step on Fashion-MNIST (0.12-0.14 s against 0.21-0.23) but left one run's
    # samples further from the test split in the classifier's features
    # (docs/results.md).
    "unet-digits": (
        UNet,
        dict(
            image_size=32,
            channels=1,
            widths=(32,),
            bottom_width=64,
            num_res_blocks=1,
            bottom_blocks=3,
            num_heads=4,
            embedding_dim=96,
            groups=16,
            downsample="dwt",
            downsample_factor=2,
        ),
    ),
    # Text-conditioned: a keras-hub text encoder inside the denoiser,
    # cross-attention in the bottom blocks. Tiny ones for the test suite.
    "unet-text-tiny": (
        UNet,
        dict(
            image_size=32,
            channels=3,
            widths=(16,),
            bottom_width=32,
            num_res_blocks=1,
            bottom_blocks=1,
            num_heads=2,
            embedding_dim=32,
            groups=8,
            downsample="dwt",
            downsample_factor=2,
            attention_max_resolution=8,
            text_encoder=TINY_TEXT_ENCODER,
        ),
    ),
    "uvit-text-tiny": (
        UViT,
        dict(
            image_size=32,
            channels=3,
            widths=(16,),
            num_res_blocks=1,
            transformer_width=32,
            transformer_depth=1,
            num_heads=2,
            embedding_dim=32,
            groups=8,
            downsample="dwt",
            downsample_factor=2,
            text_encoder=TINY_TEXT_ENCODER,
        ),
    ),
    # The CPU text-to-image run on captioned shapes (32 px): wavelet to 16 x 16,
    # transformer with cross-attention at 8 x 8, byte-level T5 text encoder.
    # Two residual blocks at 16 x 16: with one, circles and squares came out
    # as the same rounded blob (shape read right 65 % of the time, not 99 %).
    "uvit-shapes-text": (
        UViT,
        dict(
            image_size=32,
            channels=3,
            widths=(64,),
            num_res_blocks=2,
            transformer_width=128,
            transformer_depth=4,
            num_heads=4,
            embedding_dim=128,
            groups=16,
            downsample="dwt",
            downsample_factor=2,
            text_encoder="default",
        ),
    ),
    # A U-Net of about the text run's size (2.50M parameters besides the text
    # encoder, to its 2.42M), for the emoji study's U-Net against U-ViT:
    # residual blocks with self- and cross-attention at 8 x 8 in place of
    # the transformer.
    "unet-shapes-text": (
        UNet,
        dict(
            image_size=32,
            channels=3,
            widths=(64,),
            bottom_width=112,
            num_res_blocks=2,
            bottom_blocks=3,
            num_heads=4,
            embedding_dim=128,
            groups=16,
            downsample="dwt",
            downsample_factor=2,
            attention_max_resolution=8,
            text_encoder="default",
        ),
    ),
    # The text-to-image run on the colour emoji (64 px): the wavelet straight
    # down 4x to 16 x 16 (48 bands into a level 128 wide), a transformer 192
    # wide with cross-attention at 8 x 8. The shapes preset at 64 px keeps a
    # 32 x 32 level and costs 1.5x the step: 1.01 s against 0.68 s at batch
    # 32 on a 2-core CPU (benchmarks/results/step_time/emoji64*.md). Its
    # encoder reads hashed words: over bytes it had not learned to tell
    # 1,377 names apart in 4000 steps (benchmarks/results/emoji64/).
    "uvit-emoji": (
        UViT,
        dict(
            image_size=64,
            channels=3,
            widths=(128,),
            num_res_blocks=2,
            transformer_width=192,
            transformer_depth=4,
            num_heads=6,
            embedding_dim=128,
            groups=16,
            downsample="dwt",
            downsample_factor=4,
            text_encoder=EMOJI_TEXT_ENCODER,
        ),
    ),
    # Its U-Net of about the same size (6.23M parameters besides the text
    # encoder, to its 5.88M), for the emoji study.
    "unet-emoji": (
        UNet,
        dict(
            image_size=64,
            channels=3,
            widths=(128,),
            bottom_width=168,
            num_res_blocks=2,
            bottom_blocks=3,
            num_heads=6,
            embedding_dim=128,
            groups=16,
            downsample="dwt",
            downsample_factor=4,
            attention_max_resolution=8,
            text_encoder=EMOJI_TEXT_ENCODER,
        ),
    ),
    # CIFAR-sized (32 px, 3 channels).
    "unet-s": (
        UNet,
        dict(
            image_size=32,
            channels=3,
            widths=(64, 128),
            bottom_width=256,
            num_res_blocks=2,
            bottom_blocks=2,
            num_heads=4,
            embedding_dim=256,
            dropout=0.1,
            dropout_max_resolution=16,
        ),
    ),
    "uvit-s": (
        UViT,
        dict(
            image_size=32,
            channels=3,
            widths=(128,),
            num_res_blocks=2,
            transformer_width=384,
            transformer_depth=8,
            num_heads=6,
            embedding_dim=256,
            downsample="dwt",
            downsample_factor=2,
            dropout=0.1,
            dropout_max_resolution=16,
        ),
    ),
    # 64 px: the paper's reference resolution.
    "uvit-64": (
        UViT,
        dict(
            image_size=64,
            channels=3,
            widths=(128, 256),
            num_res_blocks=2,
            transformer_width=512,
            transformer_depth=8,
            num_heads=8,
            embedding_dim=512,
            dropout=0.1,
        ),
    ),
    # High resolution: wavelet down to 64, residual levels to 16, transformer at 16.
    "uvit-256": (
        UViT,
        dict(
            image_size=256,
            channels=3,
            widths=(128, 256),
            num_res_blocks=2,
            transformer_width=768,
            transformer_depth=12,
            num_heads=12,
            embedding_dim=768,
            downsample="dwt",
            downsample_factor=4,
            dropout=0.1,
        ),
    ),
    "uvit-512": (
        UViT,
        dict(
            image_size=512,
            channels=3,
            widths=(128, 256),
            num_res_blocks=2,
            transformer_width=768,
            transformer_depth=12,
            num_heads=12,
            embedding_dim=768,
            downsample="dwt",
            downsample_factor=8,
            dropout=0.1,
        ),
    ),
    "unet-256": (
        UNet,
        dict(
            image_size=256,
            channels=3,
            widths=(128, 256),
            bottom_width=768,
            num_res_blocks=2,
            bottom_blocks=8,
            num_heads=12,
            embedding_dim=768,
            downsample="dwt",
            downsample_factor=4,
            dropout=0.1,
        ),
    ),
    "unet-512": (
        UNet,
        dict(
            image_size=512,
            channels=3,
            widths=(128, 256),
            bottom_width=768,
            num_res_blocks=2,
            bottom_blocks=8,
            num_heads=12,
            embedding_dim=768,
            downsample="dwt",
            downsample_factor=8,
            dropout=0.1,
        ),
    ),
}


def _at_image_size(name, image_size):
    """Preset `name` for larger images, whose levels and transformer see the
    same grids as at the preset's own size (16 x 16 and 8 x 8 for the
    default runs).

    The wavelet goes only as deep as keeps the first level at least twice as
    wide as its bands (channels x factor^2): a level not much wider than the
    bands cannot return every band's noise to the output (v is mostly that
    noise at the fine end), and the samples keep a grain of noise. Residual
    levels as wide as the first then bring the grid down to the preset's.
    """
    cls, config = PRESETS[name]
    reduction = config["downsample_factor"] * image_size // config["image_size"]
    first, *rest = config["widths"]
    factor = reduction
    while factor > 1 and config["channels"] * factor**2 > first // 2:
        factor //= 2
    extra_levels = int(math.log2(reduction // factor))
    widths = (first,) * extra_levels + (first, *rest)
    return cls, {**config, "image_size": image_size, "downsample_factor": factor, "widths": widths}


# The default Fashion-MNIST run: `unet-digits` with one attention head (of
# 32 channels at 14 x 14, 64 at 7 x 7) in place of four. Its attention maps
# are a quarter the size, its step 0.15-0.17 s against 0.23 on a 2-core CPU,
# and in the minutes of `unet-digits`' 4000 steps its 4800 came as close to
# the test split or closer on average in both feature spaces over three
# seeds (docs/results.md).
PRESETS["unet-fashion"] = (UNet, {**PRESETS["unet-digits"][1], "num_heads": 1})


# The default runs (and their U-Nets) at 64, 128 and 256 px: "uvit-digits-128"
# takes the wavelet down 4x to 32 x 32 (16 bands) and a residual level there,
# 32 wide, on to the 16 x 16 of "uvit-digits".
for _name in (
    "uvit-digits",
    "unet-digits",
    "unet-fashion",
    "uvit-shapes-text",
    "unet-shapes-text",
    "uvit-emoji",
    "unet-emoji",
):
    for _size in (64, 128, 256):
        if _size > PRESETS[_name][1]["image_size"]:
            PRESETS[f"{_name}-{_size}"] = _at_image_size(_name, _size)


def preset_for_image_size(name, image_size, adapt=False):
    """The preset to train on `image_size` px images, for preset `name`.

    A preset fits images no larger than its own; on larger ones its levels
    would run at a higher resolution than it was sized for (quadratically
    slower attention). With `adapt` (the default model), the preset of the
    same family at that size is taken (`uvit-digits` -> `uvit-digits-128`);
    otherwise a one-line `ValueError` names the presets that fit.
    """
    _, config = preset_config(name)
    if image_size <= config["image_size"]:
        return name
    family = name.rsplit("-", 1)[0] if name.rsplit("-", 1)[-1].isdigit() else name
    sized = f"{family}-{image_size}"
    if adapt and sized in PRESETS:
        return sized
    fitting = [other for other, (_, kw) in PRESETS.items() if kw["image_size"] == image_size]
    if sized in PRESETS:
        fitting = [sized]
    suggestion = f"use {' or '.join(sorted(fitting))}, or" if fitting else "no preset is; please"
    raise ValueError(
        f"Preset {name!r} is sized for {config['image_size']} px images, not {image_size} px: "
        f"{suggestion} resize the images to {config['image_size']} px."
    )


def preset_config(name, **overrides):
    """Returns `(cls, kwargs)` of a preset with `overrides` applied."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Available presets: {sorted(PRESETS)}")
    cls, config = PRESETS[name]
    return cls, {**config, **overrides}


def build_denoiser(name, **overrides):
    """Builds the denoiser of preset `name`; keywords override the preset.

    Example:
    >>> denoiser = build_denoiser("uvit-tiny", num_classes=10)
    """
    cls, config = preset_config(name, **overrides)
    return cls(**config)
