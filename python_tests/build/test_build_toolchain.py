"""The build-time checks: toolchain against torch (buildtools/toolchain.py) and isolated-torch
refusal (buildtools/isolation.py)."""
import re

import pytest
import torch

from buildtools import isolation, toolchain
from paths import REPO_ROOT


@pytest.fixture(scope="module")
def fingerprint():
    return toolchain.fingerprint()


def test_this_toolchain_serves_the_installed_torch(fingerprint):
    assert toolchain.problems(fingerprint) == []
    assert fingerprint["torch_version"] == torch.__version__
    assert fingerprint["cxx11_abi"] == int(torch._C._GLIBCXX_USE_CXX11_ABI)


def test_cxx_standard_is_the_one_torch_reports():
    m = re.search(r"C\+\+ Version: (\d{4})", torch.__config__.show())
    expected = {2017: 17, 2020: 20, 2023: 23}[int(m.group(1))] if m else 17
    assert toolchain.torch_facts()["cxx_standard"] == expected


def test_loaded_libstdcxx_is_mapped():
    path = toolchain.loaded_libstdcxx()
    assert path and "libstdc++.so" in path


def _with(fp, **changes):
    return {**fp, **changes}


def test_old_compiler_fails(fingerprint):
    fp = _with(fingerprint, family="gcc", major=8, cxx_standard=20, cxx_version="g++ 8.5.0")
    [msg] = toolchain.problems(fp)
    assert "g++ 8.5.0 is too old" in msg and "gcc >= 10" in msg


def test_forced_old_abi_fails(fingerprint):
    fp = _with(fingerprint, macro_cxx11_abi="0", cxx11_abi=1)
    [msg] = toolchain.problems(fp)
    assert "_GLIBCXX_USE_CXX11_ABI=0" in msg and "_GLIBCXX_USE_CXX11_ABI=1" in msg


def test_compiler_libstdcxx_newer_than_the_loaded_one_fails(fingerprint, tmp_path):
    newer, older = tmp_path / "new.so", tmp_path / "old.so"
    newer.write_bytes(b"\0GLIBCXX_3.4.29\0GLIBCXX_3.4.33\0")
    older.write_bytes(b"\0GLIBCXX_3.4.21\0GLIBCXX_3.4.29\0")
    fp = _with(fingerprint, compiler_libstdcxx=str(newer), runtime_libstdcxx=str(older))
    [msg] = toolchain.problems(fp)
    assert "GLIBCXX_3.4.33" in msg and "GLIBCXX_3.4.29" in msg
    assert toolchain.problems(_with(fp, compiler_libstdcxx=str(older),
                                    runtime_libstdcxx=str(newer))) == []


def test_compiler_without_the_standard_fails():
    fp = toolchain.fingerprint("false")  # a "compiler" that fails on everything
    [msg] = toolchain.problems(fp)
    assert "does not accept -std=c++" in msg or "cannot run" in msg


def test_wrappers_are_skipped():
    assert toolchain._real_compiler(["ccache", "g++", "-m64"]) == ["g++", "-m64"]


def test_isolated_build_against_another_torch_is_refused(monkeypatch):
    monkeypatch.delenv("SPECBIAS_ALLOW_ISOLATED_BUILD", raising=False)
    iso = "/tmp/pip-build-env-abc/overlay/lib/python3.11/site-packages/torch/__init__.py"
    msg = isolation.refusal("2.15.0", iso, "2.14.1+cu130")
    assert "2.15.0" in msg and "2.14.1+cu130" in msg and isolation.COMMAND in msg
    assert "pip install --no-build-isolation ." in msg
    assert "unknown or missing" in isolation.refusal("2.15.0", iso, None)
    assert isolation.refusal("2.14.1+cu130", iso, "2.14.1+cu130") is None
    assert isolation.refusal("2.15.0", torch.__file__, "2.14.1") is None  # not isolated
    monkeypatch.setenv("SPECBIAS_ALLOW_ISOLATED_BUILD", "1")
    assert isolation.refusal("2.15.0", iso, "2.14.1") is None


def test_target_torch_is_found_outside_the_build_env():
    assert isolation.target_torch() == torch.__version__


def test_build_without_torch_stops_with_the_command(tmp_path):
    # What an isolated build sees (torch is no build requirement): setup.py cannot import torch.
    import os
    import subprocess
    import sys
    root = REPO_ROOT
    (tmp_path / "torch.py").write_text("raise ImportError('no torch here')\n")
    out = subprocess.run([sys.executable, "setup.py", "--version"], cwd=root, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(tmp_path)), timeout=300)
    assert out.returncode != 0
    assert isolation.COMMAND in out.stderr and "cannot import torch" in out.stderr
