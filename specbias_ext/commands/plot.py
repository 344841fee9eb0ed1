"""`specbias plot RUN`: the figures of a run redrawn from its files; nothing is recomputed.

RUN is one of (a folder may hold several, all are drawn):
- a `specbias train` folder (run.json, results.json, arrays.npz, grid.json, reconstruction.npz):
  the loss, the fit, the last region map, the region maps over training (panels and animation), the
  record curves and, for a run recorded with --lc, the last record's local complexity;
- a `specbias analyze` output (``regions_<grid>.json`` with its ``.npz`` and ``_maps.npz``; the
  folder that holds them or the .json itself): every map the analysis computed;
- a monitor folder (``records.jsonl``, ``settings.json``, ``arrays/``): the record curves and
  the region maps over training;
- a `specbias reproduce` folder (``claims.json`` and one folder per experiment): the region
  maps over training each experiment saved.

Figures go to ``--out`` (default ``RUN/plots``) under new names; a file that exists is never
replaced unless ``--overwrite``.
"""
from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
from matplotlib import colormaps

from ..plots.analysis_figures import analysis_figures
from ..plots.curves import record_curves
from ..plots.fits import model_label
from ..plots.output import (ANIMATION_FORMATS, DEFAULT_DPI, FIGURE_FORMATS, check_formats,
                            refuse_existing, save_figure)
from ..plots.run_figures import (ANIMATION_STEM, MAX_PANELS, last_lc_record, lc_values,
                                 region_maps_over_training, region_prefixes, region_records,
                                 spread, train_figures)
from ..plots.training import write_region_animation
from ..runs.output_checks import check_writable_folder

WHAT = ("loss", "fit", "region-map", "regions-over-training", "animation", "curves", "hamming",
        "neurons", "boundary", "slope", "grad-norm", "coherence", "lc")
#: analysis figure suffix (plots.analysis_figures.FIGURES) -> --what name
ANALYSIS_WHAT = {"": "region-map", "_hamming": "hamming", "_neurons": "neurons",
                 "_boundary": "boundary", "_slope": "slope", "_grad_norm": "grad-norm",
                 "_coherence": "coherence", "_lc": "lc"}
TRAIN_WHAT = {"loss": "loss", "fit": "fit", "region_map": "region-map",
              "region_maps_over_training": "regions-over-training", "curves": "curves",
              "lc_map": "lc"}
#: The stems `specbias train` writes its figures under (trainer.run_files knows them too).
TRAIN_ANIMATION = ANIMATION_STEM
RECONSTRUCTION = "reconstruction.npz"


@dataclass
class Plan:
    """What to write: figures ``(stem, build)`` and animations ``(stem, write(formats))``, built
    lazily so that the existing-file check runs before anything is drawn or written."""

    figures: list = field(default_factory=list)
    animations: list = field(default_factory=list)

    def add_figure(self, stem: str, build: Callable) -> None:
        self.figures.append((stem, build))

    def add_animation(self, stem: str, write: Callable) -> None:
        self.animations.append((stem, write))

    def paths(self, fig_formats, anim_formats) -> list[str]:
        return [f"{s}.{f}" for s, _ in self.figures for f in fig_formats] + \
            [f"{s}.{f}" for s, _ in self.animations for f in anim_formats]

    def write(self, fig_formats, anim_formats, dpi: int, overwrite: bool) -> list[str]:
        refuse_existing(self.paths(fig_formats, anim_formats), overwrite)
        written = []
        if fig_formats:
            for stem, build in self.figures:
                written += save_figure(build(), stem, fig_formats, dpi)
        if anim_formats:
            for stem, write in self.animations:
                written += write(stem, anim_formats)
        return written


def load_npz(path: str) -> dict:
    """Every array of an .npz file (no pickles), read now."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _json(path: str):
    with open(path) as f:
        return json.load(f)


def _wanted(what: set, name: str) -> bool:
    return not what or name in what


# --------------------------------------------------------------------------- train runs
def is_train_run(folder: str) -> bool:
    return all(os.path.isfile(os.path.join(folder, n)) for n in ("run.json", "results.json"))


def plan_train_run(folder: str, out: str, what: set, plan: Plan) -> None:
    """The figures of a `specbias train` folder."""

    config = _json(os.path.join(folder, "run.json"))
    results = _json(os.path.join(folder, "results.json"))
    grid = dict(config.get("grid") or {})
    grid_file = os.path.join(folder, "grid.json")
    if os.path.isfile(grid_file):
        grid.update(_json(grid_file))
    arrays_path = os.path.join(folder, "arrays.npz")
    arrays = load_npz(arrays_path) if os.path.isfile(arrays_path) else {}
    regions = region_records(arrays)
    lc = lc_values(arrays)
    fit = target = None
    recon = os.path.join(folder, RECONSTRUCTION)
    if os.path.isfile(recon):
        saved = load_npz(recon)
        fit, target = saved.get("fit"), saved.get("target")
    label = model_label(config.get("model"))
    records = results.get("records", [])
    cache = {}

    def figures():
        if "figs" not in cache:
            cache["figs"] = train_figures(grid=grid, label=label, records=records,
                                          regions=regions, fit=fit, target=target, loss=loss,
                                          lc=lc)
        return cache["figs"]

    loss = results.get("loss") or []
    two_d = len(grid.get("grid_shape", ())) == 2
    present = {"loss": bool(loss), "fit": fit is not None or (regions and not two_d),
               "region_map": bool(regions) and two_d,
               "region_maps_over_training": len(regions) > 1, "curves": bool(records),
               "lc_map": last_lc_record(records, lc) is not None}
    for name in TRAIN_WHAT:
        if present[name] and _wanted(what, TRAIN_WHAT[name]):
            plan.add_figure(os.path.join(out, name), lambda n=name: figures()[n])
    if two_d and len(regions) > 1 and _wanted(what, "animation"):
        plan.add_animation(os.path.join(out, TRAIN_ANIMATION), lambda stem, formats:
                           write_region_animation(regions, stem, grid=grid, label=label,
                                                  formats=formats))


def write_train_figures(folder: str) -> list[str]:
    """`specbias train`'s figures in its run folder (PNG + PDF, the animation as GIF); they
    replace the run's own figures of an earlier --resume."""
    plan = Plan()
    plan_train_run(folder, folder, set(), plan)
    return plan.write(["png", "pdf"], ["gif"], DEFAULT_DPI, overwrite=True)


# --------------------------------------------------------------------------- analyses
def analysis_outputs(folder: str) -> list[str]:
    """The summaries (.json) of the analyses in ``folder`` that have their arrays beside."""
    found = []
    for path in sorted(glob.glob(os.path.join(folder, "*regions_*.json"))):
        stem = path[:-5]
        if os.path.isfile(stem + ".npz") and not os.path.basename(stem).startswith("ensemble_"):
            found.append(path)
    return found


def plan_analysis(summary_path: str, out: str, what: set, cmap: Optional[str],
                  plan: Plan) -> None:
    stem = summary_path[:-5]
    name = os.path.basename(stem)
    summary = _json(summary_path)
    arrays = load_npz(stem + ".npz")
    maps = load_npz(stem + "_maps.npz") if os.path.isfile(stem + "_maps.npz") else {}
    if "ids" not in arrays:
        return
    cache = {}

    def figures():
        if "figs" not in cache:
            cache["figs"] = analysis_figures(summary, arrays, maps, cmap=cmap)
        return cache["figs"]

    one_d = len(summary.get("grid_shape", ())) == 1
    for suffix, kind in ANALYSIS_WHAT.items():
        kind = "fit" if one_d and suffix == "" else kind
        if _wanted(what, kind) and suffix in _analysis_suffixes(summary, arrays, maps):
            plan.add_figure(os.path.join(out, name + suffix),
                            lambda s=suffix: figures()[s])


def _analysis_suffixes(summary, arrays, maps) -> set:
    """Which analysis figures the files can give (without drawing them)."""
    if "ids" not in arrays:
        return set()
    if len(summary.get("grid_shape", ())) == 1:
        return {""}
    have = {""}
    if "hamming_axis0" in maps:
        have.add("_hamming")
    if "neuron_on" in maps or "first_layer_weight" in maps:
        have.add("_neurons")
    if "boundary_distance" in maps:
        have |= {"_boundary", "_slope"}
    if "grad_norm" in maps:
        have.add("_grad_norm")
    if "coherence" in arrays:
        have.add("_coherence")
    if "lc_counts" in arrays and summary.get("local_complexity"):
        have.add("_lc")
    return have


# --------------------------------------------------------------------------- monitor folders
def is_monitor_folder(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "records.jsonl"))


def plan_monitor(folder: str, out: str, what: set, plan: Plan) -> None:
    with open(os.path.join(folder, "records.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    settings_path = os.path.join(folder, "settings.json")
    settings = _json(settings_path) if os.path.isfile(settings_path) else {}
    step_name = next((k for k in ("step", "epoch") if records and k in records[0]), "step")
    if records and _wanted(what, "curves"):
        plan.add_figure(os.path.join(out, "curves"),
                        lambda: record_curves(records, step_name=step_name))
    arrays = {}
    for path in sorted(glob.glob(os.path.join(folder, "arrays", "*.npz"))):
        step = os.path.splitext(os.path.basename(path))[0].rsplit("_", 1)[-1]
        for k, v in load_npz(path).items():
            if k in ("region_ids", "region_keys") and step.isdigit():
                arrays[f"{k}_{step_name[0]}{int(step):06d}"] = v
    regions = [r for r in region_records(arrays) if np.ndim(r.ids) == 2]
    grid = {"kind": "index", "shape": settings.get("grid_shape") or
            (list(np.shape(regions[0].ids)) if regions else None)}
    if len(regions) > 1 and _wanted(what, "regions-over-training"):
        plan.add_figure(os.path.join(out, "region_maps_over_training"),
                        lambda: region_maps_over_training(spread(regions, MAX_PANELS),
                                                          grid=grid, step_name=step_name))
    if len(regions) > 1 and _wanted(what, "animation"):
        plan.add_animation(os.path.join(out, TRAIN_ANIMATION), lambda stem, formats:
                           write_region_animation(regions, stem, grid=grid,
                                                  step_name=step_name, formats=formats))


# --------------------------------------------------------------------------- reproduce
def is_reproduce_folder(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "claims.json"))


def plan_reproduce(folder: str, out: str, what: set, plan: Plan) -> None:
    """Every experiment's saved region maps over training (panels and animation)."""

    for results_path in sorted(glob.glob(os.path.join(folder, "*", "results.json"))):
        exp = os.path.dirname(results_path)
        arrays_path = os.path.join(exp, "arrays.npz")
        if not os.path.isfile(arrays_path):
            continue
        results = _json(results_path)
        arrays = load_npz(arrays_path)
        grid = {"grid_shape": results.get("settings", {}).get("task", {}).get("grid_shape")}
        labels = results.get("series", {}).get("region_map_labels", {})
        for prefix in region_prefixes(arrays):
            regions = region_records(arrays, prefix)
            if len(regions) < 2 or np.ndim(regions[0].ids) != 2:
                continue
            label = labels.get(prefix, prefix.rstrip("_"))
            grid_p = dict(grid, coord_range=results.get("series", {})
                          .get("region_map_ranges", {}).get(prefix, [0.0, 1.0]))
            stem = os.path.join(out, os.path.basename(exp),
                                f"{prefix.rstrip('_') or 'model'}_region_maps")
            if _wanted(what, "regions-over-training"):
                plan.add_figure(stem, lambda r=regions, g=grid_p, lab=label:
                                region_maps_over_training(spread(r, MAX_PANELS), grid=g,
                                                          label=lab))
            if _wanted(what, "animation"):
                plan.add_animation(stem, lambda s, formats, r=regions, g=grid_p, lab=label:
                                   write_region_animation(r, s, grid=g, label=lab,
                                                          formats=formats))


# --------------------------------------------------------------------------- the command
def parse_what(text: Optional[str]) -> set:
    if not text or text == "all":
        return set()
    what = {w.strip() for w in text.split(",") if w.strip()}
    unknown = sorted(what - set(WHAT))
    if unknown:
        raise ValueError(f"--what {text!r}: unknown {', '.join(unknown)}; expected any of "
                         f"{', '.join(WHAT)} (comma-separated) or all")
    return what


def parse_formats(text: str) -> tuple[list, list]:
    """(figure formats, animation formats) of ``--format``."""
    items = [f.strip().lower() for f in text.split(",") if f.strip()]
    known = FIGURE_FORMATS + ANIMATION_FORMATS
    bad = [f for f in items if f not in known]
    if bad or not items:
        raise ValueError(f"--format {text!r}: expected any of {', '.join(known)}, "
                         "comma-separated")
    return (check_formats([f for f in items if f in FIGURE_FORMATS], FIGURE_FORMATS,
                          "--format"),
            check_formats([f for f in items if f in ANIMATION_FORMATS], ANIMATION_FORMATS,
                          "--format"))


def check_cmap(name: Optional[str]) -> Optional[str]:
    if name is not None and name not in colormaps:
        raise ValueError(f"--cmap {name!r}: not a matplotlib colormap (e.g. viridis, magma, "
                         "cividis)")
    return name


def plan_run(run: str, out: str, what: set, cmap: Optional[str]) -> Plan:
    """Everything RUN's files can give; a ValueError when they give nothing."""
    plan = Plan()
    if os.path.isfile(run) and run.endswith(".json"):
        plan_analysis(run, out, what, cmap, plan)
    elif os.path.isdir(run):
        if is_train_run(run):
            plan_train_run(run, out, what, plan)
        for summary in analysis_outputs(run):
            plan_analysis(summary, out, what, cmap, plan)
        if is_monitor_folder(run):
            plan_monitor(run, out, what, plan)
        if is_reproduce_folder(run):
            plan_reproduce(run, out, what, plan)
    else:
        raise ValueError(f"RUN {run!r}: no such folder or analysis .json file")
    if not plan.figures and not plan.animations:
        asked = f" of --what {','.join(sorted(what))}" if what else ""
        raise ValueError(f"RUN {run!r}: nothing to draw{asked}; expected a `specbias train` "
                         "folder, a `specbias analyze` output (regions_<grid>.json/.npz), a "
                         "monitor folder (records.jsonl) or a `specbias reproduce` folder")
    return plan


def plot_command(args) -> None:
    what = parse_what(args.what)
    fig_formats, anim_formats = parse_formats(args.format)
    if args.dpi < 10 or args.dpi > 1200:
        raise ValueError(f"--dpi {args.dpi}: expected 10 to 1200")
    cmap = check_cmap(args.cmap)
    run = args.run.rstrip(os.sep) or args.run
    out = args.out or os.path.join(run if os.path.isdir(run) else os.path.dirname(run) or ".",
                                   "plots")
    check_writable_folder(out, "--out")
    plan = plan_run(run, out, what, cmap)
    written = plan.write(fig_formats, anim_formats, args.dpi, args.overwrite)
    if not written:
        raise ValueError(f"--format {args.format!r}: none of the figures of {run!r} come in "
                         "these formats (figures: png, pdf, svg; animations: gif, mp4)")
    print(f"wrote {len(written)} files to {out}: "
          + ", ".join(os.path.relpath(p, out) for p in written))
