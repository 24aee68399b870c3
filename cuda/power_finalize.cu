// The one-shot power-gradient result on the device (power_finalize.cuh): the same header functions as
// PowerState::merge_parts and PowerState::result on the host (lse_combine, power_direction,
// power_literal_gradient; LseState::merge and power_summary on the host), one thread per element.
// Compiled with --fmad=false (CMakeLists.txt), as the CPU with -ffp-contract=off: nothing is fused.
#include "common.cuh"
#include "dtype_dispatch.hpp"
#include "power_finalize.cuh"

namespace homotopt::cuda {
namespace {

constexpr int kThreads = 256;

template <class D, class G>
__global__ void finalize_kernel(const double* u, std::int64_t d, LseScale scale, double s, double log_scale,
                                D* direction, G* gradient) {
  const std::int64_t i = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x;
  if (i >= d) return;
  const double dir = power_direction(lse_combine(0.0, u[i], scale), s);  // a fresh state's u_ is 0
  direction[i] = static_cast<D>(dir);
  if (gradient) gradient[i] = static_cast<G>(power_literal_gradient(dir, log_scale));
}

}  // namespace

PowerResultStats write_power_result(const double* u, std::int64_t d, double power, const PowerState::Parts& parts,
                                    const ArrayView& direction, const ArrayView& gradient, cudaStream_t stream) {
  LseState state;  // a fresh PowerState's
  const LseScale scale = state.merge(parts.lse);
  const PowerSummary summary = power_summary(power, state.m, state.s, parts.count);
  visit_float(direction.dtype, [&](auto dt) {
    using D = decltype(dt);
    // Without a gradient output, G = D and the pointer is null.
    const DType gdtype = gradient.empty_view() ? direction.dtype : gradient.dtype;
    visit_float(gdtype, [&](auto gt) {
      using G = decltype(gt);
      G* g = gradient.empty_view() ? nullptr : gradient.ptr<G>();
      launch(finalize_kernel<D, G>, blocks_for(d, kThreads), kThreads, stream, u, d, scale, state.s,
             summary.log_scale, direction.ptr<D>(), g);
    });
  });
  return {summary.log_scale, summary.log_mean_exp, parts.count, parts.omitted};
}

}  // namespace homotopt::cuda
