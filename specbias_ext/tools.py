"""`specbias train` (one configuration from flags) and `specbias analyze` (region analysis of a
saved model on a grid of any size)."""
from __future__ import annotations

import io
import os

import numpy as np
import torch

from . import plots
from . import ops
from .grids import grid_coords
from .results import atomic_save_npz, atomic_write_json
from .signals import load_image, sum_of_sines
from .experiments.runner import check_device
from .mlp import hidden_widths

IMAGES = ("camera", "astronaut", "coffee", "chelsea", "noise")


def _parse_range(text: str) -> tuple:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--range {text!r}: expected lo,hi such as 0,1 or -1,1") from None
    if not hi > lo:
        raise ValueError(f"--range {text!r}: expected lo < hi")
    return lo, hi


def _parse_grid(text: str) -> tuple:
    try:
        shape = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--grid {text!r}: expected N (1D) or HxW (2D)") from None
    if len(shape) not in (1, 2) or min(shape) < 2:
        raise ValueError(f"--grid {text!r}: expected N or HxW with sizes >= 2")
    return shape


def _freqs(n: int) -> list[int]:
    """The paper's frequencies 5, 10, ..., 70, keeping those below Nyquist for small grids."""
    return [k for k in range(5, 75, 5) if 2 * k < n]


def _target(args):
    if args.signal == "sines":
        return sum_of_sines(args.n, _freqs(args.n)).y.reshape(-1, 1), (args.n,)
    if args.signal in IMAGES or os.path.exists(args.signal):
        img = load_image(args.signal, size=args.size, grey=True)
        return img.reshape(-1, img.shape[-1]), tuple(img.shape[:2])
    raise ValueError(f"--signal {args.signal!r}: expected 'sines', one of {', '.join(IMAGES)} "
                     "or an existing image path")


def region_summary(x, weights, biases) -> tuple[dict, torch.Tensor]:
    p = ops.activation_patterns(x, weights, biases)
    ids, counts = ops.region_ids(p)
    bits = ops.bit_counts(p, sum(hidden_widths(weights)))
    return {"regions": int(counts.numel()), "largest_region": int(counts.max()) if counts.numel() else 0,
            "dead_neurons": int((bits == 0).sum()), "always_on": int((bits == p.shape[0]).sum())}, ids


def _recorder_config(shape, seed: int):
    """The paper's pair settings, reduced where a small grid has fewer distinct pairs."""
    from .recorder import RecorderConfig

    if len(shape) == 1:
        window = min(50, max(2, shape[0] // 4))
        far = int(0.4 * shape[0])
        return RecorderConfig(seed=seed, window=window,
                              pairs_per_window=min(250, window * (window - 1) // 2),
                              global_pairs=min(5000, far * far // 2))
    patch = min(8, max(2, min(shape) // 4))
    corner = int(0.25 * shape[0]) * int(0.25 * shape[1])
    return RecorderConfig(seed=seed, patch=patch,
                          pairs_per_patch=min(250, patch ** 2 * (patch ** 2 - 1) // 2),
                          corner_pairs=min(5000, corner * corner // 2))


def train_command(args) -> None:
    """One CoordinateMLP trained by specbias_ext.training with the full Recorder."""
    from .models import CoordinateMLP
    from .recorder import Recorder, RecorderConfig
    from .training import TrainConfig, train

    check_device(args.device)
    lo_hi = _parse_range(args.coord_range)
    target, shape = _target(args)
    coords = grid_coords(shape, lo_hi)
    model = CoordinateMLP(args.encoding, args.depth, args.width, out_dim=target.shape[1],
                          seed=args.seed, in_dim=len(shape))
    freqs = _freqs(args.n) if args.signal == "sines" else None
    recorder = Recorder(coords, shape, target, _recorder_config(shape, args.seed),
                        signal_freqs=freqs)
    config = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch, seed=args.seed,
                         device=args.device, record_every=args.record_every, quiet=args.quiet,
                         checkpoint_every=args.record_every)
    os.makedirs(args.out, exist_ok=True)
    atomic_write_json(os.path.join(args.out, "grid.json"),
                            {"grid_shape": list(shape), "coord_range": list(lo_hi),
                             "signal": args.signal})
    result = train(model, coords, target, config, recorder=recorder, run_dir=args.out,
                   resume=args.resume)
    last = result.records[-1] if result.records else {}
    print(f"trained {result.epochs} epochs in {result.timings['train_seconds']:.1f}s (records "
          f"{result.timings['record_seconds']:.1f}s); final loss {result.loss[-1]:.4g}, "
          f"{last.get('regions', '?')} regions; wrote {args.out}/checkpoint.pt, results.json, "
          "arrays.npz")


def analyze_command(args) -> None:
    device = check_device(args.device)
    if not os.path.exists(args.checkpoint):
        raise ValueError(f"checkpoint {args.checkpoint!r} does not exist; write one with "
                         "`specbias train --out DIR`")
    from .models import CoordinateMLP

    ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    if "model_config" not in ckpt or "model" not in ckpt:
        raise ValueError(f"{args.checkpoint}: not a checkpoint of `specbias train` "
                         "(no model_config/model)")
    model = CoordinateMLP.from_config(ckpt["model_config"])
    model.load_state_dict(ckpt["model"])
    grid_file = os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "grid.json")
    saved = {}
    if os.path.exists(grid_file):
        import json
        with open(grid_file) as f:
            saved = json.load(f)
    dims = model.encoding.in_dim
    if args.grid:
        shape = _parse_grid(args.grid)
    elif "grid_shape" in saved:
        shape = tuple(saved["grid_shape"])
    else:
        raise ValueError("--grid: no grid.json beside the checkpoint; pass --grid N or HxW")
    if len(shape) != dims:
        raise ValueError(f"--grid {args.grid!r}: the model takes {dims}D coordinates")
    coords = grid_coords(shape, tuple(saved.get("coord_range", (0.0, 1.0))))
    model.to(device)
    x = model.encode(coords.to(device)).detach()
    w, b = (list(t) for t in model.mlp_params())
    w, b = [t.detach() for t in w], [t.detach() for t in b]
    stats, ids = region_summary(x, w, b)
    out = args.out or os.path.dirname(os.path.abspath(args.checkpoint))
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
