"""One RegionMonitor record vs one training step of a user's loop on the same grid.

Setting (1D): N = 2048 points, a plain nn.Sequential 4x128 MLP on PE L=4 (and raw [0,1)) inputs,
full-batch MSE + Adam step. Records:
  light: regions + local/global Hamming          (goal: <= 0.5 training step)
  full:  regions, Hamming, confusion, spectral   (goal: <= 2 training steps)
  all:   every default measurement (adds neurons, gradient norms, region gradients; not the
         local complexity, see bench_lc_grid.py)
extra_info: record_over_step (wall, interleaved best of 9) and the same in process CPU time,
plain_over_record for the full record (plain torch: dense sign bits, torch.unique, per-example
gradients materialised with torch.func.vmap; 1d-pe4 only) and peak memory.
With --device cuda a 2D case (256^2 grid, 4x256, PE L=8) is added. On the CPU both sides run on
one thread (a shared machine's other jobs then disturb the ratio least; busy-waiting worker
threads would inflate both wall and CPU time).
"""
from __future__ import annotations

import time

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from peak_memory import record as record_peak
from timing import best_time, sync
from specbias_ext.nets.encodings import make_encoding
from specbias_ext.data.grids import grid_coords
from specbias_ext.train.measurements import DEFAULT_MEASUREMENTS
from specbias_ext.train.monitor import MonitorConfig, RegionMonitor
from specbias_ext.data.signals import load_image, sum_of_sines

RECORDS = {"light": ("regions", "hamming"), "full": ("regions", "hamming", "confusion", "spectral"),
           "all": DEFAULT_MEASUREMENTS}


def _mlp(in_dim, width, depth, device):
    torch.manual_seed(0)
    dims = [in_dim] + [width] * depth
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, 1)).to(device)


def _case_1d(encoding, device):
    sig = sum_of_sines()
    enc = make_encoding(encoding, 1)
    return (_mlp(enc.out_dim, 128, 4, device), enc, sig.coords(), sig.target(), sig.freqs)


def _case_2d(device):
    img = load_image("camera", size=256)
    enc = make_encoding("pe:8", 2)
    return _mlp(enc.out_dim, 256, 4, device), enc, grid_coords((256, 256)), img.reshape(-1, 1), None


def _train_step(model, x, y):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = (model(x) - y).square().mean()
        loss.backward()
        opt.step()
    return step


def plain_torch_record(model, x, target, pairs, freqs):
    """The same numbers as the full record (1D), written with stock torch only."""
    with torch.no_grad():
        a, bits = x, []
        for layer in model:
            a = layer(a)
            if isinstance(layer, nn.Linear) and layer is not model[-1]:
                bits.append(a > 0)
        fit = a
        bits = torch.cat(bits, 1)
        out = {"regions": torch.unique(bits, dim=0).shape[0]}
        for kind, (i, j) in pairs.items():
            out[f"hamming_{kind}"] = (bits[i] != bits[j]).sum(1).float().mean()
    params = {k: v.detach() for k, v in model.named_parameters()}
    grad_out = (2 * (fit - target) / fit.shape[1]).detach()

    def example_loss(p, xi, gi):
        return (functional_call(model, p, (xi.unsqueeze(0),))[0] * gi).sum()

    points = torch.unique(torch.cat([torch.cat(p) for p in pairs.values()]))
    per_example = vmap(grad(example_loss), in_dims=(None, 0, 0))
    blocks = []
    for s in range(0, points.numel(), 512):      # chunks keep vmap's intermediates small
        idx = points[s:s + 512]
        grads = per_example(params, x[idx], grad_out[idx])
        blocks.append(torch.cat([v.reshape(idx.numel(), -1) for v in grads.values()], 1))
    g = torch.cat(blocks)
    where = torch.full((x.shape[0],), -1, dtype=torch.int64, device=x.device)
    where[points] = torch.arange(points.numel(), device=x.device)
    norms = g.norm(dim=1)
    for kind, (i, j) in pairs.items():
        dots = (g[where[i]] * g[where[j]]).sum(1)
        denom = norms[where[i]] * norms[where[j]]
        out[f"confusion_{kind}"] = torch.where(denom > 0, dots / denom, 0).clamp(-1, 1).mean()
    res = torch.fft.rfft((fit - target)[:, 0].double()).abs() / \
        torch.fft.rfft(target[:, 0].double()).abs()
    out["spectral"] = res[list(freqs)]
    return out


def _cases(device):
    cases = {"1d-pe4": lambda: _case_1d("pe:4", device), "1d-raw": lambda: _case_1d("raw", device)}
    if device.type == "cuda":
        cases["2d-pe8-256"] = lambda: _case_2d(device)
    return cases


@pytest.fixture
def cpu_one_thread(device):
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("case", ["1d-pe4", "1d-raw", "2d-pe8-256"])
@pytest.mark.parametrize("record", ["light", "full", "all"])
def test_record_vs_training_step(benchmark, device, cpu_one_thread, case, record):
    builders = _cases(device)
    if case not in builders:
        pytest.skip(f"{case} runs with --device cuda only")
    model, enc, coords, target, freqs = builders[case]()
    monitor = RegionMonitor(coords, target=target, encoding=enc, every=None,
                            config=MonitorConfig(measurements=RECORDS[record]),
                            signal_freqs=freqs)
    step = _train_step(model, enc(coords.to(device)), target.to(device))
    take = lambda: monitor.record(model, 0)   # noqa: E731
    for _ in range(2):                        # warm up both (allocator, kernels, caches)
        step()
        take()

    benchmark.pedantic(take, rounds=5, iterations=1)
    # Interleaved rounds (step, record, step, record, ...) so both see the same machine load;
    # best of each, in wall time and in this process's CPU time (less sensitive to neighbours).
    record_s = step_s = record_cpu = step_cpu = float("inf")
    for _ in range(9):
        c0 = time.process_time()
        step_s = min(step_s, best_time(step, device, rounds=1, warmup=False))
        c1 = time.process_time()
        record_s = min(record_s, best_time(take, device, rounds=1, warmup=False))
        c2 = time.process_time()
        step_cpu, record_cpu = min(step_cpu, c1 - c0), min(record_cpu, c2 - c1)
    info = benchmark.extra_info
    info.update(case=case, record=record, measurements=list(RECORDS[record]),
                n=int(coords.shape[0]), record_s=record_s, step_s=step_s,
                record_over_step=record_s / step_s, record_cpu_s=record_cpu,
                step_cpu_s=step_cpu, record_over_step_cpu_time=record_cpu / step_cpu,
                record_parts_s=dict(monitor.timings), threads=torch.get_num_threads())
    monitor.history.clear()
    record_peak(benchmark, "record", take, device)
    record_peak(benchmark, "step", step, device)
    if record == "full" and case == "1d-pe4":
        x = enc(coords.to(device))
        pairs = {k: (i.to(device), j.to(device)) for k, (i, j) in monitor.pairs.items()}
        plain = lambda: plain_torch_record(model, x, target.to(device), pairs, freqs)  # noqa
        sync(device)
        t0 = time.perf_counter()
        check = plain()
        sync(device)
        plain_s = time.perf_counter() - t0
        info.update(plain_s=plain_s, plain_over_record=plain_s / record_s)
        record_peak(benchmark, "plain", plain, device)
        ours = take()
        assert ours["regions"] == check["regions"]
        assert abs(ours["hamming_local"]["mean"] - float(check["hamming_local"])) < 1e-4
        assert abs(ours["confusion_global"]["mean"] - float(check["confusion_global"])) < 1e-3
