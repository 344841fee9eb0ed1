"""The precision policy of the encodings: float64 evaluation when a coordinate ulp moves the
fastest phase by more than PHASE_TOLERANCE, and the narrowness numbers it keeps stable."""
import math

import pytest
import torch

from specbias_ext.ops import coordinates
from specbias_ext.nets.encodings import (
    PHASE_TOLERANCE, FourierFeatures, PositionalEncoding, RawEncoding, coordinate_ulp,
    make_encoding,
)
from specbias_ext.nets.models import CoordinateMLP
from specbias_ext.nets.network import relu_network
from specbias_ext.reference import geometry as ref_geometry


def test_decision_follows_the_stated_rule():
    for levels in range(1, 22):
        enc = PositionalEncoding(1, levels)
        top = math.pi * 2.0 ** (levels - 1)
        assert enc.max_phase_rate() == pytest.approx(top)
        quantum = top * torch.finfo(torch.float32).eps
        assert enc.phase_quantum(torch.float32) == pytest.approx(quantum)
        assert enc.needs_float64(torch.float32) == (quantum > PHASE_TOLERANCE)
        assert not enc.needs_float64(torch.float64)
    assert PositionalEncoding(1, 12).needs_float64(torch.float32)
    assert not PositionalEncoding(1, 11).needs_float64(torch.float32)
    assert not RawEncoding(2).needs_float64(torch.float16)
    p = PositionalEncoding(2, 16).precision(torch.float32)
    assert p["computed_in"] == "float64" and p["coords_dtype"] == "float32"
    assert coordinate_ulp(torch.float32) == torch.finfo(torch.float32).eps


def test_rff_decision_comes_from_its_matrix_and_follows_a_loaded_state():
    enc = FourierFeatures(2, 8, sigma=1.0, seed=0)
    rate = float((2 * math.pi * enc.B.double()).abs().sum(1).max())
    assert enc.max_phase_rate() == pytest.approx(rate, rel=1e-6)
    assert not enc.needs_float64(torch.float32)
    wide = FourierFeatures(2, 8, sigma=5000.0, seed=0)
    assert wide.needs_float64(torch.float32)
    enc.load_state_dict(wide.state_dict())
    assert enc.needs_float64(torch.float32)


@pytest.mark.parametrize("spec", ["pe:12", "pe:16", "pe:20", "rff:8:9000:1"])
def test_float32_coordinates_get_the_float64_features(spec):
    enc = make_encoding(spec, 1)
    assert enc.needs_float64(torch.float32)
    c32 = torch.rand(257, 1, generator=torch.Generator().manual_seed(0))
    out = enc(c32)
    assert out.dtype == torch.float32
    exact = enc(c32.double())
    torch.testing.assert_close(out, exact.float(), atol=2e-7, rtol=0)   # float32 rounding only
    jac = enc.jacobian(c32)
    assert jac.dtype == torch.float32
    torch.testing.assert_close(jac.double(), enc.jacobian(c32.double()), rtol=2e-7, atol=1e-6)


def _median_distance_encoded(enc, net, coords):
    """Median boundary distance from the encoding's own features and Jacobian, the network in
    the coordinates' dtype (what a float32 user of ``encode`` sees)."""
    a, da = enc(coords), enc.jacobian(coords)[:, :, 0]
    dists = []
    for w, b in zip(net.weights[:-1], net.biases[:-1]):
        z, dz = a @ w.T + b, da @ w.T
        dists.append(z.abs() / dz.abs())
        a, da = torch.relu(z), torch.where(z > 0, dz, 0.0)
    return float(torch.cat(dists, 1).min(1).values.median())


@pytest.mark.parametrize("levels", [16, 20])
def test_narrowness_numbers_are_stable_in_float64(levels):
    model = CoordinateMLP(f"pe:{levels}", depth=2, width=64, seed=1, in_dim=1)
    enc, net = model.encoding, relu_network(model).detach()
    coords = (torch.arange(2048, dtype=torch.float64) / 2048).float()[:, None]
    net64 = net.to(torch.float64)
    m, o, p = enc.affine_sine(torch.float64)
    # the computation repeated in float64 (plain-torch reference)
    reference = float(ref_geometry.boundary_distance(
        coords.double(), m, o, p, net64)[0].median())
    # the policy for coordinate-space ops: coords and network in float64 when the encoding says
    assert enc.needs_float64(coords.dtype)
    promoted = float(coordinates.boundary_distance(coords.double(), enc, net64)[0].median())
    assert promoted == pytest.approx(reference, rel=1e-9)
    # geometry applies the policy itself to float32 coordinates and a float32 network
    dist32, _ = coordinates.boundary_distance(coords, enc, net)
    assert dist32.dtype == torch.float32
    assert float(dist32.median()) == pytest.approx(reference, rel=1e-6)
    # float32 features evaluated in float64 carry the phase: float32 rounding only
    assert _median_distance_encoded(enc, net, coords) == pytest.approx(reference, rel=1e-4)
    # without the policy (sine evaluated in float32) the number moves by far more
    m32, o32, p32 = enc.affine_sine(torch.float32)
    plain32 = float(coordinates.boundary_distance(coords, (m32, o32, p32), net)[0].median())
    if levels == 20:
        assert abs(plain32 / reference - 1) > 1e-3
