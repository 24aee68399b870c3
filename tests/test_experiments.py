"""The reproduction CLI: every experiment in --quick mode, the files it writes, the figure1 quadrature
against Monte Carlo, bad options, and the Dask sweep."""

import json
import subprocess
import sys

import numpy as np
import pytest

import homotopt
from homotopt.cli import main
from homotopt.experiments import EXPERIMENTS, figure1
from homotopt.experiments._base import format_cell

pytest.importorskip("matplotlib")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "homotopt", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_quick_run_writes_consistent_files(name, tmp_path, capsys):
    if name in ("o2nc-digits", "digits-powerhp", "relu-torch", "phase-retrieval-torch", "o2nc-scaling"):
        pytest.importorskip("torch")
        pytest.importorskip("sklearn")
    assert main(["reproduce", name, "--quick", "--no-progress", "--out", str(tmp_path), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "results.json").read_text())
    table = (tmp_path / "table.md").read_text()
    assert result["experiment"] == name and result["settings"]["quick"] is True
    assert result["machine"]["homotopt"] == homotopt.__version__
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs and all((tmp_path / p).stat().st_size > 1000 for p in pngs)
    # The table's numbers are the JSON's: re-render each JSON row and find it in table.md (and stdout).
    columns = result["table"]["columns"]
    for row in result["table"]["rows"]:
        line = "| " + " | ".join(format_cell(_from_json(row.get(c, ""))) for c in columns) + " |"
        assert line in table and line in printed


def _from_json(v):
    return float(v) if v in ("nan", "inf", "-inf") else v


def test_figure1_quadrature_matches_monte_carlo():
    rng = np.random.default_rng(0)
    toy = homotopt.problems.Toy1D()
    for mu, power, sigma in ((-0.3, 1.0, 0.5), (0.4, 1.0, 0.2), (0.0, 2.0, 0.3)):
        quad = figure1.log_F(np.array([mu]), power, sigma)[0]
        z = rng.standard_normal(2_000_000)
        e = np.exp(power * toy.fitness((mu + sigma * z)[:, None]))
        estimate, stderr = e.mean(), e.std() / np.sqrt(e.size)
        # log of the Monte Carlo mean, within 5 standard errors (delta method: stderr / mean).
        assert abs(quad - np.log(estimate)) < 5 * stderr / estimate, (mu, power, sigma, quad, np.log(estimate))


def test_list_names_every_experiment():
    out = run_cli("list")
    assert out.returncode == 0
    for name in EXPERIMENTS:
        assert name in out.stdout


@pytest.mark.parametrize("args,message", [
    (["reproduce", "phase-retrival", "--quick"], "unknown experiment 'phase-retrival'"),
    (["reproduce", "figure1", "--trials", "-3"], "expected a positive integer"),
    (["reproduce", "figure1", "--steps", "many"], "expected a positive integer"),
    (["reproduce", "figure1", "--seed", "-1"], "seed"),
    (["reproduce", "figure1", "--device", "cuda"], "--device cuda"),
    (["reproduce", "figure1", "--device", "tpu"], "expected cpu or cuda"),
    (["reproduce", "figure1", "--backend", "torch"], "experiment 'figure1' has no torch form; those with one: relu"),
    (["reproduce", "relu", "--backend", "jax"], "invalid choice: 'jax'"),
])
def test_bad_options_exit_with_a_message(args, message):
    out = run_cli(*args)
    assert out.returncode != 0
    assert message in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("name", ["relu", "phase-retrieval"])
def test_backend_torch_runs_the_torch_form(name, tmp_path, capsys):
    """`reproduce NAME --backend torch` is NAME-torch: the nn.Module trained by homotopt.torch.ProgPowerHP
    beside the native runner (the -torch names stay as aliases)."""
    pytest.importorskip("torch")
    pytest.importorskip("scipy")
    assert main(["reproduce", name, "--backend", "torch", "--quick", "--trials", "2", "--steps", "20",
                 "--no-progress", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["experiment"] == f"{name}-torch"
    assert [row["backend"] for row in result["table"]["rows"]] == ["native", "torch"]
    assert "wrote" in capsys.readouterr().out


def test_sweep_on_a_local_dask_cluster_equals_direct_tasks():
    pytest.importorskip("distributed")
    from homotopt.experiments import phase_retrieval

    grid = {"n": [30, 40], "method": ["powerhp", "sgd"]}
    result = homotopt.sweep("phase-retrieval", grid, seeds=[0, 1], n_workers=2, d=20, trials=3, steps=500)
    assert len(result.rows) == 8 and "| n | method | seed |" in result.markdown()
    for row in result.rows:
        direct = phase_retrieval.task(d=20, n=row["n"], method=row["method"], seed=row["seed"], trials=3, steps=500)
        for key in ("success M<=1e-3", "success M<=1e-2", "mean M", "median M"):
            assert row[key] == direct[key]  # the same native run, wherever it ran


def test_sweep_bad_input():
    with pytest.raises(ValueError, match="experiment"):
        homotopt.sweep("figure1", {"n": [1]})
    with pytest.raises(ValueError, match="grid"):
        homotopt.sweep("phase-retrieval", {"n": []})


def test_relu_tests_point_the_right_way():
    pytest.importorskip("scipy")
    from homotopt.experiments import relu

    low, high = np.full(50, 1e-6), np.full(50, 1e-2)
    # Prog-PowerHP (first argument) lower and more often below the threshold: small p; reversed: large p.
    assert relu.mann_whitney_less(low, high) < 1e-10 < 0.99 < relu.mann_whitney_less(high, low)
    assert relu.fisher_more_successes(low, high) < 1e-10 < 0.99 < relu.fisher_more_successes(high, low)
    # 82 against 69 successes of 100: the one-sided Fisher p-value, by hand from the hypergeometric law.
    from scipy.stats import hypergeom
    x = np.r_[np.zeros(82), np.ones(18)]
    y = np.r_[np.zeros(69), np.ones(31)]
    assert relu.fisher_more_successes(x, y) == pytest.approx(hypergeom.sf(81, 200, 151, 100), rel=1e-9)
