"""The U-Net denoiser of simple diffusion."""

import keras
from keras import layers

from keras_simple_diffusion.layers import ResidualBlock
from keras_simple_diffusion.models.denoiser import (
    Denoiser,
    attend,
    check_downsampling,
    conditioning_embedding,
    decoder,
    denoiser_inputs,
    early_downsample,
    encoder,
    late_upsample,
    output_head,
    resolve_text_encoder,
    text_context,
)


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class UNet(Denoiser):
    """Convolutional U-Net with its capacity at the bottom resolution.

    The images are downsampled immediately (wavelet or patching) so no
    feature map is larger than needed; residual levels of `widths` halve
    the resolution each; the bottom (most blocks, widest) runs residual
    blocks with self-attention; a mirrored decoder with skip connections
    returns to the input resolution.

    Args:
        image_size: side of the square input images.
        channels: image channels.
        widths: width of each residual level above the bottom.
        bottom_width: width at the bottom resolution.
        num_res_blocks: residual blocks per level above the bottom.
        bottom_blocks: residual+attention blocks at the bottom.
        attention_max_resolution: levels at or below this resolution get
            self-attention after each residual block.
        num_heads: attention heads.
        num_classes: number of classes for class conditioning, or None.
        downsample: None, "dwt" (5/3 wavelet) or "patch".
        downsample_factor: spatial reduction of the early downsampling.
        embedding_dim: width of the conditioning embedding.
        dropout: dropout rate, applied only at low resolutions.
        dropout_max_resolution: largest resolution that gets dropout.
        groups: group-norm groups.
        text_encoder: optional text conditioning: a `TextEncoder`, "default"
            (a small byte-level keras-hub T5 trained jointly) or a local
            keras-hub preset directory. Adds `token_ids` and `padding_mask`
            inputs; every attention block (those at or below
            `attention_max_resolution`, and the bottom) cross-attends to the
            token embeddings; the pooled embedding joins the noise level's.
        dtype: dtype policy of every layer (e.g. "mixed_bfloat16"), or None
            for the global policy.
        guidance_input: add a "guidance" input, the classifier-free
            guidance weight, embedded like the noise level into the
            conditioning (a guided-distillation student serves any weight).

    Example:
    >>> denoiser = UNet(image_size=32, channels=3, widths=(32,), bottom_width=64)
    >>> denoiser({"images": np.zeros((2, 32, 32, 3)), "noise_level": np.zeros(2)}).shape
    (2, 32, 32, 3)
    """

    def __init__(
        self,
        image_size,
        channels=3,
        widths=(128, 256),
        bottom_width=512,
        num_res_blocks=2,
        bottom_blocks=4,
        attention_max_resolution=16,
        num_heads=4,
        num_classes=None,
        downsample=None,
        downsample_factor=1,
        embedding_dim=256,
        dropout=0.0,
        dropout_max_resolution=16,
        groups=32,
        text_encoder=None,
        dtype=None,
        guidance_input=False,
        **kwargs,
    ):
        widths = tuple(widths)
        resolution = check_downsampling(image_size, downsample, downsample_factor, 2 ** len(widths))
        downsample_factor = image_size // resolution
        block_args = dict(
            dropout=dropout, dropout_max_resolution=dropout_max_resolution, groups=groups
        )
        attention_args = dict(dropout=dropout, dropout_max_resolution=dropout_max_resolution)

        def attention(h, embedding, name):
            if h.shape[1] > attention_max_resolution:
                return h
            return attend(h, embedding, num_heads, attention_args, name, context, dtype)

        # === Functional Model ===
        # The layers are created where they are wired, by the helpers shared
        # with UViT; each gets `dtype`.
        text_encoder = resolve_text_encoder(text_encoder)
        inputs = denoiser_inputs(image_size, channels, num_classes, text_encoder, guidance_input)
        context, pooled_text, context_mask = text_context(inputs, text_encoder)
        context = None if context is None else (context, context_mask)
        embedding = conditioning_embedding(inputs, embedding_dim, num_classes, pooled_text, dtype)
        h = early_downsample(inputs["images"], downsample, downsample_factor, dtype)
        out_channels = h.shape[-1]
        h = layers.Conv2D(
            widths[0] if widths else bottom_width, 3, padding="same", dtype=dtype, name="stem"
        )(h)
        h, skips = encoder(h, embedding, widths, num_res_blocks, block_args, attention, dtype)
        for block in range(bottom_blocks):
            name = f"bottom_{block}"
            h = ResidualBlock(bottom_width, dtype=dtype, name=name, **block_args)([h, embedding])
            h = attend(h, embedding, num_heads, attention_args, f"{name}_attention", context, dtype)
        h = decoder(h, embedding, skips, widths, num_res_blocks, block_args, attention, dtype)
        h = output_head(h, out_channels, groups, dtype=dtype)
        outputs = late_upsample(h, downsample, downsample_factor, dtype)
        super().__init__(
            inputs,
            outputs,
            image_size=image_size,
            channels=channels,
            num_classes=num_classes,
            downsample=downsample,
            downsample_factor=downsample_factor,
            embedding_dim=embedding_dim,
            dropout=dropout,
            dropout_max_resolution=dropout_max_resolution,
            text_encoder=text_encoder,
            dtype=dtype,
            guidance_input=guidance_input,
            **kwargs,
        )

        # === Config ===
        self.widths = widths
        self.bottom_width = bottom_width
        self.num_res_blocks = num_res_blocks
        self.bottom_blocks = bottom_blocks
        self.attention_max_resolution = attention_max_resolution
        self.num_heads = num_heads
        self.groups = groups

    def get_config(self):
        return {
            **super().get_config(),
            "widths": list(self.widths),
            "bottom_width": self.bottom_width,
            "num_res_blocks": self.num_res_blocks,
            "bottom_blocks": self.bottom_blocks,
            "attention_max_resolution": self.attention_max_resolution,
            "num_heads": self.num_heads,
            "groups": self.groups,
        }
