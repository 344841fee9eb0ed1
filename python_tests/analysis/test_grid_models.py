"""analyze_grid on whole models as their authors wrote them (testing/published_models.py): the
model given as it is, coordinates in, its encoding split off; equal to the ops on split_model's
pieces at the grid's points."""
from __future__ import annotations

import pytest
import torch

from specbias_ext import activation_patterns, region_ids, split_model
from specbias_ext.analysis import analyze_grid, resolve_model
from specbias_ext.data.grids import CoordinateGrid, PlaneSlice
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.testing import published_models as pm

pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")


def _deepsdf():
    return pm.DeepSDFDecoder(latent_size=5, dims=[16] * 6, dropout=list(range(6)),
                             dropout_prob=0.2, norm_layers=list(range(6)), latent_in=[3],
                             weight_norm=True)


def _plane(dim):
    u, v = [0.0] * dim, [0.0] * dim
    u[-3], v[-2] = 1.0, 1.0
    return PlaneSlice([0.5] * dim, u, v, (9, 11))


# name: (build, grid, output=)
CASES = {
    "Fourier features": (lambda: pm.FourierFeatureModel(torch.randn(8, 2) * 4, 4, 16),
                         CoordinateGrid((17, 15)), None),
    "hash grid + MLP": (lambda: pm.HashGridField(num_levels=4, log2_hashmap_size=8,
                                                 hidden_dim=16), CoordinateGrid((6, 5, 7)), None),
    "DeepSDF decoder": (_deepsdf, _plane(8), None),
    "nerf-pytorch run_network": (lambda: pm.NeRFRunNetwork(multires=4, multires_views=2, W=16),
                                 _plane(6), "fn.alpha_linear"),
    "nerfstudio NeRF field": (lambda: pm.NeRFFieldDensity(base_mlp_num_layers=4,
                                                          base_mlp_layer_width=16,
                                                          skip_connections=(2,)),
                              CoordinateGrid((6, 6, 5)), "field_output_density.net"),
}


def _expected(model, grid, output):
    encoding, net = split_model(model, output, in_dim=grid.dim)
    coords = grid.coords()
    with torch.no_grad():
        x = coords if encoding is None else encoding(coords)
    _, counts = region_ids(activation_patterns(x, net.detach()))
    return counts.numel()


@pytest.mark.parametrize("name", list(CASES))
def test_a_whole_model_is_analysed_from_coordinates(name):
    build, grid, output = CASES[name]
    torch.manual_seed(0)
    model = build().eval()
    if output is None:
        result = analyze_grid(model, grid, tile=64)
    else:          # several heads: the one way is to split with output= and pass the pieces
        with pytest.raises(TypeError, match=rf"output='{output}'.*; for the analysis, split it "
                                            r"with encoding, net = split_model\(model, "
                                            r"output=\.\.\.\) and pass net with encoding="):
            analyze_grid(model, grid, tile=64)
        encoding, net = split_model(model, output, in_dim=grid.dim)
        result = analyze_grid(net, grid, encoding=encoding, tile=64)
    assert result.num_regions == _expected(model, grid, output)
    assert result.num_points == grid.num_points


def test_boundary_distance_through_the_models_own_encoding():
    torch.manual_seed(0)
    model = pm.FourierFeatureModel(torch.randn(8, 2) * 4, 4, 16).eval()
    grid = CoordinateGrid((12, 12))
    encoding, net = split_model(model)
    whole = analyze_grid(model, grid, tile=50, boundary=True).summary()
    pieces = analyze_grid(net, grid, encoding=encoding, tile=50, boundary=True).summary()
    assert whole["boundary_distance"] == pieces["boundary_distance"]
    assert whole["boundary_distance"]["max"] > 0


def test_resolve_model_keeps_the_coordinate_mlp_and_explicit_encoding_paths():
    model = CoordinateMLP("pe:2", depth=2, width=8, in_dim=2, seed=0)
    net, enc = resolve_model(model)
    assert enc is model.encoding and net.in_dim == model.encoding.out_dim
    other = torch.nn.Linear(2, model.encoding.out_dim)
    assert resolve_model(model, other)[1] is other
    assert resolve_model(net, other) == (net, other)
