"""relu_network: the ReluNetwork read off a user's nn.Module by torch.fx equals a hand-built
description, computes the module's own forward, and everything outside the vocabulary is refused
with a message naming the module or traced node (whole models with encodings, output activations
and published architectures: test_split_model.py, test_published_models.py)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from specbias_ext import ReluNetwork, mlp_params, relu_network
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.reference import network as ref_net
from specbias_ext.testing.user_models import DeepSDFLike, NeRFLike, NeRFTrunk, ResidualMLP



def _x(n, d, seed=0):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _same_net(a: ReluNetwork, b: ReluNetwork):
    assert a.describe() == b.describe()
    for ta, tb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(ta, tb, rtol=0, atol=0)


def _forward_matches(model, net, x):
    with torch.no_grad():
        torch.testing.assert_close(ref_net.forward(net, x), model(x))


# ----------------------------------------------------------------------------- accepted


@pytest.mark.parametrize("layers,slopes,bias", [
    ([nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 2)], [0, 0], True),
    ([nn.Linear(3, 8, bias=False), nn.ReLU(), nn.Linear(8, 2, bias=False)], [0], False),
    ([nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Identity(), nn.Linear(8, 5), nn.LeakyReLU(0.01),
      nn.Dropout(0.5), nn.Linear(5, 1)], [0.2, 0.01], True),
])
def test_sequential_variants(layers, slopes, bias):
    model = nn.Sequential(*layers).eval()
    net = relu_network(model)
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    hand = ReluNetwork.of([m.weight for m in linears], [m.bias for m in linears], slopes=slopes)
    _same_net(net, hand)
    assert all(w is m.weight for w, m in zip(net.weights, linears))  # the live parameters
    assert all((b is not None) == bias for b in net.biases)
    _forward_matches(model, net, _x(40, 3))


def test_coordinate_mlp_keeps_its_encoding_outside():
    model = CoordinateMLP("pe:3", depth=2, width=16, in_dim=2).double()
    net = relu_network(model)
    w, b = model.mlp_params()
    _same_net(net, ReluNetwork.of(w, b))
    coords = _x(30, 2).double()
    with torch.no_grad():
        torch.testing.assert_close(ref_net.forward(net, model.encode(coords)), model(coords))


def _nerf_hand(model: NeRFTrunk) -> ReluNetwork:
    """The canonical description of NeRFTrunk written out by hand: layer skip+1 reads
    [h, x], so its weight columns [x | h] are swapped."""
    weights = [l.weight for l in model.pts_linears] + [model.density_head.weight]
    biases = [l.bias for l in model.pts_linears] + [model.density_head.bias]
    in_dim = weights[0].shape[1]
    k = model.skip + 1
    weights[k] = torch.cat([weights[k][:, in_dim:], weights[k][:, :in_dim]], dim=1)
    skips = [False] * len(weights)
    skips[k] = True
    return ReluNetwork.of(weights, biases, slopes=[model.slope] * (len(weights) - 1),
                          input_skips=skips)


@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_nerf_trunk(slope):
    model = NeRFTrunk(in_dim=63, width=12, depth=8, skip=4, slope=slope)
    net = relu_network(model)
    _same_net(net, _nerf_hand(model))
    assert net.input_skips == (False,) * 5 + (True,) + (False,) * 3  # layer 5 reads [h4, x]
    _forward_matches(model, net, _x(25, 63))


def test_nerf_with_colour_branch_analysed_up_to_its_density_head():
    model = NeRFLike(in_dim=63, view_dim=27, width=12, depth=8, skip=4)
    with pytest.raises(TypeError, match=r"returns 2 outputs, not one tensor; pass "
                                        r"output='rgb_linear' \(output 0\) or "
                                        r"output='density_head' \(output 1\)"):
        relu_network(model)
    net = relu_network(model, output="density_head")
    _same_net(net, _nerf_hand(model))
    x, d = _x(20, 63), _x(20, 27, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(ref_net.forward(net, x), model(x, d)[1])


@pytest.mark.parametrize("bias,slope", [(True, 0.0), (False, 0.0), (True, 0.3), (False, 0.05)])
def test_deepsdf(bias, slope):
    model = DeepSDFLike(in_dim=3, width=10, depth=6, skip=3, bias=bias, slope=slope).eval()
    net = relu_network(model)
    weights = [l.weight for l in model.lins] + [model.head.weight]
    biases = [l.bias for l in model.lins] + [model.head.bias]
    skips = [False] * 7
    skips[3] = True  # DeepSDF concatenates [h, x]: already the canonical order
    _same_net(net, ReluNetwork.of(weights, biases, slopes=[slope] * 6, input_skips=skips))
    assert net.weights[3] is model.lins[3].weight
    _forward_matches(model, net, _x(30, 3))


def test_residual_mlp():
    model = ResidualMLP(in_dim=2, width=9, blocks=3, out_dim=2)
    net = relu_network(model)
    assert net.residual == (False, True, True, True)
    assert net.slopes == (0.0,) * 4 and not any(net.input_skips)
    _forward_matches(model, net, _x(30, 2))


class _SkipBothOrders(nn.Module):
    def __init__(self, x_first):
        super().__init__()
        self.x_first = x_first
        self.a, self.b, self.c = nn.Linear(4, 6), nn.Linear(10, 5), nn.Linear(5 + 4, 1)

    def forward(self, x):
        h = torch.relu(self.a(x))
        h = F.leaky_relu(self.b(torch.cat([x, h], dim=1) if self.x_first
                                else torch.cat((h, x), dim=-1)), negative_slope=0.25)
        return self.c(torch.cat([x, h], -1) if self.x_first else torch.cat([h, x], -1))


def test_both_cat_orders_give_the_same_canonical_description():
    first, second = _SkipBothOrders(True), _SkipBothOrders(False)
    second.load_state_dict(first.state_dict())
    # Same parameters, columns read in the other order: permute the x-first weights by hand.
    with torch.no_grad():
        for name, hidden in (("b", 6), ("c", 5)):
            w = getattr(first, name).weight
            getattr(second, name).weight.copy_(torch.cat([w[:, 4:], w[:, :4]], dim=1))
    net_first, net_second = relu_network(first), relu_network(second)
    _same_net(net_first, net_second)
    assert net_first.input_skips == (False, True, True)
    assert net_first.slopes == (0.0, 0.25)
    x = _x(20, 4)
    _forward_matches(first, net_first, x)
    _forward_matches(second, net_second, x)


class _ResidualAtLayerZero(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.h = nn.Linear(3, 3), nn.Linear(3, 1)

    def forward(self, x):
        return self.h(F.relu(self.a(x)) + x)


def test_residual_add_of_the_input_at_layer_zero():
    model = _ResidualAtLayerZero()
    net = relu_network(model)
    assert net.residual == (True,)
    _forward_matches(model, net, _x(10, 3))


def test_mlp_params_still_takes_plain_sequentials_with_noops():
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Identity(), nn.Dropout(0.3),
                          nn.Linear(4, 1)).eval()
    w, b = mlp_params(model)
    assert w[0] is model[0].weight and b[1] is model[4].bias


def test_mlp_params_refuses_leaky_relu():
    with pytest.raises(TypeError, match=r"model\[0\]: is followed by a LeakyReLU .*relu_network"):
        mlp_params(nn.Sequential(nn.Linear(2, 4), nn.LeakyReLU(0.1), nn.Linear(4, 1)))


# ----------------------------------------------------------------------------- refused


class _Wrap(nn.Module):
    """A module whose forward is ``fn(self, x[, d])``, with Linears a (2->4), b (4->4), h (4->1)."""

    def __init__(self, fn, **extra):
        super().__init__()
        self.fn = fn
        self.a, self.b, self.h = nn.Linear(2, 4), nn.Linear(4, 4), nn.Linear(4, 1)
        for k, v in extra.items():
            setattr(self, k, v)

    def forward(self, x, d=None):
        if self.fn.__code__.co_argcount == 3:
            return self.fn(self, x, d)
        return self.fn(self, x)


REFUSALS = [
    ("tanh", nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)),
     r"model\[1\] \(Tanh\): Tanh is not piecewise linear"),
    ("batchnorm training", nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(),
                                         nn.Linear(8, 1)),
     r"model\[1\] \(BatchNorm1d\): BatchNorm1d in training mode normalises by the statistics "
     r"of the batch.*call model.eval\(\)"),
    ("batchnorm eval", nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(),
                                     nn.Linear(8, 1)).eval(),
     r"model\[1\] \(BatchNorm1d\): BatchNorm1d is not part of a ReluNetwork; in eval mode it "
     r"is an affine map per feature, so fold it into the Linear before it \(.*"
     r"fuse_linear_bn_eval"),
    ("softplus", _Wrap(lambda s, x: s.h(F.softplus(s.a(x)))),
     r"traced node 'softplus' \(call to softplus\): softplus is not piecewise linear"),
    ("two heads", _Wrap(lambda s, x: (s.h(F.relu(s.a(x))), s.b(F.relu(s.a(x))))),
     r"model: the forward returns 2 outputs, not one tensor; pass output='h' \(output 0\) or "
     r"output='b' \(output 1\) to read the network up to one head"),
    ("branch", _Wrap(lambda s, x: s.h(h := F.relu(s.a(x))) + s.b(h)),
     r"model\.b \(Linear\): a second Linear while the output of Linear layer 1 \(model.h\) "
     r"has no activation yet \(a branch or a second head\); pass output='h' or output='b'"),
    ("one Linear in two branches", _Wrap(lambda s, x: s.h(F.relu(s.b(F.relu(s.a(x)))))
                                         + s.h(F.relu(s.a(x)))),
     r"model\.a \(Linear\): the same Linear is called again \(first as traced node 'a'\): "
     r"recurrent reuse of one layer's weights"),
    ("linear of an old state", _Wrap(lambda s, x: s.h(F.relu(s.b(h := F.relu(s.a(x))))
                                                      + F.relu(s.d(h))), d=nn.Linear(4, 4)),
     r"model\.d \(Linear\): reads something other than the current hidden state \(the hidden "
     r"state of layer 1\)"),
    ("data-dependent", _Wrap(lambda s, x: s.h(F.relu(s.a(x))) if x.sum() > 0 else s.h(x)),
     r"model: torch.fx could not trace _Wrap.forward .*data-dependent control flow .* pass "
     r"in_dim="),
    ("train dropout", nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 1)),
     r"model\[2\] \(Dropout\): Dropout in training mode .*model.eval\(\)"),
    ("F.dropout training", _Wrap(lambda s, x: s.h(F.dropout(F.relu(s.a(x)), 0.5, training=True))),
     r"traced node 'dropout' \(call to dropout\): Dropout in training mode makes the network "
     r"random; call model.eval\(\)"),
    ("no activation", _Wrap(lambda s, x: s.h(s.b(s.a(x)))),
     r"model\.b \(Linear\): reads the output of Linear layer 0 with no activation"),
    ("activation twice", _Wrap(lambda s, x: s.h(F.relu(F.relu(s.a(x))))),
     r"an activation must directly follow a Linear layer \(here it is applied to the hidden"),
    ("second input", _Wrap(lambda s, x, d: s.h(F.relu(s.a(x)) + d)),
     r"traced node 'add' \(call to add\): \+ must add the previous hidden state a_\{l-1\} to "
     r"act\(z_l\) \(here: the hidden state of layer 0 \+ the forward's second input 'd'\)"),
    ("cat dim 0", _Wrap(lambda s, x: s.h(F.relu(s.b(torch.cat([F.relu(s.a(x)), x], 0))))),
     r"torch.cat must join along the feature dimension \(dim=-1 or 1\), got dim=0"),
    ("cat of two hidden", _Wrap(lambda s, x: s.h(torch.cat([h := F.relu(s.a(x)), h], 1))),
     r"torch.cat must join the current hidden state and the network input x or a column slice "
     r"of it \(here: the hidden state of layer 0 and the hidden state of layer 0\)"),
    ("add of pre", _Wrap(lambda s, x: s.h(F.relu(s.b(h := F.relu(s.a(x))) + h))),
     r"traced node 'add' \(call to add\): \+ must add the previous hidden state to act\(z_l\), "
     r"not to a Linear's raw output"),
    ("add twice", _Wrap(lambda s, x: s.h(F.relu(s.b(h := F.relu(s.a(x)))) + h + h)),
     r"traced node 'add_1' \(call to add\): \+ must add the previous hidden state to the "
     r"activation of a hidden layer \(a residual layer\), once"),
    ("last activation", nn.Sequential(nn.Linear(2, 8), nn.ReLU()),
     r"model: expected at least one hidden layer .*the first Linear, model\[0\], is the head"),
    ("no hidden layer", nn.Sequential(nn.Linear(2, 1)),
     r"model: expected at least one hidden layer"),
    ("bare Linear", nn.Linear(2, 1), r"model: expected an nn.Sequential.*got Linear"),
    ("reshape", _Wrap(lambda s, x: s.h(F.relu(s.a(x)).view(-1, 4))),
     r"traced node 'view' \(Tensor.view\): Tensor.view is not part of a ReluNetwork; the "
     r"vocabulary is"),
    ("parameter", _Wrap(lambda s, x: s.h(F.relu(s.a(x)) * s.scale),
                        scale=nn.Parameter(torch.ones(4))),
     r"traced node 'mul' \(call to mul\): mul is not part of a ReluNetwork"),
]


@pytest.mark.parametrize("model,match", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_refusals_name_the_module_or_node(model, match):
    with pytest.raises(TypeError, match=match):
        relu_network(model)


def test_refuses_a_non_module():
    with pytest.raises(TypeError, match=r"model: expected an nn.Module, got list"):
        relu_network([nn.Linear(2, 1)])


@pytest.mark.parametrize("output,match", [
    ("colour", r"output: expected the name of a Linear the forward calls, got 'colour' "
               r"\(Linear layers called: \['pts_linears.0'"),
    ("pts_linears.3", None),
])
def test_output_names_a_linear(output, match):
    model = NeRFLike(in_dim=5, view_dim=3, width=6, depth=4, skip=1)
    if match is None:
        net = relu_network(model, output=output)  # the trunk's 4th Linear as a head
        assert net.depth == 3 and net.out_dim == 6
        return
    with pytest.raises(ValueError, match=match):
        relu_network(model, output=output)


def test_output_that_is_not_a_linear():
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    with pytest.raises(ValueError, match=r"output: expected a Linear head, model\[1\] is a ReLU"):
        relu_network(model, output="1")
