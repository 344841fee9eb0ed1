// The per-layer factors of per-example gradients, computed by one forward and one backward pass.
//
// For layer l = 0..L the gradient of example i is g_l^i = delta_l^i (x) [a_{l-1}^i, 1] (weight
// block, then bias), so every gradient quantity is a function of the rows of inputs[l] = a_{l-1}
// and deltas[l] = delta_l. Device-agnostic (ATen GEMMs); the device files add the reductions.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace specbias {

struct GradFeatures {
  std::vector<at::Tensor> inputs;  // inputs[l] = a_{l-1} [n, in_l]; inputs[0] = x
  std::vector<at::Tensor> deltas;  // deltas[l] = delta_l [n, out_l]; deltas[L] = grad_out

  int64_t rows() const { return inputs.empty() ? 0 : inputs[0].size(0); }
  size_t layers() const { return inputs.size(); }
  GradFeatures narrow(int64_t r0, int64_t rows) const;
};

// Uninitialised features for n rows (inputs[0] and deltas[L] are left undefined).
GradFeatures alloc_features(int64_t n, const at::TensorOptions& options, at::TensorList weights);

// Forward and backward pass of the rows x_rows / go_rows (contiguous) writing a_{l-1} into
// out.inputs[1..L] and delta_l into out.deltas[0..L-1] (contiguous [rows, width] tensors or
// row-ranges of such); out.inputs[0] and out.deltas[L] are set to x_rows and go_rows.
void forward_backward_into(const at::Tensor& x_rows, const at::Tensor& go_rows,
                           at::TensorList weights, at::TensorList biases, GradFeatures& out);

// Features of every row of x (contiguous) in tiles of `tile_rows`; with `parallel` the tiles
// run on at::parallel_for (CPU), otherwise one after the other (CUDA, where each is a GEMM).
GradFeatures compute_features(const at::Tensor& x, const at::Tensor& grad_out,
                              at::TensorList weights, at::TensorList biases, int64_t tile_rows,
                              bool parallel);

// The rows idx (int64, on x's device) of x and grad_out, made contiguous.
std::pair<at::Tensor, at::Tensor> gather_rows(const at::Tensor& x, const at::Tensor& grad_out,
                                              const at::Tensor& idx);

}  // namespace specbias
