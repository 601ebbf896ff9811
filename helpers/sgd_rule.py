"""The rule of one momentum-SGD step, written once, and its eager paths (torch's ``sgd()``).

Every setting of ``torch.optim.SGD`` (2.13), and the course's EMA form, is this one rule::

    g <- -g                                        if maximize
    g <- g + weight_decay * p                      (coupled L2, before momentum)
    v <- g                                         first step, when no velocity exists yet
    v <- momentum * v + (1 - dampening) * g        every later step
    d <- g + momentum * v   if nesterov   else  v
    p <- p - lr * d

    plain SGD     velocities=None
    heavy ball    dampening=0                                      (PyTorch, d2l)
    EMA           dampening=momentum, velocities start at zero     (the "(1 - beta)" form)
    Nesterov      nesterov=True

``SGDRule`` binds the hyperparameters once (as Optax binds them); ``_rule`` is the arithmetic,
written once with torch's in-place operations in torch's order, so that results agree with
``torch.optim.SGD`` bit for bit. It runs on whatever ``_Ops`` it is given:

- ``LOOP``: one tensor at a time (``_single_tensor_sgd``; sparse gradients go here);
- ``FOREACH``: ``torch._foreach_*`` kernels over the tensors of one device and dtype
  (``_multi_tensor_sgd``; on the CPU they run the same per-tensor kernels, so the same bits);
- ``helpers.compiled``: out-of-place maths with 0-d tensor scalars, for ``torch.compile``.

Nothing here validates arguments: ``MomentumSGD`` checks them at the door. Gradients are read,
never written. The velocity is called ``v`` / ``velocities`` throughout; torch's name for it,
``momentum_buffer``, is used where torch's ``state_dict`` format is meant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableSequence, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

__all__ = ["SGDRule", "Velocities", "sgd_", "LOOP", "FOREACH"]

Velocities = MutableSequence[Tensor | None]


@dataclass(frozen=True)
class SGDRule:
    """The hyperparameters of one step, bound once (torch.optim.SGD's meanings)."""

    lr: float
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    maximize: bool = False


class _Ops(NamedTuple):
    """The five operations the rule uses, on one tensor or on a list of them."""

    neg: Callable[[Any], Any]
    add: Callable[[Any, Any, Any], Any]  # a + alpha * b, new storage
    add_: Callable[[Any, Any, Any], Any]  # a += alpha * b, in place
    mul_: Callable[[Any, Any], Any]  # a *= s, in place
    clone: Callable[[Any], Any]


LOOP = _Ops(
    neg=torch.neg,
    add=lambda a, b, alpha: a.add(b, alpha=alpha),
    add_=lambda a, b, alpha: a.add_(b, alpha=alpha),
    mul_=lambda a, s: a.mul_(s),
    clone=lambda g: g.detach().clone(),
)
FOREACH = _Ops(
    neg=torch._foreach_neg,
    add=lambda a, b, alpha: torch._foreach_add(a, b, alpha=alpha),
    add_=lambda a, b, alpha: torch._foreach_add_(a, b, alpha=alpha),
    mul_=torch._foreach_mul_,
    clone=lambda gs: [g.detach().clone() for g in gs],
)


def _rule(ops: _Ops, p, g, v, lr, momentum, keep, weight_decay, *, nesterov, maximize, first):
    """The rule on one tensor or one list (``ops`` says which); returns the velocity.

    ``keep = 1 - dampening``; ``weight_decay=None`` skips the decay line; ``v=None`` is plain
    SGD; ``first=True`` makes the velocity from the gradient (torch's first step).
    """
    if maximize:
        g = ops.neg(g)
    if weight_decay is not None:
        g = ops.add(g, p, weight_decay)
    if v is not None or first:
        if first:
            v = ops.clone(g)
        else:
            ops.mul_(v, momentum)
            ops.add_(v, g, keep)
        g = ops.add(g, v, momentum) if nesterov else v
    ops.add_(p, g, -lr)
    return v


def _scalars(rule: SGDRule) -> tuple[float, float, float, float | None]:
    """``(lr, momentum, keep = 1 - dampening, weight_decay or None)``, as ``_rule`` takes them."""
    decay = rule.weight_decay if rule.weight_decay != 0 else None
    return rule.lr, rule.momentum, 1 - rule.dampening, decay


def single_tensor_sgd_(
    params: Sequence[Tensor], grads: Sequence[Tensor], velocities: Velocities | None, rule: SGDRule
) -> None:
    """The rule for each ``(p, g, v)`` in turn, in place (torch's CPU default path).

    ``velocities[i] is None`` marks a first step: the velocity becomes a copy of the gradient
    and is stored back. ``velocities=None`` is plain SGD. A sparse gradient takes this path
    and, as in torch, makes a sparse velocity.
    """
    scalars, flags = _scalars(rule), dict(nesterov=rule.nesterov, maximize=rule.maximize)
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        if velocities is None:
            _rule(LOOP, p, g, None, *scalars, **flags, first=False)
        else:
            v = velocities[i]
            velocities[i] = _rule(LOOP, p, g, v, *scalars, **flags, first=v is None)


def multi_tensor_sgd_(
    params: Sequence[Tensor], grads: Sequence[Tensor], velocities: Velocities | None, rule: SGDRule
) -> None:
    """The same rule with one ``torch._foreach_*`` call per line, per device and dtype."""
    scalars, flags = _scalars(rule), dict(nesterov=rule.nesterov, maximize=rule.maximize)
    for ps, gs, vs in by_device_and_dtype(params, grads, velocities):
        if vs is not None and any(v is None for v in vs):  # first step of some: per tensor
            single_tensor_sgd_(ps, gs, vs, rule)
        else:
            _rule(FOREACH, ps, gs, vs, *scalars, **flags, first=False)


def by_device_and_dtype(
    params: Sequence[Tensor], grads: Sequence[Tensor], velocities: Velocities | None
) -> Iterator[tuple[list[Tensor], list[Tensor], Velocities | None]]:
    """The tensors in groups sharing a device and dtype (one group in the usual case).

    Velocities a group's step makes (first steps) are written back when the loop moves on.
    """
    if not params:
        return
    dtype, device = params[0].dtype, params[0].device
    if all(p.dtype == dtype and p.device == device for p in params):
        yield list(params), list(grads), velocities
        return
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    for i, p in enumerate(params):
        groups.setdefault((p.device, p.dtype), []).append(i)
    for idx in groups.values():
        vs = None if velocities is None else [velocities[i] for i in idx]
        yield [params[i] for i in idx], [grads[i] for i in idx], vs
        for i, v in zip(idx, vs or [], strict=False):
            velocities[i] = v  # type: ignore[index]


def sgd_(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    velocities: Velocities | None,
    rule: SGDRule,
    *,
    foreach: bool = True,
) -> None:
    """One step of ``rule`` in place, as ``torch.optim.sgd``: foreach unless told, or sparse."""
    if foreach and not any(g.is_sparse for g in grads):
        multi_tensor_sgd_(params, grads, velocities, rule)
    else:
        single_tensor_sgd_(params, grads, velocities, rule)
