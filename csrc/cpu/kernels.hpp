// Internal: the CPU backend's kernels, compiled once per CPU capability (cmake/cpu_capabilities.cmake),
// and the choice of one capability's table of them for cpu::kernels() (backend.hpp).
//
// A capability's translation units (built with HOMOTOPT_CPU_CAPABILITY=<name>) declare and define the
// kernels in homotopt::cpu::<name>; kernel_table.cpp collects their addresses in that capability's
// Kernels table (backend.hpp's struct, the one every backend fills). capability.cpp chooses one table per
// process and returns it from cpu::kernels(), the dispatch point's CPU table (docs/design.md, "CPU
// capabilities").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend.hpp"
#include "runner_impl.hpp"

namespace homotopt::cpu {

// The active capability's name ("baseline", "avx2", "avx512" or "native"), chosen once, at first use
// (with cpu::kernels()): HOMOTOPT_CPU_CAPABILITY if set (an Error naming the value if this build lacks
// it or this CPU cannot run it), else the best one the CPU supports.
const char* capability();
// The capabilities compiled into this build, baseline first.
std::vector<std::string> compiled_capabilities();

}  // namespace homotopt::cpu

#if defined(HOMOTOPT_CPU_CAPABILITY)
#include "cpu/capability_namespace.hpp"
namespace HOMOTOPT_CPU_NS {

// The table's entries (the shared comments are on backend.hpp's Kernels).
void reduce_power(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                  NanPolicy policy, PowerState::Parts& parts, double* u);
PowerWeightsStats power_weights(const ArrayView& values, double power, NanPolicy policy,
                                const ArrayView& weights);
void phase_retrieval_reduce(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                            const ArrayView& rows, const SampleSpec& spec, PowerState::Parts& parts,
                            double* u);
void phase_retrieval_fitness(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                             const ArrayView& out);
void two_layer_relu_fitness(const ArrayView& W, const ArrayView& X, const ArrayView& y, std::int64_t k,
                            const ArrayView& out);
void toy1d_fitness(const ArrayView& w, const ArrayView& eps, const ArrayView& out);
void random_fill(const ArrayView& out, Distribution distribution, const RandomKey& key,
                 std::uint64_t offset);
void random_indices(const ArrayView& out, std::uint64_t n, const RandomKey& key, std::uint64_t offset);
void random_perturb(const std::vector<PerturbTensor>& tensors, const RandomKey& key);
void power_merge_sample(const PowerMergeArgs& args, const std::vector<std::int32_t>& rows);
void power_merge_ranks(const PowerMergeRanksArgs& args);
void power_step(const PowerStepArgs& args, const std::vector<double>& powers, const std::vector<double>& alphas);
O2ncResult o2nc_update(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                       const O2ncOptions& options, int device);
// The state path on the CPU: seed and step read from `state` (host memory), the results written back
// there (O2ncDeviceState), as o2nc_update_device documents; done when it returns.
void o2nc_update_device(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                        const O2ncOptions& options, O2ncDeviceState* state, int device);
std::unique_ptr<RunnerImpl> make_runner(const ProblemViews& problem, const RunConfig& config, const ArrayView& mu0);
void power_accumulate(const std::vector<PowerAccumulateTensor>& tensors, const double* coefficients, double* flag);

// O2NC's parts (cpu/o2nc.cpp), over the concatenated elements of `tensors` (`total` of them).
// o2nc_first_nonfinite: the (tensor, element) of the first NaN or inf gradient, or (-1, -1) when all are
// finite.
struct O2ncPosition {
  std::int64_t tensor = -1, element = -1;
  double value = 0.0;
};
O2ncPosition o2nc_first_nonfinite(const std::vector<O2ncTensor>& tensors);
// The step in one parallel region: with check_finite, each thread first checks its share of the grads,
// all threads agree at a barrier, and only then (if every gradient is finite) each updates the same
// share (what fits in its cache is read from there). Returns found_inf (nothing was written).
bool o2nc_update(const std::vector<O2ncTensor>& tensors, std::int64_t total,
                 const std::vector<O2ncGroup>& groups, double scale, bool check_finite);

// This capability's table (kernel_table.cpp). Constant-initialized (addresses only): no code of a
// capability runs before capability.cpp has checked that the CPU supports it.
extern const Kernels kKernels;

}  // namespace HOMOTOPT_CPU_NS
#endif
