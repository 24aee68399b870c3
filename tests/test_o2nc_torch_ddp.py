"""ExpO2NC under torch.distributed (2 gloo processes on localhost): replicas seeded per rank stay
bitwise identical (rank 0's seed is shared at construction), with DDP and with ZeroRedundancyOptimizer
(one s per step across the shards); an explicit seed that differs across ranks is an error on every rank."""

import os

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

STEPS = 12


def train(rank: int, mode: str) -> dict:
    import homotopt.torch as ht
    from torch.distributed.optim import ZeroRedundancyOptimizer
    from torch.nn.parallel import DistributedDataParallel

    torch.manual_seed(1000 + rank)  # the common per-rank seeding: the default seed differs per rank
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    ddp = DistributedDataParallel(model)
    if mode == "zero":
        opt = ZeroRedundancyOptimizer(ddp.parameters(), optimizer_class=ht.ExpO2NC, lr=0.1, momentum=0.9)
        local = opt.optim
    else:
        opt = local = ht.ExpO2NC(ddp.parameters(), lr=0.1, momentum=0.9)
    scales = []
    for _ in range(STEPS):
        x = torch.randn(8, 5)  # different data on each rank
        opt.zero_grad()
        ddp(x).pow(2).mean().backward()
        opt.step()
        scales.append(local.last_s)
    return {"params": [p.detach().clone() for p in model.parameters()], "scales": scales, "seed": local.seed,
            "steps": local.step_count, "tensors": sum(len(g["params"]) for g in local.param_groups)}


def worker(rank: int, world: int, port: int, out: str) -> None:
    import homotopt.torch as ht

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        results = {mode: train(rank, mode) for mode in ("ddp", "zero")}
        try:
            ht.ExpO2NC([torch.nn.Parameter(torch.ones(2))], lr=0.1, seed=rank)
        except ValueError as exc:
            results["bad_seed"] = str(exc)
        torch.save(results, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory, spawn_ranks):
    """Both ranks' results, from one pair of processes (starting them is most of the time)."""
    out = str(tmp_path_factory.mktemp("ddp") / "rank")
    spawn_ranks(worker, 2, out)
    return [torch.load(f"{out}.{r}", weights_only=False) for r in range(2)]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["ddp", "zero"])
def test_replicas_stay_bitwise_equal(mode, ranks):
    r0, r1 = ranks[0][mode], ranks[1][mode]
    assert r0["seed"] == r1["seed"] and r0["steps"] == r1["steps"] == STEPS
    assert r0["scales"] == r1["scales"]  # one s per step on every rank (and every shard)
    assert len(set(r0["scales"])) == STEPS
    if mode == "zero":
        assert 0 < r0["tensors"] < 4 and r0["tensors"] + r1["tensors"] == 4  # each rank steps its shard only
    for a, b in zip(r0["params"], r1["params"]):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_an_explicit_seed_that_differs_across_ranks_is_an_error(ranks):
    for r in ranks:
        assert "seed: expected the same seed on every rank" in r["bad_seed"] and "[0, 1]" in r["bad_seed"]
