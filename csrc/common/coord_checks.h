// Input validation for the ops that start from coordinates: the affine-sine ops take coordinates
// before the encoding, the *_encoded ops take encoded points with their Jacobian. The network
// behind either is checked by check_network_inputs (network.h).
// encode(c) = where(periodic, sin(c @ matrix.T + offset), c @ matrix.T + offset).
#pragma once

#include <ATen/ATen.h>

#include "network.h"

namespace specbias {

// coords [N, D] (D >= 1, finite), enc_matrix [E, D], enc_offset [E] (same dtype and device as
// coords), enc_periodic bool [E], and a network whose layer 0 takes the E encoded features.
void check_coord_inputs(const at::Tensor& coords, const at::Tensor& enc_matrix,
                        const at::Tensor& enc_offset, const at::Tensor& enc_periodic,
                        const Network& net);

// x [N, E] (the encoded points) and x_jacobian [N, E, D] (d x_e / d c_d, D >= 1), same dtype and
// device, finite; the network takes E inputs.
void check_encoded_inputs(const at::Tensor& x, const at::Tensor& x_jacobian, const Network& net);

}  // namespace specbias
