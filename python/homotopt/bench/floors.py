"""The machine's own floors, measured in the same run as the kernels: copy bandwidth, SGEMM/DGEMM
rate, normal draws per second, and the plainest C loop of the O2NC update where a C compiler is found.

Each floor is the best of a few calls (the most this machine does), cached per thread count.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._timing import best_time

#: The O2NC update's memory floor: one pass reading x, g, D and writing x, D (20 bytes per float32
#: parameter), OpenMP threads taking static shares of each tensor. Compiled at run time with the
#: system's C compiler (never part of the library); without one, the o2nc floor is the copy bandwidth.
O2NC_FLOOR_C = r"""
#include <stdint.h>
void o2nc_floor(int64_t count, float* const* x, const float* const* g, float* const* D, const int64_t* n,
                float discount, float lr, float s, int threads) {
#pragma omp parallel num_threads(threads)
  for (int64_t t = 0; t < count; ++t) {
    float* restrict xt = x[t];
    const float* restrict gt = g[t];
    float* restrict Dt = D[t];
#pragma omp for simd schedule(static) nowait
    for (int64_t i = 0; i < n[t]; ++i) {
      const float d = discount * (Dt[i] - lr * gt[i]);
      Dt[i] = d;
      xt[i] += s * d;
    }
  }
}
"""


def compile_c_loop() -> tuple[Callable[..., None] | None, str]:
    """(the C loop as a ctypes function, how it was built) or (None, why not)."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        return None, "no C compiler found (set CC)"
    flags = ["-O3", "-march=native", "-fopenmp", "-shared", "-fPIC"]
    with tempfile.TemporaryDirectory() as tmp:
        src, lib = Path(tmp, "o2nc_floor.c"), Path(tmp, "libo2nc_floor.so")
        src.write_text(O2NC_FLOOR_C)
        try:
            subprocess.run([cc, *flags, str(src), "-o", str(lib)], check=True, capture_output=True, text=True,
                           timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", None) or str(exc)
            return None, f"{cc} failed: {detail.strip().splitlines()[0][:160] if detail.strip() else exc}"
        fn = ctypes.CDLL(str(lib)).o2nc_floor  # stays mapped after the folder goes
    fn.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                   ctypes.c_float, ctypes.c_float, ctypes.c_float, ctypes.c_int]
    fn.restype = None
    return fn, f"{cc} {' '.join(flags[:3])}"


class Floors:
    """Floors measured on demand and kept: `measured` holds every one, for results.json."""

    def __init__(self, device: str, torch: Any, quick: bool) -> None:
        self.device, self.torch, self.quick = device, torch, quick
        self.measured: dict[str, Any] = {}
        self._c_loop: tuple[Callable[..., None] | None, str] | None = None

    def _sync(self) -> Callable[[], None] | None:
        return self.torch.cuda.synchronize if self.device == "cuda" else None

    def _keep(self, key: str, value: float, how: str) -> float:
        self.measured[key] = {"value": value, "how": how}
        return value

    def copy_bandwidth(self, n_threads: int | None) -> float:
        """Bytes per second of a large copy, read plus write."""
        key = f"copy_bytes_per_s@{n_threads}"
        if key in self.measured:
            return self.measured[key]["value"]
        torch = self.torch
        if self.device == "cuda":
            src = torch.empty(1 << (26 if self.quick else 28), dtype=torch.float32, device="cuda")
            dst = torch.empty_like(src)
            t = best_time(lambda: dst.copy_(src), sync=self._sync())
            return self._keep(key, 2 * src.numel() * 4 / t, f"torch copy_ of {src.numel() * 4 >> 20} MiB")
        n = 1 << (23 if self.quick else 25)
        src, dst = np.ones(n, np.float32), np.empty(n, np.float32)
        best = best_time(lambda: np.copyto(dst, src))
        how = f"the best of NumPy's and PyTorch's copy of {n * 4 >> 20} MiB"
        if torch is not None:
            ts, td = torch.from_numpy(src), torch.from_numpy(dst)
            best = min(best, best_time(lambda: td.copy_(ts)))
        else:
            how = f"NumPy's copy of {n * 4 >> 20} MiB (one thread; PyTorch absent)"
        return self._keep(key, 2 * n * 4 / best, how)

    def gemm_rate(self, dtype: Any, n_threads: int | None) -> float:
        """FLOP/s of a square matrix product at dtype (float32: SGEMM, float64: DGEMM)."""
        dt = np.dtype(dtype)
        name = "sgemm" if dt == np.float32 else "dgemm"
        key = f"{name}_flops_per_s@{n_threads}"
        if key in self.measured:
            return self.measured[key]["value"]
        torch = self.torch
        if self.device == "cuda":
            m = (2048 if self.quick else 8192) if dt == np.float32 else (2048 if self.quick else 4096)
            tdt = torch.float32 if dt == np.float32 else torch.float64
            a = torch.randn(m, m, device="cuda", dtype=tdt)
            t = best_time(lambda: a @ a, runs=3, sync=self._sync())
            return self._keep(key, 2 * m**3 / t, f"torch {m}^3 {name.upper()}")
        m = 512 if self.quick else 1024
        a = np.random.default_rng(0).standard_normal((m, m)).astype(dt)
        best = best_time(lambda: a @ a, runs=3)
        how = f"the best of NumPy's BLAS and PyTorch at {m}^3"
        if torch is not None:
            ta = torch.from_numpy(a)
            best = min(best, best_time(lambda: ta @ ta, runs=3))
        else:
            how = f"NumPy's BLAS at {m}^3 (PyTorch absent)"
        return self._keep(key, 2 * m**3 / best, how)

    def normal_rate(self) -> float:
        """Standard normals per second on one CPU thread by homotopt's generator (the fastest here)."""
        key = "normals_per_s@1"
        if key in self.measured:
            return self.measured[key]["value"]
        import homotopt

        from ._timing import threads

        n = 1 << (20 if self.quick else 22)
        with threads(1):
            t = best_time(lambda: homotopt.random.normal(n, 0, 1))
        return self._keep(key, n / t, "homotopt.random.normal, one thread")

    def c_loop(self) -> tuple[Callable[..., None] | None, str]:
        if self._c_loop is None:
            self._c_loop = compile_c_loop()
            self.measured["o2nc_c_loop"] = {"value": self._c_loop[0] is not None, "how": self._c_loop[1]}
        return self._c_loop
