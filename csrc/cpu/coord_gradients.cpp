// Gradient of the network output w.r.t. the coordinates on the CPU: the forward-mode pass of
// coord_forward.h through the hidden layers, then the head applied to the tangent rows only.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../common/coord_checks.h"
#include "coord_forward.h"

namespace specbias {
namespace {

constexpr int64_t kTileRows = 256;

at::Tensor coord_gradients_cpu(const at::Tensor& coords_in, const at::Tensor& enc_matrix,
                               const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                               at::TensorList weights, at::TensorList biases) {
  check_coord_mlp_inputs(coords_in, enc_matrix, enc_offset, enc_periodic, weights, biases);
  const at::Tensor coords = coords_in.contiguous();
  const int64_t n = coords.size(0);
  const int64_t dims = coords.size(1);
  const int64_t out_dim = weights.back().size(0);
  at::Tensor out = at::empty({n, out_dim, dims}, coords.options());
  if (n == 0) return out;

  const at::Tensor matrix = enc_matrix.contiguous();
  const at::Tensor offset = enc_offset.contiguous();
  const at::Tensor periodic = enc_periodic.contiguous();
  std::vector<at::Tensor> wt, b;
  for (size_t l = 0; l + 1 < weights.size(); ++l) {
    wt.push_back(weights[l].t().contiguous());
    b.push_back(biases[l].contiguous());
  }
  const at::Tensor head_t = weights.back().t().contiguous();
  const int64_t tiles = (n + kTileRows - 1) / kTileRows;

  AT_DISPATCH_FLOATING_TYPES(coords.scalar_type(), "coord_gradients_cpu", [&] {
    at::parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t r0 = t * kTileRows;
        const int64_t rows = std::min(kTileRows, n - r0);
        at::Tensor s = coord_forward::forward_tile<scalar_t>(
            coords.narrow(0, r0, rows), matrix, offset, periodic, wt, b, nullptr, nullptr);
        // Tangent rows only: the head's bias does not reach the gradient.
        at::Tensor grads = at::mm(s.narrow(0, rows, dims * rows), head_t);  // [D*rows, out]
        out.narrow(0, r0, rows).copy_(grads.view({dims, rows, out_dim}).permute({1, 2, 0}));
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("coord_gradients", &coord_gradients_cpu); }

}  // namespace specbias
