"""How much of the noise a trained denoiser leaves in its clean-image estimate.

Real images are noised at a few log-SNRs, the model predicts the clean image
x_hat, and the roughness of x_hat (the mean absolute difference between a
pixel and the mean of its 3 x 3 neighbourhood) is set beside that of the
noised input and of the real images. A denoiser that removes the noise gives
x_hat as smooth as the real images at every noise level; one that cannot
return the fine-detail noise through its layers keeps most of the input's
roughness at the high log-SNRs, and its samples show a grain of noise.

    python -m benchmarks.residual_noise --checkpoint runs/latest

The images are the run's own data (digits when the run does not say).
"""

import argparse
import json
import sys

import numpy as np

LOGSNRS = (-4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0)


def roughness(images):
    """Mean |pixel - mean of its 3 x 3 neighbourhood| over (N, H, W, C) images."""
    height, width = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    window = sum(padded[:, i : i + height, j : j + width] for i in range(3) for j in range(3))
    return float(np.mean(np.abs(images - window / 9)))


def residual_noise(model, images, labels=None, logsnrs=LOGSNRS, seed=0):
    """One row per log-SNR: the roughness of the noised images and of x_hat,
    and the mean squared error of x_hat."""
    from keras import ops

    from keras_simple_diffusion.parametrization import denoised
    from keras_simple_diffusion.schedules import alpha_sigma

    x = np.asarray(images, "float32")
    eps = np.random.RandomState(seed).randn(*x.shape).astype("float32")
    condition, _ = model.conditioning.from_user(
        labels=None if labels is None else list(labels), num_images=len(x)
    )
    condition_inputs = {
        name: ops.convert_to_tensor(value)
        for name, value in model.conditioning.denoiser_inputs(condition).items()
    }
    rows = []
    for logsnr in logsnrs:
        alpha, sigma = (float(v) for v in alpha_sigma(np.float32(logsnr)))
        noised = alpha * x + sigma * eps
        z = ops.convert_to_tensor(noised)
        inputs = {
            "images": z,
            "noise_level": ops.convert_to_tensor(np.full((len(x),), logsnr, "float32")),
            **condition_inputs,
        }
        output = model.denoiser(inputs, training=False)
        x_hat, _ = denoised(model.prediction, ops.cast(output, "float32"), z, alpha, sigma)
        x_hat = ops.convert_to_numpy(x_hat)
        rows.append(
            dict(
                logsnr=logsnr,
                sigma=sigma,
                roughness_noised=roughness(noised),
                roughness_x_hat=roughness(x_hat),
                mse_x_hat=float(np.mean(np.square(x_hat - x))),
            )
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a run folder or .keras file")
    parser.add_argument("--num-images", type=int, default=16)
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)

    import keras_simple_diffusion  # noqa: F401  (registers the classes)
    from keras_simple_diffusion.training.assessment import real_data, run_dataset
    from keras_simple_diffusion.training.runs import load_checkpoint

    model, checkpoint = load_checkpoint(args.checkpoint)
    dataset, data_dir = run_dataset(checkpoint)
    images, labels, _ = real_data(
        dataset or "digits",
        model.image_size,
        model.denoiser.channels,
        data_dir,
        max_real=args.num_images,
    )
    labels = labels if model.num_classes else None
    rows = residual_noise(model, images, labels)
    real = roughness(np.asarray(images))
    print(f"real images: roughness {real:.4f}")
    for row in rows:
        print(
            f"logSNR {row['logsnr']:+.0f} (sigma {row['sigma']:.3f}): roughness of z "
            f"{row['roughness_noised']:.4f}, of x_hat {row['roughness_x_hat']:.4f}; "
            f"mse of x_hat {row['mse_x_hat']:.5f}"
        )
    if args.out:
        with open(args.out, "w") as file:
            json.dump(dict(real=real, rows=rows), file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
