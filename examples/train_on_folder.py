"""Train simple diffusion on a folder of your own images.

    python examples/train_on_folder.py path/to/folder --image-size 32 --steps 2000
    python examples/train_on_folder.py --steps 20      # a made-up folder, in seconds

The folder's top-level subfolders are the classes (images are found
recursively beneath each); a folder without subfolders trains an
unconditional model. Unreadable and oversized files are skipped, large
images are decoded at reduced size, transparency becomes the background
colour, and each image is centre-cropped (or, with `--fit pad`, padded)
to a square. The decoded images are cached, so the second run starts at
once. The same run from the command line:

    simple-diffusion train --dataset path/to/folder --image-size 32 --fit pad
"""

import argparse
import os
import tempfile

import numpy as np
from PIL import Image, ImageDraw

from keras_simple_diffusion.training import TrainConfig, train


def make_example_folder(root, per_class=48, seed=0):
    """Writes two classes of transparent PNGs, as clip art often is:
    circles/ (some in nested folders) and squares/, of mixed sizes."""
    rng = np.random.default_rng(seed)
    for index in range(2 * per_class):
        shape = ("circles", "squares")[index % 2]
        nested = "outlined" if index % 4 == 0 else ""
        folder = os.path.join(root, shape, nested)
        os.makedirs(folder, exist_ok=True)
        width, height = (int(side) for side in rng.integers(40, 200, 2))
        image = Image.new("RGBA", (width, height), (0, 0, 0, 0))  # fully transparent
        colour = tuple(int(value) for value in rng.integers(0, 200, 3)) + (255,)
        side = min(width, height) * 0.8
        box = [(width - side) / 2, (height - side) / 2, (width + side) / 2, (height + side) / 2]
        draw = ImageDraw.Draw(image)
        (draw.ellipse if shape == "circles" else draw.rectangle)(box, fill=colour)
        image.save(os.path.join(folder, f"{index:03d}.png"))
    return root


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", help="your image folder (default: a made-up one)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--fit", default="pad", choices=("crop", "pad"))
    parser.add_argument("--background", default="white", help="white, black or R,G,B")
    parser.add_argument("--runs-dir", default="runs")
    args = parser.parse_args()
    folder = args.folder or make_example_folder(tempfile.mkdtemp(prefix="example_folder_"))

    config = TrainConfig(
        dataset=folder,
        image_size=args.image_size,
        channels=3,
        background=args.background,  # behind transparent pixels, and around padded images
        fit=args.fit,  # "crop": the centre square; "pad": the whole image
        # The smallest preset, so that the made-up run takes seconds; leave
        # `model` out for the default model sized to the images.
        model="uvit-tiny" if args.image_size <= 32 else None,
        steps=args.steps,
        batch_size=16,
        sample_every=max(args.steps // 2, 1),
        checkpoint_every=max(args.steps // 2, 1),
        sample_steps=16,
    )
    model, run_dir = train(config, runs_root=args.runs_dir)
    print(f"Samples: {os.path.join(run_dir, 'samples')}; the model: {run_dir}/model.keras")


if __name__ == "__main__":
    main()
