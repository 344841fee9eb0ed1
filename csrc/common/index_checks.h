// Checks of index tensors (pair indices, Gram rows/cols), shared by the pattern and gradient ops.
#pragma once

#include <ATen/ATen.h>

namespace specbias {

// idx: int64, 1-D, on `device`, every value in [0, n); errors name the argument.
void check_indices(const at::Tensor& idx, const char* name, int64_t n, const at::Device& device);

}  // namespace specbias
