import json
import math

import numpy as np
import pytest
import torch

from specbias_ext import activation_patterns, relu_network
from specbias_ext.data.grids import grid_coords
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.train.monitor import MonitorConfig
from specbias_ext.train.recorder import Recorder
from specbias_ext.data.samplers import PairSampling
from specbias_ext import reference
from specbias_ext.reference import unpack_bits
from specbias_ext.runs.files import to_jsonable
from specbias_ext.data.signals import load_image, sum_of_sines
from specbias_ext.measure.spectral import radial_band_residual_2d, spectral_residual_1d
from specbias_ext.train.trainer import TrainConfig, train


pytestmark = pytest.mark.usefixtures("one_thread")

SMALL_1D = PairSampling(num_windows=3, window=8, pairs_per_window=10, global_pairs=40)


def small_1d(encoding="pe:3", n=64, seed=0):
    sig = sum_of_sines(n, (2, 5, 9), seed=seed, dtype=torch.float64)
    model = CoordinateMLP(encoding, depth=3, width=20, in_dim=1, seed=seed).double()
    cfg = MonitorConfig(seed=seed, pairs=SMALL_1D)
    rec = Recorder(sig.coords(), (n,), sig.target(), cfg, signal_freqs=sig.freqs)
    return sig, model, rec


def test_record_equals_direct_calculations_on_a_checkpoint(tmp_path):
    sig, model, rec = small_1d()
    rec.at = {5}
    train(model, sig.coords(), sig.target(), TrainConfig(epochs=5, quiet=True), monitor=rec,
          run_dir=tmp_path)
    loaded = CoordinateMLP.from_config(model.describe()).double()
    loaded.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=False)["model"])
    record = rec.history[-1]
    assert record["epoch"] == 5

    net = relu_network(loaded).detach()
    x = loaded.encode(sig.coords()).detach()
    fit = loaded(sig.coords()).detach()
    y = sig.target()
    mse = float((fit - y).square().mean())
    assert record["loss"] == pytest.approx(mse, rel=1e-12)
    assert record["psnr"] == pytest.approx(10 * math.log10(float(y.max() - y.min()) ** 2 / mse))

    bits = unpack_bits(activation_patterns(x, net), 60)
    distinct = torch.unique(bits, dim=0).shape[0]
    assert record["regions"] == distinct
    sizes = rec.arrays["region_sizes_e000005"]
    assert sizes.sum() == 64 and len(sizes) == distinct
    ids = rec.arrays["region_ids_e000005"]
    for p in range(64):
        for q in range(p):
            assert (ids[p] == ids[q]) == bool((bits[p] == bits[q]).all())

    grad_out = 2 * (fit - y) / 1
    g = reference.flat_per_example_grads(x, net, grad_out)
    gnorm = g.norm(dim=1)
    for kind in ("local", "global"):
        i, j = rec.pairs[kind]
        ham = (bits[i] != bits[j]).sum(1).double()
        assert record[f"hamming_{kind}"]["mean"] == pytest.approx(float(ham.mean()))
        assert record[f"hamming_{kind}"]["max"] == float(ham.max())
        per_layer = [(bits[i][:, s:s + 20] != bits[j][:, s:s + 20]).sum(1).double().mean()
                     for s in (0, 20, 40)]
        np.testing.assert_allclose(record[f"hamming_{kind}_per_layer"], per_layer)
        conf = (g[i] * g[j]).sum(1) / (gnorm[i] * gnorm[j])
        np.testing.assert_allclose(rec.arrays[f"confusion_{kind}_e000005"], conf.numpy(),
                                   rtol=1e-5, atol=1e-6)
        assert record[f"confusion_{kind}"]["mean"] == pytest.approx(float(conf.mean()), abs=1e-9)
        assert sum(record[f"confusion_{kind}_hist"]) == i.numel()

    on = bits.sum(0)
    assert record["dead_neurons"] == int((on == 0).sum())
    assert record["always_on_neurons"] == int((on == 64).sum())
    assert record["grad_norm"]["mean"] == pytest.approx(float(gnorm.mean()))
    coherence = rec.arrays["region_coherence_e000005"]
    ids_t = torch.as_tensor(ids)
    for r in range(distinct):
        members = g[ids_t == r]
        expected = float(members.sum(0).norm() / members.norm(dim=1).sum())
        assert coherence[r] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(record["spectral_residual"],
                               spectral_residual_1d(fit, y, sig.freqs).numpy())
    json.dumps(to_jsonable(record), allow_nan=False)


def test_records_are_deterministic_and_pairs_fixed():
    sig, model, rec = small_1d(seed=3)
    a = rec.record(model, 0)
    b = rec.record(model, 0)
    a.pop("record_seconds"), b.pop("record_seconds")
    assert a == b
    _, _, other = small_1d(seed=3)
    for kind in rec.pairs:
        assert torch.equal(rec.pairs[kind][0], other.pairs[kind][0])


def test_confusion_same_with_and_without_grad_norm_pass():
    """The two confusion paths (norms from the grid-wide pass, or self-pairs) agree."""
    sig, model, _ = small_1d(seed=2)
    out = {}
    for measurements in (("confusion",), ("confusion", "grad_norms")):
        rec = Recorder(sig.coords(), (64,), sig.target(),
                       MonitorConfig(measurements=measurements, pairs=SMALL_1D))
        rec.record(model, 0)
        out[len(measurements)] = rec.arrays
    for kind in ("local", "global"):
        np.testing.assert_allclose(out[1][f"confusion_{kind}_e000000"],
                                   out[2][f"confusion_{kind}_e000000"], atol=1e-6)


def test_series_over_epochs():
    sig, model, rec = small_1d()
    rec.every = 2
    train(model, sig.coords(), sig.target(), TrainConfig(epochs=4, quiet=True), monitor=rec)
    epochs, hamming = rec.series("hamming_local.mean")
    assert epochs == [0, 2, 4] and hamming == [r["hamming_local"]["mean"] for r in rec.history]
    assert rec.series("regions")[1] == [r["regions"] for r in rec.history]
    with pytest.raises(KeyError, match="key"):
        rec.series("hamming_local.nope")


def test_2d_recorder_on_an_image():
    img = load_image("camera", size=16)
    coords = grid_coords((16, 16))
    model = CoordinateMLP("pe:2", depth=2, width=24, in_dim=2)
    cfg = MonitorConfig(pairs=PairSampling(num_patches=4, patch=4, pairs_per_patch=20,
                                           corner_pairs=30), num_bands=4, psnr_peak=1.0)
    rec = Recorder(coords, (16, 16), img, cfg)
    record = rec.record(model, 0)
    fit = model(coords).detach()
    expected = radial_band_residual_2d(fit.reshape(16, 16, 1), img, 4)
    np.testing.assert_allclose(record["band_residual"], expected.numpy(), rtol=1e-6)
    assert rec.arrays["region_ids_e000000"].shape == (16, 16)
    i, j = rec.pairs["global"]
    assert bool(((i // 16) < 4).all() and ((j // 16) >= 12).all())
    assert record["psnr"] == pytest.approx(10 * math.log10(1.0 / record["loss"]))


def test_only_requested_measurements():
    sig, model, _ = small_1d()
    rec = Recorder(sig.coords(), (64,), sig.target(),
                   MonitorConfig(measurements=("regions",), pairs=SMALL_1D))
    record = rec.record(model, 0)
    assert "regions" in record and "hamming_local" not in record and "confusion_local" not in record
    assert rec.pairs == {}


def test_recorder_errors():
    sig = sum_of_sines(64, (2, 5), dtype=torch.float64)
    with pytest.raises(ValueError, match="signal_freqs"):
        Recorder(sig.coords(), (64,), sig.target(), MonitorConfig(pairs=SMALL_1D))
    with pytest.raises(ValueError, match="target"):
        Recorder(sig.coords(), (64,), sig.target()[:10], MonitorConfig(pairs=SMALL_1D),
                 signal_freqs=sig.freqs)
    with pytest.raises(ValueError, match="grid_shape"):
        Recorder(sig.coords(), (1,), sig.target())
    with pytest.raises(ValueError, match="pairs_per_window"):
        Recorder(sig.coords(), (64,), sig.target(),
                 MonitorConfig(pairs=PairSampling(window=4, pairs_per_window=7)),
                 signal_freqs=sig.freqs)
    with pytest.raises(ValueError, match="num_pairs"):
        Recorder(sig.coords(), (64,), sig.target(),
                 MonitorConfig(pairs=PairSampling(global_pairs=10**6, window=8,
                                                  pairs_per_window=4)),
                 signal_freqs=sig.freqs)
    with pytest.raises(ValueError, match="measurements"):
        MonitorConfig(measurements=("bogus",))
    coords = grid_coords((8, 8))
    with pytest.raises(ValueError, match="num_bands"):
        Recorder(coords, (8, 8), torch.rand(64, 1),
                 MonitorConfig(num_bands=50, pairs=PairSampling(patch=2, pairs_per_patch=2,
                                                                corner_pairs=4)))
    with pytest.raises(ValueError, match="coords"):
        Recorder(torch.full((64, 1), float("nan")), (64,), sig.target(),
                 MonitorConfig(pairs=SMALL_1D), signal_freqs=sig.freqs)


from conftest import requires_cuda  # noqa: E402


@requires_cuda
def test_cuda_record_matches_cpu():
    sig, model, rec = small_1d(seed=5)
    cpu = rec.record(model, 0)
    gpu_rec = Recorder(sig.coords(), (64,), sig.target(), rec.config, signal_freqs=sig.freqs)
    gpu = gpu_rec.record(model.cuda(), 0)
    assert gpu["regions"] == cpu["regions"]
    assert gpu["hamming_local"] == cpu["hamming_local"]
    assert gpu["dead_neurons"] == cpu["dead_neurons"]
    for key in ("loss",):
        assert gpu[key] == pytest.approx(cpu[key], rel=1e-9)
    for key in ("confusion_local", "confusion_global", "grad_norm", "region_grad_norm"):
        assert gpu[key]["mean"] == pytest.approx(cpu[key]["mean"], rel=1e-6, abs=1e-9)
    np.testing.assert_allclose(gpu["spectral_residual"], cpu["spectral_residual"], rtol=1e-6)
    np.testing.assert_array_equal(gpu_rec.arrays["region_ids_e000000"],
                                  rec.arrays["region_ids_e000000"])
