"""Runtime CPU dispatch: the capabilities compiled in, forcing one with HOMOTOPT_CPU_CAPABILITY, the
error for a bad value, and the same bits from every capability this CPU can run (each kernel on the
inputs below: sizes that exercise the vector bodies and their tails, both dtypes, every Philox
distribution, the O2NC update with and without weight decay (float16/bfloat16 through homotopt.torch
when torch is installed), the built-in problems' fitness, and the
runner on all three problems)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import homotopt

CAPABILITIES = homotopt.build_info()["cpu_capabilities"]

# Runs in a child process (the capability is chosen once per process): every kernel's outputs into an .npz.
KERNELS = r"""
import sys
import numpy as np
import homotopt
from homotopt import random as hrandom
from homotopt.problems import PhaseRetrieval, Toy1D, TwoLayerReLU

out = {"capability": np.array(homotopt.build_info()["cpu_capability"])}
rng = np.random.default_rng(0)
for dtype in (np.float64, np.float32):
    tag = np.dtype(dtype).name
    for K, J, d in [(5, 1, 3), (16, 3, 37), (9, 2, 64)]:
        values = (-rng.random((K, J)) * 3).astype(dtype)
        grads = rng.standard_normal((K, J, d)).astype(dtype)
        res = homotopt.power_gradient(values, grads, 1.7)
        out[f"pg_{tag}_{K}_{d}"] = np.concatenate([np.asarray(res.direction, np.float64), [res.log_scale]])
    out[f"weights_{tag}"] = homotopt.power_weights((-rng.random(33) * 4).astype(dtype), 2.5)[0]
    for d, n, K in [(12, 40, 3), (20, 50, 16), (33, 70, 9), (64, 128, 32)]:
        pr = PhaseRetrieval.random(d, n, seed=d, dtype=dtype)
        mu = pr.random_start(1, seed=1)[0]
        for rows in (None, np.arange(n)[::3]):
            g = pr.power_gradient(mu, sigma=0.3, power=2.0, num_samples=K, seed=5, rows=rows)
            out[f"pr_{tag}_{d}_{K}_{rows is None}"] = np.concatenate(
                [np.asarray(g.direction, np.float64), [g.log_scale]])
        out[f"fit_{tag}_{d}"] = np.atleast_1d(pr.fitness(pr.random_start(3, seed=2)))
    for name, fn in [("normal", hrandom.normal), ("uniform", hrandom.uniform), ("exponential", hrandom.exponential)]:
        out[f"rand_{name}_{tag}"] = fn(1001, seed=3, step=2, dtype=dtype)
    params = [rng.standard_normal(n).astype(dtype) for n in (1, 7, 64, 1000, 4099)]
    grads = [rng.standard_normal(p.size).astype(dtype) for p in params]
    bufs = [rng.standard_normal(p.size).astype(dtype) for p in params]
    for wd in (0.0, 0.01):
        homotopt.o2nc_update(params, grads, bufs, lr=0.1, beta=0.9, mu=0.01, weight_decay=wd, seed=1, step=3)
    for i, (p, b) in enumerate(zip(params, bufs)):
        out[f"o2nc_{tag}_{i}"] = np.concatenate([p, b])
    kw = dict(steps=30, num_samples=6, batch_size=5, power=homotopt.PowerSchedule(0.3, 0.1, 3.0, every=3),
              sigma=homotopt.SigmaSchedule(0.3, 0.9, 0.01), lr=homotopt.LearningRate(0.05), eval_every=10,
              seed=4, progress=False)
    for name, problem in [("pr", PhaseRetrieval.random(16, 48, seed=2, dtype=dtype)),
                          ("relu", TwoLayerReLU(3, 9, seed=4, test_size=40, validation_size=30, dtype=dtype))]:
        r = homotopt.prog_powerhp(problem, problem.random_start(3, seed=1), **kw)
        out[f"run_{name}_{tag}"] = np.concatenate([r.final_mu.ravel().astype(np.float64), r.best_value])
    for k, n in [(3, 9), (4, 37)]:  # two_layer_relu_fitness: dot products with and without a tail
        relu = TwoLayerReLU(k, n, seed=n, test_size=10, validation_size=25, dtype=dtype)
        out[f"fit_relu_{tag}_{n}"] = np.atleast_1d(relu.fitness(relu.random_start(3, seed=2)))
out["run_toy1d"] = homotopt.prog_powerhp(Toy1D(noise=0.05, validation_size=20, seed=1),
                                         Toy1D(noise=0.05).random_start(2, seed=0), **kw).final_mu.ravel()
try:  # O2NC on float16/bfloat16 parameters (16-bit or float32 D): reached through homotopt.torch
    import torch
    import homotopt.torch as ht
except ImportError:
    torch = None
if torch is not None:
    for dt in (torch.float16, torch.bfloat16):
        for buffer_dtype in (None, torch.float32):
            ps = [torch.nn.Parameter(torch.tensor(rng.standard_normal(n), dtype=dt)) for n in (7, 64, 1001)]
            opt = ht.ExpO2NC(ps, lr=0.05, momentum=0.9, weight_decay=0.01, seed=3, buffer_dtype=buffer_dtype)
            for _ in range(3):
                for q in ps:
                    q.grad = torch.tensor(rng.standard_normal(q.numel()), dtype=dt)
                opt.step()
            key = f"o2nc16_{str(dt)[6:]}_{buffer_dtype is None}"
            out[key] = np.concatenate([np.concatenate([q.detach().double().numpy(), opt.state[q]["D"].double().numpy()])
                                       for q in ps])
toy = Toy1D(noise=0.05, validation_size=20, seed=1)
out["fit_toy1d"] = np.atleast_1d(toy.fitness(toy.random_start(4, seed=3)))
out["indices"] = hrandom.integers(97, 1003, seed=6, step=1)
np.savez(sys.argv[1], **out)
"""


def run_python(code: str, *args: str, capability: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("HOMOTOPT_CPU_CAPABILITY", None)
    if capability is not None:
        env["HOMOTOPT_CPU_CAPABILITY"] = capability
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)


def supported(capability: str) -> bool:
    return run_python("import homotopt", capability=capability).returncode == 0


def test_build_info_reports_the_capabilities():
    info = homotopt.build_info()
    caps = info["cpu_capabilities"]
    assert caps == ["native"] or caps[0] == "baseline"
    assert set(caps) <= {"baseline", "avx2", "avx512", "native"} and len(set(caps)) == len(caps)
    assert info["cpu_capability"] in caps
    forced = os.environ.get("HOMOTOPT_CPU_CAPABILITY")
    if forced:
        assert info["cpu_capability"] == forced


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_forcing_a_capability(capability):
    proc = run_python("import homotopt; print(homotopt.build_info()['cpu_capability'])", capability=capability)
    if proc.returncode == 0:
        assert proc.stdout.strip() == capability
    else:  # compiled in, but this CPU cannot run it: the error says so and names what can run here
        assert f'this CPU cannot run "{capability}"' in proc.stderr and "supported here: baseline" in proc.stderr


def test_without_the_variable_the_best_supported_one_runs():
    proc = run_python("import homotopt; print(homotopt.build_info()['cpu_capability'])", capability=None)
    assert proc.returncode == 0
    best = [c for c in reversed(CAPABILITIES) if supported(c)][0]
    assert proc.stdout.strip() == best


@pytest.mark.parametrize("value", ["sse9", "AVX2", "baseline "])
def test_a_bad_value_is_a_clear_error(value):
    proc = run_python("import homotopt", capability=value)
    assert proc.returncode != 0
    compiled = ", ".join(CAPABILITIES)
    assert "ValueError: HOMOTOPT_CPU_CAPABILITY: expected one of the capabilities compiled into this build " \
           f'({compiled}), got "{value}"' in proc.stderr


@pytest.mark.slow
def test_every_capability_gives_the_same_bits(tmp_path: Path):
    runnable = [c for c in CAPABILITIES if supported(c)]
    results = {}
    for cap in runnable:
        path = tmp_path / f"{cap}.npz"
        proc = run_python(KERNELS, str(path), capability=cap)
        assert proc.returncode == 0, proc.stderr
        with np.load(path) as data:
            results[cap] = {k: data[k] for k in data.files}
        assert str(results[cap].pop("capability")) == cap
    first = runnable[0]
    for cap in runnable[1:]:
        assert results[cap].keys() == results[first].keys()
        differ = [k for k in results[first]
                  if not np.array_equal(results[first][k], results[cap][k], equal_nan=True)]
        assert not differ, f"{cap} and {first} differ in {differ}"
    if len(runnable) == 1:
        pytest.skip(f"only {first} runs on this CPU: nothing to compare")
