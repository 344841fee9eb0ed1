"""Region counts on a grid, and when they are only lower bounds.

Distinct activation patterns on a grid are a lower bound of the number of
regions in the box. ``grid_region_count`` records the count with the grid's number of points, a
*saturated* flag (count above a stated fraction of the points, 0.5 by default: most points then
sit in a region of their own, so the grid cannot resolve the regions) and the counts on grids of
the same box with 1/4, 1/2 and all of the points. Saturated counts are displayed as ``">= count"``,
and a comparison that involves one is inconclusive.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from .intervals import (DEFAULT_LEVEL, INCONCLUSIVE, Verdict, decide, difference, ratio)

DEFAULT_SATURATION = 0.5
#: Fractions of the grid's points at which ``grid_region_count`` also counts (same box).
CONVERGENCE_FRACTIONS = (0.25, 0.5, 1.0)


@dataclass(frozen=True)
class GridCount:
    """A region count on a grid: ``count`` distinct patterns on ``points`` grid points.

    ``convergence`` holds ``(points, count)`` on grids of the same box with 1/4, 1/2 and all of
    the points (empty when not measured). ``saturated`` when count > ``saturation * points``.
    """

    count: int
    points: int
    saturation: float = DEFAULT_SATURATION
    convergence: tuple[tuple[int, int], ...] = ()

    def __post_init__(self):
        if self.points < 1:
            raise ValueError(f"points: expected at least one grid point, got {self.points}")
        if not 0 <= self.count <= self.points:
            raise ValueError(f"count: expected 0..points ({self.points}), got {self.count}")
        if not 0.0 < self.saturation <= 1.0:
            raise ValueError(f"saturation: expected a fraction in (0, 1], got {self.saturation}")

    @property
    def saturated(self) -> bool:
        return self.count > self.saturation * self.points

    @property
    def fraction(self) -> float:
        """Regions per grid point."""
        return self.count / self.points

    @property
    def growth(self) -> Optional[float]:
        """count on all points / count on half of them (None without convergence counts): near
        1 when the grid resolves the regions, near the ratio of points when it does not."""
        if len(self.convergence) < 2 or self.convergence[-2][1] == 0:
            return None
        return self.convergence[-1][1] / self.convergence[-2][1]

    def display(self) -> str:
        """``"count"``, or ``">= count"`` for a saturated count (a lower bound only)."""
        return f">= {self.count}" if self.saturated else str(self.count)

    def to_json(self) -> dict:
        return {"count": self.count, "points": self.points, "saturation": self.saturation,
                "saturated": self.saturated, "display": self.display(),
                "convergence": [list(c) for c in self.convergence], "growth": self.growth}


def grid_region_count(count_at: Callable[[int], int], size: int, dims: int = 1,
                      saturation: float = DEFAULT_SATURATION,
                      fractions: Sequence[float] = CONVERGENCE_FRACTIONS) -> GridCount:
    """Count regions on a grid of ``size`` points per axis (``size**dims`` points) and on grids
    of the same box with the given fractions of the points.

    ``count_at(s)`` returns the number of distinct activation patterns on the grid of the box
    with ``s`` points per axis; the fraction f uses ``round(size * f**(1/dims))`` per axis (in
    1D exactly N/4, N/2, N). The last fraction must be 1 (the grid itself).
    """
    size, dims = int(size), int(dims)
    if size < 1 or dims < 1:
        raise ValueError(f"size, dims: expected positive ints, got size={size}, dims={dims}")
    fractions = [float(f) for f in fractions]
    if not fractions or fractions[-1] != 1.0 or any(not 0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions: expected increasing fractions in (0, 1] ending at 1, "
                         f"got {fractions}")
    conv = []
    for f in fractions:
        s = max(1, round(size * f ** (1.0 / dims)))
        conv.append((s ** dims, int(count_at(s))))
    points, count = conv[-1]
    return GridCount(count, points, saturation, tuple(conv))


def compare_counts(a: Sequence[GridCount], b: Sequence[GridCount], *,
                   threshold: float = 1.0, direction: str = "greater",
                   level: float = DEFAULT_LEVEL) -> Verdict:
    """Verdict of "counts a exceed counts b" as a ratio over paired seeds; inconclusive (with
    the effect still reported) when any count involved is saturated, since a saturated count is
    only a lower bound."""
    a, b = list(a), list(b)
    if not a or not b:
        raise ValueError("a, b: expected at least one GridCount each")
    counts_a = [g.count for g in a]
    counts_b = [g.count for g in b]
    if all(c > 0 for c in counts_a + counts_b):
        effect = ratio(counts_a, counts_b, level=level)
    else:
        effect = difference(counts_a, counts_b, level=level)
        threshold = 0.0 if threshold == 1.0 else threshold
    saturated = [g for g in a + b if g.saturated]
    if saturated:
        return Verdict(INCONCLUSIVE, effect, float(threshold), direction,
                       f"{len(saturated)} of {len(a) + len(b)} counts saturate the grid "
                       "(lower bounds only)")
    return decide(effect, threshold, direction)
