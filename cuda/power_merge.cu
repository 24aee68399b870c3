// CUDA backend of power_merge.hpp. The sample's merge: one block of kThreads threads. The maxima (exact in
// any order) and the weights are parallel; s_k is summed by thread 0 in the order j = 0, 1, ... as on the CPU, so both
// backends give the same bits (J is a batch: the serial sum is short next to the sample's backward).
// The rows are kernel parameters (batches of kRows; a second batch merges again from the same input
// into its own rows, which are tied to the first's), so nothing is uploaded and the host never waits.
// The ranks' merge: one thread per group. The step factors: one thread per group, kRows groups per
// launch, their N and alpha kernel parameters.
#include <cstdint>
#include <vector>

#include "launch.cuh"
#include "backend.hpp"

namespace homotopt::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kRows = 32;

struct Rows {
  std::int32_t row[kRows];
  std::int32_t count;
};

template <class T>
__global__ void merge_kernel(PowerMergeArgs p, Rows rows) {
  __shared__ double s_max[kThreads], s_top[kThreads], s_n[kThreads];
  __shared__ double b_shared;
  __shared__ double k_shared[3];  // the sample state's (m, s, top): LseState has initializers, no __shared__
  __shared__ bool limit_shared, counts_shared;
  double mb = -kInf, top = -kInf, n = 0.0;
  for (std::int64_t j = threadIdx.x; j < p.J; j += kThreads) {
    const double a = power_merge_exponent<T>(p, j), v = power_merge_top_value<T>(p, j);
    mb = a > mb ? a : mb;
    top = v > top ? v : top;
    n += power_merge_count_of<T>(p, j);
  }
  s_max[threadIdx.x] = mb;
  s_top[threadIdx.x] = top;
  s_n[threadIdx.x] = n;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      const int o = threadIdx.x + half;
      s_max[threadIdx.x] = s_max[o] > s_max[threadIdx.x] ? s_max[o] : s_max[threadIdx.x];
      s_top[threadIdx.x] = s_top[o] > s_top[threadIdx.x] ? s_top[o] : s_top[threadIdx.x];
      s_n[threadIdx.x] += s_n[o];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    bool limit = false, counts = false;
    const LseState k0 = power_merge_sample_state(s_max[0], s_top[0], limit, counts);
    k_shared[0] = k0.m;
    k_shared[1] = k0.s;
    k_shared[2] = k0.top;
    limit_shared = limit;
    counts_shared = counts;
  }
  __syncthreads();
  const LseState k{k_shared[0], k_shared[1], k_shared[2]};
  const bool limit = limit_shared, counts = counts_shared;
  if (threadIdx.x == 0) {
    LseState kk = k;
    for (std::int64_t j = 0; j < p.J; ++j) kk.s += power_merge_weight<T>(p, kk, limit, counts, j);
    b_shared = power_merge_rows(p, rows.row, rows.count, kk, s_n[0]);
  }
  __syncthreads();
  const double b = b_shared;
  T* w = static_cast<T*>(p.weights);
  for (std::int64_t j = threadIdx.x; j < p.J; j += kThreads)
    w[j] = static_cast<T>(p.sign * b * power_merge_weight<T>(p, k, limit, counts, j));
}

__global__ void ranks_kernel(PowerMergeRanksArgs p) {
  const std::int64_t g = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (g < p.groups) power_merge_ranks_group(p, g);
}

// power_step: a batch of kRows groups per launch, their powers and rates kernel parameters.
struct StepBatch {
  double power[kRows], alpha[kRows];
  std::int32_t first, count;
};

__global__ void step_kernel(PowerStepArgs p, StepBatch batch) {
  const int i = threadIdx.x;
  if (i >= batch.count) return;
  const std::int64_t g = batch.first + i;
  const double norm = p.norms != nullptr ? p.norms[g] : 0.0;
  const bool found = p.found != nullptr && *p.found != 0;
  p.coefficients[2 * g] = 1.0;
  p.coefficients[2 * g + 1] =
      found ? 0.0 : power_step_factor(p.rule, batch.power[i], batch.alpha[i], p.state + 4 * g, norm);
}

}  // namespace

void power_merge_ranks(const PowerMergeRanksArgs& args, int device, void* stream) {
  DeviceGuard guard(device);
  launch(ranks_kernel, blocks_for(args.groups, kRows), static_cast<unsigned>(kRows), static_cast<cudaStream_t>(stream),
         args);
}

void power_step(const PowerStepArgs& args, const std::vector<double>& powers, const std::vector<double>& alphas,
                int device, void* stream) {
  DeviceGuard guard(device);
  const cudaStream_t st = static_cast<cudaStream_t>(stream);
  for (std::int64_t first = 0; first < args.groups; first += kRows) {
    StepBatch batch{};
    batch.first = static_cast<std::int32_t>(first);
    for (std::int64_t g = first; g < args.groups && g < first + kRows; ++g) {
      batch.power[batch.count] = powers[g];
      batch.alpha[batch.count++] = alphas[g];
    }
    launch(step_kernel, 1u, static_cast<unsigned>(kRows), st, args, batch);
  }
}

void power_merge_sample(const PowerMergeArgs& args, const std::vector<std::int32_t>& rows, int device, void* stream) {
  DeviceGuard guard(device);
  const cudaStream_t st = static_cast<cudaStream_t>(stream);
  for (std::size_t first = 0; first < rows.size(); first += kRows) {
    Rows batch{};
    for (std::size_t i = first; i < rows.size() && i < first + kRows; ++i) batch.row[batch.count++] = rows[i];
    // A later batch reads the state of its own first row, which holds what the first batch's rows held.
    if (args.dtype == DType::float32) launch(merge_kernel<float>, 1u, kThreads, st, args, batch);
    else launch(merge_kernel<double>, 1u, kThreads, st, args, batch);
  }
}

}  // namespace homotopt::cuda
