"""The sharded grid analysis on 2 (and 3) gloo processes on 127.0.0.1, started here, against the
single-process run: every output bit for bit."""
import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

import grid_dist_worker
from grid_cases import make_case, wavy_grad_out
from specbias_ext.analysis import analyze_grid

pytestmark = pytest.mark.usefixtures("one_thread")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(world, jobs, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    mp.spawn(grid_dist_worker.run, args=(world, free_port(), jobs, str(results)), nprocs=world,
             join=True)
    return [torch.load(results / f"{r}.pt", weights_only=False) for r in range(world)]


def single(name, **extra):
    grid, model, kw = make_case(name)
    kw.update(extra)
    with grid_dist_worker.chunk_bytes(kw.pop("chunk_bytes", None)):
        return analyze_grid(model, grid, **kw)


def assert_same(dist_out, ref):
    assert "error" not in dist_out, dist_out.get("trace")
    assert dist_out["summary"] == ref.summary()
    assert torch.equal(dist_out["counts"], ref.region_counts)
    assert torch.equal(dist_out["hist"], ref.neighbor_hist)
    assert torch.equal(dist_out["on"], ref.bit_counts)
    if ref.ids is not None:
        assert torch.equal(dist_out["ids"], ref.ids)
    if ref.region_grads is not None:
        got = dist_out["region_grads"]
        want = ref.region_grads
        for a, b in zip(got, (want.norm_of_sum, want.sum_of_norms, want.coherence)):
            assert torch.equal(a, b)
    else:
        assert dist_out["region_grads"] is None


TWO_RANK_JOBS = [
    ("2d", {}),                              # 8 tiles split 4 / 4
    ("2d", {"block_tiles": [5, 3]}),         # uneven blocks
    ("3d", {"block_tiles": [1, 13]}),        # border inside a region, 1 tile vs many
    ("1d", {"block_tiles": [40, 3]}),
    ("plane", {}),
    ("tiny", {}),                            # one tile: rank 1 holds no point
    ("3d", {"block_tiles": [14, 0]}),        # empty last rank
    ("3d", {"ids": "file", "out": "{tmp}/two", "block_tiles": [6, 8]}),
    ("2d", {"region_grads": True, "block_tiles": [5, 3]}),    # region gradients across ranks
    ("1d", {"region_grads": True, "tile": 1}),                # every region spans tiles
    ("1d", {"region_grads": True, "tile": 2, "chunk_bytes": 1}),  # one region per id chunk
    ("3d", {"region_grads": True, "grad_out": wavy_grad_out, "block_tiles": [1, 13]}),
    ("2d", {"fail": True}),                  # last: rank 1 raises inside its scan
]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """One 2-rank run of every job (process start-up dominates the cost)."""
    tmp = tmp_path_factory.mktemp("dist")
    jobs = [(name, {k: (v.format(tmp=tmp) if isinstance(v, str) else v)
                    for k, v in extra.items()}) for name, extra in TWO_RANK_JOBS]
    return tmp, run_ranks(2, jobs, tmp)


def test_two_ranks_match_one_process(two_ranks):
    _, ranks = two_ranks
    for k, (name, extra) in enumerate(TWO_RANK_JOBS):
        if "out" in extra or "fail" in extra:
            continue
        ref = single(name, **{key: v for key, v in extra.items() if key != "block_tiles"})
        assert_same(ranks[0][k], ref)
        assert ranks[1][k]["summary"] == ref.summary()  # every rank gets the summary


def test_outputs_on_disk_are_identical(two_ranks, tmp_path):
    tmp, ranks = two_ranks
    k = next(k for k, (_, extra) in enumerate(TWO_RANK_JOBS) if "out" in extra)
    assert "error" not in ranks[0][k], ranks[0][k].get("trace")
    one, two = tmp_path / "one", tmp / "two"
    single("3d", ids="file", out=str(one))
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir())
    assert names == ["regions_6x5x7.json", "regions_6x5x7.npz", "regions_6x5x7_ids.npy"]
    for n in names:
        if n.endswith(".npz"):
            a, b = np.load(one / n), np.load(two / n)
            assert sorted(a.files) == sorted(b.files)
            for key in a.files:
                assert np.array_equal(a[key], b[key])
        else:
            assert (one / n).read_bytes() == (two / n).read_bytes()


def test_a_failing_rank_fails_every_rank(two_ranks):
    _, ranks = two_ranks
    k = next(k for k, (_, extra) in enumerate(TWO_RANK_JOBS) if "fail" in extra)
    assert "grad_out exploded on purpose" in ranks[1][k]["error"]
    assert ranks[1][k]["error"].startswith("ValueError")
    assert "rank 1" in ranks[0][k]["error"] and "exploded" in ranks[0][k]["error"]


@pytest.mark.slow
def test_more_ranks_than_points(tmp_path):
    ranks = run_ranks(3, [("tiny", {"tile": 1}), ("1d", {"block_tiles": [0, 43, 0]})], tmp_path)
    assert_same(ranks[0][0], single("tiny", tile=1))
    assert_same(ranks[0][1], single("1d"))
