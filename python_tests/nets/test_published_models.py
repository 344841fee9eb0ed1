"""split_model on published coordinate networks as their authors wrote them (published_models.py):
the split reproduces the module's own forward; patterns are the signs of the module's own
hidden pre-activations (forward hooks); per-example gradient norms equal autograd over every
parameter of the network; boundary distances equal torch.func on the module itself."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Optional

import pytest
import torch
from torch import nn
from torch.func import jacfwd
from torch.nn.utils.weight_norm import WeightNorm

from specbias_ext.testing import published_models as pm
from specbias_ext import activation_patterns, per_example_grad_norms, split_model
from specbias_ext.ops import coordinates
from specbias_ext.reference import network as ref_net
from specbias_ext.reference.patterns import pack_bits

pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")

N = 24


@dataclass
class Case:
    build: Callable[[], nn.Module]
    in_dim: int
    hidden: list                  # module paths of the hidden Linears, in order
    head: str                     # module path of the head Linear
    output: Optional[str] = None  # the output= to pass
    needs_in_dim: bool = False    # the forward branches on the input's shape


def _nerf():
    return pm.NeRF(D=8, W=24, input_ch=63, input_ch_views=27, use_viewdirs=True)


def _deepsdf():
    return pm.DeepSDFDecoder(latent_size=5, dims=[20] * 8, dropout=list(range(8)),
                             dropout_prob=0.2, norm_layers=list(range(8)), latent_in=[4],
                             weight_norm=True)


CASES = {
    "nerf-pytorch NeRF": Case(_nerf, 90, [f"pts_linears.{i}" for i in range(8)],
                              "alpha_linear", output="alpha_linear"),
    "nerf-pytorch run_network": Case(lambda: pm.NeRFRunNetwork(multires=6, multires_views=2,
                                                               W=20),
                                     6, [f"fn.pts_linears.{i}" for i in range(8)],
                                     "fn.alpha_linear", output="fn.alpha_linear"),
    "DeepSDF decoder": Case(_deepsdf, 8, [f"lin{i}" for i in range(8)], "lin8",
                            needs_in_dim=True),
    "Fourier features": Case(lambda: pm.FourierFeatureModel(torch.randn(12, 2) * 4, 4, 20),
                             2, [f"model.layers.{i}" for i in range(3)], "model.layers.3"),
    "hash grid + MLP": Case(lambda: pm.HashGridField(num_levels=6, log2_hashmap_size=10,
                                                     hidden_dim=20),
                            3, ["mlp_base.layers.0", "mlp_base.layers.1"], "mlp_base.layers.2",
                            needs_in_dim=True),
    "nerfstudio NeRF field": Case(lambda: pm.NeRFFieldDensity(base_mlp_layer_width=20),
                                  3, [f"mlp_base.layers.{i}" for i in range(8)],
                                  "field_output_density.net", output="field_output_density.net",
                                  needs_in_dim=True),
}


def _model(case: Case, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return case.build().double().eval()


def _coords(case: Case, n: int = N, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, case.in_dim, generator=torch.Generator().manual_seed(seed),
                      dtype=torch.float64)


def _split(case: Case, model: nn.Module):
    return split_model(model, case.output, in_dim=case.in_dim if case.needs_in_dim else None)


def _run_with_hooks(model: nn.Module, names: list, coords: torch.Tensor) -> list:
    """The outputs of the named modules during ``model(coords)``."""
    seen, handles = {}, []
    for name in names:
        handles.append(model.get_submodule(name).register_forward_hook(
            lambda m, args, out, name=name: seen.__setitem__(name, out)))
    try:
        model(coords)
    finally:
        for h in handles:
            h.remove()
    return [seen[n] for n in names]


def _encode(encoding, coords):
    return coords if encoding is None else encoding(coords)


@pytest.mark.parametrize("name", CASES)
def test_split_reproduces_the_modules_own_forward(name):
    case = CASES[name]
    model = _model(case)
    encoding, net = _split(case, model)
    coords = _coords(case)
    with torch.no_grad():
        (raw,) = _run_with_hooks(model, [case.head], coords)
        torch.testing.assert_close(ref_net.forward(net, _encode(encoding, coords)), raw)
        if case.output is None:
            torch.testing.assert_close(net.output_activation(raw), model(coords))
    assert net.depth == len(case.hidden)


@pytest.mark.parametrize("name", CASES)
def test_patterns_are_the_modules_own_preactivation_signs(name):
    case = CASES[name]
    model = _model(case, seed=2)
    encoding, net = _split(case, model)
    coords = _coords(case, n=200, seed=3)
    with torch.no_grad():
        z = _run_with_hooks(model, case.hidden, coords)
        expected = pack_bits(torch.cat([zl > 0 for zl in z], dim=1))
        got = activation_patterns(_encode(encoding, coords), net)
    assert torch.equal(got, expected)
    assert 0 < torch.unique(got, dim=0).shape[0]


def _without_weight_norm(model: nn.Module) -> nn.Module:
    """A copy whose weight-normalised Linears hold their effective weight as a parameter: the
    gradient the ops compute is w.r.t. that weight."""
    plain = copy.deepcopy(model)
    for module in plain.modules():
        if any(isinstance(h, WeightNorm)
               for h in module._forward_pre_hooks.values()):
            torch.nn.utils.remove_weight_norm(module)
    return plain


@pytest.mark.parametrize("name", CASES)
def test_grad_norms_equal_autograd_over_every_network_parameter(name):
    case = CASES[name]
    model = _model(case, seed=4)
    encoding, net = _split(case, model)
    coords = _coords(case, n=10, seed=5)
    x = _encode(encoding, coords).detach()
    grad_out = torch.randn(coords.shape[0], net.out_dim, dtype=torch.float64,
                           generator=torch.Generator().manual_seed(6))
    got = per_example_grad_norms(x, net, grad_out)          # [N, layers]

    plain = _without_weight_norm(model)
    layers = [plain.get_submodule(n) for n in case.hidden + [case.head]]
    expected = torch.zeros_like(got)
    for i in range(coords.shape[0]):
        (raw,) = _run_with_hooks(plain, [case.head], coords[i:i + 1])
        params = [p for layer in layers for p in layer.parameters()]
        grads = torch.autograd.grad((raw * grad_out[i:i + 1]).sum(), params)
        k = 0
        for l, layer in enumerate(layers):
            for _ in layer.parameters():
                expected[i, l] += grads[k].square().sum()
                k += 1
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_boundary_distance_equals_torch_func_on_the_module(name):
    case = CASES[name]
    model = _model(case, seed=7)
    encoding, net = _split(case, model)
    coords = _coords(case, n=12, seed=8)

    def hidden_preactivations(c):
        return torch.cat(_run_with_hooks(model, case.hidden, c[None]), dim=1)[0]

    expected = []
    with torch.no_grad():
        for c in coords:
            z = hidden_preactivations(c)
            jac = jacfwd(hidden_preactivations)(c)              # [H, D]
            expected.append((z.abs() / jac.norm(dim=1)).min())
        dist, arg = coordinates.boundary_distance(coords, encoding, net)
    torch.testing.assert_close(dist, torch.stack(expected), rtol=1e-9, atol=1e-12)
    assert bool((arg >= 0).all()) and bool((arg < net.num_hidden).all())


@pytest.mark.parametrize("name", ["Fourier features", "hash grid + MLP"])
def test_the_encoding_is_the_models_own_code_and_parameters(name):
    case = CASES[name]
    model = _model(case, seed=9)
    encoding, _ = _split(case, model)
    assert isinstance(encoding, torch.fx.GraphModule)
    # the model's parameters and buffers themselves; tensors the forward builds from plain
    # attributes or literals are the trace's constants
    own = {id(t) for t in list(model.parameters()) + list(model.buffers())}
    own |= {id(v) for m in model.modules() for v in vars(m).values()
            if isinstance(v, torch.Tensor)}
    assert {id(p) for p in encoding.parameters()} <= own
    assert {id(b) for n, b in encoding.named_buffers()
            if not n.startswith("_tensor_constant")} <= own
    coords = _coords(case, n=5)
    first = case.hidden[0]
    with torch.no_grad():
        before = encoding(coords)
        # an optimiser step on the model's own tensors is seen at the next call
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point() and t.dim() >= 1 and not any(
                    t is p for p in model.get_submodule(first).parameters()):
                t.mul_(1.5)
        after = encoding(coords)
        (received,) = [a[0] for a in _capture_inputs(model, first, coords)]
    assert not torch.equal(before, after)
    torch.testing.assert_close(after, received)


def _capture_inputs(model, name, coords):
    seen = []
    handle = model.get_submodule(name).register_forward_pre_hook(lambda m, a: seen.append(a))
    try:
        model(coords)
    finally:
        handle.remove()
    return seen
