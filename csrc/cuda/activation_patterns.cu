// Packed activation patterns on the GPU: cuBLAS GEMMs over chunks of points, then one fused
// kernel per layer that packs the sign bits with warp ballots and applies the ReLU in place.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../common/mlp_checks.h"

namespace specbias {
namespace {

constexpr int64_t kChunkBytes = int64_t(256) << 20;  // activation working set per chunk

// One warp per (row, output word overlapping this layer's bits). Lane l looks at bits
// word*64 + l and word*64 + 32 + l, so the reads of z are coalesced.
template <typename scalar_t>
__global__ void pack_relu_kernel(scalar_t* __restrict__ z, int64_t rows, int64_t width,
                                 int64_t bit0, int64_t word_lo, int64_t layer_words,
                                 int64_t* __restrict__ out, int64_t words) {
  const int64_t warp = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (warp >= rows * layer_words) return;
  const int64_t row = warp / layer_words;
  const int64_t word = word_lo + warp % layer_words;
  scalar_t* zr = z + row * width;
  unsigned halves[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int64_t k = word * 64 + h * 32 + lane - bit0;
    bool on = false;
    if (k >= 0 && k < width) {
      const scalar_t v = zr[k];
      on = v > scalar_t(0);
      if (!on) zr[k] = scalar_t(0);
    }
    halves[h] = __ballot_sync(0xffffffffu, on);
  }
  if (lane == 0) {
    const unsigned long long bits =
        (static_cast<unsigned long long>(halves[1]) << 32) | halves[0];
    out[row * words + word] |= static_cast<int64_t>(bits);
  }
}

at::Tensor activation_patterns_cuda(const at::Tensor& x_in, at::TensorList weights,
                                    at::TensorList biases) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  check_mlp_inputs(x_in, weights, biases);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const int64_t n = x.size(0);
  const int64_t words = words_for_bits(total_hidden(weights));
  at::Tensor out = at::zeros({n, words}, x.options().dtype(at::kLong));
  if (n == 0 || words == 0) return out;

  const size_t hidden_layers = weights.size() - 1;
  int64_t max_width = 1;
  for (size_t l = 0; l < hidden_layers; ++l) max_width = std::max(max_width, weights[l].size(0));
  const int64_t chunk =
      std::max<int64_t>(1024, kChunkBytes / (2 * max_width * x.element_size()));
  auto stream = at::cuda::getCurrentCUDAStream();

  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t rows = std::min(chunk, n - r0);
    at::Tensor a = x.narrow(0, r0, rows);
    at::Tensor out_rows = out.narrow(0, r0, rows);
    int64_t bit0 = 0;
    for (size_t l = 0; l < hidden_layers; ++l) {
      at::Tensor z = at::addmm(biases[l], a, weights[l].t());
      const int64_t width = z.size(1);
      const int64_t word_lo = bit0 / 64;
      const int64_t layer_words = (bit0 + width - 1) / 64 - word_lo + 1;
      const int64_t threads = 256;
      const int64_t blocks = (rows * layer_words * 32 + threads - 1) / threads;
      AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "activation_patterns_cuda", [&] {
        pack_relu_kernel<scalar_t><<<blocks, threads, 0, stream>>>(
            z.data_ptr<scalar_t>(), rows, width, bit0, word_lo, layer_words,
            out_rows.data_ptr<int64_t>(), words);
      });
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      bit0 += width;
      a = z;
    }
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("activation_patterns", &activation_patterns_cuda); }

}  // namespace specbias
