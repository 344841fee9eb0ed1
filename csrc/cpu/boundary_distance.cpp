// First-order boundary distance in coordinate space on the CPU: one forward-mode pass per tile of
// points (values and D tangents stacked, see coord_forward.h), the running minimum of
// |z| / ||dz/dc|| over all hidden neurons kept per point. Tiles run in parallel.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <limits>
#include <tuple>

#include "../common/coord_checks.h"
#include "coord_forward.h"

namespace specbias {
namespace {

constexpr int64_t kTileRows = 256;

std::tuple<at::Tensor, at::Tensor> boundary_distance_cpu(
    const at::Tensor& coords_in, const at::Tensor& enc_matrix, const at::Tensor& enc_offset,
    const at::Tensor& enc_periodic, at::TensorList weights, at::TensorList biases) {
  check_coord_mlp_inputs(coords_in, enc_matrix, enc_offset, enc_periodic, weights, biases);
  const at::Tensor coords = coords_in.contiguous();
  const int64_t n = coords.size(0);
  at::Tensor dist = at::full({n}, std::numeric_limits<double>::infinity(), coords.options());
  at::Tensor argmin = at::full({n}, -1, coords.options().dtype(at::kLong));
  if (n == 0) return {dist, argmin};

  const at::Tensor matrix = enc_matrix.contiguous();
  const at::Tensor offset = enc_offset.contiguous();
  const at::Tensor periodic = enc_periodic.contiguous();
  std::vector<at::Tensor> wt, b;
  for (size_t l = 0; l + 1 < weights.size(); ++l) {  // the head plays no part
    wt.push_back(weights[l].t().contiguous());
    b.push_back(biases[l].contiguous());
  }
  const int64_t tiles = (n + kTileRows - 1) / kTileRows;
  int64_t* arg_ptr = argmin.data_ptr<int64_t>();

  AT_DISPATCH_FLOATING_TYPES(coords.scalar_type(), "boundary_distance_cpu", [&] {
    scalar_t* dist_ptr = dist.data_ptr<scalar_t>();
    at::parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t r0 = t * kTileRows;
        const int64_t rows = std::min(kTileRows, n - r0);
        coord_forward::forward_tile<scalar_t>(coords.narrow(0, r0, rows), matrix, offset,
                                              periodic, wt, b, dist_ptr + r0, arg_ptr + r0);
      }
    });
  });
  return {dist, argmin};
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("boundary_distance", &boundary_distance_cpu); }

}  // namespace specbias
