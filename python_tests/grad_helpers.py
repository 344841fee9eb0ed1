"""Shared helpers of the gradient-op tests: random inputs and the float32 kink guard."""
from __future__ import annotations

import torch

from specbias_ext import ReluNetwork, reference as ref
from specbias_ext.testing import random_mlp


def make_case(cfg, n=None, device="cpu"):
    """(x, net, grad_out) for a hypothesis mlp_configs() draw."""
    n = cfg["n"] if n is None else n
    net = ReluNetwork.of(*random_mlp(cfg["in_dim"], cfg["hidden"], cfg["out_dim"],
                                     dtype=cfg["dtype"], seed=cfg["seed"],
                                     dead_fraction=cfg["dead_fraction"], device=device))
    gen = torch.Generator().manual_seed(cfg["seed"] + 1)
    x = torch.rand(n, cfg["in_dim"], generator=gen, dtype=torch.float64) * 2 - 1
    go = torch.randn(n, cfg["out_dim"], generator=gen, dtype=torch.float64)
    return x.to(cfg["dtype"]).to(device), net, go.to(cfg["dtype"]).to(device)


def as_double(x, net, grad_out):
    return x.double(), net.to(torch.float64), grad_out.double()


def kink_free(x, net, rel=1e-4):
    """bool [N]: no hidden pre-activation of the point lies within rel * its scale of 0.

    float32 and float64 may disagree on the sign of a pre-activation that is (nearly) 0, and then
    legitimately give different gradients; float32 comparisons are restricted to points without.
    """
    x, net, _ = as_double(x, net, x[:, :1])
    ok = torch.ones(x.shape[0], dtype=torch.bool)
    a = x
    for w, b in zip(net.weights[:-1], net.biases[:-1]):
        z = a @ w.T + b
        scale = a.abs() @ w.abs().T + b.abs() + 1e-30
        ok &= ((z.abs() / scale) > rel).all(dim=1)
        a = torch.relu(z)
    return ok


def tol(dtype):
    return 1e-4 if dtype == torch.float32 else 1e-9


def assert_close_scaled(actual, expected, scale, dtype, what):
    """|actual - expected| <= tol * (scale + tiny), elementwise, with a readable failure."""
    err = (actual.double() - expected.double()).abs()
    bound = tol(dtype) * (scale.double() + 1e-12)
    bad = err > bound
    assert not bad.any(), (f"{what}: {int(bad.sum())} entries off; worst error "
                           f"{float(err.max()):.3e}, bound there {float(bound.flatten()[err.argmax()]):.3e}")


def reference_norms(x, net, grad_out):
    return ref.per_example_grad_norms(*as_double(x, net, grad_out))
