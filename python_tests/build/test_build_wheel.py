"""A wheel from scripts/build_wheel.sh: pinned torch, local version, manylinux tag, no debug info.

CI builds one (from the sdist) and points SPECBIAS_WHEEL at it.
"""
import email
import os
import re
import subprocess
import tempfile
import zipfile

import pytest
import torch

import specbias_ext

WHEEL = os.environ.get("SPECBIAS_WHEEL")
pytestmark = pytest.mark.skipif(not WHEEL, reason="set SPECBIAS_WHEEL to a wheel built by "
                                                  "scripts/build_wheel.sh")
MINOR = ".".join(torch.__version__.split("+")[0].split(".")[:2])


def _metadata():
    with zipfile.ZipFile(WHEEL) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(z.read(name)), z.namelist()


def test_wheel_pins_the_torch_it_was_built_for():
    meta, _ = _metadata()
    assert f"torch=={MINOR}.*" in meta.get_all("Requires-Dist")


def test_wheel_version_names_torch_and_cuda():
    meta, _ = _metadata()
    public, _, local = meta["Version"].partition("+")
    assert public == specbias_ext.__version__
    assert re.fullmatch(rf"pt{MINOR.replace('.', '')}(cpu|cu\d+)", local), local


def test_wheel_is_manylinux_and_carries_license_and_py_typed():
    assert re.search(r"-manylinux_\d+_\d+_x86_64\.whl$", os.path.basename(WHEEL)), WHEEL
    meta, names = _metadata()
    assert "specbias_ext/py.typed" in names
    assert any(n.endswith("LICENSE") for n in names)
    assert meta["License-Expression"] == "MIT" or meta["License"] == "MIT"
    # torch's libraries are torch's: never copied into the wheel
    assert not [n for n in names if re.search(r"lib(torch|c10|cudart|gomp)", n)]


def test_wheel_extension_has_no_debug_info():
    with zipfile.ZipFile(WHEEL) as z, tempfile.TemporaryDirectory() as d:
        so = z.extract(next(n for n in z.namelist() if re.search(r"_C.*\.so$", n)), d)
        sections = subprocess.run(["readelf", "-S", so], capture_output=True, text=True,
                                  check=True).stdout
    assert ".debug_info" not in sections
