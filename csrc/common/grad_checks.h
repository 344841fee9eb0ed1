// Input checks of the gradient ops (grad_out, region ids), on top of mlp_checks.h.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace specbias {

// grad_out [N, out]: same dtype and device as x, N = x.shape[0], out = the head's width, finite.
void check_grad_out(const at::Tensor& grad_out, const at::Tensor& x, at::TensorList weights);

// ids [N] int64 on x's device with every value in [0, num_regions); num_regions >= 0.
void check_region_ids(const at::Tensor& ids, int64_t num_regions, const at::Tensor& x);

// Every argument check of one gradient op, shared by its CPU and CUDA kernels: the MLP, grad_out
// and the op's own indices (pair indices i/j; Gram rows/cols; region ids).
void check_grad_op_inputs(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                          const at::Tensor& grad_out);
void check_grad_dots_inputs(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                            const at::Tensor& grad_out, const at::Tensor& i, const at::Tensor& j);
void check_grad_gram_inputs(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                            const at::Tensor& grad_out, const std::optional<at::Tensor>& rows,
                            const std::optional<at::Tensor>& cols);
void check_region_grad_norms_inputs(const at::Tensor& x, at::TensorList weights,
                                    at::TensorList biases, const at::Tensor& grad_out,
                                    const at::Tensor& ids, int64_t num_regions);

}  // namespace specbias
