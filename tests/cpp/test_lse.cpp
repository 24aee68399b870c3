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
  for (double x : a) s.add(x, x);  // terms a with power 1: the value is the exponent
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
  const LseScale c = s.add(-kInf, -kInf);
  CHECK(s.m == -kInf && s.s == 0.0 && c.other == 0.0);
  s.add(2.0, 2.0);
  const LseState before = s;
  const LseScale c2 = s.add(-kInf, -kInf);
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
  CHECK(empty.factor_to(LseState{5.0, 1.0}) == 0.0 && s.factor_to(LseState{2.0, 1.0}) == 1.0);
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

// The state of values f at power N, online (LseState::add with the exponents N f).
LseState at_power(double N, const std::vector<double>& f) {
  LseState s;
  for (double x : f) s.add(homotopt::power_exponent(N, x), x);
  return s;
}

// The limit rule: an overflowed N top (either sign) puts the state in limit mode, weight 1 on the ties.
TEST(limit_mode_both_signs) {
  const double big = 1e300;
  const LseState neg = at_power(big, {-1e10, -2e10, -1e10, -kInf});
  CHECK(neg.limit() && neg.m == -kInf && neg.top == -1e10 && neg.s == 2.0);
  CHECK(neg.limit_weight(-1e10) == 1.0 && neg.limit_weight(-2e10) == 0.0 && neg.limit_weight(-kInf) == 0.0);
  const LseState pos = at_power(big, {1e10, 2e10, 2e10, -5.0});
  CHECK(pos.limit() && pos.m == kInf && pos.top == 2e10 && pos.s == 2.0);
  const homotopt::PowerSummary sn = homotopt::power_summary(big, neg.m, neg.s, 4);
  const homotopt::PowerSummary sp = homotopt::power_summary(big, pos.m, pos.s, 4);
  CHECK(sn.log_mean_exp == -kInf && sn.log_scale == -kInf && sp.log_mean_exp == kInf && sp.log_scale == kInf);
  // A finite largest N f: the overflowed -inf ones get weight 0 and the state stays finite.
  const LseState one_finite = at_power(big, {-1e10, -1e-300});
  CHECK(!one_finite.limit() && one_finite.m == -1.0 && one_finite.s == 1.0);
  // Every f = -inf is no overflow: the empty state, not a -inf limit.
  const LseState all_minus_inf = at_power(big, {-kInf, -kInf});
  CHECK(!all_minus_inf.limit() && all_minus_inf.m == -kInf && all_minus_inf.s == 0.0);
}

// Merges order limit states by (m, top) and agree with the online state in every order and split.
TEST(limit_mode_merges_in_any_order) {
  const double big = 1e300;
  const std::vector<std::vector<double>> cases = {
      {-1e10, -2e10, -1e10, -3e10},          // -inf limit, ties
      {1e10, 2e10, -1.0, 2e10, 1e-300},      // +inf limit with finite N f terms
      {-1e10, 1e-301, -2e10, -kInf},         // finite max (0.1) over -inf overflows
      {-1e-300, -1e10, 2e10, 0.5e-300, 2e10}  // all three kinds
  };
  for (const auto& f : cases) {
    const LseState whole = at_power(big, f);
    for (std::size_t cut = 0; cut <= f.size(); ++cut) {
      LseState left = at_power(big, std::vector<double>(f.begin(), f.begin() + cut));
      LseState right = at_power(big, std::vector<double>(f.begin() + cut, f.end()));
      LseState lr = left, rl = right;
      lr.merge(right);
      rl.merge(left);
      for (const LseState& x : {lr, rl}) {
        CHECK(x.m == whole.m && x.top == whole.top);
        CHECK(std::fabs(x.s - whole.s) <= 1e-15 * whole.s);
      }
    }
  }
  // Ranking: a +inf limit beats everything, a finite state beats a -inf limit, which beats the empty one;
  // with the same infinite m the larger top wins (factors 0/1 exactly), equal tops add their ties.
  LseState neg = at_power(big, {-1e10}), neg2 = at_power(big, {-2e10}), fin = at_power(big, {1e-300});
  LseState pos = at_power(big, {1e10}), pos2 = at_power(big, {2e10}), empty;
  LseState a = neg;
  LseScale c = a.merge(neg2);
  CHECK(c.self == 1.0 && c.other == 0.0 && a.top == -1e10 && a.s == 1.0);
  a = neg2;
  c = a.merge(neg);
  CHECK(c.self == 0.0 && c.other == 1.0 && a.top == -1e10 && a.s == 1.0);
  a = neg;
  c = a.merge(neg);
  CHECK(c.self == 1.0 && c.other == 1.0 && a.s == 2.0);
  a = neg;
  c = a.merge(fin);
  CHECK(c.self == 0.0 && c.other == 1.0 && !a.limit() && a.m == 1e-300 * big && a.s == 1.0);
  a = fin;
  c = a.merge(pos);
  CHECK(c.self == 0.0 && c.other == 1.0 && a.limit() && a.m == kInf && a.top == 1e10);
  a = pos2;
  c = a.merge(pos);
  CHECK(c.self == 1.0 && c.other == 0.0 && a.top == 2e10);
  a = empty;
  c = a.merge(neg);
  CHECK(c.other == 1.0 && a.limit() && a.s == 1.0);
  a = neg;
  c = a.merge(empty);
  CHECK(c.self == 1.0 && c.other == 0.0 && a.limit() && a.s == 1.0);
  CHECK(empty.ranks_below(neg) && neg2.ranks_below(neg) && neg.ranks_below(fin) && fin.ranks_below(pos) &&
        pos.ranks_below(pos2) && !pos2.ranks_below(pos));
  CHECK(neg.factor_to(neg) == 1.0 && neg2.factor_to(neg) == 0.0 && fin.factor_to(pos) == 0.0 &&
        empty.factor_to(neg) == 0.0 && neg.factor_to(fin) == 0.0);
}

// The block forms: add_block (finite max) leaves limit mode only upwards; add_limit_block ranks.
TEST(limit_blocks) {
  LseState s = at_power(1e300, {-1e10});  // -inf limit
  bool counts = false;
  CHECK(s.add_limit_block(-kInf, -2e10, counts) == 1.0 && !counts);  // ranks below
  CHECK(s.add_limit_block(-kInf, -1e10, counts) == 1.0 && counts);    // ties: the caller adds weight 1 each
  CHECK(s.add_limit_block(-kInf, -kInf, counts) == 1.0 && !counts);   // every f = -inf: nothing
  CHECK(s.add_limit_block(kInf, 5e10, counts) == 0.0 && counts && s.m == kInf && s.top == 5e10 && s.s == 0.0);
  LseState t = at_power(1e300, {-1e10});
  CHECK(t.add_block(3.0) == 0.0 && t.m == 3.0 && !t.limit() && t.s == 0.0);  // a finite block wins
  LseState p = at_power(1e300, {1e10});
  CHECK(p.add_block(3.0) == 1.0 && p.limit() && p.weight(3.0) == 0.0);  // cannot raise a +inf limit
  LseState e;
  CHECK(e.add_limit_block(-kInf, -1.0, counts) == 1.0 && counts && e.limit() && e.m == -kInf);
}

TEST_MAIN()
