"""Loads the compiled library so that torch.ops.specbias.* exist.

Before loading, it checks what can be checked without loading: that no other copy of the library
(the CMake build, or a second install) registered torch.ops.specbias already — a second
registration aborts the process in C++ — and that the running torch is the one _C was compiled
against (the extension's ABI is that exact torch's). Load failures are told apart: not built,
built for another torch / C++ ABI, or something else (the original error is chained).
"""
import glob
import importlib
import os
import warnings

import torch

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
REBUILD = ("python -m pip install --no-build-isolation .   (from the source tree; or, in place: "
           "python setup.py build_ext --inplace)")


def _minor(version: str) -> tuple:
    return tuple(version.split("+")[0].split(".")[:2])


def _local(version: str) -> str:
    return version.partition("+")[2]


def _loaded_specbias_copies() -> list:
    """Files of this process that can have registered torch.ops.specbias."""
    found = set(p for p in getattr(torch.ops, "loaded_libraries", ()) if "specbias" in p)
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path)
                if "specbias" in name or ("specbias_ext" in path and name.startswith("_C")):
                    found.add(path)
    except OSError:
        pass
    return sorted(found)


def already_registered() -> bool:
    """Whether torch.ops.specbias already has its ops (from a library loaded before this import)."""
    try:
        torch._C._dispatch_find_schema_or_throw("specbias::build_info", "")
        return True
    except RuntimeError:
        return False


def check_not_loaded_twice() -> None:
    if not already_registered():
        return
    copies = _loaded_specbias_copies() or ["(unknown library)"]
    raise ImportError(
        "torch.ops.specbias is already registered in this process by " + ", ".join(copies)
        + "; importing specbias_ext would register it a second time, which aborts the process. "
        "Use one copy per process: either `import specbias_ext` or "
        "torch.ops.load_library(<libspecbias_ops.so>), not both.")


def check_torch_version(built: str, running: str) -> None:
    """ImportError when _C was compiled against another torch; a warning if only the patch differs."""
    if built == running:
        return
    both = f"specbias_ext._C was built against torch {built}, but torch {running} is running"
    if _minor(built) != _minor(running) or _local(built) != _local(running):
        raise ImportError(f"{both}. Its C++ ABI is that exact torch's: rebuild it against the "
                          f"running torch with\n    {REBUILD}")
    warnings.warn(f"{both} (same minor version). If anything fails, rebuild with: {REBUILD}",
                  RuntimeWarning, stacklevel=3)


def _built_with():
    try:
        return importlib.import_module("specbias_ext._built_with")
    except ImportError:
        return None


def load() -> None:
    check_not_loaded_twice()
    built = _built_with()
    if built is not None:
        check_torch_version(built.TORCH_VERSION, torch.__version__)
    try:
        importlib.import_module("specbias_ext._C")
    except ImportError as exc:
        raise _explain(exc, built) from exc


def _explain(exc: ImportError, built) -> ImportError:
    files = glob.glob(os.path.join(PACKAGE_DIR, "_C*.so"))
    if not files:
        return ImportError(f"specbias_ext._C is not built (no _C*.so in {PACKAGE_DIR}). Build it "
                           f"against the installed torch with\n    {REBUILD}")
    message = str(exc)
    built_for = f"torch {built.TORCH_VERSION}" if built else "an unknown torch"
    if "undefined symbol" in message or "GLIBCXX" in message or "version `" in message:
        return ImportError(
            f"{files[0]} was built for {built_for} and cannot be loaded with torch "
            f"{torch.__version__} (C++ symbol or ABI mismatch: {message}). Rebuild it with\n"
            f"    {REBUILD}")
    return ImportError(f"{files[0]} (built for {built_for}) failed to load under torch "
                       f"{torch.__version__}: {message}")


load()
