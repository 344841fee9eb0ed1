"""What the compiled extension was built with."""
import json

import torch

from .. import _loader  # noqa: F401  (registers torch.ops.specbias)


def build_info() -> dict:
    """Return what `specbias_ext._C` was built with.

    Keys: ``cuda`` (CUDA kernels compiled in), ``cuda_arch_list`` (archs they were compiled for),
    ``torch_version`` (the torch the extension was built against), ``threads`` (CPU threads the
    kernels use now, ``torch.get_num_threads()``), the toolchain fingerprint -- ``compiler``
    (e.g. ``"gcc 12.2.0"``), ``cxx_standard`` (``__cplusplus``, e.g. ``"202002L"``),
    ``cxx11_abi`` (``_GLIBCXX_USE_CXX11_ABI``), ``build_system`` (``"pip"`` or ``"cmake"``) and
    ``build_flags`` --, ``runtime_torch_version`` and ``cuda_available`` (whether a GPU is
    visible now).
    """
    info = json.loads(torch.ops.specbias.build_info())
    info["runtime_torch_version"] = torch.__version__
    info["cuda_available"] = torch.cuda.is_available()
    return info
