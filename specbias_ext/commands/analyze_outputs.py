"""What `specbias analyze` writes and under which names: every setting that changes a result is
in its name, nothing another run or the user wrote is replaced (runs.ownership), region ids go
to memory, a file or nowhere by what fits, and small 1D/2D grids get a region map.

Names: ``<label>_regions_<grid>[_range<lo>_<hi>][_slice-<hash>][_grads][_boundary]
[_neurons-<list>]`` with ``.json``/``.npz`` (``_ids.npy`` for region ids on disk, and with
--lc ``_lc.npy`` beside it for every point's local complexity, ``analysis.outputs.lc_file_path``;
on a drawn grid ``_maps.npz`` and the maps ``<suffix>.png``/``.pdf``, the suffixes of
``plots.analysis_figures.FIGURES``; with the ids on disk, only the local-complexity map
``_lc.png``/``.pdf`` of a 2D grid small enough to draw), where
``<label>`` tells the checkpoint apart (its file name without extension, the run's folder name
for the checkpoint.pt of a train run; for an ensemble the shortest tail of the paths that tells
them apart), ``<grid>`` is ``N``, ``HxW`` or ``DxHxW``,
the range part appears when the range is not the checkpoint's training range (0,1 without
one), the slice part is a short hash of the plane's ORIGIN;U;V (written out in the .json), and
the neurons part lists the --neurons drawn (a hash when the list is long).
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from ..analysis.outputs import lc_file_path
from ..nets.network import ReluNetwork, relu_network
from ..plots.analysis_figures import FIGURES, LC_FIGURE
from ..runs.output_checks import (
    ID_BYTES, available_memory_bytes, check_memory, fits_in_memory, free_disk_bytes, gib,
)
from ..runs.files import RunDirectory
from ..runs.ownership import FolderInUse, Ownership, claim_accumulating
from .analyze_models import Resolved, default_range
from .analyze_request import AnalyzeRequest

#: Largest grids drawn as a region map (points); larger ones write numbers only.
MAX_MAP_POINTS = {1: 1 << 20, 2: 4096 * 4096}
#: The writer name in the output folder's record (runs.ownership).
WRITER = "analyze"
#: The file name of a `specbias train` checkpoint.
TRAIN_CHECKPOINT = RunDirectory.CHECKPOINT


def grid_tag(request: AnalyzeRequest, shape, saved: dict) -> str:
    """The settings part of the output names (see the module docstring)."""
    parts = ["x".join(map(str, shape))]
    if request.plane is not None:
        text = json.dumps([list(map(float, v)) for v in request.plane])
        parts.append("slice-" + hashlib.sha256(text.encode()).hexdigest()[:8])
    elif request.coord_range is not None and \
            tuple(request.coord_range) != tuple(default_range(saved)):
        lo, hi = request.coord_range
        parts.append(f"range{lo!r}_{hi!r}")
    if request.grads:
        parts.append("grads")
    if request.boundary:
        parts.append("boundary")
    if request.neurons:
        listed = "-".join(f"{layer}.{index}" for layer, index in request.neurons)
        parts.append("neurons-" + (listed if len(listed) <= 32 else
                                   hashlib.sha256(listed.encode()).hexdigest()[:8]))
    return "_".join(parts)


#: Labels a member of an ensemble cannot take (the ensemble's own file would have its name).
RESERVED_LABELS = ("ensemble",)


def member_labels(paths) -> list[str]:
    """Distinct labels for the output files of several checkpoints: the shortest tail of their
    paths (folders, then the file name without its extension, joined by '_') that tells them
    apart, ignoring case; the file name is left out when every checkpoint has the same one (the
    checkpoint.pt of `specbias train` runs: runs/pe4/s0/checkpoint.pt -> "s0"). Leading dots
    are dropped (no hidden files); a label is never "ensemble"."""
    parts = []
    for p in paths:
        a = os.path.abspath(os.fspath(p))
        folders = [c for c in os.path.dirname(a).split(os.sep) if c]
        stem = os.path.splitext(os.path.basename(a))[0] or os.path.basename(a)
        parts.append(folders + [stem])
    same_file = len(parts) > 1 and \
        len({os.path.basename(os.path.abspath(os.fspath(p))) for p in paths}) == 1
    if same_file:
        parts = [c[:-1] or c for c in parts]

    def clean(label: str) -> str:
        return label.lstrip(".") or "_"

    for k in range(1, max(len(c) for c in parts) + 1):
        labels = [clean("_".join(c[-k:])) for c in parts]
        keys = [label.casefold() for label in labels]
        if len(set(keys)) == len(keys) and not set(keys) & set(RESERVED_LABELS):
            return labels
    # distinct paths that still join to the same label ("a_b/c" and "a/b_c"): number them
    return [f"{i}_{clean(c[-1])}" for i, c in enumerate(parts)]


def checkpoint_label(path) -> str:
    """The label of one checkpoint's output names: its file name without the extension, or for
    the checkpoint.pt of a `specbias train` run the run's folder name (runs/pe4/checkpoint.pt
    -> "pe4"), so that runs analysed into one --out keep apart."""
    a = os.path.abspath(os.fspath(path))
    folder = os.path.basename(os.path.dirname(a))
    if os.path.basename(a) == TRAIN_CHECKPOINT and folder:
        return folder.lstrip(".") or "_"
    return member_labels([path])[0]


def choose_ids(mode: str, points: int, folder: str, available=None, free_disk=None,
               memory_bytes_per_point: int = ID_BYTES, file_bytes_per_point: int = ID_BYTES
               ) -> str:
    """Where the per-point region ids go: memory when they (and what is kept per point beside
    them, ``memory_bytes_per_point`` in all) fit in a quarter of the available memory, else a
    memory-mapped .npy file when the disk has room for it (and for what is written per point
    beside it, ``file_bytes_per_point`` in all); refused otherwise."""
    need = file_bytes_per_point * points
    in_memory = memory_bytes_per_point * points
    available = available_memory_bytes() if available is None else available
    if mode in ("memory", "auto") and fits_in_memory(in_memory, 0.25, available):
        return "memory"
    if mode == "memory":
        raise ValueError(f"--ids memory: the ids need about {gib(in_memory)}, {gib(available)} "
                         "available; use --ids file or --ids none, or a smaller --grid")
    if mode == "none":
        return "none"
    free_disk = free_disk_bytes(folder) if free_disk is None else free_disk
    if need > free_disk:
        what = "ids" if file_bytes_per_point == ID_BYTES else "ids and what goes beside them"
        grid_msg = f"about {gib(need)} of {what} ({points} points x {file_bytes_per_point} bytes)"
        raise ValueError(f"--grid: {grid_msg} fit neither in memory "
                         f"({gib(available or 0)} available) nor on disk "
                         f"({gib(free_disk)} free in {folder!r}); use --ids none "
                         "for the statistics alone, or a smaller --grid")
    return "file"


def check_tile(request: AnalyzeRequest, resolved: Resolved) -> None:
    """Refuse a --tile whose coordinates, encoded inputs and activations (forward and the
    pattern bits) do not fit, before the first tile is allocated."""
    net = resolved.target if isinstance(resolved.target, ReluNetwork) \
        else relu_network(resolved.module)
    # coordinates, encoded inputs, two layers' activations, the pattern bits and the id
    per_point = 4 * (resolved.dims + net.in_dim + 2 * max(net.hidden_widths, default=1)) + \
        sum(net.hidden_widths) // 8 + ID_BYTES
    check_memory(request.tile * per_point,
                 f"--tile {request.tile}: one tile ({per_point} bytes a point for this model)",
                 "use a smaller --tile")


def small_enough_to_draw(shape) -> bool:
    """A 1D/2D grid of at most ``MAX_MAP_POINTS`` points."""
    return len(shape) < 3 and int(np.prod(shape)) <= MAX_MAP_POINTS.get(len(shape), 0)


def will_draw(ids_mode: str, shape) -> bool:
    """A region map is drawn for ids kept in memory on a 1D/2D grid small enough to show."""
    return ids_mode == "memory" and small_enough_to_draw(shape)


def will_draw_lc_from_file(ids_mode: str, shape, lc: bool) -> bool:
    """With the ids in a file no map needs them, but with --lc the local-complexity heat map of
    a 2D grid small enough to show is drawn from the file of every point's total."""
    return lc and ids_mode == "file" and len(shape) == 2 and small_enough_to_draw(shape)


def output_files(name: str, ids_mode: str, drawn: bool = False, lc: bool = False,
                 lc_map_from_file: bool = False) -> list[str]:
    """Every file an analysis named ``name`` may write (checked and recorded before any is):
    with ``lc`` (--lc) and the ids in a file, the file of every point's local complexity too,
    and with ``lc_map_from_file`` its heat map."""
    files = [f"{name}.json", f"{name}.npz"]
    if ids_mode == "file":
        ids_name = f"{name}_ids.npy"
        files.append(ids_name)
        if lc:
            files.append(lc_file_path(ids_name))
    if drawn:
        files += [f"{name}_maps.npz"] + [f"{name}{suffix}.{ext}" for suffix in FIGURES
                                         for ext in ("png", "pdf")]
    elif lc_map_from_file:
        files += [f"{name}{LC_FIGURE}.{ext}" for ext in ("png", "pdf")]
    return files


def _recorded_sources(out: str, name: str) -> list[str]:
    """The checkpoints an existing output ``name`` in ``out`` was computed from (its own .json
    for one checkpoint, the ensembles' .json for a member), as recorded there."""
    sources = []
    try:
        with open(os.path.join(out, f"{name}.json")) as f:
            own = json.load(f)
        if isinstance(own, dict) and isinstance(own.get("source"), str):
            sources.append(own["source"])
    except (OSError, ValueError):
        pass
    for entry in os.scandir(out) if os.path.isdir(out) else ():
        if entry.name.startswith("ensemble_regions_") and entry.name.endswith(".json"):
            try:
                with open(entry.path) as f:
                    members = json.load(f).get("members", [])
                sources += [m["source"] for m in members
                            if m.get("name") == name and isinstance(m.get("source"), str)]
            except (OSError, ValueError, AttributeError, TypeError, KeyError):
                continue
    return sources


def claim_outputs(request: AnalyzeRequest, out: str, files: list[str],
                  sources: dict[str, str]) -> Ownership:
    """Claim ``out`` for analyze and check that every output file may be written: nothing the
    user or another command wrote, and no output of the same name computed from another
    checkpoint (``sources``: output name -> checkpoint path), unless --overwrite."""
    own = claim_accumulating(out, WRITER, overwrite=request.overwrite,
                             how_to_overwrite="--overwrite", command=request.command_line)
    for f in files:
        own.check_writable(f)
    if request.overwrite:
        return own
    for name, source in sources.items():
        for earlier in _recorded_sources(out, name):
            if os.path.realpath(earlier) != os.path.realpath(source):
                raise FolderInUse(
                    f"--out {out!r}: {name}.json holds the analysis of {earlier}, another "
                    f"checkpoint than {source} with the same label; pass --overwrite to "
                    "replace it, or choose another --out")
    return own
