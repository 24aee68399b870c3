// Bindings of o2nc.hpp: the fused update over lists of NumPy arrays, the same over raw data pointers
// (homotopt.torch reaches tensor memory through data_ptr(), which costs ~0.1 us a tensor where
// .numpy() or DLPack cost 1.5 to 4 us), the CUDA path with its state in device memory, the step scale
// s, and the test hook that runs the CUDA schedule on the CPU.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "arrays.hpp"
#include "homotopt/o2nc.hpp"

namespace homotopt::bindings {
namespace {

// (size, lr, beta, mu, weight_decay, maximize) per group, as homotopt.o2nc and homotopt.torch pass them.
using GroupTuple = std::tuple<std::int64_t, double, double, double, double, bool>;

std::vector<O2ncGroup> groups_of(const std::vector<GroupTuple>& groups) {
  std::vector<O2ncGroup> out;
  out.reserve(groups.size());
  for (const auto& [size, lr, beta, mu, weight_decay, maximize] : groups)
    out.push_back({size, O2ncHyper{lr, beta, mu, weight_decay, maximize}});
  return out;
}

O2ncOptions options_of(O2ncScaling scaling, std::uint64_t seed, std::uint32_t step, std::optional<double> scale,
                       bool check_finite, O2ncNanPolicy nan_policy) {
  O2ncOptions o;
  o.scaling = scaling;
  o.seed = seed;
  o.step = step;
  o.scale = scale;
  o.check_finite = check_finite;
  o.nan_policy = nan_policy;
  return o;
}

// Views of a list of NumPy arrays; errors name the item ("params[3]: ..."). The name is put together
// only when an error is raised: building 300 strings would cost more than the update of small models.
std::vector<ArrayView> views_of(const py::sequence& arrays, const char* list) {
  const std::size_t n = py::len(arrays);
  std::vector<ArrayView> views;
  views.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const py::object item = arrays[i];
    if (!py::isinstance<py::array>(item))
      throw TypeError(detail::concat(list, "[", i, "]: expected a NumPy array, got ",
                                     std::string(py::str(py::type::handle_of(item).attr("__qualname__")))));
    try {
      views.push_back(view_of(py::reinterpret_borrow<py::array>(item), list));
    } catch (const Error& e) {  // "params: ..." -> "params[3]: ..."
      std::string message = e.what();
      message.insert(std::strlen(list), detail::concat("[", i, "]"));
      if (dynamic_cast<const TypeError*>(&e)) throw TypeError(message);
      throw Error(message);
    }
  }
  return views;
}

std::vector<ArrayView> views_of(const std::vector<std::uintptr_t>& pointers, const std::vector<std::int64_t>& numels,
                                const std::vector<DType>& dtypes, const Device& device, const char* list) {
  HOMOTOPT_CHECK(numels.size() == pointers.size() && dtypes.size() == pointers.size(), list,
                 ": expected one numel and one dtype per pointer");
  std::vector<ArrayView> views(pointers.size());
  for (std::size_t i = 0; i < pointers.size(); ++i) {
    HOMOTOPT_CHECK_TYPE(dtypes[i] == DType::float32 || dtypes[i] == DType::float64 || dtypes[i] == DType::float16 ||
                            dtypes[i] == DType::bfloat16,
                        list, "[", i, "]: expected dtype float32, float64, float16 or bfloat16");
    ArrayView& v = views[i];
    v.data = reinterpret_cast<void*>(pointers[i]);
    v.dtype = dtypes[i];
    v.device = device;
    v.ndim = 1;
    v.shape[0] = numels[i];
    v.strides[0] = 1;
  }
  return views;
}

py::tuple result_tuple(const O2ncResult& r) { return py::make_tuple(r.scale, r.found_inf); }

// The device state as six int64 words (what a torch.int64 tensor of shape (6,) holds), and back.
std::vector<std::int64_t> words_of(const O2ncDeviceState& state) {
  std::vector<std::int64_t> words(6);
  std::memcpy(words.data(), &state, sizeof state);
  return words;
}

py::dict fields_of(const std::vector<std::int64_t>& words) {
  HOMOTOPT_CHECK(words.size() == 6, "state: expected 6 int64 words, got ", words.size());
  O2ncDeviceState s;
  std::memcpy(&s, words.data(), sizeof s);
  py::dict d;
  d["seed"] = s.seed;
  d["step"] = s.step;
  d["found_inf"] = s.found_inf != 0;
  d["scale"] = s.scale;
  d["first_nonfinite"] = s.first_nonfinite == O2ncDeviceState::kNone ? py::object(py::none())
                                                                      : py::object(py::int_(s.first_nonfinite));
  return d;
}

}  // namespace

void bind_o2nc(py::module_& m) {
  m.def(
      "o2nc_update",
      [](const py::sequence& params, const py::sequence& grads, const py::sequence& buffers,
         const std::vector<GroupTuple>& groups, O2ncScaling scaling, std::uint64_t seed, std::uint32_t step,
         std::optional<double> scale, bool check_finite, O2ncNanPolicy nan_policy) {
        const std::vector<ArrayView> x = views_of(params, "params");
        const std::vector<ArrayView> g = views_of(grads, "grads");
        const std::vector<ArrayView> D = views_of(buffers, "buffers");
        const std::vector<O2ncGroup> gr = groups_of(groups);
        const O2ncOptions o = options_of(scaling, seed, step, scale, check_finite, nan_policy);
        O2ncResult r;
        {
          py::gil_scoped_release release;
          r = o2nc_update(x, g, D, gr, o);
        }
        return result_tuple(r);
      },
      py::arg("params"), py::arg("grads"), py::arg("buffers"), py::arg("groups"), py::arg("scaling"),
      py::arg("seed"), py::arg("step"), py::arg("scale"), py::arg("check_finite"), py::arg("nan_policy"));

  // The caller keeps the memory alive and unaliased by others for the call; the checks of o2nc.hpp
  // (dtypes, sizes, devices, overlaps, finiteness) still run on the flat views.
  m.def(
      "o2nc_update_pointers",
      [](const std::vector<std::uintptr_t>& params, const std::vector<std::uintptr_t>& grads,
         const std::vector<std::uintptr_t>& buffers, const std::vector<std::int64_t>& numels,
         const std::vector<DType>& dtypes, DeviceType device_type, int device_index, const std::vector<GroupTuple>& groups,
         O2ncScaling scaling, std::uint64_t seed, std::uint32_t step, std::optional<double> scale, bool check_finite,
         O2ncNanPolicy nan_policy, std::uintptr_t stream) {
        const Device device{device_type, device_index};
        const std::vector<ArrayView> x = views_of(params, numels, dtypes, device, "params");
        const std::vector<ArrayView> g = views_of(grads, numels, dtypes, device, "grads");
        const std::vector<ArrayView> D = views_of(buffers, numels, dtypes, device, "buffers");
        const std::vector<O2ncGroup> gr = groups_of(groups);
        O2ncOptions o = options_of(scaling, seed, step, scale, check_finite, nan_policy);
        o.stream = stream;
        O2ncResult r;
        {
          py::gil_scoped_release release;
          r = o2nc_update(x, g, D, gr, o);
        }
        return result_tuple(r);
      },
      py::arg("params"), py::arg("grads"), py::arg("buffers"), py::arg("numels"), py::arg("dtypes"),
      py::arg("device_type"), py::arg("device_index"), py::arg("groups"), py::arg("scaling"), py::arg("seed"),
      py::arg("step"), py::arg("scale"), py::arg("check_finite"), py::arg("nan_policy"), py::arg("stream") = 0);

  // The CUDA path of homotopt.torch: seed and step in the device state at `state` (six int64 words on
  // the params' device), enqueued on `stream`; returns at once (nan_policy=raise excepted).
  m.def(
      "o2nc_update_device_pointers",
      [](const std::vector<std::uintptr_t>& params, const std::vector<std::uintptr_t>& grads,
         const std::vector<std::uintptr_t>& buffers, const std::vector<std::int64_t>& numels,
         const std::vector<DType>& dtypes, int device_index, const std::vector<GroupTuple>& groups, O2ncScaling scaling,
         std::optional<double> scale, bool check_finite, O2ncNanPolicy nan_policy, std::uintptr_t state, std::uintptr_t stream) {
        const Device device{DeviceType::cuda, device_index};
        const std::vector<ArrayView> x = views_of(params, numels, dtypes, device, "params");
        const std::vector<ArrayView> g = views_of(grads, numels, dtypes, device, "grads");
        const std::vector<ArrayView> D = views_of(buffers, numels, dtypes, device, "buffers");
        const std::vector<O2ncGroup> gr = groups_of(groups);
        O2ncOptions o = options_of(scaling, 0, 0, scale, check_finite, nan_policy);
        o.stream = stream;
        const ArrayView s = make_view(reinterpret_cast<std::int64_t*>(state), {6}, device);
        {
          py::gil_scoped_release release;
          o2nc_update_device(x, g, D, gr, o, s);
        }
      },
      py::arg("params"), py::arg("grads"), py::arg("buffers"), py::arg("numels"), py::arg("dtypes"),
      py::arg("device_index"), py::arg("groups"), py::arg("scaling"), py::arg("scale"), py::arg("check_finite"),
      py::arg("nan_policy"), py::arg("state"), py::arg("stream"));

  // The prepared call of homotopt.torch (o2nc.hpp, O2ncTable): params and buffers as flat views of raw
  // pointers, checked once; step() takes the grads' pointers (0: no grad this step).
  py::class_<O2ncTable>(m, "O2ncTable")
      .def(py::init([](const std::vector<std::uintptr_t>& params, const std::vector<std::uintptr_t>& buffers,
                       const std::vector<std::int64_t>& numels, const std::vector<DType>& dtypes,
                       const std::vector<DType>& buffer_dtypes, DeviceType device_type, int device_index,
                       const std::vector<std::int64_t>& group_sizes) {
             const Device device{device_type, device_index};
             return O2ncTable(views_of(params, numels, dtypes, device, "params"),
                              views_of(buffers, numels, buffer_dtypes, device, "buffers"), group_sizes);
           }),
           py::arg("params"), py::arg("buffers"), py::arg("numels"), py::arg("dtypes"), py::arg("buffer_dtypes"),
           py::arg("device_type"), py::arg("device_index"), py::arg("group_sizes"))
      .def(
          "step",
          [](const O2ncTable& table, const std::vector<std::uintptr_t>& grads,
             const std::vector<std::tuple<double, double, double, double, bool>>& hypers, O2ncScaling scaling,
             std::optional<double> scale, bool check_finite, O2ncNanPolicy nan_policy, std::uintptr_t state,
             std::uintptr_t stream, double grad_multiplier) -> py::object {
            std::vector<const void*> g(grads.size());
            for (std::size_t i = 0; i < grads.size(); ++i) g[i] = reinterpret_cast<const void*>(grads[i]);
            std::vector<O2ncHyper> h;
            h.reserve(hypers.size());
            for (const auto& [lr, beta, mu, weight_decay, maximize] : hypers) {
              h.push_back(O2ncHyper{lr, beta, mu, weight_decay, maximize});
              h.back().grad_multiplier = grad_multiplier;
            }
            O2ncOptions o = options_of(scaling, 0, 0, scale, check_finite, nan_policy);
            o.stream = stream;
            const ArrayView s = make_view(reinterpret_cast<std::int64_t*>(state), {6}, table.device());
            {
              py::gil_scoped_release release;
              table.step(g, h, o, s);
            }
            // On the CPU the state is host memory: whether the step was skipped, without a tensor read.
            if (table.device().type != DeviceType::cpu) return py::none();
            return py::bool_(reinterpret_cast<const O2ncDeviceState*>(state)->found_inf != 0);
          },
          py::arg("grads"), py::arg("hypers"), py::arg("scaling"), py::arg("scale"), py::arg("check_finite"),
          py::arg("nan_policy"), py::arg("state"), py::arg("stream") = 0, py::arg("grad_multiplier") = 1.0)
      .def_property_readonly("size", &O2ncTable::size);

  m.def(
      "o2nc_device_state", [](std::uint64_t seed, std::uint32_t step) { return words_of(o2nc_device_state(seed, step)); },
      py::arg("seed"), py::arg("step"), "A fresh O2ncDeviceState for (seed, step) as six int64 words.");
  m.def("o2nc_device_state_fields", &fields_of, py::arg("words"),
        "The fields of an O2ncDeviceState given as six int64 words: seed, step, found_inf, scale, first_nonfinite.");

  // Test hook (o2nc.hpp, detail::o2nc_cuda_schedule_on_cpu): the CUDA schedule, run on NumPy arrays.
  m.def(
      "_o2nc_cuda_schedule_on_cpu",
      [](const py::sequence& params, const py::sequence& grads, const py::sequence& buffers,
         const std::vector<GroupTuple>& groups, double scale, bool check_finite, int max_slots, int max_groups) {
        const std::vector<ArrayView> x = views_of(params, "params");
        const std::vector<ArrayView> g = views_of(grads, "grads");
        const std::vector<ArrayView> D = views_of(buffers, "buffers");
        O2ncOptions o = options_of(O2ncScaling::exponential, 0, 0, scale, check_finite, O2ncNanPolicy::skip);
        detail::O2ncScheduleRun r;
        {
          py::gil_scoped_release release;
          r = detail::o2nc_cuda_schedule_on_cpu(x, g, D, groups_of(groups), o, max_slots, max_groups);
        }
        return py::make_tuple(r.first_nonfinite, r.launches);
      },
      py::arg("params"), py::arg("grads"), py::arg("buffers"), py::arg("groups"), py::arg("scale"),
      py::arg("check_finite"), py::arg("max_slots"), py::arg("max_groups"));

  m.def(
      "o2nc_scale",
      [](std::uint64_t seed, std::uint32_t step, O2ncScaling scaling) {
        return o2nc_scale(seed, step, scaling);
      },
      py::arg("seed"), py::arg("step"), py::arg("scaling"));

  m.def(
      "o2nc_check_hyper",
      [](double lr, double beta, double mu, double weight_decay) {
        O2ncHyper h;
        h.lr = lr, h.beta = beta, h.mu = mu, h.weight_decay = weight_decay;
        check_o2nc_hyper(h);
      },
      py::arg("lr"), py::arg("beta"), py::arg("mu"), py::arg("weight_decay"));
}

}  // namespace homotopt::bindings
