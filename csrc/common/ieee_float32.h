// IeeeFloat32Guard: float32 GEMMs in IEEE float32 for the guard's scope, whatever the user's
// torch.backends.cuda.matmul.allow_tf32 / fp32_precision / torch.set_float32_matmul_precision.
// TF32 rounds the inputs of every product to 10 mantissa bits, which changes pattern bits,
// argmins and norms against the CPU. Every CUDA entry point that runs a GEMM holds one.
//
// Two layers: at::NoTF32Guard (thread-local; cuBLAS handles get the default math mode) and,
// only when the global CUDA matmul precision is TF32, that setting itself switched to IEEE (the
// cuBLASLt paths, e.g. addmm's bias epilogue, read only it) and restored on exit, exceptions
// included. Only the CUDA matmul entry is touched (not the legacy flag, nor other backends), and
// set back to TF32 afterwards. The switch is process-wide: another thread's float32 matmul during the
// call also runs in IEEE float32 (slower, never less exact).
#pragma once

#include <ATen/Context.h>
#include <torch/version.h>

#include <string>

#define SPECBIAS_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||           \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace specbias {

class IeeeFloat32Guard {
 public:
  IeeeFloat32Guard() {
    auto& ctx = at::globalContext();
#if SPECBIAS_TORCH_AT_LEAST(2, 10)
    if (ctx.float32Precision(at::Float32Backend::CUDA, at::Float32Op::MATMUL) ==
        at::Float32Precision::TF32) {
      ctx.setFloat32Precision(at::Float32Backend::CUDA, at::Float32Op::MATMUL,
                              at::Float32Precision::IEEE);
      switched_ = true;
    }
#elif SPECBIAS_TORCH_AT_LEAST(2, 9)
    if (ctx.float32Precision("cuda", "matmul") == "tf32") {
      ctx.setFloat32Precision("cuda", "matmul", "ieee");
      switched_ = true;
    }
#else
    if (ctx.allowTF32CuBLAS()) {
      ctx.setAllowTF32CuBLAS(false);
      switched_ = true;
    }
#endif
  }
  ~IeeeFloat32Guard() {
    if (!switched_) return;
    auto& ctx = at::globalContext();
#if SPECBIAS_TORCH_AT_LEAST(2, 10)
    ctx.setFloat32Precision(at::Float32Backend::CUDA, at::Float32Op::MATMUL,
                            at::Float32Precision::TF32);
#elif SPECBIAS_TORCH_AT_LEAST(2, 9)
    ctx.setFloat32Precision("cuda", "matmul", "tf32");
#else
    ctx.setAllowTF32CuBLAS(true);
#endif
  }
  IeeeFloat32Guard(const IeeeFloat32Guard&) = delete;
  IeeeFloat32Guard& operator=(const IeeeFloat32Guard&) = delete;

 private:
  at::NoTF32Guard no_tf32_;
  bool switched_ = false;
};

}  // namespace specbias

#undef SPECBIAS_TORCH_AT_LEAST
