// Front end of perturb.hpp: checks every tensor once, then the device's backend.
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend.hpp"
#include "homotopt/error.hpp"

namespace homotopt {

void random_perturb(const std::vector<PerturbTensor>& tensors, const Device& device, const RandomKey& key,
                    void* stream) {
  std::vector<PerturbTensor> work;
  work.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const PerturbTensor& t = tensors[i];
    HOMOTOPT_CHECK(t.n >= 0, "tensors[", i, "]: expected n >= 0 elements, got ", t.n);
    HOMOTOPT_CHECK_TYPE(t.dtype == DType::float32 || t.dtype == DType::float64, "tensors[", i,
                        "]: expected dtype float32 or float64, got ", dtype_name(t.dtype));
    HOMOTOPT_CHECK(std::isfinite(t.sigma), "tensors[", i, "]: expected a finite sigma, got ", t.sigma);
    if (t.n == 0) continue;
    HOMOTOPT_CHECK(t.w != nullptr && t.mu != nullptr, "tensors[", i, "]: expected non-null w and mu pointers");
    HOMOTOPT_CHECK(t.offset + static_cast<std::uint64_t>(t.n) <= (std::uint64_t{1} << 58) &&
                       t.offset <= (std::uint64_t{1} << 58),
                   "tensors[", i, "]: expected offset + n <= 2^58 (Philox blocks below 2^56), got offset ",
                   t.offset, " and n ", t.n);
    const std::size_t bytes = static_cast<std::size_t>(t.n) * (t.dtype == DType::float32 ? 4 : 8);
    const auto wb = reinterpret_cast<std::uintptr_t>(t.w), mb = reinterpret_cast<std::uintptr_t>(t.mu);
    HOMOTOPT_CHECK(wb == mb || wb + bytes <= mb || mb + bytes <= wb, "tensors[", i,
                   "]: expected w and mu to be the same memory or not to overlap");
    work.push_back(t);
  }
  if (work.empty()) return;
  dispatch::kernel(&Kernels::random_perturb, device, "random_perturb")(work, device.index, key, stream);
}

}  // namespace homotopt
