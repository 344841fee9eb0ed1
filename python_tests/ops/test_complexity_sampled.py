"""Sampled local complexity (specbias::local_complexity and local_complexity_encoded): against
the plain-torch reference and a hook-based implementation written like the published one, on
random networks of every kind (skips, LeakyReLU, bias-free, residual), raw / PE / RFF encodings,
float32 and float64; known counts on hand-made networks; edge cases; opcheck; errors."""
import pytest
import torch
from hypothesis import given, settings

from complexity_cases import (check_counts_near, check_sampled, encoded_vertices, sampled_cases,
                              setup)
from conftest import requires_cuda
from specbias_ext.testing import pe_form, raw_form
from specbias_ext.testing import NERF_LIKE, random_network
from specbias_ext.testing.published_lc import HookedNetwork, intersections_for_hulls, ortho_hull
from specbias_ext import ReluNetwork, reference
from specbias_ext.ops import complexity as ops_complexity
from specbias_ext.ops.hull import hull_directions, hull_vertices

pytestmark = pytest.mark.usefixtures("one_thread")
OPS = torch.ops.specbias


def _sampled(coords, form, net, directions, radius, include_centre):
    return ops_complexity.local_complexity(coords, net, *form, directions, radius,
                                           include_centre=include_centre)


@settings(max_examples=40, deadline=None)
@given(sampled_cases())
def test_matches_reference(case):
    coords, form, net, directions = setup(case)
    counts = _sampled(coords, form, net, directions, case["radius"], case["include_centre"])
    check_sampled(counts, coords, form, net, directions, case["radius"], case["include_centre"])
    if case["radius"] == 0.0 or case["n"] == 0:
        assert not counts.any()


@settings(max_examples=25, deadline=None)
@given(sampled_cases())
def test_encoded_op_matches_reference(case):
    """From the encoded vertices: the reference's counts in float64, and the affine-sine op's
    counts up to neurons on their boundary (the kernel encodes by angle addition)."""
    coords, form, net, directions = setup(case)
    corners = hull_vertices(coords, directions, case["radius"], case["include_centre"])
    encoded = encoded_vertices(corners, form)
    counts = ops_complexity.local_complexity_encoded(encoded, net)
    if case["dtype"] == torch.float64:
        assert torch.equal(counts, reference.local_complexity_encoded(encoded, net))
    check_counts_near(counts, corners, form, net, case["dtype"])


@settings(max_examples=25, deadline=None)
@given(sampled_cases(max_n=41))
def test_matches_published_hook_method(case):
    """A forward hook per layer and one forward of every hull vertex, as the published code."""
    coords, form, net, directions = setup(case)
    radius, centre = case["radius"], case["include_centre"]
    model = HookedNetwork(net, encoding=lambda c: reference.encode_affine_sine(c, *form))
    hulls = ortho_hull(coords, directions, radius, centre)
    published = intersections_for_hulls(hulls, model, batch_size=16)
    counts = _sampled(coords, form, net, directions, radius, centre)
    if case["dtype"] == torch.float64:
        assert torch.equal(counts.to(torch.int64), published)
    check_counts_near(published.to(torch.int32), hulls, form, net, case["dtype"])


def test_known_counts_one_layer_1d():
    """One hidden layer on raw 1D coordinates with breakpoints t_k (z_k = c - t_k, or t_k - c):
    the neurons counted at c are exactly those with |c - t_k| < r."""
    breakpoints = torch.tensor([0.1, 0.2, 0.25, 0.5, 0.52, 0.9, 0.95], dtype=torch.float64)
    signs = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    w0 = signs[:, None]
    net = ReluNetwork.of([w0, torch.ones(1, 7, dtype=torch.float64)],
                         [-signs * breakpoints, None])
    coords = torch.linspace(0.013, 0.987, 113, dtype=torch.float64)[:, None]
    radius = 0.04
    directions = hull_directions(1, dtype=torch.float64)
    for centre in (False, True):
        counts = _sampled(coords, raw_form(1), net, directions, radius, centre)
        expect = ((coords - breakpoints).abs() < radius).sum(1)
        assert torch.equal(counts[:, 0].to(torch.int64), expect)
        assert counts.sum() > 0


def test_dead_layer_and_centre_monotone():
    """A layer whose neurons are all dead counts 0; adding the centre never lowers a count (one
    more vertex); a wider hull never lowers a one-layer count on raw coordinates (the crossed
    neurons of a smaller cross-polytope are crossed in the larger one)."""
    torch.manual_seed(0)
    w = [torch.randn(9, 2, dtype=torch.float64), torch.randn(7, 9, dtype=torch.float64),
         torch.randn(1, 7, dtype=torch.float64)]
    b = [torch.randn(9, dtype=torch.float64), torch.full((7,), -1e6, dtype=torch.float64),
         torch.zeros(1, dtype=torch.float64)]
    net = ReluNetwork.of(w, b)
    coords = torch.rand(200, 2, dtype=torch.float64)
    dirs = hull_directions(2, dtype=torch.float64)
    without = _sampled(coords, raw_form(2), net, dirs, 0.2, False)
    with_centre = _sampled(coords, raw_form(2), net, dirs, 0.2, True)
    assert not without[:, 1].any() and without[:, 0].any()
    assert bool((with_centre >= without).all())
    one_layer = ReluNetwork.of(w[:1] + [torch.randn(1, 9, dtype=torch.float64)], b[:1] + [None])
    small = _sampled(coords, raw_form(2), one_layer, dirs, 0.05, False)
    large = _sampled(coords, raw_form(2), one_layer, dirs, 0.2, False)
    assert bool((large >= small).all()) and bool((large > small).any())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_edge_cases(dtype):
    """N = 0 and 1, one hidden layer, odd widths, a NeRF-like trunk, one vertex pair."""
    form = tuple(pe_form(2, 3, dtype))
    dirs = hull_directions(2, dtype=dtype)
    for kind in (dict(hidden=[1]),
                 dict(hidden=[65, 3, 129], slopes=[0.0, 0.2, 0.0], bias=[True, False, True, True],
                      skips={1, 3}, out_dim=2),
                 NERF_LIKE,
                 dict(hidden=[12, 9], skips={1, 2}, skip_columns={1: (1, 4), 2: (0, 2)})):
        net = random_network(form[0].shape[0], **kind, dtype=dtype, seed=3)
        for n in (0, 1, 257):
            coords = torch.rand(n, 2, dtype=dtype, generator=torch.Generator().manual_seed(n))
            for d in (dirs, dirs[:1]):
                counts = _sampled(coords, form, net, d, 0.05, n == 1)
                assert counts.shape == (n, net.depth)
                check_sampled(counts, coords, form, net, d, 0.05, n == 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_opcheck(dtype):
    form = tuple(pe_form(2, 2, dtype))
    net = random_network(form[0].shape[0], **NERF_LIKE, dtype=dtype, seed=1)
    weights, biases, kw = net.op_args()
    kw = {k: v for k, v in kw.items() if v is not None}
    coords = torch.rand(37, 2, dtype=dtype)
    dirs = hull_directions(2, dtype=dtype)
    for c in (coords, coords[:0]):
        torch.library.opcheck(OPS.local_complexity.default,
                              (c, *form, dirs, 0.03, True, weights, biases), kw)
    vertices = torch.rand(37, 5, form[0].shape[0], dtype=dtype)
    torch.library.opcheck(OPS.local_complexity_encoded.default, (vertices, weights, biases), kw)


def test_compile_fullgraph():
    form = tuple(pe_form(1, 3, torch.float64))
    net = random_network(form[0].shape[0], **NERF_LIKE, dtype=torch.float64, seed=2)
    coords = torch.rand(50, 1, dtype=torch.float64)
    dirs = hull_directions(1, dtype=torch.float64)
    fn = torch.compile(lambda c: ops_complexity.local_complexity(c, net, *form, dirs, 0.02).sum(1),
                       fullgraph=True, backend="aot_eager")
    assert torch.equal(fn(coords), _sampled(coords, form, net, dirs, 0.02, False).sum(1))


def test_errors():
    form = tuple(raw_form(2))
    net = random_network(2, **NERF_LIKE, dtype=torch.float64, seed=0)
    coords = torch.rand(5, 2, dtype=torch.float64)
    dirs = hull_directions(2, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="radius: expected a finite radius >= 0"):
        _sampled(coords, form, net, dirs, -0.1, False)
    with pytest.raises(RuntimeError, match=r"directions: expected shape \[K, D\]"):
        _sampled(coords, form, net, dirs[:, :1], 0.1, False)
    with pytest.raises(RuntimeError, match="directions: expected at least one direction"):
        _sampled(coords, form, net, dirs[:0], 0.1, False)
    with pytest.raises(RuntimeError, match="directions: expected dtype"):
        _sampled(coords, form, net, dirs.float(), 0.1, False)
    with pytest.raises(RuntimeError, match="directions: expected finite values"):
        _sampled(coords, form, net, dirs * float("nan"), 0.1, False)
    with pytest.raises(RuntimeError, match="coords: expected finite"):
        _sampled(coords * float("inf"), form, net, dirs, 0.1, False)
    with pytest.raises(RuntimeError, match=r"vertices: expected a 3-D tensor \[N, V, E\]"):
        ops_complexity.local_complexity_encoded(coords, net)
    with pytest.raises(ValueError, match="vertices has 3 features, the network's first layer "
                                         "takes 2"):
        ops_complexity.local_complexity_encoded(torch.rand(5, 4, 3, dtype=torch.float64), net)
    weights, biases, _ = net.op_args()  # the kernel's own check, under the wrapper's
    with pytest.raises(RuntimeError, match=r"weights\[0\]: expected shape \[out, E\]"):
        OPS.local_complexity_encoded(torch.rand(5, 4, 3, dtype=torch.float64), weights, biases,
                                     input_skip=list(net.input_skips), residual=list(net.residual),
                                     slopes=list(net.slopes))
    with pytest.raises(RuntimeError, match="vertices: expected at least one vertex"):
        ops_complexity.local_complexity_encoded(torch.rand(5, 0, 2, dtype=torch.float64), net)


def test_hull_directions():
    assert torch.equal(hull_directions(3), torch.eye(3))
    assert torch.equal(hull_directions(2, 5), torch.eye(2))
    d = hull_directions(6, 4, seed=7, dtype=torch.float64)
    assert d.shape == (4, 6)
    torch.testing.assert_close(d @ d.T, torch.eye(4, dtype=torch.float64))
    assert torch.equal(d, hull_directions(6, 4, seed=7, dtype=torch.float64))
    assert not torch.equal(d, hull_directions(6, 4, seed=8, dtype=torch.float64))
    with pytest.raises(ValueError, match="num_directions: expected at least 1"):
        hull_directions(3, 0)


@requires_cuda
@settings(max_examples=20, deadline=None)
@given(sampled_cases())
def test_cuda_matches_reference(case):
    coords, form, net, directions = setup(case, device="cuda")
    counts = _sampled(coords, form, net, directions, case["radius"], case["include_centre"])
    assert counts.device.type == "cuda"
    corners = hull_vertices(coords, directions, case["radius"], case["include_centre"])
    check_counts_near(counts, corners, form, net, case["dtype"])
    check_counts_near(ops_complexity.local_complexity_encoded(encoded_vertices(corners, form), net),
                      corners, form, net, case["dtype"])
