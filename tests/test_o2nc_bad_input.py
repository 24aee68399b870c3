"""Bad input to homotopt.o2nc_update and homotopt.ExpO2NC: a table of (call, exception, message
pattern); every case must raise before any array is written."""

import numpy as np
import pytest

import homotopt


def arrays():
    rng = np.random.default_rng(0)
    x = [rng.standard_normal(3), rng.standard_normal((2, 4))]
    g = [rng.standard_normal(3), rng.standard_normal((2, 4))]
    D = [rng.standard_normal(3), rng.standard_normal((2, 4))]
    return x, g, D


def read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def replace(lst, i, value):
    out = list(lst)
    out[i] = value
    return out


BASE = dict(lr=0.1, beta=0.9, seed=0, step=0)
BIG = np.zeros(16)

BAD = [  # (id, f(x, g, D) -> (params, grads, buffers, kwargs), exception, message pattern)
    ("short grads", lambda x, g, D: (x, g[:1], D, {}), ValueError, r"grads: expected 2 arrays \(one per param\), got 1"),
    ("long buffers", lambda x, g, D: (x, g, D + [D[0]], {}), ValueError, r"buffers: expected 2 arrays"),
    ("grad shape", lambda x, g, D: (x, replace(g, 1, g[1].reshape(4, 2)), D, {}), ValueError,
     r"grads\[1\]: expected shape \(2, 4\) \(the shape of params\[1\]\), got \(4, 2\)"),
    ("buffer shape", lambda x, g, D: (x, g, replace(D, 0, np.zeros(4)), {}), ValueError,
     r"buffers\[0\]: expected shape \(3,\) \(the shape of params\[0\]\), got \(4,\)"),
    ("grad dtype", lambda x, g, D: (x, replace(g, 0, g[0].astype(np.float32)), D, {}), TypeError,
     r"grads\[0\]: expected dtype float64 \(the dtype of params\[0\]\), got float32"),
    ("buffer dtype", lambda x, g, D: (x, g, replace(D, 1, D[1].astype(np.float32)), {}), TypeError,
     r"buffers\[1\]: expected dtype float64"),
    ("int params", lambda x, g, D: ([x[0], np.zeros((2, 4), np.int64)], g, D, {}), TypeError,
     r"params\[1\]: expected dtype float32, float64, float16 or bfloat16, got int64"),
    ("int8 grads", lambda x, g, D: (x, replace(g, 1, np.zeros((2, 4), np.int8)), D, {}), TypeError,
     r"grads\[1\]: expected dtype float32 or float64, got int8"),
    ("buffer is param", lambda x, g, D: (x, g, replace(D, 0, x[0]), {}), ValueError,
     r"(buffers|params)\[0\]: expected memory of its own, got an array that overlaps (params|buffers)\[0\]"),
    ("grad is param", lambda x, g, D: (x, replace(g, 1, x[1]), D, {}), ValueError,
     r"params\[1\]: expected memory of its own, got an array that overlaps grads\[1\]"),
    ("param twice", lambda x, g, D: ([x[0], x[0]], [g[0], g[0]], [D[0], np.zeros(3)], {}), ValueError,
     r"params\[[01]\]: expected memory of its own, got an array that overlaps params\[[01]\]"),
    ("partial overlap", lambda x, g, D: ([BIG[0:3], x[1]], g, [BIG[2:5], D[1]], {}), ValueError,
     r"expected memory of its own, got an array that overlaps"),
    ("buffer overlaps another grad", lambda x, g, D: (x, [BIG[:3], g[1]], [x[0].copy(), BIG[1:9].reshape(2, 4)], {}),
     ValueError, r"buffers\[1\]: expected memory of its own, got an array that overlaps grads\[0\]"),
    ("read-only param", lambda x, g, D: (replace(x, 1, read_only(x[1])), g, D, {}), ValueError,
     r"params\[1\]: expected a writable array, got a read-only one"),
    ("read-only buffer", lambda x, g, D: (x, g, replace(D, 0, read_only(D[0])), {}), ValueError,
     r"buffers\[0\]: expected a writable array, got a read-only one"),
    ("strided param", lambda x, g, D: (replace(x, 1, np.zeros((4, 2)).T), g, D, {}), ValueError,
     r"params\[1\]: expected a C-contiguous array"),
    ("strided grad", lambda x, g, D: (x, replace(g, 0, np.zeros(6)[::2]), D, {}), ValueError,
     r"grads\[0\]: expected a C-contiguous array"),
    ("list param", lambda x, g, D: (replace(x, 0, [1.0, 2.0, 3.0]), g, D, {}), TypeError,
     r"params\[0\]: expected a NumPy array, got list"),
    ("single array", lambda x, g, D: (x[0], g, D, {}), TypeError, r"params: expected a list of arrays .* got a single array"),
    ("lr nan", lambda x, g, D: (x, g, D, dict(lr=np.nan)), ValueError, r"lr: expected a finite value >= 0, got nan"),
    ("lr inf", lambda x, g, D: (x, g, D, dict(lr=np.inf)), ValueError, r"lr: expected a finite value >= 0, got inf"),
    ("lr negative", lambda x, g, D: (x, g, D, dict(lr=-0.1)), ValueError, r"lr: expected a finite value >= 0, got -0.1"),
    ("lr string", lambda x, g, D: (x, g, D, dict(lr="0.1")), TypeError, r"lr: expected a real number"),
    ("beta 0", lambda x, g, D: (x, g, D, dict(beta=0.0)), ValueError, r"beta: expected a value in \(0, 1\], got 0"),
    ("beta 1.5", lambda x, g, D: (x, g, D, dict(beta=1.5)), ValueError, r"beta: expected a value in \(0, 1\], got 1.5"),
    ("beta nan", lambda x, g, D: (x, g, D, dict(beta=np.nan)), ValueError, r"beta: expected a value in \(0, 1\], got nan"),
    ("beta negative", lambda x, g, D: (x, g, D, dict(beta=-0.5)), ValueError, r"beta: expected a value in \(0, 1\]"),
    ("mu negative", lambda x, g, D: (x, g, D, dict(mu=-1.0)), ValueError, r"mu: expected a finite value >= 0, got -1"),
    ("mu nan", lambda x, g, D: (x, g, D, dict(mu=np.nan)), ValueError, r"mu: expected a finite value >= 0, got nan"),
    ("weight decay negative", lambda x, g, D: (x, g, D, dict(weight_decay=-1e-4)), ValueError,
     r"weight_decay: expected a finite value >= 0, got -0.0001"),
    ("weight decay inf", lambda x, g, D: (x, g, D, dict(weight_decay=np.inf)), ValueError, r"weight_decay: expected"),
    ("s negative", lambda x, g, D: (x, g, D, dict(s=-1.0)), ValueError, r"s: expected a finite value >= 0, got -1"),
    ("s nan", lambda x, g, D: (x, g, D, dict(s=np.nan)), ValueError, r"s: expected a finite value >= 0, got nan"),
    ("scaling", lambda x, g, D: (x, g, D, dict(scaling="gaussian")), ValueError,
     r"scaling: expected 'exponential', 'uniform' or 'none', got 'gaussian'"),
    ("nan policy", lambda x, g, D: (x, g, D, dict(nan_policy="omit")), ValueError,
     r"nan_policy: expected 'skip' or 'raise', got 'omit'"),
    ("seed negative", lambda x, g, D: (x, g, D, dict(seed=-1)), ValueError, r"seed: expected an integer >= 0"),
    ("seed float", lambda x, g, D: (x, g, D, dict(seed=1.5)), TypeError, r"seed: expected an integer"),
    ("step too large", lambda x, g, D: (x, g, D, dict(step=2**32)), ValueError, r"step: expected an integer <= 4294967295"),
    ("nan grad, raise", lambda x, g, D: (x, replace(g, 1, np.where(np.arange(8).reshape(2, 4) == 5, np.nan, g[1])), D,
                                         dict(nan_policy="raise")), ValueError,
     r"grads\[1\]: non-finite gradient nan at element 5; no tensor was updated"),
]


@pytest.mark.parametrize("case,make_call,exc,match", BAD, ids=[c[0] for c in BAD])
def test_bad_input_leaves_every_array_untouched(case, make_call, exc, match):
    x, g, D = arrays()
    BIG[:] = np.arange(16.0)
    params, grads, buffers, kw = make_call(x, g, D)
    touched = [a for a in (x + g + D + [BIG]) + list(params if isinstance(params, list) else [params]) + list(grads)
               + list(buffers) if isinstance(a, np.ndarray)]
    before = [a.copy() for a in touched]
    with pytest.raises(exc, match=match):
        homotopt.o2nc_update(params, grads, buffers, **(BASE | kw))
    for a, b in zip(touched, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kw,exc,match", [
    (dict(lr=np.nan), ValueError, "lr"), (dict(beta=2.0), ValueError, "beta"), (dict(mu=-1), ValueError, "mu"),
    (dict(weight_decay=-1), ValueError, "weight_decay"), (dict(scaling="x"), ValueError, "scaling"),
    (dict(nan_policy="x"), ValueError, "nan_policy"), (dict(seed=-1), ValueError, "seed"),
])
def test_optimizer_bad_settings(kw, exc, match):
    with pytest.raises(exc, match=match):
        homotopt.ExpO2NC([np.zeros(3)], **(dict(lr=0.1, beta=0.9) | kw))
    with pytest.raises(TypeError, match=r"params\[0\]: expected a NumPy array"):
        homotopt.ExpO2NC([[0.0]], lr=0.1, beta=0.9)
    with pytest.raises(TypeError, match=r"params\[1\]: expected dtype float32 or float64, got int32"):
        homotopt.ExpO2NC([np.zeros(2), np.zeros(2, np.int32)], lr=0.1, beta=0.9)
    with pytest.raises(ValueError, match=r"params\[0\]: expected a writable C-contiguous array, got a strided one"):
        homotopt.ExpO2NC([np.zeros(4)[::2]], lr=0.1, beta=0.9)
