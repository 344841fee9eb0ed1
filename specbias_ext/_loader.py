"""Loads the compiled library so that torch.ops.specbias.* exist."""
import importlib

try:
    importlib.import_module("specbias_ext._C")
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "specbias_ext._C is not built. Build it with `pip install --no-build-isolation -e .` "
        "(or `python setup.py build_ext --inplace`) from the project root."
    ) from exc
