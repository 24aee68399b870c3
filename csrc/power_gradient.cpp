// Front end of the power gradient (power_gradient.hpp): the checks of values, grads, power and the
// outputs, once; PowerState, the host-side (m, s, u) state of lse.hpp with its merge and its result.
// Backends reduce chunks into fresh parts; this file only checks, combines and finalizes them.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "dtype_dispatch.hpp"
#include "front_end.hpp"

namespace homotopt {
using namespace front_end;

namespace {

PairShape check_power_inputs(const ArrayView& values, const ArrayView& grads, double power) {
  check_power(power);
  check_float(values, "values");
  check_same_dtype(grads, values, "grads", "values");
  check_same_device(grads, values, "grads", "values");
  check_ndim(values, {1, 2}, "values", "(K,) or (K, J)");
  check_nonempty(values, "values", values.ndim == 1 ? "(K,)" : "(K, J)");
  const std::int64_t K = values.shape[0];
  const std::int64_t J = values.ndim == 2 ? values.shape[1] : 1;
  if (values.ndim == 1) {
    HOMOTOPT_CHECK(grads.ndim == 2 && grads.shape[0] == K, "grads: expected shape (K, d) with K = ", K,
                   " (from values), got ", grads.shape_string());
  } else {
    HOMOTOPT_CHECK(grads.ndim == 3 && grads.shape[0] == K && grads.shape[1] == J,
                   "grads: expected shape (K, J, d) with (K, J) = (", K, ", ", J, ") (from values), got ",
                   grads.shape_string());
  }
  const std::int64_t d = grads.shape[grads.ndim - 1];
  HOMOTOPT_CHECK(d >= 1, "grads: expected d >= 1, got ", grads.shape_string());
  check_contiguous(values, "values");
  check_contiguous(grads, "grads");
  return {K * J, J, d};
}

}  // namespace

void front_end::check_result_output(const ArrayView& out, std::int64_t d, const char* name) {
  check_float(out, name);
  dispatch::backend(out.device, name);  // a CUDA array in a CPU-only build: the error says so
  check_vector(out, d, name, "(d,)");
  check_contiguous(out, name);
  check_writable(out, name);
}

PowerWeightsStats power_weights(const ArrayView& values, double power, NanPolicy policy,
                                const ArrayView& weights) {
  check_power(power);
  check_float(values, "values");
  check_ndim(values, {1, 2}, "values", "(K,) or (K, J)");
  check_nonempty(values, "values", values.ndim == 1 ? "(K,)" : "(K, J)");
  check_contiguous(values, "values");
  check_same_dtype(weights, values, "weights", "values");
  check_same_device(weights, values, "weights", "values");
  HOMOTOPT_CHECK(weights.ndim == values.ndim && weights.numel() == values.numel(),
                 "weights: expected shape ", values.shape_string(), " (the shape of values), got ",
                 weights.shape_string());
  check_contiguous(weights, "weights");
  check_writable(weights, "weights");
  return dispatch::kernel(&Kernels::power_weights, values.device, "power_weights")(values, power, policy, weights);
}

namespace {

void reduce_into(PowerState& state, const ArrayView& values, const ArrayView& grads, const PairShape& shape,
                 double power, NanPolicy policy) {
  std::vector<double> u(static_cast<std::size_t>(shape.d), 0.0);
  PowerState::Parts parts;
  dispatch::kernel(&Kernels::reduce_power, values.device, "power_gradient")(values, grads, shape, power, policy,
                                                                           parts, u.data());
  state.merge_parts(power, parts, u.data());
}

}  // namespace

PowerState::PowerState(std::int64_t dim) {
  constexpr std::int64_t kMaxDim = std::int64_t{1} << 40;  // 8 TiB of u: beyond any machine
  HOMOTOPT_CHECK(dim >= 1 && dim <= kMaxDim, "dim: expected 1 <= d <= 2^40, got ", dim);
  try {
    u_.assign(static_cast<std::size_t>(dim), 0.0);
  } catch (const std::bad_alloc&) {
    throw Error(detail::concat("dim: cannot allocate the state's ", dim, " doubles (", dim / (1 << 17),
                               " MiB)"));
  }
}

void PowerState::update(const ArrayView& values, const ArrayView& grads, double power, NanPolicy policy) {
  const PairShape shape = check_power_inputs(values, grads, power);
  HOMOTOPT_CHECK(shape.d == dim(), "grads: expected d = ", dim(), " (the state's dim), got d = ", shape.d);
  reduce_into(*this, values, grads, shape, power, policy);
}

void PowerState::merge_parts(double power, const Parts& parts, const double* u) {
  if (parts.count == 0 && parts.omitted == 0) return;  // an empty state merges as the identity
  std::lock_guard<std::mutex> lock(mutex_.m);
  if (power_ < 0.0) {
    power_ = power;
  } else {
    HOMOTOPT_CHECK(power == power_, "power: expected the state's power N = ", power_,
                   " (one state reduces one N), got ", power);
  }
  const LseScale c = lse_.merge(parts.lse);
  for (std::size_t i = 0; i < u_.size(); ++i) u_[i] = lse_combine(u_[i], u[i], c);
  count_ += parts.count;
  omitted_ += parts.omitted;
}

double PowerState::power() const {
  std::lock_guard<std::mutex> lock(mutex_.m);
  return power_;
}
double PowerState::max_exponent() const {
  std::lock_guard<std::mutex> lock(mutex_.m);
  return lse_.m;
}
double PowerState::limit_top() const {
  std::lock_guard<std::mutex> lock(mutex_.m);
  return lse_.top;
}
double PowerState::scaled_sum() const {
  std::lock_guard<std::mutex> lock(mutex_.m);
  return lse_.s;
}
std::int64_t PowerState::count() const {
  std::lock_guard<std::mutex> lock(mutex_.m);
  return count_;
}
std::int64_t PowerState::omitted() const {
  std::lock_guard<std::mutex> lock(mutex_.m);
  return omitted_;
}
std::vector<double> PowerState::weighted_sum() const {
  std::lock_guard<std::mutex> lock(mutex_.m);
  return u_;
}

void PowerState::snapshot(double& power, Parts& parts, std::vector<double>& u) const {
  std::lock_guard<std::mutex> lock(mutex_.m);
  power = power_;
  parts = Parts{lse_, count_, omitted_};
  u = u_;
}

void PowerState::merge(const PowerState& other) {
  HOMOTOPT_CHECK(other.dim() == dim(), "other: expected a state of dim ", dim(), ", got dim ", other.dim());
  double power;
  Parts parts;
  std::vector<double> u;
  other.snapshot(power, parts, u);  // under other's lock only (other may be this state)
  merge_parts(power, parts, u.data());
}

PowerState PowerState::from_parts(double power, double m, double s, std::int64_t count,
                                  std::int64_t omitted, std::vector<double> u, double top) {
  HOMOTOPT_CHECK(!u.empty(), "u: expected d >= 1 entries, got none");
  HOMOTOPT_CHECK(count >= 0 && omitted >= 0, "count, omitted: expected >= 0, got ", count, ", ", omitted);
  HOMOTOPT_CHECK(std::isfinite(s) && s >= 0.0, "s: expected a finite s >= 0, got ", s);
  HOMOTOPT_CHECK(!std::isnan(m), "m: expected a number, got ", m);
  HOMOTOPT_CHECK(top == -kInf || std::isfinite(top), "top: expected a finite value or -inf, got ", top);
  for (double ui : u) HOMOTOPT_CHECK(std::isfinite(ui), "u: expected finite entries, got ", ui);
  const bool empty = count == 0 && omitted == 0;
  HOMOTOPT_CHECK(empty || (std::isfinite(power) && power >= 0.0),
                 "power: expected a finite N >= 0, got ", power);
  // What update and merge can produce: a finite m has its own term e^0 = 1 in s, and no term exceeds 1;
  // m = -inf (nothing counted, or every counted f = -inf) has s = 0 and u = 0; lse.hpp's limit mode
  // (a finite top whose N top overflowed to m = +-inf) has s = the number of ties, 1 <= s <= count.
  if (top != -kInf) {
    HOMOTOPT_CHECK(power_exponent(power, top) == m && !std::isfinite(m),
                   "top: expected a value whose power * top overflows to m = +-inf (the limit mode), got top ",
                   top, " with m ", m, " and power ", power);
    HOMOTOPT_CHECK(s >= 1.0 && s <= static_cast<double>(count) && s == std::floor(s),
                   "s: expected the number of ties 1 <= s <= count = ", count, " in the limit mode, got ", s);
  } else if (m == -kInf) {
    HOMOTOPT_CHECK(s == 0.0, "s: expected s = 0 with m = -inf, got ", s);
    for (double ui : u) HOMOTOPT_CHECK(ui == 0.0, "u: expected zeros with m = -inf, got ", ui);
  } else {
    HOMOTOPT_CHECK(m != kInf, "m: expected a finite m or -inf without a top (the limit mode), got ", m);
    HOMOTOPT_CHECK(count > 0, "m: expected m = -inf with count = 0, got ", m);
    HOMOTOPT_CHECK(s >= 1.0 && s <= static_cast<double>(count) * (1.0 + 1e-9),
                   "s: expected s > 0 (1 <= s <= count = ", count, " with a finite m), got ", s);
  }
  PowerState state(static_cast<std::int64_t>(u.size()));
  if (empty) return state;
  state.power_ = power;
  state.lse_ = LseState{m, s, top};
  state.count_ = count;
  state.omitted_ = omitted;
  state.u_ = std::move(u);
  return state;
}

template <class F>
void PowerState::write_output(const ArrayView& out, F&& value) const {
  visit_float(out.dtype, [&](auto t) {
    using T = decltype(t);
    std::vector<T> host(u_.size());
    for (std::size_t i = 0; i < u_.size(); ++i) host[i] = static_cast<T>(value(i));
    // d numbers: on a GPU, the result of a device reduction
    dispatch::kernel(&Kernels::copy_to_device, out.device, "direction")(out, host.data(), host.size() * sizeof(T));
  });
}

PowerResultStats PowerState::result(const ArrayView& direction, const ArrayView& gradient) const {
  std::lock_guard<std::mutex> lock(mutex_.m);
  HOMOTOPT_CHECK(count_ > 0, "PowerState: the state is empty; call update() before result()");
  check_result_output(direction, dim(), "direction");
  if (!gradient.empty_view()) check_result_output(gradient, dim(), "gradient");
  const PowerSummary summary = power_summary(power_, lse_.m, lse_.s, count_);
  write_output(direction, [&](std::size_t i) { return power_direction(u_[i], lse_.s); });
  if (!gradient.empty_view())
    write_output(gradient, [&](std::size_t i) {
      return power_literal_gradient(power_direction(u_[i], lse_.s), summary.log_scale);
    });
  return {summary.log_scale, summary.log_mean_exp, count_, omitted_};
}

PowerResultStats power_gradient(const ArrayView& values, const ArrayView& grads, double power,
                                NanPolicy policy, const ArrayView& direction, const ArrayView& gradient) {
  const PairShape shape = check_power_inputs(values, grads, power);
  // A backend that writes the result where the arrays live (CUDA: no host round trip of u) takes the
  // whole call when the outputs are on the values' device; otherwise the host state below.
  const auto one_shot = dispatch::optional_kernel(&Kernels::power_gradient, values.device, "power_gradient");
  if (one_shot && direction.device == values.device &&
      (gradient.empty_view() || gradient.device == values.device)) {
    check_result_output(direction, shape.d, "direction");
    if (!gradient.empty_view()) check_result_output(gradient, shape.d, "gradient");
    return one_shot(values, grads, shape, power, policy, direction, gradient);
  }
  PowerState state(shape.d);
  reduce_into(state, values, grads, shape, power, policy);
  return state.result(direction, gradient);
}

}  // namespace homotopt
