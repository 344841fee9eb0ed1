"""boundary_distance and coord_gradients on described networks (input skips, LeakyReLU, bias-free
and residual layers) against the torch.func reference, through the affine-sine fast path and the
*_encoded ops; opcheck of all four geometry ops on a non-plain network; network errors."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import requires_cuda
from specbias_ext.testing import make_form
from specbias_ext.testing import NERF_LIKE, random_network
from specbias_ext.testing.strategies import network_kinds
from specbias_ext.testing import random_mlp
from specbias_ext import ReluNetwork, reference
from specbias_ext.ops import coordinates
from specbias_ext.ops import geometry as ops_geometry

DIST_TOL = {torch.float32: dict(rtol=2e-3, atol=1e-4), torch.float64: dict(rtol=1e-9, atol=1e-10)}
GRAD_TOL = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=1e-10, atol=1e-10)}


def _encoder(form):
    return lambda c: reference.encode_affine_sine(c, *form)


def _check_distance(dist, arg, coords, encode, net, dtype):
    """dist/arg against the reference; argmin must name a neuron at the minimum distance."""
    ref_dist, ref_arg = reference.boundary_distance_through(coords, encode, net)
    assert dist.shape == ref_dist.shape and dist.dtype == dtype and arg.dtype == torch.int64
    assert torch.equal(torch.isinf(dist), torch.isinf(ref_dist))
    assert torch.equal(arg == -1, torch.isinf(dist))
    finite = ~torch.isinf(dist)
    torch.testing.assert_close(dist[finite], ref_dist[finite], **DIST_TOL[dtype])
    per_neuron = reference.neuron_distances_through(coords, encode, net)
    rows = torch.nonzero(finite).squeeze(1)
    torch.testing.assert_close(per_neuron[rows, arg[rows]], ref_dist[finite], **DIST_TOL[dtype])
    # Where no two neurons tie, float64 names the reference's neuron (a bias-free chain of
    # width-1 layers shares one boundary between layers: a tie that rounding decides).
    if dtype == torch.float64:
        ties = ((per_neuron - ref_dist[:, None]).abs() <= 1e-12 * ref_dist[:, None].abs()).sum(1)
        assert torch.equal(arg[ties == 1], ref_arg[ties == 1])


@st.composite
def cases(draw):
    return dict(kind=draw(network_kinds()), dims=draw(st.sampled_from([1, 2, 3])),
                encoding=draw(st.sampled_from(["raw", "pe", "rff"])),
                dtype=draw(st.sampled_from([torch.float32, torch.float64])),
                n=draw(st.sampled_from([0, 1, 2, 41, 300])), seed=draw(st.integers(0, 2**20)))


def _setup(case):
    form = make_form(case["encoding"], case["dims"], case["dtype"], case["seed"])
    net = random_network(form[0].shape[0], **case["kind"], dtype=case["dtype"], seed=case["seed"])
    coords = torch.rand(case["n"], case["dims"], dtype=case["dtype"],
                        generator=torch.Generator().manual_seed(case["seed"] + 1))
    return coords, form, net


@settings(max_examples=30, deadline=None)
@given(cases())
def test_fast_path_matches_reference(case):
    coords, form, net = _setup(case)
    dist, arg = ops_geometry.boundary_distance(coords, *form, net)
    _check_distance(dist, arg, coords, _encoder(form), net, case["dtype"])
    grads = coordinates.coord_gradients(coords, form, net)
    assert grads.shape == (case["n"], net.out_dim, case["dims"])
    torch.testing.assert_close(grads, reference.coord_gradients_through(coords, _encoder(form), net),
                               **GRAD_TOL[case["dtype"]])


@settings(max_examples=25, deadline=None)
@given(cases())
def test_encoded_ops_match_reference(case):
    """The *_encoded ops from (x, x_jacobian) of the same encoding give the fast path's result."""
    coords, form, net = _setup(case)
    x = reference.encode_affine_sine(coords, *form)
    jac = torch.func.vmap(torch.func.jacfwd(lambda c: reference.encode_affine_sine(
        c[None], *form)[0]))(coords) if case["n"] else x.new_zeros((0, x.shape[1], case["dims"]))
    dist, arg = ops_geometry.boundary_distance_encoded(x, jac, net)
    ref_dist, ref_arg = reference.boundary_distance_encoded(x, jac, net)
    assert torch.equal(torch.isinf(dist), torch.isinf(ref_dist))
    finite = ~torch.isinf(dist)
    torch.testing.assert_close(dist[finite], ref_dist[finite], **DIST_TOL[case["dtype"]])
    _check_distance(dist, arg, coords, _encoder(form), net, case["dtype"])
    grads = ops_geometry.coord_gradients_encoded(x, jac, net)
    torch.testing.assert_close(grads, reference.coord_gradients_encoded(x, jac, net),
                               **GRAD_TOL[case["dtype"]])
    torch.testing.assert_close(grads, ops_geometry.coord_gradients(coords, *form, net),
                               **GRAD_TOL[case["dtype"]])


def test_leaky_layer_keeps_tangents_behind_negative_preactivations():
    """With every layer-0 neuron negative, ReLU leaves later neurons without gradient (inf), a
    LeakyReLU of slope s scales the tangents by s: the distance behind it is finite."""
    kind = dict(NERF_LIKE, hidden=[4, 3], slopes=[0.0, 0.0], bias=[True] * 3,
                skips=set(), residual=set(), out_dim=1)
    net = random_network(2, **kind)
    dead = ReluNetwork.of(net.weights, [net.biases[0] - 1e3] + list(net.biases[1:]))
    coords = torch.rand(5, 2, dtype=torch.float64)
    grads = coordinates.coord_gradients(coords, None, dead)
    assert torch.all(grads == 0)
    leaky = ReluNetwork.of(dead.weights, dead.biases, slopes=[0.25, 0.0])
    grads = coordinates.coord_gradients(coords, None, leaky)
    torch.testing.assert_close(grads, reference.coord_gradients_through(coords, lambda c: c, leaky))
    assert torch.all(grads.abs().sum((1, 2)) > 0)
    dist, arg = coordinates.boundary_distance(coords, None, leaky)
    assert torch.all(torch.isfinite(dist)) and torch.all(arg >= 0)


def test_residual_and_skip_of_raw_coordinates_by_hand():
    """One residual layer on raw 2D input and a head that reads [a_0, x]: the gradient is
    (W_h^a (D_0 W_0 + I) + W_h^x) with D_0 the leaky mask, written out."""
    w0 = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=torch.float64)
    b0 = torch.tensor([0.1, -0.2], dtype=torch.float64)
    wh = torch.tensor([[0.3, -0.7, 2.0, 1.0]], dtype=torch.float64)
    net = ReluNetwork.of([w0, wh], [b0, None], slopes=[0.1], input_skips=[False, True],
                           residual=[True])
    c = torch.tensor([[0.2, 0.3], [-0.4, 0.1]], dtype=torch.float64)
    z0 = c @ w0.T + b0
    mask = torch.where(z0 > 0, 1.0, 0.1).to(torch.float64)
    expected = torch.stack([wh[:, :2] @ (torch.diag(m) @ w0 + torch.eye(2)) + wh[:, 2:]
                            for m in mask])
    torch.testing.assert_close(coordinates.coord_gradients(c, None, net), expected)
    dist, arg = coordinates.boundary_distance(c, None, net)
    per = z0.abs() / w0.norm(dim=1)
    torch.testing.assert_close(dist, per.min(1).values)
    assert torch.equal(arg, per.argmin(1))


def _opcheck_inputs():
    form = make_form("pe", 2, torch.float64)
    net = random_network(form[0].shape[0], **NERF_LIKE, dtype=torch.float64, seed=3)
    coords = torch.rand(9, 2, dtype=torch.float64)
    x = reference.encode_affine_sine(coords, *form)
    jac = torch.rand(9, x.shape[1], 2, dtype=torch.float64)
    weights, biases, keywords = net.op_args()
    return coords, form, x, jac, weights, biases, keywords


def test_opcheck_all_geometry_ops_on_a_non_plain_network():
    coords, form, x, jac, weights, biases, keywords = _opcheck_inputs()
    assert all(keywords[k] is not None for k in ("slopes", "input_skip", "residual"))
    assert None in biases
    ops = torch.ops.specbias
    torch.library.opcheck(ops.boundary_distance.default, (coords, *form, weights, biases), keywords)
    torch.library.opcheck(ops.coord_gradients.default, (coords, *form, weights, biases), keywords)
    torch.library.opcheck(ops.boundary_distance_encoded.default, (x, jac, weights, biases),
                          keywords)
    torch.library.opcheck(ops.coord_gradients_encoded.default, (x, jac, weights, biases),
                          keywords)
    # The old positional form (plain weights and biases lists, no keywords).
    w, b = random_mlp(x.shape[1], [5, 4], 2, seed=1)
    torch.library.opcheck(ops.boundary_distance_encoded.default, (x, jac, w, b))
    torch.library.opcheck(ops.coord_gradients_encoded.default, (x, jac, w, b))


def _escape(message):
    return message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("op", [ops_geometry.boundary_distance_encoded,
                                ops_geometry.coord_gradients_encoded])
def test_encoded_op_errors(op):
    coords, form, x, jac, weights, biases, keywords = _opcheck_inputs()
    net = ReluNetwork.of(weights, biases, slopes=keywords["slopes"],
                         input_skips=keywords["input_skip"], residual=keywords["residual"])
    nan_jac = jac.clone()
    nan_jac[3, 1, 0] = math.nan
    nan_x = x.clone()
    nan_x[0, 0] = math.inf
    cases = [
        ((x[0], jac), "x: expected a 2-D tensor [N, E]"),
        ((x.long(), jac), "x: expected float32 or float64"),
        ((x, jac[:, :, 0]), "x_jacobian: expected shape [N, E, D]"),
        ((x, jac[:-1]), "x_jacobian: expected shape [N, E, D]"),
        ((x, jac[:, :, :0]), "x_jacobian: expected at least one coordinate dimension"),
        ((x, jac.float()), "x_jacobian: expected dtype"),
        ((x, nan_jac), "x_jacobian: expected finite values"),
        ((nan_x, jac), "x: expected finite"),
    ]
    for args, message in cases:
        with pytest.raises(RuntimeError, match=_escape(message)):
            op(*args, net)
    raw = getattr(torch.ops.specbias, op.__name__)
    w, b, kw = net.op_args()
    e = x.shape[1]
    with pytest.raises(ValueError, match=_escape(f"x has {e - 1} features, the network's first "
                                                 f"layer takes {e}")):
        op(x[:, :-1], jac[:, :-1], net)
    with pytest.raises(RuntimeError, match=_escape("weights[0]: expected")):
        raw(x[:, :-1], jac[:, :-1], w, b, **kw)
    with pytest.raises(RuntimeError, match=_escape("slopes: expected one negative slope per")):
        raw(x, jac, w, b, **dict(kw, slopes=[0.1]))
    with pytest.raises(RuntimeError, match=_escape("input_skip[0]: expected false")):
        raw(x, jac, w, b, **dict(kw, input_skip=[True] + kw["input_skip"][1:]))


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu_on_a_non_plain_network(dtype):
    form = make_form("pe", 2, dtype)
    kind = dict(NERF_LIKE, hidden=[70, 64, 64, 33], out_dim=3)
    net = random_network(form[0].shape[0], **kind, dtype=dtype, seed=4)
    coords = torch.rand(3000, 2, dtype=dtype)
    x = reference.encode_affine_sine(coords, *form)
    jac = torch.func.vmap(torch.func.jacfwd(
        lambda c: reference.encode_affine_sine(c[None], *form)[0]))(coords)
    cuda_net = net.to("cuda")
    cuda = lambda ts: [t.cuda() for t in ts]  # noqa: E731
    runs = [(ops_geometry.boundary_distance, (coords, *form)),
            (ops_geometry.boundary_distance_encoded, (x, jac))]
    for op, args in runs:
        dist, arg = op(*args, net)
        dist_c, arg_c = op(*cuda(args), cuda_net)
        torch.testing.assert_close(dist_c.cpu(), dist, **DIST_TOL[dtype])
        assert (arg_c.cpu() == arg).float().mean() > (0.999 if dtype == torch.float64 else 0.99)
    for op, args in [(ops_geometry.coord_gradients, (coords, *form)),
                     (ops_geometry.coord_gradients_encoded, (x, jac))]:
        torch.testing.assert_close(op(*cuda(args), cuda_net).cpu(), op(*args, net),
                                   **GRAD_TOL[dtype])
