"""Shared fixtures: fresh random inputs each session, reproducible with HOMOTOPT_TEST_SEED."""

from __future__ import annotations

import os
import secrets
import zlib

import numpy as np
import pytest

import homotopt

SESSION_SEED = int(os.environ.get("HOMOTOPT_TEST_SEED", secrets.randbelow(2**31)))


def pytest_report_header(config):
    return f"homotopt {homotopt.__version__}, HOMOTOPT_TEST_SEED={SESSION_SEED}, build: {homotopt.build_info()}"


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded by the session seed and the test's name (rerun with HOMOTOPT_TEST_SEED)."""
    return np.random.default_rng([SESSION_SEED, zlib.crc32(request.node.nodeid.encode())])


@pytest.fixture
def threads():
    """Restores the thread count a test changes."""
    before = homotopt.get_num_threads()
    yield homotopt.set_num_threads
    homotopt.set_num_threads(before)


def has_cuda() -> bool:
    return homotopt._core.cuda_device_count() > 0


def pytest_collection_modifyitems(config, items):
    if has_cuda():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU and a CUDA build of homotopt")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
