"""The fused rescale-and-accumulate u <- a_g u + b_g g (power_accumulate.hpp) on the CPU: bit for bit
against float64 NumPy, the b = 0 rule, the non-finite flag, and bad input as a table."""

import numpy as np
import pytest

import homotopt
from homotopt import _core

DT = {np.float32: _core.DType.float32, np.float64: _core.DType.float64}


def call(us, gs, groups, coef, flag, device_type=_core.DeviceType.cpu):
    _core.power_accumulate_pointers([u.ctypes.data for u in us], [g.ctypes.data for g in gs], [u.size for u in us],
                                    [DT[u.dtype.type] for u in us], list(groups), device_type, 0, coef.ctypes.data,
                                    coef.shape[0], flag.ctypes.data, 0)


def reference(u, g, a, b):
    """In float64, each product rounded on its own, then one rounding to u's dtype."""
    au = a * u.astype(np.float64)
    return (au if b == 0 else au + b * g.astype(np.float64)).astype(u.dtype)


@pytest.mark.parametrize("sizes", [[1], [7, 0, 33], [100_003, 5, 70_000]])
def test_bits_equal_float64_reference(sizes, rng):
    dtypes = [np.float32, np.float64]
    us = [rng.standard_normal(n).astype(dtypes[i % 2]) for i, n in enumerate(sizes)]
    gs = [rng.standard_normal(n).astype(u.dtype) * 1e3 for n, u in zip(sizes, us)]
    groups = [i % 2 for i in range(len(sizes))]
    coef = np.array([[0.25, 1.0], [np.exp(-3.7), 0.0031]])
    want = [reference(u, g, *coef[k]) for u, g, k in zip(us, gs, groups)]
    flag = np.zeros(1)
    call(us, gs, groups, coef, flag)
    for u, w in zip(us, want):
        np.testing.assert_array_equal(u, w)  # bit for bit: the same two roundings in float64, one to dtype
    assert flag[0] == 0


def test_zero_b_leaves_g_unread_and_flag_marks_nonfinite(rng):
    u = rng.standard_normal(50)
    g = np.full(50, np.nan)
    flag = np.zeros(1)
    call([u], [g], [0], np.array([[0.5, 0.0]]), flag)
    assert np.all(np.isfinite(u)) and flag[0] == 0
    g2 = rng.standard_normal(50)
    g2[17] = np.inf
    call([u], [g2], [0], np.array([[1.0, 2.0]]), flag)
    assert flag[0] == 1


def test_null_g_rescales_and_a_of_one_writes_nothing(rng):
    """g = nullptr (how homotopt.torch rescales u = p.grad in place): u <- a u whatever b; with a = 1 and
    no g the tensor keeps its bits (a NaN with a payload included)."""
    u = rng.standard_normal(1000).astype(np.float32)
    want = reference(u, u, np.exp(-2.5), 0.0)
    flag = np.zeros(1)
    coef = np.array([[np.exp(-2.5), 7.0]])
    _core.power_accumulate_pointers([u.ctypes.data], [0], [u.size], [DT[np.float32]], [0], _core.DeviceType.cpu,
                                    0, coef.ctypes.data, 1, flag.ctypes.data, 0)
    np.testing.assert_array_equal(u, want)
    assert flag[0] == 0
    v = np.frombuffer(np.array([0x7FC00001, 0x3F800000], dtype=np.uint32).tobytes(), dtype=np.float32).copy()
    one = np.array([[1.0, 0.0]])
    _core.power_accumulate_pointers([v.ctypes.data], [0], [2], [DT[np.float32]], [0], _core.DeviceType.cpu, 0,
                                    one.ctypes.data, 1, flag.ctypes.data, 0)
    assert v.view(np.uint32).tolist() == [0x7FC00001, 0x3F800000]  # a payload NaN: untouched, not rewritten


def test_threads_do_not_change_bits(rng, threads):
    u0 = rng.standard_normal(300_000).astype(np.float32)
    g = rng.standard_normal(300_000).astype(np.float32)
    coef = np.array([[0.3, 0.7]])
    out = []
    for n in (1, 2):
        homotopt.set_num_threads(n)
        u = u0.copy()
        call([u], [g], [0], coef, np.zeros(1))
        out.append(u)
    np.testing.assert_array_equal(out[0], out[1])


def _bad(change):
    u, g = np.zeros(4), np.ones(4)
    args = dict(us=[u.ctypes.data], gs=[g.ctypes.data], numels=[4], dtypes=[_core.DType.float64], groups=[0],
                device_type=_core.DeviceType.cpu,
                device_index=0, coefficients=np.zeros(2).ctypes.data, num_groups=1, flag=np.zeros(1).ctypes.data,
                stream=0)
    args.update(change(u, g))
    _core.power_accumulate_pointers(**args)


BAD = [
    (lambda u, g: dict(gs=[]), ValueError, r"us, gs, numels, dtypes, groups: expected lists of one length"),
    (lambda u, g: dict(groups=[1]), ValueError, r"tensors\[0\]: expected a group in \[0, 1\), got 1"),
    (lambda u, g: dict(numels=[-1]), ValueError, r"tensors\[0\]: expected n >= 0 elements, got -1"),
    (lambda u, g: dict(dtypes=[_core.DType.int64]), TypeError, r"tensors\[0\]: expected dtype float32 or float64, got int64"),
    (lambda u, g: dict(gs=[u.ctypes.data + 8]), ValueError, r"tensors\[0\]: expected u and g not to overlap"),
    (lambda u, g: dict(us=[0]), ValueError, r"tensors\[0\]: expected a non-null u pointer"),
    (lambda u, g: dict(num_groups=0), ValueError, r"groups: expected at least 1 row"),
    (lambda u, g: dict(coefficients=0), ValueError, r"coefficients: expected a \(1, 2\) float64 table, got a null"),
    (lambda u, g: dict(flag=0), ValueError, r"flag: expected one float64, got a null pointer"),
    (lambda u, g: dict(device_type=1), TypeError, r"incompatible function arguments"),  # a DeviceType, no codes
]


@pytest.mark.parametrize("change, exc, pattern", BAD)
def test_bad_input(change, exc, pattern):
    with pytest.raises(exc, match=pattern):
        _bad(change)


@pytest.mark.skipif(homotopt.build_info()["cuda"], reason="this build has CUDA")
def test_cuda_pointers_in_a_cpu_build():
    with pytest.raises(ValueError, match="homotopt was built without CUDA"):
        _bad(lambda u, g: dict(device_type=_core.DeviceType.cuda))
