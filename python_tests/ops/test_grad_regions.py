"""region_grad_norms against explicit sums of materialised per-example gradients."""
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import specbias_ext as se
from specbias_ext import ReluNetwork
from specbias_ext import reference as ref
from grad_helpers import as_double, assert_close_scaled, kink_free, make_case
from specbias_ext.testing import random_mlp
from specbias_ext.testing.strategies import mlp_configs


def pairwise_cutoff(out, inp):
    """Mirror of csrc/common/region_groups.h: regions up to this size use the pairwise sums."""
    return max(1, (2 * out * (inp + 1)) // (out + inp + 1) // 4)


def _check(x, net, go, ids, num_regions, dtype=torch.float64):
    nos, son = se.region_grad_norms(x, net, go, ids, num_regions)
    assert nos.shape == son.shape == (num_regions,) and nos.dtype == x.dtype
    want_nos, want_son = ref.region_grad_norms(*as_double(x, net, go), ids,
                                               num_regions)
    ok = torch.ones(num_regions, dtype=torch.bool)
    if dtype == torch.float32:  # compare regions without a member at a ReLU kink
        bad = ~kink_free(x, net)
        ok[ids[bad]] = False
    assert_close_scaled(son[ok], want_son[ok], want_son[ok], dtype, "sum_of_norms")
    assert_close_scaled(nos[ok], want_nos[ok], want_son[ok], dtype, "norm_of_sum")
    assert torch.all(nos <= son * (1 + 1e-6) + 1e-12)
    return nos, son


@settings(max_examples=30, deadline=None)
@given(mlp_configs(max_depth=4, max_width=120, max_in=20, max_out=3, max_n=60),
       st.integers(1, 20), st.integers(0, 2**31 - 1))
def test_random_assignments(cfg, num_regions, seed):
    x, net, go = make_case(cfg)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, num_regions, (x.shape[0],), generator=gen)
    nos, son = _check(x, net, go, ids, num_regions + 2, cfg["dtype"])
    assert torch.all(nos[num_regions:] == 0) and torch.all(son[num_regions:] == 0)


def _net_and_points(n, seed=0, hidden=(64, 64), in_dim=3, out_dim=2):
    net = ReluNetwork.of(*random_mlp(in_dim, list(hidden), out_dim=out_dim, seed=seed,
                                     dead_fraction=0.1))
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, in_dim, generator=gen, dtype=torch.float64)
    go = torch.randn(n, out_dim, generator=gen, dtype=torch.float64)
    return x, net, go


def test_one_region_holding_every_point_and_one_point_each():
    x, net, go = _net_and_points(300)
    nos, son = _check(x, net, go, torch.zeros(300, dtype=torch.long), 1)
    # One region: norm of the full-batch gradient.
    params = [p.clone().requires_grad_() for p in net.weights + net.biases]
    ws, bs = params[:3], params[3:]
    a = x
    for l in range(3):
        a = a @ ws[l].T + bs[l]
        a = torch.relu(a) if l < 2 else a
    full = torch.autograd.grad((a * go).sum(), params)
    torch.testing.assert_close(nos[0], torch.sqrt(sum((g * g).sum() for g in full)))
    # Every point its own region: both outputs are ||g_i||.
    nos, son = _check(x, net, go, torch.arange(300), 300)
    norms = se.per_example_grad_norms(x, net, go).sum(1).sqrt()
    torch.testing.assert_close(nos, norms)
    torch.testing.assert_close(son, norms)


def test_sizes_straddling_the_pairwise_threshold_and_the_item_cap():
    x0, net, _ = _net_and_points(1)
    cut = pairwise_cutoff(64, 64)
    assert cut > 2
    sizes = [cut - 1, cut, cut + 1, 1, 2, 2 * cut, 1023, 1024, 1025, 1100, 3]
    n = sum(sizes)
    x, _, go = _net_and_points(n, seed=1)
    ids = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    ids = ids[torch.randperm(n, generator=torch.Generator().manual_seed(2))]
    _check(x, net, go, ids, len(sizes))


def test_one_region_larger_than_a_work_item_float32():
    x, net, go = _net_and_points(2500, seed=4)
    ids = torch.zeros(2500, dtype=torch.long)
    ids[::7] = 1
    net32 = net.to(torch.float32)
    x32, go32 = x.float(), go.float()
    assert kink_free(x32, net32, rel=1e-6).all()
    _check(x32, net32, go32, ids, 2, torch.float32)


def test_empty_regions_and_no_points():
    x, net, go = _net_and_points(0)
    nos, son = se.region_grad_norms(x, net, go, torch.zeros(0, dtype=torch.long), 4)
    assert torch.all(nos == 0) and torch.all(son == 0) and nos.shape == (4,)
    x, net, go = _net_and_points(1)
    nos, son = _check(x, net, go, torch.tensor([2]), 3)
    assert nos[0] == 0 and nos[1] == 0 and nos[2] > 0


def test_regions_from_activation_patterns_are_deterministic():
    x, net, go = _net_and_points(2000, hidden=(16, 16), in_dim=2)
    ids, _ = se.region_ids(se.activation_patterns(x, net))
    first = se.region_grad_norms(x, net, go, ids, int(ids.max()) + 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        second = se.region_grad_norms(x, net, go, ids, int(ids.max()) + 1)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    _check(x, net, go, ids, int(ids.max()) + 1)

