"""Helpers of the kernel-against-reference tests on every network kind: the points where float32
and float64 agree on every sign, and the op call through a description's schema arguments."""
from __future__ import annotations

import torch


def kink_free(net, x, rel=1e-4):
    """bool [N]: no hidden pre-activation lies within rel * its scale of 0 (float32 and float64
    may disagree on the sign of such a point and then legitimately give other results)."""
    net64, x = net.to(torch.float64), x.double()
    ok = torch.ones(x.shape[0], dtype=torch.bool)
    a = x
    for l in range(net64.depth):
        inp = torch.cat([a, net64.skip_input(l, x)], 1) if net64.input_skips[l] else a
        w, b = net64.weights[l], net64.biases[l]
        z, scale = inp @ w.T, inp.abs() @ w.abs().T + 1e-30
        if b is not None:
            z, scale = z + b, scale + b.abs()
        ok &= ((z.abs() / scale) > rel).all(dim=1)
        act = torch.where(z > 0, z, z * net64.slopes[l])
        a = act + a if net64.residual[l] else act
    return ok


def prepared(net, x, go):
    """The case restricted to kink-free points (float32), and its float64 reference copy."""
    if x.dtype == torch.float32:
        keep = kink_free(net, x)
        x, go = x[keep].contiguous(), go[keep].contiguous()
    return x, go, net.to(torch.float64), x.double(), go.double()


def call(op, x, net, *args):
    """``op(x, weights, biases, *args, **keywords)`` with the description's schema arguments."""
    weights, biases, kw = net.op_args()
    return op(x, weights, biases, *args, **kw)
