// Gradient of the network output w.r.t. the coordinates on the GPU, from coordinates and an
// encoding in affine-sine form: the stacked value+tangent forward pass of coord_forward.cuh,
// then the head's GEMM on the tangent rows.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../common/coord_checks.h"
#include "../common/ieee_float32.h"
#include "coord_forward.cuh"

namespace specbias {
namespace {

at::Tensor coord_gradients_cuda(const at::Tensor& coords_in, const at::Tensor& enc_matrix,
                                const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                                at::TensorList weights,
                                const BiasList& biases, SlopeList slopes,
                                const FlagList& input_skip, const FlagList& residual,
                                ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_coord_inputs(coords_in, enc_matrix, enc_offset, enc_periodic, net);
  const c10::cuda::CUDAGuard guard(coords_in.device());
  const IeeeFloat32Guard ieee;  // float32 GEMMs stay IEEE whatever the TF32 settings
  const at::Tensor coords = coords_in.contiguous();
  const at::Tensor matrix = enc_matrix.contiguous();
  const at::Tensor offset = enc_offset.contiguous();
  const at::Tensor periodic = enc_periodic.contiguous();
  return coord_forward::coord_gradients_chunks(
      coords.size(0), coords.size(1), matrix.size(0), net, coords.options(),
      [&](int64_t r0, int64_t rows) {
        return coord_forward::stack_affine_sine(coords.narrow(0, r0, rows), matrix, offset,
                                                periodic);
      });
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("coord_gradients", &coord_gradients_cuda); }

}  // namespace specbias
