// CUDA backend of o2nc.hpp: the multi-tensor update, with the step's scalars in device memory.
//
// Per call, on one stream and without the host: (check_finite) one finiteness launch per batch of
// tensors, each block folding the first non-finite position it sees into state.pending_nonfinite
// (as ~position, by atomicMax, so that 0 means none); then one update launch per batch. Each update block's thread 0 reads the state: a
// pending non-finite gradient skips the block, otherwise s = o2nc_scale(seed, step) (or the given s)
// and the coefficients of the block's group, shared with the block. The last block of the last launch
// to finish (a counter in the state) publishes found_inf, s and first_nonfinite, resets the scratch,
// and advances step when the step was applied. So a captured graph of these launches replays step
// after step: the tensor table is in the kernel parameters, everything that changes is in the state.
// Work to threads: o2nc_plan.hpp. Builds of this file use --fmad=false (CMakeLists.txt): no product is
// fused into a sum unless the shared math writes fma, as on the CPU (-ffp-contract=off), so s, the
// coefficients and every element are bit for bit the CPU backend's.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "backend.hpp"
#include "launch.cuh"
#include "o2nc_plan.hpp"
#include "workspace.cuh"

namespace homotopt::cuda {
namespace {

using detail::kO2ncThreads;
using detail::O2ncBatch;
using detail::O2ncPlan;
using detail::O2ncSlot;
constexpr std::uint64_t kNone = O2ncDeviceState::kNone;

// Launch parameters: up to 64 tensors in the classic 4 KB; calls with more take the large table
// (CUDA 12.1+ allows 32 KB of kernel parameters on every architecture it supports).
using SmallBatch = O2ncBatch<64, 16>;
#if CUDART_VERSION >= 12010
using LargeBatch = O2ncBatch<448, 64>;
#else
using LargeBatch = SmallBatch;
#endif
static_assert(sizeof(SmallBatch) + 64 <= 4096, "the small table must fit in 4 KB of kernel parameters");
static_assert(sizeof(LargeBatch) + 64 <= 32764, "the large table must fit in 32 KB of kernel parameters");

struct UpdateOptions {
  O2ncScaling scaling;
  bool has_scale;     // use `scale` instead of the draw
  bool finalize;      // the call's last update launch: its last block publishes the results
  double scale;
};

template <class Batch>
__global__ void __launch_bounds__(kO2ncThreads)
    finite_kernel(const __grid_constant__ Batch batch, O2ncDeviceState* state) {
  const int block = static_cast<int>(blockIdx.x);
  const O2ncSlot& s = batch.slot[detail::slot_of(batch.slot, batch.slots, block)];
  std::int64_t begin, end;
  detail::o2nc_chunk_range(s, block, begin, end);
  const int thread = static_cast<int>(threadIdx.x);
  const std::int64_t k = detail::o2nc_first_nonfinite_chunk(s, begin, end, thread);
  if (k >= 0)  // rare: the smallest position wins, so "raise" names the first one, as on the CPU
    atomicMax(reinterpret_cast<unsigned long long*>(&state->pending_nonfinite),
              ~static_cast<unsigned long long>(s.offset + begin + k));
}

// What thread 0 works out for its block.
struct BlockSetup {
  int slot;
  bool skip;
  bool decay;
  double scale;
  O2ncCoefficients<float> c32;
  O2ncCoefficients<double> c64;
};

template <class Batch>
__global__ void __launch_bounds__(kO2ncThreads)
    update_kernel(const __grid_constant__ Batch batch, O2ncDeviceState* state, UpdateOptions opt) {
  __shared__ BlockSetup setup;
  const int block = static_cast<int>(blockIdx.x);
  const bool has_work = block < batch.blocks;  // the finalizing launch of an empty call has one idle block
  if (threadIdx.x == 0) {
    // The state was last written by earlier launches on this stream (or by the caller): plain loads.
    setup.skip = state->pending_nonfinite != 0;
    setup.scale = opt.has_scale ? opt.scale : o2nc_scale(state->seed, state->step, opt.scaling);
    if (has_work) {
      setup.slot = detail::slot_of(batch.slot, batch.slots, block);
      const O2ncHyper& h = batch.hyper[batch.slot[setup.slot].group];
      setup.decay = h.weight_decay != 0.0;
      if (batch.slot[setup.slot].dtype == static_cast<std::uint8_t>(DType::float64))  // float arithmetic
        setup.c64 = o2nc_coefficients<double>(h, setup.scale);                       // for the others
      else
        setup.c32 = o2nc_coefficients<float>(h, setup.scale);
    }
  }
  __syncthreads();
  if (has_work && !setup.skip) {
    // Copies in registers: the compiler cannot tell that the stores to x and D (generic pointers) miss
    // the shared setup, and would reload it after each store.
    const O2ncSlot s = batch.slot[setup.slot];
    std::int64_t begin, end;
    detail::o2nc_chunk_range(s, block, begin, end);
    const int thread = static_cast<int>(threadIdx.x);
    if (s.dtype != static_cast<std::uint8_t>(DType::float64)) {
      const O2ncCoefficients<float> c = setup.c32;
      if (setup.decay) detail::o2nc_update_chunk<true>(s, begin, end, thread, c);
      else detail::o2nc_update_chunk<false>(s, begin, end, thread, c);
    } else {
      const O2ncCoefficients<double> c = setup.c64;
      if (setup.decay) detail::o2nc_update_chunk<true>(s, begin, end, thread, c);
      else detail::o2nc_update_chunk<false>(s, begin, end, thread, c);
    }
  }
  if (!opt.finalize || threadIdx.x != 0) return;
  // Thread 0 read seed, step and pending_nonfinite before the barrier above; the fence orders those
  // reads before its count, so the block that counts last sees every block done reading the state.
  __threadfence();
  const unsigned done = atomicAdd(&state->blocks_done, 1u);
  if (done + 1 != gridDim.x) return;
  __threadfence();
  state->found_inf = setup.skip ? 1u : 0u;
  state->scale = setup.scale;
  state->first_nonfinite = setup.skip ? ~state->pending_nonfinite : kNone;
  state->pending_nonfinite = 0;
  state->blocks_done = 0;
  if (!setup.skip) state->step += 1u;
}

template <class Batch>
void launch_plan(const O2ncPlan& plan, O2ncDeviceState* state, UpdateOptions opt, bool check_finite,
                 cudaStream_t stream) {
  const auto batch = std::make_unique<Batch>();  // the large table is ~24 KB: off the caller's stack
  const std::size_t batches = plan.batches.size();
  if (check_finite) {
    for (std::size_t b = 0; b < batches; ++b) {
      detail::o2nc_fill_batch(plan, b, *batch);
      launch(finite_kernel<Batch>, static_cast<unsigned>(batch->blocks), kO2ncThreads, stream, *batch, state);
    }
  }
  // A call without elements still makes one launch of one idle block: it publishes the results and
  // advances step, as the CPU path's counter advances.
  const std::size_t launches = std::max<std::size_t>(batches, 1);
  for (std::size_t b = 0; b < launches; ++b) {
    if (b < batches) detail::o2nc_fill_batch(plan, b, *batch);
    opt.finalize = b + 1 == launches;
    launch(update_kernel<Batch>, std::max(static_cast<unsigned>(batch->blocks), 1u), kO2ncThreads, stream, *batch,
           state, opt);
  }
}

// Writes a fresh state (a kernel parameter) to device memory: a launch rather than a copy from host
// memory that a later call could overwrite before the copy ran.
__global__ void set_state_kernel(O2ncDeviceState* state, O2ncDeviceState value) { *state = value; }

bool capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  HOMOTOPT_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
  return status != cudaStreamCaptureStatusNone;
}

O2ncDeviceState read_state(const O2ncDeviceState* state, cudaStream_t stream) {
  O2ncDeviceState host;
  HOMOTOPT_CUDA_CHECK(cudaMemcpyAsync(&host, state, sizeof host, cudaMemcpyDeviceToHost, stream));
  HOMOTOPT_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

double read_element(const void* data, DType dtype, std::int64_t index) {
  const std::size_t size = dispatch::item_size(dtype);
  unsigned char bytes[8];
  HOMOTOPT_CUDA_CHECK(cudaMemcpy(bytes, static_cast<const unsigned char*>(data) + index * static_cast<std::int64_t>(size),
                                 size, cudaMemcpyDeviceToHost));
  if (size == 2) {
    std::uint16_t h;
    std::memcpy(&h, bytes, 2);
    return dtype == DType::float16 ? detail::float_of(Float16{h}) : detail::float_of(BFloat16{h});
  }
  if (dtype == DType::float32) {
    float v;
    std::memcpy(&v, bytes, 4);
    return v;
  }
  double v;
  std::memcpy(&v, bytes, 8);
  return v;
}

// The "raise" error for the gradient at `position` of the concatenated grads.
[[noreturn]] void raise_nonfinite(const std::vector<O2ncTensor>& tensors, std::uint64_t position) {
  HOMOTOPT_ASSERT(position != kNone);
  auto element = static_cast<std::int64_t>(position);
  std::size_t k = 0;
  while (k < tensors.size() && element >= tensors[k].n) element -= tensors[k++].n;
  HOMOTOPT_ASSERT(k < tensors.size());
  dispatch::o2nc_raise_nonfinite(k, element, read_element(tensors[k].g, tensors[k].dtype, element));
}

}  // namespace

void o2nc_update_device(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                        const O2ncOptions& options, O2ncDeviceState* state, int device) {
  DeviceGuard guard(device);
  const auto stream = reinterpret_cast<cudaStream_t>(options.stream);
  const bool raise = options.check_finite && options.nan_policy == O2ncNanPolicy::raise;
  HOMOTOPT_CHECK(!raise || !capturing(stream),
                 "nan_policy: \"raise\" reads the result on the host, which a CUDA graph capture cannot do; use "
                 "\"skip\" (the step is skipped on the device and found_inf set)");
  UpdateOptions opt{options.scaling, options.scale.has_value(), false, options.scale.value_or(0.0)};
  if (tensors.size() <= static_cast<std::size_t>(SmallBatch::kMaxSlots)) {
    launch_plan<SmallBatch>(detail::o2nc_plan(tensors, groups, SmallBatch::kMaxSlots, SmallBatch::kMaxGroups), state,
                            opt, options.check_finite, stream);
  } else {
    launch_plan<LargeBatch>(detail::o2nc_plan(tensors, groups, LargeBatch::kMaxSlots, LargeBatch::kMaxGroups), state,
                            opt, options.check_finite, stream);
  }
  if (raise) {
    const O2ncDeviceState result = read_state(state, stream);
    if (result.found_inf) raise_nonfinite(tensors, result.first_nonfinite);
  }
}

O2ncResult o2nc_update(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                       const O2ncOptions& options, int device) {
  DeviceGuard guard(device);
  const auto stream = reinterpret_cast<cudaStream_t>(options.stream);
  HOMOTOPT_CHECK(!capturing(stream), "o2nc_update: CUDA arrays under graph capture need o2nc_update_device (the "
                 "step counter in device memory); this call synchronizes to return s and found_inf");
  // The temporary state lives in the stream's workspace (workspace.cuh: no allocation per call), set by
  // a launch and read back into the pinned block with the call's one wait.
  WorkspaceLayout layout;
  const std::size_t state_at = layout.add<O2ncDeviceState>(1);
  const WorkspaceLease work(stream, layout.bytes(), sizeof(O2ncDeviceState));
  auto* state = work.device<O2ncDeviceState>(state_at);
  launch(set_state_kernel, 1u, 1u, stream, state, o2nc_device_state(options.seed, options.step));
  O2ncOptions skip = options;
  skip.nan_policy = O2ncNanPolicy::skip;
  o2nc_update_device(tensors, groups, skip, state, device);
  HOMOTOPT_CUDA_CHECK(
      cudaMemcpyAsync(work.host<unsigned char>(), state, sizeof(O2ncDeviceState), cudaMemcpyDeviceToHost, stream));
  HOMOTOPT_CUDA_CHECK(cudaStreamSynchronize(stream));
  O2ncDeviceState result;
  std::memcpy(&result, work.host<const unsigned char>(), sizeof result);
  if (result.found_inf && options.nan_policy == O2ncNanPolicy::raise)
    raise_nonfinite(tensors, result.first_nonfinite);
  return {result.scale, result.found_inf != 0};
}

}  // namespace homotopt::cuda
