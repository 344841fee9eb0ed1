"""`specbias analyze`: region analysis of a saved model on a grid of any size, streamed tile by
tile (region ids and sizes, neighbour Hamming per axis, dead / always-on neurons), optionally
sharded over the processes of `torchrun`, with a region map for grids small enough to draw.

The model is a `specbias train` checkpoint, or the user's own module: `--model pkg.mod:Class`
(built with `--model-args` JSON) and a state-dict file, or with `--whole-module` a module saved
whole with `torch.save(model)`; files are read with `torch.load(weights_only=True)`. A user's
model is analysed from the coordinates with the encoding its forward computes
(``analyze_models``: ``--head``, ``--encoding``).

Several checkpoints make an ensemble (``analyze_ensemble``): each is analysed alone on the grid,
the checkpoints shared out over the processes of `torchrun` (checkpoint k on rank k mod P), and
the statistics across them go to `ensemble_regions_<settings>.json`.

The arguments become an ``AnalyzeRequest`` at the top; the jobs take its fields. Output names
and the ownership of the output folder: ``analyze_outputs``.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ..analysis import analyze_grid, launch, resolve_model
from ..analysis.ids_file import LC_TOTAL_DTYPE
from ..analysis.outputs import output_arrays
from ..plots.frame import count_text
from ..runs.devices import check_device
from ..runs.files import atomic_save_npz, atomic_write_json
from ..runs.output_checks import ID_BYTES, check_writable_folder
from ..runs.provenance import with_provenance
from .analyze_ensemble import ensemble_command
from .analyze_maps import draw_lc_map_from_file, draw_maps
from .analyze_models import build_grid, resolve
from .analyze_outputs import (
    check_tile, checkpoint_label, choose_ids, claim_outputs, grid_tag, output_files, will_draw,
    will_draw_lc_from_file,
)
from .analyze_request import AnalyzeRequest


def single_command(request: AnalyzeRequest, rank: int, device) -> None:
    """One checkpoint: its region statistics (and a map when small) into --out."""
    checkpoint = request.checkpoints[0]
    resolved = resolve(request, checkpoint)
    grid, shape = build_grid(request, resolved.dims, resolved.saved)
    check_tile(request, resolved)
    out = request.out or os.path.dirname(os.path.abspath(checkpoint))
    check_writable_folder(out, "--out")
    os.makedirs(out, exist_ok=True)
    # with --lc every point's per-layer counts (int32) are kept beside ids in memory, and its
    # total (int32) is written beside ids in a file
    measures_lc = request.lc is not None
    lc_bytes = 0 if not measures_lc else \
        4 * len(resolve_model(resolved.target, resolved.encoding)[0].hidden_widths)
    ids_mode = choose_ids(request.ids, grid.num_points, out,
                          memory_bytes_per_point=ID_BYTES + lc_bytes,
                          file_bytes_per_point=ID_BYTES +
                          (LC_TOTAL_DTYPE.itemsize if measures_lc else 0))
    name = f"{checkpoint_label(checkpoint)}_regions_{grid_tag(request, shape, resolved.saved)}"
    drawn = will_draw(ids_mode, shape)
    lc_map_from_file = will_draw_lc_from_file(ids_mode, shape, measures_lc)
    files = output_files(name, ids_mode, drawn, lc=measures_lc,
                         lc_map_from_file=lc_map_from_file)
    own = claim_outputs(request, out, files, {name: checkpoint})
    if rank == 0:
        own.record(*files)
    resolved.to(device)
    grad_options = {"grad_out": "output", "region_grads": True} if request.grads else {}
    result = analyze_grid(resolved.target, grid, encoding=resolved.encoding, tile=request.tile,
                          ids=ids_mode, out=out if ids_mode == "file" else None, name=name,
                          device=device, boundary=request.boundary,
                          lc_radius=request.lc_radius(grid),
                          **grad_options)
    if rank != 0:
        return
    summary = result.summary()
    stats = {"source": os.path.abspath(checkpoint), "grid": grid.describe(),
             "grid_shape": list(shape), "grads": "output" if request.grads else "none",
             **summary, "always_on": summary["always_on_neurons"], "ids": ids_mode}
    for key, path in (("ids_file", result.ids_path), ("lc_file", result.lc_path)):
        if path is not None:
            stats[key] = os.path.basename(path)
    arrays = output_arrays(result)
    if result.ids is not None:
        arrays["ids"] = result.ids.reshape(shape)
    if result.lc_counts is not None:
        arrays["lc_counts"] = result.lc_counts
    atomic_save_npz(os.path.join(out, f"{name}.npz"), **arrays)
    atomic_write_json(os.path.join(out, f"{name}.json"), with_provenance(stats, device))
    figs, maps_line = [], ""
    if drawn and result.ids is not None:
        figs, maps_line = draw_maps(request, resolved, result, stats,
                                    {k: _numpy(v) for k, v in arrays.items()}, grid, shape,
                                    device, out, name)
    elif lc_map_from_file:
        figs = draw_lc_map_from_file(resolved, stats, result.lc_path, out, name)
    count = count_text(result.num_regions, result.num_points)
    print(f"{count} on a {'x'.join(map(str, shape))} grid ({summary['dead_neurons']} dead, "
          f"{summary['always_on_neurons']} always-on neurons); numbers: "
          f"{os.path.join(out, name + '.json')}")
    lc = summary.get("local_complexity")
    if lc is not None:
        print(f"local complexity (sampled, r = {lc['radius']:.4g}): mean {lc['mean']:.3g}, "
              f"median {lc['median']:.3g}, max {lc['max']:.0f} neurons per point; layer means "
              + ", ".join(f"{m:.3g}" for m in lc["layer_means"]))
    if result.lc_path is not None:
        print(f"local complexity of every point (int32, {'x'.join(map(str, shape))}): "
              f"{result.lc_path}")
    if figs:
        pngs = [os.path.basename(p) for p in figs if p.endswith(".png")]
        print(f"maps in {out}: {', '.join(pngs)} (and PDF)" +
              (f"; {maps_line}" if maps_line else ""))


def _numpy(value):
    return value.cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def analyze_command(args) -> None:
    request = AnalyzeRequest.from_args(args)
    distributed = launch(request.timeout)
    rank = torch.distributed.get_rank() if distributed else 0
    device = check_device(request.device)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if len(request.checkpoints) > 1:
        return ensemble_command(request, rank, device)
    return single_command(request, rank, device)
