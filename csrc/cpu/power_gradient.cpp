// CPU backend of the generic power gradient and the softmax(N f) weights (power_gradient.hpp).
//
// Two passes over the small array of values and one over the gradients:
//   1. values: classify (NaN and +inf follow the NanPolicy), running max m and rescaled sum s (LseState::add);
//   2. gradients: u += exp(N f - m) * grad f (or (f == top) * grad f in lse.hpp's limit mode), threads owning disjoint column slices of u, so the result
//      is the same bits for any thread count and no per-thread copies of u are merged.
// Non-finite gradients are found after the fact: a NaN or inf anywhere in a read gradient makes some
// u_i non-finite, and only then are the pairs scanned, to raise naming the pair or to omit it and
// redo the reduction. Pairs with f = -inf have weight exactly 0 and their gradients are never read.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/kernels.hpp"
#include "backend.hpp"
#include "cpu/parallel.hpp"
#include "dtype_dispatch.hpp"

namespace HOMOTOPT_CPU_NS {
namespace {

std::string pair_name(std::int64_t p, const PairShape& shape, bool two_d) {
  if (!two_d) return detail::concat("k = ", p);
  return detail::concat("(k, j) = (", p / shape.J, ", ", p % shape.J, ")");
}

bool value_is_bad(double v) { return power_value_is_bad(v); }

// Pass 1. `excluded` (nullable) marks pairs already omitted for their gradients.
template <class T>
PowerState::Parts scan_values(const T* values, const PairShape& shape, bool two_d, double power,
                      NanPolicy policy, const std::uint8_t* excluded) {
  PowerState::Parts r;
  for (std::int64_t p = 0; p < shape.pairs; ++p) {
    if (excluded && excluded[p]) {
      ++r.omitted;
      continue;
    }
    const double v = static_cast<double>(values[p]);
    if (value_is_bad(v)) {
      HOMOTOPT_CHECK(policy == NanPolicy::omit, "values: non-finite value ", v, " at ",
                     pair_name(p, shape, two_d), " (nan_policy=\"omit\" gives such pairs weight 0)");
      ++r.omitted;
      continue;
    }
    ++r.count;
    r.lse.add(power_exponent(power, v), v);  // an overflowed N f: lse.hpp's limit rule
  }
  HOMOTOPT_CHECK(r.count > 0, "values: all ", shape.pairs,
                 " pairs are non-finite and were omitted; there is nothing to average");
  return r;
}

// The weight exp(N f - m) of pair p, or 0 for pairs that are omitted or have f = -inf.
template <class T>
inline double pair_weight(const T* values, std::int64_t p, double power, const LseState& lse,
                          const std::uint8_t* excluded) {
  if (excluded && excluded[p]) return 0.0;
  const double v = static_cast<double>(values[p]);
  if (value_is_bad(v)) return 0.0;
  const double a = power_exponent(power, v);
  return lse.weight(a);  // 0 for a = -inf
}

// The same in lse.hpp's limit mode (lse.limit()): 1 for the ties of lse.top, 0 otherwise.
template <class T>
inline double pair_limit_weight(const T* values, std::int64_t p, const LseState& lse,
                                const std::uint8_t* excluded) {
  if (excluded && excluded[p]) return 0.0;
  const double v = static_cast<double>(values[p]);
  return value_is_bad(v) ? 0.0 : lse.limit_weight(v);
}

// Whether pair p's gradient is read (it is unless omitted or f = -inf).
template <class T>
inline bool pair_is_read(const T* values, std::int64_t p, const std::uint8_t* excluded) {
  if (excluded && excluded[p]) return false;
  const double v = static_cast<double>(values[p]);
  return !value_is_bad(v) && v != -kInf;
}

// Pass 2: u += w_p * grads[p, :], columns split across threads.
template <class T>
void accumulate_grads(const T* values, const T* grads, const PairShape& shape, double power, const LseState& lse,
                      const std::uint8_t* excluded, double* u) {
  constexpr std::int64_t kGrain = 16;
  const std::int64_t d = shape.d;
  const int nt = threads_for(shape.pairs * d, (d + kGrain - 1) / kGrain);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::int64_t c0, c1;
    split_range(d, team_size(), thread_id(), kGrain, c0, c1);
    double* HOMOTOPT_RESTRICT uu = u;
    for (std::int64_t p = 0; p < shape.pairs; ++p) {
      if (!pair_is_read(values, p, excluded)) continue;
      const double w = pair_weight(values, p, power, lse, excluded);
      const T* HOMOTOPT_RESTRICT g = grads + p * d;
      for (std::int64_t c = c0; c < c1; ++c) uu[c] += w * static_cast<double>(g[c]);
    }
  }
}

// Pass 2 in lse.hpp's limit mode, off the hot path: u += grads[p, :] over the ties of lse.top.
template <class T>
void accumulate_limit_grads(const T* values, const T* grads, const PairShape& shape, const LseState& lse,
                            const std::uint8_t* excluded, double* u) {
  for (std::int64_t p = 0; p < shape.pairs; ++p) {
    if (pair_limit_weight(values, p, lse, excluded) == 0.0) continue;
    const T* g = grads + p * shape.d;
    for (std::int64_t c = 0; c < shape.d; ++c) u[c] += static_cast<double>(g[c]);
  }
}

bool all_finite(const double* u, std::int64_t d) {
  for (std::int64_t c = 0; c < d; ++c)
    if (!std::isfinite(u[c])) return false;
  return true;
}

// Marks the read pairs with a non-finite gradient (or raises naming the first, under NanPolicy::raise).
template <class T>
std::vector<std::uint8_t> find_bad_grads(const T* values, const T* grads, const PairShape& shape,
                                         bool two_d, NanPolicy policy) {
  std::vector<std::uint8_t> bad(static_cast<std::size_t>(shape.pairs), 0);
  bool any = false;
  for (std::int64_t p = 0; p < shape.pairs; ++p) {
    if (!pair_is_read(values, p, nullptr)) continue;
    const T* g = grads + p * shape.d;
    for (std::int64_t c = 0; c < shape.d; ++c) {
      if (std::isfinite(static_cast<double>(g[c]))) continue;
      HOMOTOPT_CHECK(policy == NanPolicy::omit, "grads: non-finite gradient ", static_cast<double>(g[c]),
                     " at ", pair_name(p, shape, two_d), ", element ", c,
                     " (nan_policy=\"omit\" gives such pairs weight 0)");
      bad[static_cast<std::size_t>(p)] = 1;
      any = true;
      break;
    }
  }
  HOMOTOPT_CHECK(any, "grads: the weighted sum of gradients overflows float64 (finite gradients near "
                      "the largest double)");
  return bad;
}

template <class T>
void reduce_power_typed(const ArrayView& values_view, const ArrayView& grads_view, const PairShape& shape,
                        double power, NanPolicy policy, PowerState::Parts& parts, double* u) {
  const T* values = values_view.ptr<const T>();
  const T* grads = grads_view.ptr<const T>();
  const bool two_d = values_view.ndim == 2;
  auto reduce = [&](const std::uint8_t* excluded) {
    const PowerState::Parts scan = scan_values(values, shape, two_d, power, policy, excluded);
    std::fill(u, u + shape.d, 0.0);
    if (scan.lse.limit())
      accumulate_limit_grads(values, grads, shape, scan.lse, excluded, u);
    else
      accumulate_grads(values, grads, shape, power, scan.lse, excluded, u);
    return scan;
  };
  PowerState::Parts scan = reduce(nullptr);
  if (!all_finite(u, shape.d)) {
    const std::vector<std::uint8_t> bad = find_bad_grads(values, grads, shape, two_d, policy);
    scan = reduce(bad.data());
    HOMOTOPT_CHECK(all_finite(u, shape.d), "grads: the weighted sum of gradients overflows float64");
  }
  parts = scan;
}

template <class T>
PowerWeightsStats power_weights_typed(const ArrayView& values_view, double power, NanPolicy policy,
                                      const ArrayView& weights_view) {
  const T* values = values_view.ptr<const T>();
  T* weights = weights_view.ptr<T>();
  const PairShape shape{values_view.numel(), values_view.ndim == 2 ? values_view.shape[1] : 1, 0};
  const PowerState::Parts scan = scan_values(values, shape, values_view.ndim == 2, power, policy, nullptr);
  // All weights 0 (every f = -inf) leaves softmax undefined; it is defined as all zeros, like the
  // direction of power_gradient.
  const double inv_s = scan.lse.s > 0.0 ? 1.0 / scan.lse.s : 0.0;
  if (scan.lse.limit()) {
    for (std::int64_t p = 0; p < shape.pairs; ++p)
      weights[p] = static_cast<T>(pair_limit_weight(values, p, scan.lse, nullptr) * inv_s);
  } else {
    for (std::int64_t p = 0; p < shape.pairs; ++p)
      weights[p] = static_cast<T>(pair_weight(values, p, power, scan.lse, nullptr) * inv_s);
  }
  return {scan.lse.s > 0.0 ? scan.lse.m + std::log(scan.lse.s) : -kInf, scan.count, scan.omitted};
}

}  // namespace

void reduce_power(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                  NanPolicy policy, PowerState::Parts& parts, double* u) {
  visit_float(values.dtype, [&](auto t) {
    reduce_power_typed<decltype(t)>(values, grads, shape, power, policy, parts, u);
  });
}

PowerWeightsStats power_weights(const ArrayView& values, double power, NanPolicy policy,
                                const ArrayView& weights) {
  return visit_float(values.dtype, [&](auto t) {
    return power_weights_typed<decltype(t)>(values, power, policy, weights);
  });
}

}  // namespace HOMOTOPT_CPU_NS
