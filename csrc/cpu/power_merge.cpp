// CPU backend of power_merge.hpp: one thread, two passes over the J values (J is a batch, small next to
// the model); the math is the header's (lse.hpp), shared with the CUDA kernel, the same bits.
#include <cstdint>
#include <vector>

#include "cpu/kernels.hpp"
#include "homotopt/power_merge.hpp"

namespace HOMOTOPT_CPU_NS {
namespace {

template <class T>
void merge_sample(const PowerMergeArgs& p, const std::vector<std::int32_t>& rows) {
  double mb = -kInf, top = -kInf, n = 0.0;
  for (std::int64_t j = 0; j < p.J; ++j) {
    const double a = power_merge_exponent<T>(p, j), v = power_merge_top_value<T>(p, j);
    mb = a > mb ? a : mb;
    top = v > top ? v : top;
    n += power_merge_count_of<T>(p, j);
  }
  bool limit = false, counts = false;
  LseState k = power_merge_sample_state(mb, top, limit, counts);
  T* w = static_cast<T*>(p.weights);
  // w_j is formed twice (for s_k, then times b into f's dtype): no float64 scratch of J.
  for (std::int64_t j = 0; j < p.J; ++j) k.s += power_merge_weight<T>(p, k, limit, counts, j);
  const double b = power_merge_rows(p, rows.data(), static_cast<std::int32_t>(rows.size()), k, n);
  for (std::int64_t j = 0; j < p.J; ++j)
    w[j] = static_cast<T>(p.sign * b * power_merge_weight<T>(p, k, limit, counts, j));
}

}  // namespace

void power_merge_sample(const PowerMergeArgs& args, const std::vector<std::int32_t>& rows) {
  if (args.dtype == DType::float32) merge_sample<float>(args, rows);
  else merge_sample<double>(args, rows);
}

void power_merge_ranks(const PowerMergeRanksArgs& args) {
  for (std::int64_t g = 0; g < args.groups; ++g) power_merge_ranks_group(args, g);
}

void power_step(const PowerStepArgs& args, const std::vector<double>& powers, const std::vector<double>& alphas) {
  const bool found = args.found != nullptr && *args.found != 0;
  for (std::int64_t g = 0; g < args.groups; ++g) {
    const double norm = args.norms != nullptr ? args.norms[g] : 0.0;
    args.coefficients[2 * g] = 1.0;
    args.coefficients[2 * g + 1] =
        found ? 0.0 : power_step_factor(args.rule, powers[g], alphas[g], args.state + 4 * g, norm);
  }
}

}  // namespace HOMOTOPT_CPU_NS
