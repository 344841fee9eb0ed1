"""The monitor's arguments: grids inferred only from coordinates that are one, and one clear
error naming the argument for each bad value."""
import math
import warnings

import pytest
import torch
from torch import nn

from specbias_ext import measure
from specbias_ext.data.grids import grid_coords
from specbias_ext.nets.encodings import make_encoding
from specbias_ext.nets.network import relu_network
from specbias_ext.train.monitor import RegionMonitor
from specbias_ext.train.monitor_inputs import infer_grid_shape

pytestmark = pytest.mark.usefixtures("one_thread")


def mlp(in_dim=1, width=16, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(in_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, 1))


@pytest.mark.parametrize("coords,shape", [
    (grid_coords((64,)), (64,)),
    (grid_coords((64,), (-1.0, 1.0)).double(), (64,)),
    (grid_coords((12, 9)), (12, 9)),
    (torch.rand(64, 1, generator=torch.Generator().manual_seed(0)), None),     # unsorted
    (grid_coords((64,)).flip(0), None),                                        # decreasing
    (torch.linspace(0, 1, 64).square().unsqueeze(1), None),                    # uneven steps
    (grid_coords((12, 9))[torch.randperm(108, generator=torch.Generator().manual_seed(0))],
     None),                                                                    # shuffled grid
    (grid_coords((9, 12))[:, [1, 0]], None),                                   # column-major
    (grid_coords((4, 4, 4)), None),
    (torch.zeros(1, 1), None),                                                 # one point
])
def test_a_grid_is_inferred_only_from_coordinates_that_are_one(coords, shape):
    assert infer_grid_shape(coords) == shape


def test_unsorted_1d_points_get_no_neighbour_statistics_and_a_note():
    pts = torch.rand(64, 1, generator=torch.Generator().manual_seed(0))
    model = mlp()
    with pytest.warns(UserWarning, match="not a sorted, evenly spaced grid.*hamming"):
        mon = RegionMonitor(pts, target=torch.sin(6 * pts), every=1,
                            measurements=("regions", "hamming", "loss"))
    rec = mon(model, 0)
    assert mon.grid_shape is None and mon.pairs == {}
    assert "hamming_local" not in rec and "neighbor_boundary_frac" not in rec
    assert rec["regions"] == measure.region_count(measure.patterns(pts, relu_network(model)))
    assert rec["regions_grid"]["shape"] is None and rec["regions_grid"]["points"] == 64
    assert mon.notes and "grid_shape=" in mon.notes[0] and mon.settings()["notes"] == mon.notes
    # The same points sorted are a grid again (when evenly spaced), or given one explicitly.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        given = RegionMonitor(pts, every=1, grid_shape=(64,), measurements=("regions", "hamming"))
    assert given.grid_shape == (64,) and given.notes == []


def test_only_neighbour_measurements_on_scattered_points_is_an_error():
    with pytest.raises(ValueError, match="grid_shape"):
        RegionMonitor(torch.rand(30, 2), target=torch.rand(30), measurements=("hamming",))


@pytest.mark.parametrize("kwargs,match", [
    (dict(every="abc"), r"every: expected an int >= 1.*'abc'"),
    (dict(every=2.5), r"every: expected an int >= 1.*2\.5"),
    (dict(every=0), r"every: expected an int >= 1"),
    (dict(every=True), r"every: expected an int >= 1"),
    (dict(at=[1.5]), r"at: expected a list of steps"),
    (dict(at=5), r"at: expected a list of steps"),
    (dict(out=""), r"out: empty path"),
    (dict(encoding="pe:x"), r"encoding: unknown encoding 'pe:x'"),
    (dict(encoding=5), r"encoding: expected an encoding module, a callable or a spec string"),
    (dict(step_name=""), r"step_name: expected a name"),
    (dict(tensorboard=True), r"tensorboard: needs out"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    coords = grid_coords((32,))
    with pytest.raises(ValueError, match=match):
        RegionMonitor(coords, target=torch.sin(coords), measurements=("regions",), **kwargs)


def test_out_that_is_a_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "records"
    path.write_text("user file")
    coords = grid_coords((32,))
    with pytest.raises(ValueError, match=r"out .*is a file, expected a folder"):
        RegionMonitor(coords, measurements=("regions",), out=str(path))
    assert path.read_text() == "user file"


def test_an_encoding_spec_string_is_built_for_the_coordinates():
    coords = grid_coords((32,))
    model = mlp(in_dim=8)
    mon = RegionMonitor(coords, encoding="pe:4", every=1, measurements=("regions",))
    x = make_encoding("pe:4", 1)(coords.double()).float()
    assert mon(model, 0)["regions"] == measure.region_count(
        measure.patterns(x, relu_network(model)))


def test_a_half_precision_model_is_refused_naming_the_model():
    coords = grid_coords((32,))
    mon = RegionMonitor(coords, target=torch.sin(coords), every=1, measurements=("regions",))
    with pytest.raises(ValueError, match=r"model: its parameters are torch.float16.*float32"):
        mon(mlp().half(), 0)
    assert mon.history == []


def test_a_step_that_is_not_an_int_is_refused():
    coords = grid_coords((32,))
    mon = RegionMonitor(coords, every=1, measurements=("regions",))
    with pytest.raises(ValueError, match=r"step: expected an int >= 0, got 2\.5"):
        mon.record(mlp(), 2.5)


def test_a_saturated_count_is_marked_in_the_record():
    coords = grid_coords((64,))
    torch.manual_seed(0)
    enc = make_encoding("pe:6", 1)
    model = mlp(in_dim=enc.out_dim, width=64)
    rec = RegionMonitor(coords, encoding=enc, every=1, measurements=("regions",))(model, 0)
    grid = rec["regions_grid"]
    assert grid["saturated"] == (rec["regions"] > 0.5 * 64)
    assert grid["display"] == (f">= {rec['regions']} (saturated)" if grid["saturated"]
                               else str(rec["regions"]))
    assert grid["saturated"], "this network should saturate a 64-point grid"
    assert math.isclose(rec["largest_region_frac"] * 64, round(rec["largest_region_frac"] * 64))
