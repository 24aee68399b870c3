// lse.hpp: LseState's merge identities and corner cases, exactly where the math says exactly.
#include <cmath>
#include <limits>
#include <vector>

#include "check.hpp"
#include "homotopt/lse.hpp"

using homotopt::kInf;
using homotopt::LseScale;
using homotopt::LseState;

namespace {

// The state of terms a (online), and log sum exp(a) from it.
LseState online(const std::vector<double>& a) {
  LseState s;
  for (double x : a) s.add(x);
  return s;
}
double log_sum_exp(const LseState& s) { return s.m + std::log(s.s); }

// log sum exp by the definition, in long double.
double naive(const std::vector<double>& a) {
  long double m = -INFINITY, sum = 0;
  for (double x : a) m = x > m ? x : m;
  for (double x : a) sum += std::exp(static_cast<long double>(x) - m);
  return static_cast<double>(m + std::log(sum));
}

}  // namespace

TEST(empty_state_merges_as_identity) {
  LseState a = online({1.5, -2.0, 0.25});
  const LseState before = a;
  const LseScale c = a.merge(LseState{});
  CHECK(a.m == before.m && a.s == before.s);  // bit for bit
  CHECK(c.self == 1.0 && c.other == 0.0);
  LseState e;
  const LseScale c2 = e.merge(before);
  CHECK(e.m == before.m && e.s == before.s);
  CHECK(c2.self == 0.0 && c2.other == 1.0);
  LseState both;
  const LseScale c3 = both.merge(LseState{});  // -inf with -inf: factors 1, never NaN
  CHECK(both.m == -kInf && both.s == 0.0 && c3.self == 1.0 && c3.other == 1.0);
}

TEST(minus_inf_term_changes_nothing) {
  LseState s;
  const LseScale c = s.add(-kInf);
  CHECK(s.m == -kInf && s.s == 0.0 && c.other == 0.0);
  s.add(2.0);
  const LseState before = s;
  const LseScale c2 = s.add(-kInf);
  CHECK(s.m == before.m && s.s == before.s && c2.self == 1.0 && c2.other == 0.0);
}

TEST(merge_of_splits_equals_online) {
  const std::vector<double> a{3.0, -1.0, 7.5, 7.5, -300.0, 0.0, 2.25, -kInf, 6.0};
  const double want = naive({3.0, -1.0, 7.5, 7.5, -300.0, 0.0, 2.25, 6.0});
  for (std::size_t cut = 0; cut <= a.size(); ++cut) {
    LseState left = online(std::vector<double>(a.begin(), a.begin() + cut));
    const LseState right = online(std::vector<double>(a.begin() + cut, a.end()));
    left.merge(right);
    CHECK(left.m == 7.5);                        // the max is exact
    CHECK_NEAR(log_sum_exp(left), want, 4e-15);  // rounding of a few adds (worst seen 0)
  }
}

TEST(merge_is_commutative) {
  LseState a = online({1.0, 2.0}), b = online({5.0, -3.0});
  LseState ab = a, ba = b;
  ab.merge(b);
  ba.merge(a);
  CHECK(ab.m == ba.m);
  CHECK_NEAR(ab.s, ba.s, 1e-15 * ab.s);
}

TEST(add_block_equals_two_pass) {
  // Block form: raise the max, then add the weights, as the CPU loops do.
  const std::vector<double> block1{-1.0, 0.5, 0.25}, block2{4.0, 3.0};
  LseState s;
  std::vector<double> u{1.0};  // a caller's u: must be rescaled with the returned factor
  for (const auto* b : {&block1, &block2}) {
    double mb = -kInf;
    for (double x : *b) mb = x > mb ? x : mb;
    const double f = s.add_block(mb);
    u[0] *= f;
    for (double x : *b) s.s += s.weight(x);
  }
  const double want = naive({-1.0, 0.5, 0.25, 4.0, 3.0});
  CHECK(s.m == 4.0);
  CHECK_NEAR(log_sum_exp(s), want, 4e-15);
  CHECK_NEAR(u[0], std::exp(0.5 - 4.0) / std::exp(0.5 - 0.5), 1e-15);  // moved from max 0.5 to 4
}

TEST(add_block_from_empty_needs_no_scaling) {
  LseState s;
  CHECK(s.add_block(3.0) == 1.0 && s.m == 3.0 && s.s == 0.0);
  CHECK(s.add_block(1.0) == 1.0 && s.m == 3.0);  // a lower block max changes nothing
}

TEST(weights_of_empty_state_are_zero) {
  const LseState empty;
  CHECK(empty.weight(-kInf) == 0.0);  // -inf - -inf is NaN; exp_nonpositive(NaN) is 0
  LseState s = online({2.0});
  CHECK(s.weight(2.0) == 1.0 && s.weight(-kInf) == 0.0);
  CHECK(empty.factor_to(5.0) == 0.0 && s.factor_to(2.0) == 1.0);
}

TEST(exp_nonpositive_matches_exp) {
  double worst = 0.0;
  for (double x = -700.0; x <= 0.0; x += 0.37) {
    const double rel = std::fabs(homotopt::exp_nonpositive(x) - std::exp(x)) / std::exp(x);
    worst = rel > worst ? rel : worst;
  }
  CHECK(worst < 4e-16);  // about 1 ulp (worst seen 2.2e-16)
  CHECK(homotopt::exp_nonpositive(0.0) == 1.0);
  CHECK(homotopt::exp_nonpositive(-800.0) == 0.0 && homotopt::exp_nonpositive(-kInf) == 0.0);
}

TEST(power_summary_of_zero_sum) {
  const homotopt::PowerSummary p = homotopt::power_summary(2.0, -kInf, 0.0, 3);
  CHECK(p.log_mean_exp == -kInf && p.log_scale == -kInf);
  CHECK(homotopt::power_direction(1.0, 0.0) == 0.0);
}

// The overflow rule: +inf is an error; -inf for a finite f is weight 0, an error only as the largest.
TEST(overflow_rule) {
  using homotopt::power_exponent;
  const double big = 1e300;
  CHECK(homotopt::power_exponent_overflows(power_exponent(big, 1e10)));
  CHECK(!homotopt::power_exponent_overflows(power_exponent(big, 1.0)));
  CHECK(homotopt::power_exponent_underflowed(power_exponent(big, -1e10), -1e10));
  CHECK(!homotopt::power_exponent_underflowed(power_exponent(big, -kInf), -kInf));  // f = -inf: not an overflow
  LseState all_under = online({power_exponent(big, -1e10), power_exponent(big, -2e10)});
  CHECK(homotopt::power_max_overflowed(all_under, true));   // [-1e10, -2e10] at N = 1e300: an error
  LseState one_finite = online({power_exponent(big, -1e10), power_exponent(big, -1e-300)});
  CHECK(!homotopt::power_max_overflowed(one_finite, true));  // the largest is finite: the -inf gets weight 0
  CHECK(one_finite.weight(power_exponent(big, -1e10)) == 0.0);
  LseState all_minus_inf = online({-kInf, -kInf});
  CHECK(!homotopt::power_max_overflowed(all_minus_inf, false));  // every f = -inf: weights 0 by definition
}

TEST_MAIN()
