"""Local complexity of a network around points: how many neurons' boundaries pass within a
radius, per point and hidden layer (definitions and conventions: docs/local_complexity.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from ..nets.network import ReluNetwork
from ..ops.complexity_coords import first_order_complexity, sampled_complexity
from ..ops.hull import hull_directions
from .summaries import count_summary

Tensor = torch.Tensor

METHODS = ("sampled", "first_order")


@dataclass
class LocalComplexity:
    """Per-point, per-layer counts and what they were measured with.

    ``counts`` is int32 ``[N, L]``; ``widths`` the L hidden widths. ``total`` (the LC of each
    point) is the row sum, ``fraction`` each count over its layer's width.
    """

    counts: Tensor
    widths: list[int]
    radius: float
    method: str
    num_directions: Optional[int]
    include_centre: bool

    @property
    def total(self) -> Tensor:
        """int64 ``[N]``: neurons of all hidden layers counted at each point."""
        return self.counts.sum(dim=1, dtype=torch.int64)

    @property
    def fraction(self) -> Tensor:
        """float64 ``[N, L]``: each count over its layer's width."""
        widths = torch.tensor(self.widths, dtype=torch.float64, device=self.counts.device)
        return self.counts.to(torch.float64) / widths

    def settings(self) -> dict:
        """What the counts were measured with (JSON-able)."""
        return {"radius": self.radius, "method": self.method,
                "num_directions": self.num_directions, "include_centre": self.include_centre}

    def total_histogram(self) -> Tensor:
        """int64 ``[H + 1]`` (H: all hidden neurons): how many points have each total."""
        return torch.bincount(self.total.cpu(), minlength=sum(self.widths) + 1)

    def layer_sums(self) -> Tensor:
        """int64 ``[L]``: each layer's counts summed over the points."""
        return self.counts.sum(dim=0, dtype=torch.int64).cpu()

    def summary(self) -> dict:
        """``complexity_summary`` of these counts."""
        return complexity_summary(self.total_histogram(), self.layer_sums(), self.widths,
                                  self.settings())


def complexity_summary(total_hist: Tensor, layer_sums: Tensor, widths, settings: dict) -> dict:
    """JSON-able summary of local complexity counts given as sums (so that the sums of tiles or
    processes give the summary of all the points): from ``total_hist`` (int64 ``[H + 1]``, how
    many points have each total) the total's mean, std, min, 5/50/95 % quantiles and max
    (``measure.summaries.count_summary``; None for no points); from ``layer_sums`` (int64
    ``[L]``) the mean count and the mean fraction of each layer (``widths``); the mean total
    fraction (total over all hidden neurons); the number of points and ``settings``."""
    out = count_summary(total_hist)
    n = int(total_hist.sum())
    widths = [int(w) for w in widths]
    sums = [int(v) for v in layer_sums.tolist()]
    out["layer_means"] = [s / n for s in sums] if n else [None] * len(widths)
    out["layer_fraction_means"] = ([m / w for m, w in zip(out["layer_means"], widths)]
                                   if n else [None] * len(widths))
    out["total_fraction_mean"] = out["mean"] / sum(widths) if n else None
    out.update(points=n, **settings)
    return out


def check_radius(radius, name: str) -> float:
    """A radius that counts something: a finite number > 0 (coordinate units)."""
    try:
        if isinstance(radius, bool):
            raise TypeError
        value = float(radius)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a radius > 0 in coordinate units, got "
                         f"{radius!r}") from None
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(f"{name}: expected a finite radius > 0 in coordinate units, got "
                         f"{radius!r}")
    return value


def local_complexity(coords: Tensor, encoding, net: ReluNetwork, radius: float, *,
                     num_directions: Optional[int] = None, seed: int = 0,
                     include_centre: bool = False, method: str = "sampled") -> LocalComplexity:
    """Local complexity of ``net`` around every point of ``coords``.

    Args:
        coords: ``[N, D]`` points before the encoding (a grid, the training points, ...).
        encoding: an encoding object, a ``(matrix, offset, periodic)`` triple, ``None`` (raw),
            or any differentiable module/function ``[M, D] -> [M, E]``.
        net: the ``ReluNetwork`` on the encoded features.
        radius: r in coordinate units (on a grid, the grid step is the natural choice).
        num_directions: sampled only: K hull directions, ``2K`` vertices; ``None`` (default) or
            ``K >= D``: the D coordinate axes; fewer: K seeded random orthonormal directions.
        seed: the seed of the random directions.
        include_centre: sampled only: add the point itself as a vertex. Default False, as the
            published code's default configuration.
        method: ``"sampled"`` (neurons whose sign is not the same at every hull vertex) or
            ``"first_order"`` (neurons with ``|z| / ||grad_c z|| <= radius``).

    Returns:
        ``LocalComplexity`` with int32 counts ``[N, L]`` and ``summary()``.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    radius = float(radius)
    if not radius >= 0.0 or radius == float("inf"):
        raise ValueError(f"radius: expected a finite radius >= 0, got {radius}")
    if not isinstance(coords, Tensor) or coords.dim() != 2:
        shape = list(coords.shape) if isinstance(coords, Tensor) else type(coords).__name__
        raise ValueError(f"coords: expected a 2-D tensor [N, D], got {shape}")
    if method == "sampled":
        directions = hull_directions(coords.shape[1], num_directions, seed=seed,
                                     dtype=coords.dtype, device=coords.device)
        counts = sampled_complexity(coords, encoding, net, directions, radius,
                                    include_centre=include_centre)
        used = directions.shape[0]
    else:
        counts = first_order_complexity(coords, encoding, net, [radius])[2][:, :, 0].contiguous()
        used = None
    return LocalComplexity(counts=counts, widths=net.hidden_widths, radius=radius, method=method,
                           num_directions=used,
                           include_centre=bool(include_centre) if method == "sampled" else False)
