// The layer plan of a described network (network.h): every forward pass (activation patterns,
// the gradient features, the stacked forward-mode pass of the geometry ops; CPU and CUDA) reads
// the layers through it. Layer l's weight W_l = [W_l^a, W_l^x] splits into the columns that read
// a_{l-1} and, with an input skip, the columns that read x_{S_l} (all of x or the slice
// skip_columns names); a pass either runs two GEMMs into one output (a_{l-1} W^a^T +
// x_{S_l} W^x^T, never forming the concatenation; the slice is a column view of x, read in place
// with its row stride) or, where in_l is materialised anyway (the gradient features), one GEMM
// with the whole W_l.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <vector>

#include "network.h"

namespace specbias {

struct LayerPlan {
  at::Tensor weight;    // W_l [out_l, in_l] as given (in_l = [a_{l-1}, x_{S_l}])
  at::Tensor w_prev_t;  // [width of a_{l-1}, out_l]: (W_l^a)^T, the columns that read a_{l-1}
  at::Tensor w_skip_t;  // [|S_l|, out_l]: (W_l^x)^T; undefined without an input skip
  at::Tensor bias;      // [out_l] contiguous; undefined for a bias-free layer
  int64_t skip_start = 0;  // first column of x the skip reads
  double slope = 0.0;   // negative slope of the activation (hidden layers; 0 = ReLU)
  bool residual = false;

  int64_t width() const { return w_prev_t.size(1); }
  int64_t prev_width() const { return w_prev_t.size(0); }
  bool has_skip() const { return w_skip_t.defined(); }
  bool has_bias() const { return bias.defined(); }
  // The columns of x (or of a block whose columns are x's, e.g. the stacked values and
  // tangents) that the skip reads.
  at::Tensor skip_input(const at::Tensor& x) const {
    return x.narrow(1, skip_start, w_skip_t.size(0));
  }
};

// Every layer, head included (index L). With `contiguous` the transposed weight blocks are copied
// to contiguous [in, out] matrices (the CPU pattern and geometry GEMMs prefer them); otherwise they
// stay transposed views of W_l, which cuBLAS reads in place and which keep the gradient features'
// GEMMs exactly those of W_l itself.
inline std::vector<LayerPlan> layer_plan(const Network& net, bool contiguous) {
  std::vector<LayerPlan> out(net.layers());
  for (size_t l = 0; l < net.layers(); ++l) {
    const at::Tensor& w = net.weights[l];
    const int64_t prev = net.prev_width(l);
    LayerPlan& layer = out[l];
    layer.weight = w;
    layer.w_prev_t = w.narrow(1, 0, prev).t();
    if (net.input_skip[l]) {
      layer.w_skip_t = w.narrow(1, prev, w.size(1) - prev).t();
      layer.skip_start = net.skip_start(l);
    }
    if (contiguous) {
      layer.w_prev_t = layer.w_prev_t.contiguous();
      if (layer.w_skip_t.defined()) layer.w_skip_t = layer.w_skip_t.contiguous();
    }
    if (net.has_bias(l)) layer.bias = net.biases[l]->contiguous();
    if (l < net.hidden_layers()) {
      layer.slope = net.slopes[l];
      layer.residual = net.residual[l];
    }
  }
  return out;
}

// Widest hidden layer (at least 1): the activation buffers of the pattern passes.
inline int64_t widest_hidden(const std::vector<LayerPlan>& plan) {
  int64_t widest = 1;
  for (size_t l = 0; l + 1 < plan.size(); ++l) widest = std::max(widest, plan[l].width());
  return widest;
}

// Widest block any layer of a pass holds, the input's `features` columns included.
inline int64_t widest_block(const std::vector<LayerPlan>& plan, int64_t features) {
  int64_t widest = features;
  for (const LayerPlan& layer : plan) widest = std::max(widest, layer.width());
  return widest;
}

}  // namespace specbias
