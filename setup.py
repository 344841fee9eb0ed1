"""Builds specbias_ext._C: C++ CPU kernels always, CUDA kernels when they can be built.

Environment switches:
  SPECBIAS_CUDA=auto|0|1   auto (default): CUDA kernels when torch is a CUDA build and a CUDA
                           toolkit is found; 0: never; 1: always (fails if it cannot).
  TORCH_CUDA_ARCH_LIST     CUDA archs to build for. Default: the visible GPU's arch, else
                           "8.0;9.0" (A100 and H100/H200 class GPUs).
  CUDA_HOME                the CUDA toolkit folder (the one holding lib64/libcudart.so).
  MAX_JOBS                 parallel compile jobs (ninja).
  SPECBIAS_DEBUG=1         keep debug info (default: -g0 and stripped, as the CMake Release build).
  SPECBIAS_LOCAL_VERSION=1 append the torch/CUDA local version (+pt214cu130, +pt214cpu); the
                           wheel script sets it.
  SPECBIAS_SKIP_TOOLCHAIN_CHECK=1, SPECBIAS_ALLOW_ISOLATED_BUILD=1: see buildtools/.

Before compiling, the build checks that it runs against the torch that will import the result
(buildtools/isolation.py) and that the C++ compiler and libstdc++ can serve that torch
(buildtools/toolchain.py). The wheel requires the torch minor version it was built against.
"""
import glob
import os
import re
import sys

from setuptools import find_packages, setup

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, ROOT)
from buildtools import isolation, toolchain  # noqa: E402

torch = isolation.import_build_torch()
from torch.utils import cpp_extension  # noqa: E402

DEFAULT_ARCH_LIST = "8.0;9.0"
isolation.check_or_exit()
TOOLCHAIN = toolchain.check_or_exit()
CXX_STD = TOOLCHAIN["cxx_standard"]
TORCH_MINOR = ".".join(torch.__version__.split("+")[0].split(".")[:2])


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


def _version(with_cuda: bool) -> str:
    """The one version (specbias_ext/_version.py), plus +pt<XY><cuXYZ|cpu> for wheels."""
    with open(os.path.join(ROOT, "specbias_ext", "_version.py")) as f:
        version = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)
    if os.environ.get("SPECBIAS_LOCAL_VERSION") == "1":
        kind = "cu" + torch.version.cuda.replace(".", "") if with_cuda else "cpu"
        version += f"+pt{TORCH_MINOR.replace('.', '')}{kind}"
    return version


def _write_built_with(with_cuda: bool) -> None:
    """specbias_ext/_built_with.py: what the loader compares with the running torch, readable even
    when _C itself cannot be loaded."""
    with open(os.path.join(ROOT, "specbias_ext", "_built_with.py"), "w") as f:
        f.write('"""Written by setup.py at build time (git-ignored)."""\n'
                f"TORCH_VERSION = {torch.__version__!r}\n"
                f"TORCH_CUDA = {torch.version.cuda!r}\n"
                f"CXX11_ABI = {TOOLCHAIN['cxx11_abi']!r}\n"
                f"WITH_CUDA = {with_cuda!r}\n"
                f"COMPILER = {TOOLCHAIN.get('cxx_version', '')!r}\n")


def _flags():
    """Compiler and linker flags; CMakeLists.txt uses the same ones (-O3, OpenMP, torch's C++
    standard, no debug info unless SPECBIAS_DEBUG=1)."""
    cxx = ["-O3", "-fopenmp", f"-std=c++{CXX_STD}"]
    nvcc = ["-O3", f"-std=c++{CXX_STD}"]
    link = ["-fopenmp"]
    if os.environ.get("SPECBIAS_DEBUG") == "1":
        cxx.append("-g")
    else:
        cxx.append("-g0")
        nvcc += ["-Xcompiler", "-g0"]
        link.append("-Wl,--strip-debug")
    return cxx, nvcc, link


def _extension():
    sources = sorted(glob.glob("csrc/*.cpp") + glob.glob("csrc/common/*.cpp")
                     + glob.glob("csrc/cpu/*.cpp"))
    cxx_flags, nvcc_flags, link_flags = _flags()
    define_macros = [("SPECBIAS_PYTHON_MODULE", None), ("SPECBIAS_BUILD_SYSTEM", '"pip"'),
                     ("SPECBIAS_BUILD_FLAGS", '"' + " ".join(cxx_flags) + '"')]
    if _want_cuda():
        arch = _arch_list()
        sources += sorted(glob.glob("csrc/cuda/*.cu"))
        extra_includes = _fallback_cuda_includes()
        define_macros += [("SPECBIAS_WITH_CUDA", None),
                          ("SPECBIAS_CUDA_ARCH_LIST", '"' + arch.replace(';', ' ') + '"')]
        return cpp_extension.CUDAExtension(
            "specbias_ext._C", sources, define_macros=define_macros,
            extra_compile_args={"cxx": cxx_flags + extra_includes,
                                "nvcc": nvcc_flags + extra_includes},
            extra_link_args=link_flags,
        )
    return cpp_extension.CppExtension(
        "specbias_ext._C", sources, define_macros=define_macros,
        extra_compile_args={"cxx": cxx_flags}, extra_link_args=link_flags,
    )


EXTENSION = _extension()
WITH_CUDA = any(src.endswith(".cu") for src in EXTENSION.sources)
if {"build", "build_py", "build_ext", "bdist_wheel", "editable_wheel", "develop",
        "install"} & set(sys.argv[1:]):
    _write_built_with(WITH_CUDA)

setup(
    version=_version(WITH_CUDA),
    install_requires=[f"torch=={TORCH_MINOR}.*", "numpy>=1.24", "matplotlib>=3.7", "tqdm>=4.60",
                      "scikit-image>=0.21", "scipy>=1.10"],
    packages=find_packages(include=["specbias_ext", "specbias_ext.*"]),
    ext_modules=[EXTENSION],
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
