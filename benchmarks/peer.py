"""The peer: Hugging Face diffusers' `UNet2DModel`, native PyTorch, eager and
`torch.compile`, trained with the same loss as `SimpleDiffusion`'s default:
v-prediction, the "eps" weighting (||eps - eps_hat||^2 = alpha^2 ||v - v_hat||^2),
the cosine logSNR schedule (clipped to [-15, 15]), the multiscale loss above
32 px, Adam(1e-4).

    python -m benchmarks.peer --profile quick

Prints `RESULT {json}` lines like `benchmarks.worker`.
"""

import argparse
import math
import os
import time
import traceback

from benchmarks import common, worker

LOGSNR_MIN, LOGSNR_MAX = -15.0, 15.0


def v_loss(model, x, generator=None):
    """The v-prediction loss in plain torch (eps weighting, multiscale > 32 px)."""
    import torch
    import torch.nn.functional as F

    batch, _, size, _ = x.shape
    t = torch.rand((batch,), generator=generator)
    t_min = math.atan(math.exp(-0.5 * LOGSNR_MAX))
    t_max = math.atan(math.exp(-0.5 * LOGSNR_MIN))
    logsnr = -2.0 * torch.log(torch.tan(t_min + t * (t_max - t_min)))
    alpha = torch.sigmoid(logsnr).sqrt().view(-1, 1, 1, 1)
    sigma = torch.sigmoid(-logsnr).sqrt().view(-1, 1, 1, 1)
    eps = torch.randn(x.shape, generator=generator)
    z = alpha * x + sigma * eps
    v = alpha * eps - sigma * x
    # diffusers' UNet2DModel takes a timestep; feed t in [0, 1000).
    v_hat = model(z, t * 999.0).sample
    error = alpha * (v - v_hat)  # = eps - eps_hat
    sizes = [size]
    while sizes[-1] % 2 == 0 and sizes[-1] // 2 >= 32:
        sizes.append(sizes[-1] // 2)
    weights = [1.0 / s for s in sizes]
    loss = 0.0
    for s, w in zip(sizes, weights):
        pooled = error if s == size else F.avg_pool2d(error, size // s)
        loss = loss + (w / sum(weights)) * pooled.square().mean()
    return loss


def build_peer(size, config):
    from diffusers import UNet2DModel

    return UNet2DModel(sample_size=size, in_channels=3, out_channels=3, **config)


def count_flops(model, x):
    """Matmul/conv/attention FLOPs of forward + backward (FlopCounterMode)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        v_loss(model, x).backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def bench_peer(size, batch, compiled, profile):
    import torch

    p = common.PROFILES[profile]
    torch.manual_seed(0)
    model = build_peer(size, p["peer"])
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.from_numpy(
        __import__("numpy")
        .random.default_rng(0)
        .uniform(-1, 1, (batch, 3, size, size))
        .astype("float32")
    )
    record = dict(
        kind="peer",
        backend="torch (native)",
        arch="diffusers UNet2DModel",
        image_size=size,
        batch=batch,
        setting="torch.compile" if compiled else "eager (default)",
        model=dict(
            sample_size=size,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in p["peer"].items()},
        ),
        parameters=int(sum(q.numel() for q in model.parameters())),
    )
    if not compiled:
        record["flops_torch_counter"] = count_flops(model, x)

    def step(x):
        optimizer.zero_grad(set_to_none=True)
        loss = v_loss(model, x)
        loss.backward()
        optimizer.step()
        return loss

    if compiled:  # static shapes and a fresh dynamo cache, as for this package's rows
        worker.torch_compile_setup()
    fn = torch.compile(step) if compiled else step
    start = time.perf_counter()
    loss = float(fn(x).detach())
    first = time.perf_counter() - start
    for _ in range(p["warmup"]):
        fn(x)
    times = []
    for _ in range(p["steps"]):
        start = time.perf_counter()
        loss = float(fn(x).detach())
        times.append(time.perf_counter() - start)
    stats = common.summarize(times)
    record.update(
        first_step_s=first,
        compile_s=max(first - stats["median_s"], 0.0),
        step=stats,
        ms_per_step=1e3 * stats["median_s"],
        images_per_s=batch / stats["median_s"],
        loss=loss,
    )
    return record


def measure_peer(profile, sizes=None, emit=common.emit, deadline=None, compiled=None):
    p = common.PROFILES[profile]
    sizes = sizes or p["sizes"]
    compiled = p["peer_compile"] if compiled is None else compiled
    try:
        import diffusers  # noqa: F401
    except ImportError as e:
        emit(dict(kind="peer", error=f"diffusers is not installed ({e}); `pip install diffusers`"))
        return
    emit(
        dict(
            kind="info",
            backend="torch (native)",
            versions=common.versions("torch"),
            machine=common.machine_info(),
        )
    )
    compile_sizes = p.get("peer_compile_sizes") or sizes
    # Eager at every size first: a slow torch.compile (minutes on 2 cores) comes last.
    rows = [(size, False) for size in sizes]
    rows += [(size, True) for size in sizes if compiled and size in compile_sizes]
    for size, comp in rows:
        if deadline is not None and time.time() > deadline:
            emit(
                dict(
                    kind="peer",
                    image_size=size,
                    compiled=comp,
                    error="skipped: the peer's time budget ran out",
                )
            )
            continue
        try:
            emit(bench_peer(size, p["peer_batch"].get(size, p["batch"]), comp, profile))
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            emit(
                dict(
                    kind="peer",
                    image_size=size,
                    setting="torch.compile" if comp else "eager (default)",
                    error=worker.describe_error(e),
                )
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=sorted(common.PROFILES))
    parser.add_argument("--sizes", default=None)
    parser.add_argument("--budget-s", type=float, default=None)
    args = parser.parse_args()
    measure_peer(
        args.profile,
        sizes=[int(s) for s in args.sizes.split(",")] if args.sizes else None,
        deadline=time.time() + args.budget_s if args.budget_s else None,
    )
    os._exit(0)


if __name__ == "__main__":
    main()
