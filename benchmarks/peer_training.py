"""What users would run instead: two PyTorch peers trained for a wall-clock budget.

`benchmarks.effects` trains this package's variants for a budget of minutes
each and scores their EMA checkpoints; `train_peer` trains a peer the same way
(same data, same batch size, same seed, same budget, same checkpoint times) and
`sample_peer` draws images from its checkpoints for the same judge. Both run in
plain PyTorch on the CPU, eager, in float32.

    from benchmarks.peer_training import sample_peer, train_peer
    run = train_peer("diffusers", dict(dataset="digits", image_size=32, batch_size=32, seed=0),
                     budget_s=180, every_s=60, folder="runs/peer")
    images = sample_peer("diffusers", run["checkpoints"][-1]["path"], labels, 64, seed=0, steps=128)

The budget, as in `benchmarks.effects`: a short calibration (2 steps, then
`calibration_steps` timed steps, on a throwaway copy that is then discarded)
measures the median time a step; the run is planned for as many steps as fit in the
budget, so that the learning-rate schedule ends where the budget ends, and it
stops at the budget in any case. EMA weights are saved every `every_s` seconds
of training (saving counts against the budget) and once more at the end.
Each checkpoint's `loss` is the mean training loss over the steps since the
previous checkpoint, in the peer's own loss (not comparable across peers).
Nothing here sets torch's thread count: it comes from the environment
(`OMP_NUM_THREADS`), as for the package's own runs, so give every entrant
the same. On a 2-core machine that other jobs load, two OpenMP threads spin
against each other and a step takes tens of times longer than with one.

"diffusers": Hugging Face diffusers' `UNet2DModel` + `DDPMScheduler`, trained
as its example `examples/unconditional_image_generation/train_unconditional.py`
does, with its defaults:
- AdamW, lr 1e-4, betas (0.95, 0.999), weight decay 1e-6, eps 1e-8; gradient
  norm clipped to 1.0; batches drawn in a fresh random order every epoch.
- the "cosine" schedule with linear warm-up (`diffusers.optimization.get_scheduler`),
  decaying to 0 at the planned last step. The example's 500 warm-up steps are
  capped at a tenth of the planned steps, so that a CPU run of a few hundred
  steps spends most of its budget at the peak rate (longer runs get the 500).
- `EMAModel(decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=3/4)`:
  the decay rises as 1 - (1 + step)^-3/4, so short runs average over their
  last steps rather than keeping their initial weights.
- `DDPMScheduler(num_train_timesteps=1000)`: linear betas 1e-4..0.02,
  epsilon prediction, plain MSE between predicted and true noise, timesteps
  drawn uniformly.
- No horizontal flips (the example's `--random_flip` is opt-in, and flipped
  digits are not digits).
- Class-conditional through `num_class_embeds` (a learned embedding added to
  the time embedding; `class_labels=` in the forward call) when the data has
  labels. On captioned data (the emoji) `UNet2DModel` has no text input, so
  each image is a class of its own (`peer_targets`): the peer is told which
  image to draw, at least what its caption tells this package's models, and
  the study scores it by caption retrieval as it scores them.
  Unconditional on data with neither.
- The network, sized for 2 CPU cores (the example's is 6 levels of 128-512
  channels, 113 M parameters): `block_out_channels=(32, 64, 64)`,
  `layers_per_block=1`, three levels (32, 16 and 8 px at 32 px) with
  self-attention at the lowest one (`AttnDownBlock2D` / `AttnUpBlock2D`)
  and in the middle block, the rest as the example: 1.1 M parameters at
  32 px with 10 classes, against 0.66 M for this package's "uvit-digits".
- Sampling: `DDPMScheduler` (ancestral, as the example's `DDPMPipeline`, and
  as the study's sampler) with `steps` inference steps and
  `timestep_spacing="trailing"`, so that the first step starts at the last
  training timestep (the default "leading" spacing starts at 889 of 999 at
  128 steps, from noise the model was not trained on); x0 is clipped to
  [-1, 1] (the scheduler's default). Without `labels`, a class-conditional
  peer samples each image's class uniformly (the data's classes are nearly
  balanced), which is sampling the unconditional distribution.

"lucidrains": `denoising_diffusion_pytorch.simple_diffusion` (Phil Wang's
PyTorch port of the simple-diffusion paper), `UViT` + `GaussianDiffusion`
with the defaults of `GaussianDiffusion` and of the package's `Trainer`
(whose file needs torchvision and accelerate, so the loop is written here):
- `GaussianDiffusion` defaults: v prediction, the cosine logSNR schedule
  (no shift: `noise_d=None`), min-SNR loss weighting (gamma 5), x0 clipped
  in sampling. Its input is in [0, 1]: the data is mapped there and samples
  mapped back to [-1, 1].
- `Trainer` defaults: Adam, lr 1e-4 constant (no schedule, so nothing has to
  end at the budget), betas (0.9, 0.99); gradient norm clipped to 1.0;
  `ema_pytorch.EMA(beta=0.995, update_every=10)` with its defaults
  (`update_after_step=100`, decay warm-up 1 - (1 + step)^-2/3). Its default
  horizontal flip is off, as for diffusers.
- `UViT` defaults (ResNet blocks with linear attention at every level, a
  transformer with dropout 0.2 and learned-sinusoidal logSNR embedding),
  sized for 2 CPU cores: `dim=32, dim_mults=(1, 2), vit_depth=4`, so the
  transformer (width 64) works on 8 x 8 tokens at 32 px, as this package's
  "uvit-digits" does (width 96, depth 3): 0.94 M parameters.
- Unconditional (the port has no class conditioning): `sample_peer` ignores
  `labels`; the study compares its Frechet distances only.
- Sampling: its own ancestral `p_sample_loop` with `num_sample_steps=steps`.
- Installed as `pip install --no-deps denoising-diffusion-pytorch ema-pytorch
  einops` (its `simple_diffusion` module needs only torch, einops and tqdm,
  `ema_pytorch` only torch). The
  package's `__init__` imports its `Trainer` and so torchvision and
  accelerate, which are not installed (torchvision from PyPI does not import
  beside the CPU torch), so the `simple_diffusion.py` file is loaded on its
  own, by path, without running the package's `__init__`.
"""

import functools
import importlib.util
import os
import resource
import time

import numpy as np

KINDS = ("diffusers", "lucidrains")
MAX_GRAD_NORM = 1.0  # both examples clip the gradient norm to 1
WARMUP_STEPS = 2  # untimed steps before the calibration
SAMPLE_BATCH = 64  # images denoised at once in `sample_peer`

DIFFUSERS_OPTIMIZER = dict(lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
DIFFUSERS_LR_WARMUP_STEPS = 500
DIFFUSERS_EMA = dict(decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=3 / 4)
DIFFUSERS_NOISE = dict(num_train_timesteps=1000, beta_schedule="linear", prediction_type="epsilon")
DIFFUSERS_UNET = dict(
    block_out_channels=(32, 64, 64),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
)

LUCIDRAINS_OPTIMIZER = dict(lr=1e-4, betas=(0.9, 0.99))
LUCIDRAINS_EMA = dict(beta=0.995, update_every=10)
LUCIDRAINS_UVIT = dict(dim=32, dim_mults=(1, 2), vit_depth=4)
LUCIDRAINS_INSTALL = "pip install --no-deps denoising-diffusion-pytorch ema-pytorch einops"


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"Unknown peer {kind!r}. Peers: {', '.join(KINDS)}.")


@functools.cache
def _simple_diffusion():
    """lucidrains' `simple_diffusion` module, loaded from its file alone."""
    package = importlib.util.find_spec("denoising_diffusion_pytorch")  # does not import it
    if package is None:
        raise RuntimeError(f"The lucidrains peer needs its package: {LUCIDRAINS_INSTALL}")
    path = os.path.join(package.submodule_search_locations[0], "simple_diffusion.py")
    spec = importlib.util.spec_from_file_location("_lucidrains_simple_diffusion", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _to_torch(images):
    """NHWC NumPy images to an NCHW float32 tensor."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(np.transpose(images, (0, 3, 1, 2)), np.float32))


def _to_numpy(images):
    return np.transpose(images.clamp(-1.0, 1.0).numpy(), (0, 2, 3, 1)).astype(np.float32)


def peer_targets(info):
    """`(labels, num_classes)` a peer trains on from a `DatasetInfo`: the
    data's classes; on captioned data one class per image, in the order of
    `info.images`; `(None, None)` on data with neither."""
    if info.num_classes:
        return info.labels, info.num_classes
    if info.captions is not None:
        return np.arange(info.num_examples), info.num_examples
    return None, None


def _batches(images, labels, batch_size, seed):
    """Batches in a fresh random order every epoch (the last partial batch dropped)."""
    import torch

    order = np.random.default_rng(seed)
    while True:
        permutation = order.permutation(len(images))
        for start in range(0, len(images) - batch_size + 1, batch_size):
            index = permutation[start : start + batch_size]
            batch_labels = (
                None if labels is None else torch.from_numpy(labels[index].astype(np.int64))
            )
            yield _to_torch(images[index]), batch_labels


class DiffusersPeer:
    """diffusers' `UNet2DModel` trained as its unconditional example, class-conditional."""

    def __init__(self, image_size, channels, num_classes, planned_steps):
        import torch
        from diffusers import DDPMScheduler, UNet2DModel
        from diffusers.optimization import get_scheduler
        from diffusers.training_utils import EMAModel

        self.network_config = dict(
            DIFFUSERS_UNET,
            sample_size=image_size,
            in_channels=channels,
            out_channels=channels,
            num_class_embeds=num_classes,
        )
        self.network = UNet2DModel(**self.network_config)
        self.noise = DDPMScheduler(**DIFFUSERS_NOISE)
        self.optimizer = torch.optim.AdamW(self.network.parameters(), **DIFFUSERS_OPTIMIZER)
        self.learning_rate = get_scheduler(
            "cosine",
            optimizer=self.optimizer,
            num_warmup_steps=min(DIFFUSERS_LR_WARMUP_STEPS, max(planned_steps // 10, 1)),
            num_training_steps=planned_steps,
        )
        self.ema = EMAModel(self.network.parameters(), **DIFFUSERS_EMA)

    def train_step(self, images, labels):
        import torch
        import torch.nn.functional as F

        noise = torch.randn_like(images)
        timesteps = torch.randint(0, self.noise.config.num_train_timesteps, (len(images),))
        noisy = self.noise.add_noise(images, noise, timesteps)
        loss = F.mse_loss(self.network(noisy, timesteps, class_labels=labels).sample, noise)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.network.parameters(), MAX_GRAD_NORM)
        self.optimizer.step()
        self.learning_rate.step()
        self.ema.step(self.network.parameters())
        self.optimizer.zero_grad(set_to_none=True)
        return loss.item()

    def ema_state(self):
        state = self.network.state_dict()
        for (name, _), average in zip(self.network.named_parameters(), self.ema.shadow_params):
            state[name] = average.detach().clone()
        return state

    @staticmethod
    def sample(checkpoint, labels, num_images, seed, steps):
        import torch
        from diffusers import DDPMScheduler, UNet2DModel

        network = UNet2DModel(**checkpoint["network_config"])
        network.load_state_dict(checkpoint["state"])
        network.eval()
        num_classes = checkpoint["network_config"]["num_class_embeds"]
        generator = torch.Generator().manual_seed(seed)
        if labels is None and num_classes:
            labels = torch.randint(0, num_classes, (num_images,), generator=generator)
        elif labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.int64)
        size, channels = network.config.sample_size, network.config.in_channels
        scheduler = DDPMScheduler(**DIFFUSERS_NOISE, timestep_spacing="trailing")
        scheduler.set_timesteps(steps)
        chunks = []
        with torch.no_grad():
            for start in range(0, num_images, SAMPLE_BATCH):
                count = min(SAMPLE_BATCH, num_images - start)
                chunk_labels = None if labels is None else labels[start : start + count]
                x = torch.randn((count, channels, size, size), generator=generator)
                for timestep in scheduler.timesteps:
                    eps = network(x, timestep, class_labels=chunk_labels).sample
                    x = scheduler.step(eps, timestep, x, generator=generator).prev_sample
                chunks.append(x)
        return _to_numpy(torch.cat(chunks))


class LucidrainsPeer:
    """lucidrains' simple-diffusion `UViT` + `GaussianDiffusion` with its Trainer's defaults."""

    def __init__(self, image_size, channels, num_classes, planned_steps):
        import torch
        from ema_pytorch import EMA

        del num_classes, planned_steps  # unconditional; constant learning rate
        module = _simple_diffusion()
        self.network_config = dict(LUCIDRAINS_UVIT, channels=channels, image_size=image_size)
        self.network = module.UViT(**LUCIDRAINS_UVIT, channels=channels)
        self.diffusion = module.GaussianDiffusion(
            self.network, image_size=image_size, channels=channels
        )
        self.optimizer = torch.optim.Adam(self.diffusion.parameters(), **LUCIDRAINS_OPTIMIZER)
        self.ema = EMA(self.diffusion, **LUCIDRAINS_EMA)

    def train_step(self, images, labels):
        import torch

        del labels
        loss = self.diffusion((images + 1.0) / 2.0)  # it takes images in [0, 1]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.diffusion.parameters(), MAX_GRAD_NORM)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.ema.update()
        return loss.item()

    def ema_state(self):
        return {
            name: value.detach().clone()
            for name, value in self.ema.ema_model.model.state_dict().items()
        }

    @staticmethod
    def sample(checkpoint, labels, num_images, seed, steps):
        import torch

        del labels  # unconditional
        module = _simple_diffusion()
        options = dict(checkpoint["network_config"])
        image_size = options.pop("image_size")
        network = module.UViT(**options)
        network.load_state_dict(checkpoint["state"])
        diffusion = module.GaussianDiffusion(
            network, image_size=image_size, channels=options["channels"], num_sample_steps=steps
        )
        diffusion.eval()
        # Its sampler draws from torch's global generator: seed it, then restore it.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            chunks = [
                diffusion.sample(batch_size=min(SAMPLE_BATCH, num_images - start))
                for start in range(0, num_images, SAMPLE_BATCH)
            ]
        return _to_numpy(torch.cat(chunks) * 2.0 - 1.0)


PEERS = {"diffusers": DiffusersPeer, "lucidrains": LucidrainsPeer}


def train_peer(kind, config, budget_s, every_s, folder, calibration_steps=5):
    """Trains a peer for `budget_s` seconds; EMA checkpoints every `every_s` seconds.

    Args:
        kind: "diffusers" or "lucidrains".
        config: `TrainConfig` fields; `dataset`, `image_size`, `batch_size`
            and `seed` are used.
        budget_s: seconds of training (after the calibration).
        every_s: seconds between checkpoints.
        folder: the run's folder; checkpoints go to
            `folder/checkpoints/step_SSSSSSS.pt`, each written atomically.
        calibration_steps: timed steps that plan the run's length.

    Returns:
        A dict: `planned_steps`, `seconds_per_step`, `peak_rss_gib`,
        `parameters` (of the denoising network) and `checkpoints`, a list of
        `dict(path, minutes, step, loss)` in training order.
    """
    import torch

    from keras_simple_diffusion.data import load_dataset
    from keras_simple_diffusion.files import atomic_path

    _check_kind(kind)
    if not budget_s > 0 or not every_s > 0:
        raise ValueError(f"budget_s and every_s must be positive; got {budget_s} and {every_s}.")
    seed = config["seed"]
    info = load_dataset(
        config["dataset"],
        image_size=config["image_size"],
        shuffle=True,
        seed=seed,
        batch_size=config["batch_size"],
    )
    if info.images is None:
        raise ValueError(f"The peers need a dataset held in memory; {config['dataset']!r} is not.")
    labels, num_classes = peer_targets(info)

    def new_peer(planned_steps):
        torch.manual_seed(seed)
        peer = PEERS[kind](info.image_size, info.channels, num_classes, planned_steps)
        return peer, _batches(info.images, labels, config["batch_size"], seed)

    peer, batches = new_peer(planned_steps=10_000)
    for _ in range(WARMUP_STEPS):
        peer.train_step(*next(batches))
    step_times = []
    for _ in range(calibration_steps):
        start = time.perf_counter()
        peer.train_step(*next(batches))
        step_times.append(time.perf_counter() - start)
    # The median: one step stalled by another process must not shrink the plan.
    seconds_per_step = float(np.median(step_times))
    planned_steps = max(int(budget_s / seconds_per_step), 1)

    peer, batches = new_peer(planned_steps)
    checkpoints, losses, step = [], [], 0

    def save(elapsed):
        path = os.path.join(folder, "checkpoints", f"step_{step:07d}.pt")
        payload = dict(
            kind=kind, network_config=peer.network_config, state=peer.ema_state(), step=step
        )
        with atomic_path(path) as temporary:
            torch.save(payload, temporary)
        loss = float(np.mean(losses)) if losses else None
        checkpoints.append(dict(path=path, minutes=elapsed / 60, step=step, loss=loss))
        losses.clear()

    next_mark = every_s
    start = time.perf_counter()
    while step < planned_steps:
        losses.append(peer.train_step(*next(batches)))
        step += 1
        elapsed = time.perf_counter() - start
        if elapsed >= next_mark:
            save(elapsed)
            next_mark += every_s
        if elapsed >= budget_s:
            break
    if not checkpoints or checkpoints[-1]["step"] < step:
        save(time.perf_counter() - start)
    return dict(
        planned_steps=planned_steps,
        seconds_per_step=seconds_per_step,
        peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,  # KiB on Linux
        parameters=sum(parameter.numel() for parameter in peer.network.parameters()),
        checkpoints=checkpoints,
    )


def sample_peer(kind, checkpoint_path, labels, num_images, seed, steps):
    """Images from a peer's EMA checkpoint: `(num_images, H, W, C)` float32 in [-1, 1].

    `labels` (ints, one per image) choose the classes of a class-conditional
    diffusers peer; `None` samples the classes uniformly. The lucidrains
    peer is unconditional and ignores them. The same seed gives the same
    images.
    """
    import torch

    _check_kind(kind)
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    if checkpoint.get("kind") != kind:
        raise ValueError(
            f"{checkpoint_path} holds a {checkpoint.get('kind')!r} peer, not {kind!r}."
        )
    if kind == "diffusers" and labels is not None:
        labels = np.asarray(labels)
        num_classes = checkpoint["network_config"]["num_class_embeds"]
        if labels.shape != (num_images,):
            raise ValueError(
                f"Expected one label per image, {num_images}; got shape {labels.shape}."
            )
        if not num_classes:
            raise ValueError(f"{checkpoint_path} is an unconditional peer; pass labels=None.")
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(
                f"Labels must lie in [0, {num_classes}); got {labels.min()}..{labels.max()}."
            )
    return PEERS[kind].sample(checkpoint, labels, num_images, seed, steps)
