// power_gradient.hpp through the C++ API: the result against the definition in long double, chunked
// PowerState updates against one call, and the front end's messages.
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.hpp"
#include "homotopt/power_gradient.hpp"

using namespace homotopt;

namespace {

ArrayView view(std::vector<double>& v, std::initializer_list<std::int64_t> shape) {
  ArrayView a;
  a.data = v.data();
  a.dtype = DType::float64;
  a.ndim = static_cast<int>(shape.size());
  int i = 0;
  for (std::int64_t s : shape) a.shape[i++] = s;
  std::int64_t stride = 1;
  for (int k = a.ndim - 1; k >= 0; --k) {
    a.strides[k] = stride;
    stride *= a.shape[k];
  }
  a.writable = true;
  return a;
}

// A fixed pseudo-random sequence (no RNG dependence): x_{i+1} = frac(x_i * 997 + 0.123).
std::vector<double> numbers(std::size_t n, double x) {
  std::vector<double> out(n);
  for (double& o : out) {
    x = std::fmod(x * 997.0 + 0.123, 1.0);
    o = 4.0 * x - 2.0;
  }
  return out;
}

}  // namespace

TEST(matches_the_definition) {
  const std::int64_t K = 7, d = 3;
  const double N = 3.5;
  std::vector<double> values = numbers(K, 0.31), grads = numbers(K * d, 0.77), direction(d), gradient(d);
  const PowerResultStats r = power_gradient(view(values, {K}), view(grads, {K, d}), N, NanPolicy::raise,
                                            view(direction, {d}), view(gradient, {d}));
  long double total = 0;
  std::vector<long double> u(d, 0);
  for (std::int64_t k = 0; k < K; ++k) {
    const long double w = std::exp(static_cast<long double>(N) * values[k]);
    total += w;
    for (std::int64_t c = 0; c < d; ++c) u[c] += w * grads[k * d + c];
  }
  for (std::int64_t c = 0; c < d; ++c) {
    CHECK_NEAR(direction[c], static_cast<double>(u[c] / total), 1e-14);  // a few roundings (worst seen 2e-16)
    CHECK_NEAR(gradient[c], static_cast<double>(N * u[c] / K), 1e-13 * std::fabs(static_cast<double>(N * u[c] / K)) + 1e-300);
  }
  CHECK_NEAR(r.log_mean_exp, static_cast<double>(std::log(total / K)), 1e-14);
  CHECK(r.count == K && r.omitted == 0);
}

TEST(chunks_merge_to_one_call) {
  const std::int64_t K = 9, d = 2;
  std::vector<double> values = numbers(K, 0.5), grads = numbers(K * d, 0.9), one(d), merged(d);
  power_gradient(view(values, {K}), view(grads, {K, d}), 2.0, NanPolicy::raise, view(one, {d}));
  PowerState state(d), other(d);
  std::vector<double> v1(values.begin(), values.begin() + 4), v2(values.begin() + 4, values.end());
  std::vector<double> g1(grads.begin(), grads.begin() + 4 * d), g2(grads.begin() + 4 * d, grads.end());
  state.update(view(v1, {4}), view(g1, {4, d}), 2.0);
  other.update(view(v2, {K - 4}), view(g2, {K - 4, d}), 2.0);
  state.merge(other);
  state.result(view(merged, {d}));
  for (std::int64_t c = 0; c < d; ++c) CHECK_NEAR(merged[c], one[c], 1e-15);  // merge order rounding
  CHECK(state.count() == K);
}

TEST(front_end_messages) {
  std::vector<double> values(3, 0.0), grads(6, 0.0), out(2), bad(3);
  CHECK_THROWS(Error, power_gradient(view(values, {3}), view(grads, {3, 2}), -1.0, NanPolicy::raise, view(out, {2})),
               "power: expected a finite N >= 0, got");
  CHECK_THROWS(Error, power_gradient(view(values, {3}), view(grads, {2, 3}), 1.0, NanPolicy::raise, view(out, {2})),
               "grads: expected shape (K, d) with K = 3");
  CHECK_THROWS(Error, power_gradient(view(values, {3}), view(grads, {3, 2}), 1.0, NanPolicy::raise, view(bad, {3})),
               "direction: expected shape (d,) = (2,)");
  values[1] = std::nan("");
  CHECK_THROWS(Error, power_gradient(view(values, {3}), view(grads, {3, 2}), 1.0, NanPolicy::raise, view(out, {2})),
               "values: non-finite value");
}

TEST_MAIN()
