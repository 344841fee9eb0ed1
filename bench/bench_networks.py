"""Benchmarks of the ops on a user's own NeRF-style trunk (63-d PE input, 8 x 256, the input
concatenated back in after layer 4; a LeakyReLU variant too), described by relu_network.

Each test times our op with pytest-benchmark and the user-side alternative on the same inputs:
the module's bare forward (patterns), one batched forward + backward of the module (gradient
norms) and torch.func vmap(grad) (gradient norms and Gram blocks; on a subset of the points,
extrapolated linearly in N, say the `*_subset_n` entries). extra_info holds the times (s),
ratio = alternative time / our time (> 1: we are faster), peak memory (MiB) and the sizes.
The grid is 512^2 points on CUDA and 128^2 on CPU (`grid_side`).

LeakyReLU patterns on CPU (2-core machine shared with other jobs, so noisy): with the branch-free
activation of csrc/cpu/activation.h, ours / module forward went from a median 1.01 (0.73-1.11) to
0.72 (0.40-0.81) over 8 alternating runs of test_patterns_vs_module_forward, before and after in
the same session (ReLU: 0.68 and 0.74, code unchanged); ours LeakyReLU / ours ReLU from a median
1.4 to 0.98. One thread, 4096 points: 1.26-1.60 before, 0.88-1.14 after.

    PYTHONPATH=. python -m pytest bench/bench_networks.py -q --benchmark-columns=min,mean,rounds
    ... --device cuda
"""
from __future__ import annotations

import pytest
import torch
from torch.func import functional_call, grad, vmap

import specbias_ext as se
from peak_memory import peak_mib
from timing import best_time, run_ours
from specbias_ext.testing.user_models import NeRFTrunk

VARIANTS = {"relu": 0.0, "leaky0.1": 0.1}


@pytest.fixture(autouse=True)
def _print_extra_info(request, benchmark):
    yield
    print(f"\n{request.node.name} {dict(benchmark.extra_info)}", flush=True)




def _nerf_inputs(device, slope, seed=0):
    """The trunk, its description, a 2D slice of PE-encoded 3D points and grad_out."""
    side = 512 if device.type == "cuda" else 128
    torch.manual_seed(seed)
    model = NeRFTrunk(in_dim=63, width=256, depth=8, skip=4, slope=slope).to(device).eval()
    net = se.relu_network(model).detach()
    u = torch.linspace(-1, 1, side, device=device)
    pts = torch.stack(torch.meshgrid(u, u, indexing="ij") + (torch.zeros(side, side,
                                                                         device=device),), -1)
    pts = pts.reshape(-1, 3)
    x = torch.cat([pts] + [f(2.0 ** k * pts) for k in range(10) for f in (torch.sin, torch.cos)],
                  -1)
    with torch.no_grad():
        go = se.mse_grad_out(model(x), torch.zeros(x.shape[0], 1, device=device))
    return side, model, net, x, go


def _info(benchmark, side, slope, t_ours, ours, device):
    info = benchmark.extra_info
    info.update(grid_side=side, n=side * side, net="63-8x256(skip@4)-1", slope=slope,
                dtype="float32", ours_s=t_ours, ours_peak_mib=peak_mib(ours, device))
    return info


def _vmap_grads(model, x, go):
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, xi, gi):
        return (functional_call(model, p, (xi.unsqueeze(0),)).squeeze(0) * gi).sum()

    g = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, go)
    return torch.cat([v.reshape(x.shape[0], -1) for v in g.values()], dim=1)


def _fwd_bwd(model, x, go):
    model.zero_grad(set_to_none=True)
    (model(x) * go).sum().backward()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_patterns_vs_module_forward(benchmark, device, variant):
    side, model, net, x, go = _nerf_inputs(device, VARIANTS[variant])
    ours = lambda: se.activation_patterns(x, net)  # noqa: E731
    t_ours = run_ours(benchmark, ours, device)
    info = _info(benchmark, side, VARIANTS[variant], t_ours, ours, device)
    with torch.no_grad():
        forward = lambda: model(x)  # noqa: E731
        t = best_time(forward, device)
        info.update(module_forward_s=t, ratio_module_forward=t / t_ours,
                    module_forward_peak_mib=peak_mib(forward, device))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_grad_norms_vs_fwd_bwd_and_vmap(benchmark, device, variant):
    side, model, net, x, go = _nerf_inputs(device, VARIANTS[variant])
    ours = lambda: se.per_example_grad_norms(x, net, go)  # noqa: E731
    t_ours = run_ours(benchmark, ours, device)
    info = _info(benchmark, side, VARIANTS[variant], t_ours, ours, device)
    t = best_time(lambda: _fwd_bwd(model, x, go), device)
    info.update(fwd_bwd_s=t, ratio_fwd_bwd=t / t_ours,
                fwd_bwd_peak_mib=peak_mib(lambda: _fwd_bwd(model, x, go), device))
    n = x.shape[0]
    sub = min(n, 512 if device.type == "cpu" else 8192)
    xs, gs = x[:sub], go[:sub]
    vmap_norms = lambda: _vmap_grads(model, xs, gs).square().sum(1)  # noqa: E731
    torch.testing.assert_close(ours()[:sub].sum(1), vmap_norms(), rtol=1e-3, atol=1e-6)
    t = best_time(vmap_norms, device, rounds=2) * n / sub
    info.update(vmap_grad_subset_n=sub, vmap_grad_s=t, ratio_vmap_grad=t / t_ours,
                vmap_grad_subset_peak_mib=peak_mib(vmap_norms, device))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_gram_block_vs_vmap_matmul(benchmark, device, variant):
    side, model, net, x, go = _nerf_inputs(device, VARIANTS[variant])
    block = 128 if device.type == "cpu" else 2048
    gen = torch.Generator().manual_seed(1)
    perm = torch.randperm(x.shape[0], generator=gen)[:2 * block].to(device)
    rows, cols = perm[:block], perm[block:]
    ours = lambda: se.grad_gram(x, net, go, rows, cols)  # noqa: E731
    t_ours = run_ours(benchmark, ours, device)
    info = _info(benchmark, side, VARIANTS[variant], t_ours, ours, device)

    def vmap_block():
        g = _vmap_grads(model, x[perm], go[perm])
        return g[:block] @ g[block:].T

    torch.testing.assert_close(ours(), vmap_block(), rtol=1e-3, atol=1e-5)
    t = best_time(vmap_block, device, rounds=2)
    info.update(block=block, vmap_matmul_s=t, ratio_vmap_matmul=t / t_ours,
                vmap_matmul_peak_mib=peak_mib(vmap_block, device))
