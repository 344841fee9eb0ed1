"""Local-complexity benchmarks: the sampled LC on a grid (``measure.local_complexity`` with the
grid's shape: one forward per grid point, ``grid_complexity`` combines the rows) and the fused
per-vertex kernel beside the published method (a forward hook per layer and one forward of every
hull vertex, in plain torch) on the same network and points in the same run, with the counts
compared and the peak memory; sampled LC against activation_patterns on the same points;
first-order LC against boundary_distance.

Run: PYTHONPATH=. python -m pytest bench/bench_complexity.py -q --benchmark-columns=min,rounds
[--device cuda] [-k published]. Times (best of the rounds) and ratios land in each
benchmark's extra_info; targets are in the docstrings.
"""
import time

import pytest
import torch

from peak_memory import peak_memory_bytes
from timing import best_time, sync
from specbias_ext import ReluNetwork, activation_patterns, measure
from specbias_ext.ops import complexity as ops_complexity
from specbias_ext.ops import geometry as ops_geometry
from specbias_ext.ops.hull import hull_directions
from specbias_ext.testing import random_mlp
from specbias_ext.testing.published_lc import (HookedNetwork, add_hooks, intersections_for_hulls,
                                               ortho_hull)


def _grid(side, device, dtype=torch.float32):
    axis = torch.arange(side, dtype=torch.float64) / side
    rows, cols = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([rows.reshape(-1), cols.reshape(-1)], 1).to(device=device, dtype=dtype)


def _raw_form(device, dtype=torch.float32):
    return (torch.eye(2, dtype=dtype, device=device), torch.zeros(2, dtype=dtype, device=device),
            torch.zeros(2, dtype=torch.bool, device=device))


def _net(device, in_dim=2, width=256, depth=4):
    w, b = random_mlp(in_dim, [width] * depth, 3, dtype=torch.float32, seed=0, device=device)
    # Spread the first layer's hyperplanes over the unit square so that the grid sees boundaries.
    w[0] = w[0] * 40
    return ReluNetwork.of(w, b)


@torch.no_grad()
def _published_pipeline(hulls, model, batch_size=256):
    """get_intersections_for_hulls as in the published script: a DataLoader over the hulls
    (drop_last=True: the script drops the last partial batch), one forward per batch, and per
    layer torch.sign of the hooked pre-activation compared with the first vertex's."""
    names, buffer, handles = add_hooks(model)
    n, v = hulls.shape[:2]
    loader = torch.utils.data.DataLoader(hulls, batch_size=batch_size, shuffle=False,
                                         drop_last=True)
    out = torch.zeros(n, len(names))
    start = 0
    for batch in loader:
        model(batch.reshape(batch_size * v, *hulls.shape[2:]))
        for i, name in enumerate(names):
            act = torch.sign(buffer[name]).reshape(batch_size, v, -1)
            out[start:start + batch_size, i] = torch.any(act[:, 1:] != act[:, :1],
                                                         dim=1).sum(-1).float()
        start += batch_size
    for h in handles:
        h.remove()
    return out


def _timed(fn, device):
    """(wall seconds, CPU seconds of the process, output) of one call."""
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def _published_case(device, side=512):
    """The published comparison's inputs and its three calls: the grid path, the per-vertex
    kernel and the published pipeline on the same points."""
    coords = _grid(side, device)
    net = _net(device)
    form = _raw_form(device)
    dirs = hull_directions(2, device=device)
    radius = 1.0 / side
    model = HookedNetwork(net)
    hulls = ortho_hull(coords, dirs, radius)
    grid = lambda: measure.local_complexity(coords, None, net, radius,  # noqa: E731
                                            grid_shape=(side, side)).counts
    vertex = lambda: ops_complexity.local_complexity(coords, net, *form, dirs, radius)  # noqa
    published = lambda: _published_pipeline(hulls, model)  # noqa: E731
    return coords, net, hulls, model, grid, vertex, published


def test_sampled_vs_published(benchmark, device):
    """512^2 grid, MLP 4x256 on raw 2D coordinates, the 2 axes (4 vertices), r = grid step; one
    call each (after one warm-up call of ours), wall and process CPU time. Ours: the grid path
    (``measure.local_complexity(..., grid_shape=)``, what the monitor and the analysis run on a
    grid) and the per-vertex kernel (``specbias::local_complexity``, any points). Baselines: the
    hook implementation in batches of 4096 points, and the published pipeline (DataLoader,
    batches of 256 points, torch.sign). Target on the CPU: >= 5x faster than the published
    method, equal counts (the published sign also separates exact zeros: points where that
    matters are counted in points_differing_published)."""
    coords, net, hulls, model, grid, vertex, published = _published_case(device)
    grid()
    vertex()
    t_grid, c_grid, counts = _timed(grid, device)
    t_vertex, c_vertex, vertex_counts = _timed(vertex, device)
    t_hooks, c_hooks, hooked = _timed(
        lambda: intersections_for_hulls(hulls, model, batch_size=4096), device)
    t_pub, c_pub, published = _timed(published, device)
    counts = counts.to(torch.int64).cpu()
    kept = (coords.shape[0] // 256) * 256
    differing = int((counts[:kept] != published[:kept].to(torch.int64)).any(1).sum())
    benchmark.extra_info.update(
        points=coords.shape[0], mlp="4x256", vertices=4, threads=torch.get_num_threads(),
        grid_path_s=round(t_grid, 3), vertex_kernel_s=round(t_vertex, 3),
        hooks_batch4096_s=round(t_hooks, 3), published_pipeline_s=round(t_pub, 3),
        grid_path_cpu_s=round(c_grid, 3), vertex_kernel_cpu_s=round(c_vertex, 3),
        hooks_cpu_s=round(c_hooks, 3), published_cpu_s=round(c_pub, 3),
        speedup_vs_published=round(t_pub / t_grid, 2),
        cpu_speedup_vs_published=round(c_pub / c_grid, 2),
        speedup_vs_hooks=round(t_hooks / t_grid, 2),
        vertex_kernel_speedup_vs_published=round(t_pub / t_vertex, 2),
        equal_counts_hooks=bool(torch.equal(counts, hooked)),
        equal_counts_vertex_kernel=bool(torch.equal(counts, vertex_counts.to(torch.int64).cpu())),
        points_differing_published=differing,
        mean_lc=round(float(counts.sum(1).double().mean()), 3))
    assert torch.equal(counts, hooked)
    benchmark.pedantic(lambda: None, rounds=1, warmup_rounds=0)


def test_sampled_vs_activation_patterns(benchmark, device):
    """Same network; 256^2 grid on the CPU (512^2 on CUDA); n = 4 vertices (2 axes) and 5 (with
    the centre). Target: time <= 1.2 (n + 1) x activation_patterns on the same points."""
    side = 512 if device.type == "cuda" else 256
    coords = _grid(side, device)
    net = _net(device)
    form = _raw_form(device)
    dirs = hull_directions(2, device=device)
    t_patterns = best_time(lambda: activation_patterns(coords, net), device, rounds=2)
    info = dict(points=coords.shape[0], patterns_s=round(t_patterns, 4))
    for centre in (False, True):
        n = 4 + centre
        t = best_time(lambda: ops_complexity.local_complexity(
            coords, net, *form, dirs, 1 / side, include_centre=centre), device, rounds=2)
        info[f"lc_{n}_vertices_s"] = round(t, 4)
        info[f"ratio_{n}_vertices"] = round(t / t_patterns, 2)
        info[f"budget_{n}_vertices"] = round(1.2 * (n + 1), 2)
    benchmark.extra_info.update(info)
    benchmark.pedantic(lambda: ops_complexity.local_complexity(coords, net, *form, dirs,
                                                               1 / side), rounds=1)


def test_first_order_vs_boundary_distance(benchmark, device):
    """Same network, 256^2 on the CPU (512^2 on CUDA), one radius and 4 radii. Target: first-order
    LC <= 1.10 x boundary_distance."""
    side = 512 if device.type == "cuda" else 256
    coords = _grid(side, device)
    net = _net(device)
    form = _raw_form(device)
    bd = lambda: ops_geometry.boundary_distance(coords, *form, net)  # noqa: E731
    one = lambda: ops_complexity.first_order_complexity(coords, net, *form, [1 / side])  # noqa
    four = lambda: ops_complexity.first_order_complexity(  # noqa: E731
        coords, net, *form, [0.5 / side, 1 / side, 2 / side, 4 / side])
    # Interleaved best-of rounds, so that a load change on the shared machine hits all three.
    t_bd, t_one, t_four = (float("inf"),) * 3
    for _ in range(3):
        t_bd = min(t_bd, best_time(bd, device, rounds=1))
        t_one = min(t_one, best_time(one, device, rounds=1))
        t_four = min(t_four, best_time(four, device, rounds=1))
    benchmark.extra_info.update(points=coords.shape[0], boundary_distance_s=round(t_bd, 4),
                                first_order_1_radius_s=round(t_one, 4),
                                first_order_4_radii_s=round(t_four, 4),
                                ratio_1_radius=round(t_one / t_bd, 3),
                                ratio_4_radii=round(t_four / t_bd, 3))
    benchmark.pedantic(one, rounds=1)


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def test_sampled_peak_memory_vs_published(benchmark, device):
    """Peak memory above the level before the call, same inputs as test_sampled_vs_published
    (the hull vertices given to the published pipeline are built before)."""
    _, _, _, _, grid, vertex, published = _published_case(device)
    mib = 1 << 20
    benchmark.extra_info.update(
        grid_path_peak_mib=round(peak_memory_bytes(grid, device) / mib, 1),
        vertex_kernel_peak_mib=round(peak_memory_bytes(vertex, device) / mib, 1),
        published_peak_mib=round(peak_memory_bytes(published, device) / mib, 1))
    benchmark.pedantic(lambda: None, rounds=1, warmup_rounds=0)
