"""The monitor's local-complexity measurement: the record is ``measure.local_complexity`` on the
monitored points (through the monitor's encoder), its radius the grid step unless given."""
import numpy as np
import pytest
import torch
from torch import nn

from specbias_ext import measure
from specbias_ext.data.grids import grid_coords
from specbias_ext.nets.encodings import make_encoding
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.nets.network import relu_network
from specbias_ext.plots.curves import record_curves
from specbias_ext.train.measurements import DEFAULT_MEASUREMENTS, MonitorConfig
from specbias_ext.train.monitor import RegionMonitor
from specbias_ext.train.monitor_inputs import grid_step

pytestmark = pytest.mark.usefixtures("one_thread")


def mlp(in_dim, width=16, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(in_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, 1))


def test_lc_is_off_by_default_and_radius_defaults_to_the_grid_step():
    assert "lc" not in DEFAULT_MEASUREMENTS and "lc" not in MonitorConfig().measurements
    coords = grid_coords((16, 24), coord_range=(-1.0, 1.0))
    mon = RegionMonitor(coords, measurements=("lc",), every=1)
    assert mon.config.lc_radius == pytest.approx(2.0 / 24, rel=1e-6)   # the finer axis
    assert mon.settings()["config"]["lc_radius"] == mon.config.lc_radius
    assert grid_step(grid_coords((10,)), (10,)) == pytest.approx(0.1, rel=1e-6)
    given = RegionMonitor(coords, config=MonitorConfig(measurements=("lc",), lc_radius=0.5))
    assert given.config.lc_radius == 0.5


@pytest.mark.parametrize("encoding", ["raw", "pe:2"])
def test_record_equals_measure_on_the_same_points(encoding):
    coords = grid_coords((20, 20))
    enc = None if encoding == "raw" else make_encoding(encoding, 2)
    model = mlp(2 if enc is None else enc.out_dim)
    mon = RegionMonitor(coords, encoding=enc, measurements=("regions", "lc"), every=1)
    rec = mon(model, 0)
    expected = measure.local_complexity(coords, enc, relu_network(model), mon.config.lc_radius)
    assert rec["lc"] == expected.summary()
    assert rec["lc"]["mean"] > 0                    # the test network has boundaries in reach
    np.testing.assert_array_equal(mon.arrays["lc_s000000"],
                                  expected.total.numpy().reshape(20, 20))


def test_model_with_its_own_encoding_and_first_order():
    coords = grid_coords((12, 12))
    model = CoordinateMLP("pe:2", depth=2, width=16, in_dim=2)
    cfg = MonitorConfig(measurements=("lc",), lc_method="first_order", save_lc_values=False)
    mon = RegionMonitor(coords, config=cfg, every=1)
    rec = mon(model, 0)
    expected = measure.local_complexity(coords, model.encode, relu_network(model),
                                        mon.config.lc_radius, method="first_order")
    assert rec["lc"] == expected.summary() and rec["lc"]["method"] == "first_order"
    assert not any(k.startswith("lc") for k in mon.arrays)


def test_scattered_points_need_a_radius_and_bad_settings_are_refused():
    torch.manual_seed(0)
    points = torch.rand(50, 2)
    with pytest.raises(ValueError, match="lc_radius: the points are not a grid"):
        RegionMonitor(points, measurements=("lc",))
    mon = RegionMonitor(points, config=MonitorConfig(measurements=("lc",), lc_radius=0.05),
                        every=1)
    rec = mon(mlp(2), 0)
    assert rec["lc"]["points"] == 50 and mon.arrays["lc_s000000"].shape == (50,)
    for bad in (0, -1.0, float("nan"), float("inf"), "wide", True):
        with pytest.raises(ValueError, match="lc_radius"):
            MonitorConfig(measurements=("lc",), lc_radius=bad)
    with pytest.raises(ValueError, match="lc_method"):
        MonitorConfig(lc_method="hull")


def test_records_plot_an_lc_panel():
    coords = grid_coords((8, 8))
    mon = RegionMonitor(coords, measurements=("regions", "lc"), every=1)
    for step in (0, 1):
        mon(mlp(2, seed=step), step)
    fig = record_curves(mon.history)
    titles = [ax.get_title() for ax in fig.axes]
    assert "local complexity" in titles
