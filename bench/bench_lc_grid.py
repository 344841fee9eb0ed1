"""What local complexity adds to a monitor record and to a grid analysis on a 256x256 grid.

Setting: a 4x128 MLP on PE L=4 inputs (the paper's 2D setting; ``CoordinateMLP`` seed 0), a
256x256 grid on [0, 1)^2, radius = the grid step, the sampled LC (the 2 axes: 4 vertices per
point). Cases:
  monitor: a record of ("regions", "hamming") against the same with "lc" (and the LC part alone
           from the monitor's timings);
  analysis: ``analyze_stream`` (ids in memory, tile 65536) without and with ``lc_radius``.
extra_info: best-of wall seconds of both and their ratio, and the process CPU seconds. As a
script (``python bench/bench_lc_grid.py [--side 256] [--threads 1]``) it prints the same as
JSON. Runs on one thread by default (a shared machine disturbs the ratio least).
"""
from __future__ import annotations

import argparse
import json
import time

import pytest
import torch

from specbias_ext.analysis import analyze_stream
from specbias_ext.data.grids import CoordinateGrid
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.train.monitor import RegionMonitor

BASE = ("regions", "hamming")


def _best(fn, rounds: int) -> tuple[float, float]:
    """Best wall and best process CPU seconds of ``rounds`` calls."""
    wall = cpu = float("inf")
    for _ in range(rounds):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def measure_case(case: str, side: int = 256, rounds: int = 3) -> dict:
    model = CoordinateMLP("pe:4", depth=4, width=128, in_dim=2, seed=0).eval()
    grid = CoordinateGrid((side, side), (0.0, 1.0))
    if case == "monitor":
        coords = grid.coords()
        without = RegionMonitor(coords, every=None, measurements=BASE)
        with_lc = RegionMonitor(coords, every=None, measurements=BASE + ("lc",))
        run_without = lambda: without.record(model, 0)   # noqa: E731
        run_with = lambda: with_lc.record(model, 0)      # noqa: E731
    else:
        run_without = lambda: analyze_stream(model, grid, tile=1 << 16)   # noqa: E731
        run_with = lambda: analyze_stream(model, grid, tile=1 << 16,      # noqa: E731
                                          lc_radius=grid.step)
    run_without()
    run_with()                                           # warm up both
    wall0, cpu0 = _best(run_without, rounds)
    wall1, cpu1 = _best(run_with, rounds)
    out = {"case": case, "points": side * side, "without_s": wall0, "with_lc_s": wall1,
           "with_over_without": wall1 / wall0, "without_cpu_s": cpu0, "with_lc_cpu_s": cpu1,
           "threads": torch.get_num_threads()}
    if case == "monitor":
        out["lc_part_s"] = with_lc.timings["lc"]
    return out


@pytest.mark.parametrize("case", ["monitor", "analysis"])
def test_lc_on_a_256_grid(benchmark, case):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        info = measure_case(case)
        benchmark.extra_info.update(info)
        benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in ("monitor", "analysis"):
        print(json.dumps(measure_case(name, args.side, args.rounds)))
