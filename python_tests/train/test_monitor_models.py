"""RegionMonitor on whole models as their authors wrote them (testing/published_models.py): recorded
from raw coordinates, equal to the measures on split_model's pieces; read once per model object,
its weights (and a trainable encoding) again at every record."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from specbias_ext import measure, split_model
from specbias_ext.data.grids import grid_coords
from specbias_ext.testing import published_models as pm
from specbias_ext.train import monitor as monitor_module
from specbias_ext.train import monitor_models
from specbias_ext.train.monitor import MonitorConfig, RegionMonitor

pytestmark = [pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning"),
              pytest.mark.filterwarnings("ignore:coords. the .* points:UserWarning")]


def _deepsdf():
    return pm.DeepSDFDecoder(latent_size=5, dims=[16] * 8, dropout=list(range(8)),
                             dropout_prob=0.2, norm_layers=list(range(8)), latent_in=[4],
                             weight_norm=True)


# name: (build, coordinate width, output=)
CASES = {
    "nerf-pytorch run_network": (lambda: pm.NeRFRunNetwork(multires=4, multires_views=2, W=16),
                                 6, "fn.alpha_linear"),
    "DeepSDF decoder": (_deepsdf, 8, None),
    "Fourier features": (lambda: pm.FourierFeatureModel(torch.randn(8, 2) * 4, 4, 16), 2, None),
    "hash grid + MLP": (lambda: pm.HashGridField(num_levels=4, log2_hashmap_size=8,
                                                 hidden_dim=16), 3, None),
    "nerfstudio NeRF field": (lambda: pm.NeRFFieldDensity(base_mlp_num_layers=4,
                                                          base_mlp_layer_width=16,
                                                          skip_connections=(2,)),
                              3, "field_output_density.net"),
}


def _case(name, seed=0):
    build, dim, output = CASES[name]
    torch.manual_seed(seed)
    model = build().eval()
    coords = grid_coords((10, 10)) if dim == 2 else \
        torch.rand(120, dim, generator=torch.Generator().manual_seed(1))
    return model, coords, output


def _expected_regions(model, coords, output):
    encoding, net = split_model(model, output, in_dim=coords.shape[1])
    coords = coords.to(next(model.parameters()).dtype)
    with torch.no_grad():
        x = coords if encoding is None else encoding(coords)
    return measure.region_count(measure.patterns(x, net.detach()))


@pytest.mark.parametrize("name", list(CASES))
def test_recorded_from_raw_coordinates_equal_to_split_models_pieces(name):
    model, coords, output = _case(name)
    mon = RegionMonitor(coords, every=1, measurements=("regions",), output=output)
    assert mon(model, 0)["regions"] == _expected_regions(model, coords, output)
    with torch.no_grad():                       # a training step: every parameter moves
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5 * (p.abs().mean() + 1e-3))
    assert mon(model, 1)["regions"] == _expected_regions(model, coords, output)


def test_the_model_is_traced_once_per_model_object(monkeypatch):
    model, coords, output = _case("nerf-pytorch run_network")
    calls = []
    trace = monitor_models.read_coordinate_model
    monkeypatch.setattr(monitor_models, "read_coordinate_model",
                        lambda *a, **k: calls.append(1) or trace(*a, **k))
    mon = RegionMonitor(coords, every=1, measurements=("regions",), output=output)
    for step in range(3):
        mon(model, step)
    assert len(calls) == 1
    other = _case("nerf-pytorch run_network", seed=1)[0]
    assert mon(other, 3)["regions"] == _expected_regions(other, coords, output)
    assert len(calls) == 2
    model.double()                              # moved: read again, in float64
    rec = mon(model, 4)
    assert len(calls) == 3 and rec["regions"] == _expected_regions(model, coords, output)


def test_a_trainable_encoding_is_evaluated_at_every_record():
    model, coords, _ = _case("hash grid + MLP")
    mon = RegionMonitor(coords, every=1, measurements=("regions",))
    first = mon(model, 0)["regions"]
    with torch.no_grad():
        model.encoding.hash_table.mul_(40.0)    # only the encoding changes
    second = mon(model, 1)["regions"]
    assert second == _expected_regions(model, coords, None) and second != first


def test_the_record_inputs_carry_the_split_off_encoding(monkeypatch):
    model, coords, _ = _case("Fourier features")
    seen = []
    take = monitor_module.take_record
    monkeypatch.setattr(monitor_module, "take_record",
                        lambda inputs, *a: seen.append(inputs) or take(inputs, *a))
    RegionMonitor(coords, every=1, measurements=("regions",))(model, 0)
    [inputs] = seen
    assert isinstance(inputs.encoder, torch.fx.GraphModule)
    assert inputs.coords.dtype == torch.float64 and torch.equal(inputs.coords, coords.double())
    assert torch.allclose(inputs.encoder(coords), inputs.x)


def test_reading_leaves_the_rng_and_the_model_as_they_were():
    model, coords, _ = _case("DeepSDF decoder")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    RegionMonitor(coords, every=1, measurements=("regions",))(model, 0)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert not model.training


def test_an_explicit_encoding_for_a_model_with_its_own_is_refused():
    model, coords, _ = _case("Fourier features")
    mon = RegionMonitor(coords, encoding="pe:2", every=1, measurements=("regions",))
    with pytest.raises(TypeError, match=r"encoding: FourierFeatureModel.forward computes its own "
                                        r"encoding .*; leave encoding= out"):
        mon(model, 0)


def test_a_network_fed_points_of_the_wrong_width_is_refused_in_those_terms():
    net = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 1))
    mon = RegionMonitor(grid_coords((6, 6)), every=1, measurements=("regions",))
    with pytest.raises(ValueError, match=r"coords has 2 features, the network's first layer "
                                         r"takes 16: pass RegionMonitor\(\.\.\., encoding="):
        mon(net, 0)


def test_several_heads_name_output_and_a_bad_output_is_refused():
    model, coords, _ = _case("nerfstudio NeRF field")
    with pytest.raises(TypeError, match=r"pass output='field_output_density.net'"):
        RegionMonitor(coords, every=1, measurements=("regions",))(model, 0)
    with pytest.raises(ValueError, match=r"output: expected the name of the Linear"):
        RegionMonitor(coords, every=1, measurements=("regions",), output=3)
    with pytest.raises(TypeError, match=r"model: expected your model \(an nn.Module\) or a "
                                        r"ReluNetwork, got dict"):
        RegionMonitor(coords, every=1, measurements=("regions",))({}, 0)


def test_a_relu_network_is_recorded_with_the_encoding_given():
    model, coords, _ = _case("Fourier features")
    encoding, net = split_model(model)
    whole = RegionMonitor(coords, every=1, measurements=("regions",))(model, 0)
    pieces = RegionMonitor(coords, encoding=encoding, every=1, measurements=("regions",))(net, 0)
    assert whole["regions"] == pieces["regions"]


def test_local_complexity_reads_the_split_off_encoding():
    model, coords, _ = _case("Fourier features")
    encoding, net = split_model(model)
    config = MonitorConfig(measurements=("lc",), lc_radius=0.05)
    whole = RegionMonitor(coords, every=1, config=config)(model, 0)
    pieces = RegionMonitor(coords, encoding=encoding, every=1, config=config)(net, 0)
    assert whole["lc"] == pieces["lc"] and whole["lc"]["mean"] > 0
