"""``MomentumSGD``: the course's update rule as a ``torch.optim.Optimizer``, a drop-in for SGD.

A thin class around the functional core (``helpers.update``, ``helpers.compiled``): it owns the
param groups and the per-parameter state, checks the settings a step is about to use, and hands
lists of tensors to one implementation of the rule. It takes every argument of
``torch.optim.SGD`` (2.13), with the same meaning and the same ``state_dict`` format, plus the
course's EMA variant.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any, Literal, cast

import torch
from torch import Tensor

from helpers.checks import (
    check_fits,
    check_flag,
    check_fraction,
    check_lr,
    check_momentum,
    check_nonnegative,
)
from helpers.compiled import CompiledStepFailed, CompiledUpdate
from helpers.update import update_foreach_, update_loop_

__all__ = ["MomentumSGD"]

Variant = Literal["heavy_ball", "ema"]
Impl = Literal["loop", "foreach", "compiled"]
_VARIANTS = ("heavy_ball", "ema")
_IMPLS = ("loop", "foreach", "compiled")

# Keys a param group may carry besides the settings: torch's own, and what LR schedulers add.
_GROUP_EXTRAS = {"params", "param_names", "initial_lr"}


class MomentumSGD(torch.optim.Optimizer):
    """SGD with heavy-ball, EMA or Nesterov momentum, for ordinary PyTorch training loops.

    ``variant="heavy_ball"`` (default) is ``torch.optim.SGD`` with the same arguments::

        g <- -g if maximize;  g <- g + weight_decay * p
        v <- g (first step);  v <- momentum * v + (1 - dampening) * g (later steps)
        p <- p - lr * (g + momentum * v if nesterov else v)

    bit for bit with ``impl="loop"`` (torch's CPU path), to rounding with ``"foreach"``.

    ``variant="ema"``: ``v <- m * v + (1 - m) * g`` from ``v = 0``, ``p <- p - lr * v``, or with
    ``bias_correction=True``, ``p <- p - lr * v / (1 - m**t)``, ``t`` counted per param. It is
    torch's ``dampening=m`` with the buffer started at zero instead of at the first gradient,
    which is how its ``state_dict`` is written: ``torch.optim.SGD`` can load it and continue the
    same EMA. The bias-corrected form has no torch *option*, and no torch state to save it in
    (see ``torch_state_dict``). When every param of a group has taken the same number of steps
    (the usual case), the same steps are ``SGD(lr=lr * (1 - m), momentum=m)`` under
    ``LambdaLR(lambda k: 1 / (1 - m**(k + 1)))``; notebook 04 checks this.

    ``impl`` chooses how the rule runs: ``"loop"`` (per tensor), ``"foreach"`` (one kernel per
    line over all tensors of a dtype and device) or ``"compiled"`` (``torch.compile``; if it
    cannot run here, or a new kernel fails its check against the eager rule, the step is
    finished by foreach, a warning says so once, and ``impl`` becomes ``"foreach"``). torch's
    ``foreach=False`` means ``impl="loop"``. Gradients are read, never modified. For many small
    parameters, hand it one flat tensor instead (notebook 08, section 6).

    Refused with a message: ``fused=True`` (torch's own kernel: use ``impl="compiled"``, or
    ``torch.optim.SGD``), ``differentiable=True`` and sparse gradients.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
        variant: Variant = "heavy_ball",
        bias_correction: bool = False,
        impl: Impl | None = None,
    ) -> None:
        if impl is None:
            impl = "loop" if foreach is False else "foreach"
        elif impl not in _IMPLS:
            raise ValueError(f"impl must be one of {_IMPLS}, got impl={impl!r}")
        elif foreach is not None and (foreach is False) != (impl == "loop"):
            raise ValueError(f"foreach={foreach!r} contradicts impl={impl!r}; give one of them")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
            variant=variant,
            bias_correction=bias_correction,
        )
        self._check_group(defaults, given=defaults)
        self.impl: Impl = impl
        self._compiled_update = CompiledUpdate()
        super().__init__(params, defaults)
        # First of the state_dict post hooks, so that hooks a user adds see the torch format.
        self.register_state_dict_post_hook(_in_torch_format)

    # -----------------------------------------------------------------------------------------
    # Settings: checked when a group is added and again before every step uses them
    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _check_group(group: dict[str, Any], given: dict[str, Any]) -> None:
        """Validate one param group's settings; ``given`` holds the keys the caller set."""
        lr = check_lr(group["lr"])
        momentum = check_momentum(group["momentum"])
        dampening = check_fraction(group["dampening"], "dampening")
        check_nonnegative(group["weight_decay"], "weight_decay")
        nesterov = check_flag(group["nesterov"], "nesterov")
        check_flag(group["maximize"], "maximize")
        bias_correction = check_flag(group["bias_correction"], "bias_correction")
        variant = group["variant"]
        if variant not in _VARIANTS:
            raise ValueError(f"variant must be one of {_VARIANTS}, got variant={variant!r}")
        if group["foreach"] is not None:
            check_flag(group["foreach"], "foreach")
        if group["fused"]:
            raise ValueError(
                "fused=True is torch's own C++ kernel; MomentumSGD's one-pass step is "
                "impl='compiled' (or use torch.optim.SGD(fused=True))"
            )
        if check_flag(group["differentiable"], "differentiable"):
            raise ValueError(
                "differentiable=True (autograd through the step) is not supported; "
                "use torch.optim.SGD(differentiable=True)"
            )
        if nesterov and (momentum == 0 or dampening != 0 or variant != "heavy_ball"):
            raise ValueError(
                "nesterov=True needs momentum > 0, dampening=0 and variant='heavy_ball', got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}, "
                f"variant={variant!r}"
            )
        if bias_correction and variant != "ema":
            raise ValueError(
                f"bias_correction=True applies to variant='ema' only, got variant={variant!r}"
            )
        if variant == "ema" and "dampening" in given and dampening not in (0.0, momentum):
            raise ValueError(
                "variant='ema' damps the gradient by (1 - momentum) by definition; "
                f"got dampening={group['dampening']!r} (leave it out)"
            )
        if lr > 65504.0:  # float16's largest value: below it every floating dtype fits
            params = group.get("params", [])
            # Named params come as (name, tensor) pairs.
            check_fits(lr, "lr", {(p[1] if isinstance(p, tuple) else p).dtype for p in params})

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group (``torch.optim.Optimizer`` API), refusing unknown keys and bad settings.

        Checked before adding, so a rejected group never reaches ``step()``; a misspelt key
        (``"momemtum"``) is an error, not a silently ignored setting.
        """
        unknown = sorted(set(param_group) - set(self.defaults) - _GROUP_EXTRAS)
        if unknown:
            raise ValueError(
                f"unknown option {unknown[0]!r} in a param group (MomentumSGD takes "
                f"{', '.join(sorted(self.defaults))})"
            )
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif not isinstance(params, set):  # a set: torch refuses it below, with its message
            params = list(params)  # read once: a generator must not be used up by the check
        param_group = {**param_group, "params": params}
        self._check_group({**self.defaults, **param_group}, given=param_group)
        super().add_param_group(param_group)

    # -----------------------------------------------------------------------------------------
    # Copying, pickling and checkpoints (torch.optim.SGD's format, both ways)
    # -----------------------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["impl"] = self.impl
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Called by pickle and deepcopy (with "impl") and by load_state_dict (without it).
        impl = state.pop("impl", None)
        super().__setstate__(state)
        if impl is not None or not hasattr(self, "impl"):
            self.impl = impl or "foreach"
        self._compiled_update = CompiledUpdate()
        # Pickle and deepcopy keep no hooks: the torch-format hook comes back, ahead of any other.
        if _in_torch_format not in self._optimizer_state_dict_post_hooks.values():
            self.register_state_dict_post_hook(_in_torch_format, prepend=True)
        for group in self.param_groups:  # a torch.optim.SGD checkpoint lacks the course's keys
            group.setdefault("dampening", 0.0)
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", None)
            group.setdefault("variant", "heavy_ball")
            group.setdefault("bias_correction", False)

    def torch_state_dict(self) -> dict[str, Any]:
        """The state dict for ``torch.optim.SGD.load_state_dict``; refuses what torch cannot run.

        ``state_dict()`` itself is already in torch's format (see ``_in_torch_format``); this
        adds the refusal of bias-corrected groups, which torch has no option for (a scheduler
        can reproduce their steps, see the class docstring, but not their saved state).
        """
        for i, group in enumerate(self.param_groups):
            if group["bias_correction"]:
                raise ValueError(
                    f"param group {i} has bias_correction=True, which torch.optim.SGD cannot "
                    "express (its step lr / (1 - momentum**t) changes per param and step)"
                )
        return self.state_dict()

    # -----------------------------------------------------------------------------------------
    # The step
    # -----------------------------------------------------------------------------------------

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:  # type: ignore[override]
        """One optimisation step over every param group; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # Settings can change between steps (a scheduler, load_state_dict, a hand edit): check
        # what this step will use, every group before any is stepped, a few microseconds each.
        for group in self.param_groups:
            self._check_group(group, given={})
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if any(p.grad.is_sparse for p in params):
                raise ValueError("MomentumSGD does not support sparse gradients")
            buffers = self._buffers(group, params)
            grads = [p.grad for p in params]
            if group["bias_correction"]:
                self._run_bias_corrected(group, params, grads, buffers)
            else:
                self._run(params, grads, buffers, lr=float(group["lr"]), group=group)
            if buffers is not None:
                for p, buf in zip(params, buffers, strict=True):
                    self.state[p]["momentum_buffer"] = buf
        return loss

    def _buffers(self, group: dict[str, Any], params: list[Tensor]) -> list[Tensor | None] | None:
        """Each param's momentum buffer (``None`` before its first heavy-ball step)."""
        if group["momentum"] == 0 and group["variant"] == "heavy_ball":
            return None  # plain SGD keeps no state, like torch
        buffers: list[Tensor | None] = []
        for p in params:
            state = self.state[p]
            if "momentum_buffer" not in state and group["variant"] == "ema":
                state["momentum_buffer"] = torch.zeros_like(p)  # the EMA starts at zero
            buffers.append(state.get("momentum_buffer"))
        return buffers

    def _run(
        self,
        params: list[Tensor],
        grads: list[Tensor],
        buffers: list[Tensor | None] | None,
        *,
        lr: float,
        group: dict[str, Any],
    ) -> None:
        """Hand the tensors, one dtype and device at a time, to the chosen implementation."""
        momentum = float(group["momentum"])
        rule = dict(
            lr=lr,
            momentum=momentum,
            dampening=momentum if group["variant"] == "ema" else float(group["dampening"]),
            nesterov=bool(group["nesterov"]),
            weight_decay=float(group["weight_decay"]),
            maximize=bool(group["maximize"]),
        )
        for idx in _by_device_and_dtype(params):
            sub_params = params if idx is None else [params[i] for i in idx]
            sub_grads = grads if idx is None else [grads[i] for i in idx]
            if buffers is None or idx is None:
                sub_buffers = buffers
            else:
                sub_buffers = [buffers[i] for i in idx]
            self._update(sub_params, sub_grads, sub_buffers, rule)
            if idx is not None and buffers is not None and sub_buffers is not None:
                for i, buf in zip(idx, sub_buffers, strict=True):
                    buffers[i] = buf

    def _update(self, params, grads, buffers, rule: dict[str, Any]) -> None:
        if self.impl == "compiled":
            try:
                self._compiled_update(params, grads, buffers, **rule)
                return
            except CompiledStepFailed as err:  # the step was finished by foreach
                warnings.warn(
                    f"MomentumSGD(impl='compiled'): {err}; using impl='foreach' from now on",
                    RuntimeWarning,
                    stacklevel=4,
                )
                self.impl = "foreach"
                return
        update = update_loop_ if self.impl == "loop" else update_foreach_
        update(params, grads, buffers, **rule)

    def _run_bias_corrected(self, group, params, grads, buffers) -> None:
        """EMA with ``lr / (1 - m**t)``: params sharing a step count ``t`` go in one batch."""
        by_step: dict[int, list[int]] = {}
        for i, p in enumerate(params):
            state = self.state[p]
            state["step"] = state.get("step", 0) + 1
            by_step.setdefault(state["step"], []).append(i)
        for t, idx in by_step.items():
            sub_buffers = [buffers[i] for i in idx]
            self._run(
                [params[i] for i in idx],
                [grads[i] for i in idx],
                sub_buffers,
                lr=float(group["lr"]) / (1 - float(group["momentum"]) ** t),
                group=group,
            )
            for i, buf in zip(idx, sub_buffers, strict=True):
                buffers[i] = buf


def _in_torch_format(optimizer: torch.optim.Optimizer, saved: dict[str, Any]) -> dict[str, Any]:
    """A state_dict post hook: write EMA groups so that ``torch.optim.SGD`` loads them.

    An EMA group is saved as what it is in torch's terms, ``dampening = momentum`` with a zero
    buffer for every param that has none yet; torch then runs the same EMA. A bias-corrected
    group is saved without ``dampening``: torch cannot run it, and fails on it instead of
    silently running something else.
    """
    for group, out in zip(optimizer.param_groups, saved["param_groups"], strict=True):
        if group["variant"] != "ema":
            continue
        if group["bias_correction"]:
            out.pop("dampening", None)
            continue
        out["dampening"] = group["momentum"]
        for index, p in zip(out["params"], group["params"], strict=True):
            entry = saved["state"].setdefault(index, {})
            if "momentum_buffer" not in entry:
                entry["momentum_buffer"] = torch.zeros_like(p)
    return saved


def _by_device_and_dtype(params: list[Tensor]) -> list[list[int] | None]:
    """Index lists of params sharing a device and dtype; ``[None]`` when all of them do."""
    first = params[0]
    if all(p.dtype == first.dtype and p.device == first.device for p in params):
        return [None]
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(params):
        groups.setdefault((p.device, p.dtype), []).append(i)
    return cast(list[list[int] | None], list(groups.values()))
