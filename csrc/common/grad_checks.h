// Input checks of the gradient ops (grad_out, region ids), on top of mlp_checks.h.
#pragma once

#include <ATen/ATen.h>

namespace specbias {

// grad_out [N, out]: same dtype and device as x, N = x.shape[0], out = the head's width, finite.
void check_grad_out(const at::Tensor& grad_out, const at::Tensor& x, at::TensorList weights);

// ids [N] int64 on x's device with every value in [0, num_regions); num_regions >= 0.
void check_region_ids(const at::Tensor& ids, int64_t num_regions, const at::Tensor& x);

}  // namespace specbias
