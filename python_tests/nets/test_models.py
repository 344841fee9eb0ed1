import pytest
import torch
from torch import nn

from specbias_ext import activation_patterns, mlp_params, relu_network
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.reference import activation_patterns as ref_patterns


def test_layout_and_forward():
    model = CoordinateMLP("pe:4", depth=4, width=128, in_dim=1)
    weights, biases = model.mlp_params()
    assert [tuple(w.shape) for w in weights] == [(128, 8)] + [(128, 128)] * 3 + [(1, 128)]
    assert len(biases) == 5
    linears = [m for m in model.mlp if isinstance(m, nn.Linear)]
    assert all(w is l.weight for w, l in zip(weights, linears))
    relus = [m for m in model.mlp if isinstance(m, nn.ReLU)]
    assert len(relus) == 4
    c = torch.rand(9, 1)
    torch.testing.assert_close(model(c), model.mlp(model.encode(c)))
    w2, b2 = mlp_params(model)
    assert all(a is b for a, b in zip(w2, weights))


def test_ops_take_the_mlp_after_the_encoding():
    model = CoordinateMLP("pe:3", depth=2, width=70, in_dim=2, seed=5).double()
    c = torch.rand(50, 2, dtype=torch.float64)
    net = relu_network(model)
    x = model.encode(c)
    assert torch.equal(activation_patterns(x, net), ref_patterns(x, net))


def test_seed_determines_the_weights_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = CoordinateMLP("raw", 3, 32, in_dim=1, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    b = CoordinateMLP("raw", 3, 32, in_dim=1, seed=1)
    c = CoordinateMLP("raw", 3, 32, in_dim=1, seed=2)
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q) and not torch.equal(p, r)
    bound = 1 / 32 ** 0.5
    assert float(a.mlp[2].weight.abs().max()) <= bound


def test_from_config_round_trip():
    model = CoordinateMLP("rff:8:3.0:2", depth=3, width=16, out_dim=3, seed=4, in_dim=2)
    again = CoordinateMLP.from_config(model.describe())
    assert again.describe() == model.describe()
    for p, q in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("kwargs,match", [
    (dict(encoding="pe:2", depth=0, width=4, in_dim=1), "depth"),
    (dict(encoding="pe:2", depth=2, width=0, in_dim=1), "width"),
    (dict(encoding="pe:2", depth=2, width=4, out_dim=0, in_dim=1), "out_dim"),
    (dict(encoding="pe:2", depth=2, width=4), "in_dim"),
    (dict(encoding="nope", depth=2, width=4, in_dim=1), "encoding"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CoordinateMLP(**kwargs)
    with pytest.raises(ValueError, match="config"):
        CoordinateMLP.from_config({"encoding": "raw", "depth": 1})
