"""The claim checks of `specbias reproduce`: effect, 95% interval, three-way verdict."""
import pytest

from specbias_ext.experiments import claims as C
from specbias_ext.stats.grid_counts import GridCount


def test_claims_are_computed_not_set():
    assert C.in_range("e", "c", "s", "x", [1.0, 1.1, 0.9, 1.0], 0, 2).held
    assert C.in_range("e", "c", "s", "x", [3.0, 3.1, 2.9], 0, 2).verdict == "not held"
    assert C.greater("e", "c", "s", "a", [2, 3, 4, 5], "b", [1, 2, 3, 4.1]).held
    assert C.greater("e", "c", "s", "a", [1, 2, 3], "b", [2, 3, 4.1]).verdict == "not held"
    assert C.ordered("e", "c", "s", [("a", [1, 1.1, 1]), ("b", [2, 2.1, 2.2]),
                                     ("c", [3, 3.2, 3.1])], "increasing").held
    assert C.ordered("e", "c", "s", [("a", [1, 1, 1]), ("b", [3, 3, 3.1]),
                                     ("c", [2, 2, 2.1])], "increasing").verdict == "not held"
    assert C.ordered("e", "c", "s", [("a", [3, 3]), ("b", [3, 3])], "decreasing",
                     strict=False).held
    s = C.stats([1.0, 3.0])
    assert s["mean"] == 2.0 and s["min"] == 1.0 and s["max"] == 3.0 and s["n"] == 2


def test_interval_straddling_threshold_is_inconclusive():
    c = C.greater("e", "c", "s", "a", [0.288, 0.30, 0.28], "b", [0.293, 0.29, 0.29])
    assert c.verdict == "inconclusive" and not c.held
    assert c.effect["low"] < 0 < c.effect["high"]
    one = C.above("e", "c", "s", "x", [5.0], 1.0)
    assert one.verdict == "inconclusive" and "one seed" in one.reason


def test_effect_is_in_the_claims_units():
    c = C.greater("e", "c", "s", "a", [4.0, 8.0, 6.0], "b", [2.0, 4.0, 3.0], kind="ratio")
    assert c.effect["kind"] == "ratio" and c.effect["estimate"] == pytest.approx(2.0)
    d = C.less("e", "c", "s", "a", [1.0, 2.0, 3.0], "b", [2.0, 3.1, 4.0])
    assert d.effect["kind"] == "difference" and d.effect["estimate"] == pytest.approx(-1.0333, 1e-3)
    assert d.held and d.to_json()["held"] is True


def test_saturated_counts_make_a_count_claim_inconclusive():
    big = [GridCount(90, 100), GridCount(95, 100), GridCount(92, 100)]
    small = [GridCount(10, 100), GridCount(12, 100), GridCount(11, 100)]
    c = C.counts_greater("e", "c", "s", "pe", big, "raw", small)
    assert c.verdict == "inconclusive" and c.measured["pe"]["display"][0] == ">= 90"
    mid = [GridCount(40, 100), GridCount(42, 100), GridCount(41, 100)]
    assert C.counts_greater("e", "c", "s", "a", mid, "b", small).held
    assert C.counts_ordered("e", "c", "s", [("b", small), ("a", mid)]).held


def test_table_counts_every_verdict():
    t = C.ClaimTable()
    t.extend([C.above("noise-2d", "a", "s", "x", [5.0, 5.1, 5.2], 1.0),
              C.above("noise-2d", "b", "s", "x", [0.0, 0.1, 0.2], 1.0),
              C.above("noise-2d", "c", "s", "x", [5.0], 1.0)])
    j = t.to_json()
    assert (j["held"], j["not_held"], j["inconclusive"], j["total"]) == (1, 1, 1, 3)
    assert all(c["source"] for c in j["claims"]) and j["rule"]
