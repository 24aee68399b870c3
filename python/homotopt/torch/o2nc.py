"""Exponentiated O2NC as a ``torch.optim.Optimizer``, on the fused native kernel.

``homotopt.torch.ExpO2NC`` is a drop-in optimizer: param groups with their own lr, momentum (= beta),
mu, weight_decay and maximize; closures; ``state_dict`` / ``load_state_dict`` (bit-for-bit resumable:
seed and step counter are saved); LR and momentum schedulers; copies (``copy.deepcopy``, pickle);
DDP and ZeroRedundancyOptimizer (one seed for all ranks); float32, float64, float16 and bfloat16
parameters; ``torch.compile(opt.step, fullgraph=True)`` (the update is the custom op
``torch.ops.homotopt.o2nc_step``). Each eager step is ONE native call over every parameter of every
group, on the tensors' own memory, with one s shared by all of them; the table of parameters and
buffers stays in C++ (``_core.O2ncTable``) between steps and is rebuilt only when a parameter's memory,
shape, strides or dtype changes (checked each step in one native call, ``_core._o2nc_torch_grads``,
which also collects the gradients' pointers). ``torch.amp.GradScaler`` is served as torch's fused
optimizers are: the unscale is fused into the update.

Seed, step counter and the last step's s and found_inf live in a small int64 tensor on the parameters'
device (O2ncDeviceState): on CUDA a step never waits for the GPU and can be captured in a CUDA graph;
reading ``step_count``, ``last_s`` or ``found_inf`` (or ``state_dict()``) then waits for the GPU.

Threads: on the CPU the update runs on homotopt's OpenMP threads. ``torch.set_num_threads(n)`` sets
them too (torch and homotopt share libgomp's thread count), while ``homotopt.set_num_threads(n)``
leaves torch's alone.

Files: this one holds the optimizer (settings, seed and counter, step, copies, state_dict);
``_o2nc_table.py`` the table kept in C++ between steps (its build, the per-step check in Python when the
native one declines, and the step over contiguous copies for non-dense parameters); ``_o2nc_support.py``
the shared seed, the param-group dict and the custom op of the compiled step.

Importing this module imports torch; ``import homotopt`` does not.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Iterable

import torch

from .. import _core
from .._validation import boolean, counter32, require_keys, seed as check_seed
from ..o2nc import check_hyper, nan_policy_code, scaling_code
from ._native import DEVICES, stream_of
from ._o2nc_support import ParamGroup, hyper_rows, inverse_scale, o2nc_step, shared_seed
from ._o2nc_table import build_table, step_over_copies, table_grads

__all__ = ["ExpO2NC"]

SKIP_WARNING_RUN = 10  # consecutive skipped steps that make the one warning


def _number(x: Any) -> Any:
    return float(x) if isinstance(x, torch.Tensor) else x


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
        params: an iterable of tensors or of param-group dicts (float32, float64, float16 or bfloat16,
            all on the CPU or all on one CUDA device). Any layout: dense ones (contiguous,
            channels-last) are updated in place; others through a contiguous copy (slower, correct).
        lr: eta >= 0, a float or a 0-dim tensor (read each step). Everything after it is keyword-only.
        momentum: the discount beta in (0, 1], torch's name for it (default 0.9); ``beta=`` is the
            paper's name for the same value. Groups store it once, as ``"momentum"`` (what OneCycleLR and
            CyclicLR cycle), and read it under both names.
        mu: regularizer >= 0 (shrinks D). weight_decay: >= 0 (shrinks x; torch SGD's weight_decay).
        maximize: ascend. These may differ between param groups.
        scaling: "exponential" (the method), "uniform" (s ~ U[0, 2]) or "none" (s = 1: SGDM).
        seed: the seed of the s stream; None takes ``torch.initial_seed()``. Under torch.distributed
            every rank uses rank 0's (gathered at construction, a collective call): replicas seeded
            per rank (``torch.manual_seed(seed + rank)``) stay identical; an explicit seed that differs
            between ranks raises ValueError.
        nan_policy: "skip" (default): a NaN or infinite gradient anywhere skips the whole step (no
            tensor is written, the step counter does not advance, ``found_inf`` is True and
            ``skipped_steps`` counts it; after SKIP_WARNING_RUN = 10 consecutive skips a
            RuntimeWarning says so, once per run of skips); "raise": homotopt's ValueError. On CUDA
            the skip happens on the device and is not counted (counting would wait for the GPU every
            step); steps skipped through ``step(found_inf=...)`` are counted on every device.
        check_finite: False leaves out the finiteness check (a read of every gradient in the same
            native call, before any write, as the skip needs: 4 more bytes per float32 parameter on
            the update's 20), for callers that already know: a GradScaler passes its found_inf (see
            below), and ``step(found_inf=flag)`` takes the caller's flag.
        buffer_dtype: the dtype of D: None (the parameter's) or torch.float32 for float16/bfloat16
            parameters (arithmetic is float32 either way; values are rounded once when stored).

    GradScaler (torch.amp): ExpO2NC takes part in its protocol for fused optimizers
    (``_step_supports_amp_scaling``): ``scaler.step(opt)`` hands over its scale and found_inf, and the
    step unscales inside the update (every gradient times 1 / scale, formed as GradScaler's unscale_
    does; bit for bit ``scaler.unscale_(opt)`` followed by ``opt.step()`` when the scale is a power of
    two, as GradScaler's defaults keep it) or skips when found_inf is set (then counted in
    ``skipped_steps``); our own finiteness pass is left out, and float16/bfloat16 gradients need no
    unscale_ of their own. On CUDA the step reads scale and found_inf on the host (one wait for the GPU).
    A ``torch.compile``d step does not take part.

    Parameters whose grad is None are skipped. Sparse gradients raise TypeError. torch SGD keywords
    without a meaning here (``nesterov=True``, ``dampening`` != 0) raise ValueError saying why.

    CUDA graphs: create the optimizer (or run one eager step) with the parameters on their device
    before capturing ``step()``; hyper-parameters are read when the graph is captured (an lr
    schedule needs a new capture), and ``nan_policy="raise"`` cannot be captured. ZeroRedundancy-
    Optimizer: every shard draws the same s (same seed, same counter) as long as every shard applies
    the same steps; a non-finite gradient seen by one shard only skips that shard's step, so pass
    ``step(found_inf=...)`` reduced over ranks (as GradScaler does) when that can happen.
    """

    _step_supports_amp_scaling = True  # torch.amp.GradScaler: step() unscales and skips itself

    def __init__(self, params: Iterable[Any], lr: float | torch.Tensor = 1e-3, *, momentum: float | None = None,
                 beta: float | None = None, mu: float = 0.0, weight_decay: float = 0.0, maximize: bool = False,
                 scaling: str = "exponential", seed: int | None = None, nan_policy: str = "skip",
                 check_finite: bool = True, buffer_dtype: torch.dtype | None = None, nesterov: bool = False,
                 dampening: float = 0.0) -> None:
        if nesterov:
            raise ValueError("nesterov: ExpO2NC has no Nesterov variant (the update is x + s D with s drawn after D "
                             "is formed; there is no look-ahead gradient); got nesterov=True")
        if dampening != 0:
            raise ValueError(f"dampening: ExpO2NC's D accumulates -lr g undamped (torch SGD's dampening=0); use "
                             f"mu for a shrinking state or scale lr; got dampening={dampening}")
        if momentum is not None and beta is not None and momentum != beta:
            raise ValueError(f"momentum, beta: two names of one value (the discount); got momentum={momentum} "
                             f"and beta={beta}")
        discount = momentum if momentum is not None else beta if beta is not None else 0.9
        check_hyper(_number(lr), discount, mu, weight_decay)
        if buffer_dtype not in (None, torch.float32):
            raise ValueError(f"buffer_dtype: expected None (the parameter's dtype) or torch.float32, got {buffer_dtype}")
        self._scaling = scaling_code(scaling)
        self._nan_policy = nan_policy_code(nan_policy)
        self._op_codes = (int(self._scaling), int(self._nan_policy))  # the custom op's ints (traceable)
        self.scaling, self.nan_policy, self.check_finite = scaling, nan_policy, boolean(check_finite, "check_finite")
        self.buffer_dtype = buffer_dtype
        seed_value = check_seed(torch.initial_seed() if seed is None else seed)
        maximize = boolean(maximize, "maximize")
        defaults = dict(lr=lr, momentum=discount, mu=mu, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)
        # The same list under another name, for the compiled step: Dynamo's optimizer support treats an
        # access to `param_groups` as a list of plain dicts, which ParamGroup (beta = momentum) is not.
        self._groups = self.param_groups
        self._seed = shared_seed(seed_value, seed is not None)
        self._o2nc_state = torch.tensor(_core.o2nc_device_state(self._seed, 0), dtype=torch.int64)
        self._stepped = False
        self.skipped_steps = 0
        self._skip_run = 0
        self._reset_cache()
        first = next((p for g in self.param_groups for p in g["params"]), None)
        if first is not None and first.device.type == "cuda":
            self._state_on(first.device)  # now, so that step() can be captured without a warm-up

    def _reset_cache(self) -> None:
        self._table = None
        self._keys: list = []
        self._slow = False

    # ---- copies: the native table and the caches are rebuilt, the rest travels ----
    def __getstate__(self) -> dict:
        # Everything but the native table and what keys it (torch's own __getstate__ keeps only
        # defaults, state and param_groups, which left copies without seed, counter or settings).
        return {k: v for k, v in self.__dict__.items() if k not in ("_table", "_keys", "_keep", "grad_scale",
                                                                   "_amp_found_inf")}

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.param_groups = [g if isinstance(g, ParamGroup) else ParamGroup(g) for g in self.param_groups]
        self._groups = self.param_groups
        self.defaults = dict(self.defaults)
        self._reset_cache()

    def add_param_group(self, param_group: dict) -> None:
        group = dict(param_group)
        if "beta" in group:
            if "momentum" in group and group["momentum"] != group["beta"]:
                raise ValueError("momentum, beta: two names of one value; got both, different")
            group["momentum"] = group.pop("beta")
        merged = {**self.defaults, **group}
        check_hyper(_number(merged["lr"]), merged["momentum"], merged["mu"], merged["weight_decay"])
        boolean(merged["maximize"], "maximize")
        super().add_param_group(group)
        self.param_groups[-1] = ParamGroup(self.param_groups[-1])
        if hasattr(self, "_keys"):
            self._reset_cache()

    # ---- seed, step counter and the last step's results, in self._o2nc_state (host or device) ----
    def _fields(self) -> dict:
        return _core.o2nc_device_state_fields(self._o2nc_state.tolist())  # waits for the GPU on CUDA

    def _write_state(self, seed: int, step: int) -> None:
        if torch.cuda.is_available() and torch.cuda.is_current_stream_capturing():
            raise RuntimeError("ExpO2NC: the seed and step counter cannot be set during CUDA graph capture")
        self._o2nc_state.copy_(torch.tensor(_core.o2nc_device_state(seed, step), dtype=torch.int64))

    def _state_on(self, device: torch.device) -> torch.Tensor:
        """The state on `device`, moved there (from the host or another device) if needed."""
        state = self._o2nc_state
        if state.device != device:
            if device.type == "cuda" and torch.cuda.is_current_stream_capturing():
                raise RuntimeError(f"ExpO2NC: the step counter is not on {device} yet; create the optimizer (or run "
                                   "one step()) with the parameters on that device before capturing a CUDA graph")
            self._o2nc_state = state = state.to(device)
            self._table = None
        return state

    @property
    def seed(self) -> int:
        return self._seed

    @seed.setter
    def seed(self, value: int) -> None:
        self._seed = check_seed(value)
        self._write_state(self._seed, self.step_count)

    @property
    def step_count(self) -> int:
        """Applied steps so far (a skipped step does not count); on CUDA, reading it waits for the GPU."""
        return int(self._fields()["step"])

    @step_count.setter
    def step_count(self, value: int) -> None:
        self._write_state(self._seed, counter32(value, "step"))

    @property
    def last_s(self) -> float | None:
        """The s of the last step (None before the first); on CUDA, reading it waits for the GPU."""
        fields = self._fields()  # (a compiled step leaves _stepped alone: an applied step shows in the counter)
        return float(fields["scale"]) if self._stepped or fields["step"] != 0 else None

    @property
    def found_inf(self) -> bool:
        """Whether the last step was skipped for a non-finite gradient; on CUDA, reading it waits for the GPU.

        Setting it (what GradScaler.step does, before calling step()) gives the next step the caller's
        verdict, as ``step(found_inf=...)`` does; GradScaler deletes it again after the step."""
        fields = self._fields()
        return bool(fields["found_inf"]) if self._stepped or fields["step"] != 0 else False

    @found_inf.setter
    def found_inf(self, value: bool | torch.Tensor | None) -> None:
        self._amp_found_inf = value

    @found_inf.deleter
    def found_inf(self) -> None:
        self._amp_found_inf = None

    def _hypers(self) -> list:
        return [(_number(g["lr"]), float(g["momentum"]), float(g["mu"]), float(g["weight_decay"]), bool(g["maximize"]))
                for g in self.param_groups]

    def _device(self) -> torch.device | None:
        first = next((p for g in self.param_groups for p in g["params"]), None)
        return None if first is None else first.device

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None, *, found_inf: bool | torch.Tensor | None = None) -> Any:
        """One update of every parameter that has a gradient; returns the closure's loss, if any.

        found_inf: the caller's verdict on the gradients (a bool or a tensor, e.g. GradScaler's): when
        given, the finiteness check is skipped and a true value skips the step (counted as skipped).
        After the call, ``last_s`` is the step's s and ``found_inf`` says whether it was skipped.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if torch.compiler.is_compiling():
            self._step_compiled()
            return loss
        device = self._device()
        if device is None:
            return loss
        if device.type not in DEVICES:
            raise ValueError(f"params: expected tensors on the CPU or a CUDA device, got {device}")
        state = self._state_on(device)
        check = self.check_finite
        if found_inf is None:
            found_inf = self.__dict__.get("_amp_found_inf")  # GradScaler's (set as opt.found_inf)
        grad_scale = self.__dict__.get("grad_scale")  # GradScaler's scale (None: grads already unscaled)
        multiplier = 1.0 if grad_scale is None else inverse_scale(grad_scale)
        if found_inf is not None:
            if bool(found_inf):  # a CUDA tensor is read here (one wait for the GPU)
                self._count_skip(True)
                state[1] = state[1] | (1 << 32) if device.type == "cpu" else state[1]
                return loss
            check = False
        self._keep: list = []  # grads copied into their parameter's layout, kept until the step has run
        grads = None
        if self._table is not None:  # the cached table, checked in one native call (or by table_grads)
            grads = _core._o2nc_torch_grads([g["params"] for g in self.param_groups], self._keys)
            if grads is None:
                grads = table_grads(self.param_groups, self._keys, self._keep)
        if grads is None:
            self._keys, self._table, self._slow = build_table(self.param_groups, self.state, device,
                                                              self.buffer_dtype, self._keys)
            grads = None if self._slow else table_grads(self.param_groups, self._keys, self._keep)
        if (not any(grads)) if grads is not None else not any(p.grad is not None for g in self.param_groups
                                                              for p in g["params"]):
            return loss  # no gradients at all: nothing to do
        stream = stream_of(device)
        if self._slow:
            step_over_copies(self.param_groups, self.state, state, self._op_codes, check, multiplier)
            skipped = device.type == "cpu" and bool(int(state[1]) >> 32)
        else:
            skipped = self._table.step(grads, self._hypers(), self._scaling, None, check, self._nan_policy,
                                       state.data_ptr(), stream, multiplier)
        self._keep = []
        self._stepped = True
        if device.type == "cpu":
            self._count_skip(bool(skipped))
        return loss

    def _step_compiled(self) -> None:
        """Under torch.compile: the custom op over the params with grads (traced, kept in the graph)."""
        if self.__dict__.get("grad_scale") is not None or self.__dict__.get("_amp_found_inf") is not None:
            raise RuntimeError("ExpO2NC: a torch.compile'd step does not take GradScaler's scale; call "
                               "scaler.unscale_(opt) before it, or step eagerly")
        params, grads, bufs, sizes = [], [], [], []
        for group in self._groups:
            count = 0
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if "D" not in st:
                    st["D"] = torch.zeros_like(p)
                params.append(p)
                grads.append(p.grad)
                bufs.append(st["D"])
                count += 1
            sizes.append(count)
        o2nc_step(params, grads, bufs, self._o2nc_state, sizes, hyper_rows(self._groups), self._op_codes[0],
                  self.check_finite, self._op_codes[1])
        self._stepped = True

    def _count_skip(self, skipped: bool) -> None:
        if not skipped:
            self._skip_run = 0
            return
        self.skipped_steps += 1
        self._skip_run += 1
        if self._skip_run == SKIP_WARNING_RUN:
            warnings.warn(f"ExpO2NC: the last {SKIP_WARNING_RUN} steps were all skipped for non-finite gradients "
                          f"(nan_policy='skip'); the parameters are not changing. {self.skipped_steps} steps skipped "
                          "in all (opt.skipped_steps)", RuntimeWarning, stacklevel=3)

    def _keep_float32_buffers(self, state_dict: dict) -> None:
        """torch's load_state_dict casts every floating state tensor to its parameter's dtype; a float32
        D of a float16/bfloat16 parameter (buffer_dtype=torch.float32) is put back as it was saved."""
        ids = [i for g in state_dict["param_groups"] for i in g["params"]]
        params = dict(zip(ids, (p for g in self.param_groups for p in g["params"])))
        for pid, saved in state_dict["state"].items():
            p, D = params.get(pid), saved.get("D") if isinstance(saved, dict) else None
            if p is not None and isinstance(D, torch.Tensor) and D.dtype == torch.float32 and p.dtype in (
                    torch.float16, torch.bfloat16):
                self.state[p]["D"] = D.to(device=p.device, copy=True)

    def state_dict(self) -> dict:
        """torch's state_dict (groups, per-parameter D) plus ``"o2nc"``: seed, step and options."""
        state = super().state_dict()
        state["o2nc"] = {"seed": self.seed, "step": self.step_count, "scaling": self.scaling,
                         "nan_policy": self.nan_policy, "check_finite": self.check_finite,
                         "skipped_steps": self.skipped_steps}
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        extra = state_dict.get("o2nc")
        if extra is None:
            raise ValueError("state_dict: expected an ExpO2NC state_dict with an 'o2nc' entry (seed and step), "
                             "got none")
        require_keys(extra, ("seed", "step", "scaling", "nan_policy", "check_finite"), "state_dict['o2nc']")
        seed, step = check_seed(extra["seed"]), counter32(extra["step"], "step")
        boolean(extra["check_finite"], "check_finite")
        for key, per_param in state_dict.get("state", {}).items():  # the buffers D, as on construction (zeros)
            for name, v in per_param.items():
                if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all()):
                    raise ValueError(f"state[{key}][{name!r}]: expected finite values, got NaN or infinite entries")
        scaling, nan_policy = scaling_code(extra["scaling"]), nan_policy_code(extra["nan_policy"])
        rest = {k: v for k, v in state_dict.items() if k != "o2nc"}
        rest["param_groups"] = [{("momentum" if k == "beta" else k): v for k, v in g.items()}
                                for g in rest["param_groups"]]
        super().load_state_dict(rest)
        self._keep_float32_buffers(state_dict)
        self._seed = seed
        self.step_count = step  # in place, where the state lives
        self._scaling, self._nan_policy = scaling, nan_policy
        self._op_codes = (int(scaling), int(nan_policy))
        self.scaling, self.nan_policy = extra["scaling"], extra["nan_policy"]
        self.check_finite = bool(extra["check_finite"])
        self.skipped_steps = int(extra.get("skipped_steps", 0))
        self._reset_cache()
