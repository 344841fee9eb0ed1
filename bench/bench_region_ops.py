"""Benchmarks of the region ops against the strongest plain-torch alternatives, same inputs.

Setting (the paper's regions-2d experiment): a square grid on [0,1)^2, 2-D positional encoding
with 8 levels (32 features), an MLP with 4 hidden layers of 512 and a scalar head. The grid is
128^2 on the CPU (512^2 takes ~20 s per forward on a shared 2-core box, and the ratios are set
per tile of 256 points anyway) and 512^2 with --device cuda;
test_gpu_check_2048_grid adds 2048^2 on CUDA only. Each test times our op with
benchmark.pedantic and the alternatives with the same timer and rounds, and stores
`<alt>_s` (best time), `ratio_<alt>` (alt time / our time) and `<name>_peak_mib` in extra_info.
"""
from __future__ import annotations

import math
import os
import time

import pytest
import torch

from peak_memory import record
from timing import best_time, sync
import specbias_ext
from specbias_ext import reference

GRID = {"cpu": 128, "cuda": 512}
PAIRS = 100_000
PAPER_PAIRS = 500  # the per-pair forward method is run on this many pairs and extrapolated
ROUNDS = 3






def run_ours(benchmark, fn, device, rounds=ROUNDS):
    def call():
        out = fn()
        sync(device)
        return out
    result = benchmark.pedantic(call, rounds=rounds, warmup_rounds=1, iterations=1)
    return result, benchmark.stats.stats.min


@pytest.fixture(autouse=True)
def machine_info(benchmark):
    # The CPU timings are only comparable within a run: record how loaded the box was.
    benchmark.extra_info.update(threads=torch.get_num_threads(),
                                load_avg_1min=round(os.getloadavg()[0], 2))


def compare(benchmark, ours_s, name, alt_s):
    benchmark.extra_info[f"{name}_s"] = round(alt_s, 6)
    benchmark.extra_info[f"ratio_{name}"] = round(alt_s / ours_s, 3)


# ----------------------------------------------------------------------------- inputs

def positional_encoding(coords, levels=8):
    """[N, 2] -> [N, 4 * levels]: sin(2^l pi c), cos(2^l pi c) for each coordinate c."""
    freqs = (2.0 ** torch.arange(levels, dtype=coords.dtype, device=coords.device)) * math.pi
    angles = coords[:, :, None] * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=2).reshape(coords.shape[0], -1)


def grid_inputs(side, device):
    t = torch.arange(side, dtype=torch.float32, device=device) / side
    coords = torch.cartesian_prod(t, t)
    return positional_encoding(coords)


def pe_mlp(device, width=512, depth=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    dims = [32] + [width] * depth + [1]
    weights, biases = [], []
    for l in range(len(dims) - 1):
        bound = 1 / math.sqrt(dims[l])  # nn.Linear's default init
        weights.append(((torch.rand(dims[l + 1], dims[l], generator=gen) * 2 - 1) * bound)
                       .to(device))
        biases.append(((torch.rand(dims[l + 1], generator=gen) * 2 - 1) * bound).to(device))
    return weights, biases


@pytest.fixture(scope="module")
def net(device):
    return specbias_ext.ReluNetwork.of(*pe_mlp(device))


@pytest.fixture(scope="module")
def grid_x(device):
    return grid_inputs(GRID[device.type], device)


@pytest.fixture(scope="module")
def grid_patterns(grid_x, net):
    return specbias_ext.activation_patterns(grid_x, net)


# ----------------------------------------------------------------------------- alternatives

@torch.no_grad()
def bare_forward(x, net):
    weights, biases = net.weights, net.biases
    a = x
    for w, b in zip(weights[:-1], biases[:-1]):
        a = torch.relu(torch.addmm(b, a, w.T))
    return torch.addmm(biases[-1], a, weights[-1].T)


@torch.no_grad()
def plain_torch_patterns(x, net):
    """Forward, z > 0, then pack 8 bits per byte and view the bytes as int64 words."""
    weights, biases = net.weights, net.biases
    signs = []
    a = x
    for w, b in zip(weights[:-1], biases[:-1]):
        z = torch.addmm(b, a, w.T)
        signs.append(z > 0)
        a = torch.relu(z)
    bits = torch.cat(signs, dim=1)
    n, h = bits.shape
    words = (h + 63) // 64
    if words * 64 != h:
        bits = torch.nn.functional.pad(bits, (0, words * 64 - h))
    weights8 = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8, device=x.device)
    packed = (bits.view(n, words * 8, 8).to(torch.uint8) * weights8).sum(dim=2, dtype=torch.uint8)
    return packed.view(torch.int64)  # little-endian: byte k of a word holds bits 8k..8k+7


def plain_torch_unique(patterns):
    _, inverse, counts = torch.unique(patterns, dim=0, return_inverse=True, return_counts=True)
    return inverse, counts


def swar_popcount(v):
    v = v - ((v >> 1) & 0x5555555555555555)
    v = (v & 0x3333333333333333) + ((v >> 2) & 0x3333333333333333)
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0F
    return (v * 0x0101010101010101) >> 56


def plain_torch_hamming(patterns, i, j):
    return swar_popcount(patterns[i] ^ patterns[j]).sum(dim=1)


@torch.no_grad()
def paper_hamming(x, net, i, j):
    """The authors' way: one forward pass per point of each pair, patterns compared in Python."""
    weights, biases = net.weights, net.biases
    out = []
    for a_idx, b_idx in zip(i.tolist(), j.tolist()):
        pats = []
        for idx in (a_idx, b_idx):
            a = x[idx:idx + 1]
            signs = []
            for w, b in zip(weights[:-1], biases[:-1]):
                z = a @ w.T + b
                signs.append(z > 0)
                a = torch.relu(z)
            pats.append(torch.cat(signs, dim=1))
        out.append(int((pats[0] != pats[1]).sum()))
    return out


# ----------------------------------------------------------------------------- benchmarks

def test_activation_patterns(benchmark, device, grid_x, net):
    result, ours_s = run_ours(benchmark, lambda: specbias_ext.activation_patterns(grid_x, net),
                              device)
    plain = plain_torch_patterns(grid_x, net)
    # Different GEMM blockings may round a z within an ulp of 0 differently: allow a handful.
    differing_words = int((result != plain).sum())
    assert differing_words <= result.numel() * 1e-5
    benchmark.extra_info.update(points=grid_x.shape[0], net="32-4x512-1",
                                differing_words_vs_plain=differing_words,
                                output_mib=round(result.numel() * 8 / 2**20, 2))
    compare(benchmark, ours_s, "bare_forward", best_time(lambda: bare_forward(grid_x, net),
                                                         device))
    compare(benchmark, ours_s, "plain_torch",
            best_time(lambda: plain_torch_patterns(grid_x, net), device))
    record(benchmark, "ours", lambda: specbias_ext.activation_patterns(grid_x, net), device)
    record(benchmark, "bare_forward", lambda: bare_forward(grid_x, net), device)
    record(benchmark, "plain_torch", lambda: plain_torch_patterns(grid_x, net), device)


def test_region_ids(benchmark, device, grid_patterns):
    (ids, counts), ours_s = run_ours(benchmark, lambda: specbias_ext.region_ids(grid_patterns),
                                     device)
    benchmark.extra_info.update(points=grid_patterns.shape[0], regions=counts.shape[0])
    inverse, ref_counts = plain_torch_unique(grid_patterns)
    assert ref_counts.shape == counts.shape
    compare(benchmark, ours_s, "unique_packed",
            best_time(lambda: plain_torch_unique(grid_patterns), device))
    unpacked = reference.unpack_bits(grid_patterns, grid_patterns.shape[1] * 64).to(torch.uint8)
    compare(benchmark, ours_s, "unique_unpacked",
            best_time(lambda: plain_torch_unique(unpacked), device, rounds=1))
    del unpacked
    record(benchmark, "ours", lambda: specbias_ext.region_ids(grid_patterns), device)
    record(benchmark, "unique_packed", lambda: plain_torch_unique(grid_patterns), device)


def test_hamming_pairs(benchmark, device, grid_x, grid_patterns, net):
    n = grid_patterns.shape[0]
    gen = torch.Generator().manual_seed(0)
    i = torch.randint(0, n, (PAIRS,), generator=gen).to(device)
    j = torch.randint(0, n, (PAIRS,), generator=gen).to(device)
    result, ours_s = run_ours(benchmark, lambda: specbias_ext.hamming_pairs(grid_patterns, i, j),
                              device, rounds=5)
    assert torch.equal(result, plain_torch_hamming(grid_patterns, i, j))
    benchmark.extra_info.update(pairs=PAIRS, mean_distance=round(result.double().mean().item(), 2))
    compare(benchmark, ours_s, "plain_torch_swar",
            best_time(lambda: plain_torch_hamming(grid_patterns, i, j), device))
    t0 = time.perf_counter()
    paper = paper_hamming(grid_x, net, i[:PAPER_PAIRS], j[:PAPER_PAIRS])
    paper_s = (time.perf_counter() - t0) * PAIRS / PAPER_PAIRS
    # Batch-1 matmuls round differently from our tiles: a z within an ulp of 0 may flip a bit.
    off = sum(abs(a - b) for a, b in zip(paper, result[:PAPER_PAIRS].tolist()))
    assert off <= 10
    benchmark.extra_info["paper_bits_off"] = off
    compare(benchmark, ours_s, "paper_per_pair_forward_extrapolated", paper_s)
    record(benchmark, "ours", lambda: specbias_ext.hamming_pairs(grid_patterns, i, j), device)
    record(benchmark, "plain_torch_swar", lambda: plain_torch_hamming(grid_patterns, i, j),
           device)


def test_gpu_check_2048_grid(benchmark, device, net):
    if device.type != "cuda":
        pytest.skip("2048^2 grid only with --device cuda")
    x = grid_inputs(2048, device)
    result, ours_s = run_ours(benchmark, lambda: specbias_ext.activation_patterns(x, net),
                              device)
    benchmark.extra_info.update(points=x.shape[0], output_mib=round(result.numel() * 8 / 2**20))
    compare(benchmark, ours_s, "bare_forward", best_time(lambda: bare_forward(x, net), device))
    compare(benchmark, ours_s, "plain_torch", best_time(lambda: plain_torch_patterns(x, net),
                                                        device))
    ids_s = best_time(lambda: specbias_ext.region_ids(result), device)
    benchmark.extra_info["region_ids_s"] = round(ids_s, 6)
    benchmark.extra_info["regions"] = int(specbias_ext.region_ids(result)[1].shape[0])
    benchmark.extra_info["unique_packed_s"] = round(
        best_time(lambda: plain_torch_unique(result), device, rounds=1), 6)
    record(benchmark, "ours", lambda: specbias_ext.activation_patterns(x, net), device)
    record(benchmark, "bare_forward", lambda: bare_forward(x, net), device)
    record(benchmark, "plain_torch", lambda: plain_torch_patterns(x, net), device)
