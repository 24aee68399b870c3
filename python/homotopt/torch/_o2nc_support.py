"""Support of homotopt.torch.ExpO2NC: the seed shared across ranks, the param-group dict that reads
``beta`` and ``momentum`` as one value, and the fused update as a ``torch.library`` custom op (what a
``torch.compile``d step calls, with a fake implementation so the graph keeps it)."""

from __future__ import annotations

import struct
from typing import Any

import torch

from .. import _core
from ._native import DEVICES, DTYPES, stream_of
_HYPER_KEYS = ("lr", "momentum", "mu", "weight_decay", "maximize")


class ParamGroup(dict):
    """A param group whose ``beta`` (the paper's name of the discount) is its ``momentum`` (torch's
    name, the one stored and the one schedulers such as OneCycleLR cycle): one value, both readable."""

    @staticmethod
    def _key(key: Any) -> Any:
        return "momentum" if key == "beta" else key

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._key(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(self._key(key), value)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(self._key(key), default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return super().setdefault(self._key(key), default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


def shared_seed(seed: int, explicit: bool) -> int:
    """The seed every rank uses when torch.distributed is initialized: rank 0's. An explicit seed that
    differs across ranks is an error on every rank (all of them see all seeds), not a silent drift."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return seed
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    signed = seed - 2**64 if seed >= 2**63 else seed  # int64 bits of the uint64
    mine = torch.tensor([signed], dtype=torch.int64, device=device)
    seeds = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(seeds, mine)
    values = [int(s.item()) % 2**64 for s in seeds]
    if explicit and len(set(values)) > 1:
        raise ValueError(f"seed: expected the same seed on every rank (one s per step for all replicas), got "
                         f"{values} on ranks 0..{len(values) - 1}; pass one seed, or none to use rank 0's")
    return values[0]


@torch.library.custom_op("homotopt::o2nc_step", mutates_args=("params", "buffers", "state"))
def o2nc_step(params: list[torch.Tensor], grads: list[torch.Tensor], buffers: list[torch.Tensor],
              state: torch.Tensor, group_sizes: list[int], hypers: torch.Tensor, scaling: int, check_finite: bool,
              nan_policy: int, grad_multiplier: float = 1.0) -> None:
    """The fused update of every (param, grad, buffer), dense and of one layout per triple, with seed,
    step and results in ``state`` (six int64 words, O2ncDeviceState) and the hyper-parameters of each
    group in a row of ``hypers`` (lr, beta, mu, weight_decay, maximize; float64). ``scaling`` and
    ``nan_policy`` are the int values of _core.O2ncScaling and _core.O2ncNanPolicy (a custom op's schema
    takes no pybind11 enums). ``grad_multiplier`` multiplies every gradient (1 / a GradScaler's scale)."""
    if not params:
        return
    device = params[0].device
    table = _core.O2ncTable([p.data_ptr() for p in params], [b.data_ptr() for b in buffers],
                            [p.numel() for p in params], [DTYPES[p.dtype] for p in params],
                            [DTYPES[b.dtype] for b in buffers], DEVICES[device.type], device.index or 0,
                            group_sizes)
    rows = [(lr, beta, mu, wd, bool(mx)) for lr, beta, mu, wd, mx in hypers.tolist()]
    stream = stream_of(device)
    table.step([g.data_ptr() for g in grads], rows, _core.O2ncScaling(scaling), None, check_finite,
               _core.O2ncNanPolicy(nan_policy), state.data_ptr(), stream, grad_multiplier)


@o2nc_step.register_fake
def _(params, grads, buffers, state, group_sizes, hypers, scaling, check_finite, nan_policy,
      grad_multiplier=1.0) -> None:
    return None


def inverse_scale(grad_scale: Any) -> float:
    """GradScaler's 1 / scale as its own unscale_ forms it: the reciprocal in float64, rounded to float32
    (a power of two for its default scales, so the fused unscale is exact)."""
    return struct.unpack("f", struct.pack("f", 1.0 / float(grad_scale)))[0]


def hyper_rows(groups: list[dict]) -> torch.Tensor:
    """(groups, 5) float64: lr (a float or a tensor), beta, mu, weight_decay, maximize."""
    rows = [torch.stack([torch.as_tensor(g[k], dtype=torch.float64).reshape(()) for k in _HYPER_KEYS])
            for g in groups]
    return torch.stack(rows)
