// Non-owning array views: a pointer, a dtype, a device, a shape and strides (in elements, int64). The
// Python bindings build them from NumPy arrays (and, for CUDA, from DLPack capsules or
// __cuda_array_interface__); C++ callers build them with make_view(). Views never own or copy memory.
// The check_* helpers are the edge checks of the house style: each names the argument and says expected
// versus got.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "homotopt/error.hpp"

namespace homotopt {

// float16 (IEEE binary16) and bfloat16: storage formats only (homotopt/float16.hpp); O2NC takes them.
enum class DType : int { float32 = 0, float64 = 1, int64 = 2, int32 = 3, float16 = 4, bfloat16 = 5 };
enum class DeviceType : int { cpu = 0, cuda = 1 };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int64: return "int64";
    case DType::int32: return "int32";
    case DType::float16: return "float16";
    case DType::bfloat16: return "bfloat16";
  }
  return "unknown";
}

inline std::string device_name(const Device& d) {
  return d.type == DeviceType::cpu ? std::string("cpu") : "cuda:" + std::to_string(d.index);
}

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::float64; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::int64; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::int32; };

struct ArrayView {
  static constexpr int kMaxDims = 8;

  void* data = nullptr;
  DType dtype = DType::float64;
  Device device{};
  int ndim = 0;
  std::int64_t shape[kMaxDims] = {};
  std::int64_t strides[kMaxDims] = {};  // in elements
  bool writable = true;
  void* stream = nullptr;  // CUDA: the producer's stream (cudaStream_t; nullptr: the legacy default)

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
  bool empty_view() const { return data == nullptr && ndim == 0; }
  // C-contiguous: strides are those of a dense row-major array (size-1 axes may have any stride; an
  // empty array is contiguous whatever its strides, as NumPy gives it zeros).
  bool contiguous() const {
    if (numel() == 0) return true;
    std::int64_t expected = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expected) return false;
      expected *= shape[i];
    }
    return true;
  }
  template <class T> T* ptr() const { return static_cast<T*>(data); }
  std::string shape_string() const {
    std::string s = "(";
    for (int i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (ndim == 1 ? ",)" : ")");
  }
};

// A dense row-major view over memory the caller owns.
template <class T>
ArrayView make_view(T* data, std::initializer_list<std::int64_t> shape, Device device = {}) {
  ArrayView v;
  v.data = const_cast<void*>(static_cast<const void*>(data));
  v.dtype = dtype_of<std::remove_const_t<T>>::value;
  v.device = device;
  v.writable = !std::is_const<T>::value;
  HOMOTOPT_ASSERT(shape.size() <= static_cast<std::size_t>(ArrayView::kMaxDims));
  v.ndim = static_cast<int>(shape.size());
  int i = 0;
  for (std::int64_t s : shape) v.shape[i++] = s;
  std::int64_t stride = 1;
  for (int k = v.ndim - 1; k >= 0; --k) {
    v.strides[k] = stride;
    stride *= v.shape[k];
  }
  return v;
}

// ---- edge checks -------------------------------------------------------------------------------------
inline void check_float(const ArrayView& v, const char* name) {
  HOMOTOPT_CHECK_TYPE(v.dtype == DType::float32 || v.dtype == DType::float64, name,
                      ": expected dtype float32 or float64, got ", dtype_name(v.dtype));
}
inline void check_dtype(const ArrayView& v, DType want, const char* name) {
  HOMOTOPT_CHECK_TYPE(v.dtype == want, name, ": expected dtype ", dtype_name(want), ", got ",
                      dtype_name(v.dtype));
}
inline void check_same_dtype(const ArrayView& v, const ArrayView& ref, const char* name,
                             const char* ref_name) {
  HOMOTOPT_CHECK_TYPE(v.dtype == ref.dtype, name, ": expected dtype ", dtype_name(ref.dtype),
                      " (the dtype of ", ref_name, "), got ", dtype_name(v.dtype));
}
inline void check_contiguous(const ArrayView& v, const char* name) {
  HOMOTOPT_CHECK(v.contiguous(), name, ": expected a C-contiguous array, got strides that are not");
}
inline void check_writable(const ArrayView& v, const char* name) {
  HOMOTOPT_CHECK(v.writable, name, ": expected a writable array, got a read-only one");
}
inline void check_same_device(const ArrayView& v, const ArrayView& ref, const char* name,
                              const char* ref_name) {
  HOMOTOPT_CHECK(v.device == ref.device, name, ": expected an array on ", device_name(ref.device),
                 " (the device of ", ref_name, "), got one on ", device_name(v.device));
}
inline void check_ndim(const ArrayView& v, std::initializer_list<int> allowed, const char* name,
                       const char* what) {
  for (int n : allowed)
    if (v.ndim == n) return;
  HOMOTOPT_CHECK(false, name, ": expected shape ", what, ", got ", v.shape_string());
}

}  // namespace homotopt
