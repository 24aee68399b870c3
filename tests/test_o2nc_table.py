"""_core.O2ncTable (o2nc.hpp): the prepared call homotopt.torch keeps between steps. The same bits as
o2nc_update; seed, step and results in a state array on the CPU; bad input as a table, nothing written."""

import numpy as np
import pytest

import homotopt
from homotopt import _core

F32, F64 = _core.DType.float32, _core.DType.float64
CPU = _core.DeviceType.cpu
EXP, SKIP = _core.O2ncScaling.exponential, _core.O2ncNanPolicy.skip


def state(seed=3, step=0):
    return np.array(_core.o2nc_device_state(seed, step), dtype=np.int64)


def make(rng, sizes=(5, 7, 3)):
    x = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    D = [np.zeros(n, np.float32) for n in sizes]
    return x, D


def table_of(x, D, groups=None):
    return _core.O2ncTable([a.ctypes.data for a in x], [a.ctypes.data for a in D], [a.size for a in x],
                           [F32] * len(x), [F32] * len(x), CPU, 0, groups or [len(x)])


HYPER = [(0.1, 0.9, 0.0, 0.01, False)]


def test_table_steps_like_o2nc_update(rng):
    x, D = make(rng)
    xr, Dr = [a.copy() for a in x], [a.copy() for a in D]
    table, st = table_of(x, D), state()
    for step in range(3):
        g = [rng.standard_normal(a.size).astype(np.float32) for a in x]
        table.step([a.ctypes.data for a in g], HYPER, EXP, None, True, SKIP, st.ctypes.data)
        ref = homotopt.o2nc_update(xr, g, Dr, lr=0.1, beta=0.9, weight_decay=0.01, seed=3, step=step)
        fields = _core.o2nc_device_state_fields(st.tolist())
        assert fields["step"] == step + 1 and fields["scale"] == ref.s and not fields["found_inf"]
    for a, b in zip(x + D, xr + Dr):
        np.testing.assert_array_equal(a, b)
    g[1][4] = np.nan  # skipped: nothing written, the counter stays, the position is reported
    before = [a.copy() for a in x + D]
    table.step([a.ctypes.data for a in g], HYPER, EXP, None, True, SKIP, st.ctypes.data)
    fields = _core.o2nc_device_state_fields(st.tolist())
    assert fields["found_inf"] and fields["step"] == 3 and fields["first_nonfinite"] == 5 + 4
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(x + D, before))
    table.step([0, 0, g[2].ctypes.data], HYPER, EXP, None, True, SKIP, st.ctypes.data)  # 0: no grad this step
    assert np.array_equal(x[0], before[0]) and not np.array_equal(x[2], before[2])


def bad_cases(rng):
    x, D = make(rng)
    g = [np.ones(a.size, np.float32) for a in x]
    ptr = [a.ctypes.data for a in g]
    st = state()
    return x, D, [
        ("a grad over a param", lambda t: t.step([x[1].ctypes.data, ptr[1], ptr[2]], HYPER, EXP, None, True, SKIP,
                                                   st.ctypes.data),
         r"grads\[0\]: expected memory of its own, got an array that overlaps a param or buffer"),
        ("too few grads", lambda t: t.step(ptr[:2], HYPER, EXP, None, True, SKIP, st.ctypes.data),
         r"grads: expected 3 pointers \(one per param of the table\), got 2"),
        ("two hypers for one group", lambda t: t.step(ptr, HYPER * 2, EXP, None, True, SKIP, st.ctypes.data),
         r"hypers: expected 1 \(one per group of the table\), got 2"),
        ("bad beta", lambda t: t.step(ptr, [(0.1, 1.5, 0.0, 0.0, False)], EXP, None, True, SKIP, st.ctypes.data),
         r"beta: expected a value in \(0, 1\], got 1.5"),
        ("state over a buffer", lambda t: t.step(ptr, HYPER, EXP, None, True, SKIP, D[1].ctypes.data),
         r"state: expected memory of its own"),
        ("grad_multiplier 0", lambda t: t.step(ptr, HYPER, EXP, None, True, SKIP, st.ctypes.data, 0, 0.0),
         r"grad_multiplier: expected a finite value > 0 \(e.g. 1 / a GradScaler's scale\), got 0"),
        ("grad_multiplier inf", lambda t: t.step(ptr, HYPER, EXP, None, True, SKIP, st.ctypes.data, 0, np.inf),
         r"grad_multiplier: expected a finite value > 0"),
    ]


@pytest.mark.parametrize("case", range(7))
def test_bad_step_input_writes_nothing(rng, case):
    x, D, cases = bad_cases(rng)
    name, call, match = cases[case]
    table = table_of(x, D)
    before = [a.copy() for a in x + D]
    with pytest.raises(ValueError, match=match):
        call(table)
    assert all(np.array_equal(a, b) for a, b in zip(x + D, before)), name


def test_bad_tables(rng):
    x, D = make(rng)
    with pytest.raises(ValueError, match=r"params\[0\] and buffers\[0\]: expected memory of their own"):
        table_of(x, [x[0]] + D[1:])
    with pytest.raises(ValueError, match=r"groups: expected sizes that add up to 3"):
        table_of(x, D, [1, 1])
    with pytest.raises(TypeError, match=r"buffers\[0\]: expected dtype float32 \(the dtype of params\[0\]\), got "
                                        r"float64"):
        _core.O2ncTable([a.ctypes.data for a in x], [a.ctypes.data for a in D], [a.size for a in x], [F32] * 3,
                        [F64, F32, F32], CPU, 0, [3])


@pytest.mark.parametrize("multiplier", [2.0**-16, 2.0**-3, 2.0**5])
def test_grad_multiplier_is_the_update_of_multiplied_grads(rng, multiplier):
    # GradScaler's unscale fused into the update: with a power of two, bit for bit the multiplied grads.
    x, D = make(rng)
    xr, Dr = [a.copy() for a in x], [a.copy() for a in D]
    table, ref, st, st_ref = table_of(x, D), table_of(xr, Dr), state(), state()
    for _ in range(3):
        g = [(rng.standard_normal(a.size) * 1e3).astype(np.float32) for a in x]
        gm = [(a * np.float32(multiplier)).astype(np.float32) for a in g]
        assert table.step([a.ctypes.data for a in g], HYPER, EXP, None, True, SKIP, st.ctypes.data, 0,
                          multiplier) is False  # on the CPU: whether the step was skipped
        ref.step([a.ctypes.data for a in gm], HYPER, EXP, None, True, SKIP, st_ref.ctypes.data)
    for a, b in zip(x + D, xr + Dr):
        np.testing.assert_array_equal(a, b)
    g[0][1] = np.inf
    assert table.step([a.ctypes.data for a in g], HYPER, EXP, None, True, SKIP, st.ctypes.data, 0, multiplier)
