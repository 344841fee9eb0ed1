"""`specbias train` and `specbias analyze` write their figures; `specbias plot` redraws them from
the files alone (the ops raise if anything is recomputed), never over files it did not write,
and every printed count that is saturated says so."""
import json
import os
import re

import numpy as np
import pytest
import torch
from PIL import Image

from specbias_ext.commands.cli import main
from specbias_ext.ops import geometry, gradients, regions
from specbias_ext.stats.grid_counts import GridCount

TRAIN_FIGURES = ("fit.png", "region_map.png", "region_maps_over_training.png", "curves.png",
                 "regions_over_training.gif")
MAPS = ("", "_hamming", "_neurons", "_boundary", "_slope", "_grad_norm", "_coherence")


class _NoOps:
    def __getattr__(self, name):
        raise AssertionError(f"specbias plot recomputed something: torch.ops.specbias.{name}")


@pytest.fixture
def no_ops(monkeypatch):
    """Every fused op, the measurement forward pass and checkpoint loading raise (the neuron view
may still evaluate the first layer's affine map of the encoded display grid)."""
    for module in (geometry, gradients, regions):
        monkeypatch.setattr(module, "_ops", _NoOps())
    from specbias_ext.measure import forward

    def refuse(*_, **__):
        raise AssertionError("specbias plot ran the network")
    monkeypatch.setattr(forward, "network_forward", refuse)
    monkeypatch.setattr(torch, "load", refuse)             # no checkpoint is read either


#: The analysis of run2d: its label and every setting that changes it are in the name.
NAME = "run_regions_20x20_grads_boundary_neurons-0.1-1.2"


@pytest.fixture(scope="module")
def run2d(tmp_path_factory):
    run = tmp_path_factory.mktemp("plots") / "run"
    argv = ["train", "--signal", "noise", "--size", "12", "--encoding", "pe:2", "--depth", "2",
            "--width", "8", "--epochs", "4", "--record-every", "2", "--out", str(run),
            "--quiet"]
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0
        assert main(["analyze", str(run / "checkpoint.pt"), "--grid", "20x20", "--boundary",
                     "--grads", "output", "--neurons", "0:1,1:2"]) == 0
    return run, buf.getvalue()


def _saturation_marked(text: str) -> None:
    """Every 'N regions' printed on a grid of P points carries '>=' and '(saturated)' exactly
    when N > P / 2."""
    for m in re.finditer(r"(>= )?(\d+) regions( \(saturated\))? on (?:a|the) (\d+)x(\d+)",
                         text):
        count, points = int(m.group(2)), int(m.group(4)) * int(m.group(5))
        saturated = GridCount(count, points).saturated
        assert bool(m.group(1)) == saturated and bool(m.group(3)) == saturated, m.group(0)


def test_train_writes_its_figures(run2d):
    run, printed = run2d
    for name in TRAIN_FIGURES:
        assert (run / name).is_file(), name
    assert (run / "fit.pdf").is_file() and (run / "reconstruction.npz").is_file()
    records = json.loads((run / "results.json").read_text())["records"]
    with Image.open(run / "regions_over_training.gif") as im:
        assert im.n_frames == len(records) == 3
    arrays = np.load(run / "arrays.npz")
    assert {f"region_keys_e{e:06d}" for e in (0, 2, 4)} <= set(arrays.files)
    assert "training grid" in printed and "figures:" in printed
    _saturation_marked(printed)
    assert re.search(r"regions( \(saturated\))? on the 12x12 training grid", printed)


def test_analyze_writes_every_map_and_a_summary(run2d):
    run, printed = run2d
    for suffix in MAPS:
        assert (run / f"{NAME}{suffix}.png").is_file(), suffix
        assert (run / f"{NAME}{suffix}.pdf").is_file(), suffix
    maps = np.load(run / f"{NAME}_maps.npz")
    summary = json.loads((run / f"{NAME}.json").read_text())
    assert maps["region_keys"].shape == (summary["regions"],)
    assert maps["neuron_ids"].tolist() == [[0, 1], [1, 2]]
    # the per-point neighbour distances agree with the analysis' own histogram
    hist = summary["neighbor_mean_hamming_per_axis"]
    assert abs(maps["hamming_axis0"].mean() - hist[0]) < 1e-9
    assert abs(maps["hamming_axis1"].mean() - hist[1]) < 1e-9
    assert "maps in" in printed and "median boundary distance" in printed
    assert "coherence" in printed
    _saturation_marked(printed)


def test_plot_redraws_a_train_run_from_its_files(run2d, tmp_path, no_ops, capsys):
    run, _ = run2d
    out = tmp_path / "redrawn"
    assert main(["plot", str(run), "--out", str(out)]) == 0
    for name in TRAIN_FIGURES:
        if name.endswith(".png"):
            assert (out / name).read_bytes() == (run / name).read_bytes(), name
    with Image.open(out / "regions_over_training.gif") as im:
        assert im.n_frames == 3
    assert (out / "regions_over_training.gif").read_bytes() == \
        (run / "regions_over_training.gif").read_bytes()
    # and the analysis in the same folder, map by map
    for suffix in MAPS:
        name = f"{NAME}{suffix}.png"
        assert (out / name).read_bytes() == (run / name).read_bytes(), name
    assert "wrote" in capsys.readouterr().out


def test_plot_never_replaces_files_without_overwrite(run2d, tmp_path, capsys):
    run, _ = run2d
    out = tmp_path / "p"
    out.mkdir()
    mine = out / "fit.png"
    mine.write_bytes(b"my own figure")
    assert main(["plot", str(run), "--out", str(out), "--what", "fit"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("specbias plot: error:") and "--overwrite" in err
    assert mine.read_bytes() == b"my own figure"
    assert main(["plot", str(run), "--out", str(out), "--what", "fit", "--overwrite"]) == 0
    assert mine.read_bytes()[:4] == b"\x89PNG"
    # default --out: a new folder RUN/plots, nothing in RUN touched
    before = {p: p.stat().st_mtime_ns for p in run.iterdir() if p.is_file()}
    assert main(["plot", str(run), "--what", "region-map", "--format", "svg"]) == 0
    assert sorted(os.listdir(run / "plots")) == ["region_map.svg", f"{NAME}.svg"]
    assert {p: p.stat().st_mtime_ns for p in run.iterdir() if p.is_file()} == before


def test_plot_options_and_errors(run2d, tmp_path, capsys):
    run, _ = run2d
    out = tmp_path / "o"
    assert main(["plot", str(run / f"{NAME}.json"), "--out", str(out), "--what",
                 "hamming,boundary", "--format", "png,pdf", "--cmap", "cividis",
                 "--dpi", "60"]) == 0
    assert sorted(os.listdir(out)) == [f"{NAME}_boundary.pdf",
                                       f"{NAME}_boundary.png",
                                       f"{NAME}_hamming.pdf", f"{NAME}_hamming.png"]
    with Image.open(out / f"{NAME}_hamming.png") as im:
        small = im.size
    with Image.open(run / f"{NAME}_hamming.png") as im:
        assert small[0] < im.size[0]                       # --dpi 60 < 150
    for argv, words in (
            (["--what", "colours"], "--what"), (["--format", "jpeg"], "--format"),
            (["--cmap", "nosuchmap"], "--cmap"), (["--dpi", "0"], "--dpi")):
        assert main(["plot", str(run), "--out", str(tmp_path / "x")] + argv) == 2
        assert words in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["plot", str(empty)]) == 2
    assert "nothing to draw" in capsys.readouterr().err


def test_analyze_1d_map_names_the_network_and_draws_the_target(tmp_path, capsys):
    run = tmp_path / "run1d"
    assert main(["train", "--encoding", "pe:3", "--n", "64", "--depth", "2", "--width", "8",
                 "--epochs", "2", "--record-every", "1", "--out", str(run), "--quiet"]) == 0
    assert main(["analyze", str(run / "checkpoint.pt"), "--grid", "256"]) == 0
    printed = capsys.readouterr().out
    maps = np.load(run / "run1d_regions_256_maps.npz")
    meta = json.loads(str(maps["meta"]))
    assert meta["label"] == "2x8 ReLU MLP, PE L=3" and meta["encoding"]["levels"] == 3
    assert maps["target"].shape == (256,) and maps["fit"].shape == (256, 1)
    from specbias_ext.data.signals import sum_of_sines
    np.testing.assert_allclose(maps["target"], sum_of_sines(256, [5, 10, 15, 20, 25, 30]).y,
                               rtol=1e-6)
    assert (run / "run1d_regions_256.png").is_file()
    assert re.search(r"regions( \(saturated\))? on a 256 grid", printed)
    # the 1D train run: the fit with its boundaries, regions over training as strips
    assert (run / "fit.png").is_file() and (run / "region_maps_over_training.png").is_file()
    assert not (run / "regions_over_training.gif").exists()


def test_plot_a_monitor_folder(tmp_path, no_ops):
    pytest.importorskip("specbias_ext.plots.curves",
                        reason="plots.curves (record_curves) comes from the train branch")
    records = []
    for step in (0, 5, 10):
        ids = (np.arange(36).reshape(6, 6) // (step // 5 + 2))
        records.append({"step": step, "regions": int(ids.max()) + 1, "loss": 1.0 / (step + 1)})
        (tmp_path / "arrays").mkdir(exist_ok=True)
        np.savez(tmp_path / "arrays" / f"step_{step:06d}.npz", region_ids=ids,
                 region_keys=np.arange(int(ids.max()) + 1, dtype=np.int64) * 7919)
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "settings.json").write_text(json.dumps({"grid_shape": [6, 6]}))
    out = tmp_path / "plots"
    assert main(["plot", str(tmp_path), "--out", str(out)]) == 0
    assert {"curves.png", "region_maps_over_training.png",
            "regions_over_training.gif"} <= set(os.listdir(out))
    with Image.open(out / "regions_over_training.gif") as im:
        assert im.n_frames == 3


def test_plot_a_reproduce_folder(tmp_path, no_ops):
    exp = tmp_path / "regions-2d"
    exp.mkdir()
    (tmp_path / "claims.json").write_text("{}")
    arrays = {}
    for k, epoch in enumerate((0, 10, 20)):
        ids = np.arange(64).reshape(8, 8) // (4 - k)
        arrays[f"raw_0_1__region_ids_e{epoch:06d}"] = ids
        arrays[f"raw_0_1__region_keys_e{epoch:06d}"] = np.arange(ids.max() + 1) * 31
    np.savez(exp / "arrays.npz", **arrays)
    (exp / "results.json").write_text(json.dumps({
        "settings": {"task": {"grid_shape": [8, 8]}},
        "series": {"region_map_labels": {"raw_0_1__": "raw [0,1)"},
                   "region_map_ranges": {"raw_0_1__": [0.0, 1.0]}}}))
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "p")]) == 0
    got = sorted(os.listdir(tmp_path / "p" / "regions-2d"))
    assert got == ["raw_0_1_region_maps.gif", "raw_0_1_region_maps.png"]
    with Image.open(tmp_path / "p" / "regions-2d" / "raw_0_1_region_maps.gif") as im:
        assert im.n_frames == 3


def test_the_run_files_include_the_figures_train_and_analyze_write(tmp_path):
    from specbias_ext.train.trainer import run_files

    ours = ["fit.png", "fit.pdf", "region_map.png", "region_maps_over_training.pdf",
            "curves.png", "regions_over_training.gif", "reconstruction.npz",
            "regions_64x64_hamming.png", "regions_64x64_maps.npz", "regions_32x32_slice.json",
            "regions_1024.pdf"]
    theirs = ["fit.jpg", "my_region_map.png", "notes.txt", "regions_64x64_hamming.svg"]
    for name in ours + theirs:
        (tmp_path / name).write_bytes(b"x")
    assert sorted(p.name for p in run_files(tmp_path)) == sorted(ours)
