#include "arrays.hpp"

#include <pybind11/stl.h>

#include <string>

#include "homotopt/error.hpp"

namespace homotopt::bindings {

ArrayView view_of(const py::array& a, const char* name) {
  ArrayView v;
  const py::dtype dt = a.dtype();
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f' && size == 4) v.dtype = DType::float32;
  else if (kind == 'f' && size == 8) v.dtype = DType::float64;
  else if (kind == 'i' && size == 8) v.dtype = DType::int64;
  else if (kind == 'i' && size == 4) v.dtype = DType::int32;
  else
    throw TypeError(detail::concat(name, ": expected dtype float32 or float64, got ",
                                   std::string(py::str(dt))));
  HOMOTOPT_CHECK(a.ndim() <= ArrayView::kMaxDims, name, ": expected at most ", ArrayView::kMaxDims,
                 " dimensions, got ", a.ndim());
  v.ndim = static_cast<int>(a.ndim());
  for (int i = 0; i < v.ndim; ++i) {
    v.shape[i] = static_cast<std::int64_t>(a.shape(i));
    const auto stride = static_cast<std::int64_t>(a.strides(i));
    HOMOTOPT_CHECK(stride % static_cast<std::int64_t>(size) == 0, name,
                   ": expected strides that are multiples of the item size, got ", stride);
    v.strides[i] = stride / static_cast<std::int64_t>(size);
  }
  v.data = const_cast<void*>(a.data());
  v.writable = a.writeable();
  v.device = Device{DeviceType::cpu, 0};
  return v;
}

namespace {

ArrayView device_view(const py::dict& d, const char* name) {
  ArrayView v;
  const std::string dtype = d["dtype"].cast<std::string>();
  std::int64_t size = 8;
  if (dtype == "f4") v.dtype = DType::float32, size = 4;
  else if (dtype == "f8") v.dtype = DType::float64;
  else if (dtype == "i8") v.dtype = DType::int64;
  else if (dtype == "i4") v.dtype = DType::int32, size = 4;
  else throw TypeError(detail::concat(name, ": expected dtype float32 or float64, got ", dtype));
  const auto shape = d["shape"].cast<std::vector<std::int64_t>>();
  HOMOTOPT_CHECK(static_cast<int>(shape.size()) <= ArrayView::kMaxDims, name, ": expected at most ",
                 ArrayView::kMaxDims, " dimensions, got ", shape.size());
  v.ndim = static_cast<int>(shape.size());
  std::int64_t dense = 1;
  for (int i = v.ndim - 1; i >= 0; --i) {
    v.shape[i] = shape[i];
    v.strides[i] = dense;
    dense *= shape[i];
  }
  if (!d["strides"].is_none()) {
    const auto strides = d["strides"].cast<std::vector<std::int64_t>>();
    HOMOTOPT_CHECK(strides.size() == shape.size(), name, ": strides and shape differ in length");
    for (int i = 0; i < v.ndim; ++i) {
      HOMOTOPT_CHECK(strides[i] % size == 0, name, ": expected strides that are multiples of the item size, got ",
                     strides[i]);
      v.strides[i] = strides[i] / size;
    }
  }
  v.data = reinterpret_cast<void*>(d["ptr"].cast<std::uintptr_t>());
  v.device = Device{DeviceType::cuda, d["device"].cast<int>()};
  v.writable = !d["readonly"].cast<bool>();
  v.stream = reinterpret_cast<void*>(d["stream"].cast<std::uintptr_t>());
  return v;
}

}  // namespace

ArrayView view_of(const py::handle& obj, const char* name) {
  if (py::isinstance<py::dict>(obj)) return device_view(py::reinterpret_borrow<py::dict>(obj), name);
  if (!py::isinstance<py::array>(obj))
    throw TypeError(detail::concat(name, ": expected an array, got ", std::string(Py_TYPE(obj.ptr())->tp_name)));
  return view_of(py::reinterpret_borrow<py::array>(obj), name);
}

ArrayView optional_view_of(const py::object& a, const char* name) {
  if (a.is_none()) return ArrayView{};
  return view_of(static_cast<const py::handle&>(a), name);
}

py::array new_array(DType dtype, const std::vector<std::int64_t>& shape) {
  std::vector<py::ssize_t> s(shape.begin(), shape.end());
  switch (dtype) {
    case DType::float32: return py::array_t<float>(s);
    case DType::float64: return py::array_t<double>(s);
    case DType::int64: return py::array_t<std::int64_t>(s);
    case DType::int32: return py::array_t<std::int32_t>(s);
  }
  return py::array_t<double>(s);
}

DType output_dtype(const ArrayView& v) {
  return v.dtype == DType::float32 ? DType::float32 : DType::float64;
}

}  // namespace homotopt::bindings
