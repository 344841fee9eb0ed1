"""ops.coordinates.boundary_distance / coord_gradients with a user's encoding MODULE compile
whole (torch.compile(fullgraph=True)) and give the eager results; the encoding's Jacobian
(batched forward mode) equals torch.func's per-point jacfwd."""
import math

import pytest
import torch
import torch._dynamo
from torch import nn
from torch.func import jacfwd, vmap

from specbias_ext import ReluNetwork
from specbias_ext.nets.encoding_forms import encode_with_jacobian
from specbias_ext.ops import coordinates


class GaussianFourier(nn.Module):
    """[sin(2 pi c B^T), cos(2 pi c B^T)] with B a buffer of the module."""

    def __init__(self, dims=2, features=8, scale=3.0):
        super().__init__()
        self.register_buffer("B", torch.randn(features, dims,
                                              generator=torch.Generator().manual_seed(4)) * scale)

    def forward(self, c):
        u = 2 * math.pi * c @ self.B.T
        return torch.cat([torch.sin(u), torch.cos(u)], -1)


class LearnedTanh(nn.Module):
    """A learned embedding with parameters that train: tanh(Linear(c)) concatenated with c."""

    def __init__(self, dims=2, features=6):
        super().__init__()
        torch.manual_seed(5)
        self.linear = nn.Linear(dims, features)

    def forward(self, c):
        return torch.cat([c, torch.tanh(self.linear(c))], -1)


def _net(in_dim, seed=0):
    gen = torch.Generator().manual_seed(seed)
    widths = [in_dim, 16, 12, 1]
    return ReluNetwork.of(
        [torch.randn(o, i, generator=gen) / math.sqrt(i) for i, o in zip(widths, widths[1:])],
        [torch.randn(o, generator=gen) * 0.1 for o in widths[1:]])


@pytest.fixture
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.slow
@pytest.mark.parametrize("encoding,backend", [(GaussianFourier(), "inductor"),
                                              (LearnedTanh(), "aot_eager")],
                         ids=["fourier-buffer", "learned-parameters"])
def test_boundary_distance_and_coord_gradients_compile_fullgraph(encoding, backend,
                                                                 fresh_dynamo):
    coords = torch.rand(60, 2, generator=torch.Generator().manual_seed(1))
    net = _net(encoding(coords[:1]).shape[1])

    def both(c):
        dist, arg = coordinates.boundary_distance(c, encoding, net, chunk_size=25)
        return dist, arg, coordinates.coord_gradients(c, encoding, net, chunk_size=25)

    eager = both(coords)
    compiled = torch.compile(both, fullgraph=True, backend=backend)(coords)
    # inductor fuses and reorders float32 sums: agreement to rounding, not bit for bit
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-4, atol=1e-5)
    assert torch.equal(compiled[1], eager[1])
    torch.testing.assert_close(compiled[2], eager[2], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_batched_forward_mode_jacobian_equals_per_point_jacfwd(dims):
    torch.manual_seed(dims)
    encoding = nn.Sequential(nn.Linear(dims, 5), nn.Tanh()).double()
    coords = torch.rand(17, dims, dtype=torch.float64)
    x, jac = encode_with_jacobian(encoding, coords)
    with torch.no_grad():
        expected = vmap(jacfwd(lambda c: encoding(c[None])[0]))(coords)
        torch.testing.assert_close(x, encoding(coords))
    torch.testing.assert_close(jac, expected)
    assert jac.shape == (17, 5, dims) and not jac.requires_grad
