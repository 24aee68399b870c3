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

// The attributes homotopt.torch's per-step check reads, looked up once per tensor type (torch.Tensor,
// nn.Parameter, ...) instead of per access: grad, dtype and shape are data descriptors (no instance
// attribute can hide them); data_ptr, is_contiguous and stride are methods, called unbound. A type
// whose attributes are not these kinds, or that changes (its version tag), is looked up again or
// left to the Python path (nullptr).
struct TensorAccess {
  PyTypeObject* type = nullptr;
  unsigned int version = 0;
  PyObject *grad = nullptr, *dtype = nullptr, *shape = nullptr;
  PyObject *data_ptr = nullptr, *is_contiguous = nullptr, *stride = nullptr;
};

const TensorAccess* tensor_access(PyTypeObject* type) {
  static std::vector<TensorAccess> cache;  // a few types; the references are kept for the process
  for (const TensorAccess& a : cache)
    if (a.type == type && a.version == type->tp_version_tag && a.version != 0) return &a;
  const auto lookup = [&](const char* name, bool data) -> PyObject* {
    PyObject* d = PyObject_GetAttrString(reinterpret_cast<PyObject*>(type), name);  // new reference
    if (d == nullptr) {
      PyErr_Clear();
      return nullptr;
    }
    const bool ok = data ? Py_TYPE(d)->tp_descr_get != nullptr && Py_TYPE(d)->tp_descr_set != nullptr
                         : PyCallable_Check(d) != 0;
    if (!ok) Py_CLEAR(d);
    return d;
  };
  TensorAccess a;
  a.type = type;
  a.grad = lookup("grad", true);
  a.dtype = lookup("dtype", true);
  a.shape = lookup("shape", true);
  a.data_ptr = lookup("data_ptr", false);
  a.is_contiguous = lookup("is_contiguous", false);
  a.stride = lookup("stride", false);
  a.version = type->tp_version_tag;  // after the lookups, which assign a tag if there was none
  if (!a.grad || !a.dtype || !a.shape || !a.data_ptr || !a.is_contiguous || !a.stride || a.version == 0) {
    for (PyObject* d : {a.grad, a.dtype, a.shape, a.data_ptr, a.is_contiguous, a.stride}) Py_XDECREF(d);
    return nullptr;
  }
  Py_INCREF(reinterpret_cast<PyObject*>(type));
  for (TensorAccess& old : cache)
    if (old.type == type) {  // changed since: replaced (the old references are kept; a rare event)
      old = a;
      return &old;
    }
  if (cache.size() >= 16) return nullptr;  // not a tensor type we expected so many of
  cache.reserve(16);  // (pointers into the cache stay valid)
  cache.push_back(a);
  return &cache.back();
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

  // homotopt.torch's per-step check of its cached O2ncTable, in one call instead of a Python loop.
  // `param_lists`: each group's list of params; `keys`: one tuple per param, as ExpO2NC._build made it:
  // (p, None) for a param without grad then, else (p, data_ptr, shape, strides, dtype, D, contiguous,
  // state). Returns the grads' pointers (0: no grad), or None when anything differs from the keys or a
  // grad is not of its param's dtype and layout (the Python path then decides: copy, error or rebuild).
  // Reads tensor attributes through Python's C API (the core links no torch), with as few calls and
  // temporary objects as the check allows: a param contiguous at build is checked with is_contiguous()
  // and its shape (which fix its strides) rather than stride() tuples.
  m.def(
      "_o2nc_torch_grads",
      [](const py::list& param_lists, const py::list& keys) -> py::object {
        static PyObject* const key_D = PyUnicode_InternFromString("D");  // kept for the process
        const auto call = [](PyObject* self, PyObject* method) {  // an unbound method, self first
          PyObject* args[1] = {self};
          return py::reinterpret_steal<py::object>(PyObject_Vectorcall(method, args, 1, nullptr));
        };
        const auto attr = [](PyObject* self, PyObject* descriptor) {  // a data descriptor's value
          return py::reinterpret_steal<py::object>(
              Py_TYPE(descriptor)->tp_descr_get(descriptor, self, reinterpret_cast<PyObject*>(Py_TYPE(self))));
        };
        const auto same = [](const py::object& a, PyObject* b) {  // a == b, errors as "not the same"
          if (!a) return false;
          const int r = PyObject_RichCompareBool(a.ptr(), b, Py_EQ);
          if (r < 0) PyErr_Clear();
          return r == 1;
        };
        constexpr std::uintptr_t kBad = ~std::uintptr_t{0};  // not a pointer (a conversion failed)
        const auto pointer = [](const py::object& v) -> std::uintptr_t {  // data_ptr() is an int >= 0
          if (!v || !PyLong_Check(v.ptr())) return kBad;
          return static_cast<std::uintptr_t>(PyLong_AsUnsignedLongLongMask(v.ptr()));
        };
        // The layout of t (p or its grad) is the key's: contiguous (and p's shape, checked apart) or
        // these strides.
        const auto same_layout = [&](PyObject* t, const TensorAccess& a, PyObject* key) {
          if (PyTuple_GET_ITEM(key, 6) == Py_True) return call(t, a.is_contiguous).ptr() == Py_True;
          return same(call(t, a.stride), PyTuple_GET_ITEM(key, 3));
        };
        // The loop makes a few short-lived tuples and ints per tensor; the collector is held off while
        // it runs (they are all freed by the end), which saves the collections they would trigger.
        const int collecting = PyGC_Disable();
        std::vector<std::uintptr_t> out;
        const Py_ssize_t count = PyList_GET_SIZE(keys.ptr());
        out.reserve(static_cast<std::size_t>(count));
        const auto check = [&]() -> bool {
          Py_ssize_t n = 0;
          for (const py::handle group : param_lists) {
            if (!PyList_Check(group.ptr())) return false;
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(group.ptr()); ++i) {
              PyObject* p = PyList_GET_ITEM(group.ptr(), i);
              if (n >= count) return false;
              PyObject* key = PyList_GET_ITEM(keys.ptr(), n++);
              if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) < 2 || PyTuple_GET_ITEM(key, 0) != p) return false;
              const TensorAccess* a = tensor_access(Py_TYPE(p));
              if (a == nullptr) return false;
              const py::object grad = attr(p, a->grad);
              if (!grad) return false;
              if (PyTuple_GET_ITEM(key, 1) == Py_None) {  // no grad when the table was built
                if (!grad.is_none()) return false;
                out.push_back(0);
                continue;
              }
              if (PyTuple_GET_SIZE(key) != 8) return false;
              const std::uintptr_t expected = pointer(py::reinterpret_borrow<py::object>(PyTuple_GET_ITEM(key, 1)));
              const py::object dtype = attr(p, a->dtype);
              PyObject* state = PyTuple_GET_ITEM(key, 7);
              PyObject* D = PyDict_Check(state) ? PyDict_GetItemWithError(state, key_D) : nullptr;
              if (expected == kBad || D != PyTuple_GET_ITEM(key, 5) || dtype.ptr() != PyTuple_GET_ITEM(key, 4) ||
                  pointer(call(p, a->data_ptr)) != expected || !same(attr(p, a->shape), PyTuple_GET_ITEM(key, 2)) ||
                  !same_layout(p, *a, key))
                return false;
              if (grad.is_none()) {
                out.push_back(0);
                continue;
              }
              // (a sparse grad has no strides and is not contiguous: the Python path names it)
              const TensorAccess* b = tensor_access(Py_TYPE(grad.ptr()));
              // The grad's shape too: `p.grad.data = t` bypasses torch's own shape check on assignment,
              // and a smaller grad would be read past its end.
              if (b == nullptr || attr(grad.ptr(), b->dtype).ptr() != dtype.ptr() ||
                  !same(attr(grad.ptr(), b->shape), PyTuple_GET_ITEM(key, 2)) || !same_layout(grad.ptr(), *b, key))
                return false;
              const std::uintptr_t g = pointer(call(grad.ptr(), b->data_ptr));
              if (g == kBad) return false;
              out.push_back(g);
            }
          }
          return n == count;
        };
        const bool ok = check();
        if (PyErr_Occurred()) PyErr_Clear();  // whatever failed, the Python path meets it again and says it
        if (collecting) PyGC_Enable();
        if (!ok) return py::none();
        return py::cast(out);
      },
      py::arg("param_lists"), py::arg("keys"));

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
