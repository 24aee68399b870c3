"""The caller-held form of :class:`homotopt.ProgPowerHP` for torch tensors: the R x d means, the samples
and the gradients stay on the tensors' device (CPU or CUDA).

Internal. The native object (csrc/include/homotopt/asktell.hpp, "the caller-held form") keeps the
schedules, spreads, softmax weights, step rule, best values and counters; this class does the d-sized
arithmetic it prescribes with torch ops on the device, in float64 like the native class:
  ask    w_rk = bound(mu_r + sigma eps_rk), eps_rk homotopt's Philox normals written on the device by
         ``_core.random_fill`` (the numbers the native ask draws; product, then sum, as there), then
         reflected (asktell.cpp's reflect, the same operations elementwise) or clipped;
  tell   d_r = sign sum_kj p_rkj g_rkj with the native weights p, its norm, the native factors c_r, and
         mu_r = clip(mu_r + c_r d_r); a new best evaluated sample is regenerated on the device (its one
         row of noise) and copied into best_mu.
What crosses to the host per tell: the R x K x J values (the native weights need them; the gradients'
finiteness flags with them), the weights back, and R norms and R factors: O(K J) numbers, never the
d-sized samples, gradients or means.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core, _device
from .random import Stream


def _host(x: Any) -> np.ndarray:
    """A float64 NumPy copy of a small torch tensor (norms, flags)."""
    return x.detach().to("cpu", dtype=__import__("torch").float64).numpy()


class HeldMeans:
    """mu and best_mu (R, d) float64 on `device`, and the arithmetic of the caller-held form."""

    def __init__(self, opt: Any, config: Any, device: Any, bounds: tuple[np.ndarray, np.ndarray] | None,
                 reflect: bool) -> None:
        import torch

        self.torch, self.opt, self.device = torch, opt, device
        self.R, self.K, self.d, self.seed = config.runs, config.num_samples, config.dim, config.seed
        self.maximize = bool(config.maximize)
        self.mu = torch.from_numpy(np.array(opt.mu)).to(device)  # the native constructor's checked, clipped mu0
        self.best_mu = self.mu.clone()
        self.bounds = None if bounds is None else tuple(torch.from_numpy(np.array(b)).to(device) for b in bounds)
        self.reflect = reflect

    # ---- noise and bounds ----
    def _normals(self, out: Any, run: int, step: int, offset: int) -> None:
        target = out.numpy() if out.device.type == "cpu" else _device.describe(out, "samples")
        _core.random_fill(target, _core.Distribution.normal, self.seed, int(Stream.SAMPLES), run, step, offset)

    def _bound(self, x: Any, sample: bool) -> Any:
        if self.bounds is None:
            return x
        lo, hi = self.bounds
        if not (sample and self.reflect):
            return self.torch.clamp(x, lo, hi)
        w = hi - lo  # asktell.cpp's reflect: period 2 w, mirrored in its second half
        y = self.torch.fmod(x - lo, 2.0 * w)
        y = self.torch.where(y < 0.0, y + 2.0 * w, y)
        return lo + self.torch.where(y <= w, y, 2.0 * w - y)

    def ask(self, step: int, sigma: float) -> Any:
        """(R, K, d) float64 samples of step `step` on the device."""
        eps = self.torch.empty((self.R, self.K, self.d), dtype=self.torch.float64, device=self.device)
        for r in range(self.R):
            self._normals(eps[r], r, step, 0)
        return self._bound(eps.mul_(sigma).add_(self.mu[:, None, :]), True)

    def _keep_best_samples(self, best: np.ndarray, step: int, sigma: float) -> None:
        for r in np.flatnonzero(best >= 0):
            eps = self.torch.empty(self.d, dtype=self.torch.float64, device=self.device)
            self._normals(eps, int(r), step, int(best[r]) * self.d)
            self.best_mu[r] = self._bound(eps.mul_(sigma).add_(self.mu[r]), True)

    # ---- tell ----
    def weights(self, v: np.ndarray, policy: Any, grads: Any = None, nan_policy: str = "raise") -> Any:
        """The native weights (R, K, J) float64 on the device for the host values v (R, K, J); with
        per-pair gradients (R, K, J, d), a pair whose value is read (finite) but whose gradient is not
        raises, or is omitted like a NaN value under nan_policy="omit", as PowerState does (such a
        sample cannot become the best evaluated one either)."""
        if grads is not None:
            bad = _host(~self.torch.isfinite(grads).all(dim=-1)).astype(bool) & np.isfinite(v)
            if bad.any():
                r, k, j = (int(i) for i in np.argwhere(bad)[0])
                if nan_policy == "raise":
                    raise ValueError(f"grads: non-finite gradient at run {r}, (k, j) = ({k}, {j}) "
                                     "(nan_policy=\"omit\" gives such pairs weight 0)")
                v = np.where(bad, np.nan, v)
        step, sigma = self.opt.step, self.opt.sigma
        w, best = self.opt.weights_held(np.ascontiguousarray(v), policy)
        self._keep_best_samples(best, step, sigma)
        return self.torch.from_numpy(w).to(self.device)

    def step(self, direction: Any) -> None:
        """mu_r = clip(mu_r + c_r d_r) for directions (R, d) float64 in the ascent sense."""
        norms = self.torch.linalg.vector_norm(direction, dim=1)
        c = self.opt.step_held(_host(norms))
        self.mu = self._bound(self.mu.add_(direction * self.torch.from_numpy(c).to(self.device)[:, None]), False)

    def tell(self, v: np.ndarray, grads: Any, policy: Any, nan_policy: str) -> Any:
        """One step from per-pair host values (R, K, J) and gradients (R, K, J, d) on the device; returns
        sum p g (R, d) (the objective's own sense)."""
        p = self.weights(v, policy, grads, nan_policy)
        g = self.torch.where(p[..., None] > 0, grads.to(self.torch.float64), 0.0)  # weight 0: never read
        direction = self.torch.einsum("rkj,rkjd->rd", p, g)
        self.step(direction if self.maximize else -direction)
        return direction

    def tensor(self, x: Any, shape: tuple[int, ...], name: str, want: str) -> Any:
        """x as a tensor on the means' device with a leading R axis (added when absent: R = 1), checked
        against `shape` (R first)."""
        t = self.torch.as_tensor(x, device=self.device)
        if t.dim() == len(shape) - 1:
            t = t[None]
        if tuple(t.shape) != shape:
            raise ValueError(f"{name}: expected shape {want}, got {tuple(self.torch.as_tensor(x).shape)}")
        if not t.dtype.is_floating_point:
            raise TypeError(f"{name}: expected a float tensor, got dtype {t.dtype}")
        return t

    def tell_weighted(self, grads: Any) -> Any:
        """One step from the per-sample gradients of sum p f (R, K, d) after weights(); returns their sum."""
        if not bool(self.torch.isfinite(grads).all()):
            raise ValueError("grads: expected finite values")
        direction = grads.to(self.torch.float64).sum(dim=1)
        self.step(direction if self.maximize else -direction)
        return direction

    # ---- best iterate and state ----
    def reported_best(self, run: int) -> None:
        self.best_mu[run] = self.mu[run]

    def state(self, state: dict) -> dict:
        state["mu"], state["best_mu"] = _host(self.mu), _host(self.best_mu)
        return state

    def load(self, state: dict) -> None:
        self.mu = self.torch.as_tensor(np.asarray(state["mu"], dtype=np.float64)).reshape(self.R, self.d).to(self.device)
        self.best_mu = self.torch.as_tensor(np.asarray(state["best_mu"], dtype=np.float64)).reshape(
            self.R, self.d).to(self.device)
