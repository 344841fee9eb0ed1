import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

# Every test that needs a CUDA device carries the `cuda` marker, so `pytest -m cuda` selects exactly
# them (bench/gpu_check.sh does); without a device they are skipped by the hook below.
requires_cuda = pytest.mark.cuda


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny networks: OpenMP threads only add synchronisation (badly so on a shared CPU).
    Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# CI runs the property tests on a fixed set of examples (derandomized), so a landing never hinges
# on which random examples one run happened to draw; local runs keep exploring new ones.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")
