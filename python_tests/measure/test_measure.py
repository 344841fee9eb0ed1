"""The measurement layer against plain-torch definitions, and its documented conventions."""
import math

import numpy as np
import pytest
import torch

import specbias_ext
from specbias_ext import measure
from specbias_ext.reference import network as ref_net
from specbias_ext.nets.models import linear_init
from specbias_ext.nets.network import ReluNetwork
from specbias_ext.reference import unpack_bits
from specbias_ext.data.samplers import PairSampling

pytestmark = pytest.mark.usefixtures("one_thread")


def case(n=50, in_dim=3, widths=(12, 9), out=2, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    dims = [in_dim, *widths, out]
    ws, bs = zip(*(linear_init(dims[l + 1], dims[l], gen, dtype) for l in range(len(dims) - 1)))
    net = ReluNetwork.of(list(ws), list(bs))
    x = torch.rand(n, in_dim, generator=gen, dtype=dtype) * 2 - 1
    y = torch.rand(n, out, generator=gen, dtype=dtype)
    return x, net, y


def test_regions_hamming_neurons_match_the_bits():
    x, net, _ = case()
    p = measure.patterns(x, net)
    bits = unpack_bits(p, 21)
    st = measure.region_stats(p, (50,))
    assert st.count == torch.unique(bits, dim=0).shape[0] == measure.region_count(p)
    assert int(st.counts.sum()) == 50 and st.largest_frac == float(st.counts.max()) / 50
    changes = (bits[1:] != bits[:-1]).any(1).double().mean()
    assert st.neighbor_boundary_frac == pytest.approx(float(changes))
    i, j = torch.tensor([0, 5, 7]), torch.tensor([1, 30, 7])
    per_layer = measure.pair_hamming(p, i, j, net)
    want = torch.stack([(bits[i][:, :12] != bits[j][:, :12]).sum(1),
                        (bits[i][:, 12:] != bits[j][:, 12:]).sum(1)], 1)
    assert torch.equal(per_layer, want)
    assert torch.equal(measure.pair_hamming(p, i, j), want.sum(1))
    torch.testing.assert_close(measure.mean_pair_hamming(p, i, j, net), want.double().mean(0))
    act = measure.neuron_activity(p, net)
    on = bits.sum(0)
    assert act.dead_per_layer == [int((on[:12] == 0).sum()), int((on[12:] == 0).sum())]
    assert act.always_on == int((on == 50).sum())


def test_confusion_and_its_conventions():
    x, net, y = case()
    go = measure.mse_grad_out(ref_net.forward(net, x), y)
    g = ref_net.flat_per_example_grads(net, x, go)
    i, j = torch.arange(0, 20), torch.arange(20, 40)
    want = (g[i] * g[j]).sum(1) / (g[i].norm(dim=1) * g[j].norm(dim=1))
    got = measure.confusion_pairs(x, net, go, i, j)
    torch.testing.assert_close(got, want)
    norms = measure.grad_norms(x, net, go)
    torch.testing.assert_close(measure.confusion_pairs(x, net, go, i, j, norms=norms), got)
    torch.testing.assert_close(specbias_ext.confusion_pairs(x, net, go, i, j), got)
    dots, pair_norms = measure.pair_dots_and_norms(x, net, go, i, j)
    torch.testing.assert_close(measure.cosine(dots, pair_norms[i], pair_norms[j]), want)
    assert bool((pair_norms[40:] == 0).all())                    # untouched points
    go0 = go.clone()
    go0[3] = 0                                                    # a zero gradient: c = 0
    c = measure.confusion_pairs(x, net, go0, torch.tensor([3, 0]), torch.tensor([1, 3]))
    assert torch.equal(c, torch.zeros(2, dtype=c.dtype))
    # parallel gradients (the same point twice) round to 1 at most; never above
    same = measure.confusion_pairs(x, net, go, torch.tensor([4] * 5), torch.tensor([4] * 5))
    assert bool((same <= 1).all()) and bool((same > 1 - 1e-12).all())
    assert torch.equal(measure.cosine(torch.tensor([2.0, -3.0, 1.0]), torch.tensor([1.0, 1.0, 0.0]),
                                      torch.tensor([1.0, 1.0, 5.0])), torch.tensor([1.0, -1.0, 0.0]))
    block = measure.confusion_block(x, net, go, i, j)
    torch.testing.assert_close(block.diagonal(), want)


def test_coherence_and_its_conventions():
    x, net, y = case(n=30)
    go = measure.mse_grad_out(ref_net.forward(net, x), y)
    g = ref_net.flat_per_example_grads(net, x, go)
    ids = torch.arange(30) % 4
    rg = measure.region_grads(x, net, go, ids, 6)                # regions 4, 5 are empty: 0/0
    for r in range(4):
        members = g[ids == r]
        assert float(rg.coherence[r]) == pytest.approx(
            float(members.sum(0).norm() / members.norm(dim=1).sum()), rel=1e-9)
    assert torch.equal(rg.coherence[4:], torch.zeros(2, dtype=rg.coherence.dtype))
    assert torch.equal(measure.coherence(torch.tensor([1.0 + 1e-7, 0.0]), torch.tensor([1.0, 0.0])),
                       torch.tensor([1.0, 0.0]))
    counts = torch.bincount(ids, minlength=6)
    st = measure.coherence_stats(rg, counts, bins=5)
    weighted = float((rg.coherence[:4] * counts[:4]).sum() / counts[:4].sum())
    assert sum(st.hist) == 4 and st.weighted == pytest.approx(weighted)


def test_grad_norm_stats_loss_and_psnr():
    x, net, y = case()
    go = measure.mse_grad_out(ref_net.forward(net, x), y)
    sq = measure.layer_sq_norms(x, net, go)
    g = ref_net.flat_per_example_grads(net, x, go)
    st = measure.grad_norm_stats(sq)
    assert st.norm["mean"] == pytest.approx(float(g.norm(dim=1).mean()))
    assert sum(st.layer_share) == pytest.approx(1.0)
    assert measure.grad_norm_stats(torch.zeros(4, 3)).layer_share == [None] * 3
    assert measure.psnr(0.01, 1.0) == pytest.approx(20.0) and measure.psnr(0.0, 1.0) is None
    assert measure.mse(torch.ones(3, 1), torch.zeros(3, 1)) == 1.0
    torch.testing.assert_close(measure.mse_grad_out(torch.tensor([[1.0, 2.0]]),
                                                    torch.tensor([[0.0, 2.0]])),
                               torch.tensor([[1.0, 0.0]]))


def test_summary_and_histograms():
    s = measure.summary(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert s["mean"] == 2.5 and s["min"] == 1.0 and s["max"] == 4.0
    assert s["std"] == pytest.approx(math.sqrt(1.25))
    assert measure.summary(torch.tensor([]))["mean"] is None
    assert measure.histogram(torch.tensor([-2.0, 0.1, 0.9, 5.0]), 2, 0.0, 1.0) == [2, 2]
    assert measure.log2_size_histogram(torch.tensor([1, 2, 3, 4, 9])) == [1, 2, 1, 1]


def test_norms_and_cosines_of_the_weights():
    w = [torch.diag(torch.tensor([3.0, 1.0])), torch.eye(2)]
    torch.testing.assert_close(measure.layer_spectral_norms(w), torch.tensor([3.0, 1.0]))
    cos = measure.hyperplane_cosines(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
    torch.testing.assert_close(cos, torch.tensor([1 / math.sqrt(2), 0.0, 0.0]))


def test_pair_sampling_is_the_one_settings_type():
    s = PairSampling(num_windows=2, window=6, pairs_per_window=5, global_pairs=7)
    pairs = s.sample((40,), seed=3)
    assert pairs["local"][0].numel() == 10 and pairs["global"][0].numel() == 7
    again = s.sample((40,), seed=3)
    assert all(torch.equal(pairs[k][0], again[k][0]) for k in pairs)
    small = PairSampling().fitted((16,))
    assert small.window == 4 and small.pairs_per_window == 6
    small.sample((16,))
    assert PairSampling().fitted((2048,)) == PairSampling()
    assert PairSampling().describe(2)["global"] == {"num_pairs": 5000, "frac": 0.25}
    with pytest.raises(ValueError, match="grid_shape"):
        s.sample((4, 4, 4))
    np.testing.assert_array_equal(PairSampling().fitted((8, 8)).sample((8, 8))["local"][0] < 64,
                                  True)


def test_network_forward_equals_the_reference_forward():
    x, net, _ = case()
    torch.testing.assert_close(measure.network_forward(net, x), ref_net.forward(net, x))
    leaky = ReluNetwork.of(list(net.weights), list(net.biases), slopes=[0.1, 0.0],
                           residual=[False, False])
    torch.testing.assert_close(measure.network_forward(leaky, x), ref_net.forward(leaky, x))
    gen = torch.Generator().manual_seed(1)
    ws = [torch.randn(6, 3, generator=gen, dtype=torch.float64),
          torch.randn(6, 9, generator=gen, dtype=torch.float64),
          torch.randn(2, 6, generator=gen, dtype=torch.float64)]
    skip = ReluNetwork.of(ws, [None, torch.zeros(6, dtype=torch.float64), None],
                          input_skips=[False, True, False], residual=[False, False])
    torch.testing.assert_close(measure.network_forward(skip, x), ref_net.forward(skip, x))


def test_summary_quantiles_equal_torch_quantile():
    gen = torch.Generator().manual_seed(0)
    for n in (1, 2, 7, 100):
        v = torch.randn(n, generator=gen, dtype=torch.float64)
        s = measure.summary(v)
        q = torch.quantile(v, torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64))
        assert [s["q05"], s["median"], s["q95"]] == pytest.approx(q.tolist(), rel=1e-12, abs=1e-15)
