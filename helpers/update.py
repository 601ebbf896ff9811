"""The rule of one momentum-SGD step on lists of tensors: the functional core of ``MomentumSGD``.

Every setting of ``torch.optim.SGD`` (2.13), and the course's EMA form, is this one rule::

    g <- -g                                        if maximize
    g <- g + weight_decay * p                      (coupled L2, before momentum)
    v <- g                                         first step, when no buffer exists yet
    v <- momentum * v + (1 - dampening) * g        every later step
    d <- g + momentum * v   if nesterov   else  v
    p <- p - lr * d

    plain SGD     buffers=None
    heavy ball    dampening=0                                  (PyTorch, d2l)
    EMA           dampening=momentum, buffers start at zero    (the "(1 - beta)" form)
    Nesterov      nesterov=True

written with torch's in-place operations in torch's order, so that results agree with it bit
for bit. Two implementations live here:

- ``update_loop_``: one tensor at a time (``torch.optim.SGD``'s CPU default path);
- ``update_foreach_``: ``torch._foreach_*`` kernels, each over the whole list.

``helpers.compiled`` runs the same rule through ``torch.compile``. None of them validates its
arguments: the callers (``helpers.optim``) check them once, outside the hot path. Gradients are
read, never written.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from typing import cast

import torch
from torch import Tensor

Buffers = MutableSequence[Tensor | None]


def update_loop_(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    buffers: Buffers | None,
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    """Apply the rule above to each ``(p, g, v)`` in turn, in place.

    ``buffers[i] is None`` marks a parameter's first step: its buffer becomes a copy of the
    gradient and is stored back into ``buffers``. ``buffers=None`` is plain SGD (no state).
    """
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        if maximize:
            grad = -grad
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        if buffers is not None:
            buf = buffers[i]
            if buf is None:
                buf = buffers[i] = grad.detach().clone()
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - dampening)
            grad = grad.add(buf, alpha=momentum) if nesterov else buf
        param.add_(grad, alpha=-lr)


def update_foreach_(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    buffers: Buffers | None,
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    """The same rule as ``update_loop_``, one ``torch._foreach_*`` call per line.

    All tensors must share a device and dtype. Saves Python overhead per tensor; agrees with
    the loop to rounding (the kernels may vectorise the arithmetic differently).
    """
    params, grads = list(params), list(grads)
    if not params:
        return
    if maximize:
        grads = list(torch._foreach_neg(grads))
    if weight_decay != 0:
        grads = list(torch._foreach_add(grads, params, alpha=weight_decay))
    if buffers is not None:
        if any(buf is None for buf in buffers):
            # First step of some parameters: the per-tensor rule for this step only.
            for i, grad in enumerate(grads):
                buf = buffers[i]
                if buf is None:
                    buffers[i] = grad.detach().clone()
                else:
                    buf.mul_(momentum).add_(grad, alpha=1 - dampening)
        else:
            existing = cast(list[Tensor], list(buffers))
            torch._foreach_mul_(existing, momentum)
            torch._foreach_add_(existing, grads, alpha=1 - dampening)
        stepped = [buf for buf in buffers if buf is not None]  # all of them, now
        grads = list(torch._foreach_add(grads, stepped, alpha=momentum)) if nesterov else stepped
    torch._foreach_add_(params, grads, alpha=-lr)
