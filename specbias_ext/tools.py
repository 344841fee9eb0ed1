"""`specbias train` (one configuration from flags) and `specbias analyze` (region analysis of a
saved model on a grid of any size)."""
from __future__ import annotations

import io
import os

import numpy as np
import torch

from . import plots
from .experiments import layer, opcalls
from .experiments.ensemble import MLPEnsemble, model_slice, train_ensemble
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


def _target(args):
    if args.signal == "sines":
        return layer.sum_of_sines(args.n).y.reshape(-1, 1), (args.n,)
    if args.signal in IMAGES or os.path.exists(args.signal):
        img = layer.load_image(args.signal, size=args.size, grey=True)
        return img.reshape(-1, img.shape[-1]), tuple(img.shape[:2])
    raise ValueError(f"--signal {args.signal!r}: expected 'sines', one of {', '.join(IMAGES)} "
                     "or an existing image path")


def region_summary(x, weights, biases) -> tuple[dict, torch.Tensor]:
    p = opcalls.activation_patterns(x, weights, biases)
    ids, counts = opcalls.region_ids(p)
    bits = opcalls.bit_counts(p, sum(hidden_widths(weights)))
    return {"regions": int(counts.numel()), "largest_region": int(counts.max()) if counts.numel() else 0,
            "dead_neurons": int((bits == 0).sum()), "always_on": int((bits == p.shape[0]).sum())}, ids


def train_command(args) -> None:
    device = check_device(args.device)
    lo_hi = _parse_range(args.coord_range)
    target, shape = _target(args)
    enc = layer.make_encoding(args.encoding, len(shape))
    coords = layer.grid_coords(shape, lo_hi, dtype=torch.float64)
    x = enc(coords).float()
    ens = MLPEnsemble([x.shape[1]], args.depth, args.width, target.shape[1], [args.seed],
                      device=device)
    record = list(range(0, args.epochs + 1, max(1, args.record_every)))
    run = train_ensemble(ens, x[None].to(device), target.to(device), epochs=args.epochs,
                         lr=args.lr, record_epochs=record, batch_size=args.batch,
                         seeds=[args.seed])
    history = []
    for k, epoch in enumerate(run.record_epochs):
        w, b = run.params(0, k)
        stats, ids = region_summary(x.to(device), w, b)
        history.append({"epoch": epoch, "loss": float(run.losses[0, epoch]), **stats})
        if not args.quiet:
            print(f"epoch {epoch}: loss {history[-1]['loss']:.4g}, {stats['regions']} regions")
    w, b = run.params(0, -1)
    config = {"encoding": enc.describe() if hasattr(enc, "describe") else args.encoding,
              "encoding_spec": args.encoding, "coord_range": list(lo_hi), "grid_shape": list(shape),
              "signal": args.signal, "depth": args.depth, "width": args.width,
              "epochs": args.epochs, "lr": args.lr, "batch": args.batch, "seed": args.seed}
    os.makedirs(args.out, exist_ok=True)
    buf = io.BytesIO()
    torch.save({"config": config, "weights": [t.cpu() for t in w], "biases": [t.cpu() for t in b],
                "encoding_state": enc.state_dict()}, buf)
    layer.atomic_write_bytes(os.path.join(args.out, "checkpoint.pt"), buf.getvalue())
    layer.atomic_write_json(os.path.join(args.out, "results.json"),
                            {"config": config, "history": history,
                             "losses": run.losses[0].tolist(), "train_s": run.train_seconds})
    print(f"trained in {run.train_seconds:.1f}s; final loss {history[-1]['loss']:.4g}, "
          f"{history[-1]['regions']} regions; wrote {args.out}/checkpoint.pt and results.json")


def analyze_command(args) -> None:
    device = check_device(args.device)
    if not os.path.exists(args.checkpoint):
        raise ValueError(f"checkpoint {args.checkpoint!r} does not exist; write one with "
                         "`specbias train --out DIR`")
    ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    cfg = ckpt["config"]
    shape = _parse_grid(args.grid) if args.grid else tuple(cfg["grid_shape"])
    if len(shape) != len(cfg["grid_shape"]):
        raise ValueError(f"--grid {args.grid!r}: the model takes {len(cfg['grid_shape'])}D "
                         f"coordinates")
    enc = layer.make_encoding(cfg["encoding_spec"], len(shape))
    enc.load_state_dict(ckpt["encoding_state"])
    coords = layer.grid_coords(shape, tuple(cfg["coord_range"]), dtype=torch.float64)
    x = enc(coords).float().to(device)
    w = [t.to(device) for t in ckpt["weights"]]
    b = [t.to(device) for t in ckpt["biases"]]
    stats, ids = region_summary(x, w, b)
    out = args.out or os.path.dirname(os.path.abspath(args.checkpoint))
    ids_np = ids.cpu().numpy()
    fig, axes = plots.new_figure(width=5, height=4)
    if len(shape) == 1:
        with torch.no_grad():
            a = x
            for l in range(len(w)):
                a = a @ w[l].T + b[l]
                if l < len(w) - 1:
                    a = torch.relu(a)
        plots.region_map_1d(axes[0][0], coords[:, 0].numpy(), a[:, 0].cpu().numpy(),
                            np.full(shape[0], np.nan), ids_np, cfg["encoding_spec"])
    else:
        plots.region_map_2d(axes[0][0], ids_np.reshape(shape),
                            title=f"{stats['regions']} regions on {shape[0]}x{shape[1]}")
    grid = "x".join(map(str, shape))
    figs = plots.save(fig, out, f"regions_{grid}")
    layer.atomic_save_npz(os.path.join(out, f"regions_{grid}.npz"), ids=ids_np.reshape(shape))
    layer.atomic_write_json(os.path.join(out, f"regions_{grid}.json"),
                            {"grid_shape": list(shape), **stats})
    print(f"{stats['regions']} regions on a {grid} grid ({stats['dead_neurons']} dead, "
          f"{stats['always_on']} always-on neurons); map: {figs[0]}")
