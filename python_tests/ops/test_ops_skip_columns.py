"""Input skips that read a slice of the network input (``ReluNetwork.skip_columns``): every
kernel that runs the network (patterns, per-example gradient norms, inner products, Gram
blocks, region gradient norms, boundary distance and coordinate gradients, from coordinates and
from encoded points) against the plain-torch reference on random networks with sliced skips;
per-example gradients over every parameter against autograd on a module that slices its input
as DeepSDF does; the checks of the description, the kernels and the fake kernels; opcheck and
torch.compile."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

import specbias_ext as se
from specbias_ext import reference
from specbias_ext.nets.network import ReluNetwork
from specbias_ext.reference import network as refnet
from specbias_ext.reference.patterns import pack_bits
from kernel_cases import call, prepared

OPS = torch.ops.specbias


def sliced_network(in_dim, widths, out_dim, skips, *, slopes=None, bias=True, residual=(),
                   dtype=torch.float64, seed=0):
    """``skips``: {layer: None (all of x) or (start, stop)}; residual layers take the width
    they read."""
    gen = torch.Generator().manual_seed(seed)
    depth = len(widths)
    weights, biases, prev = [], [], in_dim
    for l in range(depth + 1):
        out = out_dim if l == depth else (prev if l in residual else widths[l])
        cols = skips.get(l, None)
        fan_in = prev + ((in_dim if cols is None else cols[1] - cols[0]) if l in skips else 0)
        weights.append((torch.randn(out, fan_in, generator=gen, dtype=torch.float64)
                        / fan_in ** 0.5).to(dtype))
        b = 0.1 * torch.randn(out, generator=gen, dtype=torch.float64)
        biases.append(b.to(dtype) if (bias if isinstance(bias, bool) else bias[l]) else None)
        prev = out
    return ReluNetwork.of(weights, biases, slopes=slopes,
                          input_skips=[l in skips for l in range(depth + 1)],
                          residual=[l in residual for l in range(depth)],
                          skip_columns=[skips.get(l) for l in range(depth + 1)])


@st.composite
def sliced_cases(draw, max_n=40):
    """(net, x, grad_out): 1-4 hidden layers, every skip reading all of x or a drawn slice."""
    depth = draw(st.integers(1, 4))
    in_dim = draw(st.integers(1, 7))
    skips = {}
    for l in range(1, depth + 1):
        if draw(st.integers(0, 2)):
            start = draw(st.integers(0, in_dim - 1))
            stop = draw(st.integers(start + 1, in_dim))
            skips[l] = draw(st.sampled_from([(start, stop), (start, stop), None]))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**31 - 1))
    net = sliced_network(
        in_dim, draw(st.lists(st.integers(1, 70), min_size=depth, max_size=depth)),
        draw(st.integers(1, 3)), skips,
        slopes=draw(st.lists(st.sampled_from([0.0, 0.0, 0.1, -0.2]), min_size=depth,
                             max_size=depth)),
        bias=draw(st.lists(st.booleans(), min_size=depth + 1, max_size=depth + 1)),
        residual=draw(st.sets(st.integers(0, depth - 1))), dtype=dtype, seed=seed)
    n = draw(st.sampled_from([0, 1, draw(st.integers(2, max_n))]))
    gen = torch.Generator().manual_seed(seed + 1)
    x = (torch.rand(n, in_dim, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)
    go = torch.randn(n, net.out_dim, generator=gen, dtype=torch.float64).to(dtype)
    return net, x, go


def assert_scaled(actual, expected, scale, dtype, what):
    tol = 2e-4 if dtype == torch.float32 else 1e-9
    err = (actual.double() - expected).abs()
    assert bool((err <= tol * (scale + 1e-12)).all()), f"{what}: worst error {float(err.max()):.3e}"


# ----------------------------------------------------------------------------- the description


def test_description_keeps_and_passes_the_slices():
    net = sliced_network(5, [6, 7], 2, {1: (2, 5), 2: None})
    assert net.skip_columns == (None, (2, 5), None)
    assert net.skip_width(1) == 3 and net.skip_width(2) == 5 and net.skip_width(0) == 0
    assert net.describe()["skip_columns"] == [None, [2, 5], None]
    assert net.to(torch.float32).skip_columns == net.skip_columns
    assert net.detach().skip_columns == net.skip_columns
    kw = net.op_args()[2]
    assert kw["skip_columns"] == [-1, -1, 2, 5, -1, -1]
    full = sliced_network(5, [6, 7], 2, {1: None, 2: None})
    assert full.op_args()[2]["skip_columns"] is None  # no slice: the schema's default
    assert ReluNetwork(net.weights, net.biases, net.slopes, net.input_skips,
                       net.residual).skip_columns == (None, None, None)


@pytest.mark.parametrize("skips,columns,match", [
    ({1: None}, [None, (0, 9), None], r"skip_columns\[1\]: expected a column range .* <= 5"),
    ({1: None}, [None, (3, 3), None], r"skip_columns\[1\]: expected a column range"),
    ({1: None}, [None, (-1, 2), None], r"skip_columns\[1\]: expected a column range"),
    ({1: None}, [None, None, (0, 2)], r"skip_columns\[2\]: layer 2 has no input skip"),
    ({1: None}, [None, None], r"skip_columns: expected 3 entries"),
    ({1: None}, [None, "ab", None], r"skip_columns\[1\]: expected None or a \(start, stop\)"),
    ({1: None}, [None, (1, 3), None],
     r"weights\[1\]: expected 8 input features \(the previous layer's width \+ 2 \(input skip "
     r"of x columns 1:3\)\)"),
])
def test_description_refuses_bad_slices(skips, columns, match):
    net = sliced_network(5, [6, 7], 2, skips)  # layer 1 reads all 5 columns of x
    with pytest.raises(ValueError, match=match):
        ReluNetwork.of(net.weights, net.biases, input_skips=net.input_skips,
                       skip_columns=columns)


def test_reference_matches_a_module_that_slices_its_input():
    """A DeepSDF-style module (re-injects the last 3 columns of [latent, xyz]): the reference
    forward and its per-example gradients over all parameters equal autograd on the module."""

    class Decoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l0 = torch.nn.Linear(7, 9)
            self.l1 = torch.nn.Linear(9 + 3, 8)
            self.head = torch.nn.Linear(8, 1)

        def forward(self, x):
            h = torch.relu(self.l0(x))
            h = torch.relu(self.l1(torch.cat([h, x[..., 4:]], -1)))
            return self.head(h)

    torch.manual_seed(0)
    model = Decoder().double()
    net = ReluNetwork.of([model.l0.weight, model.l1.weight, model.head.weight],
                         [model.l0.bias, model.l1.bias, model.head.bias],
                         input_skips=[False, True, False],
                         skip_columns=[None, (4, 7), None]).detach()
    x = torch.randn(6, 7, dtype=torch.float64)
    go = torch.randn(6, 1, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(refnet.forward(net, x), model(x))
    rows = []
    for i in range(6):
        model.zero_grad()
        (model(x[i:i + 1]) * go[i]).sum().backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    torch.testing.assert_close(refnet.flat_per_example_grads(net, x, go), torch.stack(rows))
    norms = call(OPS.per_example_grad_norms, x, net, go)
    torch.testing.assert_close(norms.sum(1), torch.stack(rows).square().sum(1))
    assert torch.equal(call(OPS.activation_patterns, x, net),
                       pack_bits(refnet.pattern_bits(net, x)))


# ----------------------------------------------------------------------------- kernels vs reference


@settings(max_examples=30, deadline=None)
@given(sliced_cases(max_n=60))
def test_patterns_match_reference(case):
    net, x, go = case
    x, _, net64, x64, _ = prepared(net, x, go)
    assert torch.equal(call(OPS.activation_patterns, x, net),
                       pack_bits(refnet.pattern_bits(net64, x64)))


@settings(max_examples=30, deadline=None)
@given(sliced_cases())
def test_gradient_ops_match_torch_func(case):
    net, x, go = case
    x, go, net64, x64, go64 = prepared(net, x, go)
    per_layer = refnet.per_example_grads(net64, x64, go64)
    flat = torch.cat(per_layer, dim=1)
    assert flat.shape[1] == net.num_parameters()  # every parameter, the skip columns included
    n = x.shape[0]
    norms = call(OPS.per_example_grad_norms, x, net, go)
    want = torch.stack([g.square().sum(1) for g in per_layer], dim=1)
    assert_scaled(norms, want, want.sum(1, keepdim=True), x.dtype, "per_example_grad_norms")
    sq = flat.square().sum(1)
    gen = torch.Generator().manual_seed(n)
    i = torch.randint(0, max(n, 1), (2 * n,), generator=gen)
    j = torch.randint(0, max(n, 1), (2 * n,), generator=gen)
    assert_scaled(call(OPS.grad_dots, x, net, go, i, j), (flat[i] * flat[j]).sum(1),
                  (sq[i] * sq[j]).sqrt(), x.dtype, "grad_dots")
    scale = (sq[:, None] * sq[None, :]).sqrt()
    assert_scaled(call(OPS.grad_gram, x, net, go), flat @ flat.T, scale, x.dtype, "grad_gram")
    rows, cols = i[: n // 2], j[: n // 3]
    assert_scaled(call(OPS.grad_gram, x, net, go, rows, cols), flat[rows] @ flat[cols].T,
                  scale[rows][:, cols], x.dtype, "grad_gram block")
    regions = min(3, max(n, 1))
    ids = torch.arange(n) % regions
    sums = torch.zeros(regions, flat.shape[1], dtype=torch.float64).index_add_(0, ids, flat)
    son = torch.zeros(regions, dtype=torch.float64).index_add_(0, ids, flat.norm(dim=1))
    got_nos, got_son = call(OPS.region_grad_norms, x, net, go, ids, regions)
    assert_scaled(got_nos, sums.norm(dim=1), son, x.dtype, "norm_of_sum")
    assert_scaled(got_son, son, son, x.dtype, "sum_of_norms")


def test_one_large_region_with_sliced_skips():
    # 2900 points in one region: the CPU kernel's accumulated outer sums of [a, x slice].
    net = sliced_network(4, [9, 9, 5], 2, {2: (1, 3), 3: (3, 4)}, slopes=[0.1, -0.3, 0.0],
                         bias=[True, False, True, True], residual={1})
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(3000, 4, generator=gen, dtype=torch.float64) * 2 - 1
    go = torch.randn(3000, 2, generator=gen, dtype=torch.float64)
    ids = (torch.arange(3000) >= 2900).long()
    flat = refnet.flat_per_example_grads(net, x, go)
    got, son = call(OPS.region_grad_norms, x, net, go, ids, 2)
    torch.testing.assert_close(got, torch.stack([flat[:2900].sum(0).norm(),
                                                 flat[2900:].sum(0).norm()]), rtol=1e-9, atol=0)
    torch.testing.assert_close(son, torch.stack([flat[:2900].norm(dim=1).sum(),
                                                 flat[2900:].norm(dim=1).sum()]),
                               rtol=1e-9, atol=0)


def _check_nearest(arg, want_arg, want_dist, per_neuron):
    """The nearest neuron is the reference's, or one at the same distance: neurons can tie
    exactly (a bias-free chain of width-1 layers shares one boundary), and rounding then picks."""
    differ = (arg != want_arg).nonzero().flatten()
    torch.testing.assert_close(per_neuron[differ, arg[differ]], want_dist[differ], rtol=1e-9,
                               atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(sliced_cases(max_n=30), st.integers(1, 3))
def test_geometry_ops_match_reference(case, dims):
    """From encoded points with a Jacobian, and from coordinates through an affine-sine
    encoding whose width is the network's input width."""
    net, x, _ = case
    net = net.to(torch.float64)
    n, width = x.shape[0], net.in_dim
    gen = torch.Generator().manual_seed(n + 7 * dims)
    x = x.double()
    jac = torch.randn(n, width, dims, generator=gen, dtype=torch.float64)
    w, b, kw = net.op_args()
    dist, arg = OPS.boundary_distance_encoded(x, jac, w, b, **kw)
    want_dist, want_arg = reference.boundary_distance_encoded(x, jac, net)
    torch.testing.assert_close(dist, want_dist, rtol=1e-9, atol=1e-12)
    _check_nearest(arg, want_arg, want_dist, reference.neuron_distances_encoded(x, jac, net))
    torch.testing.assert_close(OPS.coord_gradients_encoded(x, jac, w, b, **kw),
                               reference.coord_gradients_encoded(x, jac, net),
                               rtol=1e-9, atol=1e-12)
    coords = torch.rand(n, dims, generator=gen, dtype=torch.float64) * 2 - 1
    matrix = torch.randn(width, dims, generator=gen, dtype=torch.float64)
    offset = torch.randn(width, generator=gen, dtype=torch.float64)
    periodic = torch.rand(width, generator=gen) < 0.5
    dist, arg = OPS.boundary_distance(coords, matrix, offset, periodic, w, b, **kw)
    want_dist, want_arg = reference.boundary_distance(coords, matrix, offset, periodic, net)
    torch.testing.assert_close(dist, want_dist, rtol=1e-9, atol=1e-12)
    _check_nearest(arg, want_arg, want_dist, reference.neuron_distances_through(
        coords, lambda c: reference.encode_affine_sine(c, matrix, offset, periodic), net))
    torch.testing.assert_close(OPS.coord_gradients(coords, matrix, offset, periodic, w, b, **kw),
                               reference.coord_gradients(coords, matrix, offset, periodic, net),
                               rtol=1e-9, atol=1e-12)


def test_a_slice_is_a_full_skip_with_zero_columns_outside_it():
    """Values, patterns and coordinate derivatives of a sliced skip equal those of a full-input
    skip whose weight is zero outside the slice; gradient norms differ exactly by the extra
    (zero) weight columns' gradients, which the sliced description does not have."""
    net = sliced_network(6, [20, 20], 1, {1: (2, 5), 2: (0, 1)}, slopes=[0.1, 0.0])
    weights = list(net.weights)
    for l, (start, stop) in [(1, (2, 5)), (2, (0, 1))]:
        prev = int(net.weights[l - 1].shape[0])
        full = weights[l].new_zeros(weights[l].shape[0], prev + 6)
        full[:, :prev] = weights[l][:, :prev]
        full[:, prev + start:prev + stop] = weights[l][:, prev:]
        weights[l] = full
    padded = ReluNetwork.of(weights, net.biases, net.slopes, net.input_skips, net.residual)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(300, 6, generator=gen, dtype=torch.float64) * 2 - 1
    go = torch.randn(300, 1, generator=gen, dtype=torch.float64)
    assert torch.equal(call(OPS.activation_patterns, x, net),
                       call(OPS.activation_patterns, x, padded))
    jac = torch.randn(300, 6, 2, generator=gen, dtype=torch.float64)
    for op in (OPS.boundary_distance_encoded, OPS.coord_gradients_encoded):
        got, want = (op(x, jac, *net.op_args()[:2], **net.op_args()[2]),
                     op(x, jac, *padded.op_args()[:2], **padded.op_args()[2]))
        for g, w in zip(got if isinstance(got, tuple) else [got],
                        want if isinstance(want, tuple) else [want]):
            torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-14)
    sliced_norms = call(OPS.per_example_grad_norms, x, net, go)
    padded_norms = call(OPS.per_example_grad_norms, x, padded, go)
    extra = [(1, [0, 1, 5]), (2, [1, 2, 3, 4, 5])]  # the padded layers' x columns outside
    flat = refnet.per_example_grads(padded, x, go)
    for l, outside in extra:
        prev = int(net.weights[l - 1].shape[0])
        g = flat[l][:, :weights[l].numel()].reshape(300, weights[l].shape[0], -1)
        padded_norms[:, l] -= g[:, :, [prev + c for c in outside]].square().sum((1, 2))
    torch.testing.assert_close(sliced_norms, padded_norms, rtol=1e-9, atol=1e-12)


def test_through_the_package_api():
    net = sliced_network(5, [16, 16], 1, {1: (3, 5), 2: (0, 3)}, slopes=[0.0, 0.1])
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(50, 5, generator=gen, dtype=torch.float64)
    go = torch.randn(50, 1, generator=gen, dtype=torch.float64)
    assert torch.equal(se.activation_patterns(x, net), pack_bits(refnet.pattern_bits(net, x)))
    want = torch.stack([g.square().sum(1) for g in refnet.per_example_grads(net, x, go)], 1)
    torch.testing.assert_close(se.per_example_grad_norms(x, net, go), want, rtol=1e-9, atol=0)
    jac = torch.randn(50, 5, 2, generator=gen, dtype=torch.float64)
    dist, _ = se.ops.geometry.boundary_distance_encoded(x, jac, net)
    torch.testing.assert_close(dist, reference.boundary_distance_encoded(x, jac, net)[0])


# ----------------------------------------------------------------------------- refusals


def _small():
    net = sliced_network(5, [6, 7], 2, {1: (1, 4), 2: None})
    x = torch.rand(4, 5, dtype=torch.float64)
    return net, x, *net.op_args()


@pytest.mark.parametrize("columns,match", [
    ([-1, -1, 1, 4], r"skip_columns: expected two entries \(start, stop\) per layer, head "
                     r"included \(6\), got 4"),
    ([-1, -1, 1, 4, 0, 2], r"weights\[2\]: expected 9 input features"),
    ([0, 1, 1, 4, -1, -1], r"skip_columns: layer 0 has no input skip; expected -1, -1"),
    ([-1, -1, 3, 2, -1, -1], r"skip_columns: layer 1's skip reads x columns \[3, 2\); expected "
                             r"0 <= start < stop"),
    ([-1, -1, 2, 9, -1, -1], r"skip_columns: layer 1's skip reads x columns \[2, 9\); expected "
                             r"stop <= x.shape\[1\] = 5"),
    ([-1, -1, 0, 4, -1, -1], r"weights\[1\]: expected 10 input features \(the previous layer's "
                             r"width \+ the 4 x columns \[0, 4\) of an input skip\)"),
])
def test_kernels_refuse_bad_column_lists(columns, match):
    net, x, w, b, kw = _small()
    kw = dict(kw, skip_columns=columns)
    go = torch.randn(4, 2, dtype=torch.float64)
    with pytest.raises(RuntimeError, match=match):
        OPS.activation_patterns(x, w, b, **kw)
    with pytest.raises(RuntimeError, match=match):
        OPS.per_example_grad_norms(x, w, b, go, **kw)
    with pytest.raises(RuntimeError, match=match):
        OPS.coord_gradients_encoded(x, torch.zeros(4, 5, 1, dtype=torch.float64), w, b, **kw)
    meta = [t.to("meta") for t in w], [None if t is None else t.to("meta") for t in b]
    if "x.shape" in match or "weights" in match or "two entries" in match:
        with pytest.raises(RuntimeError, match=match):  # the fake kernel's shape checks
            OPS.activation_patterns(x.to("meta"), *meta, **kw)


# ----------------------------------------------------------------------------- opcheck, compile


def test_opcheck_every_network_op_with_sliced_skips():
    net = sliced_network(4, [9, 9, 6], 2, {2: (1, 3), 3: (0, 4)}, slopes=[0.2, 0.0, 0.05],
                         bias=[True, False, True, False], residual={1})
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(11, 4, generator=gen, dtype=torch.float64)
    go = torch.randn(11, 2, generator=gen, dtype=torch.float64)
    jac = torch.randn(11, 4, 2, generator=gen, dtype=torch.float64)
    coords = torch.rand(11, 2, generator=gen, dtype=torch.float64)
    enc = (torch.randn(4, 2, generator=gen, dtype=torch.float64),
           torch.randn(4, generator=gen, dtype=torch.float64), torch.tensor([True, False] * 2))
    i, j = torch.tensor([0, 3, 10]), torch.tensor([1, 3, 2])
    w, b, kw = net.op_args()
    ids, counts = OPS.region_ids(OPS.activation_patterns(x, w, b, **kw))
    cases = [
        (OPS.activation_patterns, (x, w, b)),
        (OPS.per_example_grad_norms, (x, w, b, go)),
        (OPS.grad_dots, (x, w, b, go, i, j)),
        (OPS.grad_gram, (x, w, b, go, i, j)),
        (OPS.region_grad_norms, (x, w, b, go, ids, int(counts.numel()))),
        (OPS.boundary_distance_encoded, (x, jac, w, b)),
        (OPS.coord_gradients_encoded, (x, jac, w, b)),
        (OPS.boundary_distance, (coords, *enc, w, b)),
        (OPS.coord_gradients, (coords, *enc, w, b)),
    ]
    for op, args in cases:
        torch.library.opcheck(op, args, kw)


def test_compile_dynamic_with_sliced_skips_one_compilation():
    import torch._dynamo.testing

    net = sliced_network(3, [16, 12], 1, {1: (1, 3), 2: (0, 2)}, slopes=[0.1, 0.0],
                         dtype=torch.float32)

    def analyse(x, go):
        patterns = se.activation_patterns(x, net)
        return patterns, se.per_example_grad_norms(x, net, go)

    counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(analyse, backend=counter, dynamic=True, fullgraph=True)
    torch._dynamo.reset()
    for n in (31, 64, 97):
        t = torch.linspace(-1, 1, n)
        x = torch.stack([t, t.flip(0) * 0.5, t * t], 1)
        go = torch.sin(3 * t)[:, None]
        for got, expect in zip(compiled(x, go), analyse(x, go)):
            torch.testing.assert_close(got, expect)
    assert counter.frame_count == 1
