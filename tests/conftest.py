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


@pytest.fixture(scope="session")
def spawn_ranks():
    """spawn_ranks(worker, nprocs, *args): torch.multiprocessing.spawn(worker, (nprocs, port, *args)) on a free
    localhost port, tried up to three times: the port can be taken by another process on the machine between
    choosing it and the gloo rendezvous. A real failure fails all three and is raised."""
    import socket

    import torch.multiprocessing as mp

    def spawn(worker, nprocs: int, *args) -> None:
        for attempt in range(3):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            try:
                mp.spawn(worker, args=(nprocs, port, *args), nprocs=nprocs, join=True)
                return
            except Exception:
                if attempt == 2:
                    raise

    return spawn
