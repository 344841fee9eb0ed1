"""boundary_distance: against a torch.func.jvp reference, the one-layer closed form, and the
exact breakpoints of raw 1D networks; opcheck; input errors; CUDA vs CPU."""
import math

import pytest
import torch
from hypothesis import given, settings

from conftest import requires_cuda
from specbias_ext.testing import make_form, pe_form, raw_form
from specbias_ext.testing.strategies import geometry_configs
from specbias_ext.testing import random_mlp
from specbias_ext import ReluNetwork, reference
from specbias_ext.exact import breakpoints1d
from specbias_ext.ops import coordinates
from specbias_ext.ops import geometry as ops_geometry

DIST_TOL = {torch.float32: dict(rtol=2e-3, atol=1e-4), torch.float64: dict(rtol=1e-9, atol=1e-10)}


def _setup(cfg):
    form = make_form(cfg["kind"], cfg["dims"], cfg["dtype"], cfg["seed"])
    net = ReluNetwork.of(*random_mlp(form[0].shape[0], cfg["hidden"], cfg["out_dim"],
                                     dtype=cfg["dtype"], seed=cfg["seed"],
                                     dead_fraction=cfg["dead_fraction"]))
    gen = torch.Generator().manual_seed(cfg["seed"] + 1)
    coords = torch.rand(cfg["n"], cfg["dims"], generator=gen, dtype=torch.float64)
    return coords.to(cfg["dtype"]), form, net


def _all_neuron_distances(coords, form, net):
    """Reference per-neuron distances [N, H] (float64) from jvp, for checking argmin."""
    f64 = [t.double() if t.dtype.is_floating_point else t for t in form]
    return reference.neuron_distances_through(
        coords.double(), lambda c: reference.encode_affine_sine(c, *f64), net.to(torch.float64))


@settings(max_examples=40, deadline=None)
@given(geometry_configs())
def test_matches_jvp_reference(cfg):
    coords, form, net = _setup(cfg)
    dist, arg = ops_geometry.boundary_distance(coords, *form, net)
    ref_dist, ref_arg = reference.boundary_distance(coords, *form, net)
    assert dist.shape == (cfg["n"],) and arg.shape == (cfg["n"],)
    assert dist.dtype == cfg["dtype"] and arg.dtype == torch.int64
    assert torch.equal(torch.isinf(dist), torch.isinf(ref_dist))
    assert torch.equal(arg == -1, torch.isinf(dist))
    finite = ~torch.isinf(dist)
    torch.testing.assert_close(dist[finite], ref_dist[finite], **DIST_TOL[cfg["dtype"]])
    # argmin names a neuron whose own distance is the minimum (exact ties may pick either).
    per_neuron = _all_neuron_distances(coords, form, net)
    rows = torch.nonzero(finite).squeeze(1)
    picked = per_neuron[rows, arg[rows]]
    torch.testing.assert_close(picked.to(cfg["dtype"]), ref_dist[finite], **DIST_TOL[cfg["dtype"]])
    if cfg["dtype"] == torch.float64:
        assert torch.equal(arg, ref_arg)


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_one_hidden_layer_closed_form(dims, dtype):
    w, b = random_mlp(dims, [37], 2, dtype=dtype, seed=3)
    coords = torch.rand(500, dims, generator=torch.Generator().manual_seed(4), dtype=dtype)
    dist, arg = coordinates.boundary_distance(coords, None, ReluNetwork.of(w, b))
    per_neuron = (coords @ w[0].T + b[0]).abs() / w[0].norm(dim=1)
    expected, expected_arg = per_neuron.min(dim=1)
    torch.testing.assert_close(dist, expected, **DIST_TOL[dtype])
    if dtype == torch.float64:
        assert torch.equal(arg, expected_arg)


def test_empty_and_single_point():
    net = ReluNetwork.of(*random_mlp(8, [5, 3], 1, seed=0))
    form = pe_form(2, 2)
    dist, arg = ops_geometry.boundary_distance(torch.zeros(0, 2, dtype=torch.float64), *form, net)
    assert dist.shape == (0,) and arg.shape == (0,)
    one = torch.tensor([[0.3, 0.7]], dtype=torch.float64)
    dist, arg = ops_geometry.boundary_distance(one, *form, net)
    ref_dist, ref_arg = reference.boundary_distance(one, *form, net)
    torch.testing.assert_close(dist, ref_dist)
    assert torch.equal(arg, ref_arg)


def test_all_dead_first_layer_gives_inf_behind_it():
    """Dead layer 0: its own neurons still have a finite distance (far away); a point whose
    every neuron has zero gradient is inf / -1."""
    w, b = random_mlp(1, [6, 4], 1, seed=5, dead_fraction=1.0)
    coords = torch.rand(20, 1, dtype=torch.float64)
    dist, arg = coordinates.boundary_distance(coords, None, ReluNetwork.of(w, b))
    assert torch.isfinite(dist).all() and (arg < 6).all() and (dist > 1e4).all()
    w[0] = torch.zeros_like(w[0])  # no neuron depends on the coordinates at all
    dist, arg = coordinates.boundary_distance(coords, None, ReluNetwork.of(w, b))
    assert torch.isinf(dist).all() and (arg == -1).all()


def _nearest_and_piece(x, breakpoints, lo, hi):
    """Distance to the nearest breakpoint, distance to the nearest end of x's piece, and
    whether both ends of the piece are breakpoints."""
    d_bp = (x[:, None] - breakpoints[None, :]).abs().min(dim=1).values
    bounds = torch.cat([x.new_tensor([lo]), breakpoints, x.new_tensor([hi])])
    p = torch.searchsorted(bounds, x, right=True) - 1
    d_end = torch.minimum(x - bounds[p], bounds[p + 1] - x)
    interior = (p >= 1) & (p + 1 <= breakpoints.numel())
    return d_bp, d_end, interior


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_raw_1d_against_exact_breakpoints(depth, seed):
    """Raw 1D, any depth. On x's linear piece P every pre-activation is affine, so each neuron's
    first-order zero is its true zero if that lies in P, and otherwise lies outside P. Hence
    d_end(x) <= boundary_distance(x) <= d_bp(x) (d_end: distance to the nearer end of P, d_bp:
    to the nearest breakpoint), with equality to both where both ends of P are breakpoints
    ("interior" points, checked on most points). For one hidden layer every neuron's zero is a
    breakpoint on the real line, so there equality holds at every point. Breakpoints are taken
    on (-1e3, 1e3); points run from a little before the first to a little after the last breakpoint."""
    net = ReluNetwork.of(*random_mlp(1, [9] * depth, 1, seed=seed))
    lo, hi = -1e3, 1e3
    bps = breakpoints1d.exact_breakpoints_1d(net, lo, hi)
    assert bps.numel() >= 2
    margin = 0.05 * float(bps[-1] - bps[0])
    x = torch.linspace(float(bps[0]) - margin, float(bps[-1]) + margin, 2001,
                       dtype=torch.float64)
    dist, _ = coordinates.boundary_distance(x[:, None], None, net)
    d_bp, d_end, interior = _nearest_and_piece(x, bps, lo, hi)
    tol = 1e-9
    assert (dist >= d_end - tol).all()
    assert (dist <= d_bp + tol).all()
    assert interior.float().mean() > 0.5  # the equality case is what is being tested below
    torch.testing.assert_close(dist[interior], d_bp[interior], rtol=1e-8, atol=tol)
    if depth == 1:
        torch.testing.assert_close(dist, d_bp, rtol=1e-8, atol=tol)


def test_opcheck():
    w, b = random_mlp(2, [5, 4], 2, seed=0)
    coords = torch.rand(7, 2, dtype=torch.float64)
    for form in (raw_form(2), pe_form(2, 2)):
        if form[0].shape[0] != w[0].shape[1]:
            w, b = random_mlp(form[0].shape[0], [5, 4], 2, seed=0)
        torch.library.opcheck(torch.ops.specbias.boundary_distance.default,
                              (coords, *form, w, b))


def _good():
    w, b = random_mlp(8, [5, 4], 1, seed=0)
    return torch.rand(6, 2, dtype=torch.float64), pe_form(2, 2), w, b


@pytest.mark.parametrize("op", [torch.ops.specbias.boundary_distance,
                                torch.ops.specbias.coord_gradients])
def test_bad_inputs(op):
    """The C++ checks (the Python wrappers check the network's structure before, in
    ReluNetwork)."""
    coords, (m, o, p), w, b = _good()
    cases = [
        ((coords[0], m, o, p, w, b), "coords: expected a 2-D tensor"),
        ((coords.long(), m, o, p, w, b), "coords: expected float32 or float64"),
        ((coords.float(), m, o, p, w, b), "enc_matrix: expected dtype"),
        ((torch.rand(6, 3, dtype=torch.float64), m, o, p, w, b), "enc_matrix: expected shape"),
        ((coords, m, o[:-1], p, w, b), "enc_offset: expected shape"),
        ((coords, m, o, p.double(), w, b), "enc_periodic: expected a bool tensor"),
        ((coords, m[:-2], o[:-2], p[:-2], w, b), "weights[0]: expected shape [out, E] with E = 6"),
        ((coords, m, o, p, [w[0].float()] + w[1:], b), "weights[0]: expected dtype"),
        ((coords, m, o, p, w, b[:-1]), "biases: expected one bias per weight"),
        ((coords, m, o, p, w[:1], b[:1]), "weights: expected at least 2 layers"),
    ]
    nan_coords = coords.clone()
    nan_coords[2, 1] = math.nan
    cases.append(((nan_coords, m, o, p, w, b), "coords: expected finite values"))
    for args, message in cases:
        with pytest.raises(RuntimeError, match=message.replace("[", r"\[").replace("]", r"\]")):
            op(*args)


def test_python_layer_errors():
    coords, form, w, b = _good()
    net = ReluNetwork.of(w, b)
    with pytest.raises(TypeError, match="encoding: expected an object with affine_sine"):
        coordinates.boundary_distance(coords, "pe", net)
    with pytest.raises(ValueError, match="coords: expected a 2-D tensor"):
        coordinates.boundary_distance(coords[0], form, net)


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["raw", "pe", "rff"])
def test_cuda_matches_cpu(dtype, kind):
    form = make_form(kind, 2, dtype)
    net = ReluNetwork.of(*random_mlp(form[0].shape[0], [70, 64, 33], 2, dtype=dtype, seed=1,
                                     dead_fraction=0.3))
    coords = torch.rand(5000, 2, dtype=dtype)
    dist, arg = ops_geometry.boundary_distance(coords, *form, net)
    cuda = lambda ts: [t.cuda() for t in ts]  # noqa: E731
    dist_c, arg_c = ops_geometry.boundary_distance(coords.cuda(), *cuda(form), net.to("cuda"))
    torch.testing.assert_close(dist_c.cpu(), dist, **DIST_TOL[dtype])
    agree = (arg_c.cpu() == arg).float().mean()
    assert agree > (0.999 if dtype == torch.float64 else 0.99)
    empty = ops_geometry.boundary_distance(coords[:0].cuda(), *cuda(form), net.to("cuda"))
    assert empty[0].shape == (0,)


@requires_cuda
@pytest.mark.parametrize("op", [torch.ops.specbias.boundary_distance,
                                torch.ops.specbias.coord_gradients])
def test_cuda_device_mismatch_errors(op):
    coords, (m, o, p), w, b = _good()
    cuda = lambda ts: [t.cuda() for t in ts]  # noqa: E731
    with pytest.raises(RuntimeError, match="enc_matrix: expected device"):
        op(coords.cuda(), m, o.cuda(), p.cuda(), cuda(w), cuda(b))
    with pytest.raises(RuntimeError, match="enc_periodic: expected device"):
        op(coords.cuda(), m.cuda(), o.cuda(), p, cuda(w), cuda(b))
    with pytest.raises(RuntimeError, match=r"weights\[1\]: expected device"):
        op(coords.cuda(), m.cuda(), o.cuda(), p.cuda(), [w[0].cuda(), w[1], w[2].cuda()], cuda(b))
