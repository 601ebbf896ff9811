"""The rule of ``helpers.sgd_rule`` run through ``torch.compile``: speed work for notebook 08.

Inductor fuses each tensor's lines of the rule into one loop that reads p, g, v once and writes
v, p once (20 bytes per float32 element, the floor of notebook 08). Around that kernel sit the
practical matters this module owns:

- **chunks**: the tensors go to the compiled function ``CHUNK`` at a time (compile time grows
  faster than linearly with the tensors in one graph);
- **scalars as tensors**: ``lr`` and friends enter as 0-d tensors (each runner keeps the last
  set it made), so a schedule does not recompile;
- **a check of every new kernel**: the first call of each chunk layout is compared with the
  eager rule on the same inputs. A kernel that disagrees (seen: an inductor cache filled on an
  AVX-512 machine and reused under ``ATEN_CPU_CAPABILITY=avx2`` returned parameters off by up to
  0.13) is never trusted: the eager result is kept and the runner reports the failure;
- **failures**: a ``CompiledSGD`` runner that fails finishes the step by foreach (no tensor
  updated twice or skipped), raises ``CompiledStepFailed``, and from then on steps by foreach.
  Each ``MomentumSGD`` owns its runner, so one optimizer's failure and checks are its own.

What a runner has seen, its scalars and its failure live in the runner; the one cache of the
module is the compiled functions, each with the graphs whose first call was checked (dynamo
keeps their kernels process-wide, whatever this module does).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from helpers.sgd_rule import (
    SGDRule,
    Velocities,
    _Ops,
    _rule,
    by_device_and_dtype,
    multi_tensor_sgd_,
    single_tensor_sgd_,
)

__all__ = ["CompiledStepFailed", "CompiledSGD", "compiled_step_problem"]

# Tensors per compiled call. The compiler's scheduling time grows faster than linearly with the
# number of tensors in one graph (a 1000-tensor list took minutes to compile), while each call
# costs some tens of microseconds of guards and wrappers: 64 tensors per call keep both small.
# Chunks of equal shapes share one compiled graph.
CHUNK = 64

# Dynamo's guards already check every input's shape and strides before a call; inductor's
# second check of the same facts (size_asserts) would cost microseconds per tensor.
_OPTIONS: dict[str, str | int | bool | Callable[..., Any]] = {"size_asserts": False}

# The rule's five operations as out-of-place maths on 0-d tensor scalars (an ``alpha=`` must be
# a Python number); inductor fuses them into one loop per tensor.
_MATHS = _Ops(
    neg=lambda x: -x,
    add=lambda a, b, alpha: a + alpha * b,
    add_=lambda a, b, alpha: a.copy_(a + alpha * b),
    mul_=lambda a, s: a.copy_(a * s),
    clone=lambda g: g.clone(),
)


class CompiledStepFailed(RuntimeError):
    """The compiled step could not be used; the step was nevertheless completed correctly."""


class _KernelDisagrees(ValueError):
    """A new kernel's result differed from the eager rule's, which was kept in its place."""


def _chunk_math(params, grads, velocities, lr, momentum, keep, *weight_decay, nesterov, maximize):
    """The rule on each tensor of a chunk, for the compiler (``velocities`` all exist, or None).

    ``lr``, ``momentum``, ``keep = 1 - dampening`` and the optional ``weight_decay`` are 0-d
    tensors, so a schedule changing them does not recompile; ``nesterov``, ``maximize`` and
    whether weight decay is passed at all shape the graph.
    """
    decay = weight_decay[0] if weight_decay else None
    vs = velocities if velocities is not None else [None] * len(params)
    for p, g, v in zip(params, grads, vs, strict=True):
        _rule(
            _MATHS,
            p,
            g,
            v,
            lr,
            momentum,
            keep,
            decay,
            nesterov=nesterov,
            maximize=maximize,
            first=False,
        )


class _Compiled(NamedTuple):
    """A compiled function and the graphs (by input layout) whose first call was checked."""

    step: Callable[..., None]
    checked: set[tuple]


@functools.cache
def _compiled(*, nesterov: bool, maximize: bool) -> _Compiled:
    """One compiled function per graph structure, built on first use and shared by all runners.

    ``torch.compile`` traces lazily: the first call with a new chunk length, new shapes or
    weight decay or velocities switched on or off compiles (seconds); every later call with the
    same ones reuses the kernels (microseconds). ``dynamic=False`` keeps every kernel
    specialised to its shapes: left to itself, dynamo recompiles for symbolic sizes once it has
    seen two, and that kernel ran a 1e7-element step 1.4x slower on the course's CPU. The price
    is one graph per structure, at most ``torch._dynamo.config.recompile_limit`` (8) of them;
    past that the call raises, and the runner falls back to foreach.

    This cache is the module's only state, and it mirrors dynamo's own: kernels live per code
    object, process-wide, so a second ``torch.compile`` of the same function would count
    against the same limit, and a kernel checked on its first call (whoever made it) need not
    be checked again by the next optimizer (a check copies every tensor it steps).
    """
    fn = functools.partial(_chunk_math, nesterov=nesterov, maximize=maximize)
    return _Compiled(torch.compile(fn, fullgraph=True, dynamic=False, options=_OPTIONS), set())


def _agrees(new: Tensor, expected: Tensor, scale: Tensor) -> bool:
    """``new`` equals ``expected`` up to rounding: within 64 ulps of the inputs' magnitude.

    A fused kernel may contract ``a * b + c`` into one rounding or vectorise the sums in
    another order, which moves a result by a few ulps of the numbers it was made from; a wrong
    kernel moves it by far more (0.13 where the numbers were of order 1, in the case that
    prompted this check).
    """
    eps = torch.finfo(expected.dtype).eps
    return bool(((new - expected).abs() <= 64 * eps * scale).all())


def _layout(t: Tensor) -> tuple:
    return (t.shape, t.stride(), t.dtype, t.device)


class CompiledSGD:
    """The compiled path, with its own memory of checked chunks, scalars and failure.

    ``runner(params, grads, velocities, rule)`` steps like ``sgd_rule.single_tensor_sgd_``.
    After a failure (``CompiledStepFailed``) it keeps stepping correctly, by foreach;
    ``failure`` holds the first error. ``chunk`` tensors go to one compiled call.
    """

    def __init__(self, chunk: int = CHUNK) -> None:
        self.chunk = chunk
        self.failure: BaseException | None = None
        self._checked: set[tuple] = set()  # chunks (by tensor ids) whose kernels were checked
        self._scalars: tuple[tuple, tuple[Tensor, ...]] | None = None  # the last set made

    def __call__(
        self,
        params: Sequence[Tensor],
        grads: Sequence[Tensor],
        velocities: Velocities | None,
        rule: SGDRule | None = None,
        **hyperparameters: Any,
    ) -> None:
        """One step; ``rule`` or its fields as keywords (``lr=0.1, momentum=0.9``)."""
        rule = rule if rule is not None else SGDRule(**hyperparameters)
        failed: CompiledStepFailed | None = None
        with torch.no_grad():
            for ps, gs, vs in by_device_and_dtype(params, grads, velocities):  # one per kernel
                try:
                    self._step(ps, gs, vs, rule)
                except CompiledStepFailed as err:  # finished by foreach; the rest will be too
                    failed = failed or err
        if failed is not None:
            raise failed

    def _scalar_tensors(self, values: tuple, dtype: torch.dtype, device: torch.device):
        """The step's scalars as 0-d tensors, remade only when they change.

        Making four tensors took about 10 microseconds on the course's CPU, half of a compiled
        call's own overhead; a constant learning rate (or one changed every epoch) reuses them.
        The compiled graphs only read these tensors, never write them.
        """
        key = (values, dtype, device)
        if self._scalars is None or self._scalars[0] != key:
            made = tuple(torch.tensor(x, dtype=dtype, device=device) for x in values)
            self._scalars = (key, made)
        return self._scalars[1]

    def _step(self, params, grads, velocities, rule: SGDRule) -> None:
        if not params:
            return
        if self.failure is not None:
            multi_tensor_sgd_(params, grads, velocities, rule)
            return
        if velocities is not None and any(v is None for v in velocities):
            # First steps (velocities made from the gradients): eager, so that the compiled
            # graph sees one fixed structure.
            single_tensor_sgd_(params, grads, velocities, rule)
            return
        # Scalars in float32 unless the params are double precision, real or complex (the
        # kernels compute in the params' precision either way; float32 scalars made complex128
        # steps differ from eager by 2.5e-8). 1 - dampening is formed in double first, as
        # torch's fused kernel does.
        first = params[0]
        double = first.dtype in (torch.float64, torch.complex128)
        decay = (rule.weight_decay,) if rule.weight_decay != 0 else ()
        values = (rule.lr, rule.momentum, 1 - rule.dampening, *decay)
        scalars = self._scalar_tensors(
            values, torch.float64 if double else torch.float32, first.device
        )
        step, checked_graphs = _compiled(nesterov=rule.nesterov, maximize=rule.maximize)
        vs = list(velocities) if velocities is not None else None
        for start in range(0, len(params), self.chunk):
            end = start + self.chunk
            chunk = (params[start:end], grads[start:end], None if vs is None else vs[start:end])
            # This chunk, by the ids of its tensors: cheap to form at every step (the optimizer
            # holds its params, so an id is not reused while it steps them).
            key = (rule.nesterov, rule.maximize, len(decay), vs is None, *map(id, chunk[0]))
            try:
                if key in self._checked:
                    step(*chunk, *scalars)
                else:
                    # The graph this chunk runs, by what dynamo specialises it to: checked on
                    # its first call in the process.
                    graph = (len(decay), *(_layout(t) for ts in chunk if ts for t in ts))
                    if graph in checked_graphs:
                        step(*chunk, *scalars)
                    else:
                        self._first_call_checked(step, chunk, scalars, rule)
                        checked_graphs.add(graph)
                    self._checked.add(key)
            except Exception as err:
                self.failure = err
                # A disagreeing chunk already holds the eager result; a failed one is untouched.
                done = end if isinstance(err, _KernelDisagrees) else start
                rest = None if vs is None else vs[done:]
                multi_tensor_sgd_(params[done:], grads[done:], rest, rule)
                raise CompiledStepFailed(
                    f"the compiled step failed on tensors {start} and after "
                    f"({type(err).__name__}: {err}); the step was finished with foreach"
                ) from err

    @staticmethod
    def _first_call_checked(step, chunk, scalars, rule: SGDRule) -> None:
        """Run a chunk's first compiled call and check it against the eager rule.

        The eager rule runs on copies of the inputs. If the kernel disagrees, the eager result
        is copied into the real tensors (so the step is still right) and ``ValueError`` is
        raised as ``_KernelDisagrees``. If compiling fails, nothing has been written.
        """
        params, grads, vs = chunk
        expected = [p.detach().clone() for p in params]
        expected_vs = None if vs is None else [v.clone() for v in vs]
        # Every result is made from p, g and v with factors lr, weight_decay, momentum <= 1:
        # its rounding error is a few ulps of this magnitude.
        growth = (1 + rule.lr) * (1 + rule.weight_decay)
        scales = [
            growth * (p.abs().max() + g.abs().max() + (0 if v is None else 2 * v.abs().max()))
            for p, g, v in zip(expected, grads, expected_vs or [None] * len(params), strict=True)
        ]
        step(*chunk, *scalars)
        single_tensor_sgd_(expected, grads, expected_vs, rule)
        pairs = list(zip(params, expected, scales, strict=True))
        if vs is not None and expected_vs is not None:
            pairs += list(zip(vs, expected_vs, scales, strict=True))
        bad = [(new, ref) for new, ref, scale in pairs if not _agrees(new, ref, scale)]
        if bad:
            worst = max(float((new - ref).abs().max()) for new, ref in bad)
            for new, ref, _ in pairs:
                new.copy_(ref)
            raise _KernelDisagrees(
                f"the compiled kernel disagrees with the eager step by up to {worst:.3g} "
                "(a stale or foreign inductor cache? see TORCHINDUCTOR_CACHE_DIR)"
            )


def _probe_math(param, grad, buf, lr, momentum):
    """One heavy-ball step for ``compiled_step_problem``: a function of its own, so that
    probing does not use up one of the recompiles dynamo allows ``_chunk_math``."""
    new_buf = momentum * buf + grad
    buf.copy_(new_buf)
    param.copy_(param - lr * new_buf)


def compiled_step_problem() -> str | None:
    """Why the compiled step cannot run here, or ``None`` when it runs and agrees with eager.

    Compiles and checks one small step (a second or two, the first time in a process). Where
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
