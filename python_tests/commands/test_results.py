import json
import os

import numpy as np
import pytest
import torch

from specbias_ext.runs.files import (
    RunDirectory, atomic_save_npz, atomic_torch_save, atomic_write_bytes, atomic_write_json,
)


def test_atomic_writes_round_trip_and_leave_no_temp_files(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"abc")
    atomic_write_bytes(tmp_path / "a.bin", b"xyz")
    assert (tmp_path / "a.bin").read_bytes() == b"xyz"
    atomic_write_json(tmp_path / "r.json", {"x": torch.tensor([1.5, 2.0]), "nan": float("nan"),
                                            "t": (1, 2), "np": np.float32(0.5)})
    assert json.loads((tmp_path / "r.json").read_text()) == {"x": [1.5, 2.0], "nan": None,
                                                             "t": [1, 2], "np": 0.5}
    atomic_save_npz(tmp_path / "a.npz", ids=torch.arange(6).reshape(2, 3), h=np.ones(3))
    with np.load(tmp_path / "a.npz") as data:
        assert data["ids"].tolist() == [[0, 1, 2], [3, 4, 5]]
    atomic_torch_save(tmp_path / "c.pt", {"w": torch.ones(2)})
    assert torch.equal(torch.load(tmp_path / "c.pt")["w"], torch.ones(2))
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "a.npz", "c.pt", "r.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    atomic_write_json(tmp_path / "r.json", {"ok": 1})

    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "r.json", {"bad": Unserialisable()})
    assert json.loads((tmp_path / "r.json").read_text()) == {"ok": 1}
    assert os.listdir(tmp_path) == ["r.json"]


def test_run_directory(tmp_path):
    run = RunDirectory(tmp_path / "run")
    assert not run.has_checkpoint()
    with pytest.raises(ValueError, match="run_dir"):
        run.load_checkpoint()
    run.write_results({"a": 1})
    run.write_arrays({"m": np.zeros((2, 2))})
    run.save_checkpoint({"epoch": 3})
    assert run.read_results() == {"a": 1} and run.read_arrays()["m"].shape == (2, 2)
    assert run.load_checkpoint()["epoch"] == 3
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="run_dir"):
        RunDirectory(tmp_path / "file")
