"""hamming-1d at the paper's settings: our measurements and training vs the authors' method.

1. Measurements. The authors' scripts run one forward and one backward pass per point of each
   pair (patterns from the forward, the gradient from the backward), then compare. We time that
   on a sample of pairs and extrapolate to the paper's schedule: 20 models x 21 records x
   (25*250 local + 5000 global) pairs for Hamming, plus the confusion of the same pairs at the
   last epoch. Ours: patterns of the whole grid + hamming_pairs for one model-record, and the
   confusion of all pairs for one model, scaled by the same schedule.
2. Training. 20 models (4 encodings x 5 seeds) as one batched MLP vs 20 nn.Sequential models
   trained one after another, a few epochs of full-batch Adam each, extrapolated to 500 epochs.

Peak memory on CPU is the rise of the process's resident high-water mark during the call, so a
call that reuses memory already resident reports ~0.
"""
import math
import time

import torch
from torch import nn

from peak_memory import record
from timing import best_time
from specbias_ext import measure
from specbias_ext.nets.encodings import make_encoding
from specbias_ext.nets.network import relu_network
from specbias_ext.data.samplers import global_pairs_1d, local_pairs_1d
from specbias_ext.data.signals import sum_of_sines
from specbias_ext.experiments.batched_training import MLPEnsemble, train_ensemble

N, DEPTH, WIDTH, MODELS, RECORDS = 2048, 4, 128, 20, 21
LOCAL, GLOBAL = 25 * 250, 5000


def _sizes(device):
    # sample sizes for the slow per-pair method; epochs for the training comparison
    return dict(sample_pairs=40 if device.type == "cpu" else 200,
                epochs=8 if device.type == "cpu" else 40)


def _model(device, seed=0):
    torch.manual_seed(seed)
    dims = [14] + [WIDTH] * DEPTH + [1]
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).to(device)


def _inputs(device):
    t = torch.arange(N, dtype=torch.float64)[:, None] / N
    x = make_encoding("pe:7", 1)(t).float().to(device)
    y = sum_of_sines(N).y[:, None].to(device)
    return x, y


def per_pair_paper_method(model, x, y, i, j, backward=True):
    """The authors' way: for every pair, one forward (patterns) and, for confusion, one backward
    (the gradient) per point of the pair; then compare the two."""
    params = list(model.parameters())
    ham, conf = [], []
    for a, b in zip(i.tolist(), j.tolist()):
        pats, grads = [], []
        for idx in (a, b):
            acts = []
            h = x[idx:idx + 1]
            for layer_ in model:
                h = layer_(h)
                if isinstance(layer_, nn.Linear):
                    acts.append(h > 0)
            pats.append(torch.cat([p.reshape(-1) for p in acts[:-1]]))
            if backward:
                loss = ((h - y[idx:idx + 1]) ** 2).mean()
                g = torch.autograd.grad(loss, params)
                grads.append(torch.cat([t.reshape(-1) for t in g]))
        ham.append(int((pats[0] != pats[1]).sum()))
        if backward:
            conf.append(float(torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0)))
    return ham, conf


def ours_hamming(model, x, pairs):
    """One model at one record: patterns of the whole grid, Hamming of all pairs."""
    net = relu_network(model).detach()
    p = measure.patterns(x, net)
    return [measure.pair_hamming(p, i, j) for i, j in pairs]


def ours_confusion(model, x, y, pairs):
    """One model at the last epoch: confusion of all pairs."""
    net = relu_network(model).detach()
    with torch.no_grad():
        g = measure.mse_grad_out(model(x), y)
    return [measure.confusion_pairs(x, net, g, i, j) for i, j in pairs]




def test_measurements_vs_per_pair_method(benchmark, device):
    k = _sizes(device)["sample_pairs"]
    model = _model(device)
    x, y = _inputs(device)
    li, lj = local_pairs_1d(N)
    gi, gj = global_pairs_1d(N)
    pairs = [(li.to(device), lj.to(device)), (gi.to(device), gj.to(device))]
    si, sj = li[:k], lj[:k]

    ham_pp = best_time(lambda: per_pair_paper_method(model, x, y, si, sj, backward=False), device,
                       1, warmup=False) / k
    conf_pp = best_time(lambda: per_pair_paper_method(model, x, y, si, sj), device, 1,
                        warmup=False) / k
    # Hamming at every record of every model; confusion at the last epoch of every model
    pairs_total = LOCAL + GLOBAL
    paper_total = MODELS * pairs_total * (ham_pp * RECORDS + conf_pp)

    benchmark.pedantic(ours_hamming, args=(model, x, pairs), rounds=5, iterations=1,
                       warmup_rounds=1)
    ham_ours = benchmark.stats.stats.min
    conf_ours = best_time(lambda: ours_confusion(model, x, y, pairs), device, warmup=False)
    ours_total = MODELS * (ham_ours * RECORDS + conf_ours)
    benchmark.extra_info.update({
        "sample_pairs": k, "paper_hamming_s_per_pair": ham_pp,
        "paper_confusion_s_per_pair": conf_pp,
        "paper_method_extrapolated_s": paper_total,
        "ours_hamming_s_per_model_record": ham_ours, "ours_confusion_s_per_model": conf_ours,
        "ours_extrapolated_s": ours_total, "speedup_vs_paper_method": paper_total / ours_total})
    record(benchmark, "ours_hamming", lambda: ours_hamming(model, x, pairs), device)
    record(benchmark, "ours_confusion", lambda: ours_confusion(model, x, y, pairs), device)
    record(benchmark, "paper_method_sample",
           lambda: per_pair_paper_method(model, x, y, si, sj), device)
    assert math.isfinite(paper_total / ours_total)


def _train_sequential(models, x, y, epochs):
    for model in models:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(epochs):
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()


def test_batched_training_vs_one_model_at_a_time(benchmark, device):
    epochs = _sizes(device)["epochs"]
    x, y = _inputs(device)
    models = [_model(device, s) for s in range(MODELS)]
    xs = x[None].expand(MODELS, -1, -1).contiguous()

    def fresh():
        ens = MLPEnsemble([14] * MODELS, DEPTH, WIDTH, 1, list(range(MODELS)), device=device)
        return (ens,), {}

    def ours(ens):
        train_ensemble(ens, xs, y, epochs=epochs, lr=1e-3, record_epochs=[0], keep_fits=False)
        if device.type == "cuda":
            torch.cuda.synchronize()

    _train_sequential(models, x, y, 1)            # warm-up
    start = time.perf_counter()
    _train_sequential(models, x, y, epochs)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seq_s = time.perf_counter() - start
    benchmark.pedantic(ours, setup=fresh, rounds=2, iterations=1, warmup_rounds=1)
    ours_s = benchmark.stats.stats.min
    benchmark.extra_info.update({
        "epochs_timed": epochs, "sequential_s": seq_s, "batched_s": ours_s,
        "speedup_vs_sequential": seq_s / ours_s,
        "batched_extrapolated_500_epochs_s": ours_s / epochs * 500,
        "sequential_extrapolated_500_epochs_s": seq_s / epochs * 500})
    record(benchmark, "batched", lambda: ours(fresh()[0][0]), device)
    record(benchmark, "sequential", lambda: _train_sequential(models, x, y, epochs), device)
