// The layers of a described network (network.h) laid out for the stacked forward-mode pass of the
// geometry ops (cpu/coord_forward.h, cuda/coord_forward.cuh). Layer l's GEMM reads the stacked
// block of a_{l-1} through w_prev_t and, with an input skip, the stacked block of x through
// w_skip_t (two GEMMs into one output instead of concatenating the blocks).
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <vector>

#include "network.h"

namespace specbias {
namespace coord_forward {

struct StackedLayer {
  at::Tensor w_prev_t;  // [width of a_{l-1}, out_l]: the transposed columns that read a_{l-1}
  at::Tensor w_skip_t;  // [E, out_l]: the transposed columns that read x; undefined without skip
  at::Tensor bias;      // [out_l] contiguous; undefined for a bias-free layer
  double slope = 0.0;   // negative slope of the activation (hidden layers; 0 = ReLU)
  bool residual = false;
  int64_t width() const { return w_prev_t.size(1); }
};

// Every layer, head included (index L). With `contiguous` the transposed weights are copied to
// contiguous [in, out] matrices (the CPU GEMMs prefer them); otherwise they stay transposed
// views, which cuBLAS reads in place.
inline std::vector<StackedLayer> stacked_layers(const Network& net, bool contiguous) {
  std::vector<StackedLayer> out(net.layers());
  for (size_t l = 0; l < net.layers(); ++l) {
    const at::Tensor& w = net.weights[l];
    const int64_t prev = net.prev_width(l);
    StackedLayer& layer = out[l];
    layer.w_prev_t = w.narrow(1, 0, prev).t();
    if (net.input_skip[l]) layer.w_skip_t = w.narrow(1, prev, w.size(1) - prev).t();
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

// Widest block any layer of the pass holds (the encoded input included), for chunk sizing.
inline int64_t widest_block(const Network& net, int64_t features) {
  int64_t widest = features;
  for (const at::Tensor& w : net.weights) widest = std::max<int64_t>(widest, w.size(0));
  return widest;
}

}  // namespace coord_forward
}  // namespace specbias
