"""The sharded grid analysis on 2 (and 3) gloo processes on 127.0.0.1, started here, against the
single-process run: every output bit for bit."""
import json
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

import grid_dist_worker
from grid_cases import make_case, wavy_grad_out
from output_values import file_values, provenance_of
from specbias_ext import ops
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
    for got, want in zip(dist_out["lc"], (ref.lc_hist, ref.lc_layer_sums, ref.lc_counts)):
        assert (got is None and want is None) or torch.equal(got, want)
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
    # ids and local-complexity totals to files, streamed to rank 0 in many messages
    ("3d", {"ids": "file", "out": "{tmp}/two", "block_tiles": [6, 8], "lc_radius": 0.2,
            "send_chunk": 7}),
    ("2d", {"lc_radius": 2 / 23, "block_tiles": [5, 3]}),   # local complexity, per point too
    ("3d", {"lc_radius": 0.1, "lc_method": "first_order", "block_tiles": [14, 0]}),
    ("1d", {"lc_radius": 0.02, "block_tiles": [40, 3]}),
    ("2d", {"region_grads": True, "block_tiles": [5, 3]}),    # region gradients across ranks
    ("1d", {"region_grads": True, "tile": 1}),                # every region spans tiles
    ("1d", {"region_grads": True, "tile": 2, "chunk_bytes": 1}),  # one region per id chunk
    ("3d", {"region_grads": True, "grad_out": wavy_grad_out, "block_tiles": [1, 13]}),
    # combine_tables on synthetic tables (grid_dist_worker.combine_case), failures first: the
    # group must stay usable after them
    ("combine", {"case": "spread", "bad_dtype_on": 1}),   # rank 1 raises in a local step
    ("combine", {"case": "spread", "bad_words_on": 0}),   # every rank sees the mismatch
    ("combine", {"case": "spread"}),
    ("combine", {"case": "empty_rank"}),
    ("combine", {"case": "one_pattern"}),
    ("combine", {"case": "all_empty"}),
    ("combine", {"case": "owner_first"}),
    ("combine", {"case": "owner_last", "chunk": 2}),
    ("combine", {"case": "random", "chunk": 7}),
    ("2d", {"fail": True}),                  # last: rank 1 raises inside its scan
]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """One 2-rank run of every job (process start-up dominates the cost)."""
    tmp = tmp_path_factory.mktemp("dist")
    jobs = [(name, {k: (v.format(tmp=tmp) if isinstance(v, str) else v)
                    for k, v in extra.items()}) for name, extra in TWO_RANK_JOBS]
    return tmp, run_ranks(2, jobs, tmp)


def combine_reference(case, world):
    """The old method: region_ids on the tables concatenated in rank order (and the sizes)."""
    tables = grid_dist_worker.combine_case(case, world)
    gid, _ = ops.region_ids(torch.cat([p for p, _ in tables]))
    sizes = torch.zeros(int(gid.max()) + 1 if gid.numel() else 0, dtype=torch.int64)
    sizes.index_add_(0, gid, torch.cat([c for _, c in tables]))
    maps, start = [], 0
    for p, _ in tables:
        maps.append(gid[start:start + p.shape[0]])
        start += p.shape[0]
    return maps, sizes


def assert_combined(outs, case):
    """outs: one result per rank of the group, in group rank order."""
    maps, sizes = combine_reference(case, len(outs))
    for r, out in enumerate(outs):
        assert "error" not in out, out.get("trace")
        assert out["mapping"].dtype == torch.int64
        assert torch.equal(out["mapping"], maps[r]), (case, r)
        if r == 0:
            assert out["sizes"].dtype == torch.int64
            assert torch.equal(out["sizes"], sizes), case
        else:
            assert out["sizes"] is None


def combine_jobs(jobs):
    return [(k, extra) for k, (name, extra) in enumerate(jobs)
            if name == "combine" and not any(key.startswith("bad_") for key in extra)]


def test_combine_reference_cases_are_what_they_claim():
    """The synthetic tables cover what they are meant to (checked, not assumed)."""
    from specbias_ext.analysis.table_combine import owners

    def keys(p):
        return {tuple(r) for r in p.tolist()}
    spread = grid_dist_worker.combine_case("spread", 3)
    shared_02 = (keys(spread[0][0]) & keys(spread[2][0])) - keys(spread[1][0])
    assert shared_02 and spread[0][0].shape[1] > 1
    assert min(int(p.min()) for p, _ in spread) < 0
    assert [p.shape[0] for p, _ in grid_dist_worker.combine_case("empty_rank", 3)][1] == 0
    one = grid_dist_worker.combine_case("one_pattern", 3)
    assert len(set.union(*(keys(p) for p, _ in one))) == 1
    for world in (2, 3):
        for case, owner in (("owner_first", 0), ("owner_last", world - 1)):
            tables = grid_dist_worker.combine_case(case, world)
            assert all(bool((owners(p, world) == owner).all()) for p, _ in tables)
        for case in ("spread", "random", "empty_rank"):
            for p, _ in grid_dist_worker.combine_case(case, world):   # a table: distinct rows
                assert torch.unique(p, dim=0).shape[0] == p.shape[0]
        assert len(combine_reference("random", world)[1]) > 100


def test_combine_tables_two_ranks(two_ranks):
    _, ranks = two_ranks
    for k, extra in combine_jobs(TWO_RANK_JOBS):
        assert_combined([ranks[0][k], ranks[1][k]], extra["case"])


def test_combine_tables_failures_reach_every_rank(two_ranks):
    _, ranks = two_ranks
    k = next(k for k, (_, extra) in enumerate(TWO_RANK_JOBS) if "bad_dtype_on" in extra)
    assert ranks[1][k]["error"].startswith("TypeError") and "int64" in ranks[1][k]["error"]
    assert ranks[0][k]["error"].startswith("RankFailed") and "rank 1" in ranks[0][k]["error"]
    k = next(k for k, (_, extra) in enumerate(TWO_RANK_JOBS) if "bad_words_on" in extra)
    for r in range(2):
        assert ranks[r][k]["error"].startswith("ValueError")
        assert "words per rank [3, 2]" in ranks[r][k]["error"]


def test_two_ranks_match_one_process(two_ranks):
    _, ranks = two_ranks
    for k, (name, extra) in enumerate(TWO_RANK_JOBS):
        if "out" in extra or "fail" in extra or name == "combine":
            continue
        ref = single(name, **{key: v for key, v in extra.items() if key != "block_tiles"})
        assert_same(ranks[0][k], ref)
        assert ranks[1][k]["summary"] == ref.summary()  # every rank gets the summary


def test_outputs_on_disk_are_identical(two_ranks, tmp_path):
    tmp, ranks = two_ranks
    k = next(k for k, (_, extra) in enumerate(TWO_RANK_JOBS) if "out" in extra)
    assert "error" not in ranks[0][k], ranks[0][k].get("trace")
    one, two = tmp_path / "one", tmp / "two"
    single("3d", ids="file", out=str(one), lc_radius=0.2)
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir())
    assert names == ["regions_6x5x7.json", "regions_6x5x7.npz", "regions_6x5x7_ids.npy",
                     "regions_6x5x7_lc.npy"]
    assert ranks[0][k]["lc_path"] == str(two / "regions_6x5x7_lc.npy")
    assert ranks[1][k]["lc_path"] is None               # the file is rank 0's
    lc = np.load(two / "regions_6x5x7_lc.npy", mmap_mode="r")
    assert lc.dtype == np.int32 and lc.shape == (6, 5, 7) and lc.max() > 0
    for n in names:
        if n.endswith(".npz"):
            a, b = np.load(one / n), np.load(two / n)
            assert sorted(a.files) == sorted(b.files)
            for key in a.files:
                assert np.array_equal(a[key], b[key])
        else:   # the JSON summary by its values; its provenance names the processes
            assert file_values(str(one / n)) == file_values(str(two / n))
    json_name = "regions_6x5x7.json"
    saved = json.loads(file_values(str(two / json_name)))
    assert saved["local_complexity"]["radius"] == 0.2
    assert (saved["ids_file"], saved["lc_file"]) == ("regions_6x5x7_ids.npy",
                                                     "regions_6x5x7_lc.npy")
    assert provenance_of(one / json_name)["processes"] == 1
    assert provenance_of(two / json_name)["processes"] == 2


def test_a_failing_rank_fails_every_rank(two_ranks):
    _, ranks = two_ranks
    k = next(k for k, (_, extra) in enumerate(TWO_RANK_JOBS) if "fail" in extra)
    assert "grad_out exploded on purpose" in ranks[1][k]["error"]
    assert ranks[1][k]["error"].startswith("ValueError")
    assert "rank 1" in ranks[0][k]["error"] and "exploded" in ranks[0][k]["error"]


THREE_RANK_JOBS = [
    ("tiny", {"tile": 1}),                   # more ranks than points
    ("1d", {"block_tiles": [0, 43, 0]}),
    ("combine", {"case": "spread"}),         # a pattern in ranks 0 and 2, not 1
    ("combine", {"case": "empty_rank"}),     # rank 1's table is empty
    ("combine", {"case": "one_pattern"}),
    ("combine", {"case": "all_empty"}),
    ("combine", {"case": "owner_first", "chunk": 3}),
    ("combine", {"case": "owner_last"}),
    ("combine", {"case": "random", "chunk": 5}),
    ("combine", {"case": "spread", "bad_dtype_on": 2}),
    ("combine", {"case": "random", "ranks": [1, 2]}),   # a group whose rank 0 is global rank 1
    ("3d", {"ranks": [1, 2], "block_tiles": [5, 9]}),
]


@pytest.fixture(scope="module")
def three_ranks(tmp_path_factory):
    """One 3-rank run of every job."""
    return run_ranks(3, THREE_RANK_JOBS, tmp_path_factory.mktemp("dist3"))


@pytest.mark.slow
def test_more_ranks_than_points(three_ranks):
    assert_same(three_ranks[0][0], single("tiny", tile=1))
    assert_same(three_ranks[0][1], single("1d"))


@pytest.mark.slow
def test_combine_tables_three_ranks(three_ranks):
    jobs = [(k, extra) for k, extra in combine_jobs(THREE_RANK_JOBS) if "ranks" not in extra]
    assert len(jobs) == 7
    for k, extra in jobs:
        assert_combined([three_ranks[r][k] for r in range(3)], extra["case"])
    k = next(k for k, (_, extra) in enumerate(THREE_RANK_JOBS) if "bad_dtype_on" in extra)
    assert three_ranks[2][k]["error"].startswith("TypeError")
    for r in (0, 1):
        assert three_ranks[r][k]["error"].startswith("RankFailed")
        assert "rank 2" in three_ranks[r][k]["error"]


@pytest.mark.slow
def test_a_group_that_is_not_the_world(three_ranks):
    k = next(k for k, (name, extra) in enumerate(THREE_RANK_JOBS)
             if name == "combine" and "ranks" in extra)
    assert three_ranks[0][k] == {"skipped": True}
    assert_combined([three_ranks[1][k], three_ranks[2][k]], "random")
    k = next(k for k, (name, extra) in enumerate(THREE_RANK_JOBS)
             if name == "3d" and "ranks" in extra)
    assert three_ranks[0][k] == {"skipped": True}
    ref = single("3d")
    assert_same(three_ranks[1][k], ref)     # the group's rank 0 gets the full result
    assert three_ranks[2][k]["summary"] == ref.summary()
