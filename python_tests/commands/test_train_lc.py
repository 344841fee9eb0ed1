"""`specbias train --lc RADIUS|step`: the local complexity in every record and array, the lc_map
figure of the last record (written by train, redrawn by `specbias plot --what lc`), the mean in
the final line; a run without --lc keeps its configuration; bad radii and a --resume with
another --lc are refused in one line."""
import contextlib
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from specbias_ext.commands.cli import main
from specbias_ext.train.measurements import DEFAULT_MEASUREMENTS
from specbias_ext.train.trainer import config_differences

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--depth", "2", "--width", "16", "--epochs", "4", "--record-every", "2", "--quiet"]
GRID_2D = ["--signal", "camera", "--size", "32"]
GRID_1D = ["--n", "256"]
EPOCHS = [0, 2, 4]


def _train(out, *flags) -> str:
    """Run `specbias train` (it must succeed); what it printed."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["train", *TINY, "--out", str(out), *flags]) == 0
    return buf.getvalue()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{name: (folder, printed)} of tiny 2D and 1D runs with --lc step, and 2D without --lc."""
    root = tmp_path_factory.mktemp("train_lc")
    flags = {"lc2d": [*GRID_2D, "--lc", "step"], "lc1d": [*GRID_1D, "--lc", "step"],
             "plain2d": GRID_2D}
    return {name: (root / name, _train(root / name, *f)) for name, f in flags.items()}


def _results(run) -> dict:
    return json.loads((run / "results.json").read_text())


@pytest.mark.parametrize("name, shape", [("lc2d", (32, 32)), ("lc1d", (256,))])
def test_every_record_holds_the_lc_at_the_grid_step(runs, name, shape):
    run, printed = runs[name]
    records = _results(run)["records"]
    assert [r["epoch"] for r in records] == EPOCHS
    step = 1.0 / shape[0]                    # the grid's step on [0, 1)
    for r in records:
        assert r["lc"]["radius"] == pytest.approx(step, rel=1e-12)
        assert r["lc"]["method"] == "sampled" and r["lc"]["points"] == int(np.prod(shape))
    with np.load(run / "arrays.npz") as arrays:
        lc = {k: arrays[k] for k in arrays.files if k.startswith("lc_")}
    assert sorted(lc) == [f"lc_e{e:06d}" for e in EPOCHS]
    for epoch, r in zip(EPOCHS, records):
        values = lc[f"lc_e{epoch:06d}"]
        assert values.shape == shape and values.dtype.kind == "i"
        assert values.mean() == pytest.approx(r["lc"]["mean"])
    assert f"mean local complexity {records[-1]['lc']['mean']:.3g} neurons per point" in printed


@pytest.mark.parametrize("name", ["lc2d", "lc1d"])
def test_train_writes_the_lc_map_and_plot_redraws_it(runs, name, tmp_path):
    run, printed = runs[name]
    with Image.open(run / "lc_map.png") as png:
        assert png.format == "PNG" and min(png.size) > 100
    assert (run / "lc_map.pdf").read_bytes()[:4] == b"%PDF"
    assert "lc_map" in printed.split("figures: ")[1]
    out = tmp_path / "plots"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["plot", str(run), "--what", "lc", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["lc_map.png"]
    with Image.open(out / "lc_map.png") as png:
        assert png.format == "PNG"


def test_without_lc_nothing_about_it_is_recorded_or_drawn(runs, capsys):
    plain, printed = runs["plain2d"]
    with_lc, _ = runs["lc2d"]
    assert not list(plain.glob("lc_map*")) and "local complexity" not in printed
    assert all("lc" not in r for r in _results(plain)["records"])
    with np.load(plain / "arrays.npz") as arrays:
        assert not [k for k in arrays.files if k.startswith("lc")]
    config = json.loads((plain / "run.json").read_text())
    monitor = config["recorder"]["config"]
    assert monitor["measurements"] == list(DEFAULT_MEASUREMENTS)
    assert monitor["lc_radius"] is None and monitor["lc_method"] == "sampled"
    # --lc changes the recorder's measurements and radius, nothing else of the configuration
    assert config_differences(config, json.loads((with_lc / "run.json").read_text())) == \
        ["recorder.config.lc_radius", "recorder.config.measurements"]
    assert main(["plot", str(plain), "--what", "lc", "--out", str(plain / "plots")]) == 2
    assert "nothing to draw of --what lc" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "abc", "-0.5", "nan", "inf"])
def test_bad_radii_are_one_line_errors(capsys, tmp_path, value):
    out = tmp_path / "bad"
    assert main(["train", *GRID_2D, *TINY, "--lc", value, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("specbias train: error: --lc: expected a radius > 0") and \
        "\n" not in err, err
    assert not out.exists()


def test_resume_needs_the_same_lc(runs, capsys, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["lc2d"][0], run)
    before = (run / "results.json").read_text()
    for other in (["--lc", "0.05"], []):
        assert main(["train", *GRID_2D, *TINY, "--epochs", "6", "--out", str(run),
                     "--resume", *other]) == 2
        err = capsys.readouterr().err.strip()
        assert "--resume: the run in" in err and "different configuration" in err, err
        assert "recorder.config." in err and "\n" not in err
        assert (run / "results.json").read_text() == before
    assert main(["train", *GRID_2D, *TINY, "--epochs", "6", "--out", str(run), "--resume",
                 "--lc", "step"]) == 0
    assert [r["epoch"] for r in _results(run)["records"]] == [*EPOCHS, 6]


def test_help_of_train_names_lc():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(buf.getvalue().split())
    assert "--lc RADIUS" in text and "'step' for the training grid's step" in text
