// Hamming distances between index pairs of pattern rows on the GPU: one thread per pair (and
// segment), __popcll on the XOR of the two rows' words.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../common/bit_utils.h"
#include "../common/pattern_checks.h"
#include "tiling.cuh"

namespace specbias {
namespace {

using cuda::kThreads;

__global__ void hamming_pairs_kernel(const uint64_t* __restrict__ rows, int64_t words,
                                     const int64_t* __restrict__ i, const int64_t* __restrict__ j,
                                     int64_t pairs, int64_t* __restrict__ out) {
  const int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p < pairs) out[p] = xor_popcount_row(rows + i[p] * words, rows + j[p] * words, words);
}

// bounds: the S + 1 segment boundaries in device memory; one thread per (pair, segment).
__global__ void hamming_segments_kernel(const uint64_t* __restrict__ rows, int64_t words,
                                        const int64_t* __restrict__ i,
                                        const int64_t* __restrict__ j, int64_t pairs,
                                        const int64_t* __restrict__ bounds, int64_t segments,
                                        int64_t* __restrict__ out) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= pairs * segments) return;
  const int64_t p = e / segments;
  const int64_t s = e % segments;
  out[e] = xor_popcount_bits(rows + i[p] * words, rows + j[p] * words, bounds[s], bounds[s + 1]);
}

at::Tensor hamming_pairs_cuda(const at::Tensor& patterns_in, const at::Tensor& i_in,
                              const at::Tensor& j_in, at::OptionalIntArrayRef segments) {
  check_patterns(patterns_in);
  check_pair_indices(patterns_in, i_in, j_in);
  const int64_t words = patterns_in.size(1);
  if (segments.has_value()) check_segments(*segments, words);
  const c10::cuda::CUDAGuard guard(patterns_in.device());

  const at::Tensor patterns = patterns_in.contiguous();
  const at::Tensor i = i_in.contiguous();
  const at::Tensor j = j_in.contiguous();
  const int64_t pairs = i.size(0);
  const auto* rows = reinterpret_cast<const uint64_t*>(patterns.data_ptr<int64_t>());
  auto stream = at::cuda::getCurrentCUDAStream();

  if (!segments.has_value()) {
    at::Tensor out = at::empty({pairs}, patterns.options());
    if (pairs == 0) return out;
    hamming_pairs_kernel<<<(pairs + kThreads - 1) / kThreads, kThreads, 0, stream>>>(
        rows, words, i.data_ptr<int64_t>(), j.data_ptr<int64_t>(), pairs,
        out.data_ptr<int64_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
  }

  const int64_t num_segments = static_cast<int64_t>(segments->size()) - 1;
  at::Tensor out = at::empty({pairs, num_segments}, patterns.options());
  if (out.numel() == 0) return out;
  at::Tensor bounds =
      at::tensor(*segments, at::TensorOptions().dtype(at::kLong)).to(patterns.device());
  hamming_segments_kernel<<<(out.numel() + kThreads - 1) / kThreads, kThreads, 0, stream>>>(
      rows, words, i.data_ptr<int64_t>(), j.data_ptr<int64_t>(), pairs,
      bounds.data_ptr<int64_t>(), num_segments, out.data_ptr<int64_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("hamming_pairs", &hamming_pairs_cuda); }

}  // namespace specbias
