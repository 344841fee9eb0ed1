"""Benchmarks of the gradient ops against the strongest plain-torch, Opacus and torch.func routes.

Each test times our op with pytest-benchmark and the alternatives on the same inputs in the same
run; extra_info holds their times (s), ratio = alternative time / our time (> 1: we are faster),
peak memory (MiB, see peak_memory.py) and the sizes. Alternatives that materialise per-example
gradients run on a subset of the points (`*_subset_n`) and are extrapolated linearly in N (or in
the number of pairs); extra_info says so.

    PYTHONPATH=. python -m pytest bench/bench_grad_ops.py -q --benchmark-columns=min,mean,rounds
    ... --device cuda   (bigger sizes)
"""
from __future__ import annotations


import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

import specbias_ext as se
from peak_memory import peak_mib
from timing import best_time, run_ours


try:
    import opacus  # noqa: F401
    HAVE_OPACUS = True
except ImportError:
    HAVE_OPACUS = False






@pytest.fixture(autouse=True)
def _print_extra_info(request, benchmark):
    """Print each test's extra_info as it ends (visible with -s, kept if a later test hangs)."""
    yield
    print(f"\n{request.node.name} {dict(benchmark.extra_info)}", flush=True)




def make_mlp(in_dim, width, depth, device, seed=0):
    torch.manual_seed(seed)
    layers = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, 1))
    return nn.Sequential(*layers).to(device)


def mlp_inputs(n, in_dim, width, depth, device, seed=0):
    model = make_mlp(in_dim, width, depth, device, seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, in_dim, generator=gen).to(device)
    target = torch.rand(n, 1, generator=gen).to(device)
    with torch.no_grad():
        go = se.mse_grad_out(model(x), target)
    return model, x, go, se.relu_network(model).detach()


# ----------------------------------------------------------------------------- alternatives


def plain_torch_norms(x, weights, biases, go):
    """What a careful user writes: one batched forward, manual backward, the norm formula."""
    acts = [x]
    for w, b in zip(weights[:-1], biases[:-1]):
        acts.append(torch.relu(acts[-1] @ w.T + b))
    d, cols = go, []
    for l in range(len(weights) - 1, -1, -1):
        cols.append((d * d).sum(1) * ((acts[l] * acts[l]).sum(1) + 1))
        if l > 0:
            d = (d @ weights[l]) * (acts[l] > 0)
    return torch.stack(cols[::-1], dim=1)


def plain_torch_gram(x, weights, biases, go):
    """The Gram formula in plain torch: N x N temporaries per layer."""
    acts = [x]
    for w, b in zip(weights[:-1], biases[:-1]):
        acts.append(torch.relu(acts[-1] @ w.T + b))
    d = go
    gram = torch.zeros(x.shape[0], x.shape[0], dtype=x.dtype, device=x.device)
    for l in range(len(weights) - 1, -1, -1):
        gram += (d @ d.T) * (acts[l] @ acts[l].T + 1)
        if l > 0:
            d = (d @ weights[l]) * (acts[l] > 0)
    return gram


def vmap_grads(model, x, go):
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, xi, gi):
        return (functional_call(model, p, (xi.unsqueeze(0),)).squeeze(0) * gi).sum()

    g = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, go)
    return torch.cat([v.reshape(x.shape[0], -1) for v in g.values()], dim=1)


def vmap_norms(model, x, go):
    return vmap_grads(model, x, go).square().sum(1)


def vmap_gram(model, x, go):
    g = vmap_grads(model, x, go)
    return g @ g.T


def opacus_norms(model, x, go, ghost):
    from opacus.grad_sample import GradSampleModule, GradSampleModuleFastGradientClipping
    if ghost:
        gsm = GradSampleModuleFastGradientClipping(model, loss_reduction="sum",
                                                   use_ghost_clipping=True)
    else:
        gsm = GradSampleModule(model, loss_reduction="sum")
    try:
        (gsm(x) * go).sum().backward()
        if ghost:
            return gsm.get_norm_sample().square()
        return sum(p.grad_sample.reshape(x.shape[0], -1).square().sum(1)
                   for p in model.parameters())
    finally:
        gsm._close()
        model.zero_grad(set_to_none=True)
        for p in model.parameters():
            for attr in ("grad_sample", "_norm_sample"):
                if hasattr(p, attr):
                    delattr(p, attr)


def fwd_bwd(model, x, go):
    """One batched forward + backward (parameter .grad): the matmul floor of the analysis."""
    model.zero_grad(set_to_none=True)
    (model(x) * go).sum().backward()


def paper_pair_dots(model, x, go, i, j):
    """The authors' route: a backward pass per point of each pair, then the dot product."""
    out = []
    params = list(model.parameters())
    for a, b in zip(i.tolist(), j.tolist()):
        ga = torch.autograd.grad((model(x[a:a + 1]) * go[a:a + 1]).sum(), params)
        gb = torch.autograd.grad((model(x[b:b + 1]) * go[b:b + 1]).sum(), params)
        out.append(sum((u * v).sum() for u, v in zip(ga, gb)))
    return torch.stack(out)


# ----------------------------------------------------------------------------- benchmarks


@pytest.mark.parametrize("n_cpu,n_cuda", [(4096, 65536), (16384, 262144)])
def test_per_example_norms(benchmark, device, n_cpu, n_cuda):
    n = n_cpu if device.type == "cpu" else n_cuda
    model, x, go, net = mlp_inputs(n, 32, 256, 4, device)
    w, b = net.weights, net.biases  # for the plain-torch route
    ours = lambda: se.per_example_grad_norms(x, net, go)  # noqa: E731
    t_ours = run_ours(benchmark, ours, device)
    info = benchmark.extra_info
    info.update(n=n, mlp="32-4x256-1", dtype="float32", ours_s=t_ours, ours_peak_mib=peak_mib(ours, device))

    ref = plain_torch_norms(x, w, b, go)
    got = ours()
    info["max_rel_diff_vs_plain"] = float(((got - ref).abs().sum(1) / ref.sum(1)).max())
    t = best_time(lambda: plain_torch_norms(x, w, b, go), device)
    info.update(plain_torch_s=t, ratio_plain_torch=t / t_ours,
                plain_torch_peak_mib=peak_mib(lambda: plain_torch_norms(x, w, b, go), device))
    t = best_time(lambda: fwd_bwd(model, x, go), device)
    info.update(fwd_bwd_s=t, ratio_fwd_bwd=t / t_ours)

    sub = min(n, 2048 if device.type == "cpu" else 16384)
    info["materialising_subset_n"] = sub
    xs, gs = x[:sub], go[:sub]
    alternatives = [("vmap_grad", lambda: vmap_norms(model, xs, gs))]
    if HAVE_OPACUS:
        alternatives += [("opacus_gsm", lambda: opacus_norms(model, xs, gs, ghost=False)),
                         ("opacus_ghost", lambda: opacus_norms(model, x, go, ghost=True))]
    else:
        info["opacus"] = "not installed"
    for name, fn in alternatives:
        scale = 1.0 if name == "opacus_ghost" else n / sub
        t = best_time(fn, device, rounds=2) * scale
        info[f"{name}_s"] = t
        info[f"ratio_{name}"] = t / t_ours
        info[f"{name}_peak_mib"] = peak_mib(fn, device) * scale
    check = vmap_norms(model, xs, gs)
    info["max_rel_diff_vs_vmap"] = float(((got[:sub].sum(1) - check).abs() / check).max())


@pytest.mark.parametrize("n_cpu,n_cuda", [(4096, 16384)])
def test_gram(benchmark, device, n_cpu, n_cuda):
    n = n_cpu if device.type == "cpu" else n_cuda
    model, x, go, net = mlp_inputs(n, 32, 128, 4, device)
    w, b = net.weights, net.biases  # for the plain-torch route
    ours = lambda: se.grad_gram(x, net, go)  # noqa: E731
    t_ours = run_ours(benchmark, ours, device)
    info = benchmark.extra_info
    info.update(n=n, mlp="32-4x128-1", dtype="float32", ours_s=t_ours,
                ours_peak_mib=peak_mib(ours, device), output_mib=n * n * 4 / 2**20)
    got = ours()
    t = best_time(lambda: plain_torch_gram(x, w, b, go), device, rounds=2)
    info.update(plain_torch_s=t, ratio_plain_torch=t / t_ours,
                plain_torch_peak_mib=peak_mib(lambda: plain_torch_gram(x, w, b, go), device))
    scale_ref = got.diagonal().sqrt()
    err = (got - plain_torch_gram(x, w, b, go)).abs() / (scale_ref[:, None] * scale_ref[None, :])
    info["max_confusion_diff_vs_plain"] = float(err.max())

    sub = min(n, 2048)
    info["vmap_subset_n"] = sub
    xs, gs = x[:sub], go[:sub]
    t = best_time(lambda: vmap_gram(model, xs, gs), device, rounds=1)
    # Materialising: gradient rows scale with N, the Gram product with N^2.
    scale = (n / sub) ** 2
    info.update(vmap_grad_s=t * scale, ratio_vmap_grad=t * scale / t_ours,
                vmap_grad_peak_mib=peak_mib(lambda: vmap_gram(model, xs, gs), device) * n / sub)

    pairs = 500 if device.type == "cpu" else 200
    gen = torch.Generator().manual_seed(1)
    i = torch.randint(0, n, (pairs,), generator=gen)
    j = torch.randint(0, n, (pairs,), generator=gen)
    t = best_time(lambda: paper_pair_dots(model, x, go, i, j), device, rounds=1)
    all_pairs = n * (n + 1) / 2
    info.update(paper_pairs_timed=pairs, paper_all_pairs_s=t * all_pairs / pairs,
                ratio_paper=t * all_pairs / pairs / t_ours)
    dots = paper_pair_dots(model, x, go, i[:20], j[:20])
    info["max_confusion_diff_vs_paper"] = float(
        ((got[i[:20], j[:20]] - dots).abs() / (scale_ref[i[:20]] * scale_ref[j[:20]])).max())


def _region_ids(x, net):
    patterns = se.activation_patterns(x, net)
    if torch._C._dispatch_has_kernel_for_dispatch_key("specbias::region_ids",
                                                      x.device.type.upper()):
        ids, counts = se.region_ids(patterns)
        return ids, counts.numel()
    _, ids = torch.unique(patterns, dim=0, return_inverse=True)
    return ids, int(ids.max()) + 1


def pe(coords, levels):
    freqs = (2.0 ** torch.arange(levels, device=coords.device)) * torch.pi
    ang = coords[:, :, None] * freqs
    return torch.cat([ang.sin(), ang.cos()], dim=2).reshape(coords.shape[0], -1)


@pytest.mark.parametrize("encoding", ["raw", "pe8"])
def test_region_grad_norms(benchmark, device, encoding):
    side = 256 if device.type == "cpu" else 512
    t = torch.arange(side, dtype=torch.float32) / side
    coords = torch.stack(torch.meshgrid(t, t, indexing="ij"), dim=-1).reshape(-1, 2).to(device)
    x = coords if encoding == "raw" else pe(coords, 8)
    model = make_mlp(x.shape[1], 128, 4, device)
    net = se.relu_network(model).detach()
    with torch.no_grad():
        go = se.mse_grad_out(model(x), torch.rand(x.shape[0], 1, device=device))
    ids, regions = _region_ids(x, net)
    ours = lambda: se.region_grad_norms(x, net, go, ids, regions)  # noqa: E731
    t_ours = run_ours(benchmark, ours, device)
    info = benchmark.extra_info
    counts = torch.bincount(ids)
    info.update(grid=f"{side}x{side}", encoding=encoding, mlp=f"{x.shape[1]}-4x128-1",
                regions=regions, largest_region=int(counts.max()), ours_s=t_ours,
                ours_peak_mib=peak_mib(ours, device))
    t = best_time(lambda: fwd_bwd(model, x, go), device)
    info.update(fwd_bwd_s=t, ratio_ours_over_fwd_bwd=t_ours / t,
                fwd_bwd_peak_mib=peak_mib(lambda: fwd_bwd(model, x, go), device))
