"""`specbias train`: one CoordinateMLP trained from flags, recorded by the epoch-keyed monitor."""
from __future__ import annotations

import math
import os

import torch

from ..runs.devices import check_device
from ..data.grids import grid_coords
from ..plots.frame import count_text
from ..runs.checkpoints import write_grid
from ..runs.files import atomic_save_npz, to_jsonable
from .plot import RECONSTRUCTION, write_train_figures
from ..data.samplers import PairSampling
from ..data.signals import load_image, sum_of_sines

IMAGES = ("camera", "astronaut", "coffee", "chelsea", "noise")


def parse_range(text: str) -> tuple:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--range {text!r}: expected lo,hi such as 0,1 or -1,1") from None
    if not hi > lo:
        raise ValueError(f"--range {text!r}: expected lo < hi")
    return lo, hi


def paper_freqs(n: int) -> list[int]:
    """The paper's frequencies 5, 10, ..., 70, keeping those below Nyquist for small grids."""
    return [k for k in range(5, 75, 5) if 2 * k < n]


def _target(args):
    if args.signal == "sines":
        return sum_of_sines(args.n, paper_freqs(args.n)).y.reshape(-1, 1), (args.n,)
    if args.signal in IMAGES or os.path.exists(args.signal):
        img = load_image(args.signal, size=args.size, grey=True)
        return img.reshape(-1, img.shape[-1]), tuple(img.shape[:2])
    raise ValueError(f"--signal {args.signal!r}: expected 'sines', one of {', '.join(IMAGES)} "
                     "or an existing image path")


def train_command(args) -> None:
    """One CoordinateMLP trained by specbias_ext.train.trainer with every measurement recorded."""
    from ..nets.models import CoordinateMLP
    from ..train.monitor import MonitorConfig
    from ..train.recorder import Recorder
    from ..train.trainer import TrainConfig, prepare_run_folder, start_run_folder, train

    check_device(args.device)
    lo_hi = parse_range(args.coord_range)
    target, shape = _target(args)
    coords = grid_coords(shape, lo_hi)
    model = CoordinateMLP(args.encoding, args.depth, args.width, out_dim=target.shape[1],
                          seed=args.seed, in_dim=len(shape))
    freqs = paper_freqs(args.n) if args.signal == "sines" else None
    config = MonitorConfig(pairs=PairSampling().fitted(shape), seed=args.seed)
    recorder = Recorder(coords, shape, target, config, signal_freqs=freqs,
                        every=args.record_every, at=[args.epochs])
    train_config = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch,
                               seed=args.seed, device=args.device, quiet=args.quiet,
                               checkpoint_every=args.record_every)
    grid = {"grid_shape": list(shape), "coord_range": list(lo_hi), "signal": args.signal}
    recorder_settings = recorder.settings()
    recorder_settings.pop("at", None)     # the final epoch: more --epochs may resume a run
    run_config = to_jsonable({
        "model": model.describe(), "data": {"signal": args.signal, "range": list(lo_hi),
                                            **({"n": args.n} if args.signal == "sines"
                                               else {"size": args.size})},
        "grid": grid, "optimizer": train_config.trajectory_settings(),
        "recorder": recorder_settings, "seed": args.seed})
    remove = prepare_run_folder(args.out, run_config, resume=args.resume,
                                overwrite=args.overwrite)
    start_run_folder(args.out, run_config, remove)
    write_grid(args.out, grid)
    result = train(model, coords, target, train_config, monitor=recorder, run_dir=args.out,
                   resume=args.resume, overwrite=args.overwrite)
    with torch.no_grad():   # the final fit, saved so that `specbias plot` redraws it
        fit = torch.cat([model(c.to(args.device)).float().cpu()
                         for c in coords.split(1 << 16)]).numpy()
    atomic_save_npz(os.path.join(args.out, RECONSTRUCTION), fit=fit.reshape(shape + (-1,)),
                    target=target.numpy().reshape(shape + (-1,)))
    figures = write_train_figures(args.out)
    last = result.records[-1] if result.records else {}
    regions = count_text(last["regions"], math.prod(shape)) if "regions" in last else "? regions"
    loss = f"final loss {result.loss[-1]:.4g}, " if result.loss else ""
    stems = sorted({os.path.basename(p).split(".")[0] for p in figures})
    print(f"trained {result.epochs} epochs in {result.timings['train_seconds']:.1f}s (records "
          f"{result.timings['record_seconds']:.1f}s); {loss}{regions} on the "
          f"{'x'.join(map(str, shape)) if len(shape) > 1 else f'{shape[0]}-point'} training "
          f"grid; wrote {args.out}/checkpoint.pt, "
          f"results.json, arrays.npz; figures: {', '.join(stems)}")
