import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from specbias_ext.nets.encodings import (
    FourierFeatures, PositionalEncoding, RawEncoding, make_encoding,
)
from specbias_ext.nets.models import CoordinateMLP

specs = st.sampled_from(["raw", "pe:1", "pe:3", "pe:6", "rff:4:1.5", "rff:7:10:3"])


def affine_sine_forward(enc, c):
    m, o, p = enc.affine_sine(dtype=c.dtype)
    u = c @ m.T + o
    return torch.where(p, torch.sin(u), u)


@settings(max_examples=40, deadline=None)
@given(spec=specs, d=st.integers(1, 3), n=st.integers(0, 30), seed=st.integers(0, 1000))
def test_affine_sine_reproduces_forward(spec, d, n, seed):
    enc = make_encoding(spec, d)
    c = torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1
    out = enc(c)
    assert out.shape == (n, enc.out_dim)
    torch.testing.assert_close(out, affine_sine_forward(enc, c))
    m, o, p = enc.affine_sine()
    assert m.shape == (enc.out_dim, d) and o.shape == (enc.out_dim,) and p.dtype == torch.bool


@settings(max_examples=25, deadline=None)
@given(spec=specs, d=st.integers(1, 3), seed=st.integers(0, 1000))
def test_jacobian_matches_autograd(spec, d, seed):
    enc = make_encoding(spec, d).double()
    c = torch.rand(5, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    jac = enc.jacobian(c)
    for k in range(c.shape[0]):
        ref = torch.autograd.functional.jacobian(lambda v: enc(v.unsqueeze(0))[0], c[k])
        torch.testing.assert_close(jac[k], ref)


def test_positional_encoding_order_and_values():
    enc = PositionalEncoding(2, 3)
    c = torch.tensor([[0.3, -0.7]], dtype=torch.float64)
    expected = []
    for coord in c[0].tolist():           # coordinate-major
        for l in range(3):                # then level
            arg = 2 ** l * math.pi * coord
            expected += [math.sin(arg), math.cos(arg)]   # then (sin, cos)
    torch.testing.assert_close(enc(c)[0], torch.tensor(expected, dtype=torch.float64))


def test_fourier_features_values_and_seed():
    enc = FourierFeatures(2, 5, sigma=3.0, seed=11)
    b = enc.B.to(torch.float64)
    c = torch.rand(7, 2, dtype=torch.float64)
    arg = 2 * math.pi * c @ b.T
    torch.testing.assert_close(enc(c), torch.cat([torch.sin(arg), torch.cos(arg)], 1))
    assert torch.equal(FourierFeatures(2, 5, 3.0, seed=11).B, enc.B)
    assert not torch.equal(FourierFeatures(2, 5, 3.0, seed=12).B, enc.B)
    assert abs(float(FourierFeatures(1, 4000, 3.0).B.std()) - 3.0) < 0.2


def test_rff_matrix_survives_save_and_load(tmp_path):
    model = CoordinateMLP("rff:16:5.0:7", depth=2, width=8, in_dim=2)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    other = CoordinateMLP("rff:16:5.0:99", depth=2, width=8, in_dim=2)   # different B
    assert not torch.equal(other.encoding.B, model.encoding.B)
    other.load_state_dict(torch.load(tmp_path / "m.pt"))
    assert torch.equal(other.encoding.B, model.encoding.B)
    c = torch.rand(10, 2)
    torch.testing.assert_close(other(c), model(c))


def test_raw_is_identity_and_describe_round_trips():
    c = torch.rand(4, 3)
    assert torch.equal(RawEncoding(3)(c), c)
    for spec in ["raw", "pe:4", "rff:3:2.5:4"]:
        enc = make_encoding(spec, 2)
        again = make_encoding(enc.describe())
        assert again.describe() == enc.describe()
        torch.testing.assert_close(again(c[:, :2]), enc(c[:, :2]))


@pytest.mark.parametrize("spec,match", [
    ("foo", "encoding"), ("pe", "encoding"), ("pe:0", "levels"), ("pe:-2", "levels"),
    ("rff:4:0", "sigma"), ("rff:4:-1", "sigma"), ("rff:0:1", "num_features"),
    ("rff:x:1", "encoding"), ({"name": "bogus", "in_dim": 1}, "encoding"),
])
def test_bad_specs_are_value_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        make_encoding(spec, 1)


def test_string_spec_needs_in_dim_and_coords_shape_is_checked():
    with pytest.raises(ValueError, match="in_dim"):
        make_encoding("pe:2")
    with pytest.raises(ValueError, match="coords"):
        PositionalEncoding(2, 2)(torch.rand(5, 3))
