"""The CUDA O2NC kernel's schedule (launch batches, block -> tensor search, chunk ranges, 16-byte packs
and the scalar path, the finiteness pass and its first-position rule), run serially on the CPU
through the same header functions as cuda/o2nc.cu: it must give the CPU backend's bits. Runs on
every machine; tests/test_o2nc_cuda.py checks the kernel itself on a GPU."""

import numpy as np
import pytest

import homotopt
from homotopt import _core

CHUNK32, CHUNK64 = 16384, 8192  # elements of one array per block (kO2ncChunkBytes = 64 KB)


def run_schedule(x, g, D, groups, s, *, check_finite=True, max_slots=64, max_groups=16):
    return _core._o2nc_cuda_schedule_on_cpu(x, g, D, groups, s, check_finite, max_slots, max_groups)


def run_cpu(x, g, D, groups, s):
    """The CPU backend, one call per group (the same s), as the reference bits."""
    start = 0
    for size, lr, beta, mu, wd, maximize in groups:
        sl = slice(start, start + size)
        homotopt.o2nc_update(x[sl], g[sl], D[sl], lr=lr, beta=beta, mu=mu, weight_decay=wd, maximize=maximize,
                             s=s, seed=0, step=0)
        start += size


def make(rng, sizes, dtypes, misalign=()):
    """x, g, D per size; the tensors in `misalign` are views one element into a larger array, so
    they are not 16-byte aligned and take the scalar path."""
    out = []
    for i, (n, dt) in enumerate(zip(sizes, dtypes)):
        triple = []
        for _ in range(3):
            a = rng.standard_normal(n + 1).astype(dt)
            triple.append(a[1:] if i in misalign else a[:n].copy())
        out.append(triple)
    return [list(t) for t in zip(*out)] if out else ([], [], [])


def copies(arrays):
    return [a.copy() for a in arrays]


SIZES = [1, 31, 33, 2**20 + 3, CHUNK32 - 1, CHUNK32, CHUNK32 + 1, 0, 5]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("misaligned", [False, True])
def test_schedule_gives_the_cpu_bits(rng, dtype, misaligned):
    sizes = SIZES
    dtypes = [dtype] * len(sizes)
    x, g, D = make(rng, sizes, dtypes, misalign=set(range(len(sizes))) if misaligned else ())
    assert all((a.ctypes.data % 16 != 0) == misaligned for a in x + g + D if a.size)  # packs, or the scalar path
    groups = [(4, 0.05, 0.9, 0.1, 0.0, False), (5, 0.02, 0.99, 0.0, 0.01, True)]
    x2, g2, D2 = copies(x), copies(g), copies(D)
    for step in range(3):
        s = homotopt.o2nc_scale(11, step)
        first, launches = run_schedule(x, g, D, groups, s)
        assert first == -1 and launches == 1
        run_cpu(x2, g2, D2, groups, s)
    for a, b in zip(x + D, x2 + D2):
        np.testing.assert_array_equal(a, b)  # the same functions in the same order: the same bits


def test_many_tiny_and_empty_tensors_in_several_launches(rng):
    sizes = list(rng.integers(0, 8, 1000))
    sizes[:3] = [0, 0, 0]
    sizes[-1] = 0
    dtypes = [np.float32 if k % 3 else np.float64 for k in range(len(sizes))]
    x, g, D = make(rng, sizes, dtypes, misalign=set(range(0, 1000, 7)))
    groups = [(300, 0.05, 0.9, 0.0, 0.0, False), (0, 1.0, 1.0, 0.0, 0.0, False), (700, 0.1, 0.5, 0.2, 0.1, False)]
    x2, g2, D2 = copies(x), copies(g), copies(D)
    nonempty = sum(1 for n in sizes if n)
    first, launches = run_schedule(x, g, D, groups, 1.7)
    assert first == -1 and launches == -(-nonempty // 64)  # 64 tensors per launch (the 4 KB table)
    run_cpu(x2, g2, D2, groups, 1.7)
    for a, b in zip(x + D, x2 + D2):
        np.testing.assert_array_equal(a, b)
    # Groups split launches too: 3 tensors per group, at most 2 groups per launch.
    x, g, D = make(rng, [3] * 12, [np.float32] * 12)
    many = [(3, 0.01 * (k + 1), 0.9, 0.0, 0.0, False) for k in range(4)]
    x2, g2, D2 = copies(x), copies(g), copies(D)
    assert run_schedule(x, g, D, many, 0.5, max_slots=100, max_groups=2) == (-1, 2)
    run_cpu(x2, g2, D2, many, 0.5)
    for a, b in zip(x + D, x2 + D2):
        np.testing.assert_array_equal(a, b)


def test_empty_call_still_makes_one_launch():
    assert run_schedule([], [], [], [], 1.0) == (-1, 1)  # it advances the device step counter
    x = [np.zeros(0, np.float32)]
    assert run_schedule(x, copies(x), copies(x), [(1, 0.1, 0.9, 0.0, 0.0, False)], 1.0) == (-1, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("misaligned", [False, True])
def test_finiteness_pass_finds_the_first_position_and_writes_nothing(rng, dtype, misaligned):
    sizes = [7, 2**20 + 3, 33]
    x, g, D = make(rng, sizes, [dtype] * 3, misalign={0, 1, 2} if misaligned else ())
    groups = [(3, 0.05, 0.9, 0.0, 0.0, False)]
    offsets = np.cumsum([0] + sizes)
    for tensor, element in [(1, 2**20 + 2), (1, CHUNK32 * 3 + 5), (0, 6), (2, 0)]:
        bad = copies(g)
        bad[tensor][element] = np.inf
        bad[1][2**20] = np.nan  # a later one in the same tensor (or an earlier one: the minimum wins)
        before = copies(x + D)
        first, _ = run_schedule(x, bad, D, groups, 1.0)
        expected = offsets[tensor] + element if (tensor, element) < (1, 2**20) else offsets[1] + 2**20
        assert first == expected
        for a, b in zip(x + D, before):
            np.testing.assert_array_equal(a, b)
        # The CPU backend names the same gradient.
        with pytest.raises(ValueError, match=r"non-finite gradient"):
            homotopt.o2nc_update(copies(x), bad, copies(D), lr=0.1, beta=0.9, seed=0, step=0, nan_policy="raise")


def test_chunk_boundaries_are_exact(rng):
    """Element i of a tensor sits in chunk i // chunk: a value planted at each chunk edge is updated
    once (a twice-updated or skipped element would differ from the CPU bits)."""
    n = 3 * CHUNK64 + 2
    x, g, D = make(rng, [n], [np.float64])
    groups = [(1, 0.3, 0.7, 0.0, 0.0, False)]
    x2, g2, D2 = copies(x), copies(g), copies(D)
    run_schedule(x, g, D, groups, 2.0, check_finite=False)
    run_cpu(x2, g2, D2, groups, 2.0)
    np.testing.assert_array_equal(x[0], x2[0])
    np.testing.assert_array_equal(D[0], D2[0])


def test_device_state_words_round_trip():
    words = _core.o2nc_device_state(2**64 - 1, 2**32 - 1)
    assert len(words) == 6 and all(-(2**63) <= w < 2**63 for w in words)
    fields = _core.o2nc_device_state_fields(words)
    assert fields == {"seed": 2**64 - 1, "step": 2**32 - 1, "found_inf": False, "scale": 0.0,
                      "first_nonfinite": None}
    with pytest.raises(ValueError, match="state: expected 6 int64 words, got 5"):
        _core.o2nc_device_state_fields(words[:5])


@pytest.mark.skipif(_core.cuda_device_count() > 0, reason="made-up pointers must not reach a real GPU")
def test_cuda_path_without_a_gpu_raises_and_never_aborts():
    fake = [2**40, 2**40 + 4096, 2**40 + 8192, 2**40 + 16384]  # made-up device addresses
    expected = RuntimeError if homotopt.build_info()["cuda"] else ValueError
    match = r"cuda\w+\(.*\) failed" if homotopt.build_info()["cuda"] else r"homotopt was built without CUDA"
    groups = [(1, 0.1, 0.9, 0.0, 0.0, False)]
    with pytest.raises(expected, match=match):
        _core.o2nc_update_device_pointers([fake[0]], [fake[1]], [fake[2]], [8], [_core.DType.float32], 0, groups,
                                          _core.O2ncScaling.exponential, None, True, _core.O2ncNanPolicy.skip, fake[3], 0)
    with pytest.raises(expected, match=match):
        _core.o2nc_update_pointers([fake[0]], [fake[1]], [fake[2]], [8], [_core.DType.float32], _core.DeviceType.cuda, 0,
                                   groups, _core.O2ncScaling.exponential, 0, 0, None, True, _core.O2ncNanPolicy.skip)
