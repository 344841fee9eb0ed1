"""Local complexity of a network around points: how many neurons' boundaries pass within a
radius, per point and hidden layer (definitions and conventions: docs/local_complexity.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..nets.network import ReluNetwork
from ..ops.complexity_coords import first_order_complexity, sampled_complexity
from ..ops.hull import hull_directions
from .summaries import summary

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

    def summary(self) -> dict:
        """JSON-able: the total's mean, std, min, 5/50/95 % quantiles and max
        (``measure.summaries.summary``; None for no points), the mean count and the mean
        fraction of each layer, the mean total fraction (total over all hidden neurons), and the
        settings."""
        out = summary(self.total)
        n = self.counts.shape[0]
        means = self.counts.to(torch.float64).mean(0) if n else None
        out["layer_means"] = means.cpu().tolist() if n else [None] * len(self.widths)
        out["layer_fraction_means"] = ([m / w for m, w in zip(out["layer_means"], self.widths)]
                                       if n else [None] * len(self.widths))
        out["total_fraction_mean"] = out["mean"] / sum(self.widths) if n else None
        out.update(points=n, radius=self.radius, method=self.method,
                   num_directions=self.num_directions, include_centre=self.include_centre)
        return out


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
