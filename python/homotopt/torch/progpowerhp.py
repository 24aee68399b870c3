"""Prog-PowerHP (papers/prog_powerhp.md) as a ``torch.optim.Optimizer`` for any ``nn.Module``.

``step(closure)`` sets the parameters to each of the K samples w_k = mu + sigma_t eps_k in turn, calls
the closure (which returns per-example losses, or fitness with ``maximize=True``), and merges the sample
into the mergeable (m, s, u) state of lse.hpp with u kept in ``p.grad``: u <- e^(m - M) u (one fused
native call over all tensors, skipped when the maximum did not move), then autograd adds
grad sum_j e^(N f_kj - M) f_kj into ``p.grad``. Memory: ``p.grad`` (u) and one buffer per parameter, the
mean mu while the parameters hold samples; exp(N f) is never formed, so N f = +-1e6 is exact. Then mu
moves by the step rule ("log": alpha N u / s, "raw": alpha e^log_scale u / s, "unit": alpha d / ||d||),
the parameters hold the new mu and ``p.grad`` is None.

Importing this module imports torch; ``import homotopt`` does not.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import torch

from .._run import STEP_RULES
from .._validation import counter32, integer, seed as check_seed
from ..schedules import LearningRate, PowerSchedule, SigmaSchedule, as_lr, as_power, as_sigma
from . import _powerhp_merge as merge
from ._native import device_args
from ._powerhp_parts import (BufferFreeze, SampleWriter, bad_fitness_error, check_group, device_of, fitness_sum,
                             group_schedule, power_plan, values_of, vectorized_merge)

__all__ = ["ProgPowerHP"]

_NAN_POLICIES = ("raise", "omit")


class ProgPowerHP(torch.optim.Optimizer):
    """Prog-PowerHP: stochastic ascent on E_{w ~ N(mu, sigma^2), x}[exp(N f_w(x))], N rising, sigma falling.

    Args:
        params: tensors or param-group dicts (float32 or float64, contiguous, all on one device).
            A group may set its own ``power``, ``sigma`` and ``lr``.
        num_samples: K, the samples per step (the closure runs K times).
        power: N_t, a :class:`homotopt.PowerSchedule` or a number (constant).
        sigma: sigma_t, a :class:`homotopt.SigmaSchedule` or a number > 0 (constant).
        lr: alpha_t, a :class:`homotopt.LearningRate` or a number (constant). ``group["lr"]`` holds its
            base as a float, so torch's LR schedulers scale it.
        step_rule: "log" (default: mu += alpha N d), "raw" (the paper's literal step) or "unit"
            (alpha d / ||d||, ||d|| over each param group), d = u / s the softmax(N f)-weighted mean of
            the pairs' gradients of f.
        seed: Philox seed of the noise; None takes ``torch.initial_seed()`` (rank 0's under
            torch.distributed). Sample k of step t, element i of the parameter that starts at position
            ``place`` of the concatenated parameters (D in all), is number k D + place + i of stream
            (seed, Stream.SAMPLES, trial 0, step t): ``homotopt.random.normal((K, D), seed, t,
            stream=Stream.SAMPLES)``, the same as the ask/tell ProgPowerHP on the flattened parameters,
            on the CPU and on a GPU.
        maximize: False (torch's convention): the closure returns losses, the fitness is f = -loss.
            True: it returns fitness.
        nan_policy: "raise" (default): a NaN or +inf fitness, or a non-finite gradient of a counted
            pair, raises ValueError and leaves the parameters at mu (this reads flags on the host: one
            wait for the GPU per sample). "omit": such fitness values get weight 0 (the pair is not
            counted); a non-finite gradient of a counted pair makes the step move nothing
            (``found_inf`` is True) without a host sync. f = -inf (loss +inf) is a valid value of
            weight 0, counted in log_scale.
        vectorize: evaluate the K samples in one batched call (``torch.func.functional_call`` + ``vmap``
            over `module`); same direction as the sample-by-sample path, memory O(K d).
        module: the nn.Module whose parameters these are (required by ``vectorize``).
        freeze_buffers: tensors (e.g. ``list(model.buffers())``) saved before the K samples and
            restored after them, so BatchNorm running statistics are not moved by the samples. Left
            out (the default), buffers are updated by every sample's forward, K times a step.
        process_group: spread the K samples over the ranks of this group (sample k on rank k mod
            world), or None: the default group when torch.distributed is initialized, else one process.
            Every rank must call step() with the same closure structure; the ranks' states merge with one
            all_gather of (m, s, count) and one all_reduce of u, so every rank takes the same step.

    Gradients: u lives in ``p.grad``. ``step`` sets ``p.grad = None`` on entry (a stale gradient never
    enters u), each sample's ``backward`` (``inputs=`` the group's trainable parameters, so no other leaf
    gets a ``.grad``) accumulates e^(N f_kj - M) grad f_kj into it after the native rescale of u, and
    ``p.grad`` is None again after the step (the direction d = u / s is not kept). Tensor hooks on a
    parameter (``p.register_hook``) see each sample's weighted gradient; post-accumulate-grad hooks run
    once per sample on the partial u. A parameter no sample reaches (frozen, or unused) does not move.
    Dense gradients only (a sparse one raises TypeError); a gradient in another layout is copied into
    the parameter's. Memory: p.grad plus one buffer per parameter (mu, kept between steps), and the
    transient gradients autograd forms inside each backward, as in any training loop.
    """

    def __init__(self, params: Iterable[Any], *, num_samples: int, power: PowerSchedule | float,
                 sigma: SigmaSchedule | float, lr: LearningRate | float, step_rule: str = "log",
                 seed: int | None = None, maximize: bool = False, nan_policy: str = "raise",
                 vectorize: bool = False, module: torch.nn.Module | None = None,
                 freeze_buffers: Iterable[torch.Tensor] | None = None, process_group: Any = None) -> None:
        self.num_samples = integer(num_samples, "num_samples", 1, 2**31 - 1)
        if step_rule not in STEP_RULES:
            raise ValueError(f"step_rule: expected 'raw', 'log' or 'unit', got {step_rule!r}")
        if nan_policy not in _NAN_POLICIES:
            raise ValueError(f"nan_policy: expected 'raise' or 'omit', got {nan_policy!r}")
        if not isinstance(maximize, bool):
            raise TypeError(f"maximize: expected a bool, got {type(maximize).__name__}")
        if vectorize and module is None:
            raise ValueError("vectorize: expected module=<the nn.Module of the parameters> with vectorize=True, got None")
        self.step_rule, self.maximize, self.nan_policy = step_rule, maximize, nan_policy
        self.vectorize, self.module = bool(vectorize), module
        self._freeze = BufferFreeze(freeze_buffers)
        self._pg = process_group
        self._seed = self._initial_seed(seed)
        self._step = 0
        self.best_value, self.best_step = -math.inf, -1
        self._best: list[torch.Tensor] | None = None
        self._found_inf: torch.Tensor | None = None
        self._scratch: dict[int, torch.Tensor] = {}
        defaults = dict(power=as_power(power), sigma=as_sigma(sigma), lr=as_lr(lr))
        super().__init__(params, defaults)

    # ---- construction helpers ----
    def _group_of(self) -> Any:
        if self._pg is not None:
            return self._pg
        import torch.distributed as dist
        return dist.group.WORLD if dist.is_available() and dist.is_initialized() else None

    def _initial_seed(self, seed: int | None) -> int:
        if seed is not None:
            return check_seed(seed)
        value = torch.initial_seed() % 2**63
        pg = self._group_of()
        if pg is not None:  # every rank must draw the same noise: rank 0's seed wins
            import torch.distributed as dist
            t = torch.tensor([value], dtype=torch.int64)
            if dist.get_backend(pg) == "nccl":
                t = t.cuda()
            dist.broadcast(t, src=dist.get_global_rank(pg, 0), group=pg)
            value = int(t.item())
        return value

    def add_param_group(self, param_group: dict) -> None:
        lr = param_group.get("lr", self.defaults["lr"])
        group = dict(param_group)
        group["power"] = as_power(group.get("power", self.defaults["power"]))
        group["sigma"] = as_sigma(group.get("sigma", self.defaults["sigma"]))
        sched = as_lr(lr)
        group["lr"], group["lr_gamma"], group["lr_offset"] = sched.base, sched.gamma, sched.offset
        super().add_param_group(group)
        check_group(self.param_groups[-1], len(self.param_groups) - 1)

    # ---- read-only views ----
    @property
    def seed(self) -> int:
        return self._seed

    @property
    def step_count(self) -> int:
        """Steps taken so far (t of the next step)."""
        return self._step

    @property
    def found_inf(self) -> bool:
        """Whether the last step moved nothing for a non-finite gradient (nan_policy="omit"); waits for the GPU."""
        return bool(self._found_inf.item()) if self._found_inf is not None else False

    def schedules(self, t: int | None = None) -> list[tuple[float, float, float]]:
        """(N_t, sigma_t, alpha_t) of each param group at step t (default: the next step)."""
        t = self._step if t is None else integer(t, "t", 0)
        return [group_schedule(g, t) for g in self.param_groups]

    # ---- the step ----
    def _params(self) -> list[tuple[int, torch.Tensor, int]]:
        """(group, parameter, place) of every parameter, place = its first position in the concatenation."""
        out, place = [], 0
        for gi, group in enumerate(self.param_groups):
            for p in group["params"]:
                out.append((gi, p, place))
                place += p.numel()
        return out

    def _mu(self, p: torch.Tensor) -> torch.Tensor:
        """The mean's scratch of p (p holds samples during the step): the one buffer per parameter."""
        key = id(p)
        buf = self._scratch.get(key)
        if buf is None or buf.shape != p.shape or buf.dtype != p.dtype or buf.device != p.device:
            buf = self._scratch[key] = torch.empty_like(p)
        return buf

    def _ranks(self) -> tuple[Any, int, int]:
        pg = self._group_of()
        if pg is None:
            return None, 0, 1
        import torch.distributed as dist
        return pg, dist.get_rank(pg), dist.get_world_size(pg)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> torch.Tensor:  # type: ignore[override]
        """K closure calls at the samples, the merge, then mu moves; returns the mean fitness of the samples
        (a device tensor: the mean of the counted f over this rank's pairs). ``p.grad`` is discarded on
        entry, holds u during the step, and is None after it."""
        if closure is None:
            raise ValueError("closure: expected a callable returning per-example losses (or fitness), got None; "
                             "ProgPowerHP evaluates the model at K samples per step")
        entries = self._params()
        if not entries:
            raise ValueError("params: expected at least one parameter")
        device = device_of(entries)
        t = counter32(self._step, "step")
        sched = self.schedules(t)
        G = len(self.param_groups)
        params = [p for _, p, _ in entries]
        groups = [g for g, _, _ in entries]
        mus = [self._mu(p) for p in params]
        torch._foreach_copy_(mus, [p.detach() for p in params])
        for p in params:
            p.grad = None  # u lives here; the first sample's gradient is stolen by autograd, not copied
        total = sum(p.numel() for p in params)
        pg, rank, world = self._ranks()
        mine = list(range(rank, self.num_samples, world))
        # (m, s, count, top) of every group on the device; -inf, 0, 0, -inf is the empty state.
        state = torch.full((G, 4), -math.inf, dtype=torch.float64, device=device)
        state[:, 1:3] = 0.0
        coef = torch.zeros(G, 2, dtype=torch.float64, device=device)  # (a, b) of the last merge per group
        acc = merge.PowerAccumulator(device)
        sum_f = n_f = None
        seen: list[torch.Tensor] = []  # this rank's values, summed once at the end
        told = 0
        self._freeze.save()
        try:
            if self.vectorize:
                sum_f, n_f = self._vectorized(closure, entries, mine, total, t, sched, state, acc)
            else:
                plan = power_plan(sched, groups, params)
                write_sample = SampleWriter(entries, mus, [s[1] for s in sched], self._seed, t, total)
                for k in mine:
                    write_sample(k)  # a frozen parameter stays at mu (its place keeps its numbers)
                    with torch.enable_grad():
                        v = values_of(closure(), k)
                    seen.append(v.detach())
                    told += v.numel()
                    self._merge_sample(v, k, told, plan, state, coef, acc)
            if seen:  # every row's count is the number of counted pairs
                sum_f, n_f = fitness_sum(torch.cat(seen), self._sign), state[0, 2]
            us = merge.grad_states(params, distributed=pg is not None and world > 1)
            self._freeze.restore()
            if pg is not None and world > 1:
                state = merge.merge_across_ranks(state, us, groups, pg)  # a rank's non-finite u reaches every u
            found = self._apply(params, groups, mus, us, state, sched, acc)
        except BaseException:
            self._freeze.restore()
            torch._foreach_copy_(params, mus)  # the parameters never stay at a sample (mu itself is kept)
            raise
        finally:
            for p in params:
                p.grad = None
        if self.nan_policy == "raise" and bool(found):
            raise ValueError("closure: a sample's gradient holds NaN or inf (nan_policy='raise'); "
                             "the parameters are left at mu")
        self._found_inf = found
        self._step += 1
        if sum_f is None:  # no sample on this rank
            return torch.zeros((), dtype=torch.float64, device=device)
        return sum_f / n_f.clamp(min=1)

    @property
    def _sign(self) -> float:
        return 1.0 if self.maximize else -1.0

    def _merge_sample(self, v: torch.Tensor, k: int, told: int, plan: list, state: torch.Tensor, coef: torch.Tensor,
                      acc: merge.PowerAccumulator) -> None:
        """Merges sample k's values v (J,) into every group's state, u in p.grad: per distinct power, one
        native merge of the scalars (the weights sign b w_j of the values, (a, b) per group; NaN and +inf
        fitness not counted), u <- a u (native, in place), then one backward of v with those weights adds
        b g into p.grad. `told`: the values of this step so far (this one included), which the state's
        count reaches when every one counted."""
        on_cpu = state.device.type == "cpu"
        host = coef.numpy() if on_cpu else None  # views of the tables: reads without torch ops
        dev = device_args(state.device, "params")
        for n_i, (N, gids, wanted, held_groups) in enumerate(plan):
            wb = merge.merge_sample(state, coef, v, None, N, gids, self._sign, dev)  # the power's groups: one (a, b)
            if n_i == 0 and self.nan_policy == "raise":  # a host read of the count: one wait per sample on a GPU
                counted = state.numpy()[gids[0], 2] if on_cpu else float(state[gids[0], 2])
                if counted != told:
                    raise bad_fitness_error(k, self.maximize)
            if not wanted or not v.requires_grad:
                continue
            skip_scale = skip_add = False
            if on_cpu:  # the host reads the scalars for free: skip u <- 1 u and an unread g (b == 0)
                a, b = host[gids[0]]
                skip_scale, skip_add = a == 1.0, b == 0.0
            held = [(p.grad, g) for p, g in zip(wanted, held_groups) if p.grad is not None]
            if held and not skip_scale:
                acc([u for u, _ in held], [None] * len(held), [g for _, g in held], coef)
            if skip_add:
                continue
            hooks = []
            if not on_cpu and self.nan_policy == "omit":  # b == 0 must leave u unread, without a host sync
                keep = coef[gids[0], 1] != 0
                hooks = [p.register_hook(lambda g, keep=keep: g.masked_fill(~keep, 0)) for p in wanted]
            try:  # uncounted pairs have weight 0: no gradient reaches them
                torch.autograd.backward(v, grad_tensors=wb, inputs=wanted, retain_graph=n_i < len(plan) - 1)
            finally:
                for h in hooks:
                    h.remove()

    def _vectorized(self, closure, entries, mine, total, t, sched, state, acc):
        return vectorized_merge(self.module, closure, entries, mine, total, self._seed, t, sched, state, acc,
                                self.maximize, self.nan_policy)

    def _apply(self, params, groups, mus, us, state, sched, acc) -> torch.Tensor:
        """p = mu + e_g u per group (e_g = c_g / s_g, c from the step rule: merge.step_coefficients, one
        native call), on the device, mu itself unchanged. Returns `found`, a device bool: some u holds a
        NaN or an infinity, and then nothing moves (p = mu). On the CPU the update's own read of u finds
        it (power_accumulate's flag, read by the host for free); on a GPU one device check comes first
        (no host sync). us[i] is None where parameter i has no gradient (frozen, or unused by every
        sample): it stays."""
        state = state.contiguous()
        device = state.device
        have = [i for i, u in enumerate(us) if u is not None]
        uv, gv = [us[i] for i in have], [groups[i] for i in have]
        norms = None
        if self.step_rule == "unit":  # ||u||_g
            norms = torch.zeros(len(sched), dtype=torch.float64, device=device)
            for u, g in zip(uv, gv):
                norms[g] += u.to(torch.float64).pow(2).sum()
            norms = norms.sqrt()
        rule = STEP_RULES[self.step_rule]
        if device.type == "cpu":
            coef = merge.step_coefficients(state, rule, sched, norms, None)
            torch._foreach_copy_(params, mus)
            acc([params[i] for i in have], uv, gv, coef)  # the flag: a u read with e != 0 is not finite
            e = coef.numpy()[:, 1]
            unread = [u for u, g in zip(uv, gv) if e[g] == 0]
            found = acc.flag[0] != 0
            if unread:
                found = found | merge.any_nonfinite(unread, device)
            if found:
                torch._foreach_copy_(params, mus)
            return found
        found = merge.any_nonfinite(uv, device)
        coef = merge.step_coefficients(state, rule, sched, norms, found)
        acc([mus[i] for i in have], uv, gv, coef)  # b = 0: u unread
        torch._foreach_copy_(params, mus)
        return found

    # ---- best iterate ----
    @torch.no_grad()
    def report(self, value: float) -> bool:
        """Records a validation value of the current mu (higher is better with maximize=True, lower
        otherwise); keeps a copy of the parameters when it is the best so far; NaN never wins."""
        v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
        score = v if self.maximize else -v
        if score > self.best_value:
            params = [p for _, p, _ in self._params()]
            if self._best is None or len(self._best) != len(params):
                self._best = [p.detach().clone() for p in params]
            else:
                torch._foreach_copy_(self._best, [p.detach() for p in params])
            self.best_value, self.best_step = score, self._step
            return True
        return False

    @torch.no_grad()
    def load_best(self) -> None:
        """Copies the best reported parameters back (nothing if none was reported)."""
        if self._best is not None:
            torch._foreach_copy_([p for _, p, _ in self._params()], self._best)

    # ---- persistence ----
    def state_dict(self) -> dict:
        state = super().state_dict()
        state["powerhp"] = {"seed": self._seed, "step": self._step, "best_value": self.best_value,
                            "best_step": self.best_step, "best": self._best, "num_samples": self.num_samples,
                            "step_rule": self.step_rule, "maximize": self.maximize, "nan_policy": self.nan_policy}
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        extra = state_dict.get("powerhp")
        if extra is None:
            raise ValueError("state_dict: expected a ProgPowerHP state_dict with a 'powerhp' entry, got none")
        rest = {k: v for k, v in state_dict.items() if k != "powerhp"}
        super().load_state_dict(rest)
        self._seed, self._step = check_seed(extra["seed"]), counter32(extra["step"], "step")
        self.best_value, self.best_step = float(extra["best_value"]), int(extra["best_step"])
        best = extra["best"]
        if best is not None:
            params = [p for _, p, _ in self._params()]
            best = [b.detach().to(device=p.device, dtype=p.dtype).clone() for b, p in zip(best, params)]
        self._best = best
        self.num_samples, self.step_rule = extra["num_samples"], extra["step_rule"]
        self.maximize, self.nan_policy = extra["maximize"], extra["nan_policy"]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_scratch"] = {}  # keyed by id(): meaningless in a copy, rebuilt on the next step
        state["_pg"] = None     # process groups do not copy; a copy runs in one process
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)

    def __repr__(self) -> str:
        N, sigma, alpha = group_schedule(self.param_groups[0], self._step) if self.param_groups else (0, 0, 0)
        return (f"ProgPowerHP(K={self.num_samples}, step={self._step}, N={N:.4g}, sigma={sigma:.4g}, "
                f"lr={alpha:.4g}, step_rule={self.step_rule!r}, maximize={self.maximize})")
