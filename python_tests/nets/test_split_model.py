"""split_model on models written the way users write them: the encoding split off the forward
(raw coordinates in), input slices and the columns a skip re-injects, output activations and
their derivatives, in-place activations, and every refusal, which names the node, why, and the
way out."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from specbias_ext.testing import published_models as pm
from specbias_ext import activation_patterns, mlp_params, relu_network, split_model
from specbias_ext.measure import mse_grad_head, mse_grad_out
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.nets.reading import trace_model
from specbias_ext.reference import network as ref_net
from specbias_ext.reference.patterns import pack_bits

pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")


def _coords(n, d, seed=0):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _same_function(model, encoding, net, coords, activation=True):
    with torch.no_grad():
        x = coords if encoding is None else encoding(coords)
        raw = ref_net.forward(net, x)
        out = net.output_activation(raw) if activation and net.output_activation else raw
        torch.testing.assert_close(out, model(coords))


# ----------------------------------------------------------------------------- encodings


class PositionalMLP(nn.Module):
    """An INR with its positional encoding written inside the forward."""

    def __init__(self, levels=4, width=16):
        super().__init__()
        self.register_buffer("freqs", 2.0 ** torch.arange(levels) * math.pi)
        self.l0 = nn.Linear(2 + 4 * levels, width)
        self.l1 = nn.Linear(width, width)
        self.out = nn.Linear(width, 1)

    def forward(self, coords):
        u = (coords[..., None] * self.freqs).flatten(-2)
        x = torch.cat([coords, torch.sin(u), torch.cos(u)], -1)
        return self.out(F.relu(self.l1(F.relu(self.l0(x)))))


def test_first_linear_on_the_input_has_no_encoding():
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)).double()
    encoding, net = split_model(model)
    assert encoding is None and net.output_activation is None
    assert net.weights[0] is model[0].weight
    _same_function(model, encoding, net, _coords(20, 2))


def test_an_encoding_inside_the_forward_is_split_off_as_the_models_own_graph():
    model = PositionalMLP().double()
    encoding, net = split_model(model)
    assert isinstance(encoding, torch.fx.GraphModule) and net.in_dim == 18
    assert encoding.freqs is model.freqs          # the model's buffer, not a copy
    _same_function(model, encoding, net, _coords(30, 2))


def test_forgetting_the_encoding_relu_network_alone_is_refused():
    # a same-width encoding (here 2 * c - 1) fed raw coordinates would go unnoticed
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    wrapped = _Rescaled(model)
    with pytest.raises(TypeError, match=r"model: _Rescaled.forward computes an encoding of the "
                                        r"coordinates before its first Linear, and the network "
                                        r"alone takes the encoded input: use encoding, net = "
                                        r"specbias_ext.split_model\(model\)"):
        relu_network(wrapped)
    with pytest.raises(TypeError, match=r"computes an encoding of the coordinates"):
        mlp_params(wrapped)
    encoding, net = split_model(wrapped)
    torch.testing.assert_close(encoding(torch.ones(1, 2)), torch.ones(1, 2))


class _Rescaled(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, c):
        return self.inner(2 * c - 1)


def test_coordinate_mlp_gives_its_own_encoding_module():
    model = CoordinateMLP("pe:3", depth=2, width=16, in_dim=2).double()
    encoding, net = split_model(model)
    assert encoding is model.encoding
    w, b = model.mlp_params()
    assert all(x is y for x, y in zip(net.weights, w)) and net.depth == 2
    _same_function(model, encoding, net, _coords(25, 2))


def test_an_activation_of_the_input_is_part_of_the_encoding():
    model = nn.Sequential(nn.ReLU(), nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)).double()
    encoding, net = split_model(model)
    coords = _coords(20, 2) * 2 - 1
    torch.testing.assert_close(encoding(coords), F.relu(coords))
    _same_function(model, encoding, net, coords)


def test_the_split_is_checked_against_the_models_forward_when_in_dim_is_given():
    model = PositionalMLP().double()
    model.l0.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    split_model(model)    # no in_dim, no check: the hook is not in the traced graph
    with pytest.raises(TypeError, match=r"model: the encoding read off PositionalMLP.forward "
                                        r"does not reproduce the input of its first Linear on 3 "
                                        r"points .*a hook changes what the Linear receives"):
        split_model(model, in_dim=2)


def test_the_users_model_is_not_modified_by_reading_it():
    model = PositionalMLP().double()
    before = dict(vars(model))
    split_model(model, in_dim=2)
    assert set(vars(model)) == set(before)


# ----------------------------------------------------------------------------- input slices


class SlicedSkip(nn.Module):
    """Layer 0 reads all of x; the skip at layer 1 re-injects a slice taken with ``how``."""

    def __init__(self, how, d=6, width=8):
        super().__init__()
        self.how = how
        part = {"last3": 3, "split": 2, "chunk": 2, "narrow": 3, "first2": 2, "full": d}[how]
        self.a, self.b = nn.Linear(d, width), nn.Linear(width + part, width)
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        if self.how == "last3":
            part = x[:, -3:]
        elif self.how == "split":
            _, part, _ = torch.split(x, [1, 2, 3], dim=-1)
        elif self.how == "chunk":
            part = x.chunk(3, -1)[2]
        elif self.how == "narrow":
            part = x.narrow(-1, 1, 3)
        elif self.how == "first2":
            part = x[..., :2]
        else:
            part = x
        h = F.relu(self.a(x))
        return self.head(F.relu(self.b(torch.cat([h, part], -1))))


COLUMNS = {"last3": (3, 6), "split": (1, 3), "chunk": (4, 6), "narrow": (1, 4), "first2": (0, 2),
           "full": None}


def _forward_with_columns(layers, x):
    """A plain-torch forward of traced layers whose skips read columns of x."""
    h = x
    for l, (w, b) in enumerate(zip(layers.weights, layers.biases)):
        if layers.skips[l]:
            start, stop = layers.skip_columns[l] or (0, x.shape[1])
            h = torch.cat([h, x[:, start:stop]], 1)
        z = h @ w.T + (0 if b is None else b)
        h = F.leaky_relu(z, layers.slopes[l]) if l < len(layers.slopes) else z
    return h


@pytest.mark.parametrize("how", COLUMNS)
def test_a_skip_of_a_slice_of_x_reads_those_columns(how):
    model = SlicedSkip(how).double()
    layers = trace_model(model, in_dim=6).layers
    assert layers.skips == [False, True, False]
    assert layers.skip_columns == [None, COLUMNS[how], None]
    x = _coords(15, 6)
    with torch.no_grad():
        torch.testing.assert_close(_forward_with_columns(layers, x), model(x))


def test_columns_from_the_end_need_the_input_width_only_when_x_is_not_the_input():
    model = SlicedSkip("last3").double()
    assert trace_model(model).layers.skip_columns == [None, (3, 6), None]   # x is the input


def test_a_skip_of_the_raw_point_inside_a_positional_encoding():
    class EmbedSkip(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_fn, d = pm.get_embedder(3)
            self.a, self.b, self.head = nn.Linear(d, 8), nn.Linear(8 + 3, 8), nn.Linear(8, 1)

        def forward(self, p):
            h = F.relu(self.a(self.embed_fn(p)))
            return self.head(F.relu(self.b(torch.cat([h, p], -1))))

    model = EmbedSkip().double()
    assert trace_model(model, in_dim=3).layers.skip_columns == [None, (0, 3), None]
    with pytest.raises(TypeError, match=r"traced node 'p' \(placeholder\): a skip concatenates "
                                        r"it with the hidden state, but it is not the network "
                                        r"input x .*pass in_dim="):
        trace_model(model)


def test_deepsdf_xyz_reinjection_reads_the_xyz_columns():
    model = pm.DeepSDFDecoder(5, [16] * 5, latent_in=[], xyz_in_all=True).double().eval()
    found = trace_model(model, in_dim=8)
    assert found.encoding is None
    assert found.layers.skip_columns == [None] + [(5, 8)] * 5
    x = _coords(20, 8)
    with torch.no_grad():
        torch.testing.assert_close(found.activation(_forward_with_columns(found.layers, x)),
                                   model(x))
    _, net = split_model(model, in_dim=8)
    assert list(net.skip_columns) == found.layers.skip_columns
    x32 = x.float()
    with torch.no_grad():             # the ops read the xyz columns as the model does
        net32 = net.to(torch.float32)
        torch.testing.assert_close(found.activation(ref_net.forward(net32, x32)),
                                   model.float()(x32),
                                   rtol=1e-5, atol=1e-5)
        signs = torch.cat([z > 0 for z in ref_net.hidden_preactivations(net32, x32)], dim=1)
        assert torch.equal(activation_patterns(x32, net32),
                           pack_bits(signs))


def test_a_skip_of_something_else_is_refused():
    class OtherSkip(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.head = nn.Linear(2, 8), nn.Linear(10, 8), nn.Linear(8, 1)

        def forward(self, c):
            h = F.relu(self.a(torch.sin(c)))
            return self.head(F.relu(self.b(torch.cat([h, torch.cos(c)], -1))))

    with pytest.raises(TypeError, match=r"traced node 'cos' \(call to cos\): a skip concatenates "
                                        r"it with the hidden state, but it is not the network "
                                        r"input x \(the input of the first Linear, traced node "
                                        r"'sin'"):
        split_model(OtherSkip(), in_dim=2)


# ----------------------------------------------------------------------------- activations


class Head(nn.Module):
    def __init__(self, after, width=6):
        super().__init__()
        self.after = after
        self.a, self.h = nn.Linear(2, width), nn.Linear(width, 2)

    def forward(self, x):
        return self.after(self.h(F.relu(self.a(x))))


OUTPUT_ACTIVATIONS = {
    "tanh": (torch.tanh, "tanh"),
    "sigmoid": (nn.Sigmoid(), "Sigmoid()"),
    "softplus": (nn.Softplus(beta=2.0), "Softplus(beta=2.0, threshold=20.0)"),
    "abs": (torch.abs, "abs"),
    "clamp": (lambda z: torch.clamp(z, min=-0.2, max=0.3), "clamp(min=-0.2, max=0.3)"),
    "exp": (lambda z: z.exp(), "exp"),
    "widened sigmoid": (lambda z: torch.sigmoid(z) * 1.002 - 0.001,
                        "sigmoid -> mul(1.002) -> sub(0.001)"),
    "relu": (F.relu, "relu"),
}


@pytest.mark.parametrize("name", OUTPUT_ACTIVATIONS)
def test_an_output_activation_is_recorded_and_its_derivative_is_autograds(name):
    fn, description = OUTPUT_ACTIVATIONS[name]
    model = Head(fn).double()
    encoding, net = split_model(model)
    assert net.output_activation.description == description
    assert net.describe()["output_activation"] == description
    coords = _coords(40, 2) * 4 - 2
    _same_function(model, encoding, net, coords)
    raw = ref_net.forward(net, coords).detach().requires_grad_(True)
    (expected,) = torch.autograd.grad(net.output_activation(raw).sum(), raw)
    torch.testing.assert_close(net.output_activation.derivative(raw.detach()), expected)
    # the loss gradient w.r.t. the head's raw output: autograd through the activation
    target = torch.rand_like(raw)
    loss = (net.output_activation(raw) - target).square().mean(1).sum()
    (grad,) = torch.autograd.grad(loss, raw)
    torch.testing.assert_close(mse_grad_head(raw.detach(), target, net.output_activation), grad)
    assert net.detach().output_activation is net.output_activation


def test_mse_grad_head_without_activation_is_mse_grad_out():
    raw, target = _coords(5, 3), _coords(5, 3, seed=1)
    torch.testing.assert_close(mse_grad_head(raw, target), mse_grad_out(raw, target))


def test_with_output_the_activation_after_the_chosen_head_is_recorded():
    model = pm.NeRFFieldDensity(base_mlp_layer_width=8).double()
    _, net = split_model(model, "field_output_density.net", in_dim=3)
    assert net.output_activation.description.startswith("Softplus(")
    _, inner = split_model(model, "mlp_base.layers.3", in_dim=3)
    assert inner.output_activation is None and inner.depth == 3


class InPlace(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how = how
        self.a, self.b, self.h = nn.Linear(2, 6), nn.Linear(6, 6), nn.Linear(6, 1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        h = self.a(x)
        if self.how == "relu_":
            h.relu_()
        elif self.how == "functional":
            F.relu(h, inplace=True)
        else:
            self.act(h)
        h = self.b(h)
        h = F.leaky_relu_(h, 0.1)
        return self.h(h)


@pytest.mark.parametrize("how", ["relu_", "functional", "module"])
def test_inplace_activations_whose_result_is_dropped(how):
    model = InPlace(how).double()
    encoding, net = split_model(model)
    assert net.slopes == (0.0, 0.1)
    _same_function(model, encoding, net, _coords(30, 2) * 2 - 1)


# ----------------------------------------------------------------------------- refusals


class Trunk(nn.Module):
    """x -> Linear a -> ReLU -> Linear b -> ``middle`` -> Linear h."""

    def __init__(self, middle, width=6):
        super().__init__()
        self.middle = middle
        self.a, self.b, self.h = nn.Linear(2, width), nn.Linear(width, width), nn.Linear(width, 1)

    def forward(self, x):
        return self.h(self.middle(self.b(F.relu(self.a(x)))))


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp, self.hidden, self.out = nn.Linear(2, 8), nn.Linear(8, 8), nn.Linear(8, 1)

    def forward(self, x):
        h = F.relu(self.inp(x))
        for _ in range(3):
            h = F.relu(self.hidden(h))
        return self.out(h)


class DictOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(3, 8), nn.ReLU())
        self.density, self.rgb = nn.Linear(8, 1), nn.Linear(8, 3)

    def forward(self, x):
        h = self.trunk(x)
        return {"density": F.softplus(self.density(h)), "rgb": torch.sigmoid(self.rgb(h))}


REFUSALS = [
    ("GELU in the trunk", lambda: Trunk(nn.GELU()), {},
     r"model\.middle \(GELU\): GELU is not piecewise linear, so the network has no linear "
     r"regions .*; to analyse the network up to model\.b, pass output='b'"),
    ("softplus in the trunk", lambda: Trunk(F.softplus), {},
     r"traced node 'softplus' \(call to softplus\): softplus is not piecewise linear.*"
     r"pass output='b'"),
    ("LayerNorm in the trunk (DeepSDF without weight norm)",
     lambda: pm.DeepSDFDecoder(5, [12] * 4, norm_layers=[0, 1], latent_in=[2]).eval(),
     {"in_dim": 8}, r"model\.bn0 \(LayerNorm\): LayerNorm normalises each point by statistics "
                    r"of its own features"),
    ("eval BatchNorm", lambda: Trunk(nn.BatchNorm1d(6)).eval(), {},
     r"model\.middle \(BatchNorm1d\): BatchNorm1d is not part of a ReluNetwork; in eval mode it "
     r"is an affine map per feature, so fold it into the Linear before it.*"
     r"fuse_linear_bn_eval.*pass output='b'"),
    ("training BatchNorm", lambda: Trunk(nn.BatchNorm1d(6)), {},
     r"model\.middle \(BatchNorm1d\): BatchNorm1d in training mode .*call model.eval\(\)"),
    ("SIREN", lambda: pm.Siren(2, 8, 2, 1, outermost_linear=True), {"output": "net.3"},
     r"traced node 'sin' \(call to sin\): sin is a sine activation \(SIREN\): not piecewise "
     r"linear"),
    ("SIREN's two outputs", lambda: pm.Siren(2, 8, 2, 1, outermost_linear=True), {},
     r"model: the forward returns 2 outputs, not one tensor; pass output='net.3' \(output 0\)"),
    ("data-dependent control flow (HashNeRF)", pm.HashEmbedderMLP, {"in_dim": 3},
     r"model: torch.fx could not trace HashEmbedderMLP.forward .*data-dependent control flow"),
    ("a shape branch without in_dim (DeepSDF)",
     lambda: pm.DeepSDFDecoder(5, [12] * 4).eval(), {},
     r"model: torch.fx could not trace DeepSDFDecoder.forward .*if it branches only on the "
     r"input's shape .*pass in_dim=<the width of the model's input>"),
    ("recurrent reuse of one Linear", Recurrent, {},
     r"model\.hidden \(Linear\): the same Linear is called again \(first as traced node "
     r"'hidden'\): recurrent reuse of one layer's weights is not a ReluNetwork"),
    ("no activation between Linears (repeated block)",
     lambda: pm.ImageRepresentationMlp(16, 3, 8), {},
     r"model\.layers\[1\]\.layers\[0\] \(Linear\): reads the output of Linear layer 0 with no "
     r"activation in between"),
    ("several heads joined (NeRF)",
     lambda: pm.NeRF(D=4, W=8, input_ch=6, input_ch_views=3, skips=[2], use_viewdirs=True), {},
     r"model: the output concatenates the outputs of several heads .*pass "
     r"output='rgb_linear' \(part 0\) or output='alpha_linear' \(part 1\)"),
    ("a dict output", DictOutput, {},
     r"model: the forward returns a dict of 2 outputs \('density', 'rgb'\), not one tensor; "
     r"pass output='density' \(density\) or output='rgb' \(rgb\)"),
    ("the colour head (NeRF)",
     lambda: pm.NeRF(D=4, W=8, input_ch=6, input_ch_views=3, skips=[2], use_viewdirs=True),
     {"output": "rgb_linear"},
     r"torch.cat must join the current hidden state and the network input x or a column slice "
     r"of it \(here: the raw output of Linear layer 4"),
]


@pytest.mark.parametrize("build,kwargs,match", [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_refusals_name_the_node_why_and_the_way_out(build, kwargs, match):
    torch.manual_seed(0)
    with pytest.raises(TypeError, match=match):
        split_model(build(), **kwargs)


def test_forgetting_the_encoding_is_reported_in_terms_of_widths():
    encoding, net = split_model(PositionalMLP())
    coords = torch.rand(5, 2)
    with pytest.raises(ValueError, match=r"x has 2 features, the network's first layer takes "
                                         r"18: pass the encoded coordinates \(encoding\(coords\)\), "
                                         r"or the whole model with its encoding"):
        activation_patterns(coords, net)
    activation_patterns(encoding(coords), net)


def test_the_encoding_may_not_read_a_second_input():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.h = nn.Linear(3, 4), nn.Linear(4, 1)

        def forward(self, x, latent):
            return self.h(F.relu(self.a(x + latent)))

    with pytest.raises(TypeError, match=r"traced node 'latent' \(placeholder\): the first "
                                        r"Linear's input depends on a second input"):
        split_model(TwoInputs())
