"""torch.compile(opt.step, fullgraph=True) keeps ExpO2NC's fused update in the graph (the custom op
torch.ops.homotopt.o2nc_step with its fake implementation) and takes the same steps as eager mode."""

import pytest

torch = pytest.importorskip("torch")

import homotopt.torch as ht  # noqa: E402


def test_custom_op_passes_torch_opcheck():
    params = [torch.randn(5), torch.randn(2, 3)]
    grads = [torch.randn(5), torch.randn(2, 3)]
    bufs = [torch.zeros(5), torch.zeros(2, 3)]
    state = torch.zeros(6, dtype=torch.int64)
    hypers = torch.tensor([[0.1, 0.9, 0.0, 0.0, 0.0]], dtype=torch.float64)
    torch.library.opcheck(torch.ops.homotopt.o2nc_step.default, (params, grads, bufs, state, [2], hypers, 0, True, 0),
                          test_utils=("test_schema", "test_faketensor"))


@pytest.mark.slow
def test_compiled_step_fullgraph_matches_eager():
    torch._dynamo.reset()
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)))
    eager = ht.ExpO2NC(models[0].parameters(), lr=torch.tensor(0.05), momentum=0.9, seed=3)
    comp = ht.ExpO2NC(models[1].parameters(), lr=torch.tensor(0.05), momentum=0.9, seed=3)
    compiled_step = torch.compile(comp.step, fullgraph=True, backend="aot_eager")
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        x = torch.randn(16, 4, generator=gen)
        for model in models:
            model.zero_grad()
            model(x).pow(2).mean().backward()
        eager.step()
        compiled_step()
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        assert torch.equal(p, q)
    assert comp.step_count == eager.step_count == 3 and comp.last_s == eager.last_s
