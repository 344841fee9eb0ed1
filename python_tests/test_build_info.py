import torch

import specbias_ext


def test_build_info_describes_the_build():
    info = specbias_ext.build_info()
    assert set(info) >= {"cuda", "cuda_arch_list", "torch_version", "threads",
                         "runtime_torch_version", "cuda_available"}
    assert isinstance(info["cuda"], bool)
    assert info["threads"] == torch.get_num_threads()
    # The extension must be built against the torch it runs with (ABI).
    assert torch.__version__.startswith(info["torch_version"])
    if info["cuda"]:
        assert info["cuda_arch_list"]
    if torch.cuda.is_available():
        assert info["cuda"], "a GPU is visible but the CUDA kernels were not built"
