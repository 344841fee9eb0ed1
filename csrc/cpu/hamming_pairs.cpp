// Hamming distances between index pairs of pattern rows on the CPU, optionally split into bit
// segments (e.g. the layers).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../common/bit_utils.h"
#include "../common/pattern_checks.h"
#include "tiling.h"

namespace specbias {
namespace {

using cpu::kPairGrain;

at::Tensor hamming_pairs_cpu(const at::Tensor& patterns_in, const at::Tensor& i_in,
                             const at::Tensor& j_in, at::OptionalIntArrayRef segments) {
  check_patterns(patterns_in);
  check_pair_indices(patterns_in, i_in, j_in);
  const int64_t words = patterns_in.size(1);
  if (segments.has_value()) check_segments(*segments, words);

  const at::Tensor patterns = patterns_in.contiguous();
  const at::Tensor i = i_in.contiguous();
  const at::Tensor j = j_in.contiguous();
  const int64_t pairs = i.size(0);
  const auto* rows = reinterpret_cast<const uint64_t*>(patterns.data_ptr<int64_t>());
  const int64_t* ip = i.data_ptr<int64_t>();
  const int64_t* jp = j.data_ptr<int64_t>();

  if (!segments.has_value()) {
    at::Tensor out = at::empty({pairs}, patterns.options());
    int64_t* o = out.data_ptr<int64_t>();
    at::parallel_for(0, pairs, kPairGrain, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        o[p] = xor_popcount_row(rows + ip[p] * words, rows + jp[p] * words, words);
      }
    });
    return out;
  }

  const std::vector<int64_t> bounds(segments->begin(), segments->end());
  const int64_t num_segments = static_cast<int64_t>(bounds.size()) - 1;
  at::Tensor out = at::empty({pairs, num_segments}, patterns.options());
  int64_t* o = out.data_ptr<int64_t>();
  at::parallel_for(0, pairs, kPairGrain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const uint64_t* a = rows + ip[p] * words;
      const uint64_t* b = rows + jp[p] * words;
      for (int64_t s = 0; s < num_segments; ++s) {
        o[p * num_segments + s] = xor_popcount_bits(a, b, bounds[s], bounds[s + 1]);
      }
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("hamming_pairs", &hamming_pairs_cpu); }

}  // namespace specbias
