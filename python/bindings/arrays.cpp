#include "arrays.hpp"

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

ArrayView optional_view_of(const py::object& a, const char* name) {
  if (a.is_none()) return ArrayView{};
  return view_of(py::reinterpret_borrow<py::array>(a), name);
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
