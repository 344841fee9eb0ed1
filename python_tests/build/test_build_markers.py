"""`pytest -m cuda` selects exactly the tests that need CUDA (conftest: requires_cuda adds the
marker; without a device they are skipped, not deselected)."""
import os
import subprocess
import sys

import torch

from paths import TESTS_DIR

FILES = ["ops/test_region_cuda.py", "train/test_recorder.py"]


def _collect(*args):
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                          "-p", "no:cacheprovider", *args, *FILES],
                         cwd=TESTS_DIR, capture_output=True, text=True, timeout=300)
    return {line for line in out.stdout.splitlines() if "::" in line}


def test_cuda_marker_selects_exactly_the_cuda_tests():
    every, cuda = _collect(), _collect("-m", "cuda")
    assert cuda and cuda < every
    assert {t for t in every if t.startswith("ops/test_region_cuda.py")} <= cuda
    assert {t for t in cuda if t.startswith("train/test_recorder.py")} == {
        t for t in every if t.startswith("train/test_recorder.py") and "cuda" in t.lower()}
    assert _collect("-m", "not cuda") == every - cuda


def test_cuda_tests_are_skipped_without_a_device():
    if torch.cuda.is_available():
        return
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                          "-m", "cuda", "ops/test_region_cuda.py"], cwd=TESTS_DIR, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:]
    assert "no CUDA device" in out.stdout and " passed" not in out.stdout
