"""coord_gradients against torch.func.jacrev, slope constancy per region, region_slope_stats."""
import pytest
import torch
from hypothesis import given, settings
from torch.func import jacrev, vmap

from conftest import requires_cuda
from specbias_ext.testing import make_form, pe_form, raw_form
from specbias_ext.testing.strategies import geometry_configs
from specbias_ext.testing import random_mlp
from specbias_ext import ReluNetwork, reference
from specbias_ext.measure import boundaries
from specbias_ext.ops import coordinates
from specbias_ext.ops import geometry as ops_geometry
from specbias_ext.reference import pattern_bits

TOL = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=1e-10, atol=1e-10)}


def _jacrev_grads(coords, form, net):
    """[N, out, D] by reverse mode, one point at a time (vmap), independent of the op's scheme."""
    w, b = net.weights, net.biases

    def f(c):
        a = reference.encode_affine_sine(c[None], *form)
        for wl, bl in zip(w[:-1], b[:-1]):
            a = torch.relu(a @ wl.T + bl)
        return (a @ w[-1].T + b[-1])[0]
    return vmap(jacrev(f))(coords)


@settings(max_examples=40, deadline=None)
@given(geometry_configs())
def test_matches_jacrev_and_jvp_reference(cfg):
    form = make_form(cfg["kind"], cfg["dims"], cfg["dtype"], cfg["seed"])
    net = ReluNetwork.of(*random_mlp(form[0].shape[0], cfg["hidden"], cfg["out_dim"],
                                     dtype=cfg["dtype"], seed=cfg["seed"],
                                     dead_fraction=cfg["dead_fraction"]))
    coords = torch.rand(cfg["n"], cfg["dims"], dtype=cfg["dtype"],
                        generator=torch.Generator().manual_seed(cfg["seed"]))
    grads = ops_geometry.coord_gradients(coords, *form, net)
    assert grads.shape == (cfg["n"], cfg["out_dim"], cfg["dims"]) and grads.dtype == cfg["dtype"]
    if cfg["n"] == 0:
        return
    torch.testing.assert_close(grads, _jacrev_grads(coords, form, net), **TOL[cfg["dtype"]])
    torch.testing.assert_close(grads, reference.coord_gradients(coords, *form, net),
                               **TOL[cfg["dtype"]])


def _region_spread(coords, form, net):
    """Largest within-region spread of the coordinate gradient, over regions with >= 2 points."""
    grads = coordinates.coord_gradients(coords, form, net).flatten(1)
    bits = pattern_bits(reference.encode_affine_sine(coords, *form), net)
    _, ids = torch.unique(bits, dim=0, return_inverse=True)
    spread = torch.zeros(())
    multi = 0
    for r in ids.unique():
        g = grads[ids == r]
        if g.shape[0] >= 2:
            multi += 1
            rel = (g - g[0]).abs().max() / g[0].abs().max().clamp_min(1e-12)
            spread = torch.maximum(spread, rel)
    return spread, multi


def test_raw_slope_constant_inside_regions_pe_not():
    coords = torch.rand(3000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    net = ReluNetwork.of(*random_mlp(2, [16, 16], 1, seed=1))
    spread, multi = _region_spread(coords, raw_form(2), net)
    assert multi > 5 and spread < 1e-12
    form = pe_form(2, 2)
    net = ReluNetwork.of(*random_mlp(form[0].shape[0], [16, 16], 1, seed=1))
    spread, multi = _region_spread(coords, form, net)
    assert multi > 5 and spread > 1e-2


def test_region_slope_stats_against_loop():
    gen = torch.Generator().manual_seed(2)
    grads = torch.randn(200, 2, 3, generator=gen, dtype=torch.float64)
    ids = torch.randint(0, 7, (200,), generator=gen)
    ids[ids == 4] = 5  # region 4 has no points
    mean, peak = boundaries.region_slope_stats(grads, ids, 8)
    slopes = grads.flatten(1).norm(dim=1)
    for r in range(8):
        member = slopes[ids == r]
        exp_mean = member.mean() if member.numel() else torch.tensor(0.0, dtype=torch.float64)
        exp_max = member.max() if member.numel() else torch.tensor(0.0, dtype=torch.float64)
        torch.testing.assert_close(mean[r], exp_mean)
        torch.testing.assert_close(peak[r], exp_max)
    mean1, peak1 = boundaries.region_slope_stats(slopes, ids, 8)  # precomputed slopes [N]
    torch.testing.assert_close(mean1, mean)
    torch.testing.assert_close(peak1, peak)
    with pytest.raises(ValueError, match=r"ids: expected values in \[0, 3\)"):
        boundaries.region_slope_stats(grads, ids, 3)
    with pytest.raises(ValueError, match="ids: expected shape"):
        boundaries.region_slope_stats(grads, ids[:-1], 8)


def test_opcheck():
    form = pe_form(1, 3)
    w, b = random_mlp(6, [5, 3], 2, seed=0)
    coords = torch.rand(9, 1, dtype=torch.float64)
    torch.library.opcheck(torch.ops.specbias.coord_gradients.default, (coords, *form, w, b))


def test_encoding_object_with_affine_sine():
    class Form:
        def affine_sine(self, dtype=None, device=None):
            return tuple(t.to(device=device) if t.dtype == torch.bool
                         else t.to(dtype=dtype, device=device) for t in pe_form(2, 2))
    net = ReluNetwork.of(*random_mlp(8, [6], 1, seed=0, dtype=torch.float32))
    coords = torch.rand(10, 2)
    torch.testing.assert_close(coordinates.coord_gradients(coords, Form(), net),
                               ops_geometry.coord_gradients(coords, *pe_form(2, 2, torch.float32),
                                                            net))


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["raw", "pe", "rff"])
def test_cuda_matches_cpu(dtype, kind):
    form = make_form(kind, 2, dtype)
    net = ReluNetwork.of(*random_mlp(form[0].shape[0], [70, 64, 33], 3, dtype=dtype, seed=1,
                                     dead_fraction=0.3))
    coords = torch.rand(5000, 2, dtype=dtype)
    grads = ops_geometry.coord_gradients(coords, *form, net)
    cuda = lambda ts: [t.cuda() for t in ts]  # noqa: E731
    grads_c = ops_geometry.coord_gradients(coords.cuda(), *cuda(form), net.to("cuda"))
    torch.testing.assert_close(grads_c.cpu(), grads, **TOL[dtype])
