// Input checks of the gradient ops (grad_out, region ids), on top of network.h.
#pragma once

#include <ATen/ATen.h>

#include <optional>

#include "network.h"

namespace specbias {

// grad_out [N, out]: same dtype and device as x, N = x.shape[0], out = the head's width
// (finiteness is checked with the network's, in one sync).
void check_grad_out(const at::Tensor& grad_out, const at::Tensor& x, const Network& net);

// ids [N] int64 on x's device with every value in [0, num_regions); 0 <= num_regions, and
// num_regions <= max(N, 1) unless its outputs (empty regions) fit in 1 GiB.
void check_region_ids(const at::Tensor& ids, int64_t num_regions, const at::Tensor& x);

// Every argument check of one gradient op, shared by its CPU and CUDA kernels: the network,
// grad_out and the op's own indices (pair indices i/j; Gram rows/cols; region ids).
void check_grad_op_inputs(const at::Tensor& x, const Network& net, const at::Tensor& grad_out);
void check_grad_dots_inputs(const at::Tensor& x, const Network& net, const at::Tensor& grad_out,
                            const at::Tensor& i, const at::Tensor& j);
void check_grad_gram_inputs(const at::Tensor& x, const Network& net, const at::Tensor& grad_out,
                            const std::optional<at::Tensor>& rows,
                            const std::optional<at::Tensor>& cols);
void check_region_grad_norms_inputs(const at::Tensor& x, const Network& net,
                                    const at::Tensor& grad_out, const at::Tensor& ids,
                                    int64_t num_regions);

}  // namespace specbias
