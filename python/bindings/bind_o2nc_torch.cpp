// homotopt.torch.ExpO2NC's per-step check of its cached C++ table (o2nc.hpp, O2ncTable) in one call
// instead of a Python loop over the parameters. Only conversion and comparison: no math. Reads tensor
// attributes through Python's C API (the core links no torch).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <vector>

namespace py = pybind11;

namespace homotopt::bindings {
namespace {

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
  bool known = false;
  for (const TensorAccess& a : cache) {
    if (a.type == type && a.version == type->tp_version_tag && a.version != 0) return &a;
    known = known || a.type == type;
  }
  if (!known && cache.size() >= 16) return nullptr;  // not a tensor type we expected so many of
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
  for (TensorAccess& old : cache)
    if (old.type == type) {  // changed since: replaced (the old descriptors are kept; a rare event)
      old = a;
      return &old;
    }
  Py_INCREF(reinterpret_cast<PyObject*>(type));
  cache.reserve(16);  // (pointers into the cache stay valid)
  cache.push_back(a);
  return &cache.back();
}

}  // namespace

void bind_o2nc_torch(py::module_& m) {
  // homotopt.torch's per-step check of its cached O2ncTable, in one call instead of a Python loop.
  // `param_lists`: each group's list of params; `keys`: one tuple per param, as build_table
  // (python/homotopt/torch/_o2nc_table.py) made it: (p, None) for a param without grad then, else
  // (p, data_ptr, shape, strides, dtype, D, contiguous, state). Returns the grads' pointers (0: no
  // grad), or None when anything differs from the keys or a grad is not of its param's dtype and layout
  // (the Python path then decides: copy, error or rebuild).
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
#if PY_VERSION_HEX >= 0x030A0000
        const int collecting = PyGC_Disable();
#else
        const int collecting = 0;  // (PyGC_Disable is 3.10+; 3.9 just collects as usual)
#endif
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
#if PY_VERSION_HEX >= 0x030A0000
        if (collecting) PyGC_Enable();
#endif
        if (!ok) return py::none();
        return py::cast(out);
      },
      py::arg("param_lists"), py::arg("keys"));
}

}  // namespace homotopt::bindings
