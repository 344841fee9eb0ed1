import torch

import specbias_ext
from buildtools import toolchain


def test_build_info_describes_the_build():
    info = specbias_ext.build_info()
    assert set(info) >= {"cuda", "cuda_arch_list", "torch_version", "threads",
                         "runtime_torch_version", "cuda_available", "compiler", "cxx_standard",
                         "cxx11_abi", "build_system", "build_flags"}
    assert isinstance(info["cuda"], bool)
    assert info["threads"] == torch.get_num_threads()
    # The extension must be built against the torch it runs with (ABI).
    assert torch.__version__.startswith(info["torch_version"])
    if info["cuda"]:
        assert info["cuda_arch_list"]
    if torch.cuda.is_available():
        assert info["cuda"], "a GPU is visible but the CUDA kernels were not built"


def test_build_info_fingerprint_matches_the_torch_it_serves():
    info = specbias_ext.build_info()
    facts = toolchain.torch_facts()
    # __cplusplus is yyyymmL: the standard torch was built with (C++20 -> 2020xx).
    year = int(info["cxx_standard"][:4])
    assert {2017: 17, 2020: 20, 2023: 23}.get(year) == facts["cxx_standard"], info["cxx_standard"]
    assert info["cxx11_abi"] == str(int(torch._C._GLIBCXX_USE_CXX11_ABI))
    assert info["compiler"].split()[0] in ("gcc", "clang")
    assert info["build_system"] in ("pip", "cmake")
    assert f"-std=c++{facts['cxx_standard']}" in info["build_flags"]
