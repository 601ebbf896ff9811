"""The arithmetic of one momentum-SGD step on lists of tensors: the course's functional core.

Every optimizer in the course is this one rule with different settings::

    g <- g + weight_decay * p                      (coupled L2, before momentum)
    v <- g                                         first step, when no buffer exists yet
    v <- momentum * v + (1 - dampening) * g        every later step
    d <- g + momentum * v   if nesterov   else  v
    p <- p - lr * d

    plain SGD     buffers=None
    heavy ball    dampening=0                                  (PyTorch, d2l)
    EMA           dampening=momentum, buffers start at zero    (the "(1 - beta)" form)
    Nesterov      nesterov=True

This is the rule of ``torch.optim.SGD`` (2.13), written with the same in-place operations in
the same order, so that results agree with it bit for bit. Three implementations share it:

- ``update_loop_``: one tensor at a time (``torch.optim.SGD``'s CPU default path);
- ``update_foreach_``: ``torch._foreach_*`` kernels, each over the whole list;
- ``update_compiled_``: the loop traced once by ``torch.compile`` into fused kernels.

They validate nothing: callers (``helpers.optim``) check arguments once, outside the hot path.
"""

from __future__ import annotations

import functools
from collections.abc import MutableSequence, Sequence

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
    grads_are_scratch: bool = False,
) -> None:
    """Apply the step above to each ``(p, g, v)`` in turn, in place.

    ``buffers[i] is None`` marks a parameter's first step: its buffer becomes a copy of the
    gradient (and is stored back into ``buffers``). With ``grads_are_scratch=True`` the
    gradients may be overwritten, which lets weight decay and Nesterov work without allocating
    temporaries; the d2l-style functions use it because they zero the gradients afterwards.
    """
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        if weight_decay != 0:
            grad = (
                grad.add_(param, alpha=weight_decay)
                if grads_are_scratch
                else grad.add(param, alpha=weight_decay)
            )
        if buffers is not None:
            buf = buffers[i]
            if buf is None:
                buf = buffers[i] = grad.detach().clone()
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - dampening)
            if nesterov:
                grad = (
                    grad.add_(buf, alpha=momentum)
                    if grads_are_scratch
                    else grad.add(buf, alpha=momentum)
                )
            else:
                grad = buf
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
    grads_are_scratch: bool = False,
) -> None:
    """The same step as ``update_loop_``, one ``torch._foreach_*`` call per line of the rule.

    All tensors must share a device and dtype. Saves Python overhead per tensor; agrees with
    the loop to rounding (the kernels may vectorise the arithmetic differently).
    """
    params, grads = list(params), list(grads)
    if not params:
        return
    if weight_decay != 0:
        if grads_are_scratch:
            torch._foreach_add_(grads, params, alpha=weight_decay)
        else:
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
    if buffers is not None:
        if any(buf is None for buf in buffers):
            # First step of some parameters: fall back to the per-tensor rule for this step.
            for i, grad in enumerate(grads):
                if buffers[i] is None:
                    buffers[i] = grad.detach().clone()
                else:
                    buffers[i].mul_(momentum).add_(grad, alpha=1 - dampening)
        else:
            torch._foreach_mul_(buffers, momentum)
            torch._foreach_add_(buffers, grads, alpha=1 - dampening)
        if nesterov:
            if grads_are_scratch:
                torch._foreach_add_(grads, buffers, alpha=momentum)
            else:
                grads = torch._foreach_add(grads, buffers, alpha=momentum)
        else:
            grads = buffers
    torch._foreach_add_(params, grads, alpha=-lr)


def _step_math(params, grads, buffers, lr, momentum, dampening, weight_decay, nesterov):
    """The rule for buffers that all exist, as plain (out-of-place) maths for the compiler.

    ``lr`` etc. are 0-d tensors so that a schedule changing them does not recompile.
    Inductor fuses each tensor's lines into one pass: read p, g, v once, write v and p once.
    """
    for param, grad, buf in zip(params, grads, buffers, strict=True):
        grad = grad + weight_decay * param
        new_buf = momentum * buf + (1 - dampening) * grad
        direction = grad + momentum * new_buf if nesterov else new_buf
        buf.copy_(new_buf)
        param.copy_(param - lr * direction)


def _sgd_math(params, grads, lr, weight_decay):
    """Plain SGD (no buffers) for the compiler."""
    for param, grad in zip(params, grads, strict=True):
        param.copy_(param - lr * (grad + weight_decay * param))


@functools.cache
def _compiled(nesterov: bool, with_buffers: bool):
    """One compiled kernel set per (nesterov, buffers) pair, built on first use and reused."""
    if with_buffers:
        return torch.compile(functools.partial(_step_math, nesterov=nesterov), fullgraph=True)
    return torch.compile(_sgd_math, fullgraph=True)


def update_compiled_(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    buffers: Buffers | None,
    *,
    lr: float | Tensor,
    momentum: float | Tensor = 0.0,
    dampening: float | Tensor = 0.0,
    nesterov: bool = False,
    weight_decay: float | Tensor = 0.0,
) -> None:
    """The same step, compiled by ``torch.compile`` (inductor) the first time it is called.

    First steps (missing buffers) run through ``update_loop_`` so the compiled graph sees one
    fixed structure. Raises whatever ``torch.compile`` raises where no compiler is available;
    ``helpers.optim.MomentumSGD`` catches that and falls back to ``update_foreach_``.
    """
    params, grads = list(params), list(grads)
    if not params:
        return
    if buffers is not None and any(buf is None for buf in buffers):
        update_loop_(
            params,
            grads,
            buffers,
            lr=float(lr),
            momentum=float(momentum),
            dampening=float(dampening),
            nesterov=nesterov,
            weight_decay=float(weight_decay),
        )
        return
    scalars = [torch.as_tensor(x, dtype=torch.float64) for x in (lr, momentum, dampening)]
    wd = torch.as_tensor(weight_decay, dtype=torch.float64)
    if buffers is None:
        _compiled(False, False)(params, grads, scalars[0], wd)
    else:
        _compiled(nesterov, True)(params, grads, list(buffers), *scalars, wd)
