// How the CPU kernels split their work: the tile, block and grain sizes, in one place.
// A forward (and backward) pass runs in tiles of kTileRows points, one tile per at::parallel_for
// task, so the per-thread buffers of a tile (a few layers of kTileRows x width) stay in cache.
#pragma once

#include <cstdint>

namespace specbias {
namespace cpu {

// Points per tile of every network pass (patterns, gradient features, geometry).
constexpr int64_t kTileRows = 256;
// Output tile of grad_gram: kGramTile x kGramTile entries per task.
constexpr int64_t kGramTile = 256;
// Pairs of grad_dots per block (their distinct points' features live at once: O(block * width)),
// and pairs per task when the block's products are reduced.
constexpr int64_t kPairBlock = 16384;
constexpr int64_t kGradPairGrain = 256;
// Points per work item of region_grad_norms (whole regions; a larger region is cut into
// sub-chunks of this size).
constexpr int64_t kRegionItemRows = 1024;
// at::parallel_for grains of the pattern kernels (rows, pairs, neighbour elements).
constexpr int64_t kHashGrain = 2048;
constexpr int64_t kPairGrain = 4096;
constexpr int64_t kNeighborGrain = 4096;

}  // namespace cpu
}  // namespace specbias
