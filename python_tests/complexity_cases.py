"""Shared pieces of the local-complexity tests: random cases (network kind, encoding, hull) and
the float32 comparison, which allows a count to differ only by neurons that are numerically on
their boundary at some vertex."""
from __future__ import annotations

import torch
from hypothesis import strategies as st

from specbias_ext import reference
from specbias_ext.testing import make_form, random_network
from specbias_ext.testing.strategies import network_kinds
from specbias_ext.ops.hull import hull_directions, hull_vertices

# |z| below this fraction of the layer's largest |z| (plus 1) counts as "on the boundary" when
# float32 results are compared with float64 ones.
BOUNDARY_TOL = {torch.float32: 1e-4, torch.float64: 1e-9}


@st.composite
def sampled_cases(draw, max_n=300):
    dims = draw(st.sampled_from([1, 2, 3]))
    return dict(kind=draw(network_kinds()), dims=dims,
                encoding=draw(st.sampled_from(["raw", "pe", "rff"])),
                dtype=draw(st.sampled_from([torch.float32, torch.float64])),
                n=draw(st.sampled_from([0, 1, 2, 41, max_n])),
                num_directions=draw(st.integers(1, dims)),
                radius=draw(st.sampled_from([0.0, 0.004, 0.05, 0.3])),
                include_centre=draw(st.booleans()),
                seed=draw(st.integers(0, 2**20)))


def setup(case, device="cpu"):
    """(coords, form, net, directions) of a drawn case."""
    dtype = case["dtype"]
    form = tuple(t.to(device) for t in make_form(case["encoding"], case["dims"], dtype,
                                                 case["seed"]))
    net = random_network(form[0].shape[0], **case["kind"], dtype=dtype, seed=case["seed"],
                         device=device)
    coords = torch.rand(case["n"], case["dims"], dtype=dtype,
                        generator=torch.Generator().manual_seed(case["seed"] + 1)).to(device)
    directions = hull_directions(case["dims"], case["num_directions"], seed=case["seed"],
                                 dtype=dtype, device=device)
    return coords, form, net, directions


def encoded_vertices(corners, form):
    """``[N, V, E]``: the corners ``[N, V, D]`` through the affine-sine form (reference)."""
    n, v, d = corners.shape
    x = reference.encode_affine_sine(corners.reshape(n * v, d), *form)
    return x.reshape(n, v, x.shape[1])


def vertex_preactivations(corners, form, net):
    """Per hidden layer ``[N, V, W]`` float64 pre-activations at the (float64) corners."""
    n, v, d = corners.shape
    form64 = [t.to(torch.float64) if t.is_floating_point() else t for t in form]
    x = reference.encode_affine_sine(corners.reshape(n * v, d).to(torch.float64), *form64)
    zs = reference.hidden_preactivations(x, net.to(dtype=torch.float64))
    return [z.reshape(n, v, z.shape[1]) for z in zs]


def check_counts_near(counts, corners, form, net, dtype):
    """Every layer's count within the number of neurons that sit numerically on their boundary
    at some vertex of the float64 pre-activations; exact where there are none."""
    assert counts.dtype == torch.int32 and counts.shape == (corners.shape[0], net.depth)
    for l, z in enumerate(vertex_preactivations(corners, form, net)):
        bits = z > 0
        expect = (bits != bits[:, :1]).any(dim=1).sum(dim=1)
        scale = z.abs().amax() if z.numel() else torch.tensor(0.0, dtype=z.dtype)
        on_boundary = (z.abs() <= BOUNDARY_TOL[dtype] * (1 + scale)).any(dim=1).sum(dim=1)
        diff = (counts[:, l].cpu().to(torch.int64) - expect.cpu()).abs()
        assert bool((diff <= on_boundary.cpu()).all()), (l, diff.max(), on_boundary.max())


def check_sampled(counts, coords, form, net, directions, radius, include_centre):
    """Against the plain-torch reference: equal in float64; in float32 within the neurons on
    their boundary (float64 pre-activations at the same float32 vertices)."""
    dtype = coords.dtype
    corners = hull_vertices(coords, directions, radius, include_centre)
    if dtype == torch.float64:
        ref = reference.local_complexity(coords, *form, directions, radius, include_centre, net)
        assert torch.equal(counts.cpu(), ref.cpu())
    check_counts_near(counts, corners, form, net, dtype)
