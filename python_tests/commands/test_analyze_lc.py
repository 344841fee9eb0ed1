"""`specbias analyze --lc RADIUS`: the local-complexity summary, per-point counts and heat map,
equal to ``measure.local_complexity`` on the whole grid; bad radii refused in one line."""
import contextlib
import io
import json

import numpy as np
import pytest

from specbias_ext import measure, relu_network
from specbias_ext.commands.cli import main
from specbias_ext.data.grids import CoordinateGrid
from specbias_ext.runs.checkpoints import load_trained_model

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


def test_lc_with_several_checkpoints_is_refused(run2d, capsys):
    run, _ = run2d
    ckpt = str(run / "checkpoint.pt")
    assert main(["analyze", ckpt, ckpt, "--lc", "step", "--out", str(run / "ens")]) == 2
    assert "--lc: one checkpoint at a time" in capsys.readouterr().err


def test_help_names_the_grid_step():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(buf.getvalue().split())
    assert "--lc RADIUS" in text and "the grid step is the natural choice" in text
