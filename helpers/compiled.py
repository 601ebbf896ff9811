"""The update rule of ``helpers.update`` run through ``torch.compile``: speed work for notebook 08.

Inductor fuses each tensor's lines of the rule into one loop that reads p, g, v once and writes
v, p once (20 bytes per float32 element, the floor of notebook 08). Around that kernel sit the
practical matters this module owns:

- **chunks**: the tensors go to the compiled function ``_CHUNK`` at a time (compile time grows
  faster than linearly with the tensors in one graph);
- **scalars as tensors**: ``lr`` and friends enter as cached 0-d tensors, so a schedule does not
  recompile;
- **a check of every new kernel**: the first call of each chunk layout is compared with the
  eager rule on the same inputs. A kernel that disagrees (seen: an inductor cache filled on an
  AVX-512 machine and reused under ``ATEN_CPU_CAPABILITY=avx2`` returned parameters off by up to
  0.13) is never trusted: the eager result is kept and the runner reports the failure;
- **failures**: a ``CompiledUpdate`` that fails finishes the step with ``update_foreach_`` (no
  tensor updated twice or skipped), raises ``CompiledStepFailed``, and from then on steps by
  foreach. Each ``MomentumSGD`` owns its runner, so one optimizer's failure is its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from helpers.update import Buffers, update_foreach_, update_loop_

__all__ = ["CompiledStepFailed", "CompiledUpdate", "update_compiled_", "compiled_step_problem"]

# Tensors per compiled call. The compiler's scheduling time grows faster than linearly with the
# number of tensors in one graph (a 1000-tensor list took minutes to compile), while each call
# costs some tens of microseconds of guards and wrappers: 64 tensors per call keep both small.
# Chunks of equal shapes share one compiled graph.
_CHUNK = 64

# Dynamo's guards already check every input's shape and strides before a call; inductor's
# second check of the same facts (size_asserts) would cost microseconds per tensor.
_OPTIONS: dict[str, str | int | bool | Callable[..., Any]] = {"size_asserts": False}


class CompiledStepFailed(RuntimeError):
    """The compiled step could not be used; the step was nevertheless completed correctly."""


class _KernelDisagrees(ValueError):
    """A new kernel's result differed from the eager rule's, which was kept in its place."""


def _step_math(params, grads, buffers, lr, momentum, keep, *weight_decay, nesterov, maximize):
    """The rule for buffers that all exist, as plain (out-of-place) maths for the compiler.

    ``lr``, ``momentum``, ``keep = 1 - dampening`` and the optional ``weight_decay`` are 0-d
    tensors, so a schedule changing them does not recompile; ``nesterov``, ``maximize`` and
    whether weight decay is passed at all shape the graph.
    """
    for param, grad, buf in zip(params, grads, buffers, strict=True):
        if maximize:
            grad = -grad
        if weight_decay:
            grad = grad + weight_decay[0] * param
        new_buf = momentum * buf + keep * grad
        direction = grad + momentum * new_buf if nesterov else new_buf
        buf.copy_(new_buf)
        param.copy_(param - lr * direction)


def _sgd_math(params, grads, lr, *weight_decay, maximize):
    """Plain SGD (no buffers) for the compiler."""
    for param, grad in zip(params, grads, strict=True):
        if maximize:
            grad = -grad
        if weight_decay:
            grad = grad + weight_decay[0] * param
        param.copy_(param - lr * grad)


@functools.cache
def _compiled(*, nesterov: bool, with_buffers: bool, maximize: bool):
    """One compiled function per graph structure, built on first use and shared by all runners.

    ``torch.compile`` traces lazily: the first call with a new chunk length, new shapes or
    weight decay switched on or off compiles (seconds); every later call with the same ones
    reuses the kernels (microseconds). ``dynamic=False`` keeps every kernel specialised to its
    shapes: left to itself, dynamo recompiles for symbolic sizes once it has seen two, and that
    kernel ran a 1e7-element step 1.4x slower on the course's CPU. The price is one graph per
    structure, at most ``torch._dynamo.config.recompile_limit`` (8) of them; past that the call
    raises, and the runner falls back to foreach.
    """
    if with_buffers:
        fn = functools.partial(_step_math, nesterov=nesterov, maximize=maximize)
    else:
        fn = functools.partial(_sgd_math, maximize=maximize)
    return torch.compile(fn, fullgraph=True, dynamic=False, options=_OPTIONS)


@functools.lru_cache(maxsize=64)
def _scalars(values: tuple[float, ...], dtype: torch.dtype, device: torch.device):
    """The step's scalars as 0-d tensors, made once per distinct set of values and reused.

    Making four tensors took about 10 microseconds on the course's CPU, half of a compiled
    call's own overhead; a constant learning rate (or one changed every epoch) hits this cache
    on almost every step. The compiled graphs only read these tensors, never write them.
    """
    return tuple(torch.tensor(x, dtype=dtype, device=device) for x in values)


def _agrees(new: Tensor, expected: Tensor, scale: Tensor) -> bool:
    """``new`` equals ``expected`` up to rounding: within 64 ulps of the inputs' magnitude.

    A fused kernel may contract ``a * b + c`` into one rounding or vectorise the sums in
    another order, which moves a result by a few ulps of the numbers it was made from; a wrong
    kernel moves it by far more (0.13 where the numbers were of order 1, in the case that
    prompted this check).
    """
    eps = torch.finfo(expected.dtype).eps
    return bool(((new - expected).abs() <= 64 * eps * scale).all())


# Graphs whose first call agreed with the eager rule (see CompiledUpdate._first_call_checked).
_CHECKED_GRAPHS: set[tuple] = set()


def _layout(t: Tensor) -> tuple:
    return (t.shape, t.stride(), t.dtype, t.device)


class CompiledUpdate:
    """``update_compiled_`` with its own memory of checked layouts and of failure.

    Call it like ``helpers.update.update_loop_``. After a failure (``CompiledStepFailed``) it
    keeps stepping correctly, by ``update_foreach_``; ``failure`` holds the first error.
    """

    def __init__(self) -> None:
        self.failure: BaseException | None = None
        self._checked: set[tuple] = set()  # chunks (by tensor ids) known to use checked kernels

    def __call__(
        self,
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
        rule: dict[str, Any] = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        with torch.no_grad():
            self._step(params, grads, buffers, rule)

    def _step(self, params, grads, buffers, rule: dict[str, Any]) -> None:
        lr, momentum, dampening = rule["lr"], rule["momentum"], rule["dampening"]
        nesterov, weight_decay, maximize = rule["nesterov"], rule["weight_decay"], rule["maximize"]
        if self.failure is not None:
            update_foreach_(params, grads, buffers, **rule)
            return
        params, grads = list(params), list(grads)
        if not params:
            return
        if buffers is not None and any(buf is None for buf in buffers):
            # First steps (buffers made from the gradients): eager, so that the compiled graph
            # sees one fixed structure.
            update_loop_(params, grads, buffers, **rule)
            return
        # Scalars in float32 unless the params are double precision, real or complex (the
        # kernels compute in the params' precision either way; float32 scalars made complex128
        # steps differ from eager by 2.5e-8). 1 - dampening is formed in double first, as
        # torch's fused kernel does.
        first = params[0]
        double = first.dtype in (torch.float64, torch.complex128)
        dtype = torch.float64 if double else torch.float32
        decay = (float(weight_decay),) if weight_decay != 0 else ()
        if buffers is None:
            step = _compiled(nesterov=False, with_buffers=False, maximize=maximize)
            lists: tuple[list, ...] = (params, grads)
            scalars = _scalars((float(lr), *decay), dtype, first.device)
        else:
            step = _compiled(nesterov=nesterov, with_buffers=True, maximize=maximize)
            lists = (params, grads, list(buffers))
            values = (float(lr), float(momentum), 1 - float(dampening), *decay)
            scalars = _scalars(values, dtype, first.device)
        for start in range(0, len(params), _CHUNK):
            chunk = [tensors[start : start + _CHUNK] for tensors in lists]
            # This chunk, by the ids of its tensors: cheap to form at every step (the optimizer
            # holds its params, so an id is not reused while it steps them).
            key = (step, len(decay), *map(id, chunk[0]))
            try:
                if key in self._checked:
                    step(*chunk, *scalars)
                else:
                    # The graph this chunk will run, by what dynamo specialises it to. Each
                    # graph is checked on its first call in the process, whoever makes it.
                    graph = (step, len(decay), *(_layout(t) for tensors in chunk for t in tensors))
                    if graph in _CHECKED_GRAPHS:
                        step(*chunk, *scalars)
                    else:
                        self._first_call_checked(step, chunk, scalars, rule)
                        _CHECKED_GRAPHS.add(graph)
                    self._checked.add(key)
            except Exception as err:
                self.failure = err
                # A disagreeing chunk already holds the eager result; a failed one is untouched.
                done = start + _CHUNK if isinstance(err, _KernelDisagrees) else start
                rest = None if buffers is None else lists[2][done:]
                update_foreach_(params[done:], grads[done:], rest, **rule)
                raise CompiledStepFailed(
                    f"the compiled step failed on tensors {start} and after "
                    f"({type(err).__name__}: {err}); the step was finished with foreach"
                ) from err

    @staticmethod
    def _first_call_checked(step, chunk, scalars, rule) -> None:
        """Run a chunk's first compiled call and check it against the eager rule.

        The eager rule runs on copies of the inputs. If the kernel disagrees, the eager result
        is copied into the real tensors (so the step is still right) and ``ValueError`` is
        raised as ``_KernelDisagrees``. If compiling fails, nothing has been written.
        """
        params, grads = chunk[0], chunk[1]
        buffers = chunk[2] if len(chunk) == 3 else [None] * len(params)
        expected = [p.detach().clone() for p in params]
        expected_buffers = [None if b is None else b.clone() for b in buffers]
        # Every result is made from p, g and v with factors lr, weight_decay, momentum <= 1:
        # its rounding error is a few ulps of this magnitude.
        growth = (1 + rule["lr"]) * (1 + rule["weight_decay"])
        scales = [
            growth * (p.abs().max() + g.abs().max() + (0 if b is None else 2 * b.abs().max()))
            for p, g, b in zip(expected, grads, expected_buffers, strict=True)
        ]
        step(*chunk, *scalars)
        with_buffers = buffers[0] is not None
        update_loop_(expected, grads, expected_buffers if with_buffers else None, **rule)
        pairs = list(zip(params, expected, scales, strict=True))
        if with_buffers:
            pairs += list(zip(buffers, expected_buffers, scales, strict=True))
        bad = [(new, ref) for new, ref, scale in pairs if not _agrees(new, ref, scale)]
        if bad:
            worst = max(float((new - ref).abs().max()) for new, ref in bad)
            for new, ref, _ in pairs:
                new.copy_(ref)
            raise _KernelDisagrees(
                f"the compiled kernel disagrees with the eager step by up to {worst:.3g} "
                "(a stale or foreign inductor cache? see TORCHINDUCTOR_CACHE_DIR)"
            )


# The runner behind the free function: for scripts and notebooks that call the compiled step
# directly. Each MomentumSGD makes its own.
update_compiled_ = CompiledUpdate()


def _probe_math(param, grad, buf, lr, momentum):
    """One heavy-ball step for ``compiled_step_problem``: a function of its own, so that
    probing does not use up one of the recompiles dynamo allows ``_step_math``."""
    new_buf = momentum * buf + grad
    buf.copy_(new_buf)
    param.copy_(param - lr * new_buf)


@functools.cache
def compiled_step_problem() -> str | None:
    """Why the compiled step cannot run here, or ``None`` when it runs and agrees with eager.

    Compiles and checks one small step (a second or two, once per process). Where
    ``torch.compile`` has no working backend (no C++ compiler, a platform inductor does not
    support) or returns wrong numbers, this says so instead of raising, so that a notebook can
    choose its path up front and say which one it took.
    """
    param, grad, buf = torch.linspace(-1, 1, 64), torch.linspace(1, 2, 64), torch.linspace(0, 1, 64)
    expected, expected_buf = param.clone(), buf.clone()
    expected_buf.mul_(0.9).add_(grad)
    expected.add_(expected_buf, alpha=-0.1)
    try:
        step = torch.compile(_probe_math, fullgraph=True, dynamic=False)
        step(param, grad, buf, torch.tensor(0.1), torch.tensor(0.9))
    except Exception as err:  # no compiler, unsupported platform, ...
        return f"{type(err).__name__}: {err}".splitlines()[0][:200]
    scale = torch.tensor(4.0)  # |p| + |g| + 2 |v|, all at most 1 or 2 here
    if not (_agrees(param, expected, scale) and _agrees(buf, expected_buf, scale)):
        return (
            "the compiled kernel disagrees with the eager step (a stale or foreign inductor cache?)"
        )
    return None
