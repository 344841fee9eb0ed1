"""A C++ program builds against the installed CMake package (find_package(specbias),
specbias::ops, <specbias/ops.h>), links with --as-needed, and its ops agree with the pip build.

CI installs the CMake build (cmake --install) and points SPECBIAS_CMAKE_PREFIX at the prefix.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

import specbias_ext
from paths import REPO_ROOT

ROOT = REPO_ROOT
PREFIX = os.environ.get("SPECBIAS_CMAKE_PREFIX")
pytestmark = pytest.mark.skipif(not PREFIX, reason="set SPECBIAS_CMAKE_PREFIX to an installed "
                                                   "CMake build (cmake --install)")


@pytest.fixture(scope="module")
def consumer(tmp_path_factory):
    build = tmp_path_factory.mktemp("consumer")
    env = dict(os.environ, SPECBIAS_PREFIX=PREFIX, SPECBIAS_CUDA="0", PYTHON=sys.executable)
    subprocess.run(["bash", "scripts/build_cmake.sh", str(build), "tests/cmake_consumer"],
                   cwd=ROOT, env=env, check=True)
    return str(build / "consumer")


def _run(exe, *args):
    out = subprocess.run([exe, *args], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def _ints(text):
    return torch.tensor([int(v) for v in text.split()], dtype=torch.int64)


def test_consumer_links_the_library_without_no_as_needed(consumer):
    needed = subprocess.run(["readelf", "-d", consumer], capture_output=True, text=True,
                            check=True).stdout
    assert "libspecbias_ops.so" in needed


def test_consumer_ops_agree_with_the_pip_build(consumer):
    out = _run(consumer)
    assert out["version"] == specbias_ext.__version__
    info = json.loads(out["build_info"])
    assert info["build_system"] == "cmake" and info["torch_version"] in torch.__version__
    patterns = (torch.arange(40).remainder(7) * 0x0101).view(20, 2)
    ids, counts = torch.ops.specbias.region_ids(patterns)
    assert torch.equal(_ints(out["ids"]), ids)
    assert torch.equal(_ints(out["counts"]), counts)
    assert torch.equal(_ints(out["bit_counts"]), torch.ops.specbias.bit_counts(patterns, 128))


def test_consumer_network_op_agrees_with_the_pip_build(consumer):
    schema = str(torch.ops.specbias.activation_patterns.default._schema)
    if "Tensor?[] biases" not in schema:
        pytest.skip(f"the header targets the network schema (Tensor?[] biases); built: {schema}")
    out = _run(consumer, "patterns")
    x = torch.linspace(-1, 1, 30, dtype=torch.float64).view(10, 3)
    weights = [torch.linspace(-2, 2, 12, dtype=torch.float64).view(4, 3),
               torch.linspace(1, -1, 4, dtype=torch.float64).view(1, 4)]
    biases = [torch.linspace(-0.5, 0.5, 4, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)]
    expected = torch.ops.specbias.activation_patterns(x, weights, biases)
    assert torch.equal(_ints(out["patterns"]), expected.view(-1))
