// Per-bit population counts over the rows of packed patterns, on the CPU.
//
// Each task counts a chunk of rows with bit-sliced counters: for every word column, K uint64
// "planes" hold a K-bit binary counter per bit position, and adding a row's word is a ripple-carry
// over the planes (about two steps on average). That touches each input word a couple of times
// instead of 64; the planes are unpacked into per-bit counts once per chunk.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../common/mlp_checks.h"
#include "../common/pattern_checks.h"

namespace specbias {
namespace {

constexpr int kPlanes = 13;                   // counters up to 2^13 - 1
constexpr int64_t kChunkRows = 4096;          // < 2^kPlanes, so a chunk never overflows

void count_chunk(const uint64_t* rows, int64_t r0, int64_t r1, int64_t words,
                 std::vector<uint64_t>& planes, int64_t* counts) {
  std::fill(planes.begin(), planes.end(), 0);
  for (int64_t r = r0; r < r1; ++r) {
    const uint64_t* row = rows + r * words;
    for (int64_t w = 0; w < words; ++w) {
      uint64_t carry = row[w];
      uint64_t* plane = planes.data() + w * kPlanes;
      for (int k = 0; carry != 0 && k < kPlanes; ++k) {
        const uint64_t next = plane[k] & carry;
        plane[k] ^= carry;
        carry = next;
      }
    }
  }
  for (int64_t w = 0; w < words; ++w) {
    const uint64_t* plane = planes.data() + w * kPlanes;
    for (int b = 0; b < 64; ++b) {
      int64_t c = 0;
      for (int k = 0; k < kPlanes; ++k) c |= static_cast<int64_t>((plane[k] >> b) & 1) << k;
      counts[w * 64 + b] = c;
    }
  }
}

at::Tensor bit_counts_cpu(const at::Tensor& patterns_in, int64_t num_bits) {
  check_patterns(patterns_in);
  const int64_t words = patterns_in.size(1);
  check_num_bits(num_bits, words);
  const at::Tensor patterns = patterns_in.contiguous();
  const int64_t n = patterns.size(0);
  if (n == 0 || num_bits == 0) return at::zeros({num_bits}, patterns.options());

  const auto* rows = reinterpret_cast<const uint64_t*>(patterns.data_ptr<int64_t>());
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
  at::Tensor partial = at::empty({chunks, words * 64}, patterns.options());
  int64_t* part = partial.data_ptr<int64_t>();
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    std::vector<uint64_t> planes(words * kPlanes);
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t r0 = c * kChunkRows;
      count_chunk(rows, r0, std::min(n, r0 + kChunkRows), words, planes, part + c * words * 64);
    }
  });
  return partial.sum(0).narrow(0, 0, num_bits).contiguous();
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("bit_counts", &bit_counts_cpu); }

}  // namespace specbias
