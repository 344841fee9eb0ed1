"""Region gradient norms of a 4x128 PE L=4 network on a square grid: streamed tile by tile
(``analyze_stream(..., region_grads=True)``) against the whole grid in memory through the op
(patterns, ``region_ids``, ``region_grad_norms``), in one run, with the streamed analysis
without region gradients as the baseline cost.

pytest-benchmark: ``SPECBIAS_RG_SIDE`` (default 512) sets the side; extra_info has the times,
the ratios, the peak resident memory of each and the largest difference between the two.
As a script: ``python bench/bench_grid_region_grads.py --side 1024``.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch

from bench_grid_stream import paper_model
from peak_memory import peak_memory_bytes
from specbias_ext import ops, relu_network
from specbias_ext.analysis import analyze_stream
from specbias_ext.data.grids import CoordinateGrid


def mse_like_grad_out(coords):
    return torch.sin(6.0 * coords.sum(dim=1, keepdim=True))


def _timed(fn):
    box = {}

    def run():
        t0 = time.perf_counter()
        box["out"] = fn()
        box["s"] = time.perf_counter() - t0

    peak = peak_memory_bytes(run)
    return box["out"], box["s"], peak / 2**20


def measure(side: int, tile: int = 1 << 16) -> dict:
    model = paper_model(2)
    grid = CoordinateGrid((side, side), (0.0, 1.0))

    def streamed(region_grads):
        return lambda: analyze_stream(model, grid, tile=tile, ids="none",
                                      grad_out=mse_like_grad_out, region_grads=region_grads)

    def whole():
        coords = grid.coords()
        with torch.no_grad():
            x = model.encode(coords)
        net = relu_network(model)
        ids, counts = ops.region_ids(ops.activation_patterns(x, net))
        return ops.region_grad_norms(x, net, mse_like_grad_out(coords), ids, counts.numel())

    _, base_s, base_mib = _timed(streamed(False))
    res, ours_s, ours_mib = _timed(streamed(True))
    (nos, son), whole_s, whole_mib = _timed(whole)
    diff = float(((res.region_grads.norm_of_sum - nos.double()).abs()
                  / nos.double().abs().clamp_min(1e-30)).max())
    return {"grid": f"{side}x{side}", "tile": tile, "threads": torch.get_num_threads(),
            "regions": res.num_regions,
            "stream_s": round(base_s, 2), "stream_region_grads_s": round(ours_s, 2),
            "whole_grid_op_s": round(whole_s, 2),
            "region_grads_extra_vs_whole_op": round((ours_s - base_s) / whole_s, 2),
            "peak_mib": {"stream": round(base_mib, 1), "stream_region_grads": round(ours_mib, 1),
                         "whole_grid_op": round(whole_mib, 1)},
            "max_rel_diff_norm_of_sum": diff}


def test_region_grads_streamed_vs_whole_grid(benchmark):
    side = int(os.environ.get("SPECBIAS_RG_SIDE", "512"))
    out = {}
    benchmark.pedantic(lambda: out.update(measure(side)), rounds=1, iterations=1)
    benchmark.extra_info.update(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=512)
    ap.add_argument("--tile", type=int, default=1 << 16)
    a = ap.parse_args()
    print(json.dumps(measure(a.side, a.tile)), flush=True)
