"""RegionMonitor inside a user's own training loop: schedule, side effects, files, readback."""
import json
import os

import numpy as np
import pytest
import torch
from torch import nn

import specbias_ext as se
from specbias_ext import measure
from specbias_ext.nets.encodings import make_encoding
from specbias_ext.data.grids import grid_coords
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.train.monitor import MonitorConfig, RegionMonitor
from specbias_ext.train.monitor_inputs import infer_grid_shape
from specbias_ext.train.records import read_records
from specbias_ext.nets.network import relu_network
from specbias_ext.data.samplers import PairSampling

pytestmark = pytest.mark.usefixtures("one_thread")

PAIRS = PairSampling(num_windows=3, window=8, pairs_per_window=10, global_pairs=40,
                     num_patches=3, patch=3, pairs_per_patch=10, corner_pairs=20)


def sequential(in_dim, width=16, out=1, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(in_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, out))


def problem_1d(n=64):
    coords = grid_coords((n,))
    enc = make_encoding("pe:2", 1)
    y = torch.sin(6.0 * coords)
    return coords, enc, y, sequential(enc.out_dim)


def user_loop(model, enc, coords, y, monitor, steps, lr=1e-2):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = enc(coords)
    for step in range(steps):
        opt.zero_grad()
        loss = (model(x) - y).square().mean()
        loss.backward()
        opt.step()
        monitor(model, step)


def test_records_when_due_and_series():
    coords, enc, y, model = problem_1d()
    mon = RegionMonitor(coords, target=y, encoding=enc, every=3,
                        config=MonitorConfig(measurements=("regions", "hamming", "confusion"),
                                             pairs=PAIRS))
    assert mon(model, 1) is None and mon.history == []
    rec = mon(model, 3)
    assert rec is not None and rec["step"] == 3 and mon.history == [rec]
    assert mon(model, 3) is None                       # a step is recorded once
    user_loop(model, enc, coords, y, mon, steps=10)
    steps, regions = mon.series("regions")
    assert steps == [3, 0, 6, 9] and regions == [r["regions"] for r in mon.history]
    assert set(rec) >= {"loss", "psnr", "hamming_local", "confusion_global"}
    assert "dead_neurons" not in rec
    light = RegionMonitor(coords, target=y, encoding=enc, every=1,
                          config=MonitorConfig(measurements=("regions", "hamming"), pairs=PAIRS))
    assert "loss" not in light(model, 0)                # pattern measurements only: no forward
    with pytest.raises(KeyError, match="key"):
        mon.series("hamming_local.nope")


def test_record_equals_the_measurement_functions():
    coords, enc, y, model = problem_1d()
    mon = RegionMonitor(coords, target=y, encoding=enc, every=1,
                        measurements=("regions", "hamming", "confusion", "neurons"),
                        config=MonitorConfig(pairs=PAIRS))
    rec = mon(model, 0)
    net = relu_network(model).detach()
    x = enc(coords.double()).float()          # the monitor encodes in float64
    p = measure.patterns(x, net)
    assert rec["regions"] == measure.region_count(p)
    assert rec["dead_neurons"] == measure.neuron_activity(p, net).dead
    i, j = mon.pairs["local"]
    assert rec["hamming_local"]["mean"] == pytest.approx(
        float(measure.mean_pair_hamming(p, i, j)))
    g = measure.mse_grad_out(model(x).detach(), y)
    conf = measure.confusion_pairs(x, net, g, i, j)
    np.testing.assert_allclose(mon.arrays["confusion_local_s000000"], conf.numpy(), atol=1e-6)
    assert rec["loss"] == pytest.approx(float((model(x) - y).detach().square().mean()), rel=1e-5)


def test_leaves_the_model_and_rng_alone():
    coords, enc, y, model = problem_1d()
    mon = RegionMonitor(coords, target=y, encoding=enc, every=1,
                        config=MonitorConfig(pairs=PAIRS, measurements=(
                            "regions", "hamming", "confusion", "neurons", "grad_norms",
                            "region_grads")))
    (model(enc(coords)) - y).square().mean().backward()
    params = [p.detach().clone() for p in model.parameters()]
    grads = [p.grad.clone() for p in model.parameters()]
    ptrs = [p.data_ptr() for p in model.parameters()]
    for mode in (True, False):
        model.train(mode)
        rng = torch.get_rng_state()
        mon.record(model, 0)
        assert torch.equal(torch.get_rng_state(), rng)
        assert all(m.training == mode for m in model.modules())
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), params))
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert [p.data_ptr() for p in model.parameters()] == ptrs
    assert all(p.requires_grad for p in model.parameters())


def test_coordinate_mlp_uses_its_own_encoding_and_2d_grid():
    coords = grid_coords((12, 12))
    model = CoordinateMLP("pe:2", depth=2, width=16, in_dim=2)
    y = torch.rand(12, 12, 1, generator=torch.Generator().manual_seed(0))
    assert infer_grid_shape(coords) == (12, 12)
    mon = RegionMonitor(coords, target=y, every=1, config=MonitorConfig(
        pairs=PAIRS, measurements=("regions", "hamming", "spectral"), num_bands=3))
    rec = mon(model, 0)
    p = measure.patterns(model.encode(coords.double()).float(), relu_network(model).detach())
    assert rec["regions"] == measure.region_count(p)
    assert mon.arrays["region_ids_s000000"].shape == (12, 12)
    assert len(rec["band_residual"]) == 3


def test_writes_every_record_as_it_goes(tmp_path):
    coords, enc, y, model = problem_1d()
    out = tmp_path / "run"
    mon = RegionMonitor(coords, target=y, encoding=enc, every=2, out=str(out), tensorboard=False,
                        config=MonitorConfig(pairs=PAIRS,
                                             measurements=("loss", "regions", "hamming")))
    user_loop(model, enc, coords, y, mon, steps=3)          # records steps 0 and 2
    on_disk = read_records(str(out))                        # as a crash right now would leave
    assert [r["step"] for r in on_disk] == [0, 2]
    assert on_disk[-1]["regions"] == mon.history[-1]["regions"]
    with np.load(out / "arrays" / "step_000002.npz") as arrays:
        np.testing.assert_array_equal(arrays["region_ids"], mon.arrays["region_ids_s000002"])
    settings = json.loads((out / "settings.json").read_text())
    assert settings["every"] == 2 and settings["grid_shape"] == [64]
    assert not [f for f in os.listdir(out) if f.endswith(".specbias-tmp")]
    fig = mon.plot()
    assert (out / "monitor.png").read_bytes()[:4] == b"\x89PNG" and len(fig.axes) == 4


def test_tensorboard_scalars_when_available(tmp_path):
    coords, enc, y, model = problem_1d()
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="tensorboard"):
            RegionMonitor(coords, target=y, encoding=enc, out=str(tmp_path), tensorboard=True,
                          measurements=("regions",))
        return
    mon = RegionMonitor(coords, target=y, encoding=enc, every=1, out=str(tmp_path),
                        measurements=("regions",))
    mon(model, 0)
    mon.close()
    assert any(f.startswith("events") for f in os.listdir(tmp_path / "tensorboard"))


def test_clear_errors():
    coords, enc, y, model = problem_1d()
    with pytest.raises(ValueError, match="target"):
        RegionMonitor(coords, encoding=enc, measurements=("confusion",))
    with pytest.raises(ValueError, match="grid_shape"):
        RegionMonitor(torch.rand(30, 2), target=torch.rand(30), measurements=("hamming",))
    with pytest.raises(ValueError, match="every"):
        RegionMonitor(coords, target=y, encoding=enc, every=0, measurements=("regions",))
    with pytest.raises(ValueError, match="measurements"):
        RegionMonitor(coords, target=y, encoding=enc, measurements=("bogus",))
    mon = RegionMonitor(coords, target=y[:, :1].repeat(1, 2), encoding=enc, every=1,
                        measurements=("loss",))
    with pytest.raises(ValueError, match="target"):
        mon(model, 0)
    with pytest.raises((TypeError, ValueError)):
        RegionMonitor(coords, target=y, encoding=enc, measurements=("regions",),
                      every=1)(nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1)), 0)


def test_scattered_points_without_a_grid():
    pts = torch.rand(40, 2, generator=torch.Generator().manual_seed(1))
    model = sequential(2)
    mon = RegionMonitor(pts, every=1, measurements=("regions", "neurons"))
    rec = mon(model, 0)
    assert mon.grid_shape is None and "neighbor_boundary_frac" not in rec
    assert rec["regions"] == measure.region_count(measure.patterns(pts, relu_network(model)))


def test_exported_at_the_top_level():
    assert se.RegionMonitor is RegionMonitor and se.PairSampling is PairSampling


from conftest import requires_cuda  # noqa: E402


@requires_cuda
def test_runs_on_the_models_device():
    coords, enc, y, model = problem_1d()
    mon = RegionMonitor(coords, target=y, encoding=enc, every=1,
                        config=MonitorConfig(pairs=PAIRS, measurements=("regions", "hamming",
                                                                        "confusion")))
    cpu = mon.record(model, 0)
    gpu = mon.record(model.cuda(), 1)
    assert gpu["regions"] == cpu["regions"] and gpu["hamming_local"] == cpu["hamming_local"]
    assert gpu["confusion_local"]["mean"] == pytest.approx(cpu["confusion_local"]["mean"],
                                                           abs=1e-5)
    assert next(model.parameters()).is_cuda


def test_a_trainable_encoding_is_evaluated_every_record():
    coords = grid_coords((32,))
    enc = nn.Linear(1, 4)                                       # trainable: not cached
    model = sequential(4)
    mon = RegionMonitor(coords, encoding=enc, every=1, measurements=("regions",))
    first = mon(model, 0)["regions"]
    with torch.no_grad():
        enc.weight.mul_(50.0)
    want = measure.region_count(measure.patterns(enc(coords),
                                                 relu_network(model).detach()))
    assert mon(model, 1)["regions"] == want and first >= 1
