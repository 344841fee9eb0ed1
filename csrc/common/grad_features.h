// The per-layer factors of per-example gradients, computed by one forward and one backward pass.
//
// For layer l = 0..L the gradient of example i is g_l^i = delta_l^i (x) [in_l^i, 1] (weight
// block, then the bias entry where the layer has one), with in_l = a_{l-1}, or [a_{l-1}, x] for
// an input skip. Every gradient quantity is therefore a function of the rows of inputs[l] = in_l,
// deltas[l] = delta_l and bias[l] = [layer l has a bias]:
//   <g_i, g_j> = sum_l (delta_l^i . delta_l^j)(in_l^i . in_l^j + bias[l]).
// Device-agnostic (ATen GEMMs); the device files add the reductions.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "layer_plan.h"

namespace specbias {

struct GradFeatures {
  std::vector<at::Tensor> inputs;  // inputs[l] = in_l [n, in_l]; inputs[0] = x
  std::vector<at::Tensor> deltas;  // deltas[l] = delta_l [n, out_l]; deltas[L] = grad_out
  std::vector<double> bias;        // bias[l] = 1 where layer l has a bias, else 0
  // Scratch of the passes, defined only for the layers that need it: pre[l] = z_l where the
  // activation does not tell the sign of z_l (residual add, negative slope); grad_act[l] = u_l
  // (the gradient at a_l before the activation mask) for residual layers l >= 1, whose u_l
  // also flows to u_{l-1} through the identity path.
  std::vector<at::Tensor> pre;
  std::vector<at::Tensor> grad_act;

  int64_t rows() const { return inputs.empty() ? 0 : inputs[0].size(0); }
  size_t layers() const { return inputs.size(); }
  GradFeatures narrow(int64_t r0, int64_t rows) const;
};

// The passes below read the network through its layer plan (layer_plan.h), built once per op
// call with contiguous = false: the forward GEMM of layer l is then exactly in_l W_l^T.

// Uninitialised features for n rows (inputs[0] and deltas[L] are left undefined).
GradFeatures alloc_features(int64_t n, const at::TensorOptions& options,
                            const std::vector<LayerPlan>& plan);

// Forward and backward pass of the rows x_rows / go_rows (contiguous) writing in_l into
// out.inputs[1..L] (the x columns of skip layers included) and delta_l into out.deltas[0..L-1]
// (contiguous [rows, width] tensors or row-ranges of such); out.inputs[0] and out.deltas[L] are
// set to x_rows and go_rows.
void forward_backward_into(const at::Tensor& x_rows, const at::Tensor& go_rows,
                           const std::vector<LayerPlan>& plan, GradFeatures& out);

// Features of every row of x (contiguous) in tiles of `tile_rows`; with `parallel` the tiles
// run on at::parallel_for (CPU), otherwise one after the other (CUDA, where each is a GEMM).
GradFeatures compute_features(const at::Tensor& x, const at::Tensor& grad_out,
                              const std::vector<LayerPlan>& plan, int64_t tile_rows,
                              bool parallel);

// The rows idx (int64, on x's device) of x and grad_out, made contiguous.
std::pair<at::Tensor, at::Tensor> gather_rows(const at::Tensor& x, const at::Tensor& grad_out,
                                              const at::Tensor& idx);

// The distinct points of index pairs (i[p], j[p]) and, for each pair, the rows of its two ends
// among them: points[row_i[p]] == i[p] and points[row_j[p]] == j[p]. Lets pair ops compute
// each point's features once however many pairs share it.
struct DistinctRows {
  at::Tensor points;  // int64 [U], sorted
  at::Tensor row_i;   // int64 [P]
  at::Tensor row_j;   // int64 [P]
};
DistinctRows distinct_rows(const at::Tensor& i, const at::Tensor& j);

// Elements per row of the features, scratch included (for chunk sizes).
int64_t feature_row_elements(const std::vector<LayerPlan>& plan);

}  // namespace specbias
