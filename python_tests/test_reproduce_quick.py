"""At the quick preset the paper's 1D Hamming and confusion claims hold (its margins are wide,
so a miss here more likely means a bug than a finding)."""
import json

import pytest

from specbias_ext.experiments.runner import reproduce


@pytest.mark.slow
def test_quick_hamming_and_confusion_1d_claims_hold(tmp_path):
    claims = reproduce(["hamming-1d", "confusion-1d"], "quick", "cpu", None, str(tmp_path),
                       quiet=True, log=lambda line: None)
    data = json.loads((tmp_path / "claims.json").read_text())
    assert data["total"] == claims["total"] >= 14
    failed = [(c["id"], c["expected"], {k: v["mean"] for k, v in c["measured"].items()})
              for c in data["claims"] if not c["held"]]
    assert not failed, failed
