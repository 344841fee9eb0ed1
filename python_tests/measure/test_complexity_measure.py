"""measure.local_complexity: both methods through our encodings, raw coordinates and a general
encoding module; the summary; the direction conventions; errors."""
import pytest
import torch

from complexity_cases import check_counts_near
from specbias_ext import measure, relu_network
from specbias_ext.measure.complexity import LocalComplexity
from specbias_ext.nets.encodings import PositionalEncoding
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.ops.hull import hull_directions, hull_vertices
from specbias_ext.testing.published_lc import HookedNetwork, intersections_for_hulls, ortho_hull

pytestmark = pytest.mark.usefixtures("one_thread")


def _model(encoding, in_dim, seed=0):
    return CoordinateMLP(encoding, depth=3, width=33, in_dim=in_dim, seed=seed).double()


def _grid(side, dims):
    axis = torch.arange(side, dtype=torch.float64) / side
    return torch.stack(torch.meshgrid(*[axis] * dims, indexing="ij"), -1).reshape(-1, dims)


def test_sampled_equals_published_hook_method_on_a_coordinate_mlp():
    model = _model("pe:3", 2)
    coords = _grid(24, 2)
    lc = measure.local_complexity(coords, model.encoding, relu_network(model), 1 / 24)
    hooked = HookedNetwork(relu_network(model), encoding=model.encoding)
    published = intersections_for_hulls(ortho_hull(coords, torch.eye(2, dtype=torch.float64),
                                                   1 / 24), hooked)
    assert isinstance(lc, LocalComplexity)
    assert torch.equal(lc.counts.to(torch.int64), published)
    assert lc.counts.sum() > 0


def test_summary_and_derived_values():
    model = _model("raw", 1)
    coords = _grid(300, 1)
    lc = measure.local_complexity(coords, model.encoding, relu_network(model), 0.02)
    assert torch.equal(lc.total, lc.counts.sum(1).to(torch.int64))
    torch.testing.assert_close(lc.fraction, lc.counts.double() / 33)
    s = lc.summary()
    assert s["mean"] == pytest.approx(float(lc.total.double().mean()))
    assert s["layer_means"] == pytest.approx(lc.counts.double().mean(0).tolist())
    assert s["layer_fraction_means"] == pytest.approx([m / 33 for m in s["layer_means"]])
    assert s["total_fraction_mean"] == pytest.approx(s["mean"] / 99)
    assert s["min"] <= s["q05"] <= s["median"] <= s["q95"] <= s["max"]
    assert (s["points"], s["radius"], s["method"], s["num_directions"]) == (300, 0.02, "sampled", 1)
    empty = measure.local_complexity(coords[:0], model.encoding, relu_network(model), 0.02)
    assert empty.counts.shape == (0, 3)
    assert empty.summary()["mean"] is None and empty.summary()["layer_means"] == [None] * 3


@pytest.mark.parametrize("method", ["sampled", "first_order"])
def test_general_encoding_module_matches_fused_path(method):
    """A module without affine_sine() (here PE hidden behind a lambda) takes the Python path:
    vertices encoded by the module in chunks (sampled) or its torch.func Jacobian (first order)."""
    enc = PositionalEncoding(2, 3).double()
    model = CoordinateMLP(enc, depth=2, width=21, seed=3).double()
    net = relu_network(model)
    coords = torch.rand(150, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    fused = measure.local_complexity(coords, enc, net, 0.03, method=method)
    general = measure.local_complexity(coords, lambda c: enc(c), net, 0.03, method=method)
    if method == "sampled":
        corners = hull_vertices(coords, hull_directions(2, dtype=torch.float64), 0.03, False)
        form = enc.affine_sine(torch.float64)
        check_counts_near(general.counts, corners, form, net, torch.float64)
        check_counts_near(fused.counts, corners, form, net, torch.float64)
    assert (general.counts - fused.counts).abs().sum() <= 2
    assert fused.counts.sum() > 0


def test_methods_and_directions():
    model = _model("raw", 3)
    net = relu_network(model)
    coords = torch.rand(80, 3, dtype=torch.float64)
    axes = measure.local_complexity(coords, None, net, 0.1)
    assert axes.num_directions == 3
    two = measure.local_complexity(coords, None, net, 0.1, num_directions=2, seed=5)
    assert two.num_directions == 2
    again = measure.local_complexity(coords, None, net, 0.1, num_directions=2, seed=5)
    assert torch.equal(two.counts, again.counts)
    first = measure.local_complexity(coords, None, net, 0.1, method="first_order")
    assert first.method == "first_order" and first.num_directions is None
    centre = measure.local_complexity(coords, None, net, 0.1, include_centre=True)
    assert bool((centre.counts >= axes.counts).all())


def test_errors():
    model = _model("raw", 1)
    net = relu_network(model)
    coords = torch.rand(5, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="method: expected one of sampled, first_order"):
        measure.local_complexity(coords, None, net, 0.1, method="exact")
    with pytest.raises(ValueError, match="radius: expected a finite radius >= 0"):
        measure.local_complexity(coords, None, net, -1.0)
    with pytest.raises(ValueError, match=r"coords: expected a 2-D tensor \[N, D\]"):
        measure.local_complexity(coords[:, 0], None, net, 0.1)
    with pytest.raises(ValueError, match="num_directions: expected at least 1"):
        measure.local_complexity(torch.rand(5, 2, dtype=torch.float64), None,
                                 relu_network(_model("raw", 2)), 0.1, num_directions=0)
