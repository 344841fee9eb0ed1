"""Training a coordinate network with MSE, with a monitor called after every epoch.

The monitor (a ``RegionMonitor``, e.g. the epoch-keyed ``Recorder``) is called as
``monitor(model, epoch)`` at epoch 0 and after each epoch, exactly as a user's loop calls it; its
own schedule decides when it records. Epoch e means "after e epochs"; 0 is the initial network.
Determinism: the model is initialised from its own seed, minibatches are reshuffled every epoch
from a private torch.Generator seeded by ``TrainConfig.seed`` (the global RNG is not used), so the
same seed on the same device gives the same numbers, and a resumed run (model + optimizer +
generator state + epoch + history restored from the checkpoint) continues the same trajectory.
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch
from torch import nn
from tqdm.auto import tqdm

from .._validate import int_at_least
from ..plots.run_figures import ANIMATION_STEM, lc_values, region_records, train_figures
from ..plots.training import write_region_animation
from ..runs.checkpoints import read_checkpoint, write_checkpoint
from ..runs.files import RunDirectory, atomic_write_bytes, atomic_write_json
from ..runs.output_checks import check_writable_folder
from ..runs.provenance import with_provenance
from .measurements import DivergedError
from .monitor import RegionMonitor
from .records import figure_bytes, record_count_text

Tensor = torch.Tensor
OPTIMIZERS = ("adam", "sgd")


@dataclass
class TrainConfig:
    """Settings of a training run.

    ``batch_size=None`` trains full-batch. ``checkpoint_every`` (epochs) writes checkpoint.pt and
    results in the run directory; the end of training always does.
    """

    epochs: int
    lr: float = 1e-3
    optimizer: str = "adam"
    batch_size: Optional[int] = None
    seed: int = 0
    device: str = "cpu"
    quiet: bool = False
    checkpoint_every: Optional[int] = None

    def __post_init__(self):
        self.epochs = int_at_least(self.epochs, "epochs", 0)
        try:
            self.lr = float(self.lr)
        except (TypeError, ValueError):
            raise ValueError(f"lr: expected a positive float, got {self.lr!r}") from None
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr: expected a finite value > 0, got {self.lr}")
        if not isinstance(self.optimizer, str) or self.optimizer.lower() not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {self.optimizer!r}")
        self.optimizer = self.optimizer.lower()
        if self.batch_size is not None:
            self.batch_size = int_at_least(self.batch_size, "batch_size", 1)
        self.seed = int(self.seed)
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(f"device: not a torch device: {self.device!r}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device: {self.device!r} requested but CUDA is not available")
        self.device = str(device)
        if self.checkpoint_every is not None:
            self.checkpoint_every = int_at_least(self.checkpoint_every, "checkpoint_every", 1)

    def trajectory_settings(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run it continues."""
        return {"lr": self.lr, "optimizer": self.optimizer, "batch_size": self.batch_size,
                "seed": self.seed}



class TrainingDiverged(DivergedError):
    """The loss, a parameter or the network's outputs became NaN or infinite: training stops
    before that epoch is recorded or saved; the run directory keeps the last checkpoint written
    before (``saved_epoch``, None when there is none)."""

    def __init__(self, epoch: int, loss: float, saved_epoch: Optional[int]):
        self.epoch, self.loss, self.saved_epoch = epoch, loss, saved_epoch
        kept = "no checkpoint was written" if saved_epoch is None else \
            f"the run directory keeps the checkpoint of epoch {saved_epoch}"
        super().__init__(f"lr: training diverged at epoch {epoch} (loss {loss:.4g}; the loss, "
                         "the parameters or the network's outputs are no longer finite); "
                         f"{kept}. Train again with a smaller learning rate")


@dataclass
class TrainResult:
    loss: list[float]                        # mean training loss of each epoch
    records: list[dict[str, Any]]            # the monitor's history
    timings: dict[str, float]                # train_seconds, record_seconds, total_seconds
    epochs: int                              # epochs trained in total (incl. before a resume)
    run_dir: Optional[Path] = None
    settings: dict[str, Any] = field(default_factory=dict)


def _check_data(model: nn.Module, coords: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if not isinstance(coords, Tensor) or coords.dim() != 2:
        raise ValueError(f"coords: expected a Tensor [N, D], got "
                         f"{list(coords.shape) if isinstance(coords, Tensor) else type(coords)}")
    in_dim = getattr(model, "in_dim", None)
    if in_dim is not None and coords.shape[1] != in_dim:
        raise ValueError(f"coords: the model takes {in_dim}-D coordinates, got "
                         f"{coords.shape[1]}-D")
    if not coords.dtype.is_floating_point or not bool(torch.isfinite(coords).all()):
        raise ValueError("coords: expected finite floating-point coordinates (NaN/inf found "
                         "or integer dtype)")
    if not isinstance(target, Tensor):
        raise ValueError(f"target: expected a Tensor, got {type(target).__name__}")
    if target.dim() == 1:
        target = target.unsqueeze(1)
    elif target.dim() == 3:
        target = target.reshape(-1, target.shape[2])
    out_dim = getattr(model, "out_dim", target.shape[-1])
    if target.dim() != 2 or target.shape[0] != coords.shape[0] or target.shape[1] != out_dim:
        raise ValueError(f"target: expected [{coords.shape[0]}, {out_dim}] (or [N] / [H, W, C]) "
                         f"to match coords and the model, got {list(target.shape)}")
    if not target.dtype.is_floating_point or not bool(torch.isfinite(target).all()):
        raise ValueError("target: expected finite floating-point values")
    return coords, target


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr)
    return torch.optim.SGD(model.parameters(), lr=config.lr)


def _settings(model, config, monitor, coords) -> dict[str, Any]:
    settings = {"train": asdict(config), "n": int(coords.shape[0]),
                "model": model.describe() if hasattr(model, "describe") else repr(model)}
    if monitor is not None:
        settings["monitor"] = monitor.settings()
    return settings


def _progress(config: TrainConfig, start_epoch: int):
    return tqdm(total=config.epochs, initial=start_epoch, disable=config.quiet, unit="epoch",
                dynamic_ncols=True)


def train(model: nn.Module, coords: Tensor, target: Tensor, config: TrainConfig,
          monitor: Optional[RegionMonitor] = None, run_dir: Union[str, Path, None] = None,
          resume: bool = False, overwrite: bool = False, figures: bool = True) -> TrainResult:
    """Train ``model`` on (coords, target) with MSE, calling ``monitor(model, epoch)`` after
    each epoch (and at epoch 0); checkpoint on schedule.

    The model is moved to ``config.device`` (in place). With ``run_dir`` the run directory gets
    results.json / arrays.npz / checkpoint.pt and, at the end (``figures``), the figures of
    ``write_figures``; ``resume=True`` continues from its checkpoint if
    there is one (the model, lr, optimizer, batch size and seed must match; ``epochs`` may grow)
    and starts from scratch otherwise. A ``run_dir`` that already holds a checkpoint is refused
    unless ``resume`` or ``overwrite`` (which first removes the old run's files, see
    ``run_files``). All inputs are checked before any training starts. A run whose loss or
    weights (or the monitored outputs) become NaN/inf stops with ``TrainingDiverged`` before that
    epoch is recorded or saved.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config: expected a TrainConfig, got {type(config).__name__}")
    coords, target = _check_data(model, coords, target)
    if monitor is not None and not isinstance(monitor, RegionMonitor):
        raise ValueError(f"monitor: expected a RegionMonitor, got {type(monitor).__name__}")
    if monitor is not None and monitor.coords.shape[0] != coords.shape[0]:
        raise ValueError(f"monitor: built for {monitor.coords.shape[0]} points, training on "
                         f"{coords.shape[0]}")
    if resume and run_dir is None:
        raise ValueError("run_dir: resume=True needs the run directory to resume from")
    if resume and overwrite:
        raise ValueError("resume, overwrite: choose one (continue the run or replace it)")
    if run_dir is not None and not resume and (Path(run_dir) / RunDirectory.CHECKPOINT).is_file():
        if not overwrite:
            raise ValueError(f"run_dir: {str(run_dir)!r} already holds a run; pass resume=True "
                             "to continue it or overwrite=True to replace it")
        for path in run_files(run_dir):
            if path.name != RUN_CONFIG:     # the caller's configuration of the new run
                path.unlink()
    run = RunDirectory(run_dir) if run_dir is not None else None

    device = torch.device(config.device)
    model.to(device)
    dtype = next(model.parameters()).dtype
    coords = coords.to(device=device, dtype=dtype)
    target = target.to(device=device, dtype=dtype)
    optimizer = _make_optimizer(model, config)
    shuffle = torch.Generator().manual_seed(config.seed)
    settings = _settings(model, config, monitor, coords)
    loss_history: list[float] = []
    timings = {"train_seconds": 0.0, "record_seconds": 0.0}
    start_epoch = 0

    if resume and run.has_checkpoint():
        state = read_checkpoint(run.checkpoint_path, map_location=device)
        _check_resumable(state, model, config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        shuffle.set_state(state["shuffle_rng"])
        start_epoch = int(state["epoch"])
        loss_history = list(state["loss"])
        timings.update(state.get("timings", {}))
        if start_epoch > config.epochs:
            raise ValueError(f"epochs: the checkpoint is at epoch {start_epoch}, beyond "
                             f"config.epochs = {config.epochs}")
        if monitor is not None:
            monitor.load_state_dict(state.get("monitor", {}))

    n = coords.shape[0]
    batch = n if config.batch_size is None else min(config.batch_size, n)

    def do_record(epoch: int) -> None:
        if monitor is None:
            return
        t0 = time.perf_counter()
        monitor(model, epoch)
        timings["record_seconds"] += time.perf_counter() - t0

    saved = {"epoch": start_epoch if resume and run is not None and run.has_checkpoint()
             else None}

    def save(epoch: int) -> None:
        if run is None:
            return
        saved["epoch"] = epoch
        write_checkpoint(
            run.checkpoint_path, model=model, optimizer=optimizer,
            shuffle_rng=shuffle.get_state(), epoch=epoch, loss=loss_history, timings=timings,
            model_config=settings["model"], trajectory=config.trajectory_settings(),
            monitor=monitor.state_dict() if monitor is not None else {})
        write_results(run, settings, loss_history, monitor, timings, epoch)

    do_record(start_epoch)
    bar = _progress(config, start_epoch)
    model.train()
    try:
        for epoch in range(start_epoch, config.epochs):
            t0 = time.perf_counter()
            order = torch.randperm(n, generator=shuffle).to(device) if batch < n else None
            total = torch.zeros((), dtype=torch.float64, device=device)
            for s in range(0, n, batch):
                idx = None if order is None else order[s:s + batch]
                xb = coords if idx is None else coords[idx]
                yb = target if idx is None else target[idx]
                optimizer.zero_grad(set_to_none=True)
                loss = (model(xb) - yb).square().mean()
                loss.backward()
                optimizer.step()
                total += loss.detach().to(torch.float64) * xb.shape[0]
            loss_history.append(float(total) / n)
            timings["train_seconds"] += time.perf_counter() - t0
            _check_finite(model, loss_history[-1], epoch + 1, saved["epoch"])
            try:
                do_record(epoch + 1)
            except DivergedError:             # finite weights, but the outputs overflow
                raise TrainingDiverged(epoch + 1, loss_history[-1], saved["epoch"]) from None
            postfix = {"loss": f"{loss_history[-1]:.4g}"}
            if monitor is not None and monitor.history and "regions" in monitor.history[-1]:
                postfix["regions"] = record_count_text(monitor.history[-1])
            bar.set_postfix(postfix, refresh=False)
            bar.update(1)
            if config.checkpoint_every and (epoch + 1) % config.checkpoint_every == 0:
                save(epoch + 1)
    finally:
        bar.close()
    end_epoch = max(start_epoch, config.epochs)
    save(end_epoch)
    if run is not None and figures:
        write_figures(run.path, loss_history, monitor)
    timings["total_seconds"] = timings["train_seconds"] + timings["record_seconds"]
    return TrainResult(loss=loss_history,
                       records=list(monitor.history) if monitor is not None else [],
                       timings=dict(timings), epochs=end_epoch,
                       run_dir=run.path if run is not None else None, settings=settings)


#: What a checkpoint of ``train`` holds at least (a file without them cannot be resumed).
CHECKPOINT_KEYS = ("model", "optimizer", "shuffle_rng", "epoch", "loss")


def is_train_checkpoint(state: Any) -> bool:
    return isinstance(state, dict) and all(k in state for k in CHECKPOINT_KEYS)


def _check_finite(model: nn.Module, loss: float, epoch: int, saved_epoch: Optional[int]) -> None:
    """Stop a diverging run before anything of it is recorded or saved."""
    if not math.isfinite(loss) or not bool(torch.stack(
            [torch.isfinite(p).all() for p in model.parameters()]).all()):   # one sync
        raise TrainingDiverged(epoch, loss, saved_epoch)


def _check_resumable(state: dict, model: nn.Module, config: TrainConfig) -> None:
    if not is_train_checkpoint(state):
        raise ValueError(f"run_dir: its {RunDirectory.CHECKPOINT} is not a checkpoint of this "
                         f"trainer (expected a dict with {', '.join(CHECKPOINT_KEYS)}); it "
                         "cannot be resumed, pass overwrite=True to start the run again")
    described = model.describe() if hasattr(model, "describe") else repr(model)
    if state.get("model_config") != described:
        raise ValueError(f"run_dir: the checkpoint holds a different model "
                         f"({state.get('model_config')}) than {described}")
    if state.get("trajectory") != config.trajectory_settings():
        raise ValueError(f"config: resuming needs the same lr/optimizer/batch_size/seed as the "
                         f"checkpoint ({state.get('trajectory')}), got "
                         f"{config.trajectory_settings()}")


def write_results(run: RunDirectory, settings: dict, loss: list,
                  monitor: Optional[RegionMonitor], timings: dict, epoch: int) -> None:
    """results.json (settings, loss per epoch, records, timings; then the provenance: package
    version, git commit, command, date, device) and arrays.npz."""
    records = monitor.history if monitor is not None else []
    run.write_results(with_provenance({"settings": settings, "epoch": epoch, "loss": loss,
                                       "records": records, "timings": timings},
                                      settings["train"]["device"]))
    arrays = dict(monitor.arrays) if monitor is not None else {}
    arrays["loss"] = torch.tensor(loss, dtype=torch.float64).numpy()
    run.write_arrays(arrays)


# --- figures --------------------------------------------------------------------------------------
def write_figures(folder: Path, loss: Sequence[float],
                  monitor: Optional[RegionMonitor]) -> list[Path]:
    """The run's figures, written at the end of training with the builders `specbias plot`
    uses (``plots.run_figures.train_figures``): loss.png (the loss per epoch with the records'
    MSE and PSNR), curves.png (the records' curves) and, when the monitor saved region maps
    on a grid, region_map.png (2D), region_maps_over_training.png and, for a 2D grid with
    several records, the animation regions_over_training.gif; lc_map.png when it saved each
    point's local complexity on a 1D or 2D grid. Axes are in grid indices (the
    monitor does not know the coordinates' range; `specbias train` draws them in coordinate
    units). Returns the paths written."""
    records = list(monitor.history) if monitor is not None else []
    step_name = monitor.step_name if monitor is not None else "epoch"
    shape = monitor.grid_shape if monitor is not None else None
    regions = region_records(monitor.arrays) if shape else []
    lc = lc_values(monitor.arrays) if shape else {}
    grid = {"grid_shape": list(shape), "kind": "index"} if shape else None
    figs = train_figures(grid=grid, label="", records=records, regions=regions,
                         step_name=step_name, loss=loss, fit_figure=False,  # no fit saved
                         lc=lc)
    written = []
    for name, fig in figs.items():
        path = Path(folder) / f"{name}.png"
        atomic_write_bytes(path, figure_bytes(fig))
        written.append(path)
    if shape and len(shape) == 2 and len(regions) > 1:
        written += [Path(p) for p in write_region_animation(
            regions, str(Path(folder) / ANIMATION_STEM), grid=grid, step_name=step_name)]
    return written


# --- run folders --------------------------------------------------------------------------------
# A run folder holds one run: its configuration (run.json), checkpoint, results and the files
# `specbias analyze` writes beside them. These names are the only files --overwrite removes.
RUN_CONFIG = "run.json"
RUN_FILE_NAMES = (RUN_CONFIG, RunDirectory.CHECKPOINT, RunDirectory.RESULTS, RunDirectory.ARRAYS,
                  "grid.json")
_RUN_FILE_PATTERN = re.compile(
    r"^(regions_[0-9]+(x[0-9]+)*(_slice)?(_[a-z_]+)?\.(png|pdf|npz|json)"
    r"|(loss|fit|region_map|region_maps_over_training|curves|lc_map)\.(png|pdf)"
    r"|regions_over_training\.(gif|mp4)|reconstruction\.npz)$")


def run_files(folder: Union[str, Path]) -> list[Path]:
    """The files of a run (ours by name) in ``folder``; nothing else in it is listed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and
                  (p.name in RUN_FILE_NAMES or _RUN_FILE_PATTERN.match(p.name)))


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out or {prefix[:-1]: {}}
    return {prefix[:-1]: obj}


def config_differences(stored: dict, new: dict) -> list[str]:
    """Dotted keys whose values differ between two run configurations (or exist in one only)."""
    a, b = _flatten(stored), _flatten(new)
    return sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))


def _describe_diff(stored: dict, new: dict, keys: list[str]) -> str:
    a, b = _flatten(stored), _flatten(new)
    return "; ".join(f"{k}: {a.get(k, '<absent>')!r} in the run, {b.get(k, '<absent>')!r} now"
                     for k in keys)


def prepare_run_folder(folder: Union[str, Path], config: dict, resume: bool = False,
                       overwrite: bool = False) -> list[Path]:
    """Check that a run with ``config`` (JSON types) may use ``folder``; write nothing.

    A folder holding a run is refused unless ``resume`` (the stored configuration must equal
    ``config``; the differing keys are listed otherwise) or ``overwrite``. Returns the files to
    remove before the run starts (the old run's, with ``overwrite``); see ``start_run_folder``.
    """
    check_writable_folder(folder, "--out")
    if resume and overwrite:
        raise ValueError("--resume and --overwrite: choose one (continue the run in the folder, "
                         "or replace it)")
    existing = run_files(folder)
    if not existing:
        return []
    if overwrite:
        return existing
    if not resume:
        names = ", ".join(p.name for p in existing[:4]) + (", ..." if len(existing) > 4 else "")
        raise ValueError(f"--out {str(folder)!r} already holds a run ({names}); pass --resume "
                         "to continue it or --overwrite to replace it, or choose another folder")
    stored_path = Path(folder) / RUN_CONFIG
    if not stored_path.is_file():
        raise ValueError(f"--resume: {str(folder)!r} holds a run without {RUN_CONFIG} (written by "
                         "an older version), so its configuration cannot be checked; pass "
                         "--overwrite to start it again")
    try:
        stored = json.loads(stored_path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"--resume: cannot read {str(stored_path)!r} ({err}); pass --overwrite "
                         "to start the run again") from None
    new = json.loads(json.dumps(config))
    diff = config_differences(stored, new)
    if diff:
        raise ValueError(f"--resume: the run in {str(folder)!r} has a different configuration "
                         f"({_describe_diff(stored, new, diff)}); rerun with the run's settings, "
                         "or pass --overwrite to replace it, or choose another folder")
    return []


def start_run_folder(folder: Union[str, Path], config: dict, remove: Sequence[Path] = ()) -> None:
    """After ``prepare_run_folder`` passed: remove the old run's files, write run.json."""
    for path in remove:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    Path(folder).mkdir(parents=True, exist_ok=True)
    atomic_write_json(Path(folder) / RUN_CONFIG, config)
