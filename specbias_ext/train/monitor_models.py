"""How the monitor reads a model: once per model object, the network re-read at every record.

Reading a model traces its forward (``nets.reading.trace_model``, what ``split_model`` does),
which takes far longer than a record of a small network; what the trace finds (the encoding,
the layers and their module names) does not change while the model trains, so it is kept per
model object and only the weights and biases are read again at each record
(``tracing.current_layers``). A model whose parameters or buffers were replaced or moved
(``.to()``, a new ``nn.Parameter``) or whose train/eval mode changed is traced again.
"""
from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..nets.network import ReluNetwork, network_from
from ..nets.reading import ModelTrace
from ..nets.split_model import read_coordinate_model
from ..nets.tracing import current_layers

# Models whose reading is kept (a monitor records one model, a few when comparing).
_KEPT = 4


def _fingerprint(model: nn.Module) -> tuple:
    """What a reading depends on beyond the tensors' values: the parameter and buffer objects,
    their devices and dtypes (constants the trace keeps follow them only when traced again),
    and every submodule's train/eval mode (Dropout is read differently in each)."""
    tensors = (*model.parameters(), *model.buffers())
    return (tuple((id(t), t.device, t.dtype) for t in tensors),
            tuple(m.training for m in model.modules()))


@dataclass(eq=False)
class ModelReading:
    """One model's trace: its encoding (None: the network reads the coordinates) and layers."""

    model: Any              # weakref.ref to the model
    fingerprint: tuple
    found: ModelTrace

    @property
    def encoding(self) -> Optional[nn.Module]:
        return self.found.encoding

    def network(self, model: nn.Module) -> ReluNetwork:
        """The network with the model's current weights (detached)."""
        layers = current_layers(self.found.layers, model)
        return network_from(dataclasses.replace(self.found, layers=layers)).detach()


def _devices(model: nn.Module) -> list[int]:
    return sorted({t.device.index or 0 for t in (*model.parameters(), *model.buffers())
                   if t.device.type == "cuda"})


class ModelReader:
    """The readings of the models a monitor records, by model object.

    ``in_dim``: the coordinates' width, for a forward that branches on the input's shape
    (``read_coordinate_model``); ``output``: the head Linear (``split_model``'s
    ``output=``). The traces run the model's forward on example points under a forked RNG, so
    the global RNG state is left as it was.
    """

    def __init__(self, in_dim: int, output: Optional[str] = None):
        self.in_dim = in_dim
        self.output = output
        self._readings: dict[int, ModelReading] = {}

    def read(self, model: nn.Module, *, coordinates: bool) -> ModelReading:
        """The reading of ``model``; ``coordinates``: the model is fed the coordinates (no
        ``encoding=`` given to the monitor), so a forward that branches on the input's shape is
        traced with their width."""
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected your model (an nn.Module) or a ReluNetwork, got "
                            f"{type(model).__name__}")
        key = id(model)
        kept = self._readings.get(key)
        fingerprint = _fingerprint(model)
        if kept is not None and kept.model() is model and kept.fingerprint == fingerprint:
            return kept
        with torch.random.fork_rng(devices=_devices(model)):
            found = read_coordinate_model(model, self.output,
                                          coord_dim=self.in_dim if coordinates else None)
        reading = ModelReading(weakref.ref(model), fingerprint, found)
        self._readings.pop(key, None)
        while len(self._readings) >= _KEPT:
            self._readings.pop(next(iter(self._readings)))
        self._readings[key] = reading
        return reading
