"""The claim checks of `specbias reproduce` and the small measures of the param-norms and angles
experiments."""
import math

import torch

from specbias_ext import claims as C
from specbias_ext.experiments.params import hyperplane_cosines, layer_spectral_norms


def test_norms_and_cosines():
    w = [torch.diag(torch.tensor([3.0, 1.0])), torch.eye(2)]
    torch.testing.assert_close(layer_spectral_norms(w), torch.tensor([3.0, 1.0]))
    cos = hyperplane_cosines(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
    torch.testing.assert_close(cos, torch.tensor([1 / math.sqrt(2), 0.0, 0.0]))


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
