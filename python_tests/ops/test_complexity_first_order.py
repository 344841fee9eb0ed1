"""First-order local complexity (specbias::first_order_complexity and its *_encoded form):
counts against the torch.func reference on random networks of every kind, distance and argmin
identical to boundary_distance, the exact first layer on raw 1D coordinates against the sampled
LC, several radii in one pass, edge cases, opcheck, errors."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from complexity_cases import setup
from conftest import requires_cuda
from specbias_ext.testing import make_form, pe_form, raw_form
from specbias_ext.testing import NERF_LIKE, random_network
from specbias_ext.testing.strategies import network_kinds
from specbias_ext import ReluNetwork, reference
from specbias_ext.ops import complexity as ops_complexity
from specbias_ext.ops import geometry as ops_geometry
from specbias_ext.ops.hull import hull_directions

pytestmark = pytest.mark.usefixtures("one_thread")
OPS = torch.ops.specbias
RADII = [0.0, 0.003, 0.05, 0.4]
# Relative distance band in which float32 and float64 may disagree on "<= r".
DIST_RTOL = {torch.float32: 2e-3, torch.float64: 1e-9}


@st.composite
def cases(draw):
    dims = draw(st.sampled_from([1, 2, 3]))
    return dict(kind=draw(network_kinds()), dims=dims,
                encoding=draw(st.sampled_from(["raw", "pe", "rff"])),
                dtype=draw(st.sampled_from([torch.float32, torch.float64])),
                n=draw(st.sampled_from([0, 1, 2, 41, 300])), num_directions=dims,
                seed=draw(st.integers(0, 2**20)))


def _check_counts(counts, per_neuron, net, dtype):
    """counts [N, L, R] against the reference's per-neuron distances [N, H]: exact except for
    neurons whose distance lies within the dtype's tolerance of a radius."""
    assert counts.dtype == torch.int32 and counts.shape == (per_neuron.shape[0], net.depth,
                                                             len(RADII))
    for q, r in enumerate(RADII):
        for l, (lo, hi) in enumerate(net.layer_bit_ranges()):
            d = per_neuron[:, lo:hi]
            expect = (d <= r).sum(1)
            near = ((d - r).abs() <= DIST_RTOL[dtype] * (d.abs() + r) + 1e-30).sum(1)
            diff = (counts[:, l, q].cpu().to(torch.int64) - expect.cpu()).abs()
            assert bool((diff <= near.cpu()).all()), (q, l)
            if dtype == torch.float64:
                assert torch.equal(counts[:, l, q].cpu().to(torch.int64), expect.cpu())


@settings(max_examples=30, deadline=None)
@given(cases())
def test_matches_reference_and_boundary_distance(case):
    coords, form, net, _ = setup(case)
    dist, arg, counts = ops_complexity.first_order_complexity(coords, net, *form, RADII)
    bd_dist, bd_arg = ops_geometry.boundary_distance(coords, *form, net)
    assert torch.equal(dist, bd_dist) and torch.equal(arg, bd_arg)
    per_neuron = reference.neuron_distances_through(
        coords, lambda c: reference.encode_affine_sine(c, *form), net)
    _check_counts(counts, per_neuron, net, case["dtype"])
    # Counts grow with the radius; radius 0 counts only neurons exactly on their boundary.
    assert bool((counts[..., 1:] >= counts[..., :-1]).all())


@settings(max_examples=20, deadline=None)
@given(cases())
def test_encoded_matches_reference(case):
    coords, form, net, _ = setup(case)
    x = reference.encode_affine_sine(coords, *form)
    jac = torch.func.vmap(torch.func.jacfwd(lambda c: reference.encode_affine_sine(
        c[None], *form)[0]))(coords) if case["n"] else x.new_zeros((0, x.shape[1], case["dims"]))
    dist, arg, counts = ops_complexity.first_order_complexity_encoded(x, net, jac, RADII)
    bd_dist, bd_arg = ops_geometry.boundary_distance_encoded(x, jac, net)
    assert torch.equal(dist, bd_dist) and torch.equal(arg, bd_arg)
    ref = reference.first_order_complexity_encoded(x, jac, RADII, net)
    assert torch.equal(torch.isinf(dist), torch.isinf(ref[0]))
    _check_counts(counts, reference.neuron_distances_encoded(x, jac, net), net, case["dtype"])


def test_skips_reading_part_of_x_match_the_reference():
    """A skip that re-reads only some columns of x (DeepSDF's xyz): the same counts as the
    reference, which concatenates exactly those columns."""
    form = tuple(pe_form(2, 2, torch.float64))
    net = random_network(form[0].shape[0], [12, 9], skips={1, 2},
                         skip_columns={1: (1, 4), 2: (0, 2)}, dtype=torch.float64, seed=8)
    coords = torch.rand(300, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    dist, arg, counts = ops_complexity.first_order_complexity(coords, net, *form, RADII)
    bd_dist, bd_arg = ops_geometry.boundary_distance(coords, *form, net)
    assert torch.equal(dist, bd_dist) and torch.equal(arg, bd_arg)
    per_neuron = reference.neuron_distances_through(
        coords, lambda c: reference.encode_affine_sine(c, *form), net)
    _check_counts(counts, per_neuron, net, torch.float64)
    assert counts[..., -1].sum() > 0


def test_first_layer_raw_1d_equals_sampled():
    """On raw 1D coordinates the first layer's first-order distance is exact and the hull is the
    segment [c - r, c + r]: layer 0's first-order count equals its sampled count."""
    net = random_network(1, [40, 30], slopes=[0.0, 0.1], skips={2}, dtype=torch.float64, seed=4)
    coords = torch.rand(500, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    dirs = hull_directions(1, dtype=torch.float64)
    for r in (0.01, 0.1):
        _, _, first = ops_complexity.first_order_complexity(coords, net, *raw_form(1), [r])
        sampled = ops_complexity.local_complexity(coords, net, *raw_form(1), dirs, r)
        assert torch.equal(first[:, 0, 0], sampled[:, 0])
        assert first[:, 0, 0].sum() > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_edge_cases(dtype):
    """N = 0 and 1, one hidden layer, odd widths, dead neurons (zero gradient: never counted),
    one radius and many."""
    form = tuple(pe_form(2, 2, dtype))
    kinds = [dict(hidden=[1]), NERF_LIKE]
    for kind in kinds:
        net = random_network(form[0].shape[0], **kind, dtype=dtype, seed=5)
        for n in (0, 1, 257):
            coords = torch.rand(n, 2, dtype=dtype, generator=torch.Generator().manual_seed(n))
            for radii in ([0.1], RADII):
                dist, arg, counts = ops_complexity.first_order_complexity(coords, net, *form,
                                                                          radii)
                assert counts.shape == (n, net.depth, len(radii))
                assert dist.shape == (n,) and arg.shape == (n,)
    # Radii whose square leaves the normal range skip the prefilter: a huge radius counts every
    # neuron with a coordinate gradient, a tiny one none (no pre-activation is exactly 0 here).
    net = random_network(form[0].shape[0], **NERF_LIKE, dtype=dtype, seed=6)
    coords = torch.rand(64, 2, dtype=dtype, generator=torch.Generator().manual_seed(1))
    _, _, counts = ops_complexity.first_order_complexity(coords, net, *form, [1e-30, 1e30])
    per_neuron = reference.neuron_distances_through(
        coords.double(), lambda c: reference.encode_affine_sine(
            c, *[t.double() if t.is_floating_point() else t for t in form]), net.to(torch.float64))
    finite = torch.stack([torch.isfinite(per_neuron[:, lo:hi]).sum(1)
                          for lo, hi in net.layer_bit_ranges()], 1)
    assert torch.equal(counts[:, :, 1].to(torch.int64), finite) and not counts[:, :, 0].any()
    # A dead first layer: no gradient reaches layer 1, nothing is counted there.
    w = [torch.randn(5, form[0].shape[0], dtype=dtype), torch.randn(3, 5, dtype=dtype),
         torch.randn(1, 3, dtype=dtype)]
    b = [torch.full((5,), -1e6, dtype=dtype), torch.zeros(3, dtype=dtype), None]
    net = ReluNetwork.of(w, b)
    coords = torch.rand(20, 2, dtype=dtype)
    dist, arg, counts = ops_complexity.first_order_complexity(coords, net, *form, [1.0])
    # Layer 1 sits at z = 0 exactly but with zero gradient: distance inf, never counted; layer
    # 0 is ~1e6 away.
    assert not counts.any()
    assert bool((arg < 5).all()) and bool(torch.isfinite(dist).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_opcheck(dtype):
    form = tuple(make_form("pe", 2, dtype))
    net = random_network(form[0].shape[0], **NERF_LIKE, dtype=dtype, seed=1)
    weights, biases, kw = net.op_args()
    kw = {k: v for k, v in kw.items() if v is not None}
    coords = torch.rand(37, 2, dtype=dtype)
    for c in (coords, coords[:0]):
        torch.library.opcheck(OPS.first_order_complexity.default,
                              (c, *form, [0.01, 0.2], weights, biases), kw)
    x = torch.rand(37, form[0].shape[0], dtype=dtype)
    jac = torch.rand(37, form[0].shape[0], 2, dtype=dtype)
    torch.library.opcheck(OPS.first_order_complexity_encoded.default,
                          (x, jac, [0.05], weights, biases), kw)


def test_errors():
    form = tuple(raw_form(2))
    net = random_network(2, **NERF_LIKE, dtype=torch.float64, seed=0)
    coords = torch.rand(5, 2, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="radii: expected at least one radius"):
        ops_complexity.first_order_complexity(coords, net, *form, [])
    with pytest.raises(RuntimeError, match=r"radii\[1\]: expected a finite radius >= 0"):
        ops_complexity.first_order_complexity(coords, net, *form, [0.1, -1.0])
    with pytest.raises(RuntimeError, match=r"radii\[0\]: expected a finite radius >= 0"):
        ops_complexity.first_order_complexity(coords, net, *form, [float("inf")])
    with pytest.raises(RuntimeError, match=r"x_jacobian: expected shape \[N, E, D\]"):
        ops_complexity.first_order_complexity_encoded(coords, net, coords, [0.1])


@requires_cuda
@settings(max_examples=15, deadline=None)
@given(cases())
def test_cuda_matches_reference(case):
    coords, form, net, _ = setup(case, device="cuda")
    dist, arg, counts = ops_complexity.first_order_complexity(coords, net, *form, RADII)
    bd_dist, bd_arg = ops_geometry.boundary_distance(coords, *form, net)
    assert torch.equal(dist, bd_dist) and torch.equal(arg, bd_arg)
    cpu_form = tuple(t.cpu() for t in form)
    per_neuron = reference.neuron_distances_through(
        coords.cpu(), lambda c: reference.encode_affine_sine(c, *cpu_form), net.to("cpu"))
    dtype = case["dtype"]
    for q, r in enumerate(RADII):
        for l, (lo, hi) in enumerate(net.layer_bit_ranges()):
            d = per_neuron[:, lo:hi]
            near = ((d - r).abs() <= DIST_RTOL[torch.float32] * (d.abs() + r) + 1e-30).sum(1)
            diff = (counts[:, l, q].cpu().to(torch.int64) - (d <= r).sum(1)).abs()
            assert bool((diff <= near).all()), (dtype, q, l)
