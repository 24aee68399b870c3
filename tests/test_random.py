"""Philox4x32-10 streams: known answers, C++ against the NumPy reference, statistics, bad input."""

import numpy as np
import pytest
from scipy import stats

import homotopt
from homotopt import _core, reference
from homotopt.random import Stream

# From the Random123 distribution's kat_vectors: counter (4 words), key (2 words) -> output.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(_core.philox4x32_10(counter, key)) == expected
    assert tuple(int(w) for w in reference.philox4x32_10(np.array(counter), key)) == expected


ADDRESSES = [  # seed, step, trial, stream, offset, n
    (0, 0, 0, Stream.USER, 0, 1),
    (12345, 7, 3, Stream.SAMPLES, 1, 17),
    (2**64 - 1, 2**32 - 1, 2**32 - 1, Stream.MINIBATCH, 5, 1000),
    (2**40 + 3, 1, 0, Stream.PROBLEM, 2**33 + 1, 2049),  # block index above 2^32
]


@pytest.mark.parametrize("seed,step,trial,stream,offset,n", ADDRESSES)
def test_streams_equal_reference(seed, step, trial, stream, offset, n):
    kw = dict(trial=trial, stream=stream, offset=offset)
    # Uniforms and integers are the same bits: exact. Exponentials go through the native float64 log
    # (worst seen 2.9e-16 relative); normals through the float32 Box-Muller against float64 NumPy
    # (worst seen 5.4e-7 absolute over 9e5 normals with |z| < 5.1: a few float32 ulp).
    np.testing.assert_array_equal(homotopt.random.uniform(n, seed, step, **kw),
                                  reference.uniform(n, seed, step, **kw))
    np.testing.assert_allclose(homotopt.random.normal(n, seed, step, **kw),
                               reference.normal(n, seed, step, **kw), rtol=0, atol=2e-6)
    np.testing.assert_allclose(homotopt.random.exponential(n, seed, step, **kw),
                               reference.exponential(n, seed, step, **kw), rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(homotopt.random.integers(1000, n, seed, step, **kw),
                                  reference.integers(1000, n, seed, step, **kw))


def test_slices_of_a_stream_agree():
    full = homotopt.random.normal(101, 9, 2)
    for start in (0, 1, 2, 50, 99):
        part = homotopt.random.normal(101 - start, 9, 2, offset=start)
        np.testing.assert_array_equal(part, full[start:])


def test_float32_is_rounded_float64():
    x64 = homotopt.random.normal((33, 7), 4, 1)
    x32 = homotopt.random.normal((33, 7), 4, 1, dtype=np.float32)
    np.testing.assert_array_equal(x32, x64.astype(np.float32))


def test_addresses_give_distinct_streams():
    base = homotopt.random.normal(64, 1, 0)
    for kw in (dict(seed=2), dict(step=1), dict(trial=1), dict(stream=Stream.SAMPLES)):
        args = dict(seed=1, step=0) | kw
        seed, step = args.pop("seed"), args.pop("step")
        other = homotopt.random.normal(64, seed, step, **args)
        assert not np.allclose(other, base)


def test_thread_count_does_not_change_bits(threads):
    threads(1)
    one = homotopt.random.normal(300_001, 5, 3)
    threads(2)
    two = homotopt.random.normal(300_001, 5, 3)
    np.testing.assert_array_equal(one, two)


def test_distributions():
    n = 1_000_000
    z = homotopt.random.normal(n, 11)
    u = homotopt.random.uniform(n, 12)
    e = homotopt.random.exponential(n, 13)
    # Fixed seeds: deterministic outcomes; each p-value threshold is loose enough for a correct stream.
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert stats.kstest(e, "expon").pvalue > 1e-3
    assert abs(z.mean()) < 5 / np.sqrt(n) and abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert 0 <= u.min() and u.max() < 1 and e.min() >= 0
    k = homotopt.random.integers(7, n, 14)
    counts = np.bincount(k, minlength=7)
    assert k.min() == 0 and k.max() == 6
    assert stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("call,exc,match", [
    (lambda: homotopt.random.normal(3, -1), ValueError, "seed"),
    (lambda: homotopt.random.normal(3, 2**64), ValueError, "seed"),
    (lambda: homotopt.random.normal(3, 0, 2**32), ValueError, "step"),
    (lambda: homotopt.random.normal(3, 0, trial=-1), ValueError, "trial"),
    (lambda: homotopt.random.normal(-3, 0), ValueError, "shape"),
    (lambda: homotopt.random.normal(3, 0.5), TypeError, "seed"),
    (lambda: homotopt.random.normal(3, 0, dtype=np.int32), TypeError, "dtype"),
    (lambda: homotopt.random.integers(0, 3, 0), ValueError, "n"),
    (lambda: homotopt.random.integers(2**32 + 1, 3, 0), ValueError, "n"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
