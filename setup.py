"""Builds specbias_ext._C: C++ CPU kernels always, CUDA kernels when they can be built.

Environment switches:
  SPECBIAS_CUDA=auto|0|1   auto (default): CUDA kernels when torch is a CUDA build and a CUDA
                           toolkit is found; 0: never; 1: always (fails if it cannot).
  TORCH_CUDA_ARCH_LIST     CUDA archs to build for. Default: the visible GPU's arch, else
                           "8.0;9.0" (A100 and H100/H200 class GPUs).
  CUDA_HOME                the CUDA toolkit folder (the one holding lib64/libcudart.so).
  MAX_JOBS                 parallel compile jobs (ninja).
"""
import glob
import os

from setuptools import find_packages, setup

import torch
from torch.utils import cpp_extension

DEFAULT_ARCH_LIST = "8.0;9.0"
ROOT = os.path.dirname(os.path.abspath(__file__))


def _want_cuda() -> bool:
    mode = os.environ.get("SPECBIAS_CUDA", "auto").lower()
    if mode in ("0", "off", "false", "no"):
        return False
    available = torch.version.cuda is not None and cpp_extension.CUDA_HOME is not None
    if mode in ("1", "on", "true", "yes"):
        if not available:
            raise RuntimeError(
                "SPECBIAS_CUDA=1 but CUDA kernels cannot be built: torch "
                f"{torch.__version__} is {'a CUDA' if torch.version.cuda else 'a CPU-only'} build, "
                f"CUDA_HOME={cpp_extension.CUDA_HOME!r}. Install a CUDA build of torch and set "
                "CUDA_HOME to the toolkit folder holding lib64/libcudart.so."
            )
        return True
    return available


def _arch_list() -> str:
    if os.environ.get("TORCH_CUDA_ARCH_LIST"):
        return os.environ["TORCH_CUDA_ARCH_LIST"]
    if torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability()
        arch = f"{major}.{minor}"
    else:
        arch = DEFAULT_ARCH_LIST
    os.environ["TORCH_CUDA_ARCH_LIST"] = arch  # read by cpp_extension when it picks -gencode flags
    return arch


def _fallback_cuda_includes() -> list[str]:
    """Header folders of the pip CUDA wheels, for toolkits that lack the math-library headers.

    Some toolkit installs ship nvcc and the runtime but not cusparse.h & co, which ATen's CUDA
    headers include. The pip wheels torch depends on carry them; -isystem puts them after the
    toolkit's own -I folders, so the toolkit's headers win wherever both exist.
    """
    if os.path.exists(os.path.join(cpp_extension.CUDA_HOME, "include", "cusparse.h")):
        return []
    try:
        import nvidia  # the namespace package of torch's CUDA wheels
    except ImportError:
        return []
    found = []
    for base in nvidia.__path__:
        found += sorted(glob.glob(os.path.join(base, "*", "include")))
    return [flag for inc in found for flag in ("-isystem", inc)]


def _extension():
    sources = sorted(glob.glob("csrc/*.cpp") + glob.glob("csrc/common/*.cpp")
                     + glob.glob("csrc/cpu/*.cpp"))
    define_macros = [("SPECBIAS_PYTHON_MODULE", None)]
    cxx_flags = ["-O3", "-fopenmp"]
    if _want_cuda():
        arch = _arch_list()
        sources += sorted(glob.glob("csrc/cuda/*.cu"))
        extra_includes = _fallback_cuda_includes()
        define_macros += [("SPECBIAS_WITH_CUDA", None),
                          ("SPECBIAS_CUDA_ARCH_LIST", '"' + arch.replace(';', ' ') + '"')]
        return cpp_extension.CUDAExtension(
            "specbias_ext._C", sources, define_macros=define_macros,
            extra_compile_args={"cxx": cxx_flags + extra_includes,
                                "nvcc": ["-O3"] + extra_includes},
            extra_link_args=["-fopenmp"],
        )
    return cpp_extension.CppExtension(
        "specbias_ext._C", sources, define_macros=define_macros,
        extra_compile_args={"cxx": cxx_flags}, extra_link_args=["-fopenmp"],
    )


setup(
    packages=find_packages(include=["specbias_ext", "specbias_ext.*"]),
    ext_modules=[_extension()],
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
