"""Sharded grid analysis (gloo on 127.0.0.1) of a 4x128 PE L=4 network on a 3D grid: 1 process
against P processes, in one run.

Each rank reports its wall time and its peak resident memory (VmHWM, the whole process). The
1-process run uses all ``--threads`` on its own; each of the P ranks gets threads // P, so both
runs use the same cores. As a script: ``python bench/bench_grid_distributed.py --side 256
--procs 1 2``; pytest-benchmark: ``SPECBIAS_DIST_SIDE`` (default 64).

``--table-rows N`` times the table combination alone (``analysis.table_combine.combine_tables``) instead:
every rank holds N distinct rows of 8 words (512 neurons), half of them shared with the next
rank; each rank reports the time and how much its VmHWM grew during the call.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _hwm_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rank(rank, world, port, side, tile, threads, results):
    torch.set_num_threads(threads)
    sys.path.insert(0, os.path.dirname(__file__))
    from bench_grid_stream import paper_model
    from specbias_ext.analysis import analyze_grid
    from specbias_ext.data.grids import CoordinateGrid

    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=world,
                                timeout=datetime.timedelta(minutes=30))
        dist.barrier()
    before = _hwm_mib()
    t0 = time.perf_counter()
    res = analyze_grid(paper_model(3), CoordinateGrid((side,) * 3), tile=tile, ids="none")
    seconds = time.perf_counter() - t0
    info = {"rank": rank, "seconds": round(seconds, 2), "peak_rss_mib": round(_hwm_mib(), 1),
            "rss_before_mib": round(before, 1), "regions": res.summary()["regions"]}
    with open(os.path.join(results, f"{world}_{rank}.json"), "w") as f:
        json.dump(info, f)
    if world > 1:
        dist.destroy_process_group()


def _combine_rank(rank, world, port, rows, results):
    torch.set_num_threads(1)
    from specbias_ext.analysis.table_combine import combine_tables

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=datetime.timedelta(minutes=30))
    gen = torch.Generator().manual_seed(rank)
    base = rank * rows // 2
    ids = torch.arange(base, base + rows)[torch.randperm(rows, generator=gen)]
    patterns = torch.stack([ids * 0x9E3779B1 + w for w in range(8)], dim=1)   # distinct rows
    counts = torch.ones(rows, dtype=torch.int64)
    dist.barrier()
    before = _hwm_mib()
    t0 = time.perf_counter()
    _, sizes = combine_tables(patterns, counts, None)
    dist.barrier()
    info = {"rank": rank, "seconds": round(time.perf_counter() - t0, 2),
            "hwm_growth_mib": round(_hwm_mib() - before, 1),
            "regions": None if sizes is None else int(sizes.numel())}
    with open(os.path.join(results, f"combine_{world}_{rank}.json"), "w") as f:
        json.dump(info, f)
    dist.destroy_process_group()


def measure_combine(rows: int, procs) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for world in procs:
            mp.spawn(_combine_rank, args=(world, _port(), rows, tmp), nprocs=world, join=True)
            ranks = [json.load(open(os.path.join(tmp, f"combine_{world}_{r}.json")))
                     for r in range(world)]
            out.append({"table_rows_per_rank": rows, "words": 8, "procs": world,
                        "seconds": max(r["seconds"] for r in ranks), "ranks": ranks})
    return out


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(side: int, procs, tile: int, threads: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for world in procs:
            t0 = time.perf_counter()
            mp.spawn(_rank, args=(world, _port(), side, tile, max(1, threads // world), tmp),
                     nprocs=world, join=True)
            wall = time.perf_counter() - t0
            ranks = [json.load(open(os.path.join(tmp, f"{world}_{r}.json")))
                     for r in range(world)]
            slowest = max(r["seconds"] for r in ranks)
            rows.append({"grid": f"{side}^3", "points": side ** 3, "procs": world,
                         "threads_per_proc": max(1, threads // world),
                         "analysis_seconds": slowest, "wall_seconds_with_startup": round(wall, 1),
                         "us_per_point": round(slowest / side ** 3 * 1e6, 4),
                         "regions": ranks[0]["regions"], "ranks": ranks})
    return rows


def test_distributed_3d(benchmark):
    side = int(os.environ.get("SPECBIAS_DIST_SIDE", "64"))
    out = {}

    def call():
        out["runs"] = measure(side, [1, 2], 1 << 18, 2)

    benchmark.pedantic(call, rounds=1, iterations=1)
    benchmark.extra_info.update(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=256)
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--tile", type=int, default=1 << 18)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--table-rows", type=int, default=0,
                    help="time combine_tables alone on this many table rows per rank")
    a = ap.parse_args()
    rows = measure_combine(a.table_rows, [p for p in a.procs if p > 1]) if a.table_rows else \
        measure(a.side, a.procs, a.tile, a.threads)
    for row in rows:
        print(json.dumps(row), flush=True)
