"""Streaming grid analysis of a 4x128 PE L=4 network (the paper's 2D setting) on big grids.

pytest-benchmark: ``SPECBIAS_STREAM_SIDE`` (default 1024) sets the side of the square grid; the
test stores the time, the peak resident memory above the start, the region count and the
per-point cost in extra_info. As a script (``python bench/bench_grid_stream.py --side 16384
--ids-file /tmp/ids.npy``) it runs one analysis and prints the same numbers as JSON; the ids
go to a memory-mapped file when ``--ids-file`` is given.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch

from peak_memory import peak_memory_bytes
from specbias_ext.analysis import analyze_stream
from specbias_ext.data.grids import CoordinateGrid
from specbias_ext.nets.models import CoordinateMLP


def paper_model(in_dim: int) -> CoordinateMLP:
    return CoordinateMLP("pe:4", depth=4, width=128, in_dim=in_dim, seed=0).eval()


def measure(shape, tile: int, ids_file=None) -> dict:
    model = paper_model(len(shape))
    grid = CoordinateGrid(shape, (0.0, 1.0))
    box = {}

    def run():
        t0 = time.perf_counter()
        box["res"] = analyze_stream(model, grid, tile=tile,
                                    ids="file" if ids_file else "none", ids_path=ids_file)
        box["seconds"] = time.perf_counter() - t0

    peak = peak_memory_bytes(run)
    res = box["res"]
    n = grid.num_points
    return {"grid": "x".join(map(str, shape)), "points": n, "tile": tile,
            "threads": torch.get_num_threads(), "seconds": round(box["seconds"], 2),
            "us_per_point": round(box["seconds"] / n * 1e6, 4),
            "peak_mib": round(peak / 2**20, 1), "regions": res.num_regions,
            "neighbor_boundary_frac": res.summary()["neighbor_boundary_frac"]}


def test_stream_square_grid(benchmark):
    side = int(os.environ.get("SPECBIAS_STREAM_SIDE", "1024"))
    out = {}

    def call():
        out.update(measure((side, side), tile=1 << 18))

    benchmark.pedantic(call, rounds=1, iterations=1)
    benchmark.extra_info.update(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=4096)
    ap.add_argument("--dims", type=int, default=2)
    ap.add_argument("--tile", type=int, default=1 << 18)
    ap.add_argument("--ids-file", default=None)
    a = ap.parse_args()
    print(json.dumps(measure((a.side,) * a.dims, a.tile, a.ids_file)), flush=True)
