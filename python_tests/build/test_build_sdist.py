"""The sdist carries every file a build needs (the build from it runs in CI: .ci/run)."""
import glob
import os
import subprocess
import sys
import tarfile

import pytest
from paths import REPO_ROOT

ROOT = REPO_ROOT
NEEDED = ["setup.py", "pyproject.toml", "MANIFEST.in", "LICENSE", "README.md", "CMakeLists.txt",
          "csrc/**/*.h", "csrc/**/*.cuh", "csrc/**/*.cpp", "csrc/**/*.cu", "cmake/*",
          "buildtools/*.py", "docs/*.md", "scripts/*.sh", "specbias_ext/**/*.py",
          "specbias_ext/py.typed", "tests/cmake_consumer/*"]


@pytest.fixture(scope="module")
def sdist_members(tmp_path_factory):
    out = tmp_path_factory.mktemp("sdist")
    subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(out)], cwd=ROOT,
                   check=True, capture_output=True, env=dict(os.environ, PYTHONPATH=ROOT))
    [archive] = glob.glob(str(out / "*.tar.gz"))
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    top = names[0].split("/")[0]
    return {n[len(top) + 1:] for n in names if n.startswith(top + "/")}


def test_sdist_has_every_build_input(sdist_members):
    wanted = set()
    for pattern in NEEDED:
        found = glob.glob(os.path.join(ROOT, pattern), recursive=True)
        assert found, pattern
        wanted |= {os.path.relpath(f, ROOT) for f in found if os.path.isfile(f)}
    wanted.discard("specbias_ext/_built_with.py")  # written by each build
    missing = sorted(wanted - sdist_members)
    assert not missing, f"missing from the sdist: {missing}"


def test_sdist_has_no_build_outputs(sdist_members):
    assert not [n for n in sdist_members if n.endswith((".so", ".o", ".pyc"))]
    assert "specbias_ext/_built_with.py" not in sdist_members
