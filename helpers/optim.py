"""The course's optimizers, in the d2l style ``f(params, states, hyperparams)`` and as a class.

The four functions are the same idea with one line changed (v is the velocity, g the grad)::

    sgd               p <- p - lr * g
    sgd_momentum      v <- m * v + g;            p <- p - lr * v      (heavy ball, PyTorch, d2l)
    sgd_momentum_ema  v <- m * v + (1 - m) * g;  p <- p - lr * v      (EMA of the gradients)
    sgd_nesterov      v <- m * v + g;            p <- p - lr * (g + m * v)

Each updates in place under ``torch.no_grad()``, skips parameters whose ``.grad`` is ``None``
(as ``torch.optim.SGD`` does), and zeroes every gradient it used (as the d2l functions do).
With zero-initialised states, ``sgd_momentum`` and ``sgd_nesterov`` equal
``torch.optim.SGD(lr, momentum=m[, nesterov=True])`` bit for bit, and ``sgd_momentum_ema``
with lr ``e`` equals ``torch.optim.SGD(lr=e * (1 - m), momentum=m)`` up to rounding.

``MomentumSGD`` is a ``torch.optim.Optimizer`` that runs the same arithmetic
(``helpers.update``) inside an ordinary PyTorch training loop.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from helpers.checks import check_lr, check_momentum, real
from helpers.update import update_compiled_, update_foreach_, update_loop_

__all__ = [
    "sgd",
    "init_momentum_states",
    "sgd_momentum",
    "sgd_momentum_ema",
    "sgd_nesterov",
    "MomentumSGD",
]


# ---------------------------------------------------------------------------------------------
# Argument reading, shared by the functions and the class
# ---------------------------------------------------------------------------------------------


def _read_hyperparams(func: str, hyperparams: Mapping[str, Any], keys: Sequence[str]) -> list:
    """Return ``hyperparams[k]`` for each k in ``keys``; refuse missing and unknown keys.

    Unknown keys are refused because a typo ("momemtum") would otherwise be ignored silently.
    """
    if not isinstance(hyperparams, Mapping):
        raise ValueError(f"{func}: hyperparams must be a dict, got {type(hyperparams).__name__}")
    expected = ", ".join(repr(k) for k in keys)
    for key in keys:
        if key not in hyperparams:
            raise ValueError(f"{func}: hyperparams is missing the key {key!r} (needs {expected})")
    unknown = sorted(set(hyperparams) - set(keys))
    if unknown:
        raise ValueError(f"{func}: unknown hyperparameter {unknown[0]!r} (it takes {expected})")
    return [hyperparams[k] for k in keys]


def _with_grads(func: str, params: Iterable[Tensor], states: Sequence[Tensor] | None):
    """Pair each parameter that has a gradient with its state; check the lists match."""
    params = list(params)
    if states is None:
        return [p for p in params if p.grad is not None], None
    states = list(states)
    if len(states) != len(params):
        raise ValueError(
            f"{func}: got {len(params)} params but {len(states)} states; "
            "make the states with init_momentum_states(params)"
        )
    used_params, used_states = [], []
    for i, (p, v) in enumerate(zip(params, states, strict=True)):
        if v.shape != p.shape:
            raise ValueError(
                f"{func}: state {i} has shape {tuple(v.shape)} but its param has "
                f"shape {tuple(p.shape)}"
            )
        if p.grad is not None:
            used_params.append(p)
            used_states.append(v)
    return used_params, used_states


# ---------------------------------------------------------------------------------------------
# d2l-style functions: f(params, states, hyperparams)
# ---------------------------------------------------------------------------------------------


def init_momentum_states(params: Iterable[Tensor]) -> list[Tensor]:
    """One zero velocity per parameter: ``v_0 = 0``, same shape, dtype and device."""
    return [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]


def _momentum_step(
    func: str,
    params: Iterable[Tensor],
    states: Sequence[Tensor],
    hyperparams: Mapping[str, Any],
    *,
    ema: bool = False,
    nesterov: bool = False,
) -> None:
    """Shared body of the three momentum functions: check, update, zero the gradients."""
    lr, momentum = _read_hyperparams(func, hyperparams, ("lr", "momentum"))
    lr, momentum = check_lr(lr), check_momentum(momentum)
    used, velocities = _with_grads(func, params, states)
    grads = [p.grad for p in used]
    with torch.no_grad():
        update_loop_(
            used,
            grads,
            velocities,
            lr=lr,
            momentum=momentum,
            # The EMA form is the heavy ball with the gradient damped by (1 - m).
            dampening=momentum if ema else 0.0,
            nesterov=nesterov,
            grads_are_scratch=True,
        )
        if grads:
            torch._foreach_zero_(grads)  # one call for all grads: g.zero_() for each, in C++


def sgd(params: Iterable[Tensor], states: Any, hyperparams: Mapping[str, Any]) -> None:
    """Plain SGD: ``p <- p - lr * p.grad`` for every param with a grad, then zero the grad.

    ``hyperparams = {"lr": lr}``. ``states`` is unused: it is there so that every optimizer of
    the course has the same signature and one training loop can take any of them.
    """
    (lr,) = _read_hyperparams("sgd", hyperparams, ("lr",))
    lr = check_lr(lr)
    used, _ = _with_grads("sgd", params, None)
    with torch.no_grad():
        for p in used:
            p.add_(p.grad, alpha=-lr)
            p.grad.zero_()


def sgd_momentum(
    params: Iterable[Tensor], states: Sequence[Tensor], hyperparams: Mapping[str, Any]
) -> None:
    """Heavy-ball momentum: ``v <- m * v + g``, then ``p <- p - lr * v``; zero the grads.

    ``hyperparams = {"lr": lr, "momentum": m}``; ``states`` from ``init_momentum_states`` holds
    one velocity per param and is updated in place. Written as ``v.mul_(m).add_(g)`` and
    ``p.add_(v, alpha=-lr)``: no temporaries, and the same operations in the same order as
    ``torch.optim.SGD(lr, momentum=m)``, whose ``momentum_buffer`` equals ``v``.
    """
    _momentum_step("sgd_momentum", params, states, hyperparams)


def sgd_momentum_ema(
    params: Iterable[Tensor], states: Sequence[Tensor], hyperparams: Mapping[str, Any]
) -> None:
    """EMA momentum: ``v <- m * v + (1 - m) * g``, then ``p <- p - lr * v``; zero the grads.

    ``v`` is an exponential moving average of the gradients (it starts at 0, so early on it
    underestimates them by the factor ``1 - m**t``). With lr ``e`` this is heavy ball with lr
    ``e * (1 - m)``: ``torch.optim.SGD(lr=e * (1 - m), momentum=m)``, not ``dampening=m``.
    """
    _momentum_step("sgd_momentum_ema", params, states, hyperparams, ema=True)


def sgd_nesterov(
    params: Iterable[Tensor], states: Sequence[Tensor], hyperparams: Mapping[str, Any]
) -> None:
    """Nesterov momentum: ``v <- m * v + g``, then ``p <- p - lr * (g + m * v)``; zero grads.

    PyTorch's reformulation of the look-ahead gradient (Sutskever et al. 2013); equals
    ``torch.optim.SGD(lr, momentum=m, nesterov=True)`` bit for bit. The sum ``g + m * v`` is
    built in the gradient's own storage, which is zeroed afterwards anyway.
    """
    _momentum_step("sgd_nesterov", params, states, hyperparams, nesterov=True)


# ---------------------------------------------------------------------------------------------
# MomentumSGD: the same arithmetic as a torch.optim.Optimizer
# ---------------------------------------------------------------------------------------------

_VARIANTS = ("heavy_ball", "ema")
_IMPLS = ("loop", "foreach", "compiled")


class MomentumSGD(torch.optim.Optimizer):
    """SGD with heavy-ball, EMA or Nesterov momentum, for ordinary PyTorch training loops.

    ``variant="heavy_ball"``: ``v <- m * v + g`` (first step ``v = g``), ``p <- p - lr * v``;
    equals ``torch.optim.SGD(lr, momentum, nesterov=..., weight_decay=...)`` step for step
    (bit for bit with ``impl="loop"``). ``nesterov=True`` steps along ``g + m * v``.

    ``variant="ema"``: ``v <- m * v + (1 - m) * g`` from ``v = 0``, ``p <- p - lr * v``, or
    with ``bias_correction=True``, ``p <- p - lr * v / (1 - m**t)``, ``t`` counted per param.

    ``weight_decay`` adds ``weight_decay * p`` to the gradient before momentum (coupled L2,
    as torch SGD). ``impl`` chooses how the arithmetic of ``helpers.update`` runs: ``"loop"``
    (per tensor), ``"foreach"`` (one kernel per line over all tensors of a group) or
    ``"compiled"`` (``torch.compile``; falls back to foreach with a warning if unavailable).
    Gradients are read, never modified. Each implementation pays some cost per tensor; for
    many small parameters, hand it one flat tensor instead (notebook 08, section 6).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float,
        momentum: float = 0.0,
        *,
        variant: str = "heavy_ball",
        nesterov: bool = False,
        weight_decay: float = 0.0,
        bias_correction: bool = False,
        impl: str = "foreach",
    ) -> None:
        if impl not in _IMPLS:
            raise ValueError(f"impl must be one of {_IMPLS}, got impl={impl!r}")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            variant=variant,
            nesterov=nesterov,
            weight_decay=weight_decay,
            bias_correction=bias_correction,
        )
        self._check_group(defaults)
        self.impl = impl
        super().__init__(params, defaults)

    @staticmethod
    def _check_group(group: Mapping[str, Any]) -> None:
        """Validate one param group's settings (the defaults, or a group's overrides)."""
        check_lr(group["lr"])
        momentum = check_momentum(group["momentum"])
        variant = group["variant"]
        if variant not in _VARIANTS:
            raise ValueError(f"variant must be one of {_VARIANTS}, got variant={variant!r}")
        wd = group["weight_decay"]
        if not (0 <= real(wd, "weight_decay") < math.inf):
            raise ValueError(f"weight_decay must be finite and >= 0, got weight_decay={wd!r}")
        if group["nesterov"] and (momentum == 0 or variant != "heavy_ball"):
            raise ValueError(
                "nesterov=True needs momentum > 0 and variant='heavy_ball', got "
                f"momentum={group['momentum']!r}, variant={variant!r}"
            )
        if group["bias_correction"] and variant != "ema":
            raise ValueError(
                f"bias_correction=True applies to variant='ema' only, got variant={variant!r}"
            )

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (``torch.optim.Optimizer`` API), validating its settings first.

        Checked before adding, so a rejected group never reaches ``step()``.
        """
        self._check_group({**self.defaults, **param_group})
        super().add_param_group(param_group)

    def _buffers(self, group: dict, params: list[Tensor]) -> list[Tensor | None] | None:
        """Each param's momentum buffer (``None`` before its first heavy-ball step)."""
        if group["momentum"] == 0 and group["variant"] == "heavy_ball":
            return None  # plain SGD keeps no state, like torch
        buffers = []
        for p in params:
            state = self.state[p]
            if "momentum_buffer" not in state and group["variant"] == "ema":
                state["momentum_buffer"] = torch.zeros_like(p)  # the EMA starts at zero
            buffers.append(state.get("momentum_buffer"))
        return buffers

    def _run(self, params, grads, buffers, *, lr: float, group: dict) -> None:
        """Hand one batch of tensors to the chosen implementation of the update rule."""
        kwargs = dict(
            lr=lr,
            momentum=group["momentum"],
            dampening=group["momentum"] if group["variant"] == "ema" else 0.0,
            nesterov=group["nesterov"],
            weight_decay=group["weight_decay"],
        )
        if self.impl == "compiled":
            try:
                update_compiled_(params, grads, buffers, **kwargs)
                return
            except Exception as err:  # no C++ compiler, unsupported platform, ...
                warnings.warn(
                    f"MomentumSGD(impl='compiled'): torch.compile failed ({type(err).__name__}: "
                    f"{err}); using impl='foreach' from now on",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self.impl = "foreach"
        update = update_loop_ if self.impl == "loop" else update_foreach_
        update(params, grads, buffers, **kwargs)

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """One optimisation step over every param group; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            buffers = self._buffers(group, params)
            # Buffers made on this step (torch's first-step rule) must be stored afterwards;
            # in the steady state every buffer already lives in self.state.
            new_buffers = buffers is not None and any(buf is None for buf in buffers)
            grads = [p.grad for p in params]
            if not group["bias_correction"]:
                self._run(params, grads, buffers, lr=group["lr"], group=group)
            else:
                self._run_bias_corrected(group, params, grads, buffers)
            if new_buffers:
                for p, buf in zip(params, buffers, strict=True):
                    self.state[p]["momentum_buffer"] = buf
        return loss

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
                lr=group["lr"] / (1 - group["momentum"] ** t),
                group=group,
            )
