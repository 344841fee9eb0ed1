// First-order boundary distance in coordinate space on the GPU: chunks of points go through the
// stacked value+tangent forward pass of coord_forward.cuh (cuBLAS GEMMs plus one fused
// bias/ReLU/running-min kernel per layer).
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <limits>
#include <tuple>

#include "../common/coord_checks.h"
#include "coord_forward.cuh"

namespace specbias {
namespace {

std::tuple<at::Tensor, at::Tensor> boundary_distance_cuda(
    const at::Tensor& coords_in, const at::Tensor& enc_matrix, const at::Tensor& enc_offset,
    const at::Tensor& enc_periodic, at::TensorList weights, at::TensorList biases) {
  check_coord_mlp_inputs(coords_in, enc_matrix, enc_offset, enc_periodic, weights, biases);
  const c10::cuda::CUDAGuard guard(coords_in.device());
  const at::Tensor coords = coords_in.contiguous();
  const int64_t n = coords.size(0);
  at::Tensor dist = at::full({n}, std::numeric_limits<double>::infinity(), coords.options());
  at::Tensor argmin = at::full({n}, -1, coords.options().dtype(at::kLong));
  if (n == 0) return {dist, argmin};

  const at::Tensor matrix = enc_matrix.contiguous();
  const at::Tensor offset = enc_offset.contiguous();
  const at::Tensor periodic = enc_periodic.contiguous();
  std::vector<at::Tensor> b;
  int64_t max_width = matrix.size(0);
  for (size_t l = 0; l + 1 < weights.size(); ++l) {
    b.push_back(biases[l].contiguous());
    max_width = std::max(max_width, weights[l].size(0));
  }
  b.push_back(biases.back());
  const int64_t chunk = coord_forward::chunk_rows(coords.size(1), max_width, coords.element_size());
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t rows = std::min(chunk, n - r0);
    coord_forward::forward_chunk(coords.narrow(0, r0, rows), matrix, offset, periodic, weights, b,
                                 dist.narrow(0, r0, rows), argmin.narrow(0, r0, rows));
  }
  return {dist, argmin};
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("boundary_distance", &boundary_distance_cuda); }

}  // namespace specbias
