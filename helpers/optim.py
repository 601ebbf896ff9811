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

``MomentumSGD`` (``helpers.momentum_sgd``, re-exported here) is the same arithmetic as a
``torch.optim.Optimizer``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import torch
from torch import Tensor

from helpers.checks import check_fits, check_lr, check_momentum, read_hyperparams
from helpers.momentum_sgd import MomentumSGD

__all__ = [
    "sgd",
    "init_momentum_states",
    "sgd_momentum",
    "sgd_momentum_ema",
    "sgd_nesterov",
    "MomentumSGD",
]

# Below this an lr fits every floating dtype (float16's largest value is 65504).
_FITS_EVERY_DTYPE = 65504.0


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
    if lr > _FITS_EVERY_DTYPE:
        check_fits(lr, "lr", {p.dtype for p in params})
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
    if lr > _FITS_EVERY_DTYPE:
        check_fits(lr, "lr", {p.dtype for p in params})
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
