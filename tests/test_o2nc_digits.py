"""The O2NC training check (homotopt.experiments.o2nc_digits, run by examples/o2nc_digits.py): its loop
on data made here (needs torch only), and the real digits in --quick form (needs scikit-learn, which
ships the data)."""

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "o2nc_digits.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("o2nc_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_torch_thread():
    """Tiny matrices: torch's threads only add overhead, and contention on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def blobs(seed, n=600, d=16, classes=4):
    g = torch.Generator().manual_seed(seed)
    centers = 3 * torch.randn(classes, d, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    X = centers[y] + torch.randn(n, d, generator=g)
    return X[:450], y[:450], X[450:], y[450:]


def test_training_loop_learns_with_both_optimizers(one_torch_thread):
    from homotopt.experiments.o2nc_digits import train_and_evaluate

    data = blobs(0)
    for name in ("SGD", "ExpO2NC"):
        r = train_and_evaluate(data, name, seed=0, epochs=3)
        # Well-separated blobs: both reach 1.0 on every seed tried; 0.9 leaves room for any draw of s.
        assert r["accuracy"] > 0.9, (name, r)


def test_digits_quick(example, capsys):
    pytest.importorskip("sklearn")
    summary = example.main(["--quick"])
    # 3 epochs on the real digits: 0.95 for both on seed 0 (the full run: 0.97 to 0.98).
    assert summary["SGD"]["mean"] > 0.85 and summary["ExpO2NC"]["mean"] > 0.85
    assert "Paired difference" in capsys.readouterr().out
