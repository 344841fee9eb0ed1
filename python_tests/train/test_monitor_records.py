"""Monitor records read back without the model, and the figure of their curves."""
import csv
import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from specbias_ext.data.grids import grid_coords
from specbias_ext.data.signals import load_image
from specbias_ext.data.samplers import PairSampling
from specbias_ext.nets.encodings import make_encoding
from specbias_ext.plots.curves import record_curves, training_curves
from specbias_ext.stats.grid_counts import GridCount
from specbias_ext.train.measurements import MonitorConfig
from specbias_ext.train.monitor import RegionMonitor
from specbias_ext.train.records import MonitorRecords, record_count_text

pytestmark = pytest.mark.usefixtures("one_thread")

PAIRS = PairSampling(num_patches=3, patch=4, pairs_per_patch=10, corner_pairs=20)


@pytest.fixture(scope="module")
def run_2d(tmp_path_factory):
    """A PE network on a 16x16 image, recorded at steps 0, 2, 4: its counts saturate the grid."""
    out = tmp_path_factory.mktemp("monitor") / "run"
    img = load_image("camera", size=16, grey=True)
    coords, target = grid_coords((16, 16)), img.reshape(-1, 1)
    enc = make_encoding("pe:4", 2)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(enc.out_dim, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 1))
    mon = RegionMonitor(coords, target=target, encoding=enc, every=2, out=str(out),
                        tensorboard=False, config=MonitorConfig(
                            pairs=PAIRS, num_bands=4, measurements=(
                                "loss", "regions", "hamming", "confusion", "spectral")))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = enc(coords)
    for step in range(5):
        mon(model, step)
        opt.zero_grad()
        (model(x) - target).square().mean().backward()
        opt.step()
    mon.close()
    return out, mon


def titles(fig):
    return [ax.get_title().replace("\n", " ") for ax in fig.axes]


def test_load_gives_series_table_and_figure_without_the_model(run_2d):
    out, mon = run_2d
    records = RegionMonitor.load(out)
    assert isinstance(records, MonitorRecords) and len(records) == 3
    assert records.series("regions") == mon.series("regions")
    assert records.series("hamming_local.mean") == mon.series("hamming_local.mean")
    assert records.step_name == "step" and records.settings["grid_shape"] == [16, 16]
    table = records.to_table()
    pandas = pytest.importorskip("pandas") if not isinstance(table, str) else None
    if pandas is None:                     # CSV text without pandas
        rows = list(csv.DictReader(io.StringIO(table)))
        assert [int(r["step"]) for r in rows] == [0, 2, 4]
        assert [int(r["regions"]) for r in rows] == mon.series("regions")[1]
        assert [float(r["band_residual.1"]) for r in rows] == \
            [h["band_residual"][0] for h in mon.history]
        assert {r["regions_grid.saturated"] for r in rows} <= {"True", "False"}
    else:
        assert list(table["step"]) == [0, 2, 4]
    fig = records.plot(path=out / "again.png")
    assert isinstance(fig, Figure) and (out / "again.png").read_bytes()[:4] == b"\x89PNG"
    assert "regions on the 16x16 grid" in titles(fig)
    assert records._repr_png_()[:4] == b"\x89PNG"
    np.testing.assert_array_equal(records.arrays(2)["region_ids"], mon.arrays["region_ids_s000002"])
    with pytest.raises(ValueError, match="step: no arrays"):
        records.arrays(3)


def test_pandas_table_when_installed(run_2d):
    pandas = pytest.importorskip("pandas")
    table = RegionMonitor.load(run_2d[0]).to_table()
    assert isinstance(table, pandas.DataFrame) and list(table["step"]) == [0, 2, 4]


def test_to_csv_writes_a_file(run_2d, tmp_path):
    text = RegionMonitor.load(run_2d[0]).to_csv(tmp_path / "records.csv")
    assert (tmp_path / "records.csv").read_text() == text
    assert text.splitlines()[0].split(",")[0] == "step"


def test_load_errors_name_the_folder(tmp_path):
    with pytest.raises(ValueError, match="folder: .* is not a folder"):
        RegionMonitor.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="holds no monitor records"):
        RegionMonitor.load(tmp_path)


def test_the_live_monitor_draws_the_same_figure_and_saves_it(run_2d):
    out, mon = run_2d
    fig = mon.plot()
    assert (out / "monitor.png").read_bytes()[:4] == b"\x89PNG"
    assert titles(fig) == titles(RegionMonitor.load(out).plot())
    assert mon._repr_png_()[:4] == b"\x89PNG"


def test_curves_are_labelled_in_words_with_the_grid_and_saturation(run_2d):
    _, mon = run_2d
    fig = record_curves(mon.history)
    names = titles(fig)
    assert names[:3] == ["regions on the 16x16 grid", "fit error", "PSNR of the fit"]
    assert "Hamming distance of pairs" in names and "residual by frequency band" in names
    assert not any("." in t or "_" in t for t in names)          # no raw keys
    assert all(ax.get_ylabel() for ax in fig.axes) and all(ax.get_xlabel() == "step"
                                                          for ax in fig.axes)
    regions_ax = fig.axes[0]
    saturated = [line for line in regions_ax.get_lines() if line.get_label() == "saturated (\u2265)"]
    steps = [r["step"] for r in mon.history
             if GridCount(r["regions"], 256).saturated]
    assert steps, "a PE network on 16x16 points saturates the grid"
    assert saturated and list(saturated[0].get_xdata()) == steps
    assert "analyse the model on a finer grid" in fig.get_supxlabel()
    band_ax = fig.axes[names.index("residual by frequency band")]
    legend = band_ax.get_legend()
    assert legend is not None and "cycles/pixel" in legend.get_title().get_text()
    assert [t.get_text() for t in legend.get_texts()] == \
        [f"{lo:.2f}\u2013{hi:.2f}" for lo, hi in mon.history[0]["band_cycles_per_sample"]]


def test_unsaturated_counts_have_no_marker_and_no_note():
    recs = [{"step": s, "regions": 10 + s, "regions_grid": {"shape": [64], "points": 64}}
            for s in range(3)]
    fig = record_curves(recs, ["regions"])
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "saturated (\u2265)" not in labels and fig.get_supxlabel() in ("", None)
    assert fig.axes[0].get_title() == "regions on the 64-point grid"


def test_keys_resolve_to_readable_panels_and_errors_name_the_key(run_2d):
    _, mon = run_2d
    fig = record_curves(mon.history, ["band_residual", "hamming_local.q95"])
    assert titles(fig) == ["residual by frequency band",
                           "Hamming distance of pairs: local pairs, 95th percentile"]
    with pytest.raises(ValueError, match="keys: \\['nope'\\]"):
        record_curves(mon.history, ["nope"])
    with pytest.raises(ValueError, match="step_name"):
        record_curves(mon.history, step_name="epoch")
    with pytest.raises(ValueError, match="records: nothing recorded"):
        record_curves([])


def test_seeds_are_drawn_as_mean_and_band():
    recs = [{"epoch": e, "seed": s, "loss": 1.0 / (e + 1) + 0.1 * s} for s in range(3)
            for e in range(4)]
    fig = record_curves(recs, ["loss"], step_name="epoch")
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), [1.0 / (e + 1) + 0.1 for e in range(4)])
    assert fig.axes[0].collections, "min-max band over the seeds"
    assert "mean of 3 seeds" in fig.get_supxlabel()


def test_training_curves_show_epoch_loss_and_records():
    records = [{"epoch": 0, "loss": 1.0, "psnr": 3.0}, {"epoch": 2, "loss": 0.5, "psnr": 6.0}]
    fig = training_curves([0.9, 0.6], records)
    assert titles(fig) == ["fit error", "PSNR of the fit"]
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["on the monitored points", "training, mean of the epoch"]


def test_count_text_marks_saturation_and_the_grid():
    rec = {"regions": 4096, "regions_grid": {"shape": [64, 64], "points": 4096,
                                             "saturated": True,
                                             "display": ">= 4096 (saturated)"}}
    assert record_count_text(rec) == ">= 4096 (saturated) on the 64x64 grid"
    assert "finer grid" in record_count_text(rec, hint=True)
