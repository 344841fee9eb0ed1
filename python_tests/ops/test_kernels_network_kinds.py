"""The C++ kernels on every kind of described network (input skips, LeakyReLU, bias-free and
residual layers), called as ``torch.ops.specbias.*`` with ``ReluNetwork.op_args()``, against the
plain-torch reference of ``specbias_ext.reference.network`` (torch.func per-example gradients
over all parameters)."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

import specbias_ext  # noqa: F401  (loads the ops)
from specbias_ext.nets.network import ReluNetwork
from specbias_ext.reference import network as refnet
from specbias_ext.reference.patterns import pack_bits
from kernel_cases import call, kink_free, prepared

OPS = torch.ops.specbias

# Widths up to 70 cross one 64-bit word boundary; multiples of 64 come up rarely on purpose.
WIDTHS = st.integers(1, 70)


@st.composite
def network_cases(draw, max_n=40):
    """(net, x, grad_out) of a random described network; layer kinds drawn per layer."""
    depth = draw(st.integers(1, 4))
    in_dim = draw(st.integers(1, 6))
    out_dim = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.sampled_from([0, 1, draw(st.integers(2, max_n))]))
    gen = torch.Generator().manual_seed(seed)
    weights, biases, slopes, skips, residual = [], [], [], [False], []
    prev = in_dim
    for l in range(depth + 1):
        head = l == depth
        skip = l > 0 and draw(st.booleans())
        res = not head and draw(st.integers(0, 3)) == 0
        width = out_dim if head else (prev if res else draw(WIDTHS))
        fan_in = prev + (in_dim if skip else 0)
        w = torch.randn(width, fan_in, generator=gen, dtype=torch.float64) / fan_in ** 0.5
        b = None
        if draw(st.booleans()):
            b = 0.1 * torch.randn(width, generator=gen, dtype=torch.float64)
            if not head and draw(st.integers(0, 5)) == 0:
                b.fill_(-1e3)  # an all-dead layer
        weights.append(w.to(dtype))
        biases.append(None if b is None else b.to(dtype))
        if l > 0:
            skips.append(skip)
        if not head:
            slopes.append(draw(st.sampled_from([0.0, draw(st.floats(0.01, 0.5))])))
            residual.append(res)
        prev = width
    net = ReluNetwork.of(weights, biases, slopes, skips, residual)
    x = (torch.rand(n, in_dim, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)
    go = torch.randn(n, out_dim, generator=gen, dtype=torch.float64).to(dtype)
    return net, x, go


def tol(dtype):
    return 2e-4 if dtype == torch.float32 else 1e-9


def assert_scaled(actual, expected, scale, dtype, what):
    err = (actual.double() - expected).abs()
    bound = tol(dtype) * (scale + 1e-12)
    assert bool((err <= bound).all()), (
        f"{what}: worst error {float(err.max()):.3e}, bound there "
        f"{float(bound.flatten()[err.flatten().argmax()]):.3e}")


@settings(max_examples=30, deadline=None)
@given(network_cases(max_n=60))
def test_patterns_match_reference(case):
    net, x, _ = case
    x, _, net64, x64, _ = prepared(net, x, x[:, :1])
    got = call(OPS.activation_patterns, x, net)
    want = pack_bits(refnet.pattern_bits(net64, x64))
    assert got.shape == want.shape
    assert torch.equal(got, want)


@settings(max_examples=30, deadline=None)
@given(network_cases())
def test_grad_norms_dots_gram_match_torch_func(case):
    net, x, go = case
    x, go, net64, x64, go64 = prepared(net, x, go)
    per_layer = refnet.per_example_grads(net64, x64, go64)
    flat = torch.cat(per_layer, dim=1)
    n = x.shape[0]

    norms = call(OPS.per_example_grad_norms, x, net, go)
    want = torch.stack([g.square().sum(dim=1) for g in per_layer], dim=1)
    assert norms.shape == (n, net.depth + 1)
    assert_scaled(norms, want, want.sum(dim=1, keepdim=True), x.dtype, "per_example_grad_norms")

    sq = flat.square().sum(dim=1)
    gen = torch.Generator().manual_seed(n)
    i = torch.randint(0, max(n, 1), (2 * n,), generator=gen) if n else torch.zeros(0, dtype=torch.long)
    j = torch.randint(0, max(n, 1), (2 * n,), generator=gen) if n else torch.zeros(0, dtype=torch.long)
    dots = call(OPS.grad_dots, x, net, go, i, j)
    assert_scaled(dots, (flat[i] * flat[j]).sum(dim=1), (sq[i] * sq[j]).sqrt(), x.dtype,
                  "grad_dots")

    gram_scale = (sq[:, None] * sq[None, :]).sqrt()
    gram = call(OPS.grad_gram, x, net, go)
    assert_scaled(gram, flat @ flat.T, gram_scale, x.dtype, "grad_gram")
    rows, cols = i[: n // 2], j[: n // 3]
    block = call(OPS.grad_gram, x, net, go, rows, cols)
    assert_scaled(block, flat[rows] @ flat[cols].T, gram_scale[rows][:, cols], x.dtype,
                  "grad_gram block")


@settings(max_examples=30, deadline=None)
@given(network_cases(max_n=60), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_region_grad_norms_match_torch_func(case, regions, seed):
    net, x, go = case
    x, go, net64, x64, go64 = prepared(net, x, go)
    n = x.shape[0]
    regions = min(regions, max(n, 1))
    ids = torch.randint(0, regions, (n,), generator=torch.Generator().manual_seed(seed))
    flat = refnet.flat_per_example_grads(net64, x64, go64)
    sums = torch.zeros(regions, flat.shape[1], dtype=torch.float64).index_add_(0, ids, flat)
    norms = flat.norm(dim=1)
    sum_of_norms = torch.zeros(regions, dtype=torch.float64).index_add_(0, ids, norms)
    got_nos, got_son = call(OPS.region_grad_norms, x, net, go, ids, regions)
    assert_scaled(got_nos, sums.norm(dim=1), sum_of_norms, x.dtype, "norm_of_sum")
    assert_scaled(got_son, sum_of_norms, sum_of_norms, x.dtype, "sum_of_norms")


def skip_leaky_net(dtype=torch.float64, seed=0, negative_slope=False):
    """depth 3, widths 9/9/5: residual layer 1, skip at layer 2 and the head, a bias-free layer,
    LeakyReLU (a negative slope on request: the path that keeps pre-activations)."""
    gen = torch.Generator().manual_seed(seed)
    shapes = [(9, 3), (9, 9), (5, 9 + 3), (2, 5 + 3)]
    weights = [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) / s[1] ** 0.5
               for s in shapes]
    biases = [0.1 * torch.randn(s[0], generator=gen, dtype=torch.float64).to(dtype) for s in shapes]
    biases[1] = None
    slopes = [0.1, -0.3 if negative_slope else 0.0, 0.2]
    return ReluNetwork.of(weights, biases, slopes, [False, False, True, True],
                          [False, True, False])


@pytest.mark.parametrize("negative_slope", [False, True])
def test_large_region_and_negative_slope_paths(negative_slope):
    # One region of 3000 points (more than a CPU work item): the accumulated outer sums.
    net = skip_leaky_net(negative_slope=negative_slope)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(3000, 3, generator=gen, dtype=torch.float64) * 2 - 1
    go = torch.randn(3000, 2, generator=gen, dtype=torch.float64)
    ids = (torch.arange(3000) >= 2900).long()  # 2900 points in region 0, 100 in region 1
    flat = refnet.flat_per_example_grads(net, x, go)
    want = torch.stack([flat[:2900].sum(0).norm(), flat[2900:].sum(0).norm()])
    got, son = call(OPS.region_grad_norms, x, net, go, ids, 2)
    assert torch.allclose(got, want, rtol=1e-9)
    assert torch.allclose(son, torch.stack([flat[:2900].norm(dim=1).sum(),
                                            flat[2900:].norm(dim=1).sum()]), rtol=1e-9)
    norms = call(OPS.per_example_grad_norms, x[:50], net, go[:50])
    want_norms = torch.stack([g.square().sum(1) for g in
                              refnet.per_example_grads(net, x[:50], go[:50])], dim=1)
    assert torch.allclose(norms, want_norms, rtol=1e-9, atol=1e-12)
    pats = call(OPS.activation_patterns, x, net)
    assert torch.equal(pats, pack_bits(refnet.pattern_bits(net, x)))


def test_plain_lists_as_keywords_equal_positional_plain_call():
    # A plain network passed with explicit default lists gives the same result as without them.
    plain = ReluNetwork.of([torch.randn(7, 3, dtype=torch.float64), torch.randn(1, 7, dtype=torch.float64)],
                           [torch.zeros(7, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)])
    x = torch.rand(20, 3, dtype=torch.float64)
    go = torch.randn(20, 1, dtype=torch.float64)
    w, b, _ = plain.op_args()
    a = OPS.per_example_grad_norms(x, w, b, go)
    c = OPS.per_example_grad_norms(x, w, b, go, slopes=[0.0], input_skip=[False, False],
                                   residual=[False])
    assert torch.equal(a, c)


# ----------------------------------------------------------------------------- opcheck


def opcheck_cases():
    net = skip_leaky_net()
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(12, 3, generator=gen, dtype=torch.float64)
    go = torch.randn(12, 2, generator=gen, dtype=torch.float64)
    w, b, kw = net.op_args()
    i = torch.tensor([0, 3, 5, 11])
    j = torch.tensor([1, 3, 7, 2])
    ids = torch.tensor([0, 1, 2, 0, 1, 2, 0, 0, 1, 1, 2, 2])
    return [
        (OPS.activation_patterns.default, (x, w, b), kw),
        (OPS.per_example_grad_norms.default, (x, w, b, go), kw),
        (OPS.grad_dots.default, (x, w, b, go, i, j), kw),
        (OPS.grad_gram.default, (x, w, b, go), kw),
        (OPS.grad_gram.default, (x, w, b, go, i, j), kw),
        (OPS.region_grad_norms.default, (x, w, b, go, ids, 3), kw),
    ]


@pytest.mark.parametrize("k", range(6))
def test_opcheck_network_kinds(k):
    op, args, kwargs = opcheck_cases()[k]
    torch.library.opcheck(op, args, kwargs)


# ----------------------------------------------------------------------------- refusals


def small_net():
    net = skip_leaky_net()
    x = torch.rand(6, 3, dtype=torch.float64)
    go = torch.randn(6, 2, dtype=torch.float64)
    return net, x, go


@pytest.mark.parametrize("where", ["weights[2]", "biases[0]", "biases[3]"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_parameters_refused_with_layer_named(where, value):
    net, x, go = small_net()
    w, b, kw = net.op_args()
    w = [t.clone() for t in w]
    b = [None if t is None else t.clone() for t in b]
    target = w if where.startswith("weights") else b
    target[int(where[-2])].view(-1)[0] = value
    match = where.replace("[", r"\[").replace("]", r"\]") + ": expected finite values"
    with pytest.raises(RuntimeError, match=match):
        OPS.activation_patterns(x, w, b, **kw)
    with pytest.raises(RuntimeError, match=match):
        OPS.per_example_grad_norms(x, w, b, go, **kw)
    with pytest.raises(RuntimeError, match=match):
        OPS.region_grad_norms(x, w, b, go, torch.zeros(6, dtype=torch.long), 1, **kw)


def test_non_finite_grad_out_and_x_refused():
    net, x, go = small_net()
    w, b, kw = net.op_args()
    go[2, 1] = float("nan")
    with pytest.raises(RuntimeError, match="grad_out: expected finite values"):
        OPS.grad_gram(x, w, b, go, **kw)
    x[0, 0] = float("-inf")
    with pytest.raises(RuntimeError, match="x: expected finite coordinates"):
        OPS.activation_patterns(x, w, b, **kw)


def test_huge_finite_parameters_are_not_refused():
    # The fused check sums L1 norms; an overflowing sum of finite values must still pass.
    net, x, _ = small_net()
    w, b, kw = net.op_args()
    w = [t.float() for t in w]
    b = [None if t is None else t.float() for t in b]
    w[0] = torch.full_like(w[0], 3e38)
    OPS.activation_patterns(x.float(), w, b, **kw)


@pytest.mark.parametrize("change,match", [
    (dict(slopes=[0.1, 0.0]), r"slopes: expected one negative slope per hidden layer \(3\), got 2"),
    (dict(slopes=[0.1, float("nan"), 0.0]), r"slopes\[1\]: expected a finite slope"),
    (dict(input_skip=[False, True]), r"input_skip: expected one flag per layer, head included \(4\)"),
    (dict(input_skip=[True, False, True, True]), r"input_skip\[0\]: expected false"),
    (dict(residual=[True]), r"residual: expected one flag per hidden layer \(3\), got 1"),
    (dict(residual=[True, True, False]), r"residual\[0\]: a residual add needs equal widths"),
    (dict(residual=[False, True, True]), r"residual\[2\]: a residual add needs equal widths"),
    (dict(input_skip=[False, True, True, True]),
     r"weights\[1\]: expected 12 input features \(the previous layer's width \+ x.shape\[1\]"),
    (dict(input_skip=[False, False, False, True]), r"weights\[2\]: expected 9 input features"),
])
def test_bad_network_lists_refused(change, match):
    net, x, go = small_net()
    w, b, kw = net.op_args()
    kw = dict(kw, **change)
    with pytest.raises(RuntimeError, match=match):
        OPS.activation_patterns(x, w, b, **kw)
    with pytest.raises(RuntimeError, match=match):
        OPS.grad_dots(x, w, b, go, torch.tensor([0]), torch.tensor([1]), **kw)


def test_bias_list_length_refused():
    net, x, go = small_net()
    w, b, kw = net.op_args()
    with pytest.raises(RuntimeError, match=r"biases: expected one bias per weight \(4"):
        OPS.per_example_grad_norms(x, w, b[:3], go, **kw)


def test_num_regions_bounded_by_points_or_memory():
    net, x, go = small_net()
    w, b, kw = net.op_args()
    ids = torch.zeros(6, dtype=torch.long)
    with pytest.raises(RuntimeError, match=r"num_regions: expected at most max\(N, 1\) = 6 .* "
                                           r"1024 MiB \(22369621 regions\); got 1000000000"):
        OPS.region_grad_norms(x, w, b, go, ids, 10**9, **kw)
    with pytest.raises(RuntimeError, match=r"num_regions: expected at most max\(N, 1\) = 1 "):
        OPS.region_grad_norms(x[:0], w, b, go[:0], ids[:0], 22369622, **kw)
    # Empty regions beyond N are fine while small (a shard of a larger grid passes its count).
    nos, son = OPS.region_grad_norms(x, w, b, go, ids, 50, **kw)
    assert nos.shape == (50,) and bool((nos[1:] == 0).all()) and bool((son[1:] == 0).all())


def test_bit_counts_and_segments_bounded_by_words():
    p = torch.zeros(4, 2, dtype=torch.long)
    with pytest.raises(RuntimeError, match=r"num_bits: expected 0 <= num_bits <= 128"):
        OPS.bit_counts(p, 129)
    assert OPS.bit_counts(p, 128).shape == (128,)
    i = torch.tensor([0, 1])
    with pytest.raises(RuntimeError, match=r"segments: expected boundaries <= 128"):
        OPS.hamming_pairs(p, i, i, [0, 64, 129])
    with pytest.raises(RuntimeError, match=r"segments: expected non-decreasing"):
        OPS.hamming_pairs(p, i, i, [0, 70, 64])


# ----------------------------------------------------------------------------- CUDA


def _tf32_on(api):
    """Turns TF32 on through one of the user-facing settings; returns how to read it back."""
    if api == "fp32_precision":
        torch.backends.cuda.matmul.fp32_precision = "tf32"
        return lambda: torch.backends.cuda.matmul.fp32_precision
    if api == "allow_tf32":
        torch.backends.cuda.matmul.allow_tf32 = True
        return lambda: torch.backends.cuda.matmul.allow_tf32
    torch.set_float32_matmul_precision("high")
    return torch.get_float32_matmul_precision


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("api", ["fp32_precision", "allow_tf32", "matmul_precision"])
def test_cuda_ignores_tf32_and_matches_cpu_bits(api):
    net = skip_leaky_net(dtype=torch.float32)
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(4096, 3, generator=gen) * 2 - 1
    go = torch.randn(4096, 2, generator=gen)
    keep = kink_free(net, x, rel=1e-3)
    x, go = x[keep].contiguous(), go[keep].contiguous()
    ids = torch.randint(0, 7, (x.shape[0],), generator=gen)
    w, b, kw = net.op_args()
    wc = [t.cuda() for t in w]
    bc = [None if t is None else t.cuda() for t in b]
    old = torch.backends.cuda.matmul.fp32_precision
    try:
        read = _tf32_on(api)
        before = read()
        pats = OPS.activation_patterns(x.cuda(), wc, bc, **kw)
        norms = OPS.per_example_grad_norms(x.cuda(), wc, bc, go.cuda(), **kw)
        nos, _ = OPS.region_grad_norms(x.cuda(), wc, bc, go.cuda(), ids.cuda(), 7, **kw)
        assert read() == before  # the user's setting is back after the calls
        if torch.cuda.get_device_capability()[0] >= 8:
            # TF32 really was on for torch's own GEMMs (else this test would prove nothing).
            a, c = torch.randn(512, 512, device="cuda"), torch.randn(512, 512, device="cuda")
            tf32 = a @ c
            torch.backends.cuda.matmul.fp32_precision = "ieee"
            assert not torch.equal(tf32, a @ c)
    finally:
        torch.set_float32_matmul_precision("highest")
        torch.backends.cuda.matmul.fp32_precision = old
    assert torch.equal(pats.cpu(), OPS.activation_patterns(x, w, b, **kw))
    # IEEE float32 on both sides: agreement to float32 rounding (TF32 would be ~1e-3 off).
    assert torch.allclose(norms.cpu(), OPS.per_example_grad_norms(x, w, b, go, **kw), rtol=1e-5)
    assert torch.allclose(nos.cpu(), OPS.region_grad_norms(x, w, b, go, ids, 7, **kw)[0],
                          rtol=1e-5)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@settings(max_examples=15, deadline=None)
@given(network_cases(max_n=60))
def test_cuda_equals_cpu_on_network_kinds(case):
    net, x, go = case
    x, go, *_ = prepared(net, x, go)
    w, b, kw = net.op_args()
    wc = [t.cuda() for t in w]
    bc = [None if t is None else t.cuda() for t in b]
    assert torch.equal(OPS.activation_patterns(x.cuda(), wc, bc, **kw).cpu(),
                       OPS.activation_patterns(x, w, b, **kw))
    rtol = 1e-4 if x.dtype == torch.float32 else 1e-9
    got = OPS.per_example_grad_norms(x.cuda(), wc, bc, go.cuda(), **kw).cpu()
    want = OPS.per_example_grad_norms(x, w, b, go, **kw)
    assert torch.allclose(got, want, rtol=rtol, atol=rtol * float(want.abs().max() if want.numel() else 0))
    n = x.shape[0]
    ids = torch.arange(n) % 3
    regions = min(3, max(n, 1))
    got_r = OPS.region_grad_norms(x.cuda(), wc, bc, go.cuda(), ids.cuda(), regions, **kw)
    want_r = OPS.region_grad_norms(x, w, b, go, ids, regions, **kw)
    for g, wv in zip(got_r, want_r):
        assert torch.allclose(g.cpu(), wv, rtol=rtol, atol=rtol * float(wv.abs().max() if wv.numel() else 0))
