"""specbias_ext/_loader.py: not built / built for another torch / a second copy are told apart."""
import os
import subprocess
import sys

import pytest

from specbias_ext import _loader
from paths import REPO_ROOT

ROOT = REPO_ROOT
LIB = os.environ.get("SPECBIAS_CMAKE_LIB")


def test_same_torch_passes():
    _loader.check_torch_version("2.14.1+cu130", "2.14.1+cu130")


def test_other_minor_version_raises_with_both_versions_and_the_command():
    with pytest.raises(ImportError) as err:
        _loader.check_torch_version("2.14.1+cu130", "2.13.0+cu130")
    msg = str(err.value)
    assert "2.14.1+cu130" in msg and "2.13.0+cu130" in msg and "--no-build-isolation" in msg


def test_other_cuda_variant_raises():
    with pytest.raises(ImportError, match="2.14.1\\+cu130.*2.14.1\\+cpu"):
        _loader.check_torch_version("2.14.1+cu130", "2.14.1+cpu")


def test_patch_level_only_warns():
    with pytest.warns(RuntimeWarning, match="2.14.0.*2.14.1"):
        _loader.check_torch_version("2.14.0+cu130", "2.14.1+cu130")


def test_missing_library_says_not_built(monkeypatch, tmp_path):
    monkeypatch.setattr(_loader, "PACKAGE_DIR", str(tmp_path))
    err = _loader._explain(ImportError("No module named 'specbias_ext._C'"), None)
    assert "is not built" in str(err) and "--no-build-isolation" in str(err)


def test_symbol_mismatch_is_not_called_not_built(monkeypatch, tmp_path):
    (tmp_path / "_C.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    monkeypatch.setattr(_loader, "PACKAGE_DIR", str(tmp_path))

    class Built:
        TORCH_VERSION = "2.13.0+cpu"

    err = _loader._explain(ImportError("_C.so: undefined symbol: _ZN3c106detail14torchCheckFail"),
                           Built)
    msg = str(err)
    assert "not built" not in msg
    assert "2.13.0+cpu" in msg and "undefined symbol" in msg and "Rebuild" in msg


def _python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_second_copy_raises_import_error_instead_of_aborting():
    # Another library registered torch.ops.specbias first (as the CMake build does).
    out = _python(
        "import torch\n"
        "lib = torch.library.Library('specbias', 'DEF')\n"
        "lib.define('build_info() -> str')\n"
        "try:\n"
        "    import specbias_ext\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n")
    assert out.returncode == 0, out.stderr
    assert "ImportError: torch.ops.specbias is already registered" in out.stdout


@pytest.mark.skipif(not LIB, reason="set SPECBIAS_CMAKE_LIB to a libspecbias_ops.so "
                                    "built by scripts/build_cmake.sh")
def test_cmake_library_then_import_names_the_loaded_copy():
    out = _python(
        f"import torch\ntorch.ops.load_library({LIB!r})\n"
        "try:\n    import specbias_ext\nexcept ImportError as exc:\n    print('ImportError:', exc)\n")
    assert out.returncode == 0, out.stderr
    assert "ImportError: torch.ops.specbias is already registered" in out.stdout
    assert os.path.basename(LIB) in out.stdout
