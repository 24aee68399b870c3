"""Build information, version, threads, and the command line."""

import re
import subprocess
import sys

import pytest

import homotopt


def test_build_info():
    info = homotopt.build_info()
    assert info["version"] == homotopt.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", info["version"])
    assert isinstance(info["cuda"], bool) and isinstance(info["openmp"], bool)
    assert info["compiler"]
    if info["cuda"]:
        assert info["cuda_version"] and info["cuda_architectures"]


def test_threads(threads):
    threads(1)
    assert homotopt.get_num_threads() == 1
    with pytest.raises(ValueError, match="n"):
        homotopt.set_num_threads(0)


def test_import_needs_only_numpy():
    code = ("import sys, homotopt; bad = [m for m in ('torch', 'scipy', 'matplotlib', 'tqdm') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_demo():
    out = subprocess.run([sys.executable, "-m", "homotopt", "demo"], check=True, capture_output=True, text=True).stdout
    assert "nan" in out  # the naive normalization breaks down ...
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("1e+")]
    assert len(rows) == 4 and all(float(r[-2]) == pytest.approx(1.0) for r in rows)  # ... homotopt does not


def test_cli_info():
    out = subprocess.run([sys.executable, "-m", "homotopt", "info"], check=True, capture_output=True, text=True).stdout
    assert '"version"' in out


def test_cli_bad_command():
    proc = subprocess.run([sys.executable, "-m", "homotopt", "fly"], capture_output=True, text=True)
    assert proc.returncode != 0 and "invalid choice" in proc.stderr
