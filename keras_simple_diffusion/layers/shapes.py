"""Shape checks shared by the image layers, so bad input fails with a clear
message at build time instead of deep inside a backend reshape."""


def check_image_shape(layer, input_shape, spatial_multiple=1, channel_multiple=1):
    """Raises a ValueError unless `input_shape` is (batch, H, W, C) with static
    H, W divisible by `spatial_multiple` and C by `channel_multiple`."""
    name = layer.__class__.__name__
    if len(input_shape) != 4:
        raise ValueError(
            f"{name} expects channels-last images of rank 4 (batch, height, width, "
            f"channels). Received shape {tuple(input_shape)}."
        )
    _, height, width, channels = input_shape
    if height is None or width is None or channels is None:
        raise ValueError(
            f"{name} needs static height, width and channels. Received shape {tuple(input_shape)}."
        )
    if height % spatial_multiple or width % spatial_multiple:
        raise ValueError(
            f"{name}: height and width must be divisible by {spatial_multiple}. "
            f"Received {height}x{width}."
        )
    if channels % channel_multiple:
        raise ValueError(
            f"{name}: channels must be divisible by {channel_multiple}. Received {channels}."
        )
