// CUDA backend of the generic power gradient (power_gradient.hpp), the same two passes as the CPU:
//   1. values: blocks reduce their share of the pairs into (m, s) partials (grid-stride, then a tree in
//      shared memory), one small block merges the partials in order;
//   2. gradients: blocks own 256 columns x a fixed set of 256-pair chunks, with the chunk's weights
//      exp(N f - m) in shared memory; a last kernel sums the chunk partials of u in order.
// No float atomics: the grid depends only on the shapes, so results are bitwise the same run to run.
// Bad values raise through an integer atomicMin of the first bad pair (the CPU names the same pair);
// a non-finite u triggers the scan for non-finite gradients, then a rerun with those pairs masked.
#include <cstdint>
#include <limits>
#include <vector>

#include "backend.hpp"
#include "common.cuh"
#include "dtype_dispatch.hpp"

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

__global__ void sum_partials_kernel(const double* partial_u, int rows, std::int64_t d, double* u, int* nonfinite) {
  const std::int64_t c = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x;
  if (c >= d) return;
  double total = 0.0;
  for (int r = 0; r < rows; ++r) total += partial_u[r * d + c];
  u[c] = total;
  if (!isfinite(total)) atomicExch(nonfinite, 1);
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

std::string pair_name(std::int64_t p, const PairShape& shape, bool two_d) {
  if (!two_d) return detail::concat("k = ", p);
  return detail::concat("(k, j) = (", p / shape.J, ", ", p % shape.J, ")");
}

template <class T>
void reduce_typed(const ArrayView& values_view, const ArrayView& grads_view, const PairShape& shape, double power,
                  NanPolicy policy, PowerState::Parts& parts, double* u_host) {
  const cudaStream_t stream = stream_of(values_view);
  const T* values = values_view.ptr<const T>();
  const T* grads = grads_view.ptr<const T>();
  const std::int64_t P = shape.pairs, d = shape.d;
  const bool two_d = values_view.ndim == 2;
  const int scan_blocks = static_cast<int>(std::min<std::int64_t>((P + kThreads - 1) / kThreads, 1024));
  const int chunk_rows = static_cast<int>(std::min<std::int64_t>((P + kChunk - 1) / kChunk, kMaxChunkRows));
  const unsigned column_blocks = static_cast<unsigned>((d + kThreads - 1) / kThreads);
  DeviceBuffer<Scan> partial(scan_blocks, stream), scan(1, stream);
  // first bad value, (unused), first bad gradient, (unused)
  DeviceBuffer<unsigned long long> flags(4, stream);
  DeviceBuffer<double> partial_u(static_cast<std::size_t>(chunk_rows) * d, stream), u(d, stream);
  DeviceBuffer<int> nonfinite(1, stream);
  DeviceBuffer<std::uint8_t> excluded_buffer(0, stream);
  const std::uint8_t* excluded = nullptr;
  std::vector<unsigned long long> init{kNone, kNone, kNone, kNone};

  for (int attempt = 0; attempt < 2; ++attempt) {
    flags.from_host(init.data(), 4);
    nonfinite.zero();
    launch(scan_kernel<T>, scan_blocks, kThreads, stream, values, P, power, excluded, partial.get(), flags.get());
    launch(merge_scan_kernel, 1, kThreads, stream, partial.get(), scan_blocks, scan.get());
    const std::vector<unsigned long long> f = flags.to_host();
    HOMOTOPT_CHECK(f[0] == kNone || policy == NanPolicy::omit, "values: non-finite value at ",
                   pair_name(static_cast<std::int64_t>(f[0]), shape, two_d),
                   " (nan_policy=\"omit\" gives such pairs weight 0)");
    const Scan s = scan.to_host()[0];
    HOMOTOPT_CHECK(s.count > 0, "values: all ", P, " pairs are non-finite and were omitted; there is nothing to average");
    launch(grads_kernel<T>, dim3(column_blocks, chunk_rows), kThreads, 0, stream, values, grads, P, d, power, excluded,
           scan.get(), partial_u.get());
    launch(sum_partials_kernel, column_blocks, kThreads, stream, partial_u.get(), chunk_rows, d, u.get(),
           nonfinite.get());
    const std::vector<double> uh = u.to_host();
    if (nonfinite.to_host()[0] == 0) {
      for (std::int64_t c = 0; c < d; ++c) u_host[c] = uh[c];
      parts = PowerState::Parts{s.lse, static_cast<std::int64_t>(s.count), static_cast<std::int64_t>(s.omitted)};
      return;
    }
    HOMOTOPT_CHECK(attempt == 0, "grads: the weighted sum of gradients overflows float64");
    // Slow path: find the pairs with non-finite gradients; raise naming the first, or omit them all.
    DeviceBuffer<std::uint8_t> mask(P, stream);
    mask.zero();
    launch(find_bad_grads_kernel<T>, scan_blocks, kThreads, stream, values, grads, P, d, mask.get(), flags.get() + 2);
    const unsigned long long bad = flags.to_host()[2];
    HOMOTOPT_CHECK(bad != kNone, "grads: the weighted sum of gradients overflows float64 (finite gradients near "
                                 "the largest double)");
    HOMOTOPT_CHECK(policy == NanPolicy::omit, "grads: non-finite gradient at ",
                   pair_name(static_cast<std::int64_t>(bad), shape, two_d),
                   " (nan_policy=\"omit\" gives such pairs weight 0)");
    std::swap(excluded_buffer, mask);
    excluded = excluded_buffer.get();
  }
}

}  // namespace

void reduce_power(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                  NanPolicy policy, PowerState::Parts& parts, double* u) {
  DeviceGuard guard(values.device.index);
  visit_float(values.dtype, [&](auto t) {
    reduce_typed<decltype(t)>(values, grads, shape, power, policy, parts, u);
  });
}

}  // namespace homotopt::cuda
