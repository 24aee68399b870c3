// The CUDA backend's table (backend.hpp). Null entries: ops without a CUDA kernel yet (dispatch::kernel
// answers them with a clear error).
#include "backend.hpp"
#include "runner_impl.hpp"

namespace homotopt::cuda {

const Kernels& kernels() {
  static const Kernels table{
      "cuda",
      reduce_power,
      power_weights,
      phase_retrieval_reduce,
      nullptr,  // phase_retrieval_fitness
      nullptr,  // two_layer_relu_fitness
      nullptr,  // toy1d_fitness
      random_fill,
      nullptr,  // random_indices
      o2nc_update,
      o2nc_update_device,
      make_runner,
      power_accumulate,
      random_perturb,
      power_merge_sample,
      power_merge_ranks,
      power_step,
      copy_to_device,
      power_gradient,
      phase_retrieval_power_gradient,
  };
  return table;
}

}  // namespace homotopt::cuda
