"""What homotopt.torch tells the native ``*_pointers`` ops about its tensors: the dtype and device as
``_core`` enums, and the CUDA stream to run on. Internal; one place for every torch optimizer."""

from __future__ import annotations

import torch

from .. import _core

DTYPES = {torch.float32: _core.DType.float32, torch.float64: _core.DType.float64,
          torch.float16: _core.DType.float16, torch.bfloat16: _core.DType.bfloat16}
DEVICES = {"cpu": _core.DeviceType.cpu, "cuda": _core.DeviceType.cuda}


def stream_of(device: torch.device) -> int:
    """The current CUDA stream's handle on a CUDA device, 0 on the CPU."""
    return torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else 0


def device_args(device: torch.device, name: str) -> tuple[_core.DeviceType, int, int]:
    """(kind, index, stream) of a CPU or CUDA device; ValueError naming `name` for any other device."""
    kind = DEVICES.get(device.type)
    if kind is None:
        raise ValueError(f"{name}: expected tensors on the CPU or a CUDA device, got {device}")
    return kind, device.index or 0, stream_of(device)
