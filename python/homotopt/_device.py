"""GPU arrays in, without copies: `__cuda_array_interface__` (PyTorch, CuPy, Numba) or DLPack
(`__dlpack__`, JAX and any other producer), described to the native core as a small dict.

The DLPack ABI structs are declared here from the DLPack specification (v0.8 / v1 legacy capsule
"dltensor"); a consumed capsule is renamed "used_dltensor" and its deleter runs when the view is
released. Work runs on the producer's stream where the interface names one (`stream` of the CUDA
array interface, version 3), on torch's current stream for torch tensors (whose interface, version 2,
names none); DLPack producers are asked to make the data ready on the legacy default stream, which
homotopt then uses.
"""

from __future__ import annotations

import ctypes
import weakref
from typing import Any

import numpy as np

KDL_CPU, KDL_CUDA, KDL_CUDA_MANAGED = 1, 2, 13
_LEGACY_DEFAULT_STREAM = 1  # DLPack's name for CUDA's legacy default stream


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    pass


_DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(_DLManagedTensor))
_DLManagedTensor._fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _DELETER)]

_capsule_get = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_get.restype, _capsule_get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
_capsule_rename = ctypes.pythonapi.PyCapsule_SetName
_capsule_rename.restype, _capsule_rename.argtypes = ctypes.c_int, [ctypes.py_object, ctypes.c_char_p]

# DLPack (code, bits) and CUDA-array-interface typestrs -> the core's dtype names.
_DLPACK_DTYPES = {(2, 32): "f4", (2, 64): "f8", (0, 64): "i8", (0, 32): "i4"}


class _Holder:
    """Keeps a consumed DLPack tensor alive; calls its deleter once the last view of it is gone."""

    def __init__(self, managed: Any) -> None:
        deleter = managed.contents.deleter
        weakref.finalize(self, lambda: deleter(managed) if deleter else None)


def is_device_array(x: Any) -> bool:
    """Whether x is a GPU array this module can describe (host arrays, NumPy included, are not)."""
    if isinstance(x, np.ndarray):
        return False
    if hasattr(x, "__cuda_array_interface__"):
        return True
    dev = getattr(x, "__dlpack_device__", None)
    if dev is None:
        return False
    try:
        return dev()[0] in (KDL_CUDA, KDL_CUDA_MANAGED)
    except Exception:  # noqa: BLE001 - a producer that cannot say is not a GPU array for us
        return False


def describe(x: Any, name: str) -> dict:
    """The core's description of GPU array x: ptr, shape, strides (bytes, or None: C order), dtype
    ("f4", "f8", "i8", "i4"), device, readonly, stream, and an owner that keeps the memory alive."""
    cai = getattr(x, "__cuda_array_interface__", None)
    if cai is not None:
        typestr = cai["typestr"]
        if typestr[0] not in "<|" or typestr[1:] not in ("f4", "f8", "i8", "i4"):
            raise TypeError(f"{name}: expected dtype float32 or float64, got {typestr}")
        ptr, readonly = cai["data"]
        return {"ptr": int(ptr or 0), "shape": tuple(int(s) for s in cai["shape"]),
                "strides": None if cai.get("strides") is None else tuple(int(s) for s in cai["strides"]),
                "dtype": typestr[1:], "device": _pointer_device(x), "readonly": bool(readonly),
                "stream": _stream_of(x, cai), "owner": x}
    desc = from_dlpack(x, name, stream=_LEGACY_DEFAULT_STREAM)
    if desc.pop("device_type") not in (KDL_CUDA, KDL_CUDA_MANAGED):
        raise TypeError(f"{name}: expected a CUDA array, got a DLPack tensor on another device")
    return desc


def _stream_of(x: Any, cai: dict) -> int:
    """The stream to work on: the producer's current one. torch's interface (version 2) names none, so a
    torch tensor gives torch's current stream on its device (as homotopt.torch does): work and outputs
    then stay ordered with the caller's torch ops, also inside ``with torch.cuda.stream(s)``; CuPy
    names its current stream (1: legacy default, 2: per-thread default)."""
    if type(x).__module__.startswith("torch"):
        import torch

        return int(torch.cuda.current_stream(x.device).cuda_stream)
    return int(cai.get("stream") or 0)


def from_dlpack(x: Any, name: str, stream: int | None = None) -> dict:
    """Consumes x's DLPack capsule: the description of describe() plus "device_type" (any device)."""
    capsule = x.__dlpack__() if stream is None else x.__dlpack__(stream=stream)
    managed = ctypes.cast(_capsule_get(capsule, b"dltensor"), ctypes.POINTER(_DLManagedTensor))
    _capsule_rename(capsule, b"used_dltensor")  # we own it now: the capsule must not delete it
    holder = _Holder(managed)
    t = managed.contents.dl_tensor
    key = (t.dtype.code, t.dtype.bits)
    if key not in _DLPACK_DTYPES or t.dtype.lanes != 1:
        raise TypeError(f"{name}: expected dtype float32 or float64, got DLPack code {key[0]} with {key[1]} bits")
    itemsize = t.dtype.bits // 8
    shape = tuple(t.shape[i] for i in range(t.ndim))
    strides = None if not t.strides else tuple(t.strides[i] * itemsize for i in range(t.ndim))
    return {"ptr": int(t.data or 0) + int(t.byte_offset), "shape": shape, "strides": strides,
            "dtype": _DLPACK_DTYPES[key], "device": int(t.device.device_id), "device_type": int(t.device.device_type),
            "readonly": False, "stream": 0, "owner": holder, "source": x}


def _pointer_device(x: Any) -> int:
    """The CUDA device of a CUDA-array-interface producer (the interface itself does not say)."""
    device = getattr(x, "device", None)
    index = getattr(device, "index", None)
    if isinstance(index, int):
        return index
    ident = getattr(device, "id", None)  # CuPy
    return int(ident) if isinstance(ident, int) else 0


def empty_like(ref: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """A new GPU array of `shape` and `dtype` from the library that made `ref` (a PyTorch tensor, a
    CuPy array), on ref's device."""
    module = type(ref).__module__.split(".")[0]
    if module == "torch":
        import torch

        return torch.empty(shape, dtype=getattr(torch, np.dtype(dtype).name), device=ref.device)
    if module == "cupy":
        import cupy

        with cupy.cuda.Device(_pointer_device(ref)):
            return cupy.empty(shape, dtype=dtype)
    raise TypeError(f"GPU outputs are allocated with the input's library (PyTorch or CuPy); got a "
                    f"{type(ref).__module__}.{type(ref).__name__}: convert it with torch.from_dlpack or cupy.asarray")
