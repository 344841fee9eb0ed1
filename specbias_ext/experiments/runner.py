"""`specbias reproduce`: run experiments, write their results, claims.json and the report."""
from __future__ import annotations

import os
import platform
import time

import torch

from ..devices import check_device
from ..results import atomic_write_json
from .base import Context, write_result
from .presets import preset as get_preset
from .registry import EXPERIMENTS, resolve
from .tasks import TrainingCache


def environment() -> dict:
    from ..build import build_info
    return {"device_cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "build_info": build_info(),
            "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def reproduce(names=None, preset: str = "quick", device: str = "cpu", seeds=None,
              out: str = "specbias-results", quiet: bool = False, log=print) -> dict:
    """Run the experiments; returns the claims table (as written to claims.json)."""
    from . import report
    from .claims import ClaimTable

    names = resolve(names)
    settings = get_preset(preset)
    dev = check_device(device)
    n1 = seeds if seeds is not None else settings.seeds
    n2 = seeds if seeds is not None else settings.seeds2d
    if n1 < 1:
        raise ValueError(f"--seeds: expected >= 1, got {n1}")
    os.makedirs(out, exist_ok=True)
    ctx = Context(preset, settings, list(range(n1)), list(range(n2)), dev, out,
                  TrainingCache(dev, quiet), quiet)
    table = ClaimTable()
    results = []
    t_all = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        result = EXPERIMENTS[name][0](ctx)
        result.timings["total_s"] = time.perf_counter() - t0
        result.settings["preset"] = preset
        result.settings["device"] = str(dev)
        write_result(result, ctx.folder(name))
        table.extend(result.claims)
        results.append(result)
        held = sum(c.held for c in result.claims)
        log(f"[{name}] {held}/{len(result.claims)} claims held, "
            f"{result.timings['total_s']:.1f}s (train {result.timings.get('train_s', 0):.1f}s) "
            f"| {result.summary}")
    claims = table.to_json()
    claims["preset"], claims["device"] = preset, str(dev)
    claims["total_s"] = time.perf_counter() - t_all
    atomic_write_json(os.path.join(out, "claims.json"), claims)
    report.write_report(out, results, claims, environment())
    return claims
