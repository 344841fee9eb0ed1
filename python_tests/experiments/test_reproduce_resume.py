"""`specbias reproduce` into one folder: summaries cover every experiment in it, and an
interrupted run resumes from the trained weights it saved."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from specbias_ext.experiments.runner import TRAIN_CACHE, reproduce
from paths import REPO_ROOT

ROOT = REPO_ROOT


def _claims(out):
    with open(os.path.join(out, "claims.json")) as f:
        return json.load(f)


def test_two_runs_into_one_folder_are_merged(tmp_path):
    out = str(tmp_path)
    reproduce(["dead-neurons"], "smoke", "cpu", None, out, quiet=True, log=lambda *_: None)
    first = _claims(out)
    reproduce(["angles"], "smoke", "cpu", 1, out, quiet=True, log=lambda *_: None)
    merged = _claims(out)
    assert {c["experiment"] for c in merged["claims"]} == {"dead-neurons", "angles"}
    dead = [c for c in merged["claims"] if c["experiment"] == "dead-neurons"]
    assert [c["measured"] for c in dead] == [c["measured"] for c in first["claims"]]
    assert merged["total"] == len(merged["claims"]) == len(first["claims"]) + sum(
        c["experiment"] == "angles" for c in merged["claims"])
    assert set(merged["experiments"]) == {"dead-neurons", "angles"}
    assert all(c["preset"] == "smoke" and c["device"] == "cpu" for c in merged["claims"])
    summary = open(os.path.join(out, "summary.md")).read()
    report = open(os.path.join(out, "report.html")).read()
    for name in ("dead-neurons", "angles"):
        assert f"## {name}:" in summary and f"id='{name}'" in report
    # the newer run of an experiment replaces the older one
    reproduce(["dead-neurons"], "smoke", "cpu", 1, out, quiet=True, log=lambda *_: None)
    again = _claims(out)
    dead = [c for c in again["claims"] if c["experiment"] == "dead-neurons"]
    assert len(dead) == len(first["claims"])
    assert all(c["measured"][k]["n"] == 1 for c in dead for k in c["measured"])


def _start(out):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.Popen([sys.executable, "-m", "specbias_ext", "reproduce", "dead-neurons",
                             "param-norms", "--preset", "smoke", "--quiet", "--out", out],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_reproduce_resumes_from_saved_weights(tmp_path, sig):
    out = str(tmp_path / "O")
    proc = _start(out)
    first_done = os.path.join(out, "dead-neurons", "results.json")
    summarised = os.path.join(out, "report.html")      # written last after each experiment
    deadline = time.monotonic() + 240
    while not os.path.exists(summarised) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    # report.html appears after the first experiment; the second takes seconds more, so a run
    # that exits 0 here wrote no summary until the very end
    assert proc.returncode != 0, "the run wrote no summary before it finished"
    assert "Traceback" not in err
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "rerun the same command" in err
    # what was finished is on disk and summarised
    interrupted = _claims(out)
    assert {c["experiment"] for c in interrupted["claims"]} == {"dead-neurons"}
    with open(first_done) as f:
        before = json.load(f)
    assert before["timings"]["train_s"] > 0
    assert os.listdir(os.path.join(out, TRAIN_CACHE))

    lines = []
    claims = reproduce(["dead-neurons", "param-norms"], "smoke", "cpu", None, out, quiet=True,
                       log=lines.append)
    with open(first_done) as f:
        after = json.load(f)
    assert after["timings"]["train_s"] == 0.0          # reused, not retrained
    assert after["claims"] == before["claims"]
    assert {c["experiment"] for c in claims["claims"]} == {"dead-neurons", "param-norms"}
    assert _claims(out)["claims"] == claims["claims"]
