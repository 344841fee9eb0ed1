"""Training tasks (a 1D signal or a 2D image plus MLP and optimiser settings), the model variants
trained on them, and a cache so that experiments sharing models train them once, batched."""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

import torch
from tqdm import tqdm

from .._version import __version__
from ..data.grids import grid_coords
from ..data.signals import load_image, sum_of_sines
from ..nets.encodings import make_encoding
from ..runs.files import CheckpointError, atomic_torch_save, load_checkpoint_file
from .batched_training import EnsembleRun, MLPEnsemble, train_ensemble
from .variants import Variant

Tensor = torch.Tensor


@dataclass(frozen=True)
class Task:
    """What the models fit and how they are trained. ``kind`` "1d": the sum of sines on ``n``
    points; "2d": ``image`` resized to ``size`` x ``size``."""
    kind: str
    depth: int
    width: int
    epochs: int
    lr: float
    record_every: int
    n: int = 2048
    signal_seed: int = 0
    freqs: tuple = tuple(range(5, 75, 5))
    image: str = "camera"
    size: int = 128
    batch_size: Optional[int] = None

    @property
    def grid_shape(self) -> tuple:
        return (self.n,) if self.kind == "1d" else (self.size, self.size)

    @property
    def record_epochs(self) -> list[int]:
        epochs = list(range(0, self.epochs + 1, self.record_every))
        return epochs if epochs[-1] == self.epochs else epochs + [self.epochs]

    def describe(self) -> dict:
        d = {"kind": self.kind, "depth": self.depth, "width": self.width, "epochs": self.epochs,
             "lr": self.lr, "optimizer": "adam", "record_every": self.record_every,
             "batch_size": self.batch_size or "full", "grid_shape": list(self.grid_shape)}
        if self.kind == "1d":
            d.update(signal="sum_of_sines", signal_seed=self.signal_seed, freqs=list(self.freqs))
        else:
            d.update(image=self.image)
        return d

    def target(self) -> Tensor:
        """``[N, C]`` float32 on the CPU."""
        if self.kind == "1d":
            return sum_of_sines(self.n, self.freqs, 1.0, self.signal_seed).y.reshape(-1, 1)
        img = load_image(self.image, size=self.size, grey=True)
        return img.reshape(-1, img.shape[-1]).float()

    def coords(self, variant: Variant) -> Tensor:
        """float64 grid coordinates (encodings of large levels need the precision)."""
        return grid_coords(self.grid_shape, variant.coord_range, dtype=torch.float64)

    def encoding(self, variant: Variant) -> torch.nn.Module:
        return make_encoding(variant.encoding, len(self.grid_shape))


@dataclass
class TrainedSet:
    """Handles to trained models of one task: ``run(v, s)`` -> (EnsembleRun, model index)."""
    task: Task
    target: Tensor
    handles: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)        # variant -> encoded float32 grid [N, E]

    def run(self, variant: Variant, seed: int) -> tuple[EnsembleRun, int]:
        return self.handles[(variant, seed)]

    def params(self, variant, seed, k=-1):
        run, m = self.run(variant, seed)
        return run.params(m, k)

    def network(self, variant, seed, k=-1):
        """Model (variant, seed) at record k as a ReluNetwork."""
        run, m = self.run(variant, seed)
        return run.network(m, k)

    def fit(self, variant, seed, k=-1) -> Tensor:
        run, m = self.run(variant, seed)
        return run.fits[k][m]

    def losses(self, variant, seed) -> Tensor:
        run, m = self.run(variant, seed)
        return run.losses[m]


def _run_state(run: EnsembleRun, settings: dict) -> dict:
    return {"settings": settings, "in_dims": list(run.in_dims),
            "record_epochs": list(run.record_epochs),
            "snapshots": [[list(w), list(b)] for w, b in run.snapshots],
            "losses": run.losses, "train_seconds": float(run.train_seconds),
            "fits": list(run.fits)}


def _run_from_state(state: dict) -> EnsembleRun:
    return EnsembleRun(in_dims=list(state["in_dims"]), record_epochs=list(state["record_epochs"]),
                       snapshots=[(list(w), list(b)) for w, b in state["snapshots"]],
                       losses=state["losses"], train_seconds=float(state["train_seconds"]),
                       fits=list(state["fits"]))


class TrainingCache:
    """Trains each (task, variant, seed) once per process; missing models train as one batch.

    With ``folder`` every trained batch is also saved there (atomically) as
    ``<settings-hash>.pt``; a later process asking for the same batch (same task settings,
    variants, seeds, device kind, dtype and package version) loads it instead of training.
    """

    def __init__(self, device="cpu", quiet=False, folder=None):
        self.device = torch.device(device)
        self.quiet = quiet
        self.folder = folder
        self._sets: dict[Task, TrainedSet] = {}
        self.train_seconds: dict[Task, float] = {}
        self.loaded_batches = 0

    def batch_settings(self, task: Task, missing) -> dict:
        """Everything the weights of one trained batch depend on."""
        return {"task": to_plain(asdict(task)), "models": [[v.describe(), s] for v, s in missing],
                "device_type": self.device.type, "dtype": "float32", "version": __version__}

    def _snapshot_path(self, settings: dict):
        if self.folder is None:
            return None
        text = json.dumps(settings, sort_keys=True)
        return os.path.join(self.folder, hashlib.sha256(text.encode()).hexdigest()[:24] + ".pt")

    def _load_snapshot(self, path, settings):
        if path is None or not os.path.isfile(path):
            return None
        try:
            state = load_checkpoint_file(path)
        except CheckpointError:
            return None      # a damaged snapshot is retrained (and rewritten)
        if not isinstance(state, dict) or state.get("settings") != json.loads(
                json.dumps(settings)):
            return None
        return _run_from_state(state)

    def get(self, task: Task, variants: Sequence[Variant], seeds: Sequence[int]) -> tuple[TrainedSet, float]:
        """The trained set and the seconds spent training for this call (0 if all cached)."""
        tset = self._sets.get(task)
        if tset is None:
            tset = self._sets[task] = TrainedSet(task, task.target())
        missing = [(v, s) for v in variants for s in seeds if (v, s) not in tset.handles]
        if not missing:
            return tset, 0.0
        start = time.perf_counter()
        for v, _ in missing:
            if v not in tset.inputs:
                enc = task.encoding(v)
                tset.inputs[v] = enc(task.coords(v)).float()
        settings = self.batch_settings(task, missing)
        path = self._snapshot_path(settings)
        run = self._load_snapshot(path, settings)
        if run is not None:
            self.loaded_batches += 1
            for m, key in enumerate(missing):
                tset.handles[key] = (run, m)
            return tset, 0.0
        dims = [tset.inputs[v].shape[1] for v, _ in missing]
        e_max = max(dims)
        n = tset.target.shape[0]
        x = torch.zeros(len(missing), n, e_max, dtype=torch.float32)
        for m, (v, _) in enumerate(missing):
            x[m, :, :dims[m]] = tset.inputs[v]
        ensemble = MLPEnsemble(dims, task.depth, task.width, tset.target.shape[1],
                               [s for _, s in missing], device=self.device)
        bar = tqdm(total=task.epochs, disable=self.quiet, leave=False,
                   desc=f"train {len(missing)} models ({task.kind})")

        def progress(epoch, losses):
            bar.update(1)
            if epoch % 10 == 0:
                bar.set_postfix(loss=f"{float(torch.nanmean(losses)):.4g}")

        run = train_ensemble(ensemble, x.to(self.device), tset.target.to(self.device),
                             epochs=task.epochs, lr=task.lr, record_epochs=task.record_epochs,
                             batch_size=task.batch_size, seeds=[s for _, s in missing],
                             progress=progress)
        bar.close()
        if path is not None:
            atomic_torch_save(path, _run_state(run, settings))
        for m, key in enumerate(missing):
            tset.handles[key] = (run, m)
        seconds = time.perf_counter() - start
        self.train_seconds[task] = self.train_seconds.get(task, 0.0) + seconds
        return tset, seconds


def to_plain(obj):
    """Tuples to lists, recursively (the JSON form used in the snapshot hash)."""
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj
