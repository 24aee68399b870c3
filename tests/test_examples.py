"""The examples run (short versions)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(name, *args):
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], check=True, capture_output=True,
                          text=True, timeout=300).stdout


def test_asktell_numpy():
    out = run("asktell_numpy.py", "--steps", "3000")
    prog = float(out.split("best iterate at distance ")[1].split()[0])
    sgd = float(out.split("SGD: final distance ")[1].split()[0])
    assert prog < 0.2 < sgd  # the homotopy finds the global maximum, SGD a local one


def test_asktell_torch():
    pytest.importorskip("torch")
    out = run("asktell_torch.py", "--steps", "300")
    assert "best validation mean squared error" in out


def test_powerhp_torch_training():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = run("powerhp_torch_training.py", "--epochs", "4")
    assert "'resumed_bitwise_equal': True" in out
    best = float(out.split("'best_accuracy': ")[1].split(",")[0])
    assert best > 0.5  # 10 classes: chance is 0.1


def test_powerhp_torch_training_on_two_gloo_ranks():
    """The same loop in 2 processes (gloo): every rank ends equal, and equal to one process to float32
    rounding; the checkpoint still resumes bit for bit."""
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = run("powerhp_torch_training.py", "--epochs", "3", "--ranks", "2")
    assert "'resumed_bitwise_equal': True" in out and "'ranks_equal': True" in out
    assert float(out.split("'max_diff_to_one_process': ")[1].split("}")[0]) < 1e-5
