"""What every experiment receives (Context) and returns (ExperimentResult), and how a result is
written: results.json + arrays.npz (atomic), figures under figures/."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch

from ..runs.files import atomic_save_npz, atomic_write_json
from .presets import Preset
from .tasks import TrainingCache


@dataclass
class Context:
    preset_name: str
    preset: Preset
    seeds: list
    seeds2d: list
    device: torch.device
    out_dir: str
    cache: TrainingCache
    quiet: bool = False

    def folder(self, experiment: str) -> str:
        path = os.path.join(self.out_dir, experiment)
        os.makedirs(path, exist_ok=True)
        return path

    def figures(self, experiment: str) -> str:
        return os.path.join(self.folder(experiment), "figures")


@dataclass
class ExperimentResult:
    name: str
    title: str
    settings: dict
    series: dict
    arrays: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)      # PNG paths (a PDF sits beside each)
    claims: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    summary: str = ""
    captions: dict = field(default_factory=dict)     # figure or animation path -> caption
    animations: list = field(default_factory=list)   # GIF paths

    def to_json(self) -> dict:
        return {"name": self.name, "title": self.title, "settings": self.settings,
                "series": self.series, "figures": self.figures,
                "animations": self.animations, "captions": self.captions,
                "claims": [c.to_json() for c in self.claims], "timings": self.timings,
                "summary": self.summary, "arrays": sorted(self.arrays)}


def write_result(result: ExperimentResult, folder: str) -> None:
    atomic_write_json(os.path.join(folder, "results.json"), result.to_json())
    arrays = {k: np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v)
              for k, v in result.arrays.items()}
    atomic_save_npz(os.path.join(folder, "arrays.npz"), **arrays)


def key(label: str) -> str:
    """A label as a file/array-name fragment."""
    return "".join(ch if ch.isalnum() else "_" for ch in label).strip("_").replace("__", "_")
