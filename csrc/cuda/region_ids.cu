// Region ids on the GPU, linear in N * words and identical to the CPU result:
//   1. hash every row;
//   2. insert rows into an open-addressing table (linear probing): atomicCAS claims an empty slot
//      with the row's index, a row that meets an occupied slot compares full rows, so all equal
//      rows end in the same slot; atomicMin records each slot's first row;
//   3. flag the rows that are their group's first row, and an inclusive scan numbers the groups
//      in order of first appearance;
//   4. every row takes its group's number; counts by atomicAdd.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <tuple>

#include "../common/bit_utils.h"
#include "../common/pattern_checks.h"
#include "tiling.cuh"

namespace specbias {
namespace {

using cuda::kThreads;
constexpr unsigned long long kEmpty = ~0ull;  // int64 -1: also the identity of atomicMin

int64_t blocks_for(int64_t n) { return (n + kThreads - 1) / kThreads; }

__global__ void hash_rows_kernel(const uint64_t* __restrict__ rows, int64_t n, int64_t words,
                                 uint64_t* __restrict__ hashes) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) hashes[i] = row_hash(rows + i * words, words);
}

__global__ void insert_rows_kernel(const uint64_t* __restrict__ rows, int64_t n, int64_t words,
                                   const uint64_t* __restrict__ hashes,
                                   unsigned long long* table, unsigned long long* first,
                                   uint64_t mask, int64_t* __restrict__ slot_of) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const uint64_t h = hashes[i];
  const uint64_t* row = rows + i * words;
  uint64_t s = h & mask;
  while (true) {
    const unsigned long long cur = atomicCAS(table + s, kEmpty, static_cast<unsigned long long>(i));
    if (cur == kEmpty) break;
    if (hashes[cur] == h && rows_equal(rows + cur * words, row, words)) break;
    s = (s + 1) & mask;
  }
  slot_of[i] = static_cast<int64_t>(s);
  atomicMin(first + s, static_cast<unsigned long long>(i));
}

__global__ void flag_first_kernel(const int64_t* __restrict__ slot_of,
                                  const int64_t* __restrict__ first, int64_t n,
                                  int64_t* __restrict__ is_first) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) is_first[i] = first[slot_of[i]] == i ? 1 : 0;
}

__global__ void assign_ids_kernel(const int64_t* __restrict__ slot_of,
                                  const int64_t* __restrict__ first,
                                  const int64_t* __restrict__ group_rank, int64_t n,
                                  int64_t* __restrict__ ids, unsigned long long* counts) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int64_t id = group_rank[first[slot_of[i]]] - 1;  // inclusive scan -> 0-based
  ids[i] = id;
  atomicAdd(counts + id, 1ull);
}

std::tuple<at::Tensor, at::Tensor> region_ids_cuda(const at::Tensor& patterns_in) {
  check_patterns(patterns_in);
  const c10::cuda::CUDAGuard guard(patterns_in.device());
  const at::Tensor patterns = patterns_in.contiguous();
  const int64_t n = patterns.size(0);
  const int64_t words = patterns.size(1);
  const auto opts = patterns.options();
  at::Tensor ids = at::empty({n}, opts);
  if (n == 0) return {ids, at::empty({0}, opts)};

  int64_t capacity = 2;
  while (capacity < 2 * n) capacity *= 2;
  const auto* rows = reinterpret_cast<const uint64_t*>(patterns.data_ptr<int64_t>());
  at::Tensor hashes = at::empty({n}, opts);
  at::Tensor table = at::full({capacity}, -1, opts);
  at::Tensor first = at::full({capacity}, -1, opts);
  at::Tensor slot_of = at::empty({n}, opts);
  auto* hash_ptr = reinterpret_cast<uint64_t*>(hashes.data_ptr<int64_t>());
  auto stream = at::cuda::getCurrentCUDAStream();
  const auto blocks = blocks_for(n);

  hash_rows_kernel<<<blocks, kThreads, 0, stream>>>(rows, n, words, hash_ptr);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  insert_rows_kernel<<<blocks, kThreads, 0, stream>>>(
      rows, n, words, hash_ptr,
      reinterpret_cast<unsigned long long*>(table.data_ptr<int64_t>()),
      reinterpret_cast<unsigned long long*>(first.data_ptr<int64_t>()),
      static_cast<uint64_t>(capacity - 1), slot_of.data_ptr<int64_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();

  at::Tensor group_rank = at::empty({n}, opts);
  flag_first_kernel<<<blocks, kThreads, 0, stream>>>(
      slot_of.data_ptr<int64_t>(), first.data_ptr<int64_t>(), n, group_rank.data_ptr<int64_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  group_rank.cumsum_(0);
  const int64_t num_regions = group_rank[n - 1].item<int64_t>();

  at::Tensor counts = at::zeros({num_regions}, opts);
  assign_ids_kernel<<<blocks, kThreads, 0, stream>>>(
      slot_of.data_ptr<int64_t>(), first.data_ptr<int64_t>(), group_rank.data_ptr<int64_t>(), n,
      ids.data_ptr<int64_t>(), reinterpret_cast<unsigned long long*>(counts.data_ptr<int64_t>()));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {ids, counts};
}

}  // namespace

TORCH_LIBRARY_IMPL(specbias, CUDA, m) { m.impl("region_ids", &region_ids_cuda); }

}  // namespace specbias
