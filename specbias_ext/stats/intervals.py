"""Uncertainty of claims over seeds: effects with t intervals, and three-way verdicts.

Claims. A claim compares per-seed measurements: variant ``a`` against variant ``b`` (or against
a fixed value). Its *effect* is stated in the claim's own units:

* ``difference``: ``mean(a - b)`` over paired seeds (the same seeds in a and b), with the
  Student t interval ``mean(d) +- t_{n-1} sd(d) / sqrt(n)``; unpaired samples (different seed
  counts) get Welch's interval with the Welch-Satterthwaite degrees of freedom.
* ``ratio``: the ratio of geometric means ``exp(mean(log a - log b))``, its interval the t
  interval of the log difference mapped back through exp (so it is never negative and a factor
  of 2 up weighs like a factor of 2 down). Needs positive values.

The verdict against a threshold (0 for a difference, 1 for a ratio, unless the claim says
otherwise) is three-way: *held* when the whole interval lies on the claimed side, *not held* when
it lies wholly on the other side (the threshold itself counts as the other side), and
*inconclusive* when it contains the threshold or is undefined (one seed, or a non-finite value).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import scipy.stats

HELD = "held"
NOT_HELD = "not held"
INCONCLUSIVE = "inconclusive"

DEFAULT_LEVEL = 0.95


# ----------------------------------------------------------------------------- t quantiles


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution with ``df`` > 0 degrees of freedom."""
    if not df > 0:
        raise ValueError(f"df: expected degrees of freedom > 0, got {df}")
    return float(scipy.stats.t.cdf(t, df))


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t: the t with ``t_cdf(t, df) == p`` (0 < p < 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p: expected a probability in (0, 1), got {p}")
    if not df > 0:
        raise ValueError(f"df: expected degrees of freedom > 0, got {df}")
    return float(scipy.stats.t.ppf(p, df))


# ----------------------------------------------------------------------------- effects


@dataclass(frozen=True)
class Effect:
    """An effect over seeds with its interval (``low``/``high`` None when undefined, e.g. n < 2).

    ``kind`` is "difference" (units of the measurement) or "ratio" (dimensionless); ``n`` the
    number of seeds (pairs, or the smaller sample when unpaired); ``method`` names the interval.
    """

    kind: str
    estimate: float
    low: Optional[float]
    high: Optional[float]
    n: int
    level: float
    method: str

    @property
    def defined(self) -> bool:
        return (self.low is not None and self.high is not None
                and math.isfinite(self.low) and math.isfinite(self.high))

    def to_json(self) -> dict:
        return asdict(self)


def _clean(values: Sequence[float], name: str) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a sequence of numbers, got {values!r}") from None
    if not out:
        raise ValueError(f"{name}: expected at least one value (one per seed), got none")
    return out


def check_level(level: float) -> float:
    """``level`` as a float in (0, 1), else a ValueError naming it."""
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: expected a confidence level in (0, 1), got {level}")
    return level


def mean_sd(v: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1; NaN for one value)."""
    n = len(v)
    mean = sum(v) / n
    var = sum((x - mean) ** 2 for x in v) / (n - 1) if n > 1 else float("nan")
    return mean, math.sqrt(var)


def _t_interval(values: Sequence[float], level: float) -> tuple[float, Optional[float],
                                                                  Optional[float]]:
    mean, sd = mean_sd(values)
    n = len(values)
    if n < 2 or not (math.isfinite(mean) and math.isfinite(sd)):
        return mean, None, None
    half = t_quantile(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def _welch_interval(a: Sequence[float], b: Sequence[float], level: float):
    ma, sa = mean_sd(a)
    mb, sb = mean_sd(b)
    est = ma - mb
    if len(a) < 2 or len(b) < 2:
        return est, None, None
    va, vb = sa * sa / len(a), sb * sb / len(b)
    se = math.sqrt(va + vb)
    if not math.isfinite(se):
        return est, None, None
    if se == 0.0:
        return est, est, est
    df = (va + vb) ** 2 / (va * va / (len(a) - 1) + vb * vb / (len(b) - 1))
    half = t_quantile(0.5 + level / 2.0, df) * se
    return est, est - half, est + half


def difference(a: Sequence[float], b: Optional[Sequence[float]] = None, *,
               paired: Optional[bool] = None, level: float = DEFAULT_LEVEL) -> Effect:
    """Effect ``a - b`` over seeds (``b`` None: the mean of ``a`` itself, vs 0).

    ``paired`` defaults to True when a and b have the same length (the same seeds, in order);
    paired uses the t interval of the per-seed differences, unpaired Welch's interval.
    """
    level = check_level(level)
    a = _clean(a, "a")
    if b is None:
        est, lo, hi = _t_interval(a, level)
        return Effect("difference", est, lo, hi, len(a), level, "t interval of the mean")
    b = _clean(b, "b")
    if paired is None:
        paired = len(a) == len(b)
    if paired:
        if len(a) != len(b):
            raise ValueError(f"b: paired seeds need as many values as a ({len(a)}), got {len(b)}")
        est, lo, hi = _t_interval([x - y for x, y in zip(a, b)], level)
        return Effect("difference", est, lo, hi, len(a), level,
                      "paired t interval of the per-seed differences")
    est, lo, hi = _welch_interval(a, b, level)
    return Effect("difference", est, lo, hi, min(len(a), len(b)), level, "Welch t interval")


def ratio(a: Sequence[float], b: Optional[Sequence[float]] = None, *,
          paired: Optional[bool] = None, level: float = DEFAULT_LEVEL) -> Effect:
    """Effect ``a / b`` as a ratio of geometric means, interval from the t interval of
    ``log a - log b`` mapped through exp (``b`` None: the geometric mean of ``a``, vs 1).

    Every value must be positive (a ratio of a zero or negative measurement is not defined).
    """
    level = check_level(level)
    a = _clean(a, "a")
    for name, vals in (("a", a), ("b", None if b is None else _clean(b, "b"))):
        if vals is not None and not all(v > 0 and math.isfinite(v) for v in vals):
            raise ValueError(f"{name}: a ratio needs finite positive values, got {vals}")
    log_effect = difference([math.log(v) for v in a],
                            None if b is None else [math.log(float(v)) for v in b],
                            paired=paired, level=level)
    exp = (lambda v: None if v is None else math.exp(v))
    return Effect("ratio", math.exp(log_effect.estimate), exp(log_effect.low),
                  exp(log_effect.high), log_effect.n, level,
                  f"exp of the {log_effect.method} on the log scale")


# ----------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    """A three-way verdict: ``verdict`` is "held", "not held" or "inconclusive"; the claim is
    ``effect > threshold`` (direction "greater") or ``effect < threshold`` ("less")."""

    verdict: str
    effect: Optional[Effect]
    threshold: float
    direction: str
    reason: str

    @property
    def held(self) -> bool:
        return self.verdict == HELD

    def to_json(self) -> dict:
        out = asdict(self)
        out["effect"] = None if self.effect is None else self.effect.to_json()
        return out


def decide(effect: Effect, threshold: Optional[float] = None,
           direction: str = "greater") -> Verdict:
    """Verdict of the claim ``effect > threshold`` (or ``<`` with direction "less").

    ``threshold`` defaults to 0 for a difference and 1 for a ratio.
    """
    if direction not in ("greater", "less"):
        raise ValueError(f"direction: expected 'greater' or 'less', got {direction!r}")
    if threshold is None:
        threshold = 1.0 if effect.kind == "ratio" else 0.0
    threshold = float(threshold)
    sign = ">" if direction == "greater" else "<"
    if not effect.defined:
        why = ("one seed: no interval" if effect.n < 2 else "the interval is not finite")
        return Verdict(INCONCLUSIVE, effect, threshold, direction, why)
    lo, hi = effect.low, effect.high
    pct = f"{effect.level:.0%}"
    span = f"{pct} interval [{lo:.4g}, {hi:.4g}]"
    if (lo > threshold) if direction == "greater" else (hi < threshold):
        return Verdict(HELD, effect, threshold, direction,
                       f"{span} lies wholly {sign} {threshold:g}")
    if (hi <= threshold) if direction == "greater" else (lo >= threshold):
        return Verdict(NOT_HELD, effect, threshold, direction,
                       f"{span} lies wholly on the other side of {threshold:g}")
    return Verdict(INCONCLUSIVE, effect, threshold, direction,
                   f"{span} contains {threshold:g}")


def combine(verdicts: Sequence[Verdict]) -> str:
    """One verdict for a claim made of several comparisons (e.g. an ordering): held if every
    part holds, not held if any part does not hold, else inconclusive."""
    if not verdicts:
        raise ValueError("verdicts: expected at least one verdict to combine")
    kinds = {v.verdict for v in verdicts}
    if kinds == {HELD}:
        return HELD
    if NOT_HELD in kinds:
        return NOT_HELD
    return INCONCLUSIVE
