// Packed activation patterns on the GPU: cuBLAS GEMMs over chunks of points, then one fused
// kernel per layer that packs the sign bits with warp ballots and applies the activation (ReLU
// or LeakyReLU) in place. An input skip is a second GEMM (x W^x^T) into the same z; a residual
// add follows the kernel, once the bits of z are packed.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../common/bit_utils.h"
#include "../common/ieee_float32.h"
#include "../common/layer_plan.h"
#include "../common/network.h"
#include "tiling.cuh"

namespace specbias {
namespace {

// One warp per (row, output word overlapping this layer's bits). Lane l looks at bits
// word*64 + l and word*64 + 32 + l, so the reads of z are coalesced.
template <typename scalar_t, bool kLeaky>
__global__ void pack_activate_kernel(scalar_t* __restrict__ z, int64_t rows, int64_t width,
                                     int64_t bit0, int64_t word_lo, int64_t layer_words,
                                     int64_t* __restrict__ out, int64_t words, scalar_t slope) {
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
      if (!on) zr[k] = kLeaky ? slope * v : scalar_t(0);
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
                                    const BiasList& biases, SlopeList slopes,
                                    const FlagList& input_skip, const FlagList& residual,
                                    ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const IeeeFloat32Guard ieee;
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_network_inputs(x_in, net);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const int64_t n = x.size(0);
  const int64_t words = words_for_bits(net.total_hidden());
  at::Tensor out = at::zeros({n, words}, x.options().dtype(at::kLong));
  if (n == 0 || words == 0) return out;

  const size_t hidden_layers = net.hidden_layers();
  const std::vector<LayerPlan> plan = layer_plan(net, /*contiguous=*/false);
  // Two activations of the widest layer per row: z and the a it reads.
  const int64_t chunk = cuda::chunk_rows(2 * widest_hidden(plan) * x.element_size());
  auto stream = at::cuda::getCurrentCUDAStream();

  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t rows = std::min(chunk, n - r0);
    const at::Tensor x_rows = x.narrow(0, r0, rows);
    at::Tensor a = x_rows;
    at::Tensor out_rows = out.narrow(0, r0, rows);
    int64_t bit0 = 0;
    for (size_t l = 0; l < hidden_layers; ++l) {
      const LayerPlan& layer = plan[l];
      at::Tensor z = layer.has_bias() ? at::addmm(layer.bias, a, layer.w_prev_t)
                                      : at::mm(a, layer.w_prev_t);
      if (layer.has_skip()) z.addmm_(layer.skip_input(x_rows), layer.w_skip_t);
      const int64_t width = z.size(1);
      const double slope = layer.slope;
      const int64_t word_lo = bit0 / 64;
      const int64_t layer_words = (bit0 + width - 1) / 64 - word_lo + 1;
      const int64_t threads = cuda::kThreads;
      const int64_t blocks = (rows * layer_words * cuda::kWarp + threads - 1) / threads;
      AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "activation_patterns_cuda", [&] {
        if (slope == 0.0) {
          pack_activate_kernel<scalar_t, false><<<blocks, threads, 0, stream>>>(
              z.data_ptr<scalar_t>(), rows, width, bit0, word_lo, layer_words,
              out_rows.data_ptr<int64_t>(), words, scalar_t(0));
        } else {
          pack_activate_kernel<scalar_t, true><<<blocks, threads, 0, stream>>>(
              z.data_ptr<scalar_t>(), rows, width, bit0, word_lo, layer_words,
              out_rows.data_ptr<int64_t>(), words, static_cast<scalar_t>(slope));
        }
      });
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      if (layer.residual) z.add_(a);
      bit0 += width;
      a = z;
    }
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("activation_patterns", &activation_patterns_cuda); }

}  // namespace specbias
