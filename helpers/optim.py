"""The course's optimizers in the d2l style ``f(params, states, hyperparams)``.

The four functions are one idea with one line changed (v is the velocity, g the gradient)::

    sgd               p <- p - lr * g
    sgd_momentum      v <- m * v + g;            p <- p - lr * v      (heavy ball, PyTorch, d2l)
    sgd_momentum_ema  v <- m * v + (1 - m) * g;  p <- p - lr * v      (EMA of the gradients)
    sgd_nesterov      v <- m * v + g;            p <- p - lr * (g + m * v)

and in the code they differ in that one line too: a shared prologue checks the arguments and
pairs each parameter that has a gradient with its velocity, then the rule runs in place under
``torch.no_grad()``, then every gradient used is zeroed (as the d2l functions do). Parameters
whose ``.grad`` is ``None`` are skipped, as ``torch.optim.SGD`` skips them.

With zero-initialised states, ``sgd_momentum`` and ``sgd_nesterov`` equal
``torch.optim.SGD(lr, momentum=m[, nesterov=True])`` bit for bit (the same in-place operations
in the same order), and ``sgd_momentum_ema`` with lr ``e`` equals
``torch.optim.SGD(lr=e * (1 - m), momentum=m)`` up to rounding.

``MomentumSGD``, below, is the same arithmetic as a ``torch.optim.Optimizer`` (as torch keeps
``SGD`` in the file of its ``sgd()``): a thin class around ``helpers.sgd_rule`` (the rule,
written once, on lists of tensors) and ``helpers.compiled``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    read_hyperparams,
)
from helpers.compiled import CompiledSGD, CompiledStepFailed
from helpers.sgd_rule import SGDRule, Velocities, sgd_

__all__ = [
    "sgd",
    "init_momentum_states",
    "sgd_momentum",
    "sgd_momentum_ema",
    "sgd_nesterov",
    "MomentumSGD",
]


# ---------------------------------------------------------------------------------------------
# The shared prologue and epilogue
# ---------------------------------------------------------------------------------------------


def _checked_params(func: str, params: Iterable[Tensor]) -> list[Tensor]:
    """The params as a list: tensors, leaves (what autograd fills ``.grad`` of), no repeats."""
    params = list(params)
    seen: set[int] = set()
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise ValueError(f"{func}: param {i} must be a tensor, got {type(p).__name__}")
        if not p.is_leaf:
            raise ValueError(
                f"{func}: param {i} is not a leaf tensor (it was computed from others), so "
                "updating it would not change the model; pass the leaves that require grad"
            )
        if id(p) in seen:
            raise ValueError(f"{func}: param {i} appears twice in params; pass each once")
        seen.add(id(p))
    return params


def _lr_momentum(func: str, hyperparams: Any, params: list[Tensor]) -> tuple[float, float]:
    lr, momentum = read_hyperparams(func, hyperparams, ("lr", "momentum"))
    lr, momentum = check_lr(lr), check_momentum(momentum)
    check_fits(lr, "lr", params)
    return lr, momentum


def _with_grads(
    func: str, params: Iterable[Tensor], states: Any
) -> tuple[list[Tensor], list[Tensor]]:
    """Check params and states, and pair each param that has a gradient with its velocity."""
    params = _checked_params(func, params)
    if states is None or isinstance(states, Tensor) or not isinstance(states, Sequence):
        raise ValueError(
            f"{func}: states must be a list of velocities, got {type(states).__name__}; "
            "make them with init_momentum_states(params)"
        )
    if len(states) != len(params):
        raise ValueError(
            f"{func}: got {len(params)} params but {len(states)} states; "
            "make the states with init_momentum_states(params)"
        )
    used_params, used_states = [], []
    for i, (p, v) in enumerate(zip(params, states, strict=True)):
        if not isinstance(v, Tensor):
            raise ValueError(f"{func}: state {i} must be a tensor, got {v!r}")
        if (v.shape, v.dtype, v.device) != (p.shape, p.dtype, p.device):
            raise ValueError(
                f"{func}: state {i} is {v.dtype} of shape {tuple(v.shape)} on {v.device}, but "
                f"its param is {p.dtype} of shape {tuple(p.shape)} on {p.device}; "
                "make the states with init_momentum_states(params)"
            )
        if p.grad is not None:
            used_params.append(p)
            used_states.append(v)
    return used_params, used_states


def _grads(params: list[Tensor]) -> list[Tensor]:
    """The gradients of params that have one (the prologue kept only those)."""
    return cast(list[Tensor], [p.grad for p in params])


def _zero_grads(params: list[Tensor]) -> None:
    if params:
        torch._foreach_zero_(_grads(params))  # g.zero_() for each, in one call


# ---------------------------------------------------------------------------------------------
# The four optimizers
# ---------------------------------------------------------------------------------------------


def init_momentum_states(params: Iterable[Tensor]) -> list[Tensor]:
    """One zero velocity per parameter: ``v_0 = 0``, same shape, dtype and device."""
    return [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]


def sgd(params: Iterable[Tensor], states: Any, hyperparams: Mapping[str, Any]) -> None:
    """Plain SGD: ``p <- p - lr * p.grad`` for every param with a grad, then zero the grad.

    ``hyperparams = {"lr": lr}``. ``states`` is unused: it is there so that every optimizer of
    the course has the same signature and one training loop can take any of them.
    """
    params = _checked_params("sgd", params)
    (lr,) = read_hyperparams("sgd", hyperparams, ("lr",))
    lr = check_lr(lr)
    check_fits(lr, "lr", params)
    used = [p for p in params if p.grad is not None]
    with torch.no_grad():
        for p, g in zip(used, _grads(used), strict=True):
            p.add_(g, alpha=-lr)
    _zero_grads(used)


def sgd_momentum(params: Iterable[Tensor], states: Any, hyperparams: Mapping[str, Any]) -> None:
    """Heavy-ball momentum: ``v <- m * v + g``, then ``p <- p - lr * v``; zero the grads.

    ``hyperparams = {"lr": lr, "momentum": m}``; ``states`` from ``init_momentum_states`` holds
    one velocity per param and is updated in place. ``v.mul_(m).add_(g)`` and
    ``p.add_(v, alpha=-lr)`` make no temporaries and are the operations of
    ``torch.optim.SGD(lr, momentum=m)``, whose ``momentum_buffer`` equals ``v``.
    """
    params, states = _with_grads("sgd_momentum", params, states)
    lr, m = _lr_momentum("sgd_momentum", hyperparams, params)
    with torch.no_grad():
        for p, g, v in zip(params, _grads(params), states, strict=True):
            v.mul_(m).add_(g)
            p.add_(v, alpha=-lr)
    _zero_grads(params)


def sgd_momentum_ema(params: Iterable[Tensor], states: Any, hyperparams: Mapping[str, Any]) -> None:
    """EMA momentum: ``v <- m * v + (1 - m) * g``, then ``p <- p - lr * v``; zero the grads.

    ``v`` is an exponential moving average of the gradients (it starts at 0, so early on it
    underestimates them by the factor ``1 - m**t``). With lr ``e`` this is heavy ball with lr
    ``e * (1 - m)``: ``torch.optim.SGD(lr=e * (1 - m), momentum=m)``, not ``dampening=m``.
    """
    params, states = _with_grads("sgd_momentum_ema", params, states)
    lr, m = _lr_momentum("sgd_momentum_ema", hyperparams, params)
    with torch.no_grad():
        for p, g, v in zip(params, _grads(params), states, strict=True):
            v.mul_(m).add_(g, alpha=1 - m)
            p.add_(v, alpha=-lr)
    _zero_grads(params)


def sgd_nesterov(params: Iterable[Tensor], states: Any, hyperparams: Mapping[str, Any]) -> None:
    """Nesterov momentum: ``v <- m * v + g``, then ``p <- p - lr * (g + m * v)``; zero grads.

    PyTorch's reformulation of the look-ahead gradient (Sutskever et al. 2013); equals
    ``torch.optim.SGD(lr, momentum=m, nesterov=True)`` bit for bit. The sum ``g + m * v`` is
    built in the gradient's own storage, which is zeroed afterwards anyway.
    """
    params, states = _with_grads("sgd_nesterov", params, states)
    lr, m = _lr_momentum("sgd_nesterov", hyperparams, params)
    with torch.no_grad():
        for p, g, v in zip(params, _grads(params), states, strict=True):
            v.mul_(m).add_(g)
            p.add_(g.add_(v, alpha=m), alpha=-lr)
    _zero_grads(params)


# ---------------------------------------------------------------------------------------------
# The same rule as a torch.optim.Optimizer
# ---------------------------------------------------------------------------------------------

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

    bit for bit with ``impl="loop"`` (torch's CPU path) and, on the CPU, ``"foreach"``;
    to rounding with ``"compiled"``.

    ``variant="ema"``: ``v <- m * v + (1 - m) * g`` from ``v = 0``, ``p <- p - lr * v``, or with
    ``bias_correction=True``, ``p <- p - lr * v / (1 - m**t)``, ``t`` counted per param. It is
    torch's ``dampening=m`` with the velocity (torch's ``momentum_buffer``) started at zero
    instead of at the first gradient, which is how its ``state_dict`` is written:
    ``torch.optim.SGD`` can load it and continue the same EMA. The bias-corrected form has no
    torch *option*, and no torch state to save it in (see ``torch_state_dict``). When every
    param of a group has taken the same number of steps (the usual case), the same steps are
    ``SGD(lr=lr * (1 - m), momentum=m)`` under ``LambdaLR(lambda k: 1 / (1 - m**(k + 1)))``;
    notebook 04 checks this.

    ``impl``, a param group option saved in the state dict like torch's ``foreach``, chooses
    how the rule runs: ``"loop"`` (per tensor), ``"foreach"`` (one kernel per line over all
    tensors of a dtype and device) or ``"compiled"`` (``torch.compile``; if it cannot run here,
    or a new kernel fails its check against the eager rule, the step is finished by foreach, a
    warning says so once, and this optimizer steps by foreach from then on: the ``impl``
    property says so). Left out, it follows ``foreach`` (``foreach=False`` means ``"loop"``).
    Gradients are read, never modified. For many small parameters, hand it one flat tensor
    instead (notebook 08, section 6).

    Refused with a message: ``fused=True`` (torch's own kernel: use ``impl="compiled"``, or
    ``torch.optim.SGD``), ``differentiable=True``, ``momentum >= 1`` (torch accepts it, then
    diverges), and ``weight_decay`` or ``nesterov`` with sparse gradients (which torch cannot
    run either). Sparse gradients (``nn.Embedding(sparse=True)``) otherwise step per tensor,
    with torch's operations: bit for bit torch's results and torch's sparse velocity.
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
            impl=impl,
        )
        self._check_group(defaults, given=defaults)
        self._compiled = CompiledSGD()
        super().__init__(params, defaults)
        # First of the state_dict post hooks, so that hooks a user adds see the torch format.
        self.register_state_dict_post_hook(_in_torch_format)

    # -----------------------------------------------------------------------------------------
    # Settings: checked when a group is added and again before every step uses them
    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _check_group(group: dict[str, Any], given: dict[str, Any]) -> None:
        """Validate one param group's settings; ``given`` holds the keys the caller set.

        Where ``torch.optim.SGD`` has a check, the message starts with its wording, then says
        what the course needs and why.
        """
        lr = _torch_worded("lr", check_lr, group["lr"])
        momentum = _torch_worded("momentum", check_momentum, group["momentum"])
        dampening = check_fraction(group["dampening"], "dampening")
        _torch_worded("weight_decay", check_nonnegative, group["weight_decay"])
        nesterov = check_flag(group["nesterov"], "nesterov")
        check_flag(group["maximize"], "maximize")
        bias_correction = check_flag(group["bias_correction"], "bias_correction")
        variant = group["variant"]
        if variant not in _VARIANTS:
            raise ValueError(f"variant must be one of {_VARIANTS}, got variant={variant!r}")
        if group["foreach"] is not None:
            check_flag(group["foreach"], "foreach")
        if group["impl"] not in (None, *_IMPLS):
            raise ValueError(f"impl must be one of {_IMPLS}, got impl={group['impl']!r}")
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
                "Nesterov momentum requires a momentum and zero dampening: "
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
        # Named params come as (name, tensor) pairs.
        params = (p[1] if isinstance(p, tuple) else p for p in group.get("params", []))
        check_fits(lr, "lr", params)

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

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Called by pickle and deepcopy, and by load_state_dict.
        super().__setstate__(state)
        if not hasattr(self, "_compiled"):
            self._compiled = CompiledSGD()
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
            group.setdefault("impl", None)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's ``load_state_dict``; a group saved without ``impl`` (torch's) keeps its own."""
        groups = [
            {"impl": group["impl"], **saved}
            for group, saved in zip(self.param_groups, state_dict["param_groups"], strict=False)
        ]
        super().load_state_dict({**state_dict, "param_groups": groups})

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

    @property
    def impl(self) -> Impl:
        """The implementation the first group's steps run (``"foreach"`` after a fallback)."""
        return self._impl_of(self.param_groups[0])

    def _impl_of(self, group: dict[str, Any]) -> Impl:
        impl = group["impl"] or ("loop" if group["foreach"] is False else "foreach")
        if impl == "compiled" and self._compiled.failure is not None:
            return "foreach"
        return cast(Impl, impl)

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:  # type: ignore[override]
        """One optimisation step over every param group; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # Settings can change between steps (a scheduler, load_state_dict, a hand edit): a
        # cheap look at what this step will use, every group before any is stepped; the full
        # check (and its message) only for a group that fails it.
        for group in self.param_groups:
            if not _usable(group):
                self._check_group(group, given={})
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if any(p.grad.is_sparse for p in params):
                _check_sparse(group)
            velocities = self._velocities(group, params)
            grads = [p.grad for p in params]
            if group["bias_correction"]:
                self._run_bias_corrected(group, params, grads, velocities)
            else:
                self._run(group, params, grads, velocities, lr=float(group["lr"]))
            if velocities is not None:
                for p, v in zip(params, velocities, strict=True):
                    self.state[p]["momentum_buffer"] = v
        return loss

    def _velocities(self, group: dict[str, Any], params: list[Tensor]) -> Velocities | None:
        """Each param's velocity (``None`` before its first heavy-ball step)."""
        if group["momentum"] == 0 and group["variant"] == "heavy_ball":
            return None  # plain SGD keeps no state, like torch
        velocities: Velocities = []
        for p in params:
            state = self.state[p]
            if "momentum_buffer" not in state and group["variant"] == "ema":
                state["momentum_buffer"] = torch.zeros_like(p)  # the EMA starts at zero
            velocities.append(state.get("momentum_buffer"))
        return velocities

    def _run(self, group, params, grads, velocities, *, lr: float) -> None:
        """Bind the group's settings into one rule and hand the tensors to its implementation."""
        momentum = float(group["momentum"])
        rule = SGDRule(
            lr=lr,
            momentum=momentum,
            dampening=momentum if group["variant"] == "ema" else float(group["dampening"]),
            nesterov=bool(group["nesterov"]),
            weight_decay=float(group["weight_decay"]),
            maximize=bool(group["maximize"]),
        )
        impl = self._impl_of(group)
        if impl != "compiled" or any(g.is_sparse for g in grads):
            sgd_(params, grads, velocities, rule, foreach=impl == "foreach")
            return
        try:
            self._compiled(params, grads, velocities, rule)
        except CompiledStepFailed as err:  # the step was finished by foreach
            warnings.warn(
                f"MomentumSGD(impl='compiled'): {err}; stepping by foreach from now on",
                RuntimeWarning,
                stacklevel=4,
            )

    def _run_bias_corrected(self, group, params, grads, velocities) -> None:
        """EMA with ``lr / (1 - m**t)``: params sharing a step count ``t`` go in one batch."""
        by_step: dict[int, list[int]] = {}
        for i, p in enumerate(params):
            state = self.state[p]
            state["step"] = state.get("step", 0) + 1
            by_step.setdefault(state["step"], []).append(i)
        for t, idx in by_step.items():
            lr = float(group["lr"]) / (1 - float(group["momentum"]) ** t)
            some = [params[i] for i in idx], [grads[i] for i in idx], [velocities[i] for i in idx]
            self._run(group, *some, lr=lr)


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


_TORCH_WORDING = {
    "lr": "Invalid learning rate",
    "momentum": "Invalid momentum value",
    "weight_decay": "Invalid weight_decay value",
}


def _torch_worded(name: str, check: Callable[[Any, str], float], value: Any) -> float:
    """``check(value, name)``, its refusal worded as torch.optim.SGD's, then the course's why."""
    try:
        return check(value, name)
    except ValueError as err:
        if isinstance(value, Tensor) and value.numel() != 1:
            raise ValueError(f"Tensor {name} must be 1-element ({err})") from None
        why = str(err).split(", got ")[0]
        if name == "momentum" and isinstance(value, int | float) and value >= 1:
            why += (
                ": at 1 the velocity never forgets, above 1 it grows (torch.optim.SGD accepts "
                "it and diverges; the course refuses it on purpose)"
            )
        raise ValueError(f"{_TORCH_WORDING[name]}: {value} ({why})") from None


def _usable(group: dict[str, Any]) -> bool:
    """The cheap check a step makes of what it uses (a NaN or a typo set by hand fails it)."""
    try:
        return bool(
            0 <= group["lr"] <= 65504  # beyond, check_fits must look at the dtypes
            and 0 <= group["momentum"] < 1
            and 0 <= group["dampening"] <= 1
            and 0 <= group["weight_decay"] < math.inf
            and group["nesterov"] in (False, True)
            and group["maximize"] in (False, True)
            and group["variant"] in _VARIANTS
            and (group["variant"] == "ema" or not group["bias_correction"])
            and group["impl"] in (None, *_IMPLS)
        )
    except (TypeError, RuntimeError, ValueError):  # not a number, a many-element tensor, ...
        return False


def _check_sparse(group: dict[str, Any]) -> None:
    """Sparse gradients step as torch steps them (per tensor); refuse what torch cannot run."""
    for option in ("weight_decay", "nesterov"):
        if group[option]:
            raise ValueError(
                f"{option}={group[option]!r} with sparse gradients is not supported "
                "(torch.optim.SGD cannot add a dense tensor to a sparse gradient either)"
            )
