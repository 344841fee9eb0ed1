"""Input encodings of coordinate networks, each an affine map followed by an optional sine.

Every encoding E: R^D -> R^E is written as ``u = c @ matrix.T + offset`` followed by ``sin`` on
the rows where ``periodic`` is True (a cosine is ``sin(u + pi/2)``). ``forward`` evaluates exactly
that form, so ``affine_sine()`` and ``jacobian()`` describe the encoding the network really sees,
which the boundary-distance analysis needs for forward-mode derivatives.

Precision. A periodic row advances its phase by ``sum_d |matrix[e, d]|`` radians per unit of
coordinate, so one unit in the last place (ulp) of a coordinate moves the phase of the fastest
row by ``phase_quantum(dtype) = max_phase_rate() * ulp(dtype)``, where ulp is the float spacing
at |c| in [1, 2) (covering every coordinate with |c| < 2, the project's grids included). With
positional encoding at L levels the fastest row is ``2^(L-1) pi``; in float32 (ulp 1.19e-7) the
quantum is 7.7e-4 rad at L = 12 and 0.1 rad at L = 20, too coarse for the top levels. Whenever
the quantum exceeds ``PHASE_TOLERANCE`` (5e-4 rad, about 1/12,500 of a period) the encoding is
evaluated in float64 and the result returned in the caller's dtype: the sine then sees the exact
phase of the (float32) coordinate, instead of one rounded at the product and inside the sine.
With float32 this switches PE on at L >= 12 and RFF once 2 pi max_i ||B_i||_1 > 4.2e3.
``needs_float64(dtype)`` exposes the decision and ``precision(dtype)`` reports it for results.
Coordinates that are themselves rounded (not on a dyadic grid) keep their own rounding: only a
float64 coordinate removes it.
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping, Union

import torch
from torch import nn

from .._validate import int_at_least

Tensor = torch.Tensor

HALF_PI = math.pi / 2

#: Largest phase step (radians) of the fastest periodic row per coordinate ulp before the
#: encoding is computed in float64 (see the module docstring).
PHASE_TOLERANCE = 5e-4


def coordinate_ulp(dtype: torch.dtype) -> float:
    """Float spacing of ``dtype`` for magnitudes in [1, 2): the largest ulp of a coordinate with
    |c| < 2 (``torch.finfo(dtype).eps``)."""
    if not dtype.is_floating_point:
        raise ValueError(f"dtype: expected a floating dtype, got {dtype}")
    return float(torch.finfo(dtype).eps)


def _linear(coords: Tensor, matrix: Tensor) -> Tensor:
    """``coords @ matrix.T`` as a sum of D (1 to 3) broadcast products: exact per row for PE,
    never TF32, no [N, E, D] temporary, and no size-dependent matmul lowering (a K = 1 matmul
    makes torch.compile guard on N and recompile)."""
    out = coords[:, 0:1] * matrix[:, 0]
    for d in range(1, matrix.shape[1]):
        out = out + coords[:, d:d + 1] * matrix[:, d]
    return out


def _refresh_after_load(module, incompatible_keys) -> None:
    module._refresh_phase_rate()


class Encoding(nn.Module):
    """Base class: subclasses implement ``_affine(dtype, device) -> (matrix, offset, periodic)``."""

    in_dim: int
    out_dim: int

    def _affine(self, dtype, device) -> tuple[Tensor, Tensor, Tensor]:
        raise NotImplementedError

    # ------------------------------------------------------------------ precision

    def max_phase_rate(self) -> float:
        """Radians per unit coordinate of the fastest periodic row, ``max_e sum_d |M_ed|``
        (0.0 without periodic rows). Kept as a Python float, refreshed when the encoding's
        state is loaded, so the precision decision is static under torch.compile."""
        rate = getattr(self, "_phase_rate", None)
        if rate is None:
            rate = self._refresh_phase_rate()
        return rate

    def _refresh_phase_rate(self) -> float:
        with torch.no_grad():
            matrix, _, periodic = self._affine(torch.float64, "cpu")
            rows = matrix[periodic.cpu()]
            rate = float(rows.abs().sum(dim=1).max()) if rows.numel() else 0.0
        self._phase_rate = rate
        return rate

    def phase_quantum(self, dtype: torch.dtype | None = None) -> float:
        """Phase step (radians) of the fastest row for one coordinate ulp in ``dtype``."""
        return self.max_phase_rate() * coordinate_ulp(dtype or torch.get_default_dtype())

    def needs_float64(self, dtype: torch.dtype | None = None) -> bool:
        """True when coordinates of ``dtype`` are encoded in float64 (``phase_quantum(dtype) >
        PHASE_TOLERANCE``); always False for float64 itself."""
        dtype = dtype or torch.get_default_dtype()
        return dtype != torch.float64 and self.phase_quantum(dtype) > PHASE_TOLERANCE

    def compute_dtype(self, dtype: torch.dtype | None = None) -> torch.dtype:
        """The dtype ``forward``/``jacobian`` evaluate in for coordinates of ``dtype``."""
        dtype = dtype or torch.get_default_dtype()
        return torch.float64 if self.needs_float64(dtype) else dtype

    def precision(self, dtype: torch.dtype | None = None) -> dict[str, Any]:
        """The precision decision for coordinates of ``dtype``, for results files."""
        dtype = dtype or torch.get_default_dtype()
        return {"coords_dtype": str(dtype).replace("torch.", ""),
                "computed_in": str(self.compute_dtype(dtype)).replace("torch.", ""),
                "phase_quantum_rad": self.phase_quantum(dtype),
                "phase_tolerance_rad": PHASE_TOLERANCE}

    def affine_sine(self, dtype=None, device=None) -> tuple[Tensor, Tensor, Tensor]:
        """``(matrix [E, D], offset [E], periodic bool [E])`` with
        ``forward(c) == where(periodic, sin(c @ matrix.T + offset), c @ matrix.T + offset)``."""
        dtype = dtype or torch.get_default_dtype()
        return self._affine(dtype, device)

    def _check_coords(self, coords: Tensor) -> None:
        if not isinstance(coords, Tensor):
            raise TypeError(f"coords: expected a Tensor, got {type(coords).__name__}")
        if coords.dim() != 2 or coords.shape[1] != self.in_dim:
            raise ValueError(
                f"coords: expected shape [N, {self.in_dim}] for a {self.in_dim}-D encoding, "
                f"got {list(coords.shape)}")
        if not coords.dtype.is_floating_point:
            raise ValueError(f"coords: expected a floating dtype, got {coords.dtype}")

    def preactivation(self, coords: Tensor) -> tuple[Tensor, Tensor]:
        """``(u [N, E], periodic [E])``: the affine part before the sine (computed in
        ``compute_dtype``, returned in coords' dtype)."""
        self._check_coords(coords)
        work = self.compute_dtype(coords.dtype)
        matrix, offset, periodic = self._affine(work, coords.device)
        return (_linear(coords.to(work), matrix) + offset).to(coords.dtype), periodic

    def _sine_parts(self, coords: Tensor):
        self._check_coords(coords)
        work = self.compute_dtype(coords.dtype)
        matrix, offset, periodic = self._affine(work, coords.device)
        linear = _linear(coords.to(work), matrix)
        # Rows with offset pi/2 are evaluated as cos(linear) rather than sin(linear + pi/2): the
        # same function, without the rounding of the sum (which grows with 2^l at high levels).
        # Selected with where, never a Python branch on tensor data, so the forward traces into
        # one graph (torch.compile fullgraph, torch.export).
        is_cos = periodic & (offset == HALF_PI)
        return matrix, offset, periodic, linear, is_cos

    def forward(self, coords: Tensor) -> Tensor:
        _, offset, periodic, linear, is_cos = self._sine_parts(coords)
        u = linear + offset
        out = torch.where(is_cos, torch.cos(linear), torch.where(periodic, torch.sin(u), u))
        return out.to(coords.dtype)

    def jacobian(self, coords: Tensor) -> Tensor:
        """``[N, E, D]``: d encoding / d coordinates at every point, from the affine-sine form."""
        matrix, offset, periodic, linear, is_cos = self._sine_parts(coords)
        scale = torch.where(periodic, torch.cos(linear + offset), torch.ones_like(linear))
        scale = torch.where(is_cos, -torch.sin(linear), scale)
        return (scale.unsqueeze(2) * matrix.unsqueeze(0)).to(coords.dtype)

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.describe().items())


class RawEncoding(Encoding):
    """Identity: the network sees the coordinates themselves (range set by the grid)."""

    def __init__(self, in_dim: int):
        super().__init__()
        self.in_dim = int_at_least(in_dim, "in_dim")
        self.out_dim = self.in_dim
        self._phase_rate = 0.0

    def _affine(self, dtype, device):
        matrix = torch.eye(self.in_dim, dtype=dtype, device=device)
        offset = torch.zeros(self.in_dim, dtype=dtype, device=device)
        periodic = torch.zeros(self.in_dim, dtype=torch.bool, device=device)
        return matrix, offset, periodic

    def forward(self, coords: Tensor) -> Tensor:
        self._check_coords(coords)
        return coords

    def describe(self):
        return {"name": "raw", "in_dim": self.in_dim}


class PositionalEncoding(Encoding):
    """For each coordinate c and l = 0..L-1: sin(2^l pi c), cos(2^l pi c).

    Output order: coordinate-major, then level, then (sin, cos); out_dim = 2 * L * D.
    """

    def __init__(self, in_dim: int, levels: int):
        super().__init__()
        self.in_dim = int_at_least(in_dim, "in_dim")
        self.levels = int_at_least(levels, "levels (L)")
        self.out_dim = 2 * self.levels * self.in_dim
        self._refresh_phase_rate()

    def _affine(self, dtype, device):
        d, levels = self.in_dim, self.levels
        freqs = math.pi * 2.0 ** torch.arange(levels, dtype=torch.float64)
        matrix = torch.zeros(d, levels, 2, d, dtype=torch.float64)
        for c in range(d):
            matrix[c, :, :, c] = freqs.unsqueeze(1)
        offset = torch.tensor([0.0, HALF_PI], dtype=torch.float64).repeat(d * levels)
        periodic = torch.ones(self.out_dim, dtype=torch.bool)
        return (matrix.reshape(self.out_dim, d).to(dtype=dtype, device=device),
                offset.to(dtype=dtype, device=device), periodic.to(device))

    def describe(self):
        return {"name": "pe", "in_dim": self.in_dim, "levels": self.levels}


class FourierFeatures(Encoding):
    """Gaussian random Fourier features [sin(2 pi B c), cos(2 pi B c)], B ~ N(0, sigma^2) [m, d].

    B is drawn once from ``seed`` (a private generator, the global RNG is untouched) and kept as
    the buffer ``B``, so it is saved and loaded with the model's state_dict. out_dim = 2 m.
    """

    def __init__(self, in_dim: int, num_features: int, sigma: float, seed: int = 0):
        super().__init__()
        self.in_dim = int_at_least(in_dim, "in_dim")
        self.num_features = int_at_least(num_features, "num_features (m)")
        try:
            sigma = float(sigma)
        except (TypeError, ValueError):
            raise ValueError(f"sigma: expected a positive float, got {sigma!r}") from None
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma: expected a finite value > 0, got {sigma}")
        self.sigma = sigma
        self.seed = int(seed)
        self.out_dim = 2 * self.num_features
        gen = torch.Generator().manual_seed(self.seed)
        b = sigma * torch.randn(self.num_features, self.in_dim, generator=gen, dtype=torch.float64)
        self.register_buffer("B", b.to(torch.get_default_dtype()))
        self._refresh_phase_rate()
        # A loaded state may bring another B: recompute the precision decision from it.
        self.register_load_state_dict_post_hook(_refresh_after_load)

    def _affine(self, dtype, device):
        b = (2 * math.pi) * self.B.to(dtype=dtype, device=device)
        matrix = torch.cat([b, b], dim=0)
        m = self.num_features
        offset = torch.cat([torch.zeros(m, dtype=dtype, device=device),
                            torch.full((m,), HALF_PI, dtype=dtype, device=device)])
        periodic = torch.ones(self.out_dim, dtype=torch.bool, device=device)
        return matrix, offset, periodic

    def describe(self):
        return {"name": "rff", "in_dim": self.in_dim, "num_features": self.num_features,
                "sigma": self.sigma, "seed": self.seed}


EncodingSpec = Union[str, Mapping[str, Any], Encoding]

_SPEC_HELP = ('expected "raw", "pe:<L>" (e.g. "pe:4"), "rff:<m>:<sigma>[:<seed>]", '
              "a dict from Encoding.describe(), or an Encoding")


def make_encoding(spec: EncodingSpec, in_dim: int | None = None) -> Encoding:
    """Build an encoding from a spec string, a describe() dict, or pass an Encoding through."""
    if isinstance(spec, Encoding):
        if in_dim is not None and spec.in_dim != in_dim:
            raise ValueError(f"in_dim: the encoding takes {spec.in_dim}-D coordinates, "
                             f"got in_dim={in_dim}")
        return spec
    if isinstance(spec, Mapping):
        return _from_dict(spec, in_dim)
    if not isinstance(spec, str):
        raise ValueError(f"encoding: {_SPEC_HELP}; got {type(spec).__name__}")
    if in_dim is None:
        raise ValueError(f"in_dim: required to build the encoding {spec!r} from a string")
    text = spec.strip().lower()
    parts = text.split(":")
    name, args = parts[0], parts[1:]
    if name == "raw" and not args:
        return RawEncoding(in_dim)
    if name == "pe" and len(args) == 1 and re.fullmatch(r"-?\d+", args[0]):
        return PositionalEncoding(in_dim, int(args[0]))
    if name == "rff" and len(args) in (2, 3):
        try:
            m = int(args[0])
            sigma = float(args[1])
            seed = int(args[2]) if len(args) == 3 else 0
        except ValueError:
            raise ValueError(f"encoding: bad rff spec {spec!r}; {_SPEC_HELP}") from None
        return FourierFeatures(in_dim, m, sigma, seed)
    raise ValueError(f"encoding: unknown encoding {spec!r}; {_SPEC_HELP}")


def _from_dict(spec: Mapping[str, Any], in_dim: int | None) -> Encoding:
    settings = dict(spec)
    name = settings.pop("name", None)
    dict_in = settings.pop("in_dim", None)
    if dict_in is not None and in_dim is not None and int(dict_in) != int(in_dim):
        raise ValueError(f"in_dim: the encoding dict says in_dim={dict_in}, got in_dim={in_dim}")
    in_dim = dict_in if dict_in is not None else in_dim
    if in_dim is None:
        raise ValueError("in_dim: missing from the encoding dict and not given")
    classes = {"raw": RawEncoding, "pe": PositionalEncoding, "rff": FourierFeatures}
    if name not in classes:
        raise ValueError(f"encoding: unknown encoding name {name!r} in {dict(spec)!r}; "
                         f"expected one of {sorted(classes)}")
    try:
        return classes[name](in_dim, **settings)
    except TypeError as exc:
        raise ValueError(f"encoding: bad settings {dict(spec)!r} for {name!r}: {exc}") from None
