"""The CMake build (libspecbias_ops.so for libtorch users) loads and agrees with the pip build.

CI builds it with scripts/build_cmake.sh and points SPECBIAS_CMAKE_LIB at it. The library is
loaded in a separate process: this one already registered the same schemas from specbias_ext._C.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

import specbias_ext
from op_cases import run_cases
from paths import TESTS_DIR

LIB = os.environ.get("SPECBIAS_CMAKE_LIB")
pytestmark = pytest.mark.skipif(
    not LIB, reason="set SPECBIAS_CMAKE_LIB to a libspecbias_ops.so built by scripts/build_cmake.sh")


def _in_fresh_process(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=TESTS_DIR)
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, env=env).stdout


def test_cmake_library_matches_pip_build(tmp_path):
    dest = tmp_path / "cmake_results.pt"
    subprocess.run([sys.executable, os.path.join(TESTS_DIR, "op_cases.py"),
                    LIB, str(dest)], check=True)
    theirs = torch.load(dest)
    ours = run_cases(torch.ops.specbias)
    assert sorted(theirs) == sorted(ours)
    for name, value in ours.items():
        if value.is_floating_point():
            torch.testing.assert_close(theirs[name], value, rtol=1e-12, atol=1e-12, msg=name)
        else:
            assert torch.equal(theirs[name], value), name


def test_cmake_library_reports_same_build_kind():
    theirs = json.loads(_in_fresh_process(
        f"import torch; torch.ops.load_library({LIB!r}); print(torch.ops.specbias.build_info())"))
    ours = specbias_ext.build_info()
    assert theirs["torch_version"] == ours["torch_version"]
    assert theirs["cuda"] == ours["cuda"]
