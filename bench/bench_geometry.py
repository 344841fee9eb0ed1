"""Geometry benchmarks: boundary distance vs activation_patterns and vs the torch.func.jvp
reference; a NeRF-like trunk (skip, LeakyReLU) vs the plain MLP and the general-encoding path vs
the fused one; the warm-started spectral-norm tracker vs svdvals of every layer.

Run: PYTHONPATH=. python -m pytest bench/bench_geometry.py -q --benchmark-columns=min,mean,rounds
[--device cuda]. Ratios (alternative time / our time, or our time / activation_patterns time) and
peak memory land in each benchmark's extra_info.
"""

import pytest
import torch

from specbias_ext.testing import pe_form
from specbias_ext.testing import random_mlp
from peak_memory import record
from timing import best_time
from specbias_ext import ReluNetwork, activation_patterns, reference
from specbias_ext.measure import params
from specbias_ext.ops import coordinates
from specbias_ext.ops import geometry as ops_geometry


def _grid(side, device, dtype=torch.float32):
    axis = torch.arange(side, dtype=torch.float64) / side
    rows, cols = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([rows.reshape(-1), cols.reshape(-1)], 1).to(device=device, dtype=dtype)


def _pe_mlp(device, width=256, depth=4, levels=8):
    form = [t.to(device) for t in pe_form(2, levels, torch.float32)]
    net = ReluNetwork.of(*random_mlp(form[0].shape[0], [width] * depth, 3, dtype=torch.float32,
                                     seed=0, device=device))
    return form, net


def test_boundary_distance_vs_activation_patterns(benchmark, device):
    """MLP 4x256, PE L=8 (E=32), float32; 512x512 grid on CUDA, 256x256 on the CPU (to keep the
    file near a minute; the cost is linear in the points). Target: ratio_vs_patterns <= 4."""
    coords = _grid(512 if device.type == "cuda" else 256, device)
    form, net = _pe_mlp(device)
    encoded = reference.encode_affine_sine(coords, *form)
    ours = lambda: ops_geometry.boundary_distance(coords, *form, net)  # noqa: E731
    # activation_patterns gets the already encoded grid, so it does strictly less work.
    patterns = lambda: activation_patterns(encoded, net)  # noqa: E731
    t_patterns = best_time(patterns, device, rounds=2)
    t_ours = best_time(ours, device, rounds=2)
    benchmark.extra_info.update(points=coords.shape[0], mlp="4x256", encoding="PE L=8",
                                patterns_s=round(t_patterns, 4), ours_s=round(t_ours, 4),
                                ratio_vs_patterns=round(t_ours / t_patterns, 3))
    record(benchmark, "ours", ours, device)
    record(benchmark, "patterns", patterns, device)
    benchmark.pedantic(ours, rounds=2, warmup_rounds=0)


def test_boundary_distance_vs_jvp_reference(benchmark, device):
    """Same network; 128x128 grid on CPU (the reference is slow and holds [N, H] tensors per
    tangent), 512x512 on CUDA."""
    side = 512 if device.type == "cuda" else 128
    coords = _grid(side, device)
    form, net = _pe_mlp(device)
    ours = lambda: ops_geometry.boundary_distance(coords, *form, net)  # noqa: E731
    ref = lambda: reference.boundary_distance(coords, *form, net)  # noqa: E731
    torch.testing.assert_close(ours()[0], ref()[0], rtol=2e-3, atol=1e-4)
    t_ref = best_time(ref, device, rounds=2)
    t_ours = best_time(ours, device, rounds=2)
    benchmark.extra_info.update(points=coords.shape[0], reference_s=round(t_ref, 4),
                                ours_s=round(t_ours, 4), speedup_vs_jvp=round(t_ref / t_ours, 2))
    record(benchmark, "ours", ours, device)
    record(benchmark, "jvp_reference", ref, device)
    benchmark.pedantic(ours, rounds=2, warmup_rounds=0)


def test_coord_gradients_vs_jvp_reference(benchmark, device):
    side = 512 if device.type == "cuda" else 128
    coords = _grid(side, device)
    form, net = _pe_mlp(device)
    ours = lambda: ops_geometry.coord_gradients(coords, *form, net)  # noqa: E731
    ref = lambda: reference.coord_gradients(coords, *form, net)  # noqa: E731
    t_ref = best_time(ref, device, rounds=2)
    t_ours = best_time(ours, device, rounds=2)
    benchmark.extra_info.update(points=coords.shape[0], reference_s=round(t_ref, 4),
                                ours_s=round(t_ours, 4), speedup_vs_jvp=round(t_ref / t_ours, 2))
    record(benchmark, "ours", ours, device)
    record(benchmark, "jvp_reference", ref, device)
    benchmark.pedantic(ours, rounds=2, warmup_rounds=0)


def _nerf_like_trunk(device, in_dim, slope):
    """8x256 with the input concatenated back in at layer 4 (canonical [a_3, x] order), ReLU or
    LeakyReLU; the plain 8x256 MLP of the same widths for comparison."""
    gen = torch.Generator().manual_seed(0)
    widths = [in_dim] + [256] * 8 + [3]
    weights, biases = [], []
    for l in range(9):
        fan_in = widths[l] + (in_dim if l == 4 else 0)
        weights.append((torch.randn(widths[l + 1], fan_in, generator=gen) / fan_in ** 0.5)
                       .to(device))
        biases.append((0.1 * torch.randn(widths[l + 1], generator=gen)).to(device))
    skips = [l == 4 for l in range(9)]
    trunk = ReluNetwork.of(weights, biases, slopes=[slope] * 8, input_skips=skips)
    plain_w, plain_b = random_mlp(in_dim, [256] * 8, 3, dtype=torch.float32, seed=0,
                                  device=device)
    return trunk, ReluNetwork.of(plain_w, plain_b)


@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_boundary_distance_nerf_like_trunk(benchmark, device, slope):
    """PE L=8 (E=32) on a 2D grid (256x256 on CUDA, 64x64 on the CPU), NeRF-like 8x256 trunk
    with a skip at layer 4: the described network against the plain 8x256 MLP (ratio_vs_plain;
    the skip adds one GEMM of width E), and the general-encoding path (the same PE as a bare
    function, Jacobian by torch.func + the *_encoded op) against the fused fast path."""
    coords = _grid(256 if device.type == "cuda" else 64, device)
    form = [t.to(device) for t in pe_form(2, 8, torch.float32)]
    trunk, plain = _nerf_like_trunk(device, form[0].shape[0], slope)
    ours = lambda: coordinates.boundary_distance(coords, form, trunk)  # noqa: E731
    on_plain = lambda: coordinates.boundary_distance(coords, form, plain)  # noqa: E731
    encode = lambda c: reference.encode_affine_sine(c, *form)  # noqa: E731
    general = lambda: coordinates.boundary_distance(coords, encode, trunk)  # noqa: E731
    torch.testing.assert_close(general()[0], ours()[0], rtol=2e-3, atol=1e-4)
    t_plain = best_time(on_plain, device, rounds=2)
    t_ours = best_time(ours, device, rounds=2)
    t_general = best_time(general, device, rounds=2)
    benchmark.extra_info.update(points=coords.shape[0], slope=slope, plain_s=round(t_plain, 4),
                                ours_s=round(t_ours, 4), general_encoding_s=round(t_general, 4),
                                ratio_vs_plain=round(t_ours / t_plain, 3),
                                general_vs_fast=round(t_general / t_ours, 3))
    benchmark.pedantic(ours, rounds=2, warmup_rounds=0)


def test_spectral_tracker_vs_svdvals(benchmark, device):
    """One 'epoch' of layer norms for an MLP 4x512 on PE L=8 input (E=32) with 3 outputs:
    warm tracker (4 iterations per layer) vs torch.linalg.svdvals of every layer."""
    _, net = _pe_mlp(device, width=512)
    w = list(net.weights)
    tracker = params.SpectralNormTracker(iters=4)
    tracker.update(w)
    ours = lambda: tracker.update(w)  # noqa: E731
    svd = lambda: torch.stack([torch.linalg.svdvals(x)[0] for x in w])  # noqa: E731
    exact = svd()
    rel_err = float(((ours()[0] - exact) / exact).abs().max())
    t_svd = best_time(svd, device)
    t_ours = best_time(ours, device)
    benchmark.extra_info.update(svdvals_s=round(t_svd, 5), ours_s=round(t_ours, 5),
                                speedup_vs_svdvals=round(t_svd / t_ours, 1),
                                max_rel_err=rel_err)
    record(benchmark, "ours", ours, device)
    record(benchmark, "svdvals", svd, device)
    benchmark.pedantic(ours, rounds=5, warmup_rounds=0)
