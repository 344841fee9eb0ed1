"""The files of a grid analysis: ``<name>.json`` (the summary, and apart from it under
"provenance" what produced it), ``<name>.npz`` (per-region and per-neuron arrays) and
``<name>_ids.npy`` (the region id of every point) and, with the local complexity, beside it
``<name>_lc.npy`` (every point's total, ``lc_file_path``), all written atomically.

The summary and the arrays are identical whatever the number of processes; the provenance
(``runs.provenance``: version, git commit, command, date, device, number of processes) is not,
so readers that compare runs compare the file without it (``runs.provenance.without_provenance``).
"""
from __future__ import annotations

import os
from typing import Optional

from ..runs.files import atomic_save_npz, atomic_write_json
from ..runs.provenance import with_provenance
from .result import GridAnalysis


def output_name(grid: dict) -> str:
    """The default name of a grid's files: ``regions_<shape>`` (``regions_256x256``)."""
    return "regions_" + "x".join(str(s) for s in grid["shape"])


def ids_file_path(out: str, name: Optional[str], grid: dict) -> str:
    """``<out>/<name>_ids.npy`` (``name`` defaults to ``output_name(grid)``)."""
    return os.path.join(out, f"{name or output_name(grid)}_ids.npy")


def lc_file_path(ids_path: str) -> str:
    """The file of every point's local-complexity total beside the ids file ``ids_path``: its
    name with ``_ids.npy`` (for another name ``.npy``, or nothing) replaced by ``_lc.npy``
    (``regions_256x256_ids.npy`` -> ``regions_256x256_lc.npy``, ``ids.npy`` -> ``ids_lc.npy``;
    never ``ids_path`` itself, which would then end in ``_lc_lc.npy``)."""
    folder, base = os.path.split(os.fspath(ids_path))
    for ending in ("_ids.npy", ".npy"):
        if base.endswith(ending):
            base = base[:-len(ending)]
            break
    return os.path.join(folder, base + "_lc.npy")


def output_arrays(result: GridAnalysis) -> dict:
    """The per-region and per-neuron arrays of a result, by the names of the ``.npz`` file."""
    arrays = {"region_counts": result.region_counts, "neighbor_hist": result.neighbor_hist,
              "bit_counts": result.bit_counts}
    if result.lc_hist is not None:
        arrays.update(lc_total_hist=result.lc_hist, lc_layer_sums=result.lc_layer_sums)
    if result.region_grads is not None:
        arrays.update(norm_of_sum=result.region_grads.norm_of_sum,
                      sum_of_norms=result.region_grads.sum_of_norms,
                      coherence=result.region_grads.coherence)
    return arrays


def write_outputs(result: GridAnalysis, out: str, name: Optional[str] = None, *, device=None,
                  processes: Optional[int] = None) -> dict:
    """Atomically write ``<name>.json`` (summary, then its provenance on ``device`` with
    ``processes`` processes) and ``<name>.npz`` (region sizes, neighbour histograms, neuron
    on-counts, with region gradients ``norm_of_sum``, ``sum_of_norms``, ``coherence``, and with
    the local complexity ``lc_total_hist`` (points per total) and ``lc_layer_sums``) into
    ``out``; return the paths. The summary names the ids and local-complexity files
    (``ids_file``, ``lc_file``) when the analysis wrote them."""
    name = name or output_name(result.grid)
    summary = result.summary()
    if result.ids_path is not None:
        summary["ids_file"] = os.path.basename(result.ids_path)
    if result.lc_path is not None:
        summary["lc_file"] = os.path.basename(result.lc_path)
    json_path = os.path.join(out, f"{name}.json")
    npz_path = os.path.join(out, f"{name}.npz")
    atomic_save_npz(npz_path, **output_arrays(result))
    atomic_write_json(json_path, with_provenance(summary, device, processes))
    return {"summary": json_path, "arrays": npz_path}
