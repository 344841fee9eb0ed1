// Per-example squared gradient norms by layer on the CPU: each at::parallel_for task runs the
// forward and backward pass of one tile of points, then ||delta_l||^2 (||in_l||^2 + [bias_l])
// per row.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../common/grad_checks.h"
#include "../common/grad_features.h"
#include "../common/network.h"
#include "grad_reduce.h"
#include "tiling.h"

namespace specbias {
namespace {

using cpu::kTileRows;

at::Tensor per_example_grad_norms_cpu(const at::Tensor& x_in, at::TensorList weights,
                                      const BiasList& biases, const at::Tensor& grad_out_in,
                                      SlopeList slopes, const FlagList& input_skip,
                                      const FlagList& residual, ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_grad_op_inputs(x_in, net, grad_out_in);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor grad_out = grad_out_in.contiguous();
  const int64_t n = x.size(0);
  const int64_t layers = static_cast<int64_t>(weights.size());
  at::Tensor out = at::empty({n, layers}, x.options());
  if (n == 0) return out;
  const std::vector<LayerPlan> plan = layer_plan(net, /*contiguous=*/false);
  const int64_t tiles = (n + kTileRows - 1) / kTileRows;

  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "per_example_grad_norms_cpu", [&] {
    scalar_t* out_ptr = out.data_ptr<scalar_t>();
    at::parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
      const at::NoGradGuard no_grad;  // grad mode is thread-local: set it in each worker
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t r0 = t * kTileRows;
        const int64_t rows = std::min(kTileRows, n - r0);
        GradFeatures f = alloc_features(rows, x.options(), plan);
        forward_backward_into(x.narrow(0, r0, rows), grad_out.narrow(0, r0, rows), plan, f);
        for (int64_t l = 0; l < layers; ++l) {
          const scalar_t* a = f.inputs[l].data_ptr<scalar_t>();
          const scalar_t* d = f.deltas[l].data_ptr<scalar_t>();
          const int64_t in = f.inputs[l].size(1), width = f.deltas[l].size(1);
          for (int64_t r = 0; r < rows; ++r) {
            const double dd = cpu::sq_norm(d + r * width, width);
            const double aa = cpu::sq_norm(a + r * in, in);
            out_ptr[(r0 + r) * layers + l] = static_cast<scalar_t>(dd * (aa + f.bias[l]));
          }
        }
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) {
  m.impl("per_example_grad_norms", &per_example_grad_norms_cpu);
}

}  // namespace specbias
