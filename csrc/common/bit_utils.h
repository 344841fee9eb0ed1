// Bit tricks on packed pattern rows shared by the CPU and CUDA kernels of the region ops.
// Rows are arrays of `words` uint64 (the int64 words of activation_patterns, read as unsigned).
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define SPECBIAS_HD __host__ __device__ __forceinline__
#else
#define SPECBIAS_HD inline
#endif

namespace specbias {

// Words of a packed row holding `bits` pattern bits: ceil(bits / 64).
SPECBIAS_HD constexpr int64_t words_for_bits(int64_t bits) { return (bits + 63) / 64; }

SPECBIAS_HD int64_t popcount64(uint64_t x) {
#ifdef __CUDA_ARCH__
  return __popcll(x);
#else
  // SWAR popcount: portable (no -mpopcnt needed) and branch-free.
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return static_cast<int64_t>((x * 0x0101010101010101ull) >> 56);
#endif
}

// Hamming distance between rows a and b restricted to bits [lo, hi).
SPECBIAS_HD int64_t xor_popcount_bits(const uint64_t* a, const uint64_t* b, int64_t lo,
                                      int64_t hi) {
  if (lo >= hi) return 0;
  const int64_t w0 = lo >> 6;
  const int64_t w1 = (hi - 1) >> 6;
  int64_t count = 0;
  for (int64_t w = w0; w <= w1; ++w) {
    uint64_t x = a[w] ^ b[w];
    if (w == w0) x &= ~uint64_t(0) << (lo & 63);
    if (w == w1 && (hi & 63) != 0) x &= (uint64_t(1) << (hi & 63)) - 1;
    count += popcount64(x);
  }
  return count;
}

// Hamming distance between whole rows.
SPECBIAS_HD int64_t xor_popcount_row(const uint64_t* a, const uint64_t* b, int64_t words) {
  int64_t count = 0;
  for (int64_t w = 0; w < words; ++w) count += popcount64(a[w] ^ b[w]);
  return count;
}

SPECBIAS_HD bool rows_equal(const uint64_t* a, const uint64_t* b, int64_t words) {
  for (int64_t w = 0; w < words; ++w) {
    if (a[w] != b[w]) return false;
  }
  return true;
}

// 64-bit finaliser (splitmix64): spreads every input bit over the low bits used for probing.
SPECBIAS_HD uint64_t mix64(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

// Hash of a row for the region tables. Equal rows hash equal; collisions only cost a row
// comparison, never a wrong id.
// Four independent multiply chains over words 4q, 4q+1, 4q+2, 4q+3 (a single chain would be
// bound by the multiply latency), merged at the end.
SPECBIAS_HD uint64_t row_hash(const uint64_t* row, int64_t words) {
  uint64_t h[4] = {0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(words), 0x243f6a8885a308d3ull,
                   0x13198a2e03707344ull, 0xa4093822299f31d0ull};
  int64_t w = 0;
  for (; w + 4 <= words; w += 4) {
    for (int q = 0; q < 4; ++q) {
      h[q] = (h[q] ^ row[w + q]) * 0xff51afd7ed558ccdull;
      h[q] ^= h[q] >> 32;
    }
  }
  for (int q = 0; w < words; ++w, ++q) {
    h[q] = (h[q] ^ row[w]) * 0xff51afd7ed558ccdull;
    h[q] ^= h[q] >> 32;
  }
  return mix64(h[0] ^ mix64(h[1] ^ mix64(h[2] ^ mix64(h[3]))));
}

}  // namespace specbias
