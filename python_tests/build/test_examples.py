"""The scripts in examples/ run end to end at a tiny size."""
import importlib.util
import json
from pathlib import Path

import pytest
from paths import REPO_ROOT

pytestmark = pytest.mark.usefixtures("one_thread")

EXAMPLES = Path(REPO_ROOT) / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_with_monitor(tmp_path, capsys):
    out = tmp_path / "run"
    result = load("train_with_monitor").main(
        ["--size", "16", "--steps", "6", "--every", "3", "--width", "16", "--depth", "2",
         "--out", str(out), "--device", "cpu"])
    assert result["steps"] == [0, 3, 6] and min(result["regions"]) >= 1
    lines = (out / "records.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [0, 3, 6]
    assert (out / "monitor.png").read_bytes()[:4] == b"\x89PNG"
    assert "regions" in capsys.readouterr().out
