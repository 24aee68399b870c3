// The mergeable log-sum-exp state of the power gradient (papers/prog_powerhp.md, "The stable estimator").
//
// For terms a_i = N f_i with vectors g_i, keep m = max a_i, s = sum exp(a_i - m), u = sum exp(a_i - m) g_i.
// Two states merge as m = max(m1, m2), s = s1 e^(m1-m) + s2 e^(m2-m), u likewise, so any split of the
// terms across threads, blocks or calls gives the same result up to rounding. The empty state is
// (-inf, 0, 0) and merges as the identity. exp(N f) itself is never formed.
// From the state: direction = u / s (the softmax(a)-weighted mean of the g_i),
// log_mean_exp = m + log s - log count, log_scale = log N + log_mean_exp, the paper's g = e^log_scale * direction.
//
// Overflow, one rule for both signs: the N -> infinity limit, which is then the exact answer.
// Let top be the largest counted f. If N top is a finite double nothing changes. If it overflows (to
// +inf, or to -inf for a finite top) the float64 weights softmax(N f) ARE the limit: 1/T for each of
// the T pairs with f == top, exactly 0 for every other pair. Proof: any other counted f differs from
// top by at least ulp(top) >= |top| 2^-53, and N |top| > DBL_MAX, so its exponent N f lies below N top
// by more than DBL_MAX 2^-53 (~2e292): exp of that is exactly 0 in float64 (and in any format). A
// pair whose N f is finite while another's overflowed to +inf is below it by more, so weight 0 too;
// a pair whose N f overflowed to -inf while another's is finite likewise. (The tie weights are
// 1/(T + e), e < exp(-2e292), which rounds to 1/T.) Then direction = the mean gradient over the ties,
// and log_mean_exp = N top + log(T / count) and log_scale = log N + log_mean_exp are +inf (N top
// overflowed to +inf) or -inf (to -inf): the true values lie beyond the double range, and those are
// their roundings ("exact where representable"; on the + side to within one ulp: a true value within
// ~50 of the overflow threshold would round to DBL_MAX instead). The literal gradient follows
// power_literal_gradient (inf or 0, times the sign).
// f = -inf is not an overflow: weight 0 by definition. Nothing raises for overflow.
//
// The state holds `top` for this: top = -inf while m is finite or the state is empty; in limit mode
// (m = +-inf and top finite) the weight of a term is (f == top ? 1 : 0), s counts the ties and u sums
// their gradients. States rank by m and, when both have the same infinite m, by top, so any split of
// the terms and any merge order give the limit (a -inf-limit state has s > 0; the empty one s = 0).
// The finite path (every exponent of a block finite) never reads top: same bits, same loops as before.
//
// Only the scalar part (m, s, top) lives here (LseState); the d-vector u is the caller's (a buffer on the CPU,
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

// u after a merge: self_u * c.self + other_u * c.other (PowerState's merge, and the CUDA one-shot result,
// which merges a reduction into an empty state on the device: one formula for both).
HOMOTOPT_HD inline double lse_combine(double self_u, double other_u, const LseScale& c) {
  return self_u * c.self + other_u * c.other;
}

// The scalar part (m, s) of the state, and the only code that grows it: every reduction of the library
// (CPU loops, CUDA threads, blocks and merges, the host-side PowerState) holds one of these.
// Two corner cases, handled here and nowhere else:
//   * the empty state has m = -inf; moving it to any max scales by exactly 0 or 1, never exp(NaN);
//   * a zero sum (no term, or every term of weight 0) stays 0 and its u is all zeros; the result of
//     such a state is defined by power_summary and power_direction below.
// Three ways to add terms, giving slightly different roundings (each caller keeps its own order):
//   add(a, f)     one term online;
//   add_block(mb) then s += sum weight(a) over a block whose largest exponent is mb (finite), or
//   add_limit_block(mb, top_b) then s += sum limit_weight(f) over a block whose mb is +-inf;
//   merge(other)  another state (a thread's, a block's, a chunk's).
struct LseState {
  double m = -kInf;    // the largest exponent a counted so far
  double s = 0.0;      // sum of exp(a - m) over the terms counted so far (the tie count in limit mode)
  double top = -kInf;  // limit mode only (m = +-inf): the largest counted value f; -inf otherwise

  // Whether the state is in limit mode (the rule above): its weights are (f == top ? 1 : 0).
  HOMOTOPT_HD bool limit() const { return top > -kInf; }

  // Merges `other` into this state; neither m is ever NaN.
  HOMOTOPT_HD LseScale merge(const LseState& other) {
    if (m == other.m && !(m > -kInf && m < kInf)) {  // the same infinite m: limit (or empty) states rank by top
      if (top == other.top) {
        s += other.s;
        return LseScale{1.0, 1.0};
      }
      if (top > other.top) return LseScale{1.0, 0.0};
      s = other.s;
      top = other.top;
      return LseScale{0.0, 1.0};
    }
    const double mn = m > other.m ? m : other.m;
    const LseScale c{lse_rescale(m, mn), lse_rescale(other.m, mn)};
    s = s * c.self + other.s * c.other;
    top = m > other.m ? top : other.top;  // m != other.m here unless both are finite (then both -inf)
    m = mn;
    return c;
  }

  // Adds one term exp(a) g of value f online: u <- c.self u + c.other g. A term with f = -inf has weight
  // exactly 0 and changes nothing (c = {1, 0}), also in an empty state (where merging (-inf, 0) would say 1).
  HOMOTOPT_HD LseScale add(double a, double value) {
    if (a > -kInf && a < kInf) {  // merge(LseState{a, 1}) of a finite term, inlined: the hot case
      const double mn = m > a ? m : a;
      const LseScale c{lse_rescale(m, mn), lse_rescale(a, mn)};
      s = s * c.self + c.other;
      top = m > a ? top : -kInf;  // a +inf limit keeps its top; a finite a above m leaves any limit
      m = mn;
      return c;
    }
    if (value == -kInf) return LseScale{1.0, 0.0};
    return merge(LseState{a, 1.0, value});  // N f overflowed: a limit term
  }

  // Before adding a block of terms whose largest exponent block_max is finite: raises m to block_max
  // (when larger) and rescales s. Returns the factor for the caller's u, 1 when it needs none (m
  // unchanged, or s == 0 so that u is all zeros). The caller then adds weight(a) of each term of the
  // block to s (in a +inf-limit state, which the block cannot raise, every such weight is exactly 0).
  // A block with an infinite block_max goes through add_limit_block instead.
  HOMOTOPT_HD double add_block(double block_max) {
    if (!(block_max > m)) return 1.0;
    const double c = lse_rescale(m, block_max);
    m = block_max;
    top = -kInf;
    if (!(s > 0.0)) return 1.0;
    s *= c;
    return c;
  }

  // Before adding a block whose largest exponent block_max is +-inf and whose largest counted value is
  // block_top (-inf when every f is -inf: nothing to add). When the block ranks at least as high as
  // the state, the state moves to (block_max, block_top) in limit mode and `counts` is set: the caller
  // then adds limit_weight(f) of each term to s (and those weights times its gradients to u).
  // Otherwise every term of the block has weight 0 and `counts` is false. Returns the factor for u.
  HOMOTOPT_HD double add_limit_block(double block_max, double block_top, bool& counts) {
    counts = false;
    if (block_top == -kInf) return 1.0;
    if (block_max == m && block_top == top) {
      counts = true;
      return 1.0;
    }
    if (block_max > m || (block_max == m && block_top > top)) {
      const double c = s > 0.0 ? 0.0 : 1.0;  // every earlier weight is exactly 0 against the limit
      m = block_max;
      top = block_top;
      s = 0.0;
      counts = true;
      return c;
    }
    return 1.0;
  }

  // The weight exp(a - m) of a term relative to this state's finite max: 0 for a = -inf, and 0 for every
  // term of an empty state (a - m is NaN there, and exp_nonpositive(NaN) is 0). Not for limit mode.
  HOMOTOPT_HD double weight(double a) const { return exp_nonpositive(a - m); }

  // The weight of a term of value f in limit mode: exactly 1 for the ties of top, 0 otherwise.
  HOMOTOPT_HD double limit_weight(double value) const { return value == top ? 1.0 : 0.0; }

  // Either weight: for loops that run once over a few terms (per-element branch).
  HOMOTOPT_HD double weight_of(double a, double value) const { return limit() ? limit_weight(value) : weight(a); }

  // Whether this state ranks below `other` (the order merges keep: m, then top for the same infinite m).
  HOMOTOPT_HD bool ranks_below(const LseState& other) const {
    return m < other.m || (m == other.m && top < other.top);
  }

  // The factor that moves this state's sums to a state `to` of rank at least this one's (as merge does
  // for the other state), 0 for a state with s == 0, whose u is all zeros or never written. Against a
  // limit state: 1 for the same (m, top), else 0.
  HOMOTOPT_HD double factor_to(const LseState& to) const {
    if (!(s > 0.0)) return 0.0;
    if (to.limit()) return m == to.m && top == to.top ? 1.0 : 0.0;
    return lse_rescale(m, to.m);
  }
};

struct PowerSummary {
  double log_mean_exp;  // log( mean exp(N f) ) over the counted terms
  double log_scale;     // log N + log_mean_exp
};

// s == 0 (every term has weight 0, or none was counted) gives -inf for both: the mean of exp(N f) is 0.
// A limit state (m = +-inf, s > 0) gives +-inf for both, the rule above.
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
