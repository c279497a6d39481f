"""Text-to-image on the embedded captioned shapes: train, sample, measure.

Trains a text-conditioned U-ViT (preset "uvit-shapes-text": a byte-level
keras-hub T5 encoder trained jointly, cross-attention in the bottom
transformer blocks) on `shapes` captions for a wall-clock budget, then
samples random prompts with and without classifier-free guidance and reports
the fraction of samples whose shape, colour and position (read by three
small classifiers trained on the generator's labelled images) match their
prompt, next to the same figure on real images. Writes a JSON report.

    KERAS_BACKEND=torch python examples/text_to_image.py --train-minutes 30

Everything runs offline; nothing is downloaded.
"""

import argparse
import json
import os
import time

import keras
import numpy as np

import keras_simple_diffusion as ksd
from keras_simple_diffusion.data import load_dataset
from keras_simple_diffusion.evaluation.adherence import (
    adherence_prompts,
    prompt_adherence,
    real_image_adherence,
    train_attribute_classifiers,
)


class TimeBudget(keras.callbacks.Callback):
    """Stops `fit` once `seconds` of training have passed (checked per batch)."""

    def __init__(self, seconds, log_every=100):
        super().__init__()
        self.seconds = seconds
        self.log_every = log_every
        self.steps = 0

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        elapsed = time.time() - self.start
        if self.steps % self.log_every == 0:
            loss = float(logs["loss"]) if logs and "loss" in logs else float("nan")
            print(f"step {self.steps}  loss {loss:.4f}  {elapsed / 60:.1f} min", flush=True)
        if elapsed > self.seconds:
            self.model.stop_training = True


def save_grid(images, path, columns=8):
    from PIL import Image  # noqa: PLC0415

    images = ((np.clip(images, -1, 1) + 1) * 127.5).astype("uint8")
    rows = -(-len(images) // columns)
    height, width, channels = images.shape[1:]
    grid = np.zeros((rows * height, columns * width, channels), "uint8")
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        grid[row * height : (row + 1) * height, column * width : (column + 1) * width] = image
    Image.fromarray(grid.squeeze()).save(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="uvit-shapes-text")
    parser.add_argument("--train-minutes", type=float, default=30.0)
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--num-images", type=int, default=8192, help="training images")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--ema-momentum", type=float, default=0.995)
    parser.add_argument("--caption-dropout", type=float, default=0.1)
    parser.add_argument("--num-samples", type=int, default=128, help="prompts to score")
    parser.add_argument("--sampling-steps", type=int, default=64)
    parser.add_argument("--guidance", type=float, nargs="+", default=[0.0, 3.0])
    parser.add_argument("--classifier-epochs", type=int, default=4)
    parser.add_argument("--jit-compile", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="benchmarks/results/text_adherence.json")
    parser.add_argument("--save-model", default=None, help="optional .keras path")
    args = parser.parse_args()
    jit_compile = {"true": True, "false": False}.get(str(args.jit_compile).lower(), "auto")

    keras.utils.set_random_seed(args.seed)
    report = {"backend": keras.config.backend(), "args": vars(args)}

    # Data: (images, captions) batches, tokenised in tf.data.
    info = load_dataset(f"shapes:{args.num_images}", batch_size=args.batch_size, repeat=True)
    denoiser = ksd.build_denoiser(args.preset)
    model = ksd.SimpleDiffusion(denoiser, label_dropout=args.caption_dropout, seed=args.seed)
    dataset = model.tokenize_dataset(info.dataset).prefetch(4)
    warmup = 200
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=args.max_steps, warmup_target=args.learning_rate, warmup_steps=warmup,
        alpha=1.0,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(
            schedule, weight_decay=0.0, global_clipnorm=1.0,
            use_ema=args.ema_momentum > 0, ema_momentum=args.ema_momentum or 0.99,
        ),
        jit_compile=jit_compile,
    )
    report["parameters"] = int(denoiser.count_params())
    report["text_encoder_parameters"] = int(denoiser.text_encoder.count_params())
    print(f"{args.preset}: {report['parameters']:,} parameters "
          f"({report['text_encoder_parameters']:,} in the text encoder)", flush=True)

    budget = TimeBudget(args.train_minutes * 60)
    start = time.time()
    history = model.fit(
        dataset, epochs=1, steps_per_epoch=args.max_steps, callbacks=[budget], verbose=0
    )
    report["train_seconds"] = round(time.time() - start, 1)
    report["train_steps"] = budget.steps
    report["final_loss"] = float(history.history["loss"][-1])
    print(f"trained {budget.steps} steps in {report['train_seconds'] / 60:.1f} min, "
          f"loss {report['final_loss']:.4f}", flush=True)
    if args.save_model:
        model.save(args.save_model)

    # The attribute readers and the real-image figure.
    start = time.time()
    classifiers = train_attribute_classifiers(
        num_images=4096, image_size=denoiser.image_size, epochs=args.classifier_epochs
    )
    report["real_images"] = real_image_adherence(classifiers, image_size=denoiser.image_size)
    report["classifier_seconds"] = round(time.time() - start, 1)
    print("real images:", report["real_images"], flush=True)

    prompts = adherence_prompts(args.num_samples, image_size=denoiser.image_size)
    report["samples"] = {}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    for guidance in args.guidance:
        start = time.time()
        samples = model.generate(
            prompts=prompts, steps=args.sampling_steps, guidance=guidance, seed=args.seed,
            batch_size=64,
        )
        result = prompt_adherence(classifiers, samples, prompts)
        result["sampling_seconds"] = round(time.time() - start, 1)
        report["samples"][f"guidance_{guidance:g}"] = result
        print(f"guidance {guidance:g}:", result, flush=True)
        save_grid(samples[:32], os.path.splitext(args.output)[0] + f"_w{guidance:g}.png")
    # The empty prompt (unconditional samples) for reference.
    empty = model.generate(prompts=[""] * 16, steps=args.sampling_steps, seed=args.seed)
    save_grid(empty, os.path.splitext(args.output)[0] + "_empty.png")
    report["prompts_shown"] = prompts[:32]

    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps({k: report[k] for k in ("train_seconds", "train_steps", "real_images", "samples")},
                     indent=2))


if __name__ == "__main__":
    main()
