// IeeeFloat32Guard: float32 GEMMs in IEEE float32 for the guard's scope, whatever the user's
// torch.backends.cuda.matmul.allow_tf32 / fp32_precision / torch.set_float32_matmul_precision.
// TF32 rounds the inputs of every product to 10 mantissa bits, which changes pattern bits,
// argmins and norms against the CPU. Every CUDA entry point that runs a GEMM holds one.
//
// Two layers: at::NoTF32Guard (thread-local; cuBLAS handles get the default math mode) and,
// only when the global CUDA matmul precision is TF32, the global setting itself switched to
// IEEE (the cuBLASLt bias-epilogue path reads only that) and restored on exit, exceptions
// included. The global part is process-wide: another thread's float32 matmul during the call
// also runs in IEEE float32 (slower, never less exact).
#pragma once

#include <ATen/Context.h>

#include <string>

namespace specbias {

class IeeeFloat32Guard {
 public:
  IeeeFloat32Guard() {
    auto& ctx = at::globalContext();
    cuda_ = ctx.float32Precision(at::Float32Backend::CUDA, at::Float32Op::MATMUL);
    if (cuda_ != at::Float32Precision::TF32) return;
    mkldnn_ = ctx.float32Precision(at::Float32Backend::MKLDNN, at::Float32Op::MATMUL);
    try {
      legacy_ = ctx.float32MatmulPrecision();
    } catch (const c10::Error&) {
      legacy_ = at::Float32MatmulPrecision::HIGH;  // a mixed legacy/new state: TF32 was on
    }
    ctx.setAllowTF32CuBLAS(false);  // legacy and new CUDA matmul settings both to IEEE
    switched_ = true;
  }
  ~IeeeFloat32Guard() {
    if (!switched_) return;
    auto& ctx = at::globalContext();
    ctx.setFloat32MatmulPrecision(legacy_ == at::Float32MatmulPrecision::HIGHEST ? "highest"
                                  : legacy_ == at::Float32MatmulPrecision::MEDIUM ? "medium"
                                                                                  : "high");
    ctx.setFloat32Precision(at::Float32Backend::CUDA, at::Float32Op::MATMUL, cuda_);
    ctx.setFloat32Precision(at::Float32Backend::MKLDNN, at::Float32Op::MATMUL, mkldnn_);
  }
  IeeeFloat32Guard(const IeeeFloat32Guard&) = delete;
  IeeeFloat32Guard& operator=(const IeeeFloat32Guard&) = delete;

 private:
  at::NoTF32Guard no_tf32_;
  bool switched_ = false;
  at::Float32Precision cuda_ = at::Float32Precision::NONE;
  at::Float32Precision mkldnn_ = at::Float32Precision::NONE;
  at::Float32MatmulPrecision legacy_ = at::Float32MatmulPrecision::HIGHEST;
};

}  // namespace specbias
