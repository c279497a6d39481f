"""Keras-free reproduction of the torch.compile failure of the CPU full run
(torch 2.13): "InductorError: LoweringException: ValueRangeError: Invalid
ranges [0:-1]" in aten.convolution_backward.

    python benchmarks/torch_inductor_repro.py            # dynamic: fails; static: ok; fixed pad: ok

What Keras' torch backend does for `Conv2D(3, strides=2, padding="same")` on
channels-last input: permute to NCHW, pad by max(0, (ceil(n/2)-1)*2+3-n)
split (before, after), conv, permute back. Compiled with dynamic H, W (what
dynamo's automatic dynamic shapes does once a frame sees two resolutions:
Keras' layer calls break the graph, so one Conv2D.call frame serves every
level of the U-Net / U-ViT), inductor cannot lower the backward: bounding
the stride expressions of the symbolic pad fails. Static shapes, or a
constant pad ((0, 1) = "same" for even sizes), lower fine.
"""

import torch
import torch.nn.functional as F


def same_pad(n, k=3, s=2):
    total = max(0, ((n + s - 1) // s - 1) * s + k - n)
    return total // 2, total - total // 2


def keras_same(x, w):
    x = x.permute(0, 3, 1, 2)
    (top, bottom), (left, right) = same_pad(x.shape[2]), same_pad(x.shape[3])
    return F.conv2d(F.pad(x, (left, right, top, bottom)), w, stride=2).permute(0, 2, 3, 1)


def fixed_pad(x, w):
    x = x.permute(0, 3, 1, 2)
    return F.conv2d(F.pad(x, (0, 1, 0, 1)), w, stride=2).permute(0, 2, 3, 1)


def attempt(fn, dynamic):
    torch._dynamo.reset()
    compiled = torch.compile(fn, dynamic=dynamic)
    w = torch.randn(16, 16, 3, 3, requires_grad=True)
    out = []
    for n in (32, 16):
        x = torch.randn(2, n, n, 16, requires_grad=True)
        try:
            compiled(x, w).sum().backward()
            out.append(f"{n} px ok")
        except Exception as e:  # noqa: BLE001
            out.append(f"{n} px {type(e).__name__}: {str(e).splitlines()[0][:90]}")
    return "; ".join(out)


if __name__ == "__main__":
    print("torch", torch.__version__)
    print("Keras-style same pad, dynamic shapes:", attempt(keras_same, True))
    print("Keras-style same pad, static shapes: ", attempt(keras_same, False))
    print("constant (0, 1) pad, dynamic shapes: ", attempt(fixed_pad, True))
