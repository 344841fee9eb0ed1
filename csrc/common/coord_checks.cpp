#include "coord_checks.h"

namespace specbias {
void check_coord_inputs(const at::Tensor& coords, const at::Tensor& enc_matrix,
                        const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                        const Network& net) {
  TORCH_CHECK(coords.dim() == 2, "coords: expected a 2-D tensor [N, D], got ", coords.dim(),
              " dimensions");
  TORCH_CHECK(coords.scalar_type() == at::kFloat || coords.scalar_type() == at::kDouble,
              "coords: expected float32 or float64, got ", coords.scalar_type());
  const int64_t d = coords.size(1);
  TORCH_CHECK(d >= 1, "coords: expected at least one coordinate dimension, got shape ",
              coords.sizes());

  TORCH_CHECK(enc_matrix.dim() == 2 && enc_matrix.size(1) == d,
              "enc_matrix: expected shape [E, D] with D = coords.shape[1] = ", d, ", got ",
              enc_matrix.sizes());
  const int64_t e = enc_matrix.size(0);
  TORCH_CHECK(e >= 1, "enc_matrix: expected at least one encoded feature (E >= 1)");
  TORCH_CHECK(enc_offset.dim() == 1 && enc_offset.size(0) == e,
              "enc_offset: expected shape [E] with E = enc_matrix.shape[0] = ", e, ", got ",
              enc_offset.sizes());
  TORCH_CHECK(enc_periodic.dim() == 1 && enc_periodic.size(0) == e,
              "enc_periodic: expected shape [E] with E = enc_matrix.shape[0] = ", e, ", got ",
              enc_periodic.sizes());
  TORCH_CHECK(enc_matrix.scalar_type() == coords.scalar_type(), "enc_matrix: expected dtype ",
              coords.scalar_type(), " (the dtype of coords), got ", enc_matrix.scalar_type());
  TORCH_CHECK(enc_offset.scalar_type() == coords.scalar_type(), "enc_offset: expected dtype ",
              coords.scalar_type(), " (the dtype of coords), got ", enc_offset.scalar_type());
  TORCH_CHECK(enc_periodic.scalar_type() == at::kBool, "enc_periodic: expected a bool tensor, got ",
              enc_periodic.scalar_type());
  TORCH_CHECK(enc_matrix.device() == coords.device(), "enc_matrix: expected device ",
              coords.device(), " (the device of coords), got ", enc_matrix.device());
  TORCH_CHECK(enc_offset.device() == coords.device(), "enc_offset: expected device ",
              coords.device(), " (the device of coords), got ", enc_offset.device());
  TORCH_CHECK(enc_periodic.device() == coords.device(), "enc_periodic: expected device ",
              coords.device(), " (the device of coords), got ", enc_periodic.device());

  const at::Tensor& w0 = net.weights[0];
  TORCH_CHECK(w0.dim() == 2 && w0.size(1) == e, "weights[0]: expected shape [out, E] with E = ",
              e, " (the encoding width, enc_matrix.shape[0]), got ", w0.sizes());
  // The rest (dtype, device, shapes, skips) as for every network op, on an empty encoded input
  // of the right width; one fused finiteness check covers the coordinates and encoding too.
  check_network_inputs(at::empty({0, e}, coords.options()), net,
                       {{"coords", coords},
                        {"enc_matrix", enc_matrix},
                        {"enc_offset", enc_offset}});
}

void check_encoded_inputs(const at::Tensor& x, const at::Tensor& x_jacobian, const Network& net) {
  TORCH_CHECK(x.dim() == 2, "x: expected a 2-D tensor [N, E] (the encoded points), got ",
              x.dim(), " dimensions");
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
              "x: expected float32 or float64, got ", x.scalar_type());
  TORCH_CHECK(x_jacobian.dim() == 3 && x_jacobian.size(0) == x.size(0) &&
                  x_jacobian.size(1) == x.size(1),
              "x_jacobian: expected shape [N, E, D] with [N, E] = x.shape = ", x.sizes(),
              ", got ", x_jacobian.sizes());
  TORCH_CHECK(x_jacobian.size(2) >= 1,
              "x_jacobian: expected at least one coordinate dimension (D >= 1), got shape ",
              x_jacobian.sizes());
  TORCH_CHECK(x_jacobian.scalar_type() == x.scalar_type(), "x_jacobian: expected dtype ",
              x.scalar_type(), " (the dtype of x), got ", x_jacobian.scalar_type());
  TORCH_CHECK(x_jacobian.device() == x.device(), "x_jacobian: expected device ", x.device(),
              " (the device of x), got ", x_jacobian.device());
  // x's width against weights[0]; one fused finiteness check of x, x_jacobian and the network.
  check_network_inputs(x, net, {{"x_jacobian", x_jacobian}});
}

}  // namespace specbias
