"""homotopt.torch.ProgPowerHP over several processes (gloo, localhost): samples k = rank, rank + world, ...
merged with one all_gather of (m, s, count) and one all_reduce of u; every rank ends where the
one-process run ends, to float rounding."""

import os
import tempfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

from _torch_powerhp_ref import data, flat, losses, mlp  # noqa: E402

KW = dict(num_samples=5, power=2.0, sigma=0.1, lr=0.01, seed=11)
STEPS = 3


def single(vectorize=False):
    from homotopt.torch import ProgPowerHP
    model = mlp(2)
    x, y = data("mlp", 8, 2)
    opt = ProgPowerHP(model.parameters(), vectorize=vectorize, module=model if vectorize else None, **KW)
    for _ in range(STEPS):
        opt.step(lambda: losses(model, x, y))
    return flat(model)


def worker(rank, world, port, out_dir):
    """One spawn of 3 processes runs every case (spawning costs seconds): the 3-rank world, a 2-rank
    subgroup, and the vectorized path with seed=None on the subgroup."""
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        from homotopt.torch import ProgPowerHP
        pair = dist.new_group([0, 1])
        cases = [("world3", None, False, False), ("world2", pair, False, False), ("vmap2", pair, True, True)]
        for name, pg, vectorize, seed_none in cases:
            if pg is pair and rank == 2:
                continue
            torch.manual_seed(1000 + rank)  # a different torch seed per rank: seed=None must still agree
            model = mlp(2)
            x, y = data("mlp", 8, 2)
            kw = dict(KW)
            if seed_none:
                kw["seed"] = None
            opt = ProgPowerHP(model.parameters(), vectorize=vectorize, module=model if vectorize else None,
                              process_group=pg, **kw)
            for _ in range(STEPS):
                opt.step(lambda: losses(model, x, y))
            np.save(os.path.join(out_dir, f"{name}_rank{rank}.npy"), flat(model))
            np.save(os.path.join(out_dir, f"{name}_seed{rank}.npy"), np.array([opt.seed], dtype=np.uint64))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(spawn_ranks):
    with tempfile.TemporaryDirectory() as d:
        spawn_ranks(worker, 3, d)
        out = {}
        for f in os.listdir(d):
            out[f[:-4]] = np.load(os.path.join(d, f))
    return out


@pytest.mark.parametrize("world", [2, 3])
def test_ranks_equal_one_process(world, results):
    params = [results[f"world{world}_rank{r}"] for r in range(world)]
    want = single()
    for p in params:
        np.testing.assert_array_equal(p, params[0])  # every rank takes the same step
        # float64; the ranks' partial sums merge in another order: worst seen ~1e-16 relative
        np.testing.assert_allclose(p, want, rtol=1e-12, atol=1e-14)


def test_vectorized_ranks_and_a_shared_seed(results):
    assert int(results["vmap2_seed0"][0]) == int(results["vmap2_seed1"][0])
    np.testing.assert_array_equal(results["vmap2_rank0"], results["vmap2_rank1"])
