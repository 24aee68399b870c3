// The CPU backend's table (backend.hpp): every op has a CPU kernel.
#include <cstring>

#include "backend.hpp"
#include "runner_impl.hpp"

namespace homotopt::cpu {

void copy_to_device(const ArrayView& dst, const void* src, std::size_t bytes) {
  std::memcpy(dst.data, src, bytes);
}

namespace {
// The table's signature (device index and stream have no meaning on the CPU).
void power_accumulate_entry(const std::vector<PowerAccumulateTensor>& tensors, int /*device*/,
                            const double* coefficients, double* flag, void* /*stream*/) {
  power_accumulate(tensors, coefficients, flag);
}
}  // namespace

const Kernels& kernels() {
  static const Kernels table{
      "cpu",
      reduce_power,
      power_weights,
      phase_retrieval_reduce,
      phase_retrieval_fitness,
      two_layer_relu_fitness,
      toy1d_fitness,
      random_fill,
      random_indices,
      o2nc_update,
      o2nc_update_device,
      make_runner,
      power_accumulate_entry,
      copy_to_device,
  };
  return table;
}

}  // namespace homotopt::cpu
