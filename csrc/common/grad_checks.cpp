#include "grad_checks.h"

#include "index_checks.h"

namespace specbias {

namespace {
// Memory per region of region_grad_norms (two float64 outputs, their dtype copies, sort offsets).
constexpr int64_t kBytesPerRegion = 48;
constexpr int64_t kRegionMemoryBytes = int64_t(1) << 30;
}  // namespace

void check_grad_out(const at::Tensor& grad_out, const at::Tensor& x, const Network& net) {
  const int64_t out_dim = net.weights.back().size(0);
  TORCH_CHECK(grad_out.dim() == 2, "grad_out: expected a 2-D tensor [N, out] = [", x.size(0),
              ", ", out_dim, "], got ", grad_out.dim(), " dimensions");
  TORCH_CHECK(grad_out.size(0) == x.size(0) && grad_out.size(1) == out_dim,
              "grad_out: expected shape [N, out] = [", x.size(0), ", ", out_dim,
              "] (x.shape[0], weights[-1].shape[0]), got ", grad_out.sizes());
  TORCH_CHECK(grad_out.scalar_type() == x.scalar_type(), "grad_out: expected dtype ",
              x.scalar_type(), " (the dtype of x), got ", grad_out.scalar_type());
  TORCH_CHECK(grad_out.device() == x.device(), "grad_out: expected device ", x.device(),
              " (the device of x), got ", grad_out.device());
}

void check_region_ids(const at::Tensor& ids, int64_t num_regions, const at::Tensor& x) {
  TORCH_CHECK(num_regions >= 0, "num_regions: expected a count >= 0, got ", num_regions);
  // N points fill at most N regions; more (empty) ones are fine while their outputs and sort
  // buckets stay small (a shard of a larger grid passes the grid's count), not otherwise.
  const int64_t n_bound = std::max<int64_t>(x.size(0), 1);
  const int64_t memory_bound = kRegionMemoryBytes / kBytesPerRegion;
  TORCH_CHECK(num_regions <= std::max(n_bound, memory_bound),
              "num_regions: expected at most max(N, 1) = ", n_bound,
              " (N = x.shape[0] points fill no more regions), or empty regions costing at most ",
              kRegionMemoryBytes >> 20, " MiB (", memory_bound,
              " regions); got ", num_regions, ". Pass the number of distinct patterns, e.g. "
              "counts.numel() from region_ids");
  TORCH_CHECK(ids.dim() == 1, "ids: expected a 1-D tensor [N] of region ids, got ", ids.dim(),
              " dimensions");
  TORCH_CHECK(ids.scalar_type() == at::kLong, "ids: expected int64 region ids (from region_ids), got ",
              ids.scalar_type());
  TORCH_CHECK(ids.device() == x.device(), "ids: expected device ", x.device(),
              " (the device of x), got ", ids.device());
  TORCH_CHECK(ids.size(0) == x.size(0), "ids: expected one id per point of x (", x.size(0),
              "), got ", ids.size(0));
  if (ids.numel() > 0) {
    const int64_t mn = ids.min().item<int64_t>();
    const int64_t mx = ids.max().item<int64_t>();
    TORCH_CHECK(mn >= 0, "ids: expected region ids >= 0, got ", mn);
    TORCH_CHECK(mx < num_regions, "num_regions: expected more than the largest id (", mx,
                "), i.e. num_regions >= ", mx + 1, ", got ", num_regions);
  }
}

void check_grad_op_inputs(const at::Tensor& x, const Network& net, const at::Tensor& grad_out) {
  check_network_structure(x, net);
  check_grad_out(grad_out, x, net);
  check_network_finite(x, net, {{"grad_out", grad_out}});
}

void check_grad_dots_inputs(const at::Tensor& x, const Network& net, const at::Tensor& grad_out,
                            const at::Tensor& i, const at::Tensor& j) {
  check_grad_op_inputs(x, net, grad_out);
  check_indices(i, "i", x.size(0), x.device());
  check_indices(j, "j", x.size(0), x.device());
  TORCH_CHECK(i.size(0) == j.size(0), "j: expected as many indices as i (", i.size(0), "), got ",
              j.size(0));
}

void check_grad_gram_inputs(const at::Tensor& x, const Network& net, const at::Tensor& grad_out,
                            const std::optional<at::Tensor>& rows,
                            const std::optional<at::Tensor>& cols) {
  check_grad_op_inputs(x, net, grad_out);
  if (rows.has_value()) check_indices(*rows, "rows", x.size(0), x.device());
  if (cols.has_value()) check_indices(*cols, "cols", x.size(0), x.device());
}

void check_region_grad_norms_inputs(const at::Tensor& x, const Network& net,
                                    const at::Tensor& grad_out, const at::Tensor& ids,
                                    int64_t num_regions) {
  check_grad_op_inputs(x, net, grad_out);
  check_region_ids(ids, num_regions, x);
}

}  // namespace specbias
