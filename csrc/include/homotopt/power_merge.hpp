// One sample's merge into the scalar part of the mergeable power-gradient state (lse.hpp), in one call:
// homotopt.torch.ProgPowerHP calls it once per sample and distinct power, instead of ~50 small torch ops.
//
// Input: the sample's J values (float32 or float64) whose fitness is f_j = sign * value_j (sign = +1: the
// values are fitness; -1: they are losses), `counted` (J bytes, 0 = not counted; nullptr = the omit rule
// of nan_policy="omit": a pair counts unless its fitness is NaN or +inf), the power N, and the rows `rows`
// of a (G, 4) float64 state table, row = (m, s, count, top) as lse.hpp's LseState plus the counted pairs.
// The sample's state is built with LseState (add_block, or add_limit_block where the largest exponent
// N f overflowed: the N -> infinity limit), its weights w_j with weight / limit_weight (0 for a pair not
// counted or of f = -inf), s_k = sum w_j in the order j = 0, 1, ... (every backend). It merges into row
// rows[0] with LseState::merge, and the merged row is written to every row of `rows`: the rows of one
// call are tied (ProgPowerHP's groups of one power merge the same samples from the empty state).
//
// Output: coefficients[r] = (a, b) for every r in rows, the factors of u <- a u + b g (power_accumulate.hpp)
// with b = 0 for an empty sample (s_k = 0: nothing counted, or every f = -inf), and
// weights[j] = sign b w_j in the values' dtype, the factor of value j's gradient in u (the backward's
// weights: d(sum_j b w_j f_j) / d value_j).
// Every array lives in the memory of `device` (host memory for the CPU): a GPU caller never waits.
//
// With several processes, power_merge_ranks merges the ranks' tables (gathered: W x G x 4) group by group
// with LseState::merge (rank order), writes the merged rows, and this rank's factor per group, by which
// its u enters the sum over ranks (u = sum_r factor_r u_r, factor_to of lse.hpp); the merged s is the
// same sum of the ranks' s, so u / s stays consistent whatever the limit mode.
//
// After the samples (and the ranks) are merged, power_step turns each group's row into the factor of
// its step p = mu + e_g u (the direction is d = u / s):
//   e_g = step_multiplier(rule, alpha_g, N_g, log_scale_g, ||d||_g) / s_g     (runner.hpp, lse.hpp)
// with log_scale_g from power_summary of the row, and e_g = 0 when s_g = 0 (nothing counted, or every
// counted f = -inf: no direction) or when `found` is set (a non-finite u: nothing moves).
#pragma once

#include <cstdint>
#include <vector>

#include "homotopt/array.hpp"
#include "homotopt/lse.hpp"
#include "homotopt/macros.hpp"
#include "homotopt/runner.hpp"

namespace homotopt {

struct PowerMergeArgs {
  const void* f;                // (J,) values, dtype `dtype` (fitness sign * value)
  const std::uint8_t* counted;  // (J,) or nullptr (the omit rule: NaN and +inf fitness not counted)
  std::int64_t J;
  DType dtype;                  // float32 or float64: f and weights
  double power;                 // N >= 0, finite
  double* state;                // (G, 4) float64, rows[] updated in place
  std::int64_t groups;          // G
  double* coefficients;         // (G, 2) float64, rows[] written
  void* weights;                // (J,) dtype `dtype`, written
  double sign = 1.0;            // +1 or -1
};

// The fitness f_j = sign * value_j.
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE double power_merge_fitness(const PowerMergeArgs& p, std::int64_t j) {
  return p.sign * static_cast<double>(static_cast<const T*>(p.f)[j]);
}

// Whether pair j (of fitness f) counts: the mask, or without one the omit rule (not NaN, not +inf).
HOMOTOPT_HD HOMOTOPT_INLINE bool power_merge_counted(const PowerMergeArgs& p, std::int64_t j, double f) {
  return p.counted != nullptr ? p.counted[j] != 0 : !(f != f || f == kInf);
}

// The exponent of pair j (power_exponent), -inf where it is not counted.
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE double power_merge_exponent(const PowerMergeArgs& p, std::int64_t j) {
  const double f = power_merge_fitness<T>(p, j);
  return power_merge_counted(p, j, f) ? power_exponent(p.power, f) : -kInf;
}

// The fitness f_j where the pair takes part in a limit (counted, f > -inf), else -inf.
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE double power_merge_top_value(const PowerMergeArgs& p, std::int64_t j) {
  const double f = power_merge_fitness<T>(p, j);
  return power_merge_counted(p, j, f) && f > -kInf ? f : -kInf;
}

// 1 where pair j counts, else 0 (the count is a sum of these: exact in any order below 2^53).
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE double power_merge_count_of(const PowerMergeArgs& p, std::int64_t j) {
  return power_merge_counted(p, j, power_merge_fitness<T>(p, j)) ? 1.0 : 0.0;
}

// The sample's state from its largest exponent mb, largest counted value top and (for the weights) the
// limit flag: finite mb -> add_block, else add_limit_block (counts false: every weight 0).
HOMOTOPT_HD inline LseState power_merge_sample_state(double mb, double top, bool& limit, bool& counts) {
  LseState k;
  limit = !(mb > -kInf && mb < kInf);
  if (limit) {
    k.add_limit_block(mb, top, counts);
  } else {
    k.add_block(mb);
    counts = true;
  }
  return k;
}

// w_j of the sample state k (before the sum).
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE double power_merge_weight(const PowerMergeArgs& p, const LseState& k, bool limit,
                                                      bool counts, std::int64_t j) {
  if (!counts) return 0.0;
  if (!limit) return k.weight(power_merge_exponent<T>(p, j));
  const double v = power_merge_top_value<T>(p, j);
  return v > -kInf ? k.limit_weight(v) : 0.0;
}

// Merges the sample state k (s_k summed, n counted pairs) into rows[0], writes every row and its (a, b);
// returns b.
HOMOTOPT_HD inline double power_merge_rows(const PowerMergeArgs& p, const std::int32_t* rows, std::int32_t num_rows,
                                           const LseState& k, double n) {
  double* r0 = p.state + 4 * static_cast<std::int64_t>(rows[0]);
  LseState st{r0[0], r0[1], r0[3]};
  const LseScale c = st.merge(k);
  const double b = k.s > 0.0 ? c.other : 0.0;
  const double count = r0[2] + n;
  for (std::int32_t i = 0; i < num_rows; ++i) {
    double* r = p.state + 4 * static_cast<std::int64_t>(rows[i]);
    r[0] = st.m;
    r[1] = st.s;
    r[2] = count;
    r[3] = st.top;
    p.coefficients[2 * static_cast<std::int64_t>(rows[i])] = c.self;
    p.coefficients[2 * static_cast<std::int64_t>(rows[i]) + 1] = b;
  }
  return b;
}

struct PowerMergeRanksArgs {
  const double* gathered;  // (W, G, 4): every rank's rows (m, s, count, top)
  std::int64_t ranks;      // W
  std::int64_t groups;     // G
  std::int64_t rank;       // this rank, in [0, W)
  double* merged;          // (G, 4) written
  double* factors;         // (G,) written: this rank's factor of u per group
};

// One group of power_merge_ranks.
HOMOTOPT_HD inline void power_merge_ranks_group(const PowerMergeRanksArgs& p, std::int64_t g) {
  auto state = [&](std::int64_t r) {
    const double* row = p.gathered + 4 * (r * p.groups + g);
    return LseState{row[0], row[1], row[3]};
  };
  LseState merged;
  double count = 0.0;
  for (std::int64_t r = 0; r < p.ranks; ++r) {
    merged.merge(state(r));
    count += p.gathered[4 * (r * p.groups + g) + 2];
  }
  double s = 0.0;
  for (std::int64_t r = 0; r < p.ranks; ++r) s += state(r).factor_to(merged) * state(r).s;
  double* out = p.merged + 4 * g;
  out[0] = merged.m;
  out[1] = s;
  out[2] = count;
  out[3] = merged.top;
  p.factors[g] = state(p.rank).factor_to(merged);
}

struct PowerStepArgs {
  const double* state;        // (G, 4) rows (m, s, count, top)
  std::int64_t groups;        // G
  StepRule rule;
  const double* norms;        // (G,) ||u||_g (rule unit), or nullptr
  const std::uint8_t* found;  // one byte, or nullptr: nonzero makes every e_g = 0
  double* coefficients;       // (G, 2) float64, written (1, e_g): power_accumulate's (a, b)
};

// e_g of one row (m, s, count, top) at power N and rate alpha; `norm` = ||u||_g (unit rule).
HOMOTOPT_HD inline double power_step_factor(StepRule rule, double power, double alpha, const double* row,
                                            double norm) {
  const double s = row[1];
  if (!(s > 0.0)) return 0.0;
  const PowerSummary summary = power_summary(power, row[0], s, static_cast<std::int64_t>(row[2]));
  return step_multiplier(rule, alpha, power, summary.log_scale, norm / s) / s;
}

// Checks the arguments (homotopt::Error naming the argument), then the device's backend.
// On CUDA the work is enqueued on `stream` (a cudaStream_t) and the call returns at once.
HOMOTOPT_API void power_merge_sample(const PowerMergeArgs& args, const std::vector<std::int32_t>& rows,
                                     const Device& device, void* stream = nullptr);

// power_merge_ranks for every group.
HOMOTOPT_API void power_merge_ranks(const PowerMergeRanksArgs& args, const Device& device, void* stream = nullptr);

// power_step for every group: powers and alphas are G host numbers (N_g >= 0, alpha_g >= 0, finite).
HOMOTOPT_API void power_step(const PowerStepArgs& args, const std::vector<double>& powers,
                             const std::vector<double>& alphas, const Device& device, void* stream = nullptr);

}  // namespace homotopt
