"""The fused sample writer w <- mu + sigma eps (perturb.hpp) on the CPU: bit for bit against the float64
rule on NumPy with eps from homotopt.random.normal at each tensor's offset, in place and out of place,
independent of the thread count; bad input as a table."""

import numpy as np
import pytest

import homotopt
from homotopt import _core
from homotopt.random import Stream, normal

DT = {np.float32: _core.DType.float32, np.float64: _core.DType.float64}


def call(w_arrays, mu_arrays, sigma_list, offset_list, seed=5, step=3, **change):
    args = dict(ws=[w.ctypes.data for w in w_arrays], mus=[m.ctypes.data for m in mu_arrays],
                numels=[w.size for w in w_arrays], dtypes=[DT[w.dtype.type] for w in w_arrays],
                sigmas=list(sigma_list), offsets=list(offset_list),
                device_type=_core.DeviceType.cpu, device_index=0, seed=seed, stream=int(Stream.SAMPLES), trial=0,
                step=step, cuda_stream=0)
    args.update(change)
    _core.random_perturb_pointers(**args)


def want(mu, sigma, offset, seed=5, step=3):
    eps = normal(mu.size, seed, step, stream=Stream.SAMPLES, offset=offset)
    return (mu.astype(np.float64) + sigma * eps).astype(mu.dtype)  # NumPy: the product rounded on its own


@pytest.mark.parametrize("sizes", [[1], [7, 0, 33], [100_003, 5, 70_001]])
def test_bits_equal_float64_rule(sizes, rng):
    mus = [rng.standard_normal(n).astype([np.float32, np.float64][i % 2]) for i, n in enumerate(sizes)]
    ws = [np.empty_like(m) for m in mus]
    sigmas = [0.3, 1e-3, 2.5][:len(sizes)]
    offsets = [3, 1000, 2**40 + 1][:len(sizes)]  # unaligned to the 4 normals of a Philox block
    call(ws, mus, sigmas, offsets)
    for w, m, s, o in zip(ws, mus, sigmas, offsets):
        np.testing.assert_array_equal(w, want(m, s, o))


def test_matches_float64_reference(rng):
    from homotopt import reference
    mu = rng.standard_normal(5001)
    w = np.empty_like(mu)
    call([w], [mu], [0.25], [2**33 + 7], seed=11, step=4)
    ref = reference.perturb(mu, 0.25, 11, 4, stream=int(Stream.SAMPLES), offset=2**33 + 7)
    np.testing.assert_allclose(w, ref, rtol=0, atol=0.25 * 6e-6)  # float32-accurate normals, |eps| <= 5.8


def test_in_place_and_threads(rng, threads):
    mu0 = rng.standard_normal(300_001).astype(np.float32)
    expected = want(mu0, 0.7, 11)
    for n in (1, 2):
        threads(n)
        w = mu0.copy()
        call([w], [w], [0.7], [11])  # w == mu: each element read before it is written
        np.testing.assert_array_equal(w, expected)


def _bad(**change):
    w, m = np.zeros(8), np.ones(8)
    call([w], [m], [0.1], [0], **change)


BAD = [
    (dict(mus=[]), ValueError, r"ws, mus, numels, dtypes, sigmas, offsets: expected lists of one length"),
    (dict(numels=[-1]), ValueError, r"tensors\[0\]: expected n >= 0 elements, got -1"),
    (dict(dtypes=[_core.DType.int64]), TypeError, r"tensors\[0\]: expected dtype float32 or float64, got int64"),
    (dict(sigmas=[float("nan")]), ValueError, r"tensors\[0\]: expected a finite sigma, got nan"),
    (dict(ws=[0]), ValueError, r"tensors\[0\]: expected non-null w and mu pointers"),
    (dict(offsets=[2**58]), ValueError, r"tensors\[0\]: expected offset \+ n <= 2\^58"),
]


@pytest.mark.parametrize("change, exc, pattern", BAD)
def test_bad_input(change, exc, pattern):
    with pytest.raises(exc, match=pattern):
        _bad(**change)


def test_overlap_is_refused():
    buf = np.zeros(16)
    with pytest.raises(ValueError, match=r"tensors\[0\]: expected w and mu to be the same memory or not to overlap"):
        _core.random_perturb_pointers([buf.ctypes.data + 8], [buf.ctypes.data], [8], [_core.DType.float64], [0.1],
                                      [0], _core.DeviceType.cpu, 0, 1, 1, 0, 0, 0)


@pytest.mark.skipif(homotopt.build_info()["cuda"], reason="this build has CUDA")
def test_cuda_pointers_in_a_cpu_build():
    with pytest.raises(ValueError, match="homotopt was built without CUDA"):
        _bad(device_type=_core.DeviceType.cuda)
