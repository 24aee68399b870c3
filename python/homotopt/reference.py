"""Plain float64 NumPy references of every native kernel, for tests and for reading.

Each function here is the textbook formula, written for clarity rather than speed: two passes,
materialized weights, per-pair gradients in memory. The native kernels must agree with them.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = [
    "philox4x32_10", "random_blocks", "normal", "uniform", "exponential", "integers",
    "power_gradient", "power_weights", "naive_power_gradient",
    "phase_retrieval_pairs", "phase_retrieval_samples", "phase_retrieval_power_gradient",
    "phase_retrieval_fitness", "phase_retrieval_metric", "two_layer_relu_pairs", "toy1d_pairs",
    "step_multiplier", "run_trial", "o2nc_scale", "o2nc_update", "o2nc_sgdm_update",
]

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK32 = np.uint64(0xFFFFFFFF)


# ---- Philox4x32-10 -----------------------------------------------------------------------------------
def philox4x32_10(counter: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox4x32-10 of counters (..., 4) uint32 under key (k0, k1); returns (..., 4) uint32."""
    c = np.asarray(counter, dtype=np.uint64).copy()
    k0, k1 = int(key[0]), int(key[1])
    for r in range(10):
        if r > 0:
            k0 = (k0 + _W0) & 0xFFFFFFFF
            k1 = (k1 + _W1) & 0xFFFFFFFF
        p0 = _M0 * c[..., 0]
        p1 = _M1 * c[..., 2]
        hi0, lo0 = p0 >> np.uint64(32), p0 & _MASK32
        hi1, lo1 = p1 >> np.uint64(32), p1 & _MASK32
        c = np.stack([hi1 ^ c[..., 1] ^ np.uint64(k0), lo1, hi0 ^ c[..., 3] ^ np.uint64(k1), lo0], axis=-1)
    return c.astype(np.uint32)


def random_blocks(seed: int, stream: int, trial: int, step: int, blocks: np.ndarray) -> np.ndarray:
    """Philox blocks at the addresses of philox.hpp: counter (block, step, trial, stream | block_hi << 8)."""
    b = np.asarray(blocks, dtype=np.uint64)
    counter = np.stack([b & _MASK32, np.full_like(b, step), np.full_like(b, trial),
                        np.uint64(stream) | ((b >> np.uint64(32)) << np.uint64(8))], axis=-1)
    return philox4x32_10(counter, (seed & 0xFFFFFFFF, seed >> 32))


def _bits52(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    return ((hi.astype(np.uint64) << np.uint64(32)) | lo.astype(np.uint64)) >> np.uint64(12)


def _pairs(seed, stream, trial, step, offset, n):
    """Blocks covering numbers offset .. offset + n - 1 (two per block) and each number's lane."""
    idx = np.arange(offset, offset + n, dtype=np.uint64)
    return random_blocks(seed, stream, trial, step, idx >> np.uint64(1)), (idx & np.uint64(1)).astype(bool)


def normal(shape, seed: int, step: int = 0, *, trial: int = 0, stream: int = 8, offset: int = 0) -> np.ndarray:
    """Textbook Box-Muller on the same bits, in float64: four normals per block, from word pairs
    (w0, w1) and (w2, w3): u = (floor(wu / 2^9) + 1/2) / 2^23, r = sqrt(-2 log u),
    theta = 2 pi wa / 2^32, (r cos theta, r sin theta). (The native transform computes the same in
    float32.)"""
    n = int(np.prod(shape))
    idx = np.arange(offset, offset + n, dtype=np.uint64)
    blk = random_blocks(seed, stream, trial, step, idx >> np.uint64(2)).astype(np.float64)
    pair = ((idx >> np.uint64(1)) & np.uint64(1)).astype(np.int64)
    rows = np.arange(n)
    wu, wa = blk[rows, 2 * pair], blk[rows, 2 * pair + 1]
    r = np.sqrt(-2.0 * np.log((np.floor(wu / 2.0**9) + 0.5) / 2.0**23))
    theta = 2.0 * np.pi * (wa / 2.0**32)
    return np.where(idx & np.uint64(1), r * np.sin(theta), r * np.cos(theta)).reshape(shape)


def perturb(mu, sigma: float, seed: int, step: int = 0, *, stream: int = 1, offset: int = 0) -> np.ndarray:
    """w = mu + sigma eps in float64, eps = normal(mu.shape, ...) at `offset` (perturb.hpp's samples; the
    native normals are float32-accurate, so they agree to about sigma * 1e-6)."""
    mu = np.asarray(mu, dtype=np.float64)
    return mu + sigma * normal(mu.shape, seed, step, stream=stream, offset=offset)


def uniform(shape, seed: int, step: int = 0, *, trial: int = 0, stream: int = 8, offset: int = 0) -> np.ndarray:
    n = int(np.prod(shape))
    blk, odd = _pairs(seed, stream, trial, step, offset, n)
    hi = np.where(odd, blk[:, 2], blk[:, 0])
    lo = np.where(odd, blk[:, 3], blk[:, 1])
    return (_bits52(hi, lo).astype(np.float64) / 2.0**52).reshape(shape)


def exponential(shape, seed: int, step: int = 0, *, trial: int = 0, stream: int = 8, offset: int = 0) -> np.ndarray:
    return -np.log1p(-uniform(shape, seed, step, trial=trial, stream=stream, offset=offset))


def integers(n_max: int, shape, seed: int, step: int = 0, *, trial: int = 0, stream: int = 8,
             offset: int = 0) -> np.ndarray:
    n = int(np.prod(shape))
    idx = np.arange(offset, offset + n, dtype=np.uint64)
    blk = random_blocks(seed, stream, trial, step, idx >> np.uint64(2))
    word = blk[np.arange(n), (idx & np.uint64(3)).astype(np.int64)].astype(np.uint64)
    return ((word * np.uint64(n_max)) >> np.uint64(32)).astype(np.int64).reshape(shape)


# ---- power gradient ----------------------------------------------------------------------------------
def _keep_mask(values: np.ndarray, grads: np.ndarray, nan_policy: str) -> np.ndarray:
    """Pairs kept in the mean: finite-or--inf values, and finite gradients where the value is finite."""
    v = values.reshape(-1)
    g = grads.reshape(v.shape[0], -1)
    bad_value = np.isnan(v) | (v == np.inf)
    read = ~bad_value & (v != -np.inf)
    bad_grad = read & ~np.all(np.isfinite(g), axis=1)
    bad = bad_value | bad_grad
    if bad.any() and nan_policy == "raise":
        raise ValueError("non-finite value or gradient")
    if bad.all():
        raise ValueError("all pairs omitted")
    return ~bad


def _limit_top(v: np.ndarray, counted: np.ndarray, power: float):
    """The largest counted value top when N * top overflows float64 (the N -> infinity limit rule of
    lse.hpp), else None. In that case the exact weights are 1/T on the T ties of top and 0 elsewhere:
    checked here in exact rational arithmetic, every other exponent N f lies below N top by more than
    1100 (so exp of the difference is below 2^-1500, 0 in float64) -- the rule is exact, not assumed."""
    finite = v[counted & (v != -np.inf)]
    if finite.size == 0:
        return None
    top = float(finite.max())
    with np.errstate(over="ignore"):
        if math.isfinite(power * top):
            return None
    below = finite[finite < top]
    if below.size:
        gap = Fraction(power) * (Fraction(top) - Fraction(float(below.max())))
        assert gap > 1100, "the limit rule's premise failed"
    return top


def power_weights(values, power: float, nan_policy: str = "raise"):
    """(softmax(N f) with omitted pairs at 0, log sum exp(N f)) in float64, two passes; the N -> infinity
    limit (1/T on the T ties of the largest value, log sum exp = +-inf) when N * top overflows."""
    v = np.asarray(values, dtype=np.float64)
    keep = _keep_mask(v, np.zeros(v.shape + (1,)), nan_policy).reshape(v.shape)
    top = _limit_top(v, keep, power)
    if top is not None:
        ties = keep & (v == top)
        return ties / ties.sum(), math.copysign(math.inf, top)
    with np.errstate(invalid="ignore", over="ignore"):
        a = np.where(keep & (v != -np.inf), power * v, -np.inf)
    m = a.max()
    if m == -np.inf:
        return np.zeros_like(v), -np.inf
    w = np.exp(a - m)
    s = w.sum()
    return w / s, m + np.log(s)


def power_merge_sample(values, counted, power: float, state, rows):
    """float64 reference of power_merge.hpp (one sample merged into the tied rows of a (G, 4) state of rows
    (m, s, count, top)): returns (weights b w_j, (a, b), the new state). w_j = e^(N f_j - m_k) (the limit
    rule: 1 on the ties of top when N top overflows), 0 where not counted or f = -inf; the state ranks by
    m, then by top for the same infinite m; b = 0 for an empty sample, a = 1 when both are empty."""
    f = np.asarray(values, dtype=np.float64).reshape(-1)
    c = np.asarray(counted, dtype=bool).reshape(-1)
    state = np.array(state, dtype=np.float64)
    ok = c & (f != -np.inf)
    w = np.zeros_like(f)
    mk, tk = -math.inf, -math.inf
    if ok.any():
        with np.errstate(over="ignore", invalid="ignore"):
            a = np.where(ok, power * np.where(ok, f, 0.0), -np.inf)
        mk = float(a.max())
        if math.isfinite(mk):
            w[ok] = np.exp(a[ok] - mk)
        else:
            tk = float(f[ok].max())
            w[ok] = f[ok] == tk
    sk = float(w.sum())
    m, s, n, t = state[rows[0]]
    M = max(m, mk)
    if math.isfinite(M):
        fa = 1.0 if m == M else math.exp(m - M)
        fb = 1.0 if mk == M else math.exp(mk - M)
        T = -math.inf
    else:
        T = max(t if m == M else -math.inf, tk if mk == M else -math.inf)
        if T == -math.inf:  # both empty
            fa, fb = 1.0, 0.0
        else:
            fa, fb = float(m == M and t == T), float(mk == M and tk == T)
    fb = fb if sk > 0 else 0.0
    new = [M, s * fa + sk * fb, n + float(c.sum()), T]
    for r in rows:
        state[r] = new
    return w * fb, (fa, fb), state


def power_merge_ranks(gathered, rank: int):
    """(merged (G, 4), factors (G,)) of power_merge.hpp's power_merge_ranks in float64: per group the
    largest m over the ranks (then the largest top among them when that m is infinite), each rank's factor
    e^(m_r - M) (or 1 on the limit's ties, 0 elsewhere; 0 where s_r = 0), s = sum factor_r s_r, counts
    summed; `factors` are rank `rank`'s."""
    t = np.asarray(gathered, dtype=np.float64)  # (W, G, 4)
    W, G, _ = t.shape
    merged, factors = np.zeros((G, 4)), np.zeros(G)
    for g in range(G):
        m, s, n, top = t[:, g, 0], t[:, g, 1], t[:, g, 2], t[:, g, 3]
        M = m.max()
        T = top[m == M].max() if not math.isfinite(M) else -math.inf
        with np.errstate(invalid="ignore"):
            f = np.where(s > 0, (m == M) & (top == T) if not math.isfinite(M) else np.exp(m - M), 0.0)
        merged[g] = [M, float((f * s).sum()), float(n.sum()), T]
        factors[g] = f[rank]
    return merged, factors


def power_step(state, rule: str, powers, alphas, norms=None, found: bool = False) -> np.ndarray:
    """(G, 2) rows (1, e_g) of power_merge.hpp's power_step in float64: e_g = step_multiplier(rule, alpha_g,
    N_g, log_scale_g, ||u||_g / s_g) / s_g, log_scale = log N + m + log s - log count; 0 when s_g = 0 or
    `found`."""
    state = np.asarray(state, dtype=np.float64)
    out = np.zeros((state.shape[0], 2))
    out[:, 0] = 1.0
    for g, (m, s, count, _) in enumerate(state):
        if found or not s > 0:
            continue
        with np.errstate(divide="ignore"):
            log_scale = m + math.log(s) - math.log(count) + (math.log(powers[g]) if powers[g] > 0 else -math.inf)
        norm = 0.0 if norms is None else float(norms[g])
        out[g, 1] = step_multiplier(rule, alphas[g], powers[g], log_scale, norm / s) / s
    return out


def power_gradient(values, grads, power: float, nan_policy: str = "raise") -> dict:
    """direction, log_scale, log_mean_exp, count, omitted: the stable estimator in plain float64, and
    the N -> infinity limit (the ties' mean gradient, log_mean_exp = +-inf) when N * top overflows."""
    v = np.asarray(values, dtype=np.float64)
    g = np.asarray(grads, dtype=np.float64)
    d = g.shape[-1]
    keep = _keep_mask(v, g, nan_policy)
    vf = v.reshape(-1)
    gf = g.reshape(-1, d)
    read = keep & (vf != -np.inf)
    count = int(keep.sum())
    top = _limit_top(vf, keep, power)
    a = np.full(vf.shape, -np.inf)
    with np.errstate(over="ignore"):
        a[read] = power * vf[read]
    m = a.max()
    if top is not None:
        ties = read & (vf == top)
        direction = gf[ties].sum(axis=0) / ties.sum()
        log_mean_exp = math.copysign(math.inf, top)
    elif m == -np.inf:
        direction = np.zeros(d)
        log_mean_exp = -np.inf
    else:
        w = np.exp(a - m)
        s = w.sum()
        direction = (w[read, None] * gf[read]).sum(axis=0) / s
        log_mean_exp = m + np.log(s) - np.log(count)
    with np.errstate(divide="ignore"):
        log_scale = np.log(power) + log_mean_exp
    return {"direction": direction, "log_scale": log_scale, "log_mean_exp": log_mean_exp,
            "count": count, "omitted": int(keep.size - count)}


def naive_power_gradient(values, grads, power: float) -> dict:
    """The paper's literal formulas, to show where they fail: g = N/(KJ) sum exp(N f) grad f and the
    naive normalization sum exp(N f) grad f / sum exp(N f)."""
    v = np.asarray(values, dtype=np.float64)
    g = np.asarray(grads, dtype=np.float64)
    d = g.shape[-1]
    with np.errstate(all="ignore"):
        e = np.exp(power * v.reshape(-1))
        weighted = (e[:, None] * g.reshape(-1, d)).sum(axis=0)
        return {"gradient": power * weighted / e.size, "direction": weighted / e.sum()}


# ---- phase retrieval -----------------------------------------------------------------------------------
def phase_retrieval_samples(mu, sigma: float, num_samples: int, seed: int, step: int = 0, trial: int = 0) -> np.ndarray:
    """W = mu + sigma eps, eps from the samples stream (stream 1), (K, d) float64."""
    mu = np.asarray(mu, dtype=np.float64)
    eps = normal((num_samples, mu.shape[0]), seed, step, trial=trial, stream=1)
    return mu[None, :] + sigma * eps


def phase_retrieval_pairs(A, y, W, rows=None):
    """Per-pair values (K, J) and gradients (K, J, d): f = -r^2, grad = -4 r z a, r = z^2 - y."""
    A = np.asarray(A, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if rows is not None:
        A, y = A[rows], y[rows]
    z = np.asarray(W, dtype=np.float64) @ A.T  # (K, J)
    r = z * z - y[None, :]
    values = -(r * r)
    grads = (-4.0 * r * z)[:, :, None] * A[None, :, :]
    return values, grads


def phase_retrieval_power_gradient(A, y, mu, *, sigma, power, num_samples, seed, step=0, rows=None) -> dict:
    W = phase_retrieval_samples(mu, sigma, num_samples, seed, step)
    values, grads = phase_retrieval_pairs(A, y, W, rows)
    return power_gradient(values, grads, power)


def phase_retrieval_fitness(A, y, mu) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    mu = np.atleast_2d(np.asarray(mu, dtype=np.float64))
    r = (mu @ A.T) ** 2 - np.asarray(y, dtype=np.float64)[None, :]
    return -(r * r).mean(axis=1)


def phase_retrieval_metric(x_true, mu) -> np.ndarray:
    x = np.asarray(x_true, dtype=np.float64)
    mu = np.atleast_2d(np.asarray(mu, dtype=np.float64))
    return np.minimum(np.linalg.norm(mu - x, axis=1), np.linalg.norm(mu + x, axis=1)) / np.linalg.norm(x)


# ---- two-layer ReLU, 1-D example --------------------------------------------------------------------
def two_layer_relu_pairs(W, X, y, k):
    """Per-pair values (K, J) and gradients (K, J, k n) of f = -(sum_i relu(w_i . x) - y)^2."""
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    K, n = W.shape[0], X.shape[1]
    H = np.einsum("kin,jn->kji", W.reshape(K, k, n), X)            # (K, J, k)
    e = np.maximum(H, 0.0).sum(axis=2) - np.asarray(y, dtype=np.float64)[None, :]
    dfdh = -2.0 * e[:, :, None] * (H > 0)                           # (K, J, k)
    grads = np.einsum("kji,jn->kjin", dfdh, X).reshape(K, X.shape[0], k * n)
    return -(e * e), grads


def toy1d_pairs(w, eps):
    """Per-pair values (K, J) and gradients (K, J, 1) of the 1-D example."""
    w = np.asarray(w, dtype=np.float64).reshape(-1, 1)
    x = w + np.asarray(eps, dtype=np.float64)[None, :]
    a, b = x + 0.5, x - 0.5
    values = -np.log(a * a + 1e-5) - np.log(b * b + 1e-2)
    grads = -2.0 * a / (a * a + 1e-5) - 2.0 * b / (b * b + 1e-2)
    return values, grads[:, :, None]


# ---- the runners ------------------------------------------------------------------------------------
def step_multiplier(rule: str, alpha: float, power: float, log_scale: float, norm: float) -> float:
    """The step mu += c d of each rule (d the direction)."""
    if rule == "raw":
        return alpha * float(np.exp(log_scale))
    if rule == "unit":
        return alpha / norm if norm > 0 else 0.0
    return alpha * power


def run_trial(method: str, problem, mu0, *, steps: int, num_samples: int = 8, batch_size: int = 16, power=None,
              sigma=None, lr=None, step_rule: str = "log", seed: int = 0, trial: int = 0,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, slgh_gamma: float = 0.95,
              slgh_sigma_min: float = 0.01) -> np.ndarray:
    """One trial of a run, the textbook way, in float64 with the iterate rounded to the problem's dtype
    after each step (as the native runner keeps it): the (T + 1, d) iterates mu_0 .. mu_T.

    Philox noise, minibatches and inputs are rebuilt with homotopt.random at the runner's addresses
    (trial index `trial`), so the comparison with the native runner is step for step.
    power, sigma, lr: schedule objects (homotopt.PowerSchedule, SigmaSchedule, LearningRate).
    """
    from . import random as hr  # the same Philox streams as the native runner

    dtype = problem.dtype
    N, S, L = power.values(steps), sigma.values(steps), lr.values(steps)
    K, J, d = num_samples, batch_size, problem.dim
    mu = np.asarray(mu0, dtype=dtype).copy()
    out = [mu.astype(np.float64)]
    m1 = np.zeros(d)
    m2 = np.zeros(d)

    def batch(t):
        name = type(problem).__name__
        if name == "PhaseRetrieval":
            if method == "gd":
                return np.arange(problem.n)
            return hr.integers(problem.n, J, seed, t, trial=trial, stream=hr.Stream.MINIBATCH)
        if name == "TwoLayerReLU":
            X = hr.normal((J, problem.n), seed, t, trial=trial, stream=hr.Stream.INPUTS).astype(dtype)
            teacher = problem.teacher if problem.trials is None else problem.teacher[trial]
            y = np.maximum(X.astype(np.float64) @ teacher.T.astype(np.float64), 0.0).sum(axis=1).astype(dtype)
            return X, y
        return problem.noise * hr.normal(J, seed, t, trial=trial, stream=hr.Stream.INPUTS)

    def pairs(points, b):
        name = type(problem).__name__
        if name == "PhaseRetrieval":
            A = problem.A if problem.trials is None else problem.A[trial]
            y = problem.y if problem.trials is None else problem.y[trial]
            return phase_retrieval_pairs(A, y, points, b)
        if name == "TwoLayerReLU":
            return two_layer_relu_pairs(points, b[0], b[1], problem.k)
        return toy1d_pairs(points[:, 0], b)

    for t in range(steps):
        b = batch(t)
        x = mu.astype(np.float64)
        if method == "slgh":
            s = max(sigma.start * slgh_gamma**t, slgh_sigma_min)
            U = hr.normal((K, d), seed, t, trial=trial, stream=hr.Stream.DIRECTIONS)
            P = np.vstack([x[None, :], x[None, :] + s * U]).astype(dtype)
            f = pairs(P, b)[0].mean(axis=1)
            step = L[t] * ((f[1:] - f[0])[:, None] * U).sum(axis=0) / (K * s)
        elif method == "powerhp":
            W = (x[None, :] + S[t] * hr.normal((K, d), seed, t, trial=trial, stream=hr.Stream.SAMPLES)).astype(dtype)
            est = power_gradient(*pairs(W, b), N[t])
            step = step_multiplier(step_rule, L[t], N[t], est["log_scale"], float(np.linalg.norm(est["direction"]))) \
                * est["direction"]
        else:
            g = power_gradient(*pairs(x[None, :].astype(dtype), b), 0.0)["direction"]  # the mean gradient
            if method == "adam":
                m1 = beta1 * m1 + (1 - beta1) * g
                m2 = beta2 * m2 + (1 - beta2) * g * g
                step = L[t] * (m1 / (1 - beta1 ** (t + 1))) / (np.sqrt(m2 / (1 - beta2 ** (t + 1))) + eps)
            else:
                step = L[t] * g
        mu = (x + step).astype(dtype)
        out.append(mu.astype(np.float64))
    return np.array(out)

# ---- Exponentiated O2NC ----------------------------------------------------------------------------------
def o2nc_scale(seed: int, step: int, scaling: str = "exponential") -> float:
    """s of step `step`: number 0 of the exponential (or uniform, s = 2u) stream 3 (SCALE) at (seed, step)."""
    if scaling == "none":
        return 1.0
    if scaling == "exponential":
        return float(exponential(1, seed, step, stream=3)[0])
    return 2.0 * float(uniform(1, seed, step, stream=3)[0])


def o2nc_update(params, grads, buffers, *, lr: float, beta: float, mu: float = 0.0, weight_decay: float = 0.0,
                s: float, maximize: bool = False):
    """One step of papers/o2nc.md in float64, as written there; returns (new params, new buffers).

    D <- (beta / (1 + lr mu)) (D - lr g - lr weight_decay x), then x <- x + s D; maximize uses -g.
    """
    discount = beta / (1.0 + lr * mu)
    new_params, new_buffers = [], []
    for x, g, D in zip(params, grads, buffers):
        x, g, D = (np.asarray(a, dtype=np.float64) for a in (x, g, D))
        if maximize:
            g = -g
        D = discount * (D - lr * g - lr * weight_decay * x)
        new_params.append(x + s * D)
        new_buffers.append(D)
    return new_params, new_buffers


def o2nc_sgdm_update(params, grads, momenta, *, lr: float, beta: float, mu: float = 0.0, s: float):
    """The SGDM form of the same step (papers/o2nc.md), for constant lr and b' = beta / (1 + lr mu) < 1:
    m <- b' m + (1 - b') g, x <- x - s lr_m m with lr_m = lr b' / (1 - b'). From m = 0 it tracks
    o2nc_update from D = 0 with D = -lr_m m. Returns (new params, new momenta)."""
    b = beta / (1.0 + lr * mu)
    lr_m = lr * b / (1.0 - b)
    new_params, new_momenta = [], []
    for x, g, m in zip(params, grads, momenta):
        x, g, m = (np.asarray(a, dtype=np.float64) for a in (x, g, m))
        m = b * m + (1.0 - b) * g
        new_params.append(x - s * lr_m * m)
        new_momenta.append(m)
    return new_params, new_momenta
