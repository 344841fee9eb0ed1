"""Region gradient norms of the streamed grid analysis: the closed form from a region's pattern
and its sum of grad_out x [x, 1], against the op on the region's points, and the streamed
result against the op on the whole grid, for any tile size."""
import pytest
import torch
from hypothesis import given, settings

from grid_cases import make_case, wavy_grad_out
from specbias_ext.testing import random_network
from specbias_ext.testing.strategies import network_configs
from specbias_ext import ops, relu_network
from specbias_ext.analysis import analyze_grid
from specbias_ext.analysis.region_grads import norm_from_stats, stats_width


def whole_region_stats(x, net, go, ids, num):
    xt = torch.cat([x.double(), torch.ones(x.shape[0], 1, dtype=torch.float64)], 1)
    per_point = (go.double().unsqueeze(2) * xt.unsqueeze(1)).flatten(1)
    return torch.zeros(num, per_point.shape[1], dtype=torch.float64).index_add_(0, ids, per_point)


def first_rows(ids, num):
    return torch.full((num,), ids.numel()).scatter_reduce(0, ids, torch.arange(ids.numel()),
                                                          "amin")


@settings(max_examples=40, deadline=None)
@given(network_configs(max_n=300))
def test_closed_form_equals_op_on_each_region(cfg):
    n = cfg.pop("n")
    net = random_network(**{**cfg, "dtype": torch.float64})
    gen = torch.Generator().manual_seed(cfg["seed"] % 1000)
    x = 0.5 * torch.randn(n, net.in_dim, generator=gen, dtype=torch.float64)
    go = torch.randn(n, net.out_dim, generator=gen, dtype=torch.float64)
    p = ops.activation_patterns(x, net)
    ids, counts = ops.region_ids(p)
    num = counts.numel()
    nos, _ = ops.region_grad_norms(x, net, go, ids, num)
    g = whole_region_stats(x, net, go, ids, num)
    assert g.shape[1] == stats_width(net)
    mine = norm_from_stats(net, p[first_rows(ids, num)], g)
    torch.testing.assert_close(mine, nos, rtol=1e-10, atol=1e-12)


def test_closed_form_all_dead_layer_gives_zero_below():
    net = random_network(3, [5, 4], skips=(), seed=1)
    net.biases[0].fill_(-100.0)  # layer 0 dead everywhere: only the head's bias moves
    x = torch.rand(50, 3, dtype=torch.float64)
    go = torch.ones(50, 1, dtype=torch.float64)
    p = ops.activation_patterns(x, net)
    ids, counts = ops.region_ids(p)
    assert counts.numel() == 1
    nos, _ = ops.region_grad_norms(x, net, go, ids, 1)
    mine = norm_from_stats(net, p[:1], whole_region_stats(x, net, go, ids, 1))
    torch.testing.assert_close(mine, nos, rtol=1e-12, atol=0)


def reference(name, dtype):
    """The whole grid at once through the ops, in ``dtype``."""
    grid, model, _ = make_case(name)
    model = model.to(dtype)
    coords = grid.coords(dtype=dtype)
    with torch.no_grad():
        x = model.encode(coords)
    net = relu_network(model)
    ids, counts = ops.region_ids(ops.activation_patterns(x, net))
    nos, son = ops.region_grad_norms(x, net, wavy_grad_out(coords), ids, counts.numel())
    return grid, model, counts, nos.double(), son.double()


@pytest.mark.parametrize("name", ["2d", "1d", "3d", "plane"])
@pytest.mark.parametrize("tile", [1, 37, 10**6])
def test_streamed_equals_whole_grid(name, tile):
    grid, model, counts, nos, son = reference(name, torch.float64)
    res = analyze_grid(model, grid, tile=tile, grad_out=wavy_grad_out, region_grads=True,
                       dtype=torch.float64)
    assert torch.equal(res.region_counts, counts)
    torch.testing.assert_close(res.region_grads.norm_of_sum, nos, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(res.region_grads.sum_of_norms, son, rtol=1e-10, atol=1e-12)
    coh = res.region_grads.coherence
    assert bool(((coh >= 0) & (coh <= 1)).all())
    rg = res.summary()["region_grads"]
    assert sum(rg["coherence_hist"]) == int(((res.region_counts > 1) &
                                             (res.region_grads.sum_of_norms > 0)).sum())


def test_streamed_float32_close_to_whole_grid():
    grid, model, counts, nos, son = reference("2d", torch.float32)
    res = analyze_grid(model, grid, tile=50, grad_out=wavy_grad_out, region_grads=True)
    torch.testing.assert_close(res.region_grads.norm_of_sum, nos, rtol=2e-5, atol=1e-6)
    torch.testing.assert_close(res.region_grads.sum_of_norms, son, rtol=2e-5, atol=1e-6)


def test_one_tile_takes_the_op_values_unchanged():
    grid, model, counts, nos, son = reference("2d", torch.float64)
    res = analyze_grid(model, grid, tile=10**6, grad_out=wavy_grad_out, region_grads=True,
                       dtype=torch.float64)
    assert torch.equal(res.region_grads.norm_of_sum, nos)
    assert torch.equal(res.region_grads.sum_of_norms, son)


def test_region_grads_need_grad_out():
    grid, model, _ = make_case("2d")
    with pytest.raises(ValueError, match="region_grads: .*grad_out"):
        analyze_grid(model, grid, region_grads=True)
