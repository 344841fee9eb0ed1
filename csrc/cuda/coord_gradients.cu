// Gradient of the network output w.r.t. the coordinates on the GPU: the stacked value+tangent
// forward pass of coord_forward.cuh, then one GEMM of the head on the tangent rows.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../common/coord_checks.h"
#include "coord_forward.cuh"

namespace specbias {
namespace {

at::Tensor coord_gradients_cuda(const at::Tensor& coords_in, const at::Tensor& enc_matrix,
                                const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                                at::TensorList weights, at::TensorList biases) {
  check_coord_mlp_inputs(coords_in, enc_matrix, enc_offset, enc_periodic, weights, biases);
  const c10::cuda::CUDAGuard guard(coords_in.device());
  const at::Tensor coords = coords_in.contiguous();
  const int64_t n = coords.size(0);
  const int64_t dims = coords.size(1);
  const int64_t out_dim = weights.back().size(0);
  at::Tensor out = at::empty({n, out_dim, dims}, coords.options());
  if (n == 0) return out;

  const at::Tensor matrix = enc_matrix.contiguous();
  const at::Tensor offset = enc_offset.contiguous();
  const at::Tensor periodic = enc_periodic.contiguous();
  std::vector<at::Tensor> b;
  int64_t max_width = std::max(matrix.size(0), out_dim);
  for (size_t l = 0; l < weights.size(); ++l) {
    b.push_back(biases[l].contiguous());
    max_width = std::max(max_width, weights[l].size(0));
  }
  const int64_t chunk = coord_forward::chunk_rows(dims, max_width, coords.element_size());
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t rows = std::min(chunk, n - r0);
    at::Tensor s = coord_forward::forward_chunk(coords.narrow(0, r0, rows), matrix, offset,
                                                periodic, weights, b, at::Tensor(), at::Tensor());
    at::Tensor grads = at::mm(s.narrow(0, rows, dims * rows), weights.back().t());
    out.narrow(0, r0, rows).copy_(grads.view({dims, rows, out_dim}).permute({1, 2, 0}));
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("coord_gradients", &coord_gradients_cuda); }

}  // namespace specbias
