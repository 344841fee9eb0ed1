"""The coordinate network of the paper: an encoding followed by a ReLU MLP."""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import nn

from .._validate import int_at_least
from .encodings import EncodingSpec, make_encoding

Tensor = torch.Tensor


def linear_init(out_dim: int, in_dim: int, gen: torch.Generator,
                dtype=torch.float32) -> tuple[Tensor, Tensor]:
    """nn.Linear's default initialisation U(-1/sqrt(in_dim), 1/sqrt(in_dim)), the weight
    ``[out_dim, in_dim]`` drawn before the bias ``[out_dim]``, from ``gen`` (the global RNG is
    untouched). ``CoordinateMLP`` and the batched ensemble of the experiments both draw their
    layers with it, so the same seed gives the same network in both."""
    bound = 1.0 / math.sqrt(in_dim)
    w = torch.empty(out_dim, in_dim, dtype=dtype).uniform_(-bound, bound, generator=gen)
    b = torch.empty(out_dim, dtype=dtype).uniform_(-bound, bound, generator=gen)
    return w, b


class CoordinateMLP(nn.Module):
    """``f(c) = mlp(encoding(c))`` with ``depth`` hidden ReLU layers of ``width`` neurons.

    The paper's "4x128" network is ``depth=4, width=128``. ``encoding`` is an Encoding, a spec
    string ("raw", "pe:<L>", "rff:<m>:<sigma>[:<seed>]"; then ``in_dim`` is required) or a
    describe() dict. Weights are initialised by ``linear_init`` (nn.Linear's default, uniform in
    +-1/sqrt(fan_in)) from a private generator seeded by ``seed``, so the global RNG is untouched
    and the same seed gives the same network. ``mlp_params()`` gives the (weights, biases) lists
    the specbias ops take, with ``x = encode(coords)``.
    """

    def __init__(self, encoding: EncodingSpec, depth: int, width: int, out_dim: int = 1,
                 seed: int = 0, in_dim: int | None = None):
        super().__init__()
        self.encoding = make_encoding(encoding, in_dim)
        self.depth = int_at_least(depth, "depth")
        self.width = int_at_least(width, "width")
        self.out_dim = int_at_least(out_dim, "out_dim")
        self.seed = int(seed)
        dims = [self.encoding.out_dim] + [self.width] * self.depth + [self.out_dim]
        layers: list[nn.Module] = []
        gen = torch.Generator().manual_seed(self.seed)
        for l in range(len(dims) - 1):
            linear = nn.utils.skip_init(nn.Linear, dims[l], dims[l + 1])  # no global RNG use
            w, b = linear_init(dims[l + 1], dims[l], gen, linear.weight.dtype)
            with torch.no_grad():
                linear.weight.copy_(w)
                linear.bias.copy_(b)
            layers.append(linear)
            if l < len(dims) - 2:
                layers.append(nn.ReLU())
        self.mlp = nn.Sequential(*layers)

    @property
    def in_dim(self) -> int:
        return self.encoding.in_dim

    def encode(self, coords: Tensor) -> Tensor:
        """The MLP's input ``x = encoding(coords)`` ``[N, encoding.out_dim]``."""
        return self.encoding(coords)

    def forward(self, coords: Tensor) -> Tensor:
        return self.mlp(self.encode(coords))

    def mlp_params(self) -> tuple[list[Tensor], list[Tensor]]:
        """``(weights, biases)`` of the MLP after the encoding, nn.Linear layout."""
        linears = [m for m in self.mlp if isinstance(m, nn.Linear)]
        return [m.weight for m in linears], [m.bias for m in linears]

    def describe(self) -> dict[str, Any]:
        return {"encoding": self.encoding.describe(), "in_dim": self.in_dim,
                "depth": self.depth, "width": self.width, "out_dim": self.out_dim,
                "seed": self.seed}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "CoordinateMLP":
        """Rebuild from ``describe()`` (or any dict with encoding, depth, width[, out_dim, seed,
        in_dim])."""
        if not isinstance(config, Mapping):
            raise ValueError(f"config: expected a dict, got {type(config).__name__}")
        settings = dict(config)
        missing = [k for k in ("encoding", "depth", "width") if k not in settings]
        if missing:
            raise ValueError(f"config: missing {missing}")
        unknown = set(settings) - {"encoding", "depth", "width", "out_dim", "seed", "in_dim"}
        if unknown:
            raise ValueError(f"config: unknown keys {sorted(unknown)}")
        return cls(**settings)

    def extra_repr(self) -> str:
        return f"depth={self.depth}, width={self.width}, out_dim={self.out_dim}, seed={self.seed}"
