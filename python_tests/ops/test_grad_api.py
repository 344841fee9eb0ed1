"""Gradient helpers, bad-input errors, opcheck, and CUDA-vs-CPU agreement of the gradient ops."""
import pytest
import torch

import specbias_ext as se
from specbias_ext import reference as ref
from conftest import requires_cuda
from specbias_ext.testing import random_mlp
from specbias_ext import ReluNetwork

ops = torch.ops.specbias


def _case(n=30, out_dim=1, dtype=torch.float64, seed=0, device="cpu"):
    net = ReluNetwork.of(*random_mlp(3, [20, 9], out_dim=out_dim, dtype=dtype, seed=seed,
                                     device=device))
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, generator=gen, dtype=torch.float64).to(dtype).to(device)
    go = torch.randn(n, out_dim, generator=gen, dtype=torch.float64).to(dtype).to(device)
    return x, net, go


# ----------------------------------------------------------------------------- helpers


def test_confusion_pairs_and_block_are_cosines():
    x, net, go = _case(40, out_dim=2)
    g = ref.flat_per_example_grads(x, net, go)
    cos = (g @ g.T) / (g.norm(dim=1)[:, None] * g.norm(dim=1)[None, :])
    i, j = torch.tensor([0, 3, 5, 5]), torch.tensor([1, 3, 39, 2])
    torch.testing.assert_close(se.confusion_pairs(x, net, go, i, j), cos[i, j])
    torch.testing.assert_close(se.confusion_block(x, net, go), cos)
    torch.testing.assert_close(se.confusion_block(x, net, go, i, j), cos[i][:, j])
    torch.testing.assert_close(se.confusion_block(x, net, go, None, j), cos[:, j])
    assert se.confusion_pairs(x, net, go, i[:0], j[:0]).shape == (0,)


def test_confusion_is_zero_for_a_zero_gradient():
    x, net, go = _case(10)
    go[3] = 0
    c = se.confusion_pairs(x, net, go, torch.tensor([3, 0]), torch.tensor([1, 3]))
    assert torch.equal(c, torch.zeros(2, dtype=c.dtype))
    assert torch.all(se.confusion_block(x, net, go)[3] == 0)


def test_region_coherence():
    x, net, go = _case(50)
    ids = torch.randint(0, 4, (50,), generator=torch.Generator().manual_seed(1))
    coh = se.region_coherence(x, net, go, ids, 6)
    nos, son = ref.region_grad_norms(x, net, go, ids, 6)
    torch.testing.assert_close(coh[:4], nos[:4] / son[:4])
    assert torch.all(coh[4:] == 0)  # empty regions: 0/0 reported as 0
    assert torch.all((coh >= 0) & (coh <= 1))
    same = torch.zeros(50, dtype=torch.long)
    x1 = x[:1].repeat(50, 1)  # identical points: parallel gradients, coherence 1
    torch.testing.assert_close(se.region_coherence(x1, net, go[:1].repeat(50, 1), same, 1),
                               torch.ones(1, dtype=x.dtype))


def test_empirical_ntk_matches_output_gradients():
    x, net, _ = _case(12)
    g = ref.flat_per_example_grads(x, net, torch.ones(12, 1, dtype=x.dtype))
    torch.testing.assert_close(se.empirical_ntk(x, net), g @ g.T)
    rows = torch.tensor([1, 2])
    torch.testing.assert_close(se.empirical_ntk(x, net, rows=rows), g[rows] @ g.T)
    x, net, _ = _case(5, out_dim=2)
    with pytest.raises(ValueError, match=r"net: empirical_ntk needs a scalar head.*got 2 outputs"):
        se.empirical_ntk(x, net)


def test_mse_grad_out():
    pred = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    target = torch.tensor([[0.0, 2.0], [1.0, 1.0]])
    torch.testing.assert_close(se.mse_grad_out(pred, target), torch.tensor([[1.0, 0.0],
                                                                            [-1.0, -2.0]]))
    p = pred.clone().requires_grad_()
    loss = ((p - target) ** 2).mean(dim=1).sum()
    torch.testing.assert_close(se.mse_grad_out(pred, target),
                               torch.autograd.grad(loss, p)[0])
    assert se.mse_grad_out(pred[:, 0], target[:, 0]).shape == (2, 1)
    with pytest.raises(ValueError, match="target: expected the shape of pred"):
        se.mse_grad_out(pred, target[:, :1])


# ----------------------------------------------------------------------------- bad input


def test_grad_out_errors():
    x, net, go = _case(8, out_dim=2)
    with pytest.raises(RuntimeError, match=r"grad_out: expected shape \[N, out\] = \[8, 2\]"):
        se.per_example_grad_norms(x, net, go[:, :1])
    with pytest.raises(RuntimeError, match=r"grad_out: expected shape \[N, out\] = \[8, 2\]"):
        se.grad_gram(x, net, go[:7])
    with pytest.raises(RuntimeError, match="grad_out: expected a 2-D tensor"):
        se.grad_dots(x, net, go[:, 0], torch.tensor([0]), torch.tensor([1]))
    with pytest.raises(RuntimeError, match="grad_out: expected dtype Double"):
        se.per_example_grad_norms(x, net, go.float())
    bad = go.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(RuntimeError, match="grad_out: expected finite values"):
        se.region_grad_norms(x, net, bad, torch.zeros(8, dtype=torch.long), 1)


def test_coordinate_and_network_errors_reach_the_gradient_ops():
    x, net, go = _case(8)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(RuntimeError, match="x: expected finite coordinates"):
        se.per_example_grad_norms(bad, net, go)
    w, b = list(net.weights), list(net.biases)
    with pytest.raises(RuntimeError, match=r"weights\[1\]: expected dtype Double"):
        ops.grad_gram(x, [w[0], w[1].float(), w[2]], b, go)


def test_index_errors():
    x, net, go = _case(8)
    with pytest.raises(RuntimeError, match=r"i: expected indices in \[0, 8\)"):
        se.grad_dots(x, net, go, torch.tensor([8]), torch.tensor([0]))
    with pytest.raises(RuntimeError, match="j: expected int64 indices, got Int"):
        se.grad_dots(x, net, go, torch.tensor([1]), torch.tensor([0], dtype=torch.int32))
    with pytest.raises(RuntimeError, match=r"j: expected as many indices as i \(2\), got 1"):
        se.grad_dots(x, net, go, torch.tensor([1, 2]), torch.tensor([0]))
    with pytest.raises(RuntimeError, match=r"cols: expected indices in \[0, 8\)"):
        se.grad_gram(x, net, go, torch.tensor([1]), torch.tensor([-1]))
    with pytest.raises(RuntimeError, match="rows: expected int64 indices, got Float"):
        se.grad_gram(x, net, go, torch.tensor([1.0]))


def test_region_id_errors():
    x, net, go = _case(8)
    ids = torch.tensor([0, 1, 2, 2, 1, 0, 0, 3])
    with pytest.raises(RuntimeError, match=r"num_regions: expected more than the largest id "
                                           r"\(3\), i.e. num_regions >= 4, got 3"):
        se.region_grad_norms(x, net, go, ids, 3)
    with pytest.raises(RuntimeError, match=r"ids: expected one id per point of x \(8\), got 7"):
        se.region_grad_norms(x, net, go, ids[:7], 4)
    with pytest.raises(RuntimeError, match="ids: expected region ids >= 0, got -1"):
        se.region_grad_norms(x, net, go, ids - 1, 4)
    with pytest.raises(RuntimeError, match="ids: expected int64 region ids"):
        se.region_grad_norms(x, net, go, ids.int(), 4)
    with pytest.raises(RuntimeError, match="num_regions: expected a count >= 0, got -1"):
        se.region_grad_norms(x[:0], net, go[:0], ids[:0], -1)


@requires_cuda
def test_device_mismatch_errors():
    x, net, go = _case(8)
    with pytest.raises(RuntimeError, match="grad_out: expected device"):
        se.per_example_grad_norms(x.cuda(), net.to("cuda"), go)
    with pytest.raises(RuntimeError, match="ids: expected device"):
        se.region_grad_norms(x.cuda(), net.to("cuda"), go.cuda(),
                             torch.zeros(8, dtype=torch.long), 1)


# ----------------------------------------------------------------------------- opcheck


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_opcheck(dtype):
    x, net, go = _case(6, out_dim=2, dtype=dtype)
    w, b = list(net.weights), list(net.biases)
    i, j = torch.tensor([0, 5, 2]), torch.tensor([1, 5, 4])
    ids = torch.tensor([0, 1, 1, 0, 3, 1])
    torch.library.opcheck(ops.per_example_grad_norms.default, (x, w, b, go))
    torch.library.opcheck(ops.grad_dots.default, (x, w, b, go, i, j))
    torch.library.opcheck(ops.grad_gram.default, (x, w, b, go))
    torch.library.opcheck(ops.grad_gram.default, (x, w, b, go, i, j))
    torch.library.opcheck(ops.region_grad_norms.default, (x, w, b, go, ids, 5))


# ----------------------------------------------------------------------------- CUDA vs CPU


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [0, 1, 777, 5000])
def test_cuda_matches_cpu(dtype, n):
    net = ReluNetwork.of(*random_mlp(5, [70, 129, 33], out_dim=2, dtype=dtype, seed=3,
                                     dead_fraction=0.2))
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 5, generator=gen, dtype=torch.float64).to(dtype)
    go = torch.randn(n, 2, generator=gen, dtype=torch.float64).to(dtype)
    i = torch.randint(0, max(n, 1), (min(n, 300),), generator=gen)
    j = torch.randint(0, max(n, 1), (min(n, 300),), generator=gen)
    ids = torch.randint(0, 7, (n,), generator=gen)
    ids[: n // 2] = 7  # one region larger than a work item
    args, cargs = (x, net, go), (x.cuda(), net.to("cuda"), go.cuda())
    tol = dict(rtol=2e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-11)

    def close(a, b):
        torch.testing.assert_close(a.cpu(), b, **tol)

    close(se.per_example_grad_norms(*cargs), se.per_example_grad_norms(*args))
    close(se.grad_dots(*cargs, i.cuda(), j.cuda()), se.grad_dots(*args, i, j))
    m = min(n, 1500)
    sub = (x[:m], net, go[:m])
    csub = (x[:m].cuda(), net.to("cuda"), go[:m].cuda())
    close(se.grad_gram(*csub), se.grad_gram(*sub))
    r, c = i % max(m, 1), j.flip(0) % max(m, 1)
    close(se.grad_gram(*csub, r.cuda(), c.cuda()), se.grad_gram(*sub, r, c))
    for got, want in zip(se.region_grad_norms(*cargs, ids.cuda(), 9),
                         se.region_grad_norms(*args, ids, 9)):
        close(got, want)
