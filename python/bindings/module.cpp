// homotopt._core: conversion only. Each binding turns arrays into views (and Python enums and typed
// structs into their C++ ones; the C++ front ends check every argument), releases the GIL, calls the
// C++ API, and converts back; homotopt::Error becomes ValueError, homotopt::TypeError TypeError, and
// internal or CUDA errors RuntimeError.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "homotopt/build_info.hpp"
#include "homotopt/error.hpp"

namespace py = pybind11;

namespace homotopt::bindings {
void bind_enums(py::module_& m);
void bind_power(py::module_& m);
void bind_random(py::module_& m);
void bind_problems(py::module_& m);
void bind_runner(py::module_& m);
void bind_o2nc(py::module_& m);
void bind_o2nc_torch(py::module_& m);
void bind_power_accumulate(py::module_& m);
void bind_power_merge(py::module_& m);
void bind_perturb(py::module_& m);
void bind_asktell(py::module_& m);
}  // namespace homotopt::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "homotopt native core (C++17, optional CUDA). Use the homotopt package, not this module.";

  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const homotopt::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const homotopt::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const homotopt::InternalError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const homotopt::CudaError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  m.def("build_info", [] {
    const homotopt::BuildInfo b = homotopt::build_info();
    py::dict d;
    d["version"] = b.version;
    d["compiler"] = b.compiler;
    d["cxx_flags"] = b.cxx_flags;
    d["build_type"] = b.build_type;
    d["openmp"] = b.openmp;
    d["openmp_version"] = b.openmp_version;
    d["cuda"] = b.cuda;
    d["cuda_version"] = b.cuda_version;
    d["cuda_architectures"] = b.cuda_architectures;
    d["cpu_capabilities"] = py::cast(b.cpu_capabilities);
    d["cpu_capability"] = b.cpu_capability;
    return d;
  });
  m.def("num_threads", &homotopt::num_threads);
  m.def("cuda_device_count", &homotopt::cuda_device_count);
  m.def("set_num_threads", &homotopt::set_num_threads, py::arg("n"));

  homotopt::bindings::bind_enums(m);
  homotopt::bindings::bind_power(m);
  homotopt::bindings::bind_random(m);
  homotopt::bindings::bind_problems(m);
  homotopt::bindings::bind_runner(m);
  homotopt::bindings::bind_o2nc(m);
  homotopt::bindings::bind_o2nc_torch(m);
  homotopt::bindings::bind_power_accumulate(m);
  homotopt::bindings::bind_power_merge(m);
  homotopt::bindings::bind_perturb(m);
  homotopt::bindings::bind_asktell(m);
}
