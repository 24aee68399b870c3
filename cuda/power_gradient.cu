// CUDA backend of the generic power gradient (power_gradient.hpp), the same two passes as the CPU:
//   1. values: blocks reduce their share of the pairs into (m, s) partials (grid-stride, then a tree in
//      shared memory), one small block merges the partials in order;
//   2. gradients: blocks own 256 columns x a fixed set of 256-pair chunks, with the chunk's weights
//      exp(N f - m) in shared memory; a last kernel sums the chunk partials of u in order.
// No float atomics: the grid depends only on the shapes, so results are bitwise the same run to run.
// Bad values raise through an integer atomicMin of the first bad pair (the CPU names the same pair);
// a non-finite u triggers the scan for non-finite gradients, then a rerun with those pairs masked.
// power_weights: the same scan, then the weights softmax(N f) written by one more kernel.
// Per call (issue 15): scratch from the stream's workspace (workspace.cuh, no allocation), one memset and
// the four kernels back to back, one copy of a packed status into pinned memory and one wait; the
// one-shot form then writes its result on the device (power_finalize.cuh) instead of copying u back.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "backend.hpp"
#include "common.cuh"
#include "dtype_dispatch.hpp"
#include "power_finalize.cuh"
#include "workspace.cuh"

namespace homotopt::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kChunk = 256;       // pairs per chunk of the gradient pass
constexpr int kMaxChunkRows = 64;  // grid.y of the gradient pass: at most 64 partial u's
constexpr unsigned long long kNone = std::numeric_limits<unsigned long long>::max();

struct Scan {  // one block's share of pass 1
  LseState lse;
  unsigned long long count, omitted;
};

// The pair's exponent, or +inf when it is excluded, bad or omitted (code says which). An exponent that
// overflowed follows lse.hpp's limit rule (LseState::add and weight_of take the value too).
template <class T>
__device__ double exponent_of(const T* values, std::int64_t p, double power, const std::uint8_t* excluded, int& code) {
  code = 0;
  if (excluded && excluded[p]) {
    code = 1;
    return kInf;
  }
  const double v = static_cast<double>(values[p]);
  if (power_value_is_bad(v)) {
    code = 2;
    return kInf;
  }
  return power_exponent(power, v);
}

template <class T>
__global__ void scan_kernel(const T* values, std::int64_t P, double power, const std::uint8_t* excluded,
                            Scan* partial, unsigned long long* first_bad) {
  __shared__ LseShared<kThreads> lse_shared;
  __shared__ unsigned long long count_shared[kThreads];
  LseState mine;
  unsigned long long count = 0, omitted = 0;
  for (std::int64_t p = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x; p < P;
       p += static_cast<std::int64_t>(gridDim.x) * kThreads) {
    int code;
    const double a = exponent_of(values, p, power, excluded, code);
    if (code == 1 || code == 2) {
      ++omitted;
      if (code == 2) atomicMin(first_bad, static_cast<unsigned long long>(p));
      continue;
    }
    ++count;
    mine.add(a, static_cast<double>(values[p]));
  }
  const LseState merged = block_merge<kThreads>(mine, lse_shared.get());
  const unsigned long long c = block_sum<kThreads>(count, count_shared);
  const unsigned long long o = block_sum<kThreads>(omitted, count_shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = Scan{merged, c, o};
}

// One block merges the pass-1 partials, in order.
__global__ void merge_scan_kernel(const Scan* partial, int blocks, Scan* out) {
  __shared__ LseShared<kThreads> lse_shared;
  __shared__ unsigned long long count_shared[kThreads];
  LseState mine;
  unsigned long long count = 0, omitted = 0;
  for (int b = threadIdx.x; b < blocks; b += kThreads) {
    mine.merge(partial[b].lse);
    count += partial[b].count;
    omitted += partial[b].omitted;
  }
  const LseState merged = block_merge<kThreads>(mine, lse_shared.get());
  const unsigned long long c = block_sum<kThreads>(count, count_shared);
  const unsigned long long o = block_sum<kThreads>(omitted, count_shared);
  if (threadIdx.x == 0) *out = Scan{merged, c, o};
}

// Pass 2: block (x, y) adds w_p grads[p, c] for its 256 columns over the chunks y, y + gridDim.y, ...
// w_p = exp(N f - m), or (f == top) in lse.hpp's limit mode (one branch per pair, while filling w).
template <class T>
__global__ void grads_kernel(const T* values, const T* grads, std::int64_t P, std::int64_t d, double power,
                             const std::uint8_t* excluded, const Scan* scan, double* partial_u) {
  __shared__ double w[kChunk];
  const LseState lse = scan->lse;
  const std::int64_t c = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x;
  double acc = 0.0;
  for (std::int64_t p0 = blockIdx.y * static_cast<std::int64_t>(kChunk); p0 < P;
       p0 += static_cast<std::int64_t>(gridDim.y) * kChunk) {
    const std::int64_t n = P - p0 < kChunk ? P - p0 : kChunk;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += kThreads) {
      int code;
      const double a = exponent_of(values, p0 + i, power, excluded, code);
      // weight 0 and gradient unread for omitted pairs and f = -inf; -1 marks "not read" (as on the CPU).
      const double v = static_cast<double>(values[p0 + i]);
      w[i] = code != 0 || v == -kInf ? -1.0 : lse.weight_of(a, v);
    }
    __syncthreads();
    if (c < d)
      for (int i = 0; i < n; ++i)
        if (w[i] >= 0.0) acc = fma(w[i], static_cast<double>(grads[(p0 + i) * d + c]), acc);
  }
  if (c < d) partial_u[blockIdx.y * d + c] = acc;
}

__global__ void sum_partials_kernel(const double* partial_u, int rows, std::int64_t d, double* u,
                                    unsigned long long* first_nonfinite) {
  const std::int64_t c = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x;
  if (c >= d) return;
  double total = 0.0;
  for (int r = 0; r < rows; ++r) total += partial_u[r * d + c];
  u[c] = total;
  if (!isfinite(total)) atomicMin(first_nonfinite, static_cast<unsigned long long>(c));
}

// Read pairs with a non-finite gradient: marked in `excluded`, the first recorded in first_bad (pair)
// and first_element.
template <class T>
__global__ void find_bad_grads_kernel(const T* values, const T* grads, std::int64_t P, std::int64_t d,
                                      std::uint8_t* excluded, unsigned long long* first_bad) {
  for (std::int64_t p = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x; p < P;
       p += static_cast<std::int64_t>(gridDim.x) * kThreads) {
    const double v = static_cast<double>(values[p]);
    if (isnan(v) || v == kInf || v == -kInf) continue;  // omitted or never read
    for (std::int64_t c = 0; c < d; ++c)
      if (!isfinite(static_cast<double>(grads[p * d + c]))) {
        excluded[p] = 1;
        atomicMin(first_bad, static_cast<unsigned long long>(p));
        break;
      }
  }
}

// power_weights: w_p = weight / s over the pairs (grid-stride), 0 for an omitted pair and for f = -inf,
// as the CPU's pair_weight / pair_limit_weight: lse.hpp's weight_of, then one multiply by 1 / s (the
// scan's s is summed in another order than the CPU's, and this file may fuse N f - m: equal to rounding).
template <class T>
__global__ void weights_kernel(const T* values, std::int64_t P, double power, const Scan* scan, T* weights) {
  const LseState lse = scan->lse;
  const double inv_s = lse.s > 0.0 ? 1.0 / lse.s : 0.0;
  for (std::int64_t p = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x; p < P;
       p += static_cast<std::int64_t>(gridDim.x) * kThreads) {
    int code;
    const double a = exponent_of(values, p, power, nullptr, code);
    const double v = static_cast<double>(values[p]);
    weights[p] = static_cast<T>((code != 0 || v == -kInf ? 0.0 : lse.weight_of(a, v)) * inv_s);
  }
}

std::string pair_name(std::int64_t p, const PairShape& shape, bool two_d) {
  if (!two_d) return detail::concat("k = ", p);
  return detail::concat("(k, j) = (", p / shape.J, ", ", p % shape.J, ")");
}

// What the host reads after the passes, in one copy: the flags (first bad value, first column of u
// that is not finite, first pair with a bad gradient, unused; kNone when none) and the merged scan.
struct Status {
  unsigned long long flags[4];
  Scan scan;
};

// The call's pieces of the workspace (workspace.cuh).
struct Pieces {
  std::size_t status, u, partial, partial_u;
  std::size_t bytes;
};

Pieces lay_out(int scan_blocks, int chunk_rows, std::int64_t d) {
  WorkspaceLayout layout;
  Pieces p{};
  p.status = layout.add<Status>(1);
  p.u = layout.add<double>(static_cast<std::size_t>(d));
  p.partial = layout.add<Scan>(static_cast<std::size_t>(scan_blocks));
  p.partial_u = layout.add<double>(static_cast<std::size_t>(chunk_rows) * static_cast<std::size_t>(d));
  p.bytes = layout.bytes();
  return p;
}

// Copies the status to the pinned block (and u, d doubles, straight into u_host when set) and waits:
// the call's one host synchronization (two on the rare slow path of non-finite gradients).
void read_back(const WorkspaceLease& work, const Status* status, const double* u, double* u_host, std::int64_t d) {
  if (u_host)
    HOMOTOPT_CUDA_CHECK(cudaMemcpyAsync(u_host, u, static_cast<std::size_t>(d) * sizeof(double),
                                        cudaMemcpyDeviceToHost, work.stream()));
  HOMOTOPT_CUDA_CHECK(
      cudaMemcpyAsync(work.host<unsigned char>(), status, sizeof(Status), cudaMemcpyDeviceToHost, work.stream()));
  HOMOTOPT_CUDA_CHECK(cudaStreamSynchronize(work.stream()));
}

// Reduces the pairs: four kernels back to back (the gradient pass reads the scan from device memory), one
// copy of the status (and of u when u_host is set) and one wait; the checks come after it and raise
// before anything is written. With `direction` set (the one-shot form), the result is then written on
// the device (power_finalize.cuh) instead of u coming back. Same kernels, grids and order as the
// CPU-driven version before it: the same bits.
template <class T>
PowerResultStats reduce_typed(const ArrayView& values_view, const ArrayView& grads_view, const PairShape& shape,
                              double power, NanPolicy policy, PowerState::Parts& parts, double* u_host,
                              const ArrayView* direction, const ArrayView* gradient) {
  const cudaStream_t stream = stream_of(values_view);
  const T* values = values_view.ptr<const T>();
  const T* grads = grads_view.ptr<const T>();
  const std::int64_t P = shape.pairs, d = shape.d;
  const bool two_d = values_view.ndim == 2;
  const int scan_blocks = static_cast<int>(std::min<std::int64_t>((P + kThreads - 1) / kThreads, 1024));
  const int chunk_rows = static_cast<int>(std::min<std::int64_t>((P + kChunk - 1) / kChunk, kMaxChunkRows));
  const unsigned column_blocks = static_cast<unsigned>((d + kThreads - 1) / kThreads);
  const Pieces pieces = lay_out(scan_blocks, chunk_rows, d);
  const WorkspaceLease work(stream, pieces.bytes, sizeof(Status));  // locked until return or throw
  auto* status = work.device<Status>(pieces.status);
  auto* u = work.device<double>(pieces.u);
  auto* partial = work.device<Scan>(pieces.partial);
  auto* partial_u = work.device<double>(pieces.partial_u);
  const auto* host = work.host<const Status>();
  DeviceBuffer<std::uint8_t> excluded_buffer(0, stream);  // the slow path's mask (its own allocation)
  const std::uint8_t* excluded = nullptr;

  for (int attempt = 0; attempt < 2; ++attempt) {
    HOMOTOPT_CUDA_CHECK(cudaMemsetAsync(status->flags, 0xff, sizeof status->flags, stream));  // all kNone
    launch(scan_kernel<T>, scan_blocks, kThreads, stream, values, P, power, excluded, partial, &status->flags[0]);
    launch(merge_scan_kernel, 1, kThreads, stream, static_cast<const Scan*>(partial), scan_blocks, &status->scan);
    launch(grads_kernel<T>, dim3(column_blocks, chunk_rows), kThreads, 0, stream, values, grads, P, d, power, excluded,
           static_cast<const Scan*>(&status->scan), partial_u);
    launch(sum_partials_kernel, column_blocks, kThreads, stream, static_cast<const double*>(partial_u), chunk_rows, d,
           u, &status->flags[1]);
    read_back(work, status, u, u_host, d);
    const Status st = *host;
    HOMOTOPT_CHECK(st.flags[0] == kNone || policy == NanPolicy::omit, "values: non-finite value at ",
                   pair_name(static_cast<std::int64_t>(st.flags[0]), shape, two_d),
                   " (nan_policy=\"omit\" gives such pairs weight 0)");
    HOMOTOPT_CHECK(st.scan.count > 0, "values: all ", P,
                   " pairs are non-finite and were omitted; there is nothing to average");
    if (st.flags[1] == kNone) {
      parts = PowerState::Parts{st.scan.lse, static_cast<std::int64_t>(st.scan.count),
                                static_cast<std::int64_t>(st.scan.omitted)};
      if (direction) return write_power_result(u, d, power, parts, *direction, *gradient, stream);
      return {};
    }
    HOMOTOPT_CHECK(attempt == 0, "grads: the weighted sum of gradients overflows float64");
    // Slow path: find the pairs with non-finite gradients; raise naming the first, or omit them all.
    DeviceBuffer<std::uint8_t> mask(P, stream);
    mask.zero();
    launch(find_bad_grads_kernel<T>, scan_blocks, kThreads, stream, values, grads, P, d, mask.get(),
           &status->flags[2]);
    read_back(work, status, nullptr, nullptr, 0);
    const unsigned long long bad = host->flags[2];
    HOMOTOPT_CHECK(bad != kNone, "grads: the weighted sum of gradients overflows float64 (finite gradients near "
                                 "the largest double)");
    HOMOTOPT_CHECK(policy == NanPolicy::omit, "grads: non-finite gradient at ",
                   pair_name(static_cast<std::int64_t>(bad), shape, two_d),
                   " (nan_policy=\"omit\" gives such pairs weight 0)");
    std::swap(excluded_buffer, mask);
    excluded = excluded_buffer.get();
  }
  HOMOTOPT_ASSERT(false);  // the second attempt returns or raises
  return {};
}

// power_weights: the scan's two kernels, one copy of the status and one wait, the checks (before
// anything is written), then the weights kernel (no wait).
template <class T>
PowerWeightsStats weights_typed(const ArrayView& values_view, double power, NanPolicy policy,
                                const ArrayView& weights_view) {
  const cudaStream_t stream = stream_of(values_view);
  const T* values = values_view.ptr<const T>();
  const std::int64_t P = values_view.numel();
  const bool two_d = values_view.ndim == 2;
  const PairShape shape{P, two_d ? values_view.shape[1] : 1, 0};
  const int scan_blocks = static_cast<int>(std::min<std::int64_t>((P + kThreads - 1) / kThreads, 1024));
  WorkspaceLayout layout;
  const std::size_t status_at = layout.add<Status>(1);
  const std::size_t partial_at = layout.add<Scan>(static_cast<std::size_t>(scan_blocks));
  const WorkspaceLease work(stream, layout.bytes(), sizeof(Status));  // locked until return or throw
  auto* status = work.device<Status>(status_at);
  auto* partial = work.device<Scan>(partial_at);
  HOMOTOPT_CUDA_CHECK(cudaMemsetAsync(status->flags, 0xff, sizeof status->flags, stream));  // all kNone
  launch(scan_kernel<T>, scan_blocks, kThreads, stream, values, P, power, static_cast<const std::uint8_t*>(nullptr),
         partial, &status->flags[0]);
  launch(merge_scan_kernel, 1, kThreads, stream, static_cast<const Scan*>(partial), scan_blocks, &status->scan);
  read_back(work, status, nullptr, nullptr, 0);
  const Status st = *work.host<const Status>();
  HOMOTOPT_CHECK(st.flags[0] == kNone || policy == NanPolicy::omit, "values: non-finite value at ",
                 pair_name(static_cast<std::int64_t>(st.flags[0]), shape, two_d),
                 " (nan_policy=\"omit\" gives such pairs weight 0)");
  HOMOTOPT_CHECK(st.scan.count > 0, "values: all ", P,
                 " pairs are non-finite and were omitted; there is nothing to average");
  launch(weights_kernel<T>, scan_blocks, kThreads, stream, values, P, power, static_cast<const Scan*>(&status->scan),
         weights_view.ptr<T>());
  const LseState& lse = st.scan.lse;
  return {lse.s > 0.0 ? lse.m + std::log(lse.s) : -kInf, static_cast<std::int64_t>(st.scan.count),
          static_cast<std::int64_t>(st.scan.omitted)};
}

}  // namespace

PowerWeightsStats power_weights(const ArrayView& values, double power, NanPolicy policy, const ArrayView& weights) {
  DeviceGuard guard(values.device.index);
  return visit_float(values.dtype, [&](auto t) { return weights_typed<decltype(t)>(values, power, policy, weights); });
}

void reduce_power(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                  NanPolicy policy, PowerState::Parts& parts, double* u) {
  DeviceGuard guard(values.device.index);
  visit_float(values.dtype, [&](auto t) {
    reduce_typed<decltype(t)>(values, grads, shape, power, policy, parts, u, nullptr, nullptr);
  });
}

PowerResultStats power_gradient(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                                NanPolicy policy, const ArrayView& direction, const ArrayView& gradient) {
  DeviceGuard guard(values.device.index);
  PowerState::Parts parts;
  return visit_float(values.dtype, [&](auto t) {
    return reduce_typed<decltype(t)>(values, grads, shape, power, policy, parts, nullptr, &direction, &gradient);
  });
}

}  // namespace homotopt::cuda
