"""The claim checks of `specbias reproduce`."""
from specbias_ext.experiments import claims as C


def test_claims_are_computed_not_set():
    assert C.in_range("e", "c", "s", "x", [1.0, 2.0], 0, 2).held
    assert not C.in_range("e", "c", "s", "x", [3.0, 2.5], 0, 2).held
    assert C.greater("e", "c", "s", "a", [2, 3], "b", [1, 1]).held
    assert not C.greater("e", "c", "s", "a", [1], "b", [1]).held
    assert C.ordered("e", "c", "s", [("a", [1]), ("b", [2]), ("c", [3])], "increasing").held
    assert not C.ordered("e", "c", "s", [("a", [1]), ("b", [3]), ("c", [2])], "increasing").held
    assert C.ordered("e", "c", "s", [("a", [3]), ("b", [3])], "decreasing", strict=False).held
    s = C.stats([1.0, 3.0])
    assert s["mean"] == 2.0 and s["min"] == 1.0 and s["max"] == 3.0 and s["n"] == 2
