"""`homotopt bench`: --quick writes its files and tables (never a speed assert), the skips and their
reasons (no torch, no matplotlib, no C compiler, --device cuda without a GPU), the timing core, and
that every candidate computes the same math as homotopt (so the benchmark compares like with like)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import homotopt
from homotopt.bench import SUITES, BenchError, run_bench
from homotopt.bench._timing import Budget, compare, warm_up
from homotopt.cli import main


def test_quick_writes_results_table_and_plot(tmp_path, capsys):
    pytest.importorskip("torch")
    assert main(["bench", "--quick", "--threads", "1", "--no-progress", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "results.json").read_text())
    table = (tmp_path / "table.md").read_text()
    env = result["environment"]
    assert set(result["suites"]) == set(SUITES)
    for key in ("date", "cpu", "cpu_count", "homotopt", "numpy", "torch", "source", "load_average"):
        assert env[key], key
    assert result["settings"]["quick"] is True and result["settings"]["threads"] == [1]
    for name, suite in result["suites"].items():
        assert suite["cases"], name
        for case in suite["cases"]:
            for cand in ("homotopt", "PyTorch"):
                t = case["timings"][cand]
                assert 0 < t["p25_s"] <= t["median_s"] <= t["p75_s"] and t["calls"] >= 2, (name, cand)
            assert case["floor_s"] > 0 and case["of_floor"] > 0
            assert "--quick" in case["skipped"]["torch.compile"]
            assert case["speedups"]["PyTorch"] > 0
        assert f"## {name}:" in table and f"== {name}:" in printed
    assert "C loop" in result["suites"]["o2nc"]["cases"][0]["timings"] or "C loop" in table
    for text in (env["cpu"], env["date"], env["source"], "load average", "torch.compile: not run with --quick"):
        assert text in table
    if (tmp_path / "ratios.png").exists():
        assert (tmp_path / "ratios.png").stat().st_size > 1000 and "Plot: ratios.png" in table
    else:
        assert "No plot" in table


def test_without_torch_and_matplotlib_numpy_and_floors_still_run(tmp_path):
    # A process where importing torch or matplotlib fails, as on a machine without them.
    code = ("import sys; sys.modules['torch'] = None; sys.modules['matplotlib'] = None\n"
            "from homotopt.cli import main\n"
            f"sys.exit(main(['bench', 'estimator', '--quick', '--threads', '1', '--no-progress', '--out', {str(tmp_path)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "results.json").read_text())
    case = result["suites"]["estimator"]["cases"][0]
    assert set(case["timings"]) == {"homotopt", "NumPy"}
    assert "PyTorch is not installed" in case["skipped"]["PyTorch"]
    assert case["floor_s"] > 0 and result["environment"]["torch"] is None
    table = (tmp_path / "table.md").read_text()
    assert "PyTorch, torch.compile: PyTorch is not installed" in table and "No plot: matplotlib is not installed" in table
    assert not (tmp_path / "ratios.png").exists()


@pytest.mark.skipif(homotopt._core.cuda_device_count() > 0, reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="homotopt bench: error: --device cuda: "):
        main(["bench", "o2nc", "--device", "cuda", "--quick", "--out", str(tmp_path)])
    assert not (tmp_path / "results.json").exists()


GPU_SCRIPTS = ["cuda_power_ops.py", "cuda_power_gradient.py", "cuda_runner.py", "o2nc_cuda.py",
               "cuda_estimator_profile.py"]
SKIP_DRIVER = """
import runpy, sys
for script in sys.argv[1:]:
    sys.argv = [script]
    try:
        runpy.run_path(script, run_name="__main__")
        print("RETURNED", script)  # a script that ran on without a GPU
    except SystemExit as exit:
        print("EXIT", exit.code, script)
"""


@pytest.mark.skipif(homotopt._core.cuda_device_count() > 0, reason="this machine has a GPU")
def test_gpu_scripts_skip_cleanly_without_a_gpu():
    # bench/gpu_session.sh and CPU-only CI rely on it: each exits 0 with a message, before any timing.
    pytest.importorskip("torch")
    bench = Path(__file__).resolve().parents[1] / "bench"
    out = subprocess.run([sys.executable, "-c", SKIP_DRIVER, *(str(bench / s) for s in GPU_SCRIPTS)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for script in GPU_SCRIPTS:
        assert f"{script}: skipped: needs a CUDA GPU" in out.stdout, out.stdout
        assert f"EXIT 0 {bench / script}" in out.stdout, out.stdout


@pytest.mark.parametrize("args, message", [
    (["bench", "nope"], "invalid choice"),
    (["bench", "--threads", "0"], "positive integer"),
    (["bench", "--device", "tpu"], "invalid choice"),
])
def test_bad_options(args, message, capsys):
    with pytest.raises(SystemExit):
        main(args)
    assert message in capsys.readouterr().err


def test_unknown_suite_from_python():
    with pytest.raises(BenchError, match="unknown suite 'nope'"):
        run_bench(["nope"], out=None)


def test_timing_core_records_and_drops_failures():
    calls = []
    ok, skipped = warm_up({"fine": lambda: calls.append(1), "broken": lambda: 1 / 0})
    assert list(ok) == ["fine"] and skipped["broken"].startswith("failed: ZeroDivisionError")
    timings = compare(ok, Budget(budget_s=0.0, block_s=0.01, settle_s=0.0, min_rounds=3))
    t = timings["fine"]
    assert t.calls >= 6 and 0 <= t.p25_s <= t.median_s <= t.p75_s and t.spread >= 0


def test_c_loop_floor_is_the_o2nc_update():
    from homotopt.bench.floors import compile_c_loop

    fn, how = compile_c_loop()
    if fn is None:
        pytest.skip(how)
    import ctypes

    rng = np.random.default_rng(0)
    x, g, D = (rng.standard_normal(1000, dtype=np.float32) for _ in range(3))
    x2, D2 = x.copy(), D.copy()
    ptr = lambda a: (ctypes.c_void_p * 1)(a.ctypes.data)  # noqa: E731
    sizes = np.array([1000], dtype=np.int64)
    fn(1, ptr(x), ptr(g), ptr(D), sizes.ctypes.data, 0.9, 1e-3, 1.7, 1)
    homotopt.o2nc_update([x2], [g], [D2], lr=1e-3, beta=0.9, seed=0, step=0, s=1.7)
    np.testing.assert_allclose(D, D2, rtol=1e-6, atol=1e-7)  # float32, one rounding apart at most
    np.testing.assert_allclose(x, x2, rtol=1e-6, atol=1e-6)


def test_no_c_compiler_is_reported(monkeypatch):
    from homotopt.bench.floors import compile_c_loop

    monkeypatch.setenv("CC", "/nonexistent/cc")
    fn, how = compile_c_loop()
    assert fn is None and "/nonexistent/cc failed" in how


def test_candidates_compute_homotopts_power_gradient():
    from homotopt.bench import power_gradient as pg

    rng = np.random.default_rng(1)
    values = -np.abs(rng.standard_normal((8, 5))).astype(np.float32) * np.float32(0.01)
    grads = rng.standard_normal((8, 5, 30), dtype=np.float32)
    ours = homotopt.power_gradient(values, grads, pg.POWER).direction
    np.testing.assert_allclose(pg.numpy_direction(values, grads), ours, rtol=1e-4, atol=1e-6)  # worst seen ~1e-6
    torch = pytest.importorskip("torch")
    got = pg.torch_direction(torch.from_numpy(values), torch.from_numpy(grads)).numpy()
    np.testing.assert_allclose(got, ours, rtol=1e-4, atol=1e-6)


def test_candidates_compute_homotopts_estimator():
    from homotopt import reference
    from homotopt.bench import estimator as est
    from homotopt.problems import PhaseRetrieval

    torch = pytest.importorskip("torch")
    problem = PhaseRetrieval.random(20, 60, seed=0, dtype=np.float32)
    mu = problem.x_true.astype(np.float32) * 0.5
    W = reference.phase_retrieval_samples(mu, est.SIGMA, 6, 1).astype(np.float32)
    ours = problem.power_gradient(mu, sigma=est.SIGMA, power=est.POWER, num_samples=6, seed=1).direction
    got = est.torch_math(torch.from_numpy(problem.A), torch.from_numpy(problem.y), torch.from_numpy(W)).numpy()
    np.testing.assert_allclose(got, ours, rtol=2e-3, atol=2e-4 * np.abs(ours).max())  # float32 sums of 360 terms


def test_hand_o2nc_step_is_the_o2nc_update():
    from homotopt.bench import o2nc

    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x, g = (rng.standard_normal(50, dtype=np.float32) for _ in range(2))
    D = np.zeros(50, np.float32)
    tx, tD = torch.from_numpy(x.copy()), torch.from_numpy(D.copy())
    o2nc._hand_step([tx], [torch.from_numpy(g)], [tD], torch.tensor(0.6))
    homotopt.o2nc_update([x], [g], [D], lr=o2nc.LR, beta=o2nc.BETA, seed=0, step=0, s=0.6)
    np.testing.assert_allclose(tD.numpy(), D, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(tx.numpy(), x, rtol=1e-6, atol=1e-6)
