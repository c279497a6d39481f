"""The U-ViT denoiser of simple diffusion."""

import keras
from keras import layers

from keras_simple_diffusion.layers import PositionEmbedding, TransformerBlock
from keras_simple_diffusion.models.denoiser import (
    Denoiser,
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
class UViT(Denoiser):
    """U-ViT: residual conv levels at high resolution, a transformer at the bottom.

    The images are downsampled immediately (wavelet or patching); residual
    levels of `widths` halve the resolution each; at the bottom (16 x 16 in
    the paper) the feature map becomes tokens for a stack of transformer
    blocks conditioned on the noise level (and class); a mirrored
    convolutional decoder with skip connections returns to the input.

    Args:
        image_size: side of the square input images.
        channels: image channels.
        widths: width of each residual level above the transformer.
        num_res_blocks: residual blocks per level.
        transformer_width: token width of the transformer.
        transformer_depth: number of transformer blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width over the token width.
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
            inputs; every transformer block (at the bottom,
            16 x 16 in the paper) cross-attends to the token embeddings; the
            pooled embedding joins the noise level's.
        dtype: dtype policy of every layer (e.g. "mixed_bfloat16"), or None
            for the global policy.
        guidance_input: add a "guidance" input, the classifier-free
            guidance weight, embedded like the noise level into the
            conditioning (a guided-distillation student serves any weight).

    Example:
    >>> denoiser = UViT(image_size=32, channels=3, widths=(32,), transformer_width=64,
    ...                 transformer_depth=2, downsample="dwt", downsample_factor=2)
    >>> denoiser({"images": np.zeros((2, 32, 32, 3)), "noise_level": np.zeros(2)}).shape
    (2, 32, 32, 3)
    """

    def __init__(
        self,
        image_size,
        channels=3,
        widths=(128, 256),
        num_res_blocks=2,
        transformer_width=768,
        transformer_depth=12,
        num_heads=12,
        mlp_ratio=4,
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
        token_resolution = resolution // 2 ** len(widths)
        block_args = dict(
            dropout=dropout, dropout_max_resolution=dropout_max_resolution, groups=groups
        )

        # === Functional Model ===
        # The layers are created where they are wired, by the helpers shared
        # with UNet; each gets `dtype`.
        text_encoder = resolve_text_encoder(text_encoder)
        inputs = denoiser_inputs(image_size, channels, num_classes, text_encoder, guidance_input)
        context, pooled_text, context_mask = text_context(inputs, text_encoder)
        context = None if context is None else (context, context_mask)
        embedding = conditioning_embedding(inputs, embedding_dim, num_classes, pooled_text, dtype)
        h = early_downsample(inputs["images"], downsample, downsample_factor, dtype)
        out_channels = h.shape[-1]
        h = layers.Conv2D(
            widths[0] if widths else transformer_width, 3, padding="same", dtype=dtype, name="stem"
        )(h)
        h, skips = encoder(h, embedding, widths, num_res_blocks, block_args, dtype=dtype)
        map_channels = h.shape[-1]
        tokens = layers.Reshape((token_resolution**2, map_channels), dtype=dtype, name="to_tokens")(
            h
        )
        tokens = layers.Dense(transformer_width, dtype=dtype, name="token_projection")(tokens)
        tokens = PositionEmbedding(dtype=dtype, name="position_embedding")(tokens)
        for index in range(transformer_depth):
            tokens = TransformerBlock(
                num_heads,
                mlp_ratio=mlp_ratio,
                dropout=dropout,
                dropout_max_resolution=dropout_max_resolution,
                resolution=token_resolution,
                cross_attention=context is not None,
                dtype=dtype,
                name=f"transformer_{index}",
            )([tokens, embedding] if context is None else [tokens, embedding, *context])
        tokens = layers.LayerNormalization(epsilon=1e-6, dtype=dtype, name="transformer_norm")(
            tokens
        )
        tokens = layers.Dense(map_channels, dtype=dtype, name="map_projection")(tokens)
        h = layers.Reshape(
            (token_resolution, token_resolution, map_channels), dtype=dtype, name="to_map"
        )(tokens)
        h = decoder(h, embedding, skips, widths, num_res_blocks, block_args, dtype=dtype)
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
        self.num_res_blocks = num_res_blocks
        self.transformer_width = transformer_width
        self.transformer_depth = transformer_depth
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.groups = groups

    def get_config(self):
        return {
            **super().get_config(),
            "widths": list(self.widths),
            "num_res_blocks": self.num_res_blocks,
            "transformer_width": self.transformer_width,
            "transformer_depth": self.transformer_depth,
            "num_heads": self.num_heads,
            "mlp_ratio": self.mlp_ratio,
            "groups": self.groups,
        }
