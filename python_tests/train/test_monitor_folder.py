"""A monitor's out folder: nothing an earlier monitor (or anyone) wrote there is lost."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from specbias_ext.data.grids import grid_coords
from specbias_ext.runs.ownership import FolderInUse
from specbias_ext.train.measurements import DivergedError
from specbias_ext.train.monitor import RegionMonitor
from specbias_ext.train.records import read_records

pytestmark = pytest.mark.usefixtures("one_thread")

MEASURE = ("loss", "regions", "neurons")


def problem(seed=0):
    coords = grid_coords((48,))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(),
                          nn.Linear(12, 1))
    return coords, torch.sin(5.0 * coords), model


def monitor(out, **kwargs):
    coords, y, _ = problem()
    return RegionMonitor(coords, target=y, every=1, measurements=kwargs.pop("measurements",
                                                                           MEASURE),
                         out=str(out), tensorboard=False, **kwargs)


def first_run(out, steps=(0, 1)):
    _, _, model = problem()
    mon = monitor(out)
    for step in steps:
        mon(model, step)
    return mon


def test_a_second_monitor_on_the_folder_is_refused_and_names_resume_and_overwrite(tmp_path):
    out = tmp_path / "runs_x"
    first = first_run(out)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(FolderInUse) as err:
        monitor(out)
    message = str(err.value)
    assert "resume=True" in message and "overwrite=True" in message and str(out) in message
    after = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before                                  # not even settings.json replaced
    assert [r["step"] for r in read_records(out)] == [r["step"] for r in first.history]


def test_resume_appends_and_skips_recorded_steps(tmp_path):
    out = tmp_path / "runs_x"
    first_run(out, steps=(0, 1))
    with np.load(out / "arrays" / "step_000000.npz") as a:
        ids0 = a["region_ids"].copy()
    _, _, other = problem(seed=5)                           # a different model continues
    mon = monitor(out, resume=True)
    assert [r["step"] for r in mon.history] == [0, 1]
    assert mon(other, 1) is None                            # already recorded
    mon(other, 2)
    mon(other, 3)
    assert [r["step"] for r in read_records(out)] == [0, 1, 2, 3]
    with np.load(out / "arrays" / "step_000000.npz") as a:
        np.testing.assert_array_equal(a["region_ids"], ids0)
    assert (out / "arrays" / "step_000003.npz").is_file()
    assert mon.series("regions")[0] == [0, 1, 2, 3]


def test_resume_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "runs_x"
    first_run(out)
    with pytest.raises(ValueError, match="resume.*measurements.*overwrite=True"):
        monitor(out, resume=True, measurements=("regions",))
    with pytest.raises(ValueError, match="resume.*output: None there, '4' now"):
        monitor(out, resume=True, output="4")            # another head of the model
    assert [r["step"] for r in read_records(out)] == [0, 1]


def test_overwrite_replaces_only_the_monitors_own_files(tmp_path):
    out = tmp_path / "runs_x"
    first_run(out, steps=(0, 1, 2))
    (out / "notes.txt").write_text("mine")
    (out / "arrays" / "keep.npz").write_bytes(b"user data")
    mon = monitor(out, overwrite=True)
    _, _, model = problem()
    mon(model, 0)
    assert [r["step"] for r in read_records(out)] == [0]
    assert sorted(p.name for p in (out / "arrays").iterdir()) == ["keep.npz", "step_000000.npz"]
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "arrays" / "keep.npz").read_bytes() == b"user data"


def test_resume_and_overwrite_together_and_resume_of_nothing_are_refused(tmp_path):
    with pytest.raises(ValueError, match="resume=True and overwrite=True: choose one"):
        monitor(tmp_path / "x", resume=True, overwrite=True)
    with pytest.raises(ValueError, match="resume=True: .*nothing"):
        monitor(tmp_path / "x", resume=True)
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="out"):
        coords, y, _ = problem()
        RegionMonitor(coords, target=y, measurements=MEASURE, resume=True)


def test_a_diverging_model_is_one_error_and_the_folder_stays_resumable(tmp_path):
    out = tmp_path / "runs_x"
    first = first_run(out, steps=(0,))
    _, _, model = problem()
    with torch.no_grad():
        model[2].weight.fill_(float("inf"))
    with pytest.raises(DivergedError, match="(?s)step 1.*diverged.*resume=True"):
        first(model, 1)
    assert [r["step"] for r in read_records(out)] == [0] and len(first.history) == 1
    assert not (out / "arrays" / "step_000001.npz").exists()
    _, _, healthy = problem()
    resumed = monitor(out, resume=True)
    resumed(healthy, 1)
    assert [r["step"] for r in read_records(out)] == [0, 1]


def test_settings_say_what_the_records_hold(tmp_path):
    out = tmp_path / "runs_x"
    first_run(out)
    settings = json.loads((out / "settings.json").read_text())
    assert settings["grid_shape"] == [48] and settings["points"] == 48
    assert settings["step_name"] == "step" and settings["notes"] == []
