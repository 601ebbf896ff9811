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
- ``update_compiled_``: the loop traced by ``torch.compile`` into one-pass kernels, compiled
  once per chunk of tensors and reused.

They validate nothing: callers (``helpers.optim``) check arguments once, outside the hot path.
"""

from __future__ import annotations

import functools
import warnings
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
    if buffers is not None and weight_decay == 0 and not nesterov:
        # The common case (heavy ball or EMA without weight decay): the same operations, with the
        # branches and the scalar arithmetic taken out of the loop. On many small tensors the
        # Python around each kernel is a visible part of the step.
        keep, step = 1 - dampening, -lr
        for i, (param, grad, buf) in enumerate(zip(params, grads, buffers, strict=True)):
            if buf is None:
                buf = buffers[i] = grad.detach().clone()
            else:
                buf.mul_(momentum).add_(grad, alpha=keep)
            param.add_(buf, alpha=step)
        return
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


# Tensors per compiled call. The compiler's scheduling time grows faster than linearly with the
# number of tensors in one graph (a 1000-tensor list took minutes to compile), while each call
# costs some tens of microseconds of guards and wrappers: 64 tensors per call keep both small.
# Chunks of equal shapes share one compiled graph.
_CHUNK = 64

# Dynamo's guards already check every input's shape and strides before a call; inductor's
# second check of the same facts (size_asserts) would cost microseconds per tensor.
_OPTIONS = {"size_asserts": False}


def _step_math(params, grads, buffers, lr, momentum, keep, *weight_decay, nesterov):
    """The rule for buffers that all exist, as plain (out-of-place) maths for the compiler.

    ``lr``, ``momentum``, ``keep = 1 - dampening`` and the optional ``weight_decay`` are 0-d
    tensors, so a schedule changing them does not recompile; ``nesterov``, and whether weight
    decay is passed at all, shape the graph. Inductor fuses each tensor's lines into one loop:
    read p, g, v once, write v and p once (20 bytes per float32 element).
    """
    for param, grad, buf in zip(params, grads, buffers, strict=True):
        if weight_decay:
            grad = grad + weight_decay[0] * param
        new_buf = momentum * buf + keep * grad
        direction = grad + momentum * new_buf if nesterov else new_buf
        buf.copy_(new_buf)
        param.copy_(param - lr * direction)


def _sgd_math(params, grads, lr, *weight_decay):
    """Plain SGD (no buffers) for the compiler."""
    for param, grad in zip(params, grads, strict=True):
        if weight_decay:
            grad = grad + weight_decay[0] * param
        param.copy_(param - lr * grad)


@functools.cache
def _compiled(nesterov: bool, with_buffers: bool):
    """One compiled function per graph structure, built on first use and reused.

    ``torch.compile`` traces lazily: the first call with a new chunk length, new shapes or
    weight decay switched on or off compiles (seconds); every later call with the same ones
    reuses the kernels (microseconds). ``dynamic=False`` keeps every kernel specialised to its
    shapes: left to itself, dynamo recompiles for symbolic sizes once it has seen two, and that
    kernel ran a 1e7-element step 1.4x slower on the course's CPU. The price is one graph per
    structure, at most ``torch._dynamo.config.recompile_limit`` (8) of them; past that the call
    raises, and ``MomentumSGD`` falls back to foreach with a warning.
    """
    fn = functools.partial(_step_math, nesterov=nesterov) if with_buffers else _sgd_math
    return torch.compile(fn, fullgraph=True, dynamic=False, options=_OPTIONS)


@functools.lru_cache(maxsize=64)
def _scalars(values: tuple[float, ...], dtype: torch.dtype, device: torch.device):
    """The step's scalars as 0-d tensors, made once per distinct set of values and reused.

    Making four tensors took about 10 microseconds on the course's CPU, half of a compiled
    call's own overhead; a constant learning rate (or one changed every epoch) hits this cache
    on almost every step. The compiled graphs only read these tensors, never write them.
    """
    return tuple(torch.tensor(x, dtype=dtype, device=device) for x in values)


# The first error of a compiled call that failed after earlier chunks had been updated.
_broken: list[BaseException] = []


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

    The tensors go to the compiled function in chunks of ``_CHUNK``. First steps (missing
    buffers) run through ``update_loop_`` so the compiled graph sees one fixed structure.
    Raises whatever ``torch.compile`` raises where no compiler is available;
    ``helpers.optim.MomentumSGD`` catches that and falls back to ``update_foreach_``. Should a
    later chunk fail after earlier ones were updated, this step is finished with
    ``update_foreach_`` (so no tensor is updated twice or skipped) and the next call raises.
    """
    if _broken:
        err = _broken[0]
        raise RuntimeError(f"an earlier compiled step failed: {type(err).__name__}: {err}") from err
    params, grads = list(params), list(grads)
    if not params:
        return
    lr, momentum = float(lr), float(momentum)
    dampening, weight_decay = float(dampening), float(weight_decay)
    rule = dict(
        lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay
    )
    if buffers is not None and any(buf is None for buf in buffers):
        update_loop_(params, grads, buffers, **rule)
        return
    # Scalars in float32 unless the params are float64 (the kernels compute in the params'
    # precision either way); 1 - dampening is formed in double first, as torch's fused kernel does.
    first = params[0]
    dtype = torch.float64 if first.dtype == torch.float64 else torch.float32
    decay = (weight_decay,) if weight_decay != 0 else ()
    if buffers is None:
        step, lists = _compiled(False, False), (params, grads)
        scalars = _scalars((lr, *decay), dtype, first.device)
    else:
        step, lists = _compiled(nesterov, True), (params, grads, list(buffers))
        scalars = _scalars((lr, momentum, 1 - dampening, *decay), dtype, first.device)
    for start in range(0, len(params), _CHUNK):
        try:
            step(*(tensors[start : start + _CHUNK] for tensors in lists), *scalars)
        except Exception as err:
            if start == 0:
                raise  # nothing was updated: the caller may redo the whole step another way
            _broken.append(err)
            warnings.warn(
                f"update_compiled_: the compiled step failed on tensors {start} and after "
                f"({type(err).__name__}: {err}); finished this step with update_foreach_",
                RuntimeWarning,
                stacklevel=2,
            )
            rest = None if buffers is None else lists[2][start:]
            update_foreach_(params[start:], grads[start:], rest, **rule)
            return
