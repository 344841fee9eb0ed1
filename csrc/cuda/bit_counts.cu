// Per-bit population counts over the rows of packed patterns, on the GPU. Block (word w, row
// slice): thread b reads word w of the slice's rows (one broadcast load per row for the 64
// threads), counts bit b, and adds its total to counts[64 w + b] with one atomicAdd.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../common/pattern_checks.h"
#include "tiling.cuh"

namespace specbias {
namespace {

__global__ void bit_counts_kernel(const uint64_t* __restrict__ rows, int64_t n, int64_t words,
                                  int64_t num_bits, unsigned long long* counts) {
  const int64_t w = blockIdx.x;
  const int b = threadIdx.x;
  const int64_t bit = w * 64 + b;
  if (bit >= num_bits) return;
  unsigned long long c = 0;
  for (int64_t r = blockIdx.y; r < n; r += gridDim.y) c += (rows[r * words + w] >> b) & 1ull;
  if (c != 0) atomicAdd(counts + bit, c);
}

at::Tensor bit_counts_cuda(const at::Tensor& patterns_in, int64_t num_bits) {
  check_patterns(patterns_in);
  const int64_t words = patterns_in.size(1);
  check_num_bits(num_bits, words);
  const c10::cuda::CUDAGuard guard(patterns_in.device());
  const at::Tensor patterns = patterns_in.contiguous();
  const int64_t n = patterns.size(0);
  at::Tensor counts = at::zeros({num_bits}, patterns.options());
  if (n == 0 || num_bits == 0) return counts;

  const int64_t used_words = (num_bits + 63) / 64;
  const int64_t slices = std::min(cuda::kBitCountMaxSlices,
                                 (n + cuda::kBitCountSliceRows - 1) / cuda::kBitCountSliceRows);
  const dim3 grid(static_cast<unsigned>(used_words), static_cast<unsigned>(slices));
  bit_counts_kernel<<<grid, 64, 0, at::cuda::getCurrentCUDAStream()>>>(
      reinterpret_cast<const uint64_t*>(patterns.data_ptr<int64_t>()), n, words, num_bits,
      reinterpret_cast<unsigned long long*>(counts.data_ptr<int64_t>()));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return counts;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("bit_counts", &bit_counts_cuda); }

}  // namespace specbias
