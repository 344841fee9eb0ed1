"""`reproduce --preset smoke` runs every experiment and writes well-formed figures, results,
claims.json and report."""
import json
import os
import re

import numpy as np
import pytest

from specbias_ext.experiments.registry import EXPERIMENTS
from specbias_ext.experiments.runner import reproduce

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    lines = []
    claims = reproduce(None, "smoke", "cpu", None, str(out), quiet=True, log=lines.append)
    return out, claims, lines


def test_one_summary_line_per_experiment(smoke_run):
    _, _, lines = smoke_run
    assert len(lines) == len(EXPERIMENTS)
    for name, line in zip(EXPERIMENTS, lines):
        assert line.startswith(f"[{name}]") and "claims held" in line


def test_every_experiment_writes_results_arrays_and_figures(smoke_run):
    out, _, _ = smoke_run
    for name in EXPERIMENTS:
        folder = out / name
        with open(folder / "results.json") as f:
            res = json.load(f)
        assert res["name"] == name
        for k in ("title", "settings", "series", "figures", "claims", "timings", "summary"):
            assert k in res, (name, k)
        assert res["settings"]["preset"] == "smoke" and res["timings"]["total_s"] > 0
        assert res["figures"], name
        for png in res["figures"]:
            with open(png, "rb") as f:
                assert f.read(8) == PNG
            with open(png[:-4] + ".pdf", "rb") as f:
                assert f.read(5) == b"%PDF-"
        with np.load(folder / "arrays.npz") as arrays:
            assert sorted(arrays.files) == sorted(res["arrays"]) and arrays.files
            for k in arrays.files:
                assert np.all(np.isfinite(arrays[k][np.isfinite(arrays[k])]))


def test_claims_json_is_complete_and_consistent(smoke_run):
    out, claims, _ = smoke_run
    with open(out / "claims.json") as f:
        data = json.load(f)
    assert data["total"] == len(data["claims"]) == claims["total"]
    assert data["held"] == sum(c["held"] for c in data["claims"])
    assert {c["experiment"] for c in data["claims"]} == set(EXPERIMENTS)
    for c in data["claims"]:
        assert isinstance(c["held"], bool) and c["statement"] and c["expected"]
        for stats in c["measured"].values():
            assert stats["n"] >= 1 and len(stats["values"]) == stats["n"]
            assert stats["min"] <= stats["mean"] <= stats["max"]
    ids = [(c["experiment"], c["id"]) for c in data["claims"]]
    assert len(ids) == len(set(ids))


def test_report_embeds_every_figure(smoke_run):
    out, claims, _ = smoke_run
    html = (out / "report.html").read_text()
    n_figures = sum(len(json.load(open(out / n / "results.json"))["figures"]) for n in EXPERIMENTS)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == n_figures
    assert "<table>" in html and html.index("Claims") < html.index("hamming-1d:")
    assert "build_info" in html and "Environment" in html
    md = (out / "summary.md").read_text()
    assert md.index("## Claims") < md.index("## hamming-1d")
    assert md.count("| ") >= claims["total"]
    for line in md.splitlines():
        m = re.match(r"!\[.*\]\((.*)\)", line)
        if m:
            assert os.path.exists(out / m.group(1))


def test_summary_table_rows_have_six_cells(smoke_run):
    out, claims, _ = smoke_run
    rows = [l for l in (out / "summary.md").read_text().splitlines()
            if l.startswith("| ") and not l.startswith("| experiment")]
    assert len(rows) == claims["total"]
    for row in rows:
        assert len(re.split(r"(?<!\\)\|", row)) == 8, row     # 6 cells between 7 pipes


def test_every_claim_has_effect_interval_verdict_and_source(smoke_run):
    out, claims, _ = smoke_run
    data = json.load(open(out / "claims.json"))
    assert data["held"] + data["not_held"] + data["inconclusive"] == data["total"]
    assert data["rule"] and data["produced_by"]["torch"]
    for c in data["claims"]:
        assert c["verdict"] in ("held", "not held", "inconclusive")
        assert c["held"] == (c["verdict"] == "held")
        assert c["effect"]["kind"] in ("difference", "ratio") and c["reason"] and c["source"]
        lo, hi = c["effect"]["low"], c["effect"]["high"]
        if lo is not None:
            assert lo <= c["effect"]["estimate"] <= hi


def test_report_cites_itself_and_labels_smoke(smoke_run):
    out, _, _ = smoke_run
    html = (out / "report.html").read_text()
    md = (out / "summary.md").read_text()
    for text in (html, md):
        assert "wiring test" in text and "claims.json" in text and "Contents" in text
        assert "torch" in text and "command" in text and "specbias_ext 0" in text
    assert html.count(".pdf'>PDF</a>") == html.count("data:image/png")


def test_saturated_counts_are_inconclusive_and_marked(smoke_run):
    out, _, _ = smoke_run
    res = json.load(open(out / "regions-2d" / "results.json"))
    grid = res["series"]["grid_counts"]
    for label, when in grid.items():
        for g in when["final"]:
            assert len(g["convergence"]) == 3 and g["points"] == g["convergence"][-1][0]
            assert g["display"].startswith(">=") == g["saturated"]
    data = json.load(open(out / "claims.json"))
    for c in data["claims"]:
        if not c["parts"] and any(str(d).startswith(">=") for m in c["measured"].values()
               for d in m.get("display", [])):
            assert c["verdict"] == "inconclusive", c["id"]
