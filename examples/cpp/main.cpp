// Computes a power gradient with the installed homotopt library, prints it, and checks a value known
// in closed form: values (0, 1) with N = ln 3 give softmax weights (1/4, 3/4), so for gradients
// e1 and e2 the direction is (0.25, 0.75) and log mean exp(N f) = log((1 + 3) / 2) = log 2.
// Then the same where the naive formula underflows (N f = -1e6), which the LSE state keeps exact.
#include <cmath>
#include <cstdio>

#include "homotopt/homotopt.hpp"

int main() {
  const homotopt::BuildInfo info = homotopt::build_info();
  std::printf("homotopt %s (%s, CUDA %s, OpenMP %s, CPU kernels: %s of %zu compiled)\n", info.version.c_str(),
              info.compiler.c_str(), info.cuda ? info.cuda_version.c_str() : "off", info.openmp ? "on" : "off",
              info.cpu_capability.c_str(), info.cpu_capabilities.size());

  const double values[2] = {0.0, 1.0};
  const double grads[2][2] = {{1.0, 0.0}, {0.0, 1.0}};
  double direction[2];
  const double power = std::log(3.0);
  const homotopt::PowerResultStats r = homotopt::power_gradient(
      homotopt::make_view(values, {2}), homotopt::make_view(&grads[0][0], {2, 2}), power,
      homotopt::NanPolicy::raise, homotopt::make_view(direction, {2}));
  std::printf("direction = (%.17g, %.17g), log_mean_exp = %.17g, log_scale = %.17g\n", direction[0],
              direction[1], r.log_mean_exp, r.log_scale);

  const double shifted[2] = {-1e6, -1e6 + 1.0};  // exp(N f) underflows for both pairs
  double direction2[2];
  homotopt::power_gradient(homotopt::make_view(shifted, {2}), homotopt::make_view(&grads[0][0], {2, 2}),
                           power, homotopt::NanPolicy::raise, homotopt::make_view(direction2, {2}));
  std::printf("with f shifted by -1e6: direction = (%.17g, %.17g)\n", direction2[0], direction2[1]);

  const bool ok = std::fabs(direction[0] - 0.25) < 1e-15 && std::fabs(direction[1] - 0.75) < 1e-15 &&
                  std::fabs(r.log_mean_exp - std::log(2.0)) < 1e-15 &&
                  std::fabs(direction2[0] - 0.25) < 1e-9 && std::fabs(direction2[1] - 0.75) < 1e-9;

  try {  // bad input is an exception, never a crash
    homotopt::power_gradient(homotopt::make_view(values, {2}), homotopt::make_view(&grads[0][0], {2, 2}),
                             -1.0, homotopt::NanPolicy::raise, homotopt::make_view(direction, {2}));
    return 1;
  } catch (const homotopt::Error& e) {
    std::printf("bad power rejected: %s\n", e.what());
  }
  std::printf("%s\n", ok ? "OK" : "MISMATCH");
  return ok ? 0 : 1;
}
