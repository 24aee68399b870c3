// Front end of the random entry points (random.hpp): checks, then the array's device picks the backend.
#include <cstdint>

#include "backend.hpp"
#include "front_end.hpp"
#include "homotopt/random.hpp"

namespace homotopt {
using namespace front_end;

void random_fill(const ArrayView& out, Distribution distribution, const RandomKey& key, std::uint64_t offset) {
  check_float(out, "out");
  check_contiguous(out, "out");
  check_writable(out, "out");
  if (out.numel() == 0) return;
  dispatch::kernel(&Kernels::random_fill, out.device, "random_fill")(out, distribution, key, offset);
}

void random_indices(const ArrayView& out, std::uint64_t n, const RandomKey& key, std::uint64_t offset) {
  check_dtype(out, DType::int64, "out");
  check_contiguous(out, "out");
  check_writable(out, "out");
  HOMOTOPT_CHECK(n >= 1 && n <= (std::uint64_t{1} << 32), "n: expected 1 <= n <= 2^32, got ", n);
  dispatch::kernel(&Kernels::random_indices, out.device, "random_indices")(out, n, key, offset);
}

}  // namespace homotopt
