// Packed activation patterns on the CPU: the forward pass runs in tiles of points (one tile per
// task of at::parallel_for), so peak memory is the output plus two tile buffers per thread.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>

#include "../common/mlp_checks.h"

namespace specbias {
namespace {

constexpr int64_t kTileRows = 256;

// Sets the pattern bits of one layer's pre-activations z [rows, width] (bit offset `bit0` in the
// row) and applies the ReLU in place, so z becomes the next layer's input. Branch-free: the sign
// of z is close to a coin flip, so a branch per element would mispredict half the time.
template <typename scalar_t>
void pack_and_relu(scalar_t* z, int64_t rows, int64_t width, int64_t bit0, int64_t* out,
                   int64_t words) {
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
    for (int64_t k = 0; k < width; ++k) zr[k] = zr[k] > scalar_t(0) ? zr[k] : scalar_t(0);
  }
}

at::Tensor activation_patterns_cpu(const at::Tensor& x_in, at::TensorList weights,
                                   at::TensorList biases) {
  check_mlp_inputs(x_in, weights, biases);
  const at::Tensor x = x_in.contiguous();
  const int64_t n = x.size(0);
  const int64_t words = words_for_bits(total_hidden(weights));
  at::Tensor out = at::zeros({n, words}, x.options().dtype(at::kLong));
  if (n == 0 || words == 0) return out;

  const size_t hidden_layers = weights.size() - 1;
  std::vector<at::Tensor> wt, b;
  int64_t max_width = 1;
  for (size_t l = 0; l < hidden_layers; ++l) {
    wt.push_back(weights[l].t().contiguous());
    b.push_back(biases[l].contiguous());
    max_width = std::max(max_width, weights[l].size(0));
  }
  int64_t* out_ptr = out.data_ptr<int64_t>();
  const int64_t tiles = (n + kTileRows - 1) / kTileRows;

  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "activation_patterns_cpu", [&] {
    at::parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
      // Two ping-pong buffers per task: layer l reads one and writes the other.
      at::Tensor buffers[2] = {at::empty({kTileRows * max_width}, x.options()),
                               at::empty({kTileRows * max_width}, x.options())};
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t r0 = t * kTileRows;
        const int64_t rows = std::min(kTileRows, n - r0);
        at::Tensor a = x.narrow(0, r0, rows);
        int64_t bit0 = 0;
        for (size_t l = 0; l < hidden_layers; ++l) {
          const int64_t width = wt[l].size(1);
          at::Tensor z = buffers[l % 2].narrow(0, 0, rows * width).view({rows, width});
          at::addmm_out(z, b[l], a, wt[l]);
          pack_and_relu<scalar_t>(z.data_ptr<scalar_t>(), rows, width, bit0,
                                  out_ptr + r0 * words, words);
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
