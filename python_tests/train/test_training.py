import json
import math

import numpy as np
import pytest
import torch

from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.train.measurements import DivergedError
from specbias_ext.train.monitor import MonitorConfig
from specbias_ext.train.recorder import Recorder
from specbias_ext.data.samplers import PairSampling
from specbias_ext.data.grids import grid_coords
from specbias_ext.data.signals import load_image, sum_of_sines
from specbias_ext.train.trainer import TrainConfig, TrainingDiverged, train


pytestmark = pytest.mark.usefixtures("one_thread")

CFG = MonitorConfig(pairs=PairSampling(num_windows=2, window=8, pairs_per_window=10,
                                        global_pairs=30))


def setup(encoding="pe:3", seed=0, n=128, every=None, at=None):
    sig = sum_of_sines(n, (3, 8, 20), seed=seed)
    model = CoordinateMLP(encoding, depth=3, width=32, in_dim=1, seed=seed)
    rec = Recorder(sig.coords(), (n,), sig.target(), CFG, signal_freqs=sig.freqs, every=every,
                   at=at)
    return sig, model, rec


def strip(records):
    return [{k: v for k, v in r.items() if k != "record_seconds"} for r in records]


@pytest.mark.parametrize("batch_size,optimizer", [(None, "adam"), (48, "adam"), (32, "sgd")])
def test_same_seed_same_numbers(batch_size, optimizer):
    results = []
    for _ in range(2):
        sig, model, rec = setup(every=3)
        cfg = TrainConfig(epochs=6, batch_size=batch_size, optimizer=optimizer, quiet=True,
                          lr=1e-2 if optimizer == "sgd" else 1e-3)
        res = train(model, sig.coords(), sig.target(), cfg, monitor=rec)
        results.append((res, [p.detach().clone() for p in model.parameters()]))
    (a, pa), (b, pb) = results
    assert a.loss == b.loss and strip(a.records) == strip(b.records)
    assert all(torch.equal(p, q) for p, q in zip(pa, pb))
    assert [r["epoch"] for r in a.records] == [0, 3, 6]


def test_minibatch_order_depends_on_the_seed_and_training_learns():
    losses = []
    for seed in (0, 1):
        sig, model, _ = setup()
        res = train(model, sig.coords(), sig.target(),
                    TrainConfig(epochs=12, batch_size=32, seed=seed, quiet=True, lr=1e-2))
        losses.append(res.loss)
    assert losses[0] != losses[1]
    assert losses[0][-1] < 0.8 * losses[0][0]


def test_resume_continues_the_same_trajectory(tmp_path):
    k = 4
    sig, model, rec = setup(every=2)
    full_cfg = TrainConfig(epochs=2 * k, batch_size=40, quiet=True)
    full = train(model, sig.coords(), sig.target(), full_cfg, monitor=rec,
                 run_dir=tmp_path / "full", figures=False)
    full_params = [p.detach().clone() for p in model.parameters()]

    sig, model, rec = setup(every=2)
    train(model, sig.coords(), sig.target(),
          TrainConfig(epochs=k, batch_size=40, quiet=True), monitor=rec,
          run_dir=tmp_path / "split", figures=False)
    sig, model, rec = setup(every=2)     # a fresh process would start from a fresh model
    torch.manual_seed(1234)              # global RNG must not matter
    resumed = train(model, sig.coords(), sig.target(), full_cfg, monitor=rec,
                    run_dir=tmp_path / "split", resume=True, figures=False)
    assert resumed.loss == full.loss
    assert strip(resumed.records) == strip(full.records)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), full_params))
    saved = json.loads((tmp_path / "split" / "results.json").read_text())
    assert saved["epoch"] == 2 * k and len(saved["loss"]) == 2 * k
    with np.load(tmp_path / "split" / "arrays.npz") as arrays:
        assert {f"region_ids_e{e:06d}" for e in (0, 2, 4, 6, 8)} <= set(arrays.files)


def test_run_directory_contents(tmp_path):
    sig, model, rec = setup(at=[0, 3])
    train(model, sig.coords(), sig.target(),
          TrainConfig(epochs=3, quiet=True, checkpoint_every=1), monitor=rec, run_dir=tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["settings"]["model"] == model.describe()
    assert results["settings"]["monitor"]["at"] == [0, 3]
    assert [r["epoch"] for r in results["records"]] == [0, 3]
    assert results["records"][0]["regions"] >= 1
    assert results["provenance"]["device"] == "cpu" and "specbias_ext" in \
        results["provenance"]["package"]
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 3 and set(state) >= {"model", "optimizer", "shuffle_rng", "loss"}
    for figure in ("loss.png", "curves.png"):
        assert (tmp_path / figure).read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "fit.png").exists()           # no fit saved: no fit figure


def test_run_directory_draws_the_region_maps_the_monitor_saved(tmp_path):
    from PIL import Image
    coords = grid_coords((16, 16))
    target = load_image("camera", 16).reshape(-1, 1)
    model = CoordinateMLP("raw", depth=2, width=16, in_dim=2, seed=0)
    rec = Recorder(coords, (16, 16), target, MonitorConfig(pairs=None), at=[0, 2, 4])
    train(model, coords, target, TrainConfig(epochs=4, quiet=True), monitor=rec,
          run_dir=tmp_path)
    for figure in ("loss", "curves", "region_map", "region_maps_over_training"):
        assert (tmp_path / f"{figure}.png").read_bytes()[:4] == b"\x89PNG", figure
    assert not (tmp_path / "fit.png").exists()          # the trainer saves no fit to draw
    with Image.open(tmp_path / "regions_over_training.gif") as gif:
        assert gif.n_frames == 3                          # one frame per record
    assert not (tmp_path / "lc_map.png").exists()       # no local complexity recorded


def test_run_directory_draws_the_local_complexity_the_monitor_saved(tmp_path):
    coords = grid_coords((16, 16))
    target = load_image("camera", 16).reshape(-1, 1)
    model = CoordinateMLP("raw", depth=2, width=16, in_dim=2, seed=0)
    rec = Recorder(coords, (16, 16), target, MonitorConfig(measurements=("regions", "lc")),
                   at=[0, 2])
    train(model, coords, target, TrainConfig(epochs=2, quiet=True), monitor=rec,
          run_dir=tmp_path)
    assert (tmp_path / "lc_map.png").read_bytes()[:4] == b"\x89PNG"


def test_a_diverging_run_stops_with_one_clear_error_before_saving_it(tmp_path):
    sig, model, rec = setup(every=1)
    with pytest.raises(TrainingDiverged, match="lr: training diverged at epoch [0-9]+ .*smaller "
                                               "learning rate") as err:
        train(model, sig.coords(), sig.target(),
              TrainConfig(epochs=30, lr=1e30, optimizer="sgd", quiet=True, checkpoint_every=1),
              monitor=rec, run_dir=tmp_path)
    assert isinstance(err.value, DivergedError) and err.value.epoch == len(rec.history)
    assert rec.history and all(math.isfinite(r["loss"]) for r in rec.history)
    if err.value.saved_epoch is None:
        assert not (tmp_path / "checkpoint.pt").exists()
    else:                                                # only checkpoints of finite epochs
        state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
        assert all(bool(torch.isfinite(v).all()) for v in state["model"].values())
        assert all(math.isfinite(v) for v in state["loss"])
        assert state["epoch"] == err.value.saved_epoch == err.value.epoch - 1


def test_resume_with_other_settings_is_refused(tmp_path):
    sig, model, _ = setup()
    train(model, sig.coords(), sig.target(), TrainConfig(epochs=1, quiet=True), run_dir=tmp_path,
          figures=False)
    sig, model, _ = setup()
    with pytest.raises(ValueError, match="config"):
        train(model, sig.coords(), sig.target(), TrainConfig(epochs=2, lr=0.5, quiet=True),
              run_dir=tmp_path, resume=True)
    other = CoordinateMLP("pe:2", depth=3, width=32, in_dim=1)
    with pytest.raises(ValueError, match="run_dir"):
        train(other, sig.coords(), sig.target(), TrainConfig(epochs=2, quiet=True),
              run_dir=tmp_path, resume=True)


@pytest.mark.parametrize("kwargs,match", [
    (dict(epochs=-1), "epochs"), (dict(epochs=2, lr=0), "lr"),
    (dict(epochs=2, optimizer="rmsprop"), "optimizer"), (dict(epochs=2, batch_size=0), "batch_size"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_without_a_gpu_is_an_error():
    with pytest.raises(ValueError, match="device"):
        TrainConfig(epochs=1, device="cuda")


def test_bad_data_fails_before_training(tmp_path):
    sig, model, rec = setup()
    before = [p.detach().clone() for p in model.parameters()]
    cfg = TrainConfig(epochs=2, quiet=True)
    bad_coords = sig.coords().clone()
    bad_coords[3] = float("nan")
    with pytest.raises(ValueError, match="coords"):
        train(model, bad_coords, sig.target(), cfg, run_dir=tmp_path / "a")
    with pytest.raises(ValueError, match="target"):
        train(model, sig.coords(), sig.target()[:5], cfg)
    with pytest.raises(ValueError, match="coords"):
        train(model, torch.rand(128, 2), sig.target(), cfg)
    with pytest.raises(ValueError, match="monitor"):
        train(model, sig.coords(), sig.target(), cfg, monitor=object())
    short = Recorder(sig.coords()[:64], (64,), sig.target()[:64], CFG, signal_freqs=(3, 8, 20))
    with pytest.raises(ValueError, match="monitor"):
        train(model, sig.coords(), sig.target(), cfg, monitor=short)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))
    assert not (tmp_path / "a").exists()


from conftest import requires_cuda  # noqa: E402


@requires_cuda
def test_cuda_training_is_deterministic_and_close_to_cpu():
    runs = []
    for device in ("cuda", "cuda", "cpu"):
        sig, model, rec = setup()
        model = model.double()
        rec = Recorder(sig.coords().double(), (128,), sig.target().double(), CFG,
                       signal_freqs=sig.freqs, every=5)
        res = train(model, sig.coords().double(), sig.target().double(),
                    TrainConfig(epochs=5, batch_size=40, quiet=True, device=device),
                    monitor=rec)
        runs.append(res)
    assert runs[0].loss == runs[1].loss
    np.testing.assert_allclose(runs[0].loss, runs[2].loss, rtol=1e-8)
    assert runs[0].records[-1]["regions"] == runs[2].records[-1]["regions"]
