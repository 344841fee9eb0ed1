// Input validation for the ops that start from coordinates (before the encoding): the
// coordinates, the encoding in affine-sine form and the ReLU MLP behind it.
// encode(c) = where(periodic, sin(c @ matrix.T + offset), c @ matrix.T + offset).
#pragma once

#include <ATen/ATen.h>

namespace specbias {

// coords [N, D] (D >= 1, finite), enc_matrix [E, D], enc_offset [E] (same dtype and device as
// coords), enc_periodic bool [E], and weights[0] taking E inputs. The rest of the MLP is
// checked by check_mlp_inputs.
void check_coord_mlp_inputs(const at::Tensor& coords, const at::Tensor& enc_matrix,
                            const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                            at::TensorList weights, at::TensorList biases);

}  // namespace specbias
