// The CPU backend's table (backend.hpp's Kernels) for the capability this file is compiled for (once per
// capability, cmake/cpu_capabilities.cmake): the addresses of the kernels defined in the other files of
// this directory, in homotopt::cpu::<capability>. Every op has a CPU kernel. Constant-initialized: no
// code runs at load. capability.cpp returns one capability's table from cpu::kernels().
#include <cstring>

#include "cpu/kernels.hpp"

namespace HOMOTOPT_CPU_NS {
namespace {

void copy_to_device(const ArrayView& dst, const void* src, std::size_t bytes) { std::memcpy(dst.data, src, bytes); }

// The table's signature (device index and stream have no meaning on the CPU).
void power_accumulate_entry(const std::vector<PowerAccumulateTensor>& tensors, int /*device*/,
                            const double* coefficients, double* flag, void* /*stream*/) {
  power_accumulate(tensors, coefficients, flag);
}

void random_perturb_entry(const std::vector<PerturbTensor>& tensors, int /*device*/, const RandomKey& key,
                          void* /*stream*/) {
  random_perturb(tensors, key);
}

void power_merge_sample_entry(const PowerMergeArgs& args, const std::vector<std::int32_t>& rows, int /*device*/,
                              void* /*stream*/) {
  power_merge_sample(args, rows);
}

void power_merge_ranks_entry(const PowerMergeRanksArgs& args, int /*device*/, void* /*stream*/) {
  power_merge_ranks(args);
}

void power_step_entry(const PowerStepArgs& args, const std::vector<double>& powers, const std::vector<double>& alphas,
                      int /*device*/, void* /*stream*/) {
  power_step(args, powers, alphas);
}

}  // namespace

extern const Kernels kKernels = {
    "cpu",  // the backend's name in messages; the capability's is cpu::capability()
    &reduce_power,
    &power_weights,
    &phase_retrieval_reduce,
    &phase_retrieval_fitness,
    &two_layer_relu_fitness,
    &toy1d_fitness,
    &random_fill,
    &random_indices,
    &o2nc_update,
    &o2nc_update_device,
    &make_runner,
    &power_accumulate_entry,
    &random_perturb_entry,
    &power_merge_sample_entry,
    &power_merge_ranks_entry,
    &power_step_entry,
    &copy_to_device,
    nullptr,  // power_gradient: the front end's reduce_power + host result is the CPU's one-shot form
    nullptr,  // phase_retrieval_power_gradient: likewise, with phase_retrieval_reduce
};

}  // namespace HOMOTOPT_CPU_NS
