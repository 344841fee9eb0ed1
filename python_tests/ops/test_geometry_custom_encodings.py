"""coordinates.boundary_distance / coord_gradients with encodings that are not of the affine-sine
form (a learned Linear+sin module, a hand-written random Fourier function, a bilinear grid
embedding) on described networks, against the torch.func reference; the Jacobian path equals
the fast path on our own encodings; chunking; refusals of encodings the ops cannot take."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from specbias_ext.testing import NERF_LIKE, random_network

from specbias_ext.testing.strategies import network_kinds
from specbias_ext.nets import encodings
from specbias_ext import ReluNetwork, reference
from specbias_ext.ops import coordinates

DIST_TOL = {torch.float32: dict(rtol=2e-3, atol=1e-4), torch.float64: dict(rtol=1e-9, atol=1e-10)}
GRAD_TOL = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=1e-10, atol=1e-10)}


class LearnedSine(nn.Module):
    """A learned embedding: sin(Linear(c)), its parameters requiring grad as in training."""

    def __init__(self, dims, features, dtype, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.linear = nn.Linear(dims, features, dtype=dtype)

    def forward(self, c):
        return torch.sin(3.0 * self.linear(c))


def random_fourier(dims, features, dtype, seed):
    """A Fourier feature layer written by hand as a plain function."""
    b = torch.randn(features, dims, generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64).to(dtype) * 4.0

    def encode(c):
        phase = 2 * math.pi * c @ b.T
        return torch.cat([torch.sin(phase), torch.cos(phase)], dim=1)
    return encode


class GridEmbedding(nn.Module):
    """A dense learned feature grid on [0, 1]^D read by multilinear interpolation (the shape of a
    one-level hash grid without the hash): piecewise polynomial, no trigonometry."""

    def __init__(self, dims, features, dtype, seed, resolution=5):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.res = resolution
        self.table = nn.Parameter(torch.randn(*(resolution + 1,) * dims, features,
                                              generator=gen, dtype=torch.float64).to(dtype))

    def forward(self, c):
        scaled = c.clamp(0, 1) * self.res
        cell = scaled.floor().clamp(max=self.res - 1)
        frac = scaled - cell
        cell = cell.long()
        dims = c.shape[1]
        out = 0
        for corner in range(2 ** dims):
            bits = [(corner >> d) & 1 for d in range(dims)]
            weight = 1
            index = []
            for d, bit in enumerate(bits):
                weight = weight * (frac[:, d] if bit else 1 - frac[:, d])
                index.append(cell[:, d] + bit)
            out = out + weight[:, None] * self.table[tuple(index)]
        return out


def _make_encoding(kind, dims, dtype, seed):
    if kind == "learned":
        return LearnedSine(dims, 6, dtype, seed)
    if kind == "fourier":
        return random_fourier(dims, 4, dtype, seed)
    return GridEmbedding(dims, 5, dtype, seed)


@st.composite
def cases(draw):
    return dict(kind=draw(network_kinds(max_depth=3, max_width=17)),
                encoding=draw(st.sampled_from(["learned", "fourier", "grid"])),
                dims=draw(st.sampled_from([1, 2])),
                dtype=draw(st.sampled_from([torch.float32, torch.float64])),
                n=draw(st.sampled_from([0, 1, 3, 60])), seed=draw(st.integers(0, 2**20)))


@settings(max_examples=25, deadline=None)
@given(cases())
def test_custom_encodings_match_reference(case):
    dtype = case["dtype"]
    encode = _make_encoding(case["encoding"], case["dims"], dtype, case["seed"])
    coords = torch.rand(case["n"], case["dims"], dtype=dtype,
                        generator=torch.Generator().manual_seed(case["seed"]))
    width = encode(torch.zeros(1, case["dims"], dtype=dtype)).shape[1]
    net = random_network(width, **case["kind"], dtype=dtype, seed=case["seed"])
    with torch.no_grad():
        ref_dist, ref_arg = reference.boundary_distance_through(coords, encode, net)
        ref_grads = reference.coord_gradients_through(coords, encode, net)
    dist, arg = coordinates.boundary_distance(coords, encode, net)
    grads = coordinates.coord_gradients(coords, encode, net)
    assert dist.shape == (case["n"],) and arg.shape == (case["n"],)
    assert grads.shape == (case["n"], net.out_dim, case["dims"])
    assert dist.dtype == dtype and grads.dtype == dtype and not grads.requires_grad
    assert torch.equal(torch.isinf(dist), torch.isinf(ref_dist))
    finite = ~torch.isinf(dist)
    torch.testing.assert_close(dist[finite], ref_dist[finite], **DIST_TOL[dtype])
    if dtype == torch.float64:
        _assert_same_minimiser(arg, ref_arg, ref_dist, coords, encode, net)
    torch.testing.assert_close(grads, ref_grads, **GRAD_TOL[dtype])


def _assert_same_minimiser(arg, ref_arg, ref_dist, coords, encode, net):
    """The argmin equals the reference's, except at exact mathematical ties (a bias-free layer
    behind one active neuron has z proportional to that neuron's, so both are at the same
    distance) where rounding may pick either: there the op's neuron must attain the minimum."""
    differ = arg != ref_arg
    if not bool(differ.any()):
        return
    with torch.no_grad():
        per_neuron = reference.neuron_distances_through(coords[differ], encode, net)
    picked = per_neuron.gather(1, arg[differ].clamp_min(0)[:, None])[:, 0]
    torch.testing.assert_close(picked, ref_dist[differ], rtol=1e-9, atol=0)


def test_jacobian_path_equals_fast_path_on_our_encodings():
    """Our PE and RFF encodings as bare functions (no affine_sine) give the fast path's result."""
    net = random_network(12, **NERF_LIKE, dtype=torch.float64, seed=2)
    coords = torch.rand(50, 2, dtype=torch.float64)
    for enc in (encodings.PositionalEncoding(2, 3), encodings.FourierFeatures(2, 6, 3.0)):
        fast_dist, fast_arg = coordinates.boundary_distance(coords, enc, net)
        as_function = lambda c, enc=enc: enc(c)  # noqa: E731 (hides affine_sine)
        dist, arg = coordinates.boundary_distance(coords, as_function, net)
        torch.testing.assert_close(dist, fast_dist, rtol=1e-10, atol=1e-12)
        assert torch.equal(arg, fast_arg)
        torch.testing.assert_close(coordinates.coord_gradients(coords, as_function, net),
                                   coordinates.coord_gradients(coords, enc, net),
                                   rtol=1e-10, atol=1e-12)


def test_chunks_give_the_unchunked_result():
    encode = LearnedSine(2, 6, torch.float64, seed=0)
    net = random_network(6, **NERF_LIKE, dtype=torch.float64, seed=1)
    coords = torch.rand(23, 2, dtype=torch.float64)
    whole = coordinates.boundary_distance(coords, encode, net)
    parts = coordinates.boundary_distance(coords, encode, net, chunk_size=4)
    # Equal up to the GEMMs' rounding, which depends on the number of rows.
    torch.testing.assert_close(parts[0], whole[0], rtol=1e-12, atol=1e-14)
    assert torch.equal(whole[1], parts[1])
    torch.testing.assert_close(coordinates.coord_gradients(coords, encode, net, chunk_size=5),
                               coordinates.coord_gradients(coords, encode, net))
    with pytest.raises(ValueError, match="chunk_size: expected a positive number of points"):
        coordinates.coord_gradients(coords, encode, net, chunk_size=0)


def test_a_plain_network_from_lists_works():
    encode = random_fourier(2, 3, torch.float64, seed=0)
    net = random_network(6, **dict(NERF_LIKE, hidden=[7, 5], slopes=[0.0, 0.0], bias=[True] * 3,
                                   skips=set(), residual=set(), out_dim=1), dtype=torch.float64)
    coords = torch.rand(10, 2, dtype=torch.float64)
    by_net = coordinates.coord_gradients(coords, encode, net)
    by_lists = coordinates.coord_gradients(coords, encode,
                                           ReluNetwork.of(list(net.weights), list(net.biases)))
    assert torch.equal(by_net, by_lists)


@pytest.mark.parametrize("fn", [coordinates.boundary_distance, coordinates.coord_gradients])
def test_refused_encodings(fn):
    net = random_network(2, **NERF_LIKE, dtype=torch.float64, seed=0)
    coords = torch.rand(6, 2, dtype=torch.float64)
    cases = [
        (lambda c: c.sum(), ValueError, r"encoding: expected <lambda> to map coords \[N, D\]"),
        (lambda c: c[:, :, None], ValueError, r"to features \[N, E\] \(one row per point\)"),
        (lambda c: c.tolist(), TypeError, "encoding: expected <lambda> to return a tensor"),
        (lambda c: (c > 0.5).long(), ValueError, "expected <lambda> to return floating features"),
        (lambda c: c.float(), ValueError, "of the coordinates' dtype and device"),
        (lambda c: torch.from_numpy(np.sin(c.numpy())), ValueError,
         "encoding: could not differentiate <lambda> w.r.t. the coordinates"),
        (lambda c: torch.sin(c.detach()), ValueError,
         "the Jacobian of <lambda> w.r.t. the coordinates is zero at every point"),
        ("pe", TypeError, "encoding: expected an object with affine_sine"),
    ]
    for encode, error, message in cases:
        with pytest.raises(error, match=message):
            fn(coords, encode, net)


def test_empty_coordinates_with_a_custom_encoding():
    encode = GridEmbedding(2, 3, torch.float64, seed=0)
    net = random_network(3, **NERF_LIKE, dtype=torch.float64, seed=0)
    empty = torch.zeros(0, 2, dtype=torch.float64)
    dist, arg = coordinates.boundary_distance(empty, encode, net)
    assert dist.shape == (0,) and arg.shape == (0,)
    assert coordinates.coord_gradients(empty, encode, net).shape == (0, 2, 2)
