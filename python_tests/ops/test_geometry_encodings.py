"""The geometry functions with the project's real encoding classes (specbias_ext.nets.encodings):
derivatives are checked against autograd through the encoding's own forward()."""
import pytest
import torch
from torch.func import jacrev, vmap

from specbias_ext.testing import random_mlp
from specbias_ext import ReluNetwork
from specbias_ext.ops import coordinates
from specbias_ext.nets.encodings import FourierFeatures, PositionalEncoding, RawEncoding


def _encodings(dims):
    return [RawEncoding(dims), PositionalEncoding(dims, 4), FourierFeatures(dims, 6, 3.0, seed=1)]


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_real_encodings(dims, dtype):
    coords = torch.rand(300, dims, dtype=dtype, generator=torch.Generator().manual_seed(0))
    for enc in _encodings(dims):
        width = enc(coords[:1]).shape[1]
        w, b = random_mlp(width, [33, 20], 2, dtype=dtype, seed=dims)

        def f(c):
            a = enc(c[None])
            for wl, bl in zip(w[:-1], b[:-1]):
                a = torch.relu(a @ wl.T + bl)
            return (a @ w[-1].T + b[-1])[0]

        def hidden(c):
            a, zs = enc(c[None]), []
            for wl, bl in zip(w[:-1], b[:-1]):
                zs.append(a @ wl.T + bl)
                a = torch.relu(zs[-1])
            return torch.cat(zs, 1)[0]

        tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else {}
        grads = coordinates.coord_gradients(coords, enc, ReluNetwork.of(w, b))
        torch.testing.assert_close(grads, vmap(jacrev(f))(coords), **tol)
        dist, arg = coordinates.boundary_distance(coords, enc, ReluNetwork.of(w, b))
        z = vmap(hidden)(coords)
        jz = vmap(jacrev(hidden))(coords)  # [N, H, D]
        per_neuron = z.abs() / jz.norm(dim=2)
        expected = per_neuron.min(dim=1).values
        torch.testing.assert_close(dist, expected, **(tol or dict(rtol=1e-9, atol=1e-12)))
