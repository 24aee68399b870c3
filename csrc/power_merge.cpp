// Front end of power_merge.hpp: checks the arguments once, then the device's backend.
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend.hpp"
#include "homotopt/error.hpp"

namespace homotopt {

void power_merge_sample(const PowerMergeArgs& args, const std::vector<std::int32_t>& rows, const Device& device,
                        void* stream) {
  HOMOTOPT_CHECK(args.J >= 1, "f: expected at least one value, got J = ", args.J);
  HOMOTOPT_CHECK_TYPE(args.dtype == DType::float32 || args.dtype == DType::float64,
                      "f: expected dtype float32 or float64, got ", dtype_name(args.dtype));
  HOMOTOPT_CHECK(std::isfinite(args.power) && args.power >= 0.0, "power: expected a finite N >= 0, got ", args.power);
  HOMOTOPT_CHECK(args.sign == 1.0 || args.sign == -1.0, "sign: expected +1 (values are fitness) or -1 (losses), got ",
                 args.sign);
  HOMOTOPT_CHECK(args.groups >= 1, "state: expected (G, 4) with G >= 1, got G = ", args.groups);
  HOMOTOPT_CHECK(args.f != nullptr, "f: expected a (", args.J, ",) array, got a null pointer");
  HOMOTOPT_CHECK(args.state != nullptr, "state: expected a (", args.groups, ", 4) float64 table, got a null pointer");
  HOMOTOPT_CHECK(args.coefficients != nullptr, "coefficients: expected a (", args.groups,
                 ", 2) float64 table, got a null pointer");
  HOMOTOPT_CHECK(args.weights != nullptr, "weights: expected a (", args.J, ",) array, got a null pointer");
  HOMOTOPT_CHECK(!rows.empty(), "rows: expected at least one row of the state");
  HOMOTOPT_CHECK(rows.size() <= static_cast<std::size_t>(args.groups), "rows: expected at most G = ", args.groups,
                 " rows, got ", rows.size());
  std::vector<bool> seen(static_cast<std::size_t>(args.groups), false);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    HOMOTOPT_CHECK(rows[i] >= 0 && rows[i] < args.groups, "rows[", i, "]: expected a row in [0, ", args.groups,
                   "), got ", rows[i]);
    // A repeated row would merge the sample into it twice (on CUDA, batches of rows run in turn).
    HOMOTOPT_CHECK(!seen[static_cast<std::size_t>(rows[i])], "rows[", i, "]: row ", rows[i], " appears twice");
    seen[static_cast<std::size_t>(rows[i])] = true;
  }
  dispatch::kernel(&Kernels::power_merge_sample, device, "power_merge_sample")(args, rows, device.index, stream);
}

void power_merge_ranks(const PowerMergeRanksArgs& args, const Device& device, void* stream) {
  HOMOTOPT_CHECK(args.ranks >= 1, "ranks: expected W >= 1, got ", args.ranks);
  HOMOTOPT_CHECK(args.groups >= 1, "state: expected (G, 4) with G >= 1, got G = ", args.groups);
  HOMOTOPT_CHECK(args.rank >= 0 && args.rank < args.ranks, "rank: expected a rank in [0, ", args.ranks, "), got ",
                 args.rank);
  HOMOTOPT_CHECK(args.gathered != nullptr && args.merged != nullptr && args.factors != nullptr,
                 "gathered, merged, factors: expected (W, G, 4), (G, 4) and (G,) float64 tables, got a null pointer");
  dispatch::kernel(&Kernels::power_merge_ranks, device, "power_merge_ranks")(args, device.index, stream);
}

void power_step(const PowerStepArgs& args, const std::vector<double>& powers, const std::vector<double>& alphas,
                const Device& device, void* stream) {
  HOMOTOPT_CHECK(args.groups >= 1, "state: expected (G, 4) with G >= 1, got G = ", args.groups);
  HOMOTOPT_CHECK(args.state != nullptr, "state: expected a (", args.groups, ", 4) float64 table, got a null pointer");
  HOMOTOPT_CHECK(args.coefficients != nullptr, "coefficients: expected a (", args.groups,
                 ", 2) float64 table, got a null pointer");
  const int rule = static_cast<int>(args.rule);
  HOMOTOPT_CHECK(rule >= 0 && rule <= 2, "step_rule: expected raw, log or unit (0..2), got ", rule);
  HOMOTOPT_CHECK(args.rule != StepRule::unit || args.norms != nullptr,
                 "norms: expected the (G,) norms of u with step_rule unit, got a null pointer");
  HOMOTOPT_CHECK(powers.size() == static_cast<std::size_t>(args.groups) &&
                     alphas.size() == static_cast<std::size_t>(args.groups),
                 "powers, alphas: expected G = ", args.groups, " numbers each, got ", powers.size(), " and ",
                 alphas.size());
  for (std::size_t g = 0; g < powers.size(); ++g) {
    HOMOTOPT_CHECK(std::isfinite(powers[g]) && powers[g] >= 0.0, "powers[", g, "]: expected a finite N >= 0, got ",
                   powers[g]);
    HOMOTOPT_CHECK(std::isfinite(alphas[g]) && alphas[g] >= 0.0, "alphas[", g,
                   "]: expected a finite rate >= 0 (a scheduler may reach 0), got ", alphas[g]);
  }
  dispatch::kernel(&Kernels::power_step, device, "power_step")(args, powers, alphas, device.index, stream);
}

}  // namespace homotopt
