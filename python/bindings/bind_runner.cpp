// Bindings of runner.hpp (homotopt.Runner) and schedule.hpp (schedule values for plotting).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "arrays.hpp"
#include "homotopt/runner.hpp"
#include "homotopt/schedule.hpp"

namespace homotopt::bindings {
namespace {

template <class V>
V get(const py::dict& d, const char* key, V fallback) {
  return d.contains(key) ? d[key].cast<V>() : fallback;
}

ArrayView optional_array(const py::dict& d, const char* key) {
  return d.contains(key) ? optional_view_of(d[key], key) : ArrayView{};
}

ProblemViews problem_views(const py::dict& p) {
  ProblemViews v;
  v.kind = static_cast<ProblemKind>(p["kind"].cast<int>());
  v.batched = get<bool>(p, "batched", false);
  v.A = optional_array(p, "A");
  v.y = optional_array(p, "y");
  v.x_true = optional_array(p, "x_true");
  v.teacher = optional_array(p, "teacher");
  v.val_x = optional_array(p, "val_x");
  v.val_y = optional_array(p, "val_y");
  v.test_x = optional_array(p, "test_x");
  v.test_y = optional_array(p, "test_y");
  v.noise = get<double>(p, "noise", 0.0);
  return v;
}

RunConfig run_config(const py::dict& c) {
  RunConfig r;
  r.method = static_cast<Method>(get<int>(c, "method", 0));
  r.steps = get<std::int64_t>(c, "steps", 0);
  r.num_samples = get<std::int64_t>(c, "num_samples", 8);
  r.batch_size = get<std::int64_t>(c, "batch_size", 16);
  r.eval_every = get<std::int64_t>(c, "eval_every", 100);
  r.power = PowerSchedule{get<double>(c, "power_start", 1.0), get<double>(c, "power_increment", 0.0),
                          get<double>(c, "power_max", kInf), get<std::int64_t>(c, "power_every", 1)};
  r.sigma = SigmaSchedule{get<double>(c, "sigma_start", 1.0), get<double>(c, "sigma_decay", 1.0),
                          get<double>(c, "sigma_floor", 0.0)};
  r.lr = LearningRate{get<double>(c, "lr_base", 1.0), get<double>(c, "lr_gamma", 0.0), get<double>(c, "lr_offset", 1.0)};
  r.step_rule = static_cast<StepRule>(get<int>(c, "step_rule", 1));
  r.seed = get<std::uint64_t>(c, "seed", 0);
  r.adam_beta1 = get<double>(c, "beta1", 0.9);
  r.adam_beta2 = get<double>(c, "beta2", 0.999);
  r.adam_eps = get<double>(c, "eps", 1e-8);
  r.slgh_gamma = get<double>(c, "slgh_gamma", 0.95);
  r.slgh_sigma_min = get<double>(c, "slgh_sigma_min", 0.01);
  r.track_metric = get<bool>(c, "track_metric", true);
  r.first_trial = get<std::int64_t>(c, "first_trial", 0);
  return r;
}

template <class V>
py::array to_array(const std::vector<V>& v, std::int64_t rows, std::int64_t cols) {
  py::array_t<V> a(cols > 0 ? std::vector<py::ssize_t>{rows, cols} : std::vector<py::ssize_t>{rows});
  std::copy(v.begin(), v.end(), a.mutable_data());
  return std::move(a);
}

}  // namespace

void bind_runner(py::module_& m) {
  py::class_<Runner>(m, "Runner", py::module_local())
      .def(py::init([](const py::dict& problem, const py::dict& config, const py::array& mu0) {
             return Runner(problem_views(problem), run_config(config), view_of(mu0, "mu0"));
           }),
           py::arg("problem"), py::arg("config"), py::arg("mu0"), py::keep_alive<1, 2>())
      .def(
          "advance",
          [](Runner& r, std::int64_t steps) {
            py::gil_scoped_release release;
            r.advance(steps);
          },
          py::arg("steps"))
      .def_property_readonly("step", &Runner::step)
      .def_property_readonly("trials", &Runner::trials)
      .def_property_readonly("dim", &Runner::dim)
      .def("state",
           [](const Runner& r) {
             const std::int64_t R = r.trials(), d = r.dim();
             py::array mu = new_array(r.dtype(), {R, d}), best_mu = new_array(r.dtype(), {R, d});
             py::array best_value = new_array(DType::float64, {R}), best_step = new_array(DType::int64, {R});
             r.state(view_of(mu, "mu"), view_of(best_mu, "best_mu"), view_of(best_value, "best_value"),
                     view_of(best_step, "best_step"));
             return py::make_tuple(mu, best_mu, best_value, best_step);
           })
      .def("history", [](const Runner& r) {
        const RunHistory& h = r.history();
        const std::int64_t E = static_cast<std::int64_t>(h.steps.size()), R = r.trials();
        py::dict out;
        out["step"] = to_array(h.steps, E, 0);
        out["power"] = to_array(h.power, E, 0);
        out["sigma"] = to_array(h.sigma, E, 0);
        out["value"] = to_array(h.value, E, R);
        out["metric"] = to_array(h.metric, E, R);
        return out;
      });

  m.def(
      "step_multiplier",
      [](int rule, double alpha, double power, double log_scale, double norm) {
        HOMOTOPT_CHECK(rule >= 0 && rule <= 2, "step_rule: expected 0, 1 or 2, got ", rule);
        return step_multiplier(static_cast<StepRule>(rule), alpha, power, log_scale, norm);
      },
      py::arg("rule"), py::arg("alpha"), py::arg("power"), py::arg("log_scale"), py::arg("norm"));

  m.def(
      "schedule_values",
      [](const std::string& kind, double a, double b, double c, std::int64_t every, std::int64_t steps) {
        HOMOTOPT_CHECK(steps >= 0, "steps: expected >= 0, got ", steps);
        py::array_t<double> out(steps);
        double* o = out.mutable_data();
        if (kind == "power") {
          const PowerSchedule s{a, b, c, every};
          for (std::int64_t t = 0; t < steps; ++t) o[t] = s.at(t);
        } else if (kind == "sigma") {
          const SigmaSchedule s{a, b, c};
          for (std::int64_t t = 0; t < steps; ++t) o[t] = s.at(t);
        } else if (kind == "lr") {
          const LearningRate s{a, b, c};
          for (std::int64_t t = 0; t < steps; ++t) o[t] = s.at(t);
        } else {
          HOMOTOPT_CHECK(false, "kind: expected power, sigma or lr, got ", kind);
        }
        return out;
      },
      py::arg("kind"), py::arg("a"), py::arg("b"), py::arg("c"), py::arg("every"), py::arg("steps"));
}

}  // namespace homotopt::bindings
