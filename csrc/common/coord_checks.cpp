#include "coord_checks.h"

#include "mlp_checks.h"

namespace specbias {

void check_coord_mlp_inputs(const at::Tensor& coords, const at::Tensor& enc_matrix,
                            const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                            at::TensorList weights, at::TensorList biases) {
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

  TORCH_CHECK(weights.size() >= 2,
              "weights: expected at least 2 layers (one hidden layer and the linear head), got ",
              weights.size());
  const at::Tensor& w0 = weights[0];
  TORCH_CHECK(w0.dim() == 2 && w0.size(1) == e, "weights[0]: expected shape [out, E] with E = ",
              e, " (the encoding width, enc_matrix.shape[0]), got ", w0.sizes());
  // The remaining shape/dtype/device checks are those of every MLP op, on an empty encoded input.
  check_mlp_inputs(at::empty({0, e}, coords.options()), weights, biases);

  if (coords.numel() > 0) {
    TORCH_CHECK(at::isfinite(coords).all().item<bool>(),
                "coords: expected finite coordinates, found NaN or inf");
  }
  TORCH_CHECK(at::isfinite(enc_matrix).all().item<bool>() &&
                  at::isfinite(enc_offset).all().item<bool>(),
              "enc_matrix/enc_offset: expected finite values, found NaN or inf");
}

}  // namespace specbias
