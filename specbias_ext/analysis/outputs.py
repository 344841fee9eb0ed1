"""The files of a grid analysis: ``<name>.json`` (the summary, and apart from it under
"provenance" what produced it), ``<name>.npz`` (per-region and per-neuron arrays) and
``<name>_ids.npy`` (the region id of every point), all written atomically.

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


def output_arrays(result: GridAnalysis) -> dict:
    """The per-region and per-neuron arrays of a result, by the names of the ``.npz`` file."""
    arrays = {"region_counts": result.region_counts, "neighbor_hist": result.neighbor_hist,
              "bit_counts": result.bit_counts}
    if result.region_grads is not None:
        arrays.update(norm_of_sum=result.region_grads.norm_of_sum,
                      sum_of_norms=result.region_grads.sum_of_norms,
                      coherence=result.region_grads.coherence)
    return arrays


def write_outputs(result: GridAnalysis, out: str, name: Optional[str] = None, *, device=None,
                  processes: Optional[int] = None) -> dict:
    """Atomically write ``<name>.json`` (summary, then its provenance on ``device`` with
    ``processes`` processes) and ``<name>.npz`` (region sizes, neighbour histograms, neuron
    on-counts, and with region gradients ``norm_of_sum``, ``sum_of_norms``, ``coherence``) into
    ``out``; return the paths."""
    name = name or output_name(result.grid)
    summary = result.summary()
    if result.ids_path is not None:
        summary["ids_file"] = os.path.basename(result.ids_path)
    json_path = os.path.join(out, f"{name}.json")
    npz_path = os.path.join(out, f"{name}.npz")
    atomic_save_npz(npz_path, **output_arrays(result))
    atomic_write_json(json_path, with_provenance(summary, device, processes))
    return {"summary": json_path, "arrays": npz_path}
