// Region ids on the CPU: row hashes in parallel, then one pass over the rows with an
// open-addressing table (linear probing). Walking the rows in order makes the first appearance of
// a pattern its id, so ids are 0..R-1 by first appearance without any sort.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <tuple>
#include <vector>

#include "../common/bit_utils.h"
#include "../common/pattern_checks.h"
#include "tiling.h"

namespace specbias {
namespace {

using cpu::kHashGrain;

constexpr int64_t kPrefetchAhead = 16;

struct Slot {
  uint64_t hash;
  int64_t row;  // representative row (its first appearance), -1 if empty
  int64_t id;   // region id of that row, kept here to save a random read of ids
};

std::tuple<at::Tensor, at::Tensor> region_ids_cpu(const at::Tensor& patterns_in) {
  check_patterns(patterns_in);
  const at::Tensor patterns = patterns_in.contiguous();
  const int64_t n = patterns.size(0);
  const int64_t words = patterns.size(1);
  at::Tensor ids = at::empty({n}, patterns.options());
  if (n == 0) return {ids, at::empty({0}, patterns.options())};

  const auto* rows = reinterpret_cast<const uint64_t*>(patterns.data_ptr<int64_t>());
  std::vector<uint64_t> hashes(n);
  at::parallel_for(0, n, kHashGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) hashes[i] = row_hash(rows + i * words, words);
  });

  int64_t capacity = 2;
  while (capacity < 2 * n) capacity *= 2;  // load factor <= 1/2 keeps probe chains short
  const uint64_t mask = static_cast<uint64_t>(capacity - 1);
  std::vector<Slot> table(capacity, Slot{0, -1, -1});
  std::vector<int64_t> counts;
  int64_t* id_ptr = ids.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    // For big grids the table and the rows are far larger than the cache: fetch the slots of
    // rows well ahead, and the representative rows they point to (compared on a hash match)
    // half as far ahead, when those slots have arrived.
    if (i + kPrefetchAhead < n) __builtin_prefetch(&table[hashes[i + kPrefetchAhead] & mask]);
    if (i + kPrefetchAhead / 2 < n) {
      const Slot& ahead = table[hashes[i + kPrefetchAhead / 2] & mask];
      if (ahead.row >= 0) {
        const uint64_t* rep = rows + ahead.row * words;
        for (int64_t w = 0; w < words; w += 8) __builtin_prefetch(rep + w);
      }
    }
    const uint64_t h = hashes[i];
    const uint64_t* row = rows + i * words;
    for (uint64_t s = h & mask;; s = (s + 1) & mask) {
      Slot& slot = table[s];
      if (slot.row < 0) {
        slot = Slot{h, i, static_cast<int64_t>(counts.size())};
        id_ptr[i] = slot.id;
        counts.push_back(1);
        break;
      }
      if (slot.hash == h && rows_equal(rows + slot.row * words, row, words)) {
        id_ptr[i] = slot.id;
        ++counts[slot.id];
        break;
      }
    }
  }
  at::Tensor count_tensor = at::empty({static_cast<int64_t>(counts.size())}, patterns.options());
  std::copy(counts.begin(), counts.end(), count_tensor.data_ptr<int64_t>());
  return {ids, count_tensor};
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CPU, m) { m.impl("region_ids", &region_ids_cpu); }

}  // namespace specbias
