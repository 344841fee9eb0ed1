"""One network convention: every op, reference and exact count takes a ``ReluNetwork``; anything
else is one TypeError naming ``net`` and how to build one; an input of the wrong width is refused
in the network's terms before a kernel runs (eagerly, on meta tensors and under torch.compile);
``ReluNetwork.of`` names the entry of its lists that is not a tensor."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import specbias_ext as se
from specbias_ext.testing import random_network
from specbias_ext import ReluNetwork, measure, ops, reference
from specbias_ext.exact import breakpoints1d, certified1d, partition2d
from specbias_ext.ops import coordinates, geometry as ops_geometry

N, D = 7, 3
NET = random_network(D, [5, 4], out_dim=2, seed=1)
X = torch.rand(N, D, dtype=torch.float64)
GO = torch.randn(N, 2, dtype=torch.float64)
I = J = torch.arange(N)
IDS = torch.zeros(N, dtype=torch.int64)
JAC = torch.rand(N, D, 2, dtype=torch.float64)
FORM = (torch.eye(D, dtype=torch.float64), torch.zeros(D, dtype=torch.float64),
        torch.zeros(D, dtype=torch.bool))

# Every public entry point that takes the network, as a function of (x, net, x_jacobian).
TAKES_NET = {
    "ops.activation_patterns": lambda x, net, jac: ops.activation_patterns(x, net),
    "ops.per_example_grad_norms": lambda x, net, jac: ops.per_example_grad_norms(x, net, GO),
    "ops.grad_dots": lambda x, net, jac: ops.grad_dots(x, net, GO, I, J),
    "ops.grad_gram": lambda x, net, jac: ops.grad_gram(x, net, GO),
    "ops.region_grad_norms": lambda x, net, jac: ops.region_grad_norms(x, net, GO, IDS, 1),
    "ops.boundary_distance": lambda x, net, jac: ops.boundary_distance(x, None, net),
    "ops.coord_gradients": lambda x, net, jac: ops.coord_gradients(x, None, net),
    "geometry.boundary_distance_encoded":
        lambda x, net, jac: ops_geometry.boundary_distance_encoded(x, jac, net),
    "geometry.coord_gradients_encoded":
        lambda x, net, jac: ops_geometry.coord_gradients_encoded(x, jac, net),
    "reference.activation_patterns": lambda x, net, jac: reference.activation_patterns(x, net),
    "reference.hidden_preactivations":
        lambda x, net, jac: reference.hidden_preactivations(x, net),
    "reference.per_example_grad_norms":
        lambda x, net, jac: reference.per_example_grad_norms(x, net, GO),
    "reference.grad_dots": lambda x, net, jac: reference.grad_dots(x, net, GO, I, J),
    "reference.grad_gram": lambda x, net, jac: reference.grad_gram(x, net, GO),
    "reference.region_grad_norms":
        lambda x, net, jac: reference.region_grad_norms(x, net, GO, IDS, 1),
    "reference.boundary_distance_encoded":
        lambda x, net, jac: reference.boundary_distance_encoded(x, jac, net),
    "reference.coord_gradients_through":
        lambda x, net, jac: reference.coord_gradients_through(x, lambda c: c, net),
    "measure.confusion_pairs": lambda x, net, jac: measure.confusion_pairs(x, net, GO, I, J),
    "measure.network_forward": lambda x, net, jac: measure.network_forward(net, x),
}
WIDTH_MESSAGE = (r"x has 2 features, the network's first layer takes 3: pass the encoded "
                 r"coordinates \(encoding\(coords\)\), or the whole model with its encoding")
COORDS_MESSAGE = (r"coords has 2 features, the network's first layer takes 3: pass the encoding "
                  r"the network reads \(e\.g\. model\.encoding\), or None for raw coordinates")


def _message_for(name: str) -> str:
    return COORDS_MESSAGE if name in ("ops.boundary_distance", "ops.coord_gradients") \
        else WIDTH_MESSAGE


@pytest.mark.parametrize("name", sorted(TAKES_NET))
def test_lists_are_refused_naming_net_and_the_builders(name):
    lists = [list(NET.weights), list(NET.biases)]
    with pytest.raises(TypeError, match=r"net: expected a ReluNetwork, got list; build one with "
                                        r"ReluNetwork\.of\(weights, biases\) .*"
                                        r"relu_network\(model\) from a module"):
        TAKES_NET[name](X, lists, JAC)


@pytest.mark.parametrize("name", sorted(TAKES_NET))
def test_a_module_is_refused_pointing_at_relu_network(name):
    with pytest.raises(TypeError, match=r"net: expected a ReluNetwork, relu_network\(model\) "
                                        r"reads one off a module \(got Sequential\)"):
        TAKES_NET[name](X, nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), JAC)


@pytest.mark.parametrize("fn", [
    lambda net: breakpoints1d.exact_breakpoints_1d(net),
    lambda net: breakpoints1d.grid_count_convergence(net, [4]),
    lambda net: certified1d.certified_regions_1d(net),
    lambda net: partition2d.exact_region_count_2d(net),
    lambda net: ops.hamming_pairs_per_layer(torch.zeros(N, 1, dtype=torch.int64), I, J, net),
    lambda net: measure.neuron_activity(torch.zeros(N, 1, dtype=torch.int64), net),
    lambda net: measure.pair_hamming(torch.zeros(N, 1, dtype=torch.int64), I, J, net),
    lambda net: se.empirical_ntk(X, net),
], ids=["exact_breakpoints_1d", "grid_count_convergence", "certified_regions_1d",
        "exact_region_count_2d", "hamming_pairs_per_layer", "neuron_activity", "pair_hamming",
        "empirical_ntk"])
def test_exact_counts_and_pattern_measures_refuse_lists(fn):
    with pytest.raises(TypeError, match=r"net: expected a ReluNetwork, got list"):
        fn(list(NET.weights))


@pytest.mark.parametrize("name", sorted(TAKES_NET))
def test_the_wrong_width_is_said_in_the_networks_terms(name):
    with pytest.raises(ValueError, match=_message_for(name)):
        TAKES_NET[name](X[:, :2], NET, JAC[:, :2])


@pytest.mark.parametrize("name", [n for n in sorted(TAKES_NET)
                                  if n.startswith(("ops.", "geometry."))])
def test_the_wrong_width_is_said_the_same_way_on_meta_tensors(name):
    net = NET.to("meta")
    with pytest.raises(ValueError, match=_message_for(name)):
        TAKES_NET[name](X[:, :2].to("meta"), net, JAC[:, :2].to("meta"))


def test_the_affine_sine_form_and_encoded_widths():
    wide = random_network(8, [5], seed=2)
    with pytest.raises(ValueError, match=r"the encoding \(enc_matrix's rows\) has 3 features, the "
                                         r"network's first layer takes 8: pass the affine-sine form"):
        ops_geometry.boundary_distance(X, *FORM, wide)
    with pytest.raises(ValueError, match=r"the encoding's output has 3 features, the network's "
                                         r"first layer takes 8: pass the encoding the network"):
        coordinates.coord_gradients(X, lambda c: torch.sin(c), wide)
    with pytest.raises(ValueError, match=r"the encoding's output has 3 features"):
        coordinates.boundary_distance(X[:0], lambda c: torch.sin(c), wide)


@pytest.mark.parametrize("fullgraph", [False, True])
@pytest.mark.parametrize("dynamic", [False, True])
def test_torch_compile_reports_the_same_width_message(fullgraph, dynamic):
    net = NET.to(torch.float32)

    def patterns_and_norms(x, go):
        return ops.activation_patterns(x, net), ops.per_example_grad_norms(x, net, go)

    torch._dynamo.reset()
    compiled = torch.compile(patterns_and_norms, backend="aot_eager", fullgraph=fullgraph,
                             dynamic=dynamic)
    x, go = X.float(), GO.float()
    for got, want in zip(compiled(x, go), patterns_and_norms(x, go)):
        assert torch.equal(got, want)
    # Eagerly the ValueError itself; with fullgraph=True dynamo reports the exception it
    # observed while tracing, carrying the same message.
    with pytest.raises(Exception, match=WIDTH_MESSAGE) as caught:
        compiled(x[:, :2], go)
    if not fullgraph:
        assert caught.type is ValueError


def test_the_kernels_and_fake_kernels_keep_their_own_checks():
    """Called directly, the schema still names weights[0] (the C++ check, and the fake kernel's
    restatement of it on meta tensors)."""
    w, b, _ = NET.op_args()
    for device in ("cpu", "meta"):
        with pytest.raises(RuntimeError, match=r"weights\[0\]: expected 2 input features"):
            torch.ops.specbias.activation_patterns(X[:, :2].to(device),
                                                   [t.to(device) for t in w],
                                                   [t.to(device) for t in b])


@pytest.mark.parametrize("weights,biases,match", [
    ([np.ones((4, 3)), np.ones((2, 4))], None, r"weights\[0\]: expected a torch\.Tensor, got "
                                               r"numpy\.ndarray \(convert with torch\.as_tensor\)"),
    ([torch.ones(4, 3), [[1.0] * 4] * 2], None, r"weights\[1\]: expected a torch\.Tensor, got list"),
    ([torch.ones(4, 3), torch.ones(2, 4)], [np.ones(4), None],
     r"biases\[0\]: expected a torch\.Tensor or None, got numpy\.ndarray"),
    (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), None,
     r"weights: expected a list of tensors, got the module Sequential; relu_network\(model\)"),
    (torch.ones(2, 4, 3), None, r"weights: expected a list of tensors, got torch\.Tensor"),
])
def test_relu_network_of_names_what_is_not_a_tensor(weights, biases, match):
    with pytest.raises(TypeError, match=match):
        ReluNetwork.of(weights, biases)


def test_bit_counts_take_a_number_of_bits():
    patterns = ops.activation_patterns(X, NET)
    counts = ops.bit_counts(patterns, NET.num_hidden)
    assert counts.shape == (9,)
    assert torch.equal(counts, reference.bit_counts(patterns, NET.num_hidden))
    with pytest.raises(TypeError, match="num_bits: expected an integer size, got ReluNetwork"):
        ops.bit_counts(patterns, NET)


def test_top_level_measurements_are_the_measure_functions():
    for name in ("confusion_pairs", "confusion_block", "region_coherence", "empirical_ntk",
                 "mse_grad_out"):
        assert getattr(se, name) is getattr(measure, name)
