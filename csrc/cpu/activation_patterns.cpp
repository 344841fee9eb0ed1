// Packed activation patterns on the CPU: the forward pass runs in tiles of points (one tile per
// task of at::parallel_for), so peak memory is the output plus two tile buffers per thread.
// A layer with an input skip reads [a_{l-1}, x] as two GEMMs (a_{l-1} W^a^T + x W^x^T), so the
// concatenation is never formed.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>

#include "../common/bit_utils.h"
#include "../common/layer_plan.h"
#include "../common/network.h"
#include "activation.h"
#include "tiling.h"

namespace specbias {
namespace {

using cpu::kTileRows;

// Sets the pattern bits of one layer's pre-activations z [rows, width] (bit offset `bit0` in the
// row) and applies the activation in place (ReLU for slope 0, else LeakyReLU), so z becomes the
// layer's activation. Branch-free: the sign of z is close to a coin flip, so a branch per
// element would mispredict half the time.
template <typename scalar_t, bool kLeaky>
void pack_and_activate(scalar_t* z, int64_t rows, int64_t width, int64_t bit0, int64_t* out,
                       int64_t words, scalar_t slope) {
  for (int64_t r = 0; r < rows; ++r) {
    scalar_t* zr = z + r * width;
    uint64_t* outr = reinterpret_cast<uint64_t*>(out + r * words);
    for (int64_t k = 0; k < width;) {
      const int64_t bit = bit0 + k;
      const int64_t offset = bit & 63;
      const int64_t take = std::min<int64_t>(64 - offset, width - k);
      uint64_t mask = 0;
      for (int64_t t = 0; t < take; ++t) mask |= uint64_t(zr[k + t] > scalar_t(0)) << t;
      outr[bit >> 6] |= mask << offset;
      k += take;
    }
    cpu::activate_in_place<scalar_t, kLeaky>(zr, width, slope);
  }
}

at::Tensor activation_patterns_cpu(const at::Tensor& x_in, at::TensorList weights,
                                   const BiasList& biases, SlopeList slopes,
                                   const FlagList& input_skip, const FlagList& residual,
                                   ColumnList skip_columns) {
  const at::NoGradGuard no_grad;  // live nn.Parameters may come in; the ops record no graph
  const Network net = make_network(weights, biases, slopes, input_skip, residual, skip_columns);
  check_network_inputs(x_in, net);
  const at::Tensor x = x_in.contiguous();
  const int64_t n = x.size(0);
  const int64_t words = words_for_bits(net.total_hidden());
  at::Tensor out = at::zeros({n, words}, x.options().dtype(at::kLong));
  if (n == 0 || words == 0) return out;

  const size_t hidden_layers = net.hidden_layers();
  const std::vector<LayerPlan> plan = layer_plan(net, /*contiguous=*/true);
  const int64_t max_width = widest_hidden(plan);
  int64_t* out_ptr = out.data_ptr<int64_t>();
  const int64_t tiles = (n + kTileRows - 1) / kTileRows;

  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "activation_patterns_cpu", [&] {
    at::parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
      const at::NoGradGuard no_grad;  // grad mode is thread-local: set it in each worker
      // Two ping-pong buffers per task: layer l reads one and writes the other.
      at::Tensor buffers[2] = {at::empty({kTileRows * max_width}, x.options()),
                               at::empty({kTileRows * max_width}, x.options())};
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t r0 = t * kTileRows;
        const int64_t rows = std::min(kTileRows, n - r0);
        const at::Tensor x_tile = x.narrow(0, r0, rows);
        at::Tensor a = x_tile;
        int64_t bit0 = 0;
        for (size_t l = 0; l < hidden_layers; ++l) {
          const LayerPlan& h = plan[l];
          const int64_t width = h.width();
          at::Tensor z = buffers[l % 2].narrow(0, 0, rows * width).view({rows, width});
          if (h.has_bias()) {
            at::addmm_out(z, h.bias, a, h.w_prev_t);
          } else {
            at::mm_out(z, a, h.w_prev_t);
          }
          if (h.has_skip()) z.addmm_(h.skip_input(x_tile), h.w_skip_t);
          scalar_t* zp = z.data_ptr<scalar_t>();
          if (h.slope == 0.0) {
            pack_and_activate<scalar_t, false>(zp, rows, width, bit0, out_ptr + r0 * words,
                                               words, scalar_t(0));
          } else {
            pack_and_activate<scalar_t, true>(zp, rows, width, bit0, out_ptr + r0 * words,
                                              words, static_cast<scalar_t>(h.slope));
          }
          if (h.residual) z.add_(a);
          bit0 += width;
          a = z;
        }
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("activation_patterns", &activation_patterns_cpu); }

}  // namespace specbias
