"""Exponentiated O2NC as a ``torch.optim.Optimizer``, on the fused native kernel.

``homotopt.torch.ExpO2NC`` is a drop-in optimizer: param groups with their own lr, beta, mu,
weight_decay and maximize; closures; ``state_dict`` / ``load_state_dict`` (bit-for-bit resumable:
the seed and the step counter are saved); LR schedulers (they set ``group["lr"]``). Each step is ONE
native call over every parameter of every group, on the tensors' own memory (their data pointers:
no copy, no DLPack round trip), with one s shared by all of them.

On CUDA parameters the step runs the CUDA kernel on the current torch stream, with the seed, the
step counter and the last step's s and found_inf in a small device tensor owned by the optimizer: a
step never waits for the GPU, and it can be captured in a CUDA graph (``torch.cuda.graph``) whose
replays draw a fresh s each step and skip steps with non-finite gradients, all on the device.
Reading ``step_count``, ``last_s`` or ``found_inf`` (or ``state_dict()``) then waits for the GPU.

Importing this module imports torch; ``import homotopt`` does not.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

from .. import _core
from .._validation import counter32, seed as check_seed
from ..o2nc import check_hyper, nan_policy_code, scaling_code

__all__ = ["ExpO2NC"]

_DTYPES = {torch.float32: _core.DType.float32, torch.float64: _core.DType.float64}
_DEVICES = {"cpu": _core.DeviceType.cpu, "cuda": _core.DeviceType.cuda}


def _flat_layout(p: torch.Tensor) -> bool:
    """Whether p's elements fill one dense block of memory (row-major or channels-last)."""
    if p.is_contiguous():
        return True
    if p.dim() == 4:
        return p.is_contiguous(memory_format=torch.channels_last)
    if p.dim() == 5:
        return p.is_contiguous(memory_format=torch.channels_last_3d)
    return False


class ExpO2NC(torch.optim.Optimizer):
    """Exponentiated O2NC (papers/o2nc.md): SGD with momentum, every update scaled by s ~ Exp(1).

    Per step, for every parameter x with gradient g and buffer D (``state[p]["D"]``, zeros at the
    start), with b' = beta / (1 + lr mu)::

        D <- b' (D - lr g - lr weight_decay x)        x <- x + s D

    and one s per step for all parameters of all groups, drawn from Philox at (seed, step), so it
    equals ``homotopt.random.exponential(1, seed, step, stream=Stream.SCALE)[0]``. With mu = 0 the
    expected update is ``torch.optim.SGD(lr=lr * beta, momentum=beta)``'s, so SGD settings map as
    lr_o2nc = lr_sgd / momentum, beta = momentum.

    Args:
        params: an iterable of tensors or of param-group dicts (float32 or float64, all on the CPU or
            all on one CUDA device).
        lr: eta >= 0. beta: discount in (0, 1]. mu: regularizer >= 0 (shrinks D).
        weight_decay: >= 0 (shrinks x; the same as torch SGD's weight_decay). maximize: ascend.
            These five may differ between param groups.
        scaling: "exponential" (the method), "uniform" (s ~ U[0, 2]) or "none" (s = 1: SGDM).
        seed: the seed of the s stream; None takes ``torch.initial_seed()``, so ``torch.manual_seed``
            makes runs repeatable.
        nan_policy: "skip" (default): a NaN or infinite gradient anywhere skips the whole step (no
            tensor is written, the step counter does not advance, ``found_inf`` is True); "raise".
        check_finite: False skips the check pass over the gradients (for callers that already know,
            e.g. under a GradScaler, which skips such steps itself).

    Parameters whose grad is None are skipped. Sparse gradients and dtypes other than float32 and
    float64 raise TypeError.

    CUDA graphs: create the optimizer (or run one eager step) with the parameters on their device
    before capturing ``step()``; hyper-parameters are read when the graph is captured (an lr
    schedule needs a new capture), and ``nan_policy="raise"`` cannot be captured (it reads the
    result on the host). ``load_state_dict`` writes the seed and the step counter in place, so a
    captured graph sees them, but torch replaces the buffers D: capture again after loading.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, beta: float = 0.9, mu: float = 0.0,
                 weight_decay: float = 0.0, *, maximize: bool = False, scaling: str = "exponential",
                 seed: int | None = None, nan_policy: str = "skip", check_finite: bool = True) -> None:
        check_hyper(lr, beta, mu, weight_decay)
        self._scaling = scaling_code(scaling)
        self._nan_policy = nan_policy_code(nan_policy)
        self.scaling, self.nan_policy, self.check_finite = scaling, nan_policy, bool(check_finite)
        # On the host for CPU parameters; for CUDA ones, _device_state (six int64 words on the device,
        # O2ncDeviceState of o2nc.hpp) holds seed, step, s and found_inf, and these are not used.
        self._seed = check_seed(torch.initial_seed() if seed is None else seed)
        self._step = 0
        self._last_s: float | None = None
        self._found_inf = False
        self._device_state: torch.Tensor | None = None
        self._stepped = False
        self._entries: dict[int, list] = {}
        defaults = dict(lr=lr, beta=beta, mu=mu, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)
        first = next((p for g in self.param_groups for p in g["params"]), None)
        if first is not None and first.device.type == "cuda":
            self._cuda_state(first.device)  # now, so that step() can be captured without a warm-up

    # ---- seed, step counter and the last step's results, on the host or on the device ----
    def _device_fields(self) -> dict:
        return _core.o2nc_device_state_fields(self._device_state.tolist())  # waits for the GPU

    def _write_device_state(self, seed: int, step: int) -> None:
        if torch.cuda.is_current_stream_capturing():
            raise RuntimeError("ExpO2NC: the seed and step counter cannot be set during CUDA graph capture")
        words = torch.tensor(_core.o2nc_device_state(seed, step), dtype=torch.int64)
        self._device_state.copy_(words)  # in place: a captured graph keeps reading this tensor

    def _cuda_state(self, device: torch.device) -> torch.Tensor:
        """The device state on `device`, made (from the host counter or another device's state) if needed."""
        state = self._device_state
        if state is not None and state.device == device:
            return state
        if torch.cuda.is_current_stream_capturing():
            raise RuntimeError(f"ExpO2NC: the step counter is not on {device} yet; create the optimizer (or run "
                               "one step()) with the parameters on that device before capturing a CUDA graph")
        seed, step = self.seed, self.step_count
        self._device_state = torch.tensor(_core.o2nc_device_state(seed, step), dtype=torch.int64, device=device)
        return self._device_state

    @property
    def seed(self) -> int:
        return self._seed

    @seed.setter
    def seed(self, value: int) -> None:
        self._seed = check_seed(value)
        if self._device_state is not None:
            self._write_device_state(self._seed, self.step_count)

    @property
    def step_count(self) -> int:
        """Applied steps so far (a skipped step does not count); on CUDA, reading it waits for the GPU."""
        if self._device_state is not None:
            return int(self._device_fields()["step"])
        return self._step

    @step_count.setter
    def step_count(self, value: int) -> None:
        value = counter32(value, "step")
        if self._device_state is not None:
            self._write_device_state(self._seed, value)
        else:
            self._step = value

    @property
    def last_s(self) -> float | None:
        """The s of the last step (None before the first); on CUDA, reading it waits for the GPU."""
        if self._device_state is not None:
            return float(self._device_fields()["scale"]) if self._stepped else None
        return self._last_s

    @property
    def found_inf(self) -> bool:
        """Whether the last step was skipped for a non-finite gradient; on CUDA, reading it waits for the GPU."""
        if self._device_state is not None:
            return bool(self._device_fields()["found_inf"]) if self._stepped else False
        return self._found_inf

    def add_param_group(self, param_group: dict) -> None:
        merged = {**self.defaults, **param_group}
        check_hyper(merged["lr"], merged["beta"], merged["mu"], merged["weight_decay"])
        super().add_param_group(param_group)

    def _entry(self, k: int, i: int, p: torch.Tensor) -> tuple:
        """What one parameter contributes to every step, checked once (and again when its memory
        changes): (p, x pointer, D, D pointer, numel, dtype code, device, row-major, dtype)."""
        name = f"param_groups[{k}]['params'][{i}]"
        code = _DTYPES.get(p.dtype)
        if code is None:
            raise TypeError(f"{name}: expected dtype torch.float32 or torch.float64, got {p.dtype}")
        if not _flat_layout(p):
            raise ValueError(f"{name}: expected a dense tensor (contiguous or channels-last), got strides {p.stride()}")
        state = self.state[p]
        D = state.get("D")
        if D is None:
            D = state["D"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        if D.shape != p.shape:
            raise ValueError(f"state of {name}: expected a buffer D of shape {tuple(p.shape)}, got {tuple(D.shape)}")
        if D.dtype != p.dtype or D.device != p.device or D.stride() != p.stride():
            D = state["D"] = torch.empty_like(p).copy_(D)  # our own state: put it in p's dtype and layout
        return (p, p.data_ptr(), D, D.data_ptr(), p.numel(), code, p.device, p.is_contiguous(), p.dtype)

    def _gather(self) -> tuple[list, list, list, list, list, list, list, torch.device | None]:
        """The pointer table of every parameter with a grad, group by group. Python work per parameter
        is what limits small models, so the checks of what rarely changes are kept in self._entries and
        redone when the parameter's memory (pointer, size, dtype) or its state's D is not the one seen."""
        xs, gs, ds, numels, dtypes, groups, keep = [], [], [], [], [], [], []
        device = None
        state = self.state
        for k, group in enumerate(self.param_groups):
            params = group["params"]
            entries = self._entries.get(k)
            if entries is None or len(entries) != len(params):
                entries = self._entries[k] = [None] * len(params)
            count = 0
            for i, p in enumerate(params):
                g = p.grad
                if g is None:
                    continue
                e = entries[i]
                if (e is None or e[0] is not p or e[1] != p.data_ptr() or e[8] is not p.dtype or e[4] != p.numel()
                        or state[p].get("D") is not e[2]):
                    e = entries[i] = self._entry(k, i, p)
                if device is None:
                    device = e[6]
                elif e[6] != device:
                    raise ValueError(f"param_groups[{k}]['params'][{i}]: expected a tensor on {device} (the device "
                                     f"of the first parameter), got one on {e[6]}")
                if not (e[7] and g.is_contiguous()):
                    if g.is_sparse:
                        raise TypeError(f"param_groups[{k}]['params'][{i}].grad: expected a dense gradient, got a "
                                        "sparse one (ExpO2NC has no sparse update)")
                    if g.stride() != p.stride():
                        # The update is elementwise on flat memory: the grad must share p's layout. A
                        # read-only input, so a copy loses nothing.
                        g = torch.empty_like(p).copy_(g)
                        keep.append(g)
                xs.append(e[1])
                gs.append(g.data_ptr())
                ds.append(e[3])
                numels.append(e[4])
                dtypes.append(e[5])
                count += 1
            groups.append((count, float(group["lr"]), float(group["beta"]), float(group["mu"]),
                           float(group["weight_decay"]), bool(group["maximize"])))
        return xs, gs, ds, numels, dtypes, groups, keep, device

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns the closure's loss, if any.

        After the call, ``last_s`` is the step's s and ``found_inf`` says whether it was skipped.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        xs, gs, ds, numels, dtypes, groups, keep, device = self._gather()
        if device is None:
            return loss  # no gradients at all
        if device.type not in _DEVICES:
            raise ValueError(f"params: expected tensors on the CPU or a CUDA device, got {device}")
        if device.type == "cuda":
            # Enqueued on the current stream; nothing here waits for the GPU (the grad copies in `keep`
            # go back to torch's caching allocator, which reuses them only for later work on this stream).
            state = self._cuda_state(device)
            _core.o2nc_update_device_pointers(
                xs, gs, ds, numels, dtypes, device.index, groups, self._scaling, None, self.check_finite,
                self._nan_policy, state.data_ptr(), torch.cuda.current_stream(device).cuda_stream)
            self._stepped = True
            return loss
        if self._device_state is not None:  # the parameters came back from CUDA: the counter too
            fields = self._device_fields()
            self._step, self._device_state = int(fields["step"]), None
        s, found_inf = _core.o2nc_update_pointers(
            xs, gs, ds, numels, dtypes, _DEVICES[device.type], device.index or 0, groups, self._scaling,
            self._seed, counter32(self._step, "step"), None, self.check_finite, self._nan_policy)
        del keep  # the grad copies lived through the call
        self._last_s, self._found_inf = s, found_inf
        if not found_inf:
            self._step += 1
        return loss

    def state_dict(self) -> dict:
        """torch's state_dict (groups, per-parameter D) plus ``"o2nc"``: seed, step and options."""
        state = super().state_dict()
        state["o2nc"] = {"seed": self.seed, "step": self.step_count, "scaling": self.scaling,
                         "nan_policy": self.nan_policy, "check_finite": self.check_finite}
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        extra = state_dict.get("o2nc")
        if extra is None:
            raise ValueError("state_dict: expected an ExpO2NC state_dict with an 'o2nc' entry (seed and step), "
                             "got none")
        seed, step = check_seed(extra["seed"]), counter32(extra["step"], "step")
        scaling, nan_policy = scaling_code(extra["scaling"]), nan_policy_code(extra["nan_policy"])
        rest = {k: v for k, v in state_dict.items() if k != "o2nc"}
        super().load_state_dict(rest)
        self._seed = seed
        self.step_count = step  # on the device, in place, when the state lives there
        self._scaling, self._nan_policy = scaling, nan_policy
        self.scaling, self.nan_policy = extra["scaling"], extra["nan_policy"]
        self.check_finite = bool(extra["check_finite"])
