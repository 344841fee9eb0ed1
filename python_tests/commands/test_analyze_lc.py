"""`specbias analyze --lc RADIUS`: the local-complexity summary, per-point counts and heat map,
equal to ``measure.local_complexity`` on the whole grid; with several checkpoints each one's
summary and the statistics across them; bad radii refused in one line."""
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
