"""runs.checkpoints: the `specbias train` checkpoint and grid.json, written and read in one
place."""
import pytest
import torch

from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.runs import checkpoints as C


def _write(path, model, epoch=3):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = torch.Generator().manual_seed(5)
    C.write_checkpoint(path, model=model, optimizer=opt, shuffle_rng=rng.get_state(),
                       epoch=epoch, loss=[1.0, 0.5, 0.25], timings={"train_seconds": 1.5},
                       model_config=model.describe(), trajectory={"lr": 1e-3},
                       monitor={"seen": 2})
    return opt, rng


def test_written_checkpoint_reads_back_and_rebuilds_the_model(tmp_path):
    model = CoordinateMLP("pe:2", depth=2, width=8, in_dim=2, seed=1)
    opt, rng = _write(tmp_path / "checkpoint.pt", model)
    state = C.read_checkpoint(tmp_path / "checkpoint.pt")
    assert sorted(state) == sorted(["model", "optimizer", "shuffle_rng", "epoch", "loss",
                                    "timings", "model_config", "trajectory", "monitor"])
    assert state["epoch"] == 3 and state["loss"] == [1.0, 0.5, 0.25]
    assert torch.equal(state["shuffle_rng"], rng.get_state())
    assert state["optimizer"]["param_groups"] == opt.state_dict()["param_groups"]
    C.write_grid(tmp_path, {"grid_shape": [6, 5], "coord_range": [-1.0, 1.0]})
    loaded, grid = C.load_trained_model(str(tmp_path / "checkpoint.pt"))
    assert grid == {"grid_shape": [6, 5], "coord_range": [-1.0, 1.0]}
    x = torch.rand(7, 2)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_grid_file_is_optional_and_a_broken_one_is_named(tmp_path):
    assert C.read_grid(tmp_path / "checkpoint.pt") == {}
    (tmp_path / C.GRID_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=r"grid\.json: cannot read it .*--grid"):
        C.read_grid(tmp_path / "checkpoint.pt")


def test_load_refuses_missing_foreign_and_mismatched_checkpoints(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        C.load_trained_model(str(tmp_path / "none.pt"))
    torch.save({"weights": torch.ones(2)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a checkpoint of `specbias train`"):
        C.load_trained_model(str(tmp_path / "foreign.pt"))
    small = CoordinateMLP("raw", depth=2, width=4, in_dim=1, seed=0)
    torch.save({"model_config": CoordinateMLP("raw", depth=2, width=6, in_dim=1).describe(),
                "model": small.state_dict()}, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="do not fit the model it describes"):
        C.load_trained_model(str(tmp_path / "mismatch.pt"))
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint\n" * 4)
    with pytest.raises(ValueError, match="garbage.pt"):   # files.CheckpointError, never unpickled
        C.load_trained_model(str(tmp_path / "garbage.pt"))
