"""hamming-1d at the paper's settings: our measurements and training vs the authors' method.

1. Measurements. The authors' scripts run one forward and one backward pass per point of each
   pair (patterns from the forward, the gradient from the backward), then compare. We time that
   on a sample of pairs and extrapolate to the paper's schedule: 20 models x 21 records x
   (25*250 local + 5000 global) pairs for Hamming, plus the confusion of the same pairs at the
   last epoch. Ours: patterns of the whole grid + hamming_pairs for one model-record, and the
   confusion of all pairs for one model, scaled by the same schedule.
2. Training. 20 models (4 encodings x 5 seeds) as one batched MLP vs 20 nn.Sequential models
   trained one after another, a few epochs of full-batch Adam each, extrapolated to 500 epochs.
"""
import math
import time

import pytest
import torch
from torch import nn

from peak_memory import record
from specbias_ext.experiments import layer, opcalls
from specbias_ext.experiments.ensemble import MLPEnsemble, train_ensemble

N, DEPTH, WIDTH, MODELS, RECORDS = 2048, 4, 128, 20, 21
LOCAL, GLOBAL = 25 * 250, 5000


def _sizes(device):
    # sample sizes for the slow per-pair method; epochs for the training comparison
    return dict(sample_pairs=40 if device.type == "cpu" else 200,
                epochs=3 if device.type == "cpu" else 20)


def _model(device, seed=0):
    torch.manual_seed(seed)
    dims = [14] + [WIDTH] * DEPTH + [1]
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).to(device)


def _inputs(device):
    t = torch.arange(N, dtype=torch.float64)[:, None] / N
    x = layer.make_encoding("pe:7", 1)(t).float().to(device)
    y = layer.sum_of_sines(N).y[:, None].to(device)
    return x, y


def per_pair_paper_method(model, x, y, i, j):
    """One forward + backward per point of every pair: Hamming and confusion per pair."""
    params = list(model.parameters())
    ham, conf = [], []
    for a, b in zip(i.tolist(), j.tolist()):
        pats, grads = [], []
        for idx in (a, b):
            acts = []
            h = x[idx:idx + 1]
            for layer in model:
                h = layer(h)
                if isinstance(layer, nn.Linear):
                    acts.append(h > 0)
            loss = ((h - y[idx:idx + 1]) ** 2).mean()
            g = torch.autograd.grad(loss, params)
            pats.append(torch.cat([p.reshape(-1) for p in acts[:-1]]))
            grads.append(torch.cat([t.reshape(-1) for t in g]))
        ham.append(int((pats[0] != pats[1]).sum()))
        conf.append(float(torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0)))
    return ham, conf


def ours_one_model(model, x, y, pairs):
    w = [m.weight.detach() for m in model if isinstance(m, nn.Linear)]
    b = [m.bias.detach() for m in model if isinstance(m, nn.Linear)]
    p = opcalls.activation_patterns(x, w, b)
    for i, j in pairs:
        opcalls.hamming_pairs(p, i, j)
    with torch.no_grad():
        g = 2 * (model(x) - y)
    return [opcalls.confusion_pairs(x, w, b, g, i, j) for i, j in pairs]


def test_measurements_vs_per_pair_method(benchmark, device):
    sizes = _sizes(device)
    model = _model(device)
    x, y = _inputs(device)
    li, lj = layer.local_pairs_1d(N)
    gi, gj = layer.global_pairs_1d(N)
    pairs = [(li.to(device), lj.to(device)), (gi.to(device), gj.to(device))]
    k = sizes["sample_pairs"]
    si, sj = li[:k], lj[:k]

    start = time.perf_counter()
    per_pair_paper_method(model, x, y, si, sj)
    per_pair_s = (time.perf_counter() - start) / k
    # Hamming at every record for every model, confusion once per model (last epoch)
    paper_total = per_pair_s * (LOCAL + GLOBAL) * MODELS * (RECORDS + 1)

    benchmark.pedantic(ours_one_model, args=(model, x, y, pairs), rounds=3, iterations=1,
                       warmup_rounds=1)
    ours_total = benchmark.stats.stats.min * MODELS * RECORDS
    benchmark.extra_info.update({
        "sample_pairs": k, "paper_method_s_per_pair": per_pair_s,
        "paper_method_extrapolated_s": paper_total, "ours_extrapolated_s": ours_total,
        "speedup_vs_paper_method": paper_total / ours_total,
        "ops": opcalls.ops_used()})
    record(benchmark, "ours", lambda: ours_one_model(model, x, y, pairs), device)
    record(benchmark, "paper_method_sample", lambda: per_pair_paper_method(model, x, y, si, sj),
           device)
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

    def ours():
        ens = MLPEnsemble([14] * MODELS, DEPTH, WIDTH, 1, list(range(MODELS)), device=device)
        train_ensemble(ens, xs, y, epochs=epochs, lr=1e-3, record_epochs=[0], keep_fits=False)

    start = time.perf_counter()
    _train_sequential(models, x, y, epochs)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seq_s = time.perf_counter() - start
    benchmark.pedantic(ours, rounds=2, iterations=1, warmup_rounds=1)
    ours_s = benchmark.stats.stats.min
    benchmark.extra_info.update({
        "epochs_timed": epochs, "sequential_s": seq_s, "batched_s": ours_s,
        "speedup_vs_sequential": seq_s / ours_s,
        "batched_extrapolated_500_epochs_s": ours_s / epochs * 500,
        "sequential_extrapolated_500_epochs_s": seq_s / epochs * 500})
    record(benchmark, "batched", ours, device)
    record(benchmark, "sequential", lambda: _train_sequential(models, x, y, epochs), device)
