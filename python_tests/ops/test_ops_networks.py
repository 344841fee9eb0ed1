"""The ops on every described network kind (skips, LeakyReLU, bias-free, residual) through the
wrappers, against the plain-torch references (materialised per-example gradients via torch.func);
bit counts and per-layer Hamming distances from a net; the fake kernels' checks; torch.compile
with dynamic shapes over patterns -> region ids -> region gradient norms."""
from __future__ import annotations

import pytest
import torch
import torch._dynamo.testing
from hypothesis import given, settings

from specbias_ext import ReluNetwork, ops, reference, relu_network
from specbias_ext.testing import random_network
from specbias_ext.testing.strategies import network_configs
from specbias_ext.testing.user_models import DeepSDFLike, NeRFTrunk, ResidualMLP
from paths import REPO_ROOT

_schema = str(torch.ops.specbias.activation_patterns.default._schema)
NETWORK_KERNELS = "slopes" in _schema
needs_network_kernels = pytest.mark.skipif(
    not NETWORK_KERNELS, reason="the compiled kernels predate the network-description schemas "
    "(slopes/input_skip/residual); build the kernels branch")
SYMINT_SIZES = "SymInt num_regions" in str(torch.ops.specbias.region_grad_norms.default._schema)
SETTINGS = settings(max_examples=25, deadline=None)


def _inputs(cfg):
    net = random_network(cfg["in_dim"], cfg["hidden"], cfg["out_dim"], skips=cfg["skips"],
                         slopes=cfg["slopes"], bias=cfg["bias"], residual=cfg["residual"],
                         dtype=cfg["dtype"], seed=cfg["seed"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    n = cfg["n"]
    x = (torch.rand(n, cfg["in_dim"], generator=gen, dtype=torch.float64) * 2 - 1).to(cfg["dtype"])
    go = torch.randn(n, cfg["out_dim"], generator=gen, dtype=torch.float64).to(cfg["dtype"])
    return net, x, go, gen


# ----------------------------------------------------------------------------- no kernel change


def test_bit_counts_and_per_layer_hamming_take_a_net():
    net = random_network(3, [70, 5, 64], skips={2}, slopes=[0.1, 0.0, 0.3], bias=False)
    x = torch.rand(50, 3, dtype=torch.float64)
    bits = reference.pattern_bits(x, net)
    packed = reference.pack_bits(bits)
    torch.testing.assert_close(ops.bit_counts(packed, net.num_hidden), bits.sum(0))
    torch.testing.assert_close(reference.bit_counts(packed, net.num_hidden), bits.sum(0))
    i, j = torch.randint(0, 50, (30,)), torch.randint(0, 50, (30,))
    per_layer = ops.hamming_pairs_per_layer(packed, i, j, net)
    expect = torch.stack([(bits[i, a:b] != bits[j, a:b]).sum(1)
                          for a, b in net.layer_bit_ranges()], 1)
    torch.testing.assert_close(per_layer, expect)
    with pytest.raises(TypeError, match=r"net: expected a ReluNetwork"):
        ops.hamming_pairs_per_layer(packed, i, j, list(net.weights))


def test_lists_of_a_plain_mlp_go_through_relu_network_of():
    net = random_network(2, [20, 30], out_dim=2)
    x = torch.rand(40, 2, dtype=torch.float64)
    go = torch.randn(40, 2, dtype=torch.float64)
    w, b = list(net.weights), list(net.biases)
    rebuilt = ReluNetwork.of(w, b)
    assert torch.equal(ops.activation_patterns(x, net), ops.activation_patterns(x, rebuilt))
    assert torch.equal(ops.per_example_grad_norms(x, net, go),
                       ops.per_example_grad_norms(x, rebuilt, grad_out=go))
    assert torch.equal(reference.grad_gram(x, net, go), reference.grad_gram(x, rebuilt, go))


# ----------------------------------------------------------------------------- ops vs references


def _direct(op, x, net, *args):
    weights, biases, kw = net.op_args()
    return op(x, weights, biases, *args, **kw)


@needs_network_kernels
@SETTINGS
@given(network_configs())
def test_wrappers_match_references_and_the_raw_ops(cfg):
    """float64: the wrappers against the references (materialised per-example gradients);
    float32: the wrappers hand the description to the kernels unchanged (equal to the raw op
    call; float32 near-zero pre-activations may legitimately differ from a reference, which
    test_kernels_network_kinds handles)."""
    net, x, go, gen = _inputs(cfg)
    n = cfg["n"]
    i = torch.randint(0, max(n, 1), (min(n, 1) * 17,), generator=gen)
    j = torch.randint(0, max(n, 1), (min(n, 1) * 17,), generator=gen)
    patterns = ops.activation_patterns(x, net)
    ids, counts = ops.region_ids(patterns)
    got = {
        "patterns": patterns,
        "norms": ops.per_example_grad_norms(x, net, go),
        "dots": ops.grad_dots(x, net, go, i, j),
        "block": ops.grad_gram(x, net, go, i[:5], j),
        "gram": ops.grad_gram(x, net, go),
        "regions": torch.stack(ops.region_grad_norms(x, net, go, ids, counts.numel())),
    }
    sp = torch.ops.specbias
    if cfg["dtype"] == torch.float32:
        want = {
            "patterns": _direct(sp.activation_patterns, x, net),
            "norms": _direct(sp.per_example_grad_norms, x, net, go),
            "dots": _direct(sp.grad_dots, x, net, go, i, j),
            "block": _direct(sp.grad_gram, x, net, go, i[:5], j),
            "gram": _direct(sp.grad_gram, x, net, go),
            "regions": torch.stack(_direct(sp.region_grad_norms, x, net, go, ids,
                                           counts.numel())),
        }
        for k in got:
            assert torch.equal(got[k], want[k]), k
        return
    want = {
        "patterns": reference.activation_patterns(x, net),
        "norms": reference.per_example_grad_norms(x, net, go),
        "dots": reference.grad_dots(x, net, go, i, j),
        "block": reference.grad_gram(x, net, go, i[:5], j),
        "gram": reference.grad_gram(x, net, go),
        "regions": torch.stack(reference.region_grad_norms(x, net, go, ids, counts.numel())),
    }
    assert torch.equal(got.pop("patterns"), want.pop("patterns"))
    for k in got:
        torch.testing.assert_close(got[k], want[k], rtol=1e-9, atol=1e-9, msg=k)


@needs_network_kernels
@pytest.mark.parametrize("model", [
    NeRFTrunk(in_dim=63, width=24, depth=8, skip=4),
    NeRFTrunk(in_dim=63, width=24, depth=8, skip=4, slope=0.1),
    DeepSDFLike(in_dim=3, width=20, depth=6, skip=3, bias=False, slope=0.05).eval(),
    ResidualMLP(in_dim=2, width=16, blocks=3),
], ids=["nerf", "nerf-leaky", "deepsdf-nobias-leaky", "residual"])
def test_traced_user_modules_through_the_ops(model):
    model = model.double()
    net = relu_network(model).detach()
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(60, net.in_dim, generator=gen, dtype=torch.float64) * 2 - 1
    go = torch.randn(60, 1, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(reference.network.forward(net, x), model(x))
    assert torch.equal(ops.activation_patterns(x, net), reference.activation_patterns(x, net))
    # per-example gradients of the module's own parameters, by torch.func on the module
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, xi, gi):
        return (torch.func.functional_call(model, p, (xi[None],))[0] * gi).sum()

    grads = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(params, x, go)
    sq = sum(g.reshape(60, -1).pow(2).sum(1) for g in grads.values())
    torch.testing.assert_close(ops.per_example_grad_norms(x, net, go).sum(1), sq)
    flat = torch.cat([g.reshape(60, -1) for g in grads.values()], 1)
    torch.testing.assert_close(ops.grad_gram(x, net, go), flat @ flat.T)


@needs_network_kernels
def test_opcheck_on_every_network_op():
    net = random_network(3, [9, 9, 6], out_dim=2, skips={2, 3}, slopes=[0.2, 0.0, 0.05],
                         bias=[True, False, True, False], residual={1})
    x = torch.rand(11, 3, dtype=torch.float64)
    go = torch.randn(11, 2, dtype=torch.float64)
    i, j = torch.tensor([0, 3, 10]), torch.tensor([1, 3, 2])
    w, b, kw = net.op_args()
    patterns = torch.ops.specbias.activation_patterns(x, w, b, **kw)
    ids, counts = torch.ops.specbias.region_ids(patterns)
    cases = [
        (torch.ops.specbias.activation_patterns, (x, w, b)),
        (torch.ops.specbias.per_example_grad_norms, (x, w, b, go)),
        (torch.ops.specbias.grad_dots, (x, w, b, go, i, j)),
        (torch.ops.specbias.grad_gram, (x, w, b, go, i, j)),
        (torch.ops.specbias.region_grad_norms, (x, w, b, go, ids, int(counts.numel()))),
    ]
    for op, args in cases:
        torch.library.opcheck(op, args, kw)


# ----------------------------------------------------------------------------- fake kernels


def test_fake_kernels_give_shapes_without_data():
    net = random_network(4, [70, 9], out_dim=2, dtype=torch.float32).to("meta")
    x = torch.empty(13, 4, device="meta")
    go = torch.empty(13, 2, device="meta")
    assert ops.activation_patterns(x, net).shape == (13, 2)
    assert ops.per_example_grad_norms(x, net, go).shape == (13, 3)
    rows = torch.empty(5, dtype=torch.int64, device="meta")
    assert ops.grad_gram(x, net, go, rows).shape == (5, 13)
    p = torch.empty(12, 2, dtype=torch.int64, device="meta")
    d0, d1, d2 = ops.hamming_neighbors(p, (2, 3, 2))
    assert (d0.shape, d1.shape, d2.shape) == ((1, 3, 2), (2, 2, 2), (2, 3, 1))
    assert ops.bit_counts(p, net.num_hidden).shape == (79,)


@pytest.mark.parametrize("call,match", [
    (lambda x, net, go: ops.per_example_grad_norms(x, net, go[:, :1]),
     r"grad_out: expected shape \[N, out\]"),
    (lambda x, net, go: ops.activation_patterns(x.double(), net),
     r"weights\[0\]: expected dtype torch.float64 \(the dtype of x\)"),
    (lambda x, net, go: ops.grad_dots(x, net, go, torch.empty(2, dtype=torch.int64, device="meta"),
                                      torch.empty(3, dtype=torch.int64, device="meta")),
     r"j: expected as many indices as i"),
    (lambda x, net, go: ops.region_grad_norms(x, net, go,
                                              torch.empty(4, dtype=torch.int64, device="meta"), 3),
     r"ids: expected one id per point of x"),
    (lambda x, net, go: ops.hamming_neighbors(torch.empty(12, 1, dtype=torch.int64,
                                                          device="meta"), (5, 2)),
     r"grid_shape: expected sizes whose product is the number of pattern rows"),
    (lambda x, net, go: ops.bit_counts(torch.empty(12, 1, dtype=torch.int64, device="meta"), 65),
     r"num_bits: expected num_bits <= 64"),
])
def test_fake_kernels_refuse_like_the_kernels(call, match):
    net = random_network(4, [7, 9], out_dim=2, dtype=torch.float32).to("meta")
    x = torch.empty(13, 4, device="meta")
    go = torch.empty(13, 2, device="meta")
    with pytest.raises(RuntimeError, match=match):
        call(x, net, go)


# ----------------------------------------------------------------------------- torch.compile


@pytest.mark.skipif(not SYMINT_SIZES, reason="the compiled kernels take num_regions as int, not "
                    "SymInt; build the kernels branch")
def test_compile_dynamic_patterns_regions_grad_norms_one_compilation():
    net = random_network(2, [16, 12], skips={2} if NETWORK_KERNELS else (),
                         slopes=[0.1, 0.0] if NETWORK_KERNELS else None, dtype=torch.float32)

    def analyse(x, go):
        patterns = ops.activation_patterns(x, net)
        ids, counts = ops.region_ids(patterns)
        norm_of_sum, sum_of_norms = ops.region_grad_norms(x, net, go, ids, counts.numel())
        (steps,) = ops.hamming_neighbors(patterns, (x.shape[0],))
        return norm_of_sum, sum_of_norms, steps

    counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(analyse, backend=counter, dynamic=True, fullgraph=True)
    torch._dynamo.reset()
    for n in (31, 64, 97):
        t = torch.linspace(-1, 1, n)
        x = torch.stack([t, t.flip(0) * 0.5], 1)
        go = torch.sin(3 * t)[:, None]
        for got, expect in zip(compiled(x, go), analyse(x, go)):
            torch.testing.assert_close(got, expect)
    assert counter.frame_count == 1


@needs_network_kernels
def test_fake_kernels_check_skip_and_residual_widths():
    net = random_network(4, [7, 9], out_dim=2, skips={2}, residual={1}, slopes=[0.1, 0.0],
                         dtype=torch.float32).to("meta")
    x = torch.empty(13, 4, device="meta")
    assert ops.activation_patterns(x, net).shape == (13, 1)
    w, b, kw = net.op_args()
    bad = list(w)
    bad[2] = torch.empty(2, 7, device="meta")  # the skip's x columns are missing
    with pytest.raises(RuntimeError, match=r"weights\[2\]: expected 11 input features"):
        torch.ops.specbias.activation_patterns(x, bad, b, **kw)
    # the schema's own check of layer 0 (the wrappers say it in the network's terms first)
    with pytest.raises(RuntimeError, match=r"weights\[0\]: expected 3 input features"):
        torch.ops.specbias.activation_patterns(x[:, :3], w, b, **kw)


@needs_network_kernels
def test_docs_networks_example_runs(capsys):
    """The NeRF walk-through in docs/networks.md runs as written (on a smaller grid)."""
    import pathlib
    import re
    text = (pathlib.Path(REPO_ROOT) / "docs" / "networks.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    code = blocks[-1].replace("side = 128", "side = 16").replace("NeRF()", "NeRF(width=32)")
    exec(compile(code, "docs/networks.md", "exec"), {})
    out = capsys.readouterr().out
    assert "regions on the slice" in out and "mean region coherence" in out
