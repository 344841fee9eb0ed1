"""Benchmark: an input skip that reads a SLICE of x against a full-input skip of the same width.

The trunk is DeepSDF-like: 8 x 256 ReLU layers with an input skip at layer 4 and the head. The
full-skip network takes x [N, 63] and re-reads all 63 columns; the sliced one takes
x [N, 3 + 63] (say a 3-d code before the 63 PE features) and re-reads columns 3:66, so both
skips are 63 wide (layer 0 reads 3 more columns in the sliced one). Each test times the sliced
network with pytest-benchmark and the full-skip one with best_time on the same op;
extra_info["ratio_sliced_full"] = sliced time / full time (the target is <= 1.05). The grid is
128^2 points on CPU and 512^2 on CUDA.

    PYTHONPATH=. python -m pytest bench/bench_skip_columns.py -q --benchmark-columns=min,rounds
    ... --device cuda
"""
from __future__ import annotations

import pytest
import torch

import specbias_ext as se
from specbias_ext.nets.network import ReluNetwork
from timing import best_time, run_ours

EXTRA = 3  # x columns before the ones the sliced skip reads
WIDTH, DEPTH, SKIPS, PE = 256, 8, (4, 8), 63


@pytest.fixture(autouse=True)
def _print_extra_info(request, benchmark):
    yield
    print(f"\n{request.node.name} {dict(benchmark.extra_info)}", flush=True)


def _trunk(in_dim, columns, device):
    """The trunk taking x [N, in_dim], its skips reading ``columns`` (None: all of x)."""
    gen = torch.Generator().manual_seed(0)
    skip_width = in_dim if columns is None else columns[1] - columns[0]
    weights, biases, prev = [], [], in_dim
    for l in range(DEPTH + 1):
        out = 1 if l == DEPTH else WIDTH
        fan_in = prev + (skip_width if l in SKIPS else 0)
        weights.append(torch.randn(out, fan_in, generator=gen) / fan_in ** 0.5)
        biases.append(0.1 * torch.randn(out, generator=gen))
        prev = out
    net = ReluNetwork.of(weights, biases, input_skips=[l in SKIPS for l in range(DEPTH + 1)],
                         skip_columns=[columns if l in SKIPS else None
                                       for l in range(DEPTH + 1)])
    return net.to(device)


def _inputs(device):
    side = 512 if device.type == "cuda" else 128
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(side * side, EXTRA + PE, generator=gen) * 2 - 1).to(device)
    sliced = _trunk(EXTRA + PE, (EXTRA, EXTRA + PE), device)
    full = _trunk(PE, None, device)
    go = torch.randn(side * side, 1, generator=gen).to(device)
    return side, x, x[:, EXTRA:].contiguous(), sliced, full, go


def _record(benchmark, side, t_sliced, t_full):
    benchmark.extra_info.update(grid_side=side, n=side * side, skip_width=PE, sliced_s=t_sliced,
                                full_s=t_full, ratio_sliced_full=t_sliced / t_full)


@pytest.mark.parametrize("op", ["activation_patterns", "per_example_grad_norms",
                                "boundary_distance_encoded"])
def test_sliced_skip_vs_full_skip(benchmark, device, op):
    side, x, x_full, sliced, full, go = _inputs(device)
    if op == "activation_patterns":
        run = lambda xs, net: se.activation_patterns(xs, net)  # noqa: E731
    elif op == "per_example_grad_norms":
        run = lambda xs, net: se.per_example_grad_norms(xs, net, go)  # noqa: E731
    else:
        jac = torch.randn(x.shape[0], x.shape[1], 2, device=device) if device.type == "cuda" \
            else torch.randn(x.shape[0] // 4, x.shape[1], 2)
        xj, xj_full = x[:jac.shape[0]], x_full[:jac.shape[0]]
        jac_full = jac[:, EXTRA:].contiguous()
        t_sliced = run_ours(benchmark, lambda: se.ops.geometry.boundary_distance_encoded(
            xj, jac, sliced), device)
        t_full = best_time(lambda: se.ops.geometry.boundary_distance_encoded(
            xj_full, jac_full, full), device)
        _record(benchmark, side, t_sliced, t_full)
        return
    t_sliced = run_ours(benchmark, lambda: run(x, sliced), device)
    t_full = best_time(lambda: run(x_full, full), device)
    _record(benchmark, side, t_sliced, t_full)
