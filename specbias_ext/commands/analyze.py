"""`specbias analyze`: region analysis of a model saved by `specbias train` on a grid of any
size (region map, region count, dead / always-on neurons)."""
from __future__ import annotations

import json
import os

import numpy as np
import torch

from .. import measure
from ..devices import check_device
from ..grids import grid_coords
from ..networks import relu_network
from ..output_checks import check_writable_folder
from ..results import atomic_save_npz, atomic_write_json, load_checkpoint_file


def parse_grid(text: str) -> tuple:
    try:
        shape = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--grid {text!r}: expected N (1D) or HxW (2D) with whole numbers, "
                         "such as 512 or 256x256") from None
    if len(shape) not in (1, 2) or min(shape) < 2:
        raise ValueError(f"--grid {text!r}: expected N or HxW with sizes >= 2")
    return shape


def bytes_per_point(model) -> int:
    """What the in-memory analysis holds per grid point: float64 coordinates and their float32
    copy, the encoded inputs (float32, plus the float64 encoding pass), the packed activation
    pattern (twice: patterns and their sorted copy), and the region id and inverse index (int64);
    pre-activations are computed tile by tile and do not grow with the grid."""
    dims = model.encoding.in_dim
    enc = model.encoding.out_dim
    neurons = model.depth * model.width
    words = -(-neurons // 64)
    return 12 * dims + 12 * enc + 2 * 8 * words + 2 * 8 + 8


def check_grid_memory(shape: tuple, model, available=None) -> None:
    """Refuse a grid whose estimated footprint exceeds the available memory."""
    from ..output_checks import available_memory_bytes

    points = 1
    for s in shape:
        points *= int(s)
    need = points * bytes_per_point(model)
    available = available_memory_bytes() if available is None else available
    if available is not None and need > available:
        grid = "x".join(map(str, shape))
        raise ValueError(f"--grid {grid}: about {need / 2**30:.1f} GiB needed "
                         f"({points} points x {bytes_per_point(model)} bytes), "
                         f"{available / 2**30:.1f} GiB available; use a smaller --grid")


def region_summary(x: torch.Tensor, net) -> tuple[dict, torch.Tensor]:
    """({regions, largest_region, dead_neurons, always_on}, region ids) of ``net`` on ``x``."""
    patterns = measure.patterns(x, net)
    regions = measure.region_stats(patterns)
    activity = measure.neuron_activity(patterns, net)
    largest = int(regions.counts.max()) if regions.count else 0
    return {"regions": regions.count, "largest_region": largest,
            "dead_neurons": activity.dead, "always_on": activity.always_on}, regions.ids


def _load(checkpoint: str):
    from ..models import CoordinateMLP

    if not os.path.exists(checkpoint):
        raise ValueError(f"checkpoint {checkpoint!r} does not exist; write one with "
                         "`specbias train --out DIR`")
    ckpt = load_checkpoint_file(checkpoint, map_location="cpu")
    if not isinstance(ckpt, dict) or "model_config" not in ckpt or "model" not in ckpt:
        raise ValueError(f"{checkpoint}: not a checkpoint of `specbias train` "
                         "(no model_config/model); pass the checkpoint.pt of a train run")
    try:
        model = CoordinateMLP.from_config(ckpt["model_config"])
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{checkpoint}: its weights do not fit the model it describes "
                         f"({first}); the file is damaged or from another program") from None
    grid_file = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), "grid.json")
    saved = {}
    if os.path.exists(grid_file):
        try:
            with open(grid_file) as f:
                saved = json.load(f)
        except (OSError, ValueError) as err:
            raise ValueError(f"{grid_file}: cannot read it ({err}); pass --grid") from None
    return model, saved


def analyze_command(args) -> None:
    from ..experiments import plots

    device = check_device(args.device)
    model, saved = _load(args.checkpoint)
    dims = model.encoding.in_dim
    if args.grid:
        shape = parse_grid(args.grid)
    elif "grid_shape" in saved:
        shape = tuple(saved["grid_shape"])
    else:
        raise ValueError("--grid: no grid.json beside the checkpoint; pass --grid N or HxW")
    if len(shape) != dims:
        raise ValueError(f"--grid {args.grid!r}: the model takes {dims}D coordinates")
    out = args.out or os.path.dirname(os.path.abspath(args.checkpoint))
    check_writable_folder(out, "--out")
    check_grid_memory(shape, model)
    coords = grid_coords(shape, tuple(saved.get("coord_range", (0.0, 1.0))))
    model.to(device)
    with torch.no_grad():
        x = model.encode(coords.to(device))
    stats, ids = region_summary(x, relu_network(model).detach())
    ids_np = ids.cpu().numpy()
    fig, axes = plots.new_figure(width=5, height=4)
    if len(shape) == 1:
        with torch.no_grad():
            fit = model(coords.to(device))[:, 0].cpu().numpy()
        plots.region_map_1d(axes[0][0], coords[:, 0].numpy(), fit, np.full(shape[0], np.nan),
                            ids_np, str(model.encoding.describe().get("kind", "")))
    else:
        plots.region_map_2d(axes[0][0], ids_np.reshape(shape),
                            title=f"{stats['regions']} regions on {shape[0]}x{shape[1]}")
    grid = "x".join(map(str, shape))
    figs = plots.save(fig, out, f"regions_{grid}")
    atomic_save_npz(os.path.join(out, f"regions_{grid}.npz"), ids=ids_np.reshape(shape))
    atomic_write_json(os.path.join(out, f"regions_{grid}.json"),
                      {"grid_shape": list(shape), **stats})
    print(f"{stats['regions']} regions on a {grid} grid ({stats['dead_neurons']} dead, "
          f"{stats['always_on']} always-on neurons); map: {figs[0]}")
