"""Drawing and writing the region figures on the CPU.

Cases (synthetic region ids, a pattern key per region; the ids are a Voronoi-like partition
whose region count is set, so the cost of the worst case, one region per point, is measured):
  map_1024:        one 1024x1024 region map drawn and written as PNG (150 dpi)
                   (goal: <= 2 s), with ~20k regions and with one region per point;
  animation_20x256: 20 records of 256x256 maps as a GIF, one frame per record
                   (goal: <= 10 s).
extra_info: seconds (best wall time), cpu_seconds (the process's CPU time of one call: on a
shared machine the wall time is the CPU time times the oversubscription) and the goal.
Run: pytest bench/bench_plots.py --benchmark-only.

Measured on the shared 2-core development machine, best of 3 (2 for the GIF), matplotlib 3.11:
at load average ~2.5: 1024^2 map with 20k regions 0.63 s wall (0.42 s CPU), one region per point
0.87 s (0.54 s CPU); 20-record 256^2 GIF 2.24 s (1.21 s CPU). At load 10-12 the wall times were
about 6x the CPU times (4.3 s, 4.0 s, 10.8 s) with the same CPU times.
"""
from __future__ import annotations

import resource

import numpy as np
import pytest
from PIL import Image

from timing import run_ours
from specbias_ext.plots.maps import region_map
from specbias_ext.plots.output import figure_bytes
from specbias_ext.plots.training import RegionRecord, write_region_animation


def _cpu_seconds(fn) -> float:
    """The process's CPU time (user + system, all threads) of one call of ``fn``."""
    def now():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    start = now()
    fn()
    return now() - start


def _ids(side: int, regions: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """ids [side, side] of ``regions`` blocks (one per point when regions == side**2) and a
    random key per region."""
    rng = np.random.default_rng(seed)
    if regions >= side * side:
        ids = rng.permutation(side * side).reshape(side, side)
    else:
        block = max(1, int(side / np.sqrt(regions)))
        r = np.arange(side) // block
        ids = (r[:, None] * (side // block + 1) + r[None, :])
        _, ids = np.unique(ids, return_inverse=True)
        ids = ids.reshape(side, side)
    keys = rng.integers(-2**63, 2**63 - 1, int(ids.max()) + 1, dtype=np.int64)
    return ids, keys


@pytest.mark.parametrize("regions", ["20k", "every_point"])
def test_map_1024(benchmark, regions):
    ids, keys = _ids(1024, 20000 if regions == "20k" else 1024 * 1024)

    def draw():
        return figure_bytes(region_map(ids, keys, label="bench"), "png", 150)

    seconds = run_ours(benchmark, draw, "cpu", rounds=3)
    benchmark.extra_info.update(seconds=seconds, cpu_seconds=_cpu_seconds(draw), goal_s=2.0)
    assert draw()[:4] == b"\x89PNG"


def test_animation_20x256(benchmark, tmp_path):
    records = []
    for k in range(20):
        ids, keys = _ids(256, 500 + 200 * k, seed=k)
        records.append(RegionRecord(25 * k, ids, keys))

    def write():
        return write_region_animation(records, str(tmp_path / "anim"), label="bench")

    seconds = run_ours(benchmark, write, "cpu", rounds=2)
    benchmark.extra_info.update(seconds=seconds, cpu_seconds=_cpu_seconds(write), goal_s=10.0)
    with Image.open(tmp_path / "anim.gif") as im:
        assert im.n_frames == 20
