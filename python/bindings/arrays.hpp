// Conversion of Python arrays to homotopt::ArrayView (no copies) and allocation of outputs.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

#include "homotopt/array.hpp"

namespace homotopt::bindings {

namespace py = pybind11;

// A view of a NumPy array's memory. Unsupported dtypes raise TypeError naming the argument.
ArrayView view_of(const py::array& a, const char* name);

// A view of a NumPy array or of a GPU array described by homotopt._device.describe (a dict: ptr,
// shape, strides in bytes or None, dtype "f4"/"f8"/"i8"/"i4", device, readonly, stream).
ArrayView view_of(const py::handle& obj, const char* name);

// A view of an optional array: an empty view for None.
ArrayView optional_view_of(const py::object& a, const char* name);

// A new C-contiguous NumPy array of the given float dtype (as homotopt::DType) and shape.
py::array new_array(DType dtype, const std::vector<std::int64_t>& shape);

// The float dtype of outputs that follow an input: its own when it is a float, float64 otherwise
// (the input's dtype is rejected later, by the checks, with the input's name).
DType output_dtype(const ArrayView& v);

}  // namespace homotopt::bindings
