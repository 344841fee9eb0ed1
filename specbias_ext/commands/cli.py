"""`specbias` command line: the argparse front; each command lives in its own module here.

Every failure a user can cause ends as one line ``specbias <cmd>: error: ...`` and exit status 2
(``errors``); argparse's own errors print one usage line before theirs."""
from __future__ import annotations

import argparse
import shlex
import sys

from .._version import __version__
from ..experiments.presets import PRESETS
from ..experiments.registry import EXPERIMENTS
from .errors import interrupted_advice, user_error_message
from .values import count_arg, positive_float_arg, seed_arg


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors print one usage line (not the whole wrapped usage)."""

    def error(self, message):
        self.exit(2, f"usage: {self.prog} [options] ({self.prog} --help lists them)\n"
                     f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="specbias",
        description="Reproduce and extend the analyses of 'Understanding the Spectral Bias of "
                    "Coordinate Based MLPs Via Training Dynamics' (Lazzari & Liu, 2023).")
    p.add_argument("--version", action="version", version=f"specbias {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("reproduce", help="redo the paper's experiments; write figures, "
                       "claims.json and a report",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="experiments:\n" + "\n".join(
                           f"  {n:15s} {d}" for n, (_, d) in EXPERIMENTS.items()))
    r.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                   help="experiments to run (default: all; see the list below)")
    r.add_argument("--preset", choices=list(PRESETS), default="quick",
                   help="paper: the paper's settings; quick: scaled down for a laptop CPU "
                        "(default); smoke: tiny, for tests")
    r.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    r.add_argument("--seeds", type=count_arg(1), default=None,
                   help="number of seeds per setting (default: the preset's)")
    r.add_argument("--out", default="specbias-results",
                   help="output folder (default: ./specbias-results)")
    r.add_argument("--overwrite", action="store_true",
                   help="replace files in --out that reproduce did not write (your own, or "
                        "another command's); without it they are never replaced")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument("--list", action="store_true",
                   help="print the experiments (name and one-line description) and exit")
    r.add_argument("--strict", action="store_true",
                   help="exit with status 1 when a claim of the experiments run does not hold")

    t = sub.add_parser("train", help="train one coordinate MLP from flags and record its "
                       "region statistics")
    t.add_argument("--encoding", default="raw", help="raw, pe:<L> or rff:<m>:<sigma>[:<seed>]")
    t.add_argument("--range", default="0,1", dest="coord_range",
                   help="coordinate range lo,hi of the grid (default 0,1)")
    t.add_argument("--signal", default="sines",
                   help="'sines' (the paper's 1D sum of sines) or an image: camera, astronaut, "
                        "coffee, chelsea, noise, or a .png/.jpg/.npy path")
    t.add_argument("--n", type=count_arg(2), default=2048, help="1D grid size (default 2048)")
    t.add_argument("--size", type=count_arg(2), default=128, help="image side (default 128)")
    t.add_argument("--depth", type=count_arg(1), default=4, help="hidden layers (default 4)")
    t.add_argument("--width", type=count_arg(1), default=128, help="hidden width (default 128)")
    t.add_argument("--epochs", type=count_arg(1), default=500,
                   help="training epochs, >= 1 (with --resume: the total to reach; default 500)")
    t.add_argument("--lr", type=positive_float_arg, default=1e-3,
                   help="Adam learning rate (default 1e-3)")
    t.add_argument("--batch", type=count_arg(1), default=None,
                   help="batch size (default: full batch)")
    t.add_argument("--seed", type=seed_arg, default=0,
                   help="seed of the initialisation and minibatch order (default 0)")
    t.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    t.add_argument("--record-every", type=count_arg(1), default=25,
                   help="epochs between records (regions, Hamming, confusion, neurons, gradient "
                        "norms, spectral residual) and checkpoints")
    t.add_argument("--lc", default=None, metavar="RADIUS",
                   help="also record the local complexity at every record: per point, the "
                        "hidden neurons whose sign is not the same at the 2 x D points at "
                        "distance RADIUS along the coordinate axes around it (the sampled "
                        "definition, docs/local_complexity.md). RADIUS in coordinate units, or "
                        "'step' for the training grid's step (the natural choice). Each record "
                        "gets its summary (the curves' LC panel) and every point's count "
                        "(arrays.npz), the run the figure lc_map of the last record (2D: a heat "
                        "map; 1D: a line over x) and the final line its mean; part of the run's "
                        "configuration, so --resume needs the same --lc")
    t.add_argument("--out", default="specbias-run", help="run folder (default ./specbias-run)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out (same configuration, more --epochs); "
                        "refused when --out holds no run of `specbias train`")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run in --out (its files and the analyses of its "
                        "checkpoint are removed first; nothing else in the folder is touched)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    a = sub.add_parser(
        "analyze", help="region analysis of a saved model (or an ensemble of them) on a grid of "
                        "any size",
        description="Streams the grid tile by tile: region ids and sizes, neighbour Hamming per "
                    "axis, dead/always-on neurons, as <label>_regions_<settings>.json/.npz "
                    "(the label from the checkpoint's path; the settings: the grid, and the "
                    "range, slice and grads when given). On a 1D/2D grid small enough to draw "
                    "(and ids kept in memory) it writes <name>_maps.npz and the maps: region "
                    "map (colours "
                    "follow the activation pattern), neighbour-Hamming map, neuron view, and "
                    "with --boundary / --grads output / --lc the boundary-distance, "
                    "coordinate-slope, gradient-norm, coherence and local-complexity maps (a "
                    "1D grid: the fit over its target with "
                    "the region boundaries; with --ids file only the local-complexity map, of "
                    "a 2D grid); `specbias plot` redraws them from the files. Under "
                    "`torchrun --nproc-per-node P -m specbias_ext analyze ...` the grid is "
                    "sharded over the P processes with results identical to one. With several "
                    "checkpoints (an ensemble: seeds, encodings, ...) each is analysed alone on "
                    "the grid into --out (the labels told apart from the checkpoints' paths), "
                    "with the mean, standard deviation and 95% t interval across them in "
                    "ensemble_regions_<settings>.json; no maps are drawn. Nothing analyze did "
                    "not write is replaced without --overwrite. Under torchrun the checkpoints "
                    "are shared out over the P "
                    "processes (checkpoint k on process k mod P), with results identical to one.")
    a.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT",
                   help="checkpoint.pt written by `specbias train`; with --model, a state-dict "
                        "file of that model (or a dict holding it under 'model', beside "
                        "'encoding'); with --whole-module, a module saved by "
                        "torch.save(model). Several: an ensemble, all of the same kind")
    a.add_argument("--grid", default=None,
                   help="N (1D), HxW (2D) or DxHxW (3D) grid to analyse on (default: the "
                        "training grid of a `specbias train` run)")
    a.add_argument("--range", default=None, dest="coord_range",
                   help="coordinate range lo,hi of every axis (default: the training range, "
                        "else 0,1)")
    a.add_argument("--slice", default=None,
                   help="a plane ORIGIN;U;V through the coordinate space, sampled as the --grid "
                        "HxW (point (r, c) = origin + u r/H + v c/W)")
    a.add_argument("--model", default=None,
                   help="your own model as you wrote it, coordinates in (the encoding its "
                        "forward computes is applied to the grid's points): "
                        "package.module:Class or path/to/file.py:factory, built with "
                        "--model-args and loaded from the checkpoint's state dict")
    a.add_argument("--model-args", default=None, help="JSON keyword arguments for --model")
    a.add_argument("--state-dict-prefix", default=None, metavar="PREFIX",
                   help="for --model: read the model from the state dict's keys that start with "
                        "PREFIX (e.g. module. from DataParallel, or the name the model had "
                        "inside a larger one), with PREFIX removed")
    a.add_argument("--whole-module", action="store_true",
                   help="the checkpoint is a whole module saved with torch.save(model)")
    a.add_argument("--encoding", default=None,
                   help="for --model/--whole-module whose forward starts at its first Linear: "
                        "the encoding in front of it: .ATTRIBUTE of the loaded model (e.g. "
                        ".embed, with its loaded state), package.module:Class (built with "
                        "--encoding-args; its state from the checkpoint's 'encoding' entry, "
                        "beside 'model'), or the package's raw, pe:<L>, rff:<m>:<sigma>[:<seed>]; "
                        "default: none, a model that encodes the coordinates in its forward is "
                        "analysed from them as it is; refused for a `specbias train` "
                        "checkpoint, which carries its own")
    a.add_argument("--encoding-args", default=None,
                   help="JSON keyword arguments for --encoding package.module:Class")
    a.add_argument("--head", default=None, metavar="LINEAR",
                   help="for --model/--whole-module with several heads (NeRF's density and "
                        "colour): the name of the Linear read as the head, e.g. alpha_linear")
    a.add_argument("--coord-dim", type=count_arg(1), default=None,
                   help="the coordinate dimension (default: what --grid or --slice gives)")
    a.add_argument("--tile", type=count_arg(1), default=1 << 18,
                   help="points per tile (default 262144)")
    a.add_argument("--grads", choices=["none", "output"], default="none",
                   help="output: also the per-example gradients of the network's output over "
                        "all parameters (grad_out = 1, the empirical-NTK case): their norm "
                        "statistics and, for every region, the norm of its summed gradient, "
                        "its sum of norms and their ratio, the coherence (arrays norm_of_sum, "
                        "sum_of_norms, coherence in the .npz); exact across tiles and "
                        "processes (default none)")
    a.add_argument("--boundary", action="store_true",
                   help="also the first-order distance from each point to the nearest region "
                        "boundary (statistics in the .json; on a drawn grid, maps of the "
                        "distance and of the coordinate slope ||df/dx||)")
    a.add_argument("--lc", default=None, metavar="RADIUS",
                   help="also the local complexity of every point: the hidden neurons whose "
                        "sign is not the same at the 2 x D points at distance RADIUS along the "
                        "coordinate axes around it (the published sampled definition, "
                        "docs/local_complexity.md). RADIUS in coordinate units; the grid step "
                        "is the natural choice, 'step' takes it (the smaller step when the axes "
                        "differ). Its summary (mean, quantiles, per-layer means) goes in the "
                        ".json, the histogram of totals and per-layer sums in the .npz, with "
                        "the ids in memory every point's per-layer counts (lc_counts) too, with "
                        "the ids in a file every point's total (int32, grid-shaped) in "
                        "<name>_lc.npy beside <name>_ids.npy, and a 2D grid small enough to draw "
                        "gets its heat map (drawn from <name>_lc.npy when the ids are in a "
                        "file). With several checkpoints each is measured with the same radius, "
                        "and the ensemble file holds the mean, standard deviation and 95%% t "
                        "interval of its mean, median, total fraction and per-layer means "
                        "across them")
    a.add_argument("--neurons", default=None, metavar="LAYER:INDEX,...",
                   help="hidden neurons whose on/off maps a drawn 2D grid shows (layers from 0; "
                        "default: in the first and last hidden layer, the neuron on at the "
                        "share of points closest to one half)")
    a.add_argument("--ids", choices=["auto", "memory", "file", "none"], default="auto",
                   help="where the per-point region ids go: memory, a memory-mapped "
                        "<name>_ids.npy file (with --lc, every point's total local complexity, "
                        "int32, goes to <name>_lc.npy beside it), or nowhere (default auto: memory when "
                        "they fit; with several checkpoints: file or none, auto meaning none)")
    a.add_argument("--timeout", type=positive_float_arg, default=1800.0,
                   help="seconds a collective may wait under torchrun before the run fails "
                        "(with several checkpoints: longer than the slowest one's analysis)")
    a.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    a.add_argument("--out", default=None, help="folder for the results and maps (default: "
                                               "beside the checkpoint; required with several)")
    a.add_argument("--overwrite", action="store_true",
                   help="replace files in --out that analyze did not write, or that hold the "
                        "analysis of another checkpoint of the same name; without it they are "
                        "never replaced")
    pl = sub.add_parser(
        "plot", help="redraw the figures of a train run, an analyze output, a monitor folder "
                     "or a reproduce folder from its files (nothing is recomputed)",
        description="Draws from RUN's files alone: a `specbias train` folder (loss, fit, region "
                    "map, region maps over training as panels and animation, record curves), "
                    "a `specbias analyze` output (its maps), a monitor folder (records.jsonl: "
                    "curves, region maps over training) or a `specbias reproduce` folder "
                    "(each experiment's region maps over training). Files go to --out under "
                    "new names; an existing file is never replaced without --overwrite.")
    pl.add_argument("run", metavar="RUN",
                    help="the folder (or an analysis regions_<grid>.json) to draw")
    pl.add_argument("--what", default="all",
                    help="comma-separated: loss, fit, region-map, regions-over-training, "
                         "animation, curves, hamming, neurons, boundary, slope, grad-norm, "
                         "coherence, lc, or "
                         "all (default: all the files allow)")
    pl.add_argument("--format", default="png,gif",
                    help="comma-separated: png, pdf, svg for figures; gif, mp4 (needs ffmpeg) "
                         "for animations (default png,gif)")
    pl.add_argument("--dpi", type=int, default=150, help="resolution of PNGs (default 150)")
    pl.add_argument("--cmap", default=None,
                    help="matplotlib colormap of the heat maps (Hamming, boundary distance, "
                         "slope, gradient norm, coherence, local complexity; default: each "
                         "map's own)")
    pl.add_argument("--out", default=None, help="folder for the figures (default RUN/plots)")
    pl.add_argument("--overwrite", action="store_true",
                    help="replace figures that already exist in --out")
    return p


def _run(args) -> int:
    # The command modules import torch and the whole package: only the one asked for is loaded.
    if args.command == "reproduce":
        from .reproduce import reproduce_command
        return reproduce_command(args)
    if args.command == "train":
        from .train import train_command
        train_command(args)
    elif args.command == "analyze":
        from .analyze import analyze_command
        analyze_command(args)
    elif args.command == "plot":
        from .plot import plot_command
        plot_command(args)
    return 0


def main(argv=None) -> int:
    """Run one command; 0 on success, 2 on a user error (one line on stderr, no traceback),
    1 when ``reproduce --strict`` finds a claim that does not hold, 130 on Ctrl-C."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = _parser().parse_args(argv)
    args.command_line = shlex.join(["specbias", *argv])     # recorded in the output folders
    try:
        return _run(args)
    except KeyboardInterrupt:
        print(f"specbias {args.command}: interrupted; {interrupted_advice(args, argv)}",
              file=sys.stderr)
        return 130
    except Exception as err:    # noqa: BLE001 - sorted into user errors and bugs below
        message = user_error_message(err, args)
        if message is None:     # a bug: it shows its trace
            raise
        print(f"specbias {args.command}: error: {message}", file=sys.stderr)
        return 2
