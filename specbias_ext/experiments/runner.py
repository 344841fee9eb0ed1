"""`specbias reproduce`: run experiments, write their results, claims.json and the report.

The output folder accumulates: claims.json, summary.md and report.html always cover every
experiment whose results.json is in the folder (the latest run of each replaces the older one;
the preset and device of each experiment are shown). They are rewritten after every experiment,
and the trained weights of each training batch are kept in ``<out>/.train-cache/``, so an
interrupted run loses at most the experiment in progress and a rerun with the same settings only
measures.

The folder is claimed for "reproduce" (runs.ownership): a rerun continues what reproduce wrote
there, and any file it did not write (the user's own summary.md, an experiment folder holding
files of another origin) is refused before anything runs, unless ``overwrite``. Every folder an
experiment writes into is checked writable first, and the seeds are checked against memory.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

from ..runs.devices import check_device
from ..runs.files import atomic_write_json
from ..runs.output_checks import check_memory, check_writable_folder
from ..runs.ownership import claim_accumulating, written_by
from ..runs.provenance import environment
from . import report
from .base import Context, ExperimentResult, write_result
from .claims import Claim, ClaimTable
from .presets import preset as get_preset
from .registry import EXPERIMENTS, resolve
from .tasks import Task, TrainingCache
from .variants import VARIANTS

TRAIN_CACHE = ".train-cache"
SUMMARIES = ("claims.json", "summary.md", "report.html")
WRITER = "reproduce"


def model_bytes(task: Task, features: int) -> int:
    """Memory one model of ``task`` holds while a batch of them trains (float32): its inputs and
    the fits kept at every record on all points, one minibatch's activations forward and
    backward and a chunk of the full pass, the parameters with gradients and Adam's moments
    and a snapshot per record."""
    points = task.n if task.kind == "1d" else task.size * task.size
    records = len(task.record_epochs)
    batch = min(task.batch_size or points, points)
    params = features * task.width + (task.depth - 1) * task.width ** 2 + \
        (task.depth + 3) * task.width + 3
    return 4 * (points * (features + 3 * records) + batch * 3 * task.depth * task.width
                + min(points, 65536) * 2 * task.width + params * (4 + records))


def _batches(settings, names, n1: int, n2: int):
    """(task, variants, seeds) of the training batches the experiments ask for: an experiment's
    variants are listed under its name or per input dimension (<name>-1d / <name>-2d); "-2d"
    ones train on the 2D task (noise-2d on the noise task), the others on the 1D task."""
    for name in names:
        for key in (name, f"{name}-1d", f"{name}-2d"):
            if key not in VARIANTS:
                continue
            if key == "noise-2d":
                yield settings.noise, VARIANTS[key], max(n1, settings.noise_seeds)
            elif key.endswith("-2d"):
                yield settings.task2d, VARIANTS[key], n2
            else:
                yield settings.task1d, VARIANTS[key], n1


def check_seeds_fit(settings, names, n1: int, n2: int) -> None:
    """Refuse seeds whose models, trained together (every variant of an experiment in one
    batch), would not fit in the available memory, before anything is allocated: the largest
    batch's upper estimate (``model_bytes`` per model, the widest encoding of its variants)."""
    need, what = 0, ""
    for task, variants, seeds in _batches(settings, names, n1, n2):
        features = max(task.encoding(v).out_dim for v in variants)
        per_seed = len(variants) * model_bytes(task, features)
        if seeds * per_seed > need:
            need = seeds * per_seed
            what = (f"--seeds {seeds}: the {len(variants)} x {seeds} models trained together "
                    f"on the {task.kind} task ({per_seed / 2**20:.0f} MiB a seed, an upper "
                    "estimate)")
    check_memory(need, what, "use fewer --seeds")


def load_results(out: str, log=print) -> list[ExperimentResult]:
    """Every experiment's results.json reproduce wrote in ``out``, read back, in table order
    (arrays are not loaded; claims come back as Claim objects). Unreadable files are skipped
    with a note; an experiment folder reproduce did not write is never read."""
    fields = {f.name for f in dataclasses.fields(Claim)}
    ours = set(written_by(out, WRITER))
    results = []
    for name in EXPERIMENTS:
        path = os.path.join(out, name, "results.json")
        if f"{name}/" not in ours or not os.path.isfile(path):
            continue
        try:
            with open(path) as f:
                data = json.load(f)
            claims = [Claim(**{k: v for k, v in c.items() if k in fields})
                      for c in data.get("claims", [])]
            results.append(ExperimentResult(
                name=data["name"], title=data.get("title", name),
                settings=data.get("settings", {}), series=data.get("series", {}),
                figures=data.get("figures", []), claims=claims,
                timings=data.get("timings", {}), summary=data.get("summary", ""),
                captions=data.get("captions", {}), animations=data.get("animations", [])))
        except (OSError, ValueError, KeyError, TypeError) as err:
            log(f"note: skipping {path} in the summary: cannot read it ({err})")
    return results


def _joined(values) -> str:
    return ", ".join(dict.fromkeys(str(v) for v in values)) or "none"


def merged_claims(results) -> dict:
    """The claims table of ``results`` (as written to claims.json), each claim tagged with the
    preset and device of the run that produced it."""
    table = ClaimTable()
    for r in results:
        table.extend(r.claims)
    claims = table.to_json()
    where = {r.name: (r.settings.get("preset", "?"), r.settings.get("device", "?"))
             for r in results}
    for c in claims["claims"]:
        c["preset"], c["device"] = where.get(c["experiment"], ("?", "?"))
    claims["preset"] = _joined(p for p, _ in where.values())
    claims["device"] = _joined(d for _, d in where.values())
    claims["experiments"] = {n: {"preset": p, "device": d} for n, (p, d) in where.items()}
    claims["total_s"] = float(sum(r.timings.get("total_s", 0.0) for r in results))
    return claims


def write_summaries(out: str, log=print) -> dict:
    """claims.json, summary.md and report.html over every experiment in ``out``."""
    results = load_results(out, log)
    claims = merged_claims(results)
    atomic_write_json(os.path.join(out, "claims.json"), claims)
    report.write_report(out, results, claims, environment())
    return claims


def _claim(out: str, names, overwrite: bool, command=None):
    """Check everything reproduce will write in ``out`` before anything runs, and claim it."""
    check_writable_folder(out, "--out")
    for sub in [*names, TRAIN_CACHE]:
        path = os.path.join(out, sub)
        if os.path.exists(path) and not os.path.isdir(path):
            raise ValueError(f"--out {out!r}: {path!r} is a file where the folder of {sub!r} "
                             "goes; remove it or choose another --out")
        check_writable_folder(path, "--out")
        if os.path.isdir(os.path.join(path, "figures")):
            check_writable_folder(os.path.join(path, "figures"), "--out")
    for name in SUMMARIES:
        if os.path.isdir(os.path.join(out, name)):
            raise ValueError(f"--out {out!r}: {name} is a folder there; remove it or choose "
                             "another --out")
    own = claim_accumulating(out, WRITER, overwrite=overwrite, how_to_overwrite="--overwrite",
                             command=command)
    for rel in [*SUMMARIES, *(f"{n}/" for n in names), f"{TRAIN_CACHE}/"]:
        own.check_writable(rel)
    return own


def reproduce(names=None, preset: str = "quick", device: str = "cpu", seeds=None,
              out: str = "specbias-results", quiet: bool = False, log=print,
              overwrite: bool = False, command=None) -> dict:
    """Run the experiments; returns the claims table of the whole folder (as in claims.json).
    ``overwrite``: replace files in ``out`` that reproduce did not write (refused otherwise);
    ``command``: the command line recorded in the folder (default: this process's)."""
    names = resolve(names)
    settings = get_preset(preset)
    dev = check_device(device)
    n1 = seeds if seeds is not None else settings.seeds
    n2 = seeds if seeds is not None else settings.seeds2d
    if n1 < 1:
        raise ValueError(f"--seeds: expected >= 1, got {n1}")
    check_seeds_fit(settings, names, n1, n2)
    own = _claim(out, names, overwrite, command)
    own.record(*SUMMARIES, *(f"{n}/" for n in names), f"{TRAIN_CACHE}/")
    cache = TrainingCache(dev, quiet, folder=os.path.join(out, TRAIN_CACHE))
    ctx = Context(preset, settings, list(range(n1)), list(range(n2)), dev, out, cache, quiet)
    claims = None
    for name in names:
        t0 = time.perf_counter()
        result = EXPERIMENTS[name][0](ctx)
        result.timings["total_s"] = time.perf_counter() - t0
        result.settings["preset"] = preset
        result.settings["device"] = str(dev)
        write_result(result, ctx.folder(name))
        claims = write_summaries(out, log)
        held = sum(c.held for c in result.claims)
        log(f"[{name}] {held}/{len(result.claims)} claims held, "
            f"{result.timings['total_s']:.1f}s (train {result.timings.get('train_s', 0):.1f}s) "
            f"| {result.summary}")
    return claims
