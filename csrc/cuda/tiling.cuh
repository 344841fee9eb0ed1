// How the CUDA kernels split their work: launch shapes, chunk and tile sizes, in one place.
// The network ops walk the points in chunks whose working set (activations, stacked values and
// tangents, or gradient features) stays near kChunkBytes, so memory is bounded whatever N.
#pragma once

#include <algorithm>
#include <cstdint>

namespace specbias {
namespace cuda {

constexpr int kWarp = 32;
// Kernels with one warp per row (or pair, or point): kWarpsPerBlock warps per block.
constexpr int kWarpsPerBlock = 8;
// Kernels with one thread per element.
constexpr int kThreads = 256;

// Working set of one chunk of points, and the fewest rows a chunk has (so that narrow layers
// still get GEMMs large enough to fill the GPU).
constexpr int64_t kChunkBytes = int64_t(256) << 20;
constexpr int64_t kMinChunkRows = 1024;

// Rows per chunk for a pass holding `bytes_per_row` bytes per point.
inline int64_t chunk_rows(int64_t bytes_per_row) {
  return std::max<int64_t>(kMinChunkRows, kChunkBytes / bytes_per_row);
}

// Output tile of grad_gram (kGramTile x kGramTile entries per pair of GEMMs).
constexpr int64_t kGramTile = 4096;
// bit_counts: rows per block slice, and at most this many slices.
constexpr int64_t kBitCountSliceRows = 512;
constexpr int64_t kBitCountMaxSlices = 4096;

}  // namespace cuda
}  // namespace specbias
