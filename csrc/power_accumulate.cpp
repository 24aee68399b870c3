// Front end of power_accumulate.hpp: checks every tensor and the table once, then the device's backend.
#include <cstdint>
#include <vector>

#include "backend.hpp"
#include "homotopt/error.hpp"

namespace homotopt {

void power_accumulate(const std::vector<PowerAccumulateTensor>& tensors, const Device& device,
                      const double* coefficients, std::int64_t groups, double* flag, void* stream) {
  HOMOTOPT_CHECK(groups >= 1, "groups: expected at least 1 row in the coefficient table, got ", groups);
  HOMOTOPT_CHECK(coefficients != nullptr, "coefficients: expected a (", groups, ", 2) float64 table, got a null pointer");
  HOMOTOPT_CHECK(flag != nullptr, "flag: expected one float64, got a null pointer");
  std::vector<PowerAccumulateTensor> work;
  work.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const PowerAccumulateTensor& t = tensors[i];
    HOMOTOPT_CHECK(t.n >= 0, "tensors[", i, "]: expected n >= 0 elements, got ", t.n);
    HOMOTOPT_CHECK_TYPE(t.dtype == DType::float32 || t.dtype == DType::float64, "tensors[", i,
                        "]: expected dtype float32 or float64, got ", dtype_name(t.dtype));
    HOMOTOPT_CHECK(t.group >= 0 && t.group < groups, "tensors[", i, "]: expected a group in [0, ", groups,
                   "), got ", t.group);
    if (t.n == 0) continue;
    HOMOTOPT_CHECK(t.u != nullptr, "tensors[", i, "]: expected a non-null u pointer");
    const std::size_t bytes = static_cast<std::size_t>(t.n) * (t.dtype == DType::float32 ? 4 : 8);
    const auto ub = reinterpret_cast<std::uintptr_t>(t.u), gb = reinterpret_cast<std::uintptr_t>(t.g);
    HOMOTOPT_CHECK(t.g == nullptr || ub + bytes <= gb || gb + bytes <= ub, "tensors[", i,
                   "]: expected u and g not to overlap");
    work.push_back(t);
  }
  if (work.empty()) return;
  dispatch::kernel(&Kernels::power_accumulate, device, "power_accumulate")(work, device.index, coefficients, flag,
                                                                          stream);
}

}  // namespace homotopt
