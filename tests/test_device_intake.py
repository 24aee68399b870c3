"""GPU-array intake that runs without a GPU: the DLPack ABI parsed from a host producer, descriptions
of CUDA-array-interface objects, and clear errors when no device is there."""

import numpy as np
import pytest

import homotopt
from homotopt import _core, _device


def test_dlpack_structs_parse_a_host_tensor():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)[:, 1:]  # strided view
    desc = _device.from_dlpack(x, "x")
    assert desc["device_type"] == _device.KDL_CPU and desc["dtype"] == "f4"
    assert desc["shape"] == (3, 3) and desc["strides"] == (16, 4)
    assert desc["ptr"] == x.__array_interface__["data"][0]
    del desc  # the deleter runs once the holder is released, without a crash


class FakeCudaArray:
    """What PyTorch or CuPy expose, without their memory."""

    def __init__(self, shape, typestr="<f4", strides=None):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (12345, False),
                                         "strides": strides, "version": 3, "stream": 7}


def test_cuda_array_interface_description():
    fake = FakeCudaArray((5, 6), "<f8", (48, 8))
    assert _device.is_device_array(fake) and not _device.is_device_array(np.zeros(3))
    desc = _device.describe(fake, "x")
    assert desc["ptr"] == 12345 and desc["shape"] == (5, 6) and desc["strides"] == (48, 8)
    assert desc["dtype"] == "f8" and desc["stream"] == 7 and desc["readonly"] is False
    with pytest.raises(TypeError, match="float32 or float64"):
        _device.describe(FakeCudaArray((3,), "<f2"), "x")


def test_mixed_devices_are_rejected():
    with pytest.raises(ValueError, match="same device"):
        homotopt.power_gradient(FakeCudaArray((3,)), np.zeros((3, 2), np.float32), 1.0)


@pytest.mark.skipif(_core.cuda_device_count() > 0, reason="checks the no-GPU path")
def test_gpu_arrays_without_a_gpu_give_a_clear_error():
    # A made-up device pointer: with CUDA compiled in, the runtime finds no device and says so; in a
    # CPU-only build the dispatch point says the build has no CUDA. Never a crash.
    values = {"ptr": 1 << 20, "shape": (4,), "strides": None, "dtype": "f4", "device": 0, "readonly": False, "stream": 0}
    grads = dict(values, shape=(4, 3))
    with pytest.raises((RuntimeError, ValueError), match="CUDA|cuda"):
        _core.power_gradient(values, grads, 1.0, _core.NanPolicy.raise_, dict(values, shape=(3,)), dict(values, shape=(3,)))
