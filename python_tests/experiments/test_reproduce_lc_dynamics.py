"""The lc-dynamics extension experiment on the smoke preset (a wiring test: its claims are not
expected to hold), and neighbour_hamming, the per-point local Hamming it compares LC with."""
import json

import numpy as np
import pytest
import torch

from specbias_ext import measure, reference
from specbias_ext.experiments.registry import EXPERIMENTS
from specbias_ext.experiments.runner import reproduce


@pytest.fixture(scope="module")
def lc_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lc")
    lines = []
    claims = reproduce(["lc-dynamics"], "smoke", "cpu", None, str(out), quiet=True,
                       log=lines.append)
    return out, claims, lines


def test_registered_as_an_extension():
    assert "lc-dynamics" in EXPERIMENTS
    assert EXPERIMENTS["lc-dynamics"][1].startswith("extension, not in the paper")


def test_results_claims_and_arrays(lc_run):
    out, claims, lines = lc_run
    assert len(lines) == 1 and lines[0].startswith("[lc-dynamics]")
    res = json.loads((out / "lc-dynamics" / "results.json").read_text())
    assert "extension, not in the paper" in res["title"]
    ours = [c for c in claims["claims"] if c["experiment"] == "lc-dynamics"]
    labels = {"1D": ["raw [0,1)", "raw [-1,1)", "PE L=4"], "2D": ["raw [0,1)", "raw [-1,1)",
                                                                  "PE L=8"]}
    assert len(ours) == 4 * 6
    for c in ours:
        assert c["statement"].startswith("extension, not in the paper")
        assert c["source"].startswith("extension, not in the paper")
        assert c["verdict"] in ("held", "not held", "inconclusive")
    with np.load(out / "lc-dynamics" / "arrays.npz") as arrays:
        for tag, names in labels.items():
            epochs = res["series"][tag]["epochs"]
            for label in names:
                k = "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")
                k = k.replace("__", "_")
                lc = arrays[f"{tag}__{k}__lc"]
                ham = arrays[f"{tag}__{k}__hamming"]
                assert lc.shape == ham.shape and lc.shape[1] == len(epochs)
                assert (lc >= 0).all() and (ham >= 0).all()
                layers = arrays[f"{tag}__{k}__lc_layers"]
                np.testing.assert_allclose(layers.sum(-1), lc, rtol=1e-12)
                derived = res["series"][tag]["derived"][label]
                assert all(-1 <= r <= 1 for r in derived["corr_points"] + derived["corr_epochs"])
    figure = res["figures"][0]
    with open(figure, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_neighbour_hamming_brute_force():
    gen = torch.Generator().manual_seed(0)
    for shape in [(7,), (4, 5), (2, 3, 4), (1,), (1, 3)]:
        n = int(np.prod(shape))
        bits = torch.rand(n, 90, generator=gen) < 0.5
        patterns = reference.pack_bits(bits)
        got = measure.neighbour_hamming(patterns, shape)
        idx = np.arange(n).reshape(shape)
        expect = np.zeros(n)
        for flat in range(n):
            pos = np.unravel_index(flat, shape)
            ds = []
            for axis in range(len(shape)):
                for step in (-1, 1):
                    q = list(pos)
                    q[axis] += step
                    if 0 <= q[axis] < shape[axis]:
                        ds.append(int((bits[flat] != bits[idx[tuple(q)]]).sum()))
            expect[flat] = np.mean(ds) if ds else 0.0
        np.testing.assert_allclose(got.numpy(), expect)
