"""The streaming grid analysis against the in-memory path (whole grid through the ops)."""

import os

import numpy as np
import pytest
import torch

from grid_cases import make_case, in_memory
from specbias_ext import measure, ops
from specbias_ext.ops import coordinates
from specbias_ext.analysis import analyze_stream
from specbias_ext.data.grids import CoordinateGrid

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name", ["2d", "3d", "1d", "plane", "tiny"])
def test_stream_equals_in_memory(name):
    grid, model, kw = make_case(name)
    ref = in_memory(model, grid)
    res = analyze_stream(model, grid, **kw)
    assert torch.equal(res.ids, ref["ids"])
    assert torch.equal(res.region_counts, ref["counts"])
    assert torch.equal(res.neighbor_hist, ref["hist"])
    assert torch.equal(res.bit_counts, ref["on"])
    s = res.summary()
    assert s["regions"] == ref["counts"].numel() and s["points"] == grid.num_points
    n = grid.num_points
    assert s["dead_neurons"] == int((ref["on"] == 0).sum())
    assert s["always_on_neurons"] == int((ref["on"] == n).sum())


@pytest.mark.parametrize("tile", [1, 3, 17, 391, 10_000])
def test_counts_do_not_depend_on_the_tile(tile):
    grid, model, kw = make_case("2d")
    ref = in_memory(model, grid)
    res = analyze_stream(model, grid, tile=tile)
    assert torch.equal(res.ids, ref["ids"])
    assert torch.equal(res.neighbor_hist, ref["hist"])
    assert torch.equal(res.region_counts, ref["counts"])


def test_grad_and_boundary_statistics_match_the_direct_values():
    grid, model, kw = make_case("2d")
    ref = in_memory(model, grid)
    res = analyze_stream(model, grid, **kw)
    sq = ops.per_example_grad_norms(ref["x"], ref["net"], kw["grad_out"](ref["coords"]))
    norms = sq.to(torch.float64).sum(dim=1).sqrt()
    g = res.grad_norm
    assert g["mean"] == pytest.approx(norms.mean().item(), rel=1e-9)
    assert g["std"] == pytest.approx(norms.std(unbiased=False).item(), rel=1e-6)
    assert g["min"] == norms.min().item() and g["max"] == norms.max().item()
    share = sq.to(torch.float64).sum(dim=0) / sq.to(torch.float64).sum()
    assert g["layer_share"] == pytest.approx(share.tolist(), rel=1e-9)
    dist, _ = coordinates.boundary_distance(ref["coords"], model.encoding, ref["net"])
    d = dist.to(torch.float64)
    fin = d[torch.isfinite(d)]
    b = res.boundary_distance
    assert b["finite"] == fin.numel() and b["infinite"] == d.numel() - fin.numel()
    assert b["min"] == fin.min().item() and b["max"] == fin.max().item()
    assert b["mean"] == pytest.approx(fin.mean().item(), rel=1e-9)


def test_ids_file_is_the_memory_ids(tmp_path):
    grid, model, kw = make_case("3d")
    mem = analyze_stream(model, grid, tile=10)
    path = tmp_path / "ids.npy"
    res = analyze_stream(model, grid, tile=10, ids="file", ids_path=str(path))
    assert res.ids is None and res.ids_path == str(path)
    on_disk = np.load(path, mmap_mode="r")
    assert on_disk.shape == grid.shape and on_disk.dtype == np.int64
    assert np.array_equal(on_disk, mem.ids.numpy())
    assert [p.name for p in tmp_path.iterdir()] == ["ids.npy"]  # no temporary left behind


def test_failed_scan_leaves_no_partial_ids_file(tmp_path):
    grid, model, _ = make_case("2d")
    calls = []

    def bad_grad_out(coords):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("boom")
        return coords[:, :1]

    with pytest.raises(ValueError, match="boom"):
        analyze_stream(model, grid, tile=40, ids="file", ids_path=str(tmp_path / "ids.npy"),
                       grad_out=bad_grad_out)
    assert list(tmp_path.iterdir()) == []


def test_block_border_inside_a_region_and_empty_blocks():
    """Scanning two blocks and merging gives the one-block numbering (what ranks do)."""
    from specbias_ext.analysis.tile_scan import TileScanner

    grid, model, _ = make_case("3d")
    sc = TileScanner(model, grid, tile=9)
    whole = sc.scan(0, sc.num_tiles)
    cut = 13
    a, b = sc.scan(0, cut), sc.scan(cut, sc.num_tiles)
    empty = sc.scan(sc.num_tiles, sc.num_tiles)
    assert empty.table_patterns.shape[0] == 0 and empty.ids.numel() == 0
    # a region straddles the border: some pattern is in both blocks' tables
    shared = (a.table_patterns.unsqueeze(1) == b.table_patterns.unsqueeze(0)).all(-1).any()
    assert bool(shared)
    assert torch.equal(a.neighbor_hist + b.neighbor_hist, whole.neighbor_hist)
    assert torch.equal(a.bit_counts + b.bit_counts, whole.bit_counts)


def test_bad_arguments_name_themselves():
    grid, model, _ = make_case("1d")
    with pytest.raises(ValueError, match="tile"):
        analyze_stream(model, grid, tile=0)
    with pytest.raises(ValueError, match="ids"):
        analyze_stream(model, grid, ids="disk")
    with pytest.raises(ValueError, match="ids_path"):
        analyze_stream(model, grid, ids="file")
    with pytest.raises(TypeError, match="grid"):
        analyze_stream(model, (10, 10))
    with pytest.raises(ValueError, match="grad_out"):
        analyze_stream(model, grid, grad_out=lambda c: c[:3])


@pytest.mark.parametrize("keys", ["constant", "first_word_bits"])
def test_key_collisions_fall_back_to_exact_numbering(monkeypatch, keys):
    """Distinct patterns sharing a row key must still get distinct ids."""
    from specbias_ext.analysis import pattern_table

    grid, model, _ = make_case("2d")
    ref = in_memory(model, grid)
    if keys == "constant":
        fake = lambda p: torch.zeros(p.shape[0], dtype=torch.int64, device=p.device)  # noqa: E731
    else:
        fake = lambda p: p[:, 0] & 0xF  # noqa: E731
    monkeypatch.setattr(pattern_table, "row_keys", fake)
    res = analyze_stream(model, grid, tile=37)
    assert torch.equal(res.ids, ref["ids"])
    assert torch.equal(res.region_counts, ref["counts"])


def test_key_index_stays_sorted_and_complete():
    from specbias_ext.analysis.pattern_table import PatternTable, row_keys
    from specbias_ext.testing.patterns import duplicated_rows

    t = PatternTable(3, "cpu")
    for seed in range(6):
        p = duplicated_rows(200, 3, distinct=60, seed=seed)
        t.add_tile(p)
    assert not t.collided
    assert torch.all(t._keys[1:] > t._keys[:-1])
    assert torch.equal(t._keys, torch.sort(row_keys(t.patterns)).values)
    assert torch.equal(row_keys(t.patterns)[t._ids], t._keys)


def test_analyze_grid_single_process_writes_atomic_outputs(tmp_path, monkeypatch):
    import json

    from specbias_ext.analysis import analyze_grid, launch

    for var in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert launch() is False  # not under torchrun: nothing initialised
    grid, model, kw = make_case("plane")
    res = analyze_grid(model, grid, out=str(tmp_path), name="slice", **kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slice.json", "slice.npz"]
    saved = json.loads((tmp_path / "slice.json").read_text())
    assert saved["regions"] == res.num_regions and saved["grid"]["kind"] == "plane"
    assert np.array_equal(np.load(tmp_path / "slice.npz")["region_counts"],
                          res.region_counts.numpy())
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="out"):
        analyze_grid(model, grid, out=str(tmp_path / "file"))
    with pytest.raises(ValueError, match="out"):
        analyze_grid(model, grid, ids="file")


def test_scanner_keeps_the_network_description():
    from specbias_ext.testing import random_mlp
    from specbias_ext import ReluNetwork
    from specbias_ext.analysis.tile_scan import TileScanner

    w, b = random_mlp(2, [8, 8], seed=1)
    net = ReluNetwork.of(w, b, slopes=[0.1, 0.0])
    sc = TileScanner(net, CoordinateGrid((4, 4)), dtype=torch.float32)
    assert sc.net.slopes == net.slopes and sc.net.input_skips == net.input_skips
    assert all(t.dtype == torch.float32 for t in sc.net.weights)


@pytest.mark.parametrize("name,method,tile", [("2d", "sampled", 50), ("2d", "first_order", 7),
                                              ("plane", "sampled", 64), ("1d", "sampled", 1)])
def test_local_complexity_equals_measure_on_the_whole_grid(name, method, tile):
    grid, model, _ = make_case(name)
    ref = in_memory(model, grid)
    radius = grid.step
    res = analyze_stream(model, grid, tile=tile, lc_radius=radius, lc_method=method)
    whole = measure.local_complexity(ref["coords"], model.encoding, ref["net"], radius,
                                     method=method)
    assert res.lc_counts.shape == tuple(grid.shape) + (whole.counts.shape[1],)
    assert torch.equal(res.lc_counts.reshape(whole.counts.shape), whole.counts)
    assert res.summary()["local_complexity"] == whole.summary()
    assert whole.total.sum() > 0                 # the case has boundaries within the radius
    lean = analyze_stream(model, grid, tile=tile, ids="none", lc_radius=radius,
                          lc_method=method)
    assert lean.lc_counts is None and lean.summary() == {**res.summary()}
    assert "local_complexity" not in analyze_stream(model, grid, tile=tile).summary()


def test_local_complexity_settings_are_checked():
    grid, model, _ = make_case("tiny")
    for bad in (0.0, -0.1, float("inf"), "step"):
        with pytest.raises(ValueError, match="lc_radius"):
            analyze_stream(model, grid, lc_radius=bad)
    with pytest.raises(ValueError, match="lc_method"):
        analyze_stream(model, grid, lc_radius=0.1, lc_method="hull")


@pytest.mark.parametrize("name,tile", [("1d", 7), ("2d", 50), ("3d", 16)])
def test_lc_file_is_the_row_sum_of_the_per_layer_counts(tmp_path, name, tile):
    grid, model, _ = make_case(name)
    radius = grid.step
    mem = analyze_stream(model, grid, tile=tile, lc_radius=radius)
    res = analyze_stream(model, grid, tile=tile, ids="file", lc_radius=radius,
                         ids_path=str(tmp_path / "regions_ids.npy"))
    assert grid.num_points > 2 * tile                  # several tiles, the last one partial
    assert res.lc_path == str(tmp_path / "regions_lc.npy") and res.lc_counts is None
    on_disk = np.load(res.lc_path, mmap_mode="r")
    assert on_disk.shape == tuple(grid.shape) and on_disk.dtype == np.int32
    assert np.array_equal(on_disk, mem.lc_counts.sum(-1).numpy())
    assert on_disk.max() > 0                           # boundaries within the radius
    assert res.summary() == mem.summary()
    # no temporary left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regions_ids.npy", "regions_lc.npy"]


def test_no_lc_file_without_the_local_complexity(tmp_path):
    grid, model, _ = make_case("2d")
    res = analyze_stream(model, grid, tile=50, ids="file",
                         ids_path=str(tmp_path / "regions_ids.npy"))
    assert res.lc_path is None
    assert [p.name for p in tmp_path.iterdir()] == ["regions_ids.npy"]


def test_lc_file_is_named_from_the_ids_file():
    from specbias_ext.analysis.outputs import ids_file_path, lc_file_path

    ids_path = ids_file_path("out", None, {"shape": [8, 8]})
    assert lc_file_path(ids_path) == os.path.join("out", "regions_8x8_lc.npy")
    assert lc_file_path("ids.npy") == "ids_lc.npy"
    assert lc_file_path("ids") == "ids_lc.npy"
    assert lc_file_path("a_lc.npy") == "a_lc_lc.npy"      # never the ids file itself


def test_an_interrupted_analysis_leaves_the_earlier_files_whole(tmp_path):
    grid, model, _ = make_case("2d")
    ids_path = str(tmp_path / "r_ids.npy")
    analyze_stream(model, grid, tile=40, ids="file", ids_path=ids_path, lc_radius=grid.step)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(before) == ["r_ids.npy", "r_lc.npy"]
    calls = []

    def interrupted(coords):   # Ctrl-C in the third tile, after two tiles were written
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return coords[:, :1]

    with pytest.raises(KeyboardInterrupt):
        analyze_stream(model, grid, tile=40, ids="file", ids_path=ids_path,
                       lc_radius=grid.step / 2, grad_out=interrupted)
    assert len(calls) == 3
    # hidden temporary files included: nothing torn, nothing left over
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_an_lc_file_path_taken_by_a_folder_is_refused_before_writing(tmp_path):
    grid, model, _ = make_case("2d")
    (tmp_path / "r_lc.npy").mkdir()
    with pytest.raises(ValueError, match="r_lc.npy"):
        analyze_stream(model, grid, tile=50, ids="file", ids_path=str(tmp_path / "r_ids.npy"),
                       lc_radius=grid.step)
    assert [p.name for p in tmp_path.iterdir()] == ["r_lc.npy"]   # the ids' temporary removed
