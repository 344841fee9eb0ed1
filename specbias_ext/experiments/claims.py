"""Claims of the paper checked by numbers measured in a run.

A claim is never set to hold by hand: ``in_range``, ``ordered``, ``greater`` and ``less`` compute
``held`` from the per-seed measurements they are given. The mean over seeds is compared; the spread
(standard deviation, min, max) is reported next to it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np


def stats(values: Sequence[float]) -> dict:
    """Mean and spread of one measurement over seeds."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"),
                "max": float("nan"), "n": 0, "values": []}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size),
            "values": [float(x) for x in v]}


@dataclass
class Claim:
    experiment: str
    id: str
    statement: str          # what the paper says
    expected: str           # the check, in words
    measured: dict          # name -> stats over seeds
    held: bool
    note: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def _mean(s: dict) -> float:
    return s["mean"]


def in_range(experiment, cid, statement, name, values, lo, hi, note="") -> Claim:
    s = stats(values)
    held = bool(lo <= s["mean"] <= hi)
    return Claim(experiment, cid, statement, f"mean of {name} in [{lo:g}, {hi:g}]",
                 {name: s}, held, note)


def greater(experiment, cid, statement, name_a, values_a, name_b, values_b, note="") -> Claim:
    """Holds when mean(a) > mean(b)."""
    sa, sb = stats(values_a), stats(values_b)
    return Claim(experiment, cid, statement, f"mean {name_a} > mean {name_b}",
                 {name_a: sa, name_b: sb}, bool(sa["mean"] > sb["mean"]), note)


def less(experiment, cid, statement, name_a, values_a, name_b, values_b, note="") -> Claim:
    """Holds when mean(a) < mean(b)."""
    sa, sb = stats(values_a), stats(values_b)
    return Claim(experiment, cid, statement, f"mean {name_a} < mean {name_b}",
                 {name_a: sa, name_b: sb}, bool(sa["mean"] < sb["mean"]), note)


def below(experiment, cid, statement, name, values, threshold, note="") -> Claim:
    s = stats(values)
    return Claim(experiment, cid, statement, f"mean {name} < {threshold:g}", {name: s},
                 bool(s["mean"] < threshold), note)


def above(experiment, cid, statement, name, values, threshold, note="") -> Claim:
    s = stats(values)
    return Claim(experiment, cid, statement, f"mean {name} > {threshold:g}", {name: s},
                 bool(s["mean"] > threshold), note)


def ordered(experiment, cid, statement, named_values: Sequence[tuple[str, Sequence[float]]],
            direction: str, strict: bool = True, note="") -> Claim:
    """Holds when the means follow ``direction`` ("increasing" / "decreasing") in the given order."""
    measured = {name: stats(v) for name, v in named_values}
    means = [measured[name]["mean"] for name, _ in named_values]
    if direction not in ("increasing", "decreasing"):
        raise ValueError(f"direction: expected 'increasing' or 'decreasing', got {direction!r}")
    sign = 1 if direction == "increasing" else -1
    steps = [sign * (b - a) for a, b in zip(means[:-1], means[1:])]
    held = all((d > 0) if strict else (d >= 0) for d in steps) and not any(map(math.isnan, means))
    names = " < ".join(n for n, _ in named_values) if sign > 0 else \
        " > ".join(n for n, _ in named_values)
    rel = "" if strict else " (ties allowed)"
    return Claim(experiment, cid, statement, f"means ordered {names}{rel}", measured, held, note)


@dataclass
class ClaimTable:
    claims: list = field(default_factory=list)

    def extend(self, claims: Sequence[Claim]) -> None:
        self.claims.extend(claims)

    def to_json(self) -> dict:
        return {"claims": [c.to_json() for c in self.claims],
                "held": sum(c.held for c in self.claims),
                "total": len(self.claims)}
