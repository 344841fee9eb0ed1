// Per-bit population counts over the rows of packed patterns, on the CPU.
//
// Byte-lane counting: for word column w and shift b in 0..7, acc[w][b] += (word >> b) & 0x0101..01
// adds bit 8k + b of the word to byte k of the accumulator. Eight shift-and-adds per word, no
// branches; the byte counters are flushed into int64 counts every 255 rows, before they overflow.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../common/pattern_checks.h"

namespace specbias {
namespace {

constexpr int64_t kFlushRows = 255;    // a byte counter holds at most 255
constexpr int64_t kChunkRows = 16 * kFlushRows;
constexpr uint64_t kLowBitOfEachByte = 0x0101010101010101ull;

void flush(std::vector<uint64_t>& acc, int64_t used_words, int64_t* counts) {
  for (int64_t w = 0; w < used_words; ++w) {
    for (int b = 0; b < 8; ++b) {
      const uint64_t lanes = acc[w * 8 + b];
      for (int k = 0; k < 8; ++k) counts[w * 64 + 8 * k + b] += (lanes >> (8 * k)) & 0xff;
      acc[w * 8 + b] = 0;
    }
  }
}

// Adds the bit counts of rows [r0, r1) (only the first used_words words) to counts.
void count_rows(const uint64_t* rows, int64_t r0, int64_t r1, int64_t words, int64_t used_words,
                std::vector<uint64_t>& acc, int64_t* counts) {
  for (int64_t f0 = r0; f0 < r1; f0 += kFlushRows) {
    const int64_t f1 = std::min(r1, f0 + kFlushRows);
    for (int64_t r = f0; r < f1; ++r) {
      const uint64_t* row = rows + r * words;
      for (int64_t w = 0; w < used_words; ++w) {
        const uint64_t x = row[w];
        uint64_t* a = acc.data() + w * 8;
        for (int b = 0; b < 8; ++b) a[b] += (x >> b) & kLowBitOfEachByte;
      }
    }
    flush(acc, used_words, counts);
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
  const int64_t used_words = (num_bits + 63) / 64;
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
  at::Tensor partial = at::zeros({chunks, used_words * 64}, patterns.options());
  int64_t* part = partial.data_ptr<int64_t>();
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    std::vector<uint64_t> acc(used_words * 8, 0);
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t r0 = c * kChunkRows;
      count_rows(rows, r0, std::min(n, r0 + kChunkRows), words, used_words, acc,
                 part + c * used_words * 64);
    }
  });
  return partial.sum(0).narrow(0, 0, num_bits).contiguous();
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("bit_counts", &bit_counts_cpu); }

}  // namespace specbias
