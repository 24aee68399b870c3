// The mergeable log-sum-exp state of the power gradient (papers/prog_powerhp.md, "The stable estimator").
//
// For terms a_i = N f_i with vectors g_i, keep m = max a_i, s = sum exp(a_i - m), u = sum exp(a_i - m) g_i.
// Two states merge as m = max(m1, m2), s = s1 e^(m1-m) + s2 e^(m2-m), u likewise, so any split of the
// terms across threads, blocks or calls gives the same result up to rounding. The empty state is
// (-inf, 0, 0) and merges as the identity. exp(N f) itself is never formed.
// From the state: direction = u / s (the softmax(a)-weighted mean of the g_i),
// log_mean_exp = m + log s - log count, log_scale = log N + log_mean_exp, the paper's g = e^log_scale * direction.
//
// Overflow, one rule for both signs: the result is computed exactly or not at all. The largest N f over
// the counted pairs must be a finite double; if it overflows (to +inf, or to -inf for a finite f) every
// backend raises a ValueError naming the pair ("power * value overflows float64"). Any other pair whose
// N f overflows to -inf gets weight exactly 0, which is exact: its true exponent is below the largest by
// more than DBL_MAX * 2^-53 (~2e292). f = -inf is not an overflow (weight 0 by definition). The N -> inf
// limit (uniform weights over the argmax ties) is not returned instead: log_scale would be +-inf, and a
// state holding an overflowed m could not order itself against another one in a merge.
// power_exponent_overflows and power_max_overflowed below state the rule; every backend applies them.
//
// Only the scalar part (m, s) lives here (LseState); the d-vector u is the caller's (a buffer on the CPU,
// registers or shared memory on the GPU), scaled with the factors LseState returns. All in float64.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "homotopt/bits.hpp"
#include "homotopt/macros.hpp"

namespace homotopt {

constexpr double kInf = std::numeric_limits<double>::infinity();

// a = N f, with a = -inf for f = -inf whatever N >= 0 (the limit N -> 0+; avoids 0 * -inf = NaN).
// Callers have already rejected NaN and +inf values and negative or non-finite N.
// The product is rounded on its own (never fused into a later a - m): every pass that recomputes a
// must get the same bits, or the largest pair's weight exp(a - m) is not exactly 1. The CPU backend
// compiles with -ffp-contract=off; on the GPU __dmul_rn forbids the fusion.
HOMOTOPT_HD inline double power_exponent(double power, double value) {
#if defined(__CUDA_ARCH__)
  const double a = __dmul_rn(power, value);
#else
  const double a = power * value;
#endif
  return value == -kInf ? -kInf : a;
}

// Values outside the mean: NaN and +inf (they follow the NanPolicy: an error, or weight 0 and counted
// as omitted). -inf is a value like any other, of weight exactly 0.
HOMOTOPT_HD inline bool power_value_is_bad(double value) { return value != value || value == kInf; }

// The overflow rule (above) for a = power_exponent(N, f) of a counted value f (not bad):
// a = +inf is an error wherever it occurs; a = -inf for a finite f ("underflowed": the true N f is
// below -DBL_MAX) has weight exactly 0, and is an error only when it is the largest, see below.
HOMOTOPT_HD inline bool power_exponent_overflows(double a) { return a == kInf; }
HOMOTOPT_HD inline bool power_exponent_underflowed(double a, double value) { return a == -kInf && value != -kInf; }

// exp(x) for x <= 0 (including -inf), to about 1 ulp, branch-free so that CPU loops vectorize.
// x = k ln 2 + r with |r| <= ln2 / 2 (k from the 1.5 * 2^52 rounding trick, exact), exp(r) by its
// Taylor series to r^13 (truncation below 5e-18), times 2^k built in the exponent bits. For x < -708
// the result is 0 instead of exp(x) < 3.3e-308: such a weight is 290 orders of magnitude below the
// rounding of the largest weight (1), so no sum or direction changes.
HOMOTOPT_HD HOMOTOPT_INLINE double exp_nonpositive(double x) {
  constexpr double kLog2e = 1.4426950408889634;
  constexpr double kShift = 6755399441055744.0;       // 1.5 * 2^52: adding it rounds to an integer
  constexpr double kLn2Hi = 0.6931471803691238;       // ln 2 to 33 bits: k * kLn2Hi is exact
  constexpr double kLn2Lo = 1.9082149292705877e-10;   // ln 2 - kLn2Hi
  const double xc = x > -708.0 ? x : -708.0;          // keeps k and the bits below in range
  const double t = ::fma(xc, kLog2e, kShift);
  const double k = t - kShift;
  const double r = ::fma(k, -kLn2Lo, ::fma(k, -kLn2Hi, xc));
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = ::fma(p, r, 1.0 / 479001600.0);
  p = ::fma(p, r, 1.0 / 39916800.0);
  p = ::fma(p, r, 1.0 / 3628800.0);
  p = ::fma(p, r, 1.0 / 362880.0);
  p = ::fma(p, r, 1.0 / 40320.0);
  p = ::fma(p, r, 1.0 / 5040.0);
  p = ::fma(p, r, 1.0 / 720.0);
  p = ::fma(p, r, 1.0 / 120.0);
  p = ::fma(p, r, 1.0 / 24.0);
  p = ::fma(p, r, 1.0 / 6.0);
  p = ::fma(p, r, 0.5);
  p = ::fma(p, r, 1.0);
  p = ::fma(p, r, 1.0);
  // t's low mantissa bits hold 2^51 + k; subtracting kShift's bits leaves k (two's complement).
  const double scale = detail::double_of((detail::bits_of(t) - detail::bits_of(kShift) + 1023u) << 52);
  return x >= -708.0 ? p * scale : 0.0;
}

// The factor that moves a sum kept relative to `from` to one relative to `to` (to >= from).
// from == to covers the empty state (-inf to -inf), where exp(-inf - -inf) would be NaN.
HOMOTOPT_HD inline double lse_rescale(double from, double to) {
  return from == to ? 1.0 : exp_nonpositive(from - to);
}

// Factors by which a merge scales the caller's own u and the other state's u: u <- self*u + other*u2.
struct LseScale {
  double self;
  double other;
};

// The scalar part (m, s) of the state, and the only code that grows it: every reduction of the library
// (CPU loops, CUDA threads, blocks and merges, the host-side PowerState) holds one of these.
// Two corner cases, handled here and nowhere else:
//   * the empty state has m = -inf; moving it to any max scales by exactly 0 or 1, never exp(NaN);
//   * a zero sum (no term, or every term of weight 0) stays 0 and its u is all zeros; the result of
//     such a state is defined by power_summary and power_direction below.
// Three ways to add terms, giving slightly different roundings (each caller keeps its own order):
//   add(a)        one term online;
//   add_block(mb) then s += sum weight(a) over a block whose largest exponent is mb;
//   merge(other)  another state (a thread's, a block's, a chunk's).
struct LseState {
  double m = -kInf;  // the largest exponent a counted so far
  double s = 0.0;    // sum of exp(a - m) over the terms counted so far

  // Merges `other` into this state; neither m is ever NaN.
  HOMOTOPT_HD LseScale merge(const LseState& other) {
    const double mn = m > other.m ? m : other.m;
    const LseScale c{lse_rescale(m, mn), lse_rescale(other.m, mn)};
    s = s * c.self + other.s * c.other;
    m = mn;
    return c;
  }

  // Adds one term exp(a) g online: u <- c.self u + c.other g. A term with a = -inf has weight exactly 0
  // and changes nothing (c = {1, 0}), also in an empty state (where merging (-inf, 0) would say 1).
  HOMOTOPT_HD LseScale add(double a) {
    if (a == -kInf) return LseScale{1.0, 0.0};
    return merge(LseState{a, 1.0});
  }

  // Before adding a block of terms whose largest exponent is block_max: raises m to block_max (when
  // larger) and rescales s. Returns the factor for the caller's u, 1 when it needs none (m unchanged,
  // or s == 0 so that u is all zeros). The caller then adds weight(a) of each term of the block to s.
  // A block with block_max = -inf adds nothing and should be skipped.
  HOMOTOPT_HD double add_block(double block_max) {
    if (!(block_max > m)) return 1.0;
    const double c = lse_rescale(m, block_max);
    m = block_max;
    if (!(s > 0.0)) return 1.0;
    s *= c;
    return c;
  }

  // The weight exp(a - m) of a term relative to this state's max: 0 for a = -inf, and 0 for every term
  // of an empty state (a - m is NaN there, and exp_nonpositive(NaN) is 0).
  HOMOTOPT_HD double weight(double a) const { return exp_nonpositive(a - m); }

  // The factor that moves this state's sums to a larger max `to` (as merge does for the other state),
  // 0 for a state with s == 0, whose u is all zeros or never written.
  HOMOTOPT_HD double factor_to(double to) const { return s > 0.0 ? lse_rescale(m, to) : 0.0; }
};

// After a reduction into `lse`: the largest N f overflowed to -inf (an error, see the rule above) when
// no counted term has a finite exponent (m = -inf) while some counted f underflowed. Every f = -inf
// (nothing underflowed) is no overflow: all weights are 0 by definition.
HOMOTOPT_HD inline bool power_max_overflowed(const LseState& lse, bool any_underflowed) {
  return lse.m == -kInf && any_underflowed;
}

struct PowerSummary {
  double log_mean_exp;  // log( mean exp(N f) ) over the counted terms
  double log_scale;     // log N + log_mean_exp
};

// s == 0 (every term has weight 0, or none was counted) gives -inf for both: the mean of exp(N f) is 0.
HOMOTOPT_HD inline PowerSummary power_summary(double power, double m, double s, std::int64_t count) {
  const double lme = (s > 0.0 && count > 0) ? m + ::log(s) - ::log(static_cast<double>(count)) : -kInf;
  return {lme, lme + ::log(power)};  // log(0) = -inf: with N = 0 the literal gradient is exactly 0
}

// direction_i = u_i / s; with s == 0 there is no weighted mean and the direction is defined as 0.
HOMOTOPT_HD inline double power_direction(double u_i, double s) { return s > 0.0 ? u_i / s : 0.0; }

// The paper's literal g_i = exp(log_scale) * direction_i, formed as exp(log_scale + log|d_i|) so that it
// overflows or underflows only where the product itself does.
HOMOTOPT_HD inline double power_literal_gradient(double direction_i, double log_scale) {
  if (direction_i == 0.0) return 0.0;
  return ::copysign(::exp(log_scale + ::log(::fabs(direction_i))), direction_i);
}

}  // namespace homotopt
