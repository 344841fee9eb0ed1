"""`specbias analyze --lc RADIUS`: the local-complexity summary, per-point counts and heat map,
equal to ``measure.local_complexity`` on the whole grid; with several checkpoints each one's
summary and the statistics across them; with --ids file every point's total in <name>_lc.npy,
owned like the other outputs; bad radii refused in one line."""
import contextlib
import io
import json

import numpy as np
import pytest

from specbias_ext import measure, relu_network
from specbias_ext.commands.cli import main
from specbias_ext.data.grids import CoordinateGrid
from specbias_ext.runs.checkpoints import load_trained_model
from specbias_ext.stats import intervals as statistics
from specbias_ext.runs.ownership import read_manifest

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "run_regions_24x24"


@pytest.fixture(scope="module")
def run2d(tmp_path_factory):
    run = tmp_path_factory.mktemp("lc") / "run"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["train", "--signal", "noise", "--size", "12", "--encoding", "pe:2",
                     "--depth", "2", "--width", "12", "--epochs", "2", "--out", str(run),
                     "--quiet"]) == 0
        assert main(["analyze", str(run / "checkpoint.pt"), "--grid", "24x24", "--tile", "100",
                     "--lc", "step"]) == 0
    return run, buf.getvalue()


def test_lc_summary_counts_and_map_equal_measure_on_the_grid(run2d):
    run, printed = run2d
    model, _ = load_trained_model(str(run / "checkpoint.pt"))
    grid = CoordinateGrid((24, 24), (0.0, 1.0))
    expected = measure.local_complexity(grid.coords(), model.encoding, relu_network(model),
                                        1 / 24)
    summary = json.loads((run / f"{NAME}.json").read_text())
    assert summary["local_complexity"] == expected.summary()
    arrays = np.load(run / f"{NAME}.npz")
    assert np.array_equal(arrays["lc_counts"].reshape(-1, 2), expected.counts.numpy())
    assert np.array_equal(arrays["lc_total_hist"], expected.total_histogram().numpy())
    assert (run / f"{NAME}_lc.png").read_bytes()[:4] == b"\x89PNG"
    assert (run / f"{NAME}_lc.pdf").is_file()
    assert f"local complexity (sampled, r = {1 / 24:.4g}): mean" in printed


def analyze_to_file(checkpoint, out, *extra):
    """`specbias analyze` of the 24x24 grid with --lc step and the ids in a file; (exit code,
    what it printed)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["analyze", str(checkpoint), "--grid", "24x24", "--tile", "100", "--lc",
                     "step", "--ids", "file", "--out", str(out), *extra])
    return code, buf.getvalue()


@pytest.fixture(scope="module")
def run2d_file(run2d, tmp_path_factory):
    run, _ = run2d
    out = tmp_path_factory.mktemp("lcfile") / "out"
    code, printed = analyze_to_file(run / "checkpoint.pt", out)
    assert code == 0
    return out, printed


def test_ids_file_writes_lists_and_prints_the_lc_file(run2d, run2d_file):
    run, _ = run2d
    out, printed = run2d_file
    totals = np.load(out / f"{NAME}_lc.npy", mmap_mode="r")
    in_memory = np.load(run / f"{NAME}.npz")["lc_counts"]    # the same analysis, ids in memory
    assert totals.dtype == np.int32 and totals.shape == (24, 24)
    assert np.array_equal(totals, in_memory.sum(axis=-1)) and totals.max() > 0
    summary = json.loads((out / f"{NAME}.json").read_text())
    assert summary["ids"] == "file" and summary["lc_file"] == f"{NAME}_lc.npy"
    assert "lc_counts" not in np.load(out / f"{NAME}.npz").files
    assert f"local complexity of every point (int32, 24x24): {out / NAME}_lc.npy" in printed
    owned = read_manifest(out)["files"]
    assert owned[f"{NAME}_lc.npy"] == owned[f"{NAME}_ids.npy"] == "analyze"


def test_ids_file_draws_the_lc_map_from_the_file_alone(run2d, run2d_file):
    run, _ = run2d
    out, printed = run2d_file
    # the figure the counts in memory gave, drawn from the file
    assert (out / f"{NAME}_lc.png").read_bytes() == (run / f"{NAME}_lc.png").read_bytes()
    assert (out / f"{NAME}_lc.pdf").is_file()
    owned = read_manifest(out)["files"]
    assert owned[f"{NAME}_lc.png"] == owned[f"{NAME}_lc.pdf"] == "analyze"
    # the other maps need the ids in memory
    assert not (out / f"{NAME}.png").exists() and not (out / f"{NAME}_maps.npz").exists()
    assert f"maps in {out}: {NAME}_lc.png (and PDF)" in printed


def test_ids_file_on_a_grid_too_large_to_draw_writes_the_lc_file_only(run2d, tmp_path,
                                                                     monkeypatch):
    from specbias_ext.commands import analyze_outputs

    # the region maps' limit: one point short of this grid
    monkeypatch.setitem(analyze_outputs.MAX_MAP_POINTS, 2, 24 * 24 - 1)
    run, _ = run2d
    out = tmp_path / "large"
    code, printed = analyze_to_file(run / "checkpoint.pt", out)
    assert code == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == \
        [f"{NAME}.json", f"{NAME}.npz", f"{NAME}_ids.npy", f"{NAME}_lc.npy"]
    assert "maps in" not in printed


def test_the_lc_file_is_never_replaced_without_overwrite(run2d, tmp_path, capsys):
    run, _ = run2d
    out = tmp_path / "out"
    out.mkdir()
    mine = out / f"{NAME}_lc.npy"
    mine.write_bytes(b"my own file")
    code, _ = analyze_to_file(run / "checkpoint.pt", out)
    assert code == 2
    err = capsys.readouterr().err
    assert f"{NAME}_lc.npy" in err and "not by specbias" in err and "--overwrite" in err
    assert [p.name for p in out.iterdir()] == [mine.name]      # refused before any write
    assert mine.read_bytes() == b"my own file"
    assert analyze_to_file(run / "checkpoint.pt", out, "--overwrite")[0] == 0
    assert np.load(mine).shape == (24, 24)
    assert read_manifest(out)["files"][mine.name] == "analyze"


def test_a_rerun_from_another_checkpoint_leaves_the_lc_file(run2d, run2d_file, tmp_path,
                                                            capsys):
    run, _ = run2d
    out, _ = run2d_file
    other = tmp_path / "elsewhere" / "run"        # the same label, another checkpoint
    other.mkdir(parents=True)
    (other / "checkpoint.pt").write_bytes((run / "checkpoint.pt").read_bytes())
    before = (out / f"{NAME}_lc.npy").read_bytes()
    assert analyze_to_file(other / "checkpoint.pt", out)[0] == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / f"{NAME}_lc.npy").read_bytes() == before


def test_plot_redraws_the_lc_map(run2d, tmp_path):
    run, _ = run2d
    out = tmp_path / "plots"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["plot", str(run / f"{NAME}.json"), "--what", "lc", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{NAME}_lc.png"]


def test_a_given_radius_and_a_grid_too_large_to_draw(run2d):
    run, _ = run2d
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["analyze", str(run / "checkpoint.pt"), "--grid", "30x30", "--ids", "none",
                     "--lc", "0.05", "--out", str(run / "lean")]) == 0
    summary = json.loads((run / "lean" / "run_regions_30x30.json").read_text())
    assert summary["local_complexity"]["radius"] == 0.05
    assert summary["local_complexity"]["points"] == 900
    assert "lc_counts" not in np.load(run / "lean" / "run_regions_30x30.npz").files


@pytest.mark.parametrize("value", ["0", "-0.1", "nan", "inf", "wide", ""])
def test_bad_radii_are_one_line_errors(run2d, capsys, value):
    run, _ = run2d
    assert main(["analyze", str(run / "checkpoint.pt"), "--grid", "8x8", "--lc", value,
                 "--out", str(run / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("specbias analyze: error: --lc: expected a radius > 0") and \
        "\n" not in err, err
    assert not (run / "bad").exists()


@pytest.fixture(scope="module")
def ensemble_lc(run2d, tmp_path_factory):
    """`specbias analyze A B --grid 16x16 --lc step`: the run of run2d and one of another seed."""
    run, _ = run2d
    root = tmp_path_factory.mktemp("lc_ens")
    other = root / "s1"
    out = root / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["train", "--signal", "noise", "--size", "12", "--encoding", "pe:2",
                     "--depth", "2", "--width", "12", "--epochs", "2", "--seed", "1",
                     "--out", str(other), "--quiet"]) == 0
        buf.truncate(0)
        buf.seek(0)
        ckpts = [str(run / "checkpoint.pt"), str(other / "checkpoint.pt")]
        assert main(["analyze", *ckpts, "--grid", "16x16", "--tile", "100", "--lc", "step",
                     "--out", str(out)]) == 0
    return ckpts, out, buf.getvalue()


def test_lc_of_several_checkpoints_and_its_statistics(ensemble_lc):
    ckpts, out, printed = ensemble_lc
    grid = CoordinateGrid((16, 16), (0.0, 1.0))
    ens = json.loads((out / "ensemble_regions_16x16.json").read_text())
    members = []
    for ckpt, member in zip(ckpts, ens["members"]):
        model, _ = load_trained_model(ckpt)
        expected = measure.local_complexity(grid.coords(), model.encoding, relu_network(model),
                                            grid.step).summary()
        assert member["summary"]["local_complexity"] == expected
        assert json.loads((out / member["files"]["summary"]).read_text())[
            "local_complexity"] == expected
        members.append(expected)
    stats = ens["statistics"]
    reads = {"local_complexity_mean": lambda lc: lc["mean"],
             "local_complexity_median": lambda lc: lc["median"],
             "local_complexity_total_fraction_mean": lambda lc: lc["total_fraction_mean"],
             "local_complexity_layer_0_mean": lambda lc: lc["layer_means"][0],
             "local_complexity_layer_1_mean": lambda lc: lc["layer_means"][1]}
    assert {k for k in stats if k.startswith("local_complexity")} == set(reads)
    for key, read in reads.items():
        values = [read(lc) for lc in members]
        effect = statistics.difference(values)
        st = stats[key]
        assert st["values"] == values and st["n"] == 2
        assert (st["mean"], st["low"], st["high"]) == (effect.estimate, effect.low, effect.high)
        assert st["sd"] == statistics.mean_sd(values)[1]
    mean = stats["local_complexity_mean"]
    assert (f"local complexity (sampled, r = {1 / 16:.4g}): mean {mean['mean']:.3g} "
            f"(95% interval {mean['low']:.3g} to {mean['high']:.3g}), median "
            f"{stats['local_complexity_median']['mean']:.3g} neurons per point on average over "
            "2 checkpoints; layer means ") in printed
    assert printed.count("local complexity (") == 1


def test_several_checkpoints_refuse_a_bad_radius_in_one_line(ensemble_lc, capsys):
    ckpts, out, _ = ensemble_lc
    assert main(["analyze", *ckpts, "--grid", "16x16", "--lc", "0", "--out",
                 str(out / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("specbias analyze: error: --lc: expected a radius > 0") and \
        "\n" not in err, err
    assert not (out / "bad").exists()


def test_help_names_the_grid_step():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(buf.getvalue().split())
    assert "--lc RADIUS" in text and "the grid step is the natural choice" in text
    assert "every point's total (int32, grid-shaped) in <name>_lc.npy" in text
