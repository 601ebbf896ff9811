# The teaching loops read p.grad, which mypy types as optional; notebook 08 prints their source,
# so they carry no ignore comments: this module's arg-type errors are off instead.
# mypy: disable-error-code="arg-type"
"""The five ways notebook 08 writes one heavy-ball step, shared with the benchmark.

Each computes the step of ``torch.optim.SGD(lr, momentum)`` on parameters ``p`` with gradients
``g = p.grad`` and velocities ``v`` (``torch``'s ``momentum_buffer``)::

    v <- momentum * v + g;   p <- p - lr * v

They differ only in how many bytes they move per float32 element (notebook 08, section 3):

- ``d2l_verbatim_step``: the source pages' ``v[:] = momentum * v + p.grad`` and
  ``p[:] -= lr * v``: 48 bytes, three temporaries of a parameter's size;
- ``in_place_step``: ``v.mul_(momentum).add_(p.grad)`` and ``p.add_(v, alpha=-lr)``: 32 bytes,
  torch's per-tensor CPU step bit for bit;
- ``torch.optim.SGD(foreach=True)``: the same three lines, each over all tensors: 32 bytes;
- ``torch.optim.SGD(fused=True)`` and ``MomentumSGD(impl="compiled")``: one pass, 20 bytes.

``step_variants`` builds all five on one set of tensors, so that they can be checked, counted
and timed side by side (notebook 08 and ``benchmarks/optimizer_step.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
from torch import Tensor

from helpers.optim import Impl, MomentumSGD

__all__ = ["d2l_verbatim_step", "in_place_step", "with_velocities", "step_variants"]

OptimizerT = TypeVar("OptimizerT", bound=torch.optim.Optimizer)


def d2l_verbatim_step(
    params: Sequence[Tensor], states: Sequence[Tensor], hyperparams: Mapping[str, Any]
) -> None:
    """``v[:] = momentum * v + g``, then ``p[:] -= lr * v``, as the source pages write it.

    The source pages' (d2l's) ``sgd_momentum`` less its last line (``p.grad.data.zero_()``).
    ``[:]`` keeps ``v``'s and ``p``'s memory, but ``momentum * v``, its sum with ``g`` and
    ``lr * v`` are new tensors: 48 bytes per float32 element, three temporaries.
    """
    for p, v in zip(params, states, strict=True):
        with torch.no_grad():
            v[:] = hyperparams["momentum"] * v + p.grad
            p[:] -= hyperparams["lr"] * v


def in_place_step(
    params: Sequence[Tensor], states: Sequence[Tensor], hyperparams: Mapping[str, Any]
) -> None:
    """``v <- momentum * v + g``, then ``p <- p - lr * v``, in place, tensor by tensor.

    ``v.mul_(momentum).add_(g)`` and ``p.add_(v, alpha=-lr)``: three kernels per tensor, 32
    bytes per float32 element, no temporaries; torch's per-tensor CPU step, bit for bit.
    """
    lr, momentum = hyperparams["lr"], hyperparams["momentum"]
    with torch.no_grad():
        for p, v in zip(params, states, strict=True):
            v.mul_(momentum).add_(p.grad)
            p.add_(v, alpha=-lr)


def with_velocities(
    optimizer: OptimizerT, params: Sequence[Tensor], velocities: Sequence[Tensor]
) -> OptimizerT:
    """Hand ``optimizer`` the ``velocities`` as its momentum buffers; return the optimizer.

    Then every implementation can run on the same tensors: ``v`` is ``momentum_buffer``. With
    zero velocities, torch's first step does ``buf = momentum * 0 + g = g``, bit for bit what it
    does without a buffer.
    """
    for p, v in zip(params, velocities, strict=True):
        optimizer.state[p]["momentum_buffer"] = v
    return optimizer


def step_variants(
    params: Sequence[Tensor],
    velocities: Sequence[Tensor],
    lr: float,
    momentum: float,
    compiled_impl: Impl = "compiled",
) -> dict[str, Callable[[], object]]:
    """Notebook 08's five steps of ``v <- momentum * v + g; p <- p - lr * v`` on these tensors.

    Name -> a function that runs one step on ``params`` (each with a ``.grad``) and
    ``velocities``, which all five share: "d2l verbatim", "in-place loop", "foreach" and
    "fused" (``torch.optim.SGD``), and "compiled" (``MomentumSGD(impl=compiled_impl)``, its
    bound ``step``: ``.__self__`` is the optimizer). Pass ``compiled_impl="foreach"`` where
    ``torch.compile`` cannot run (``helpers.compiled.compiled_step_problem``).
    """
    hyperparams = {"lr": lr, "momentum": momentum}

    # name -> a function that runs one step on `params` with `velocities`.
    def torch_sgd(**kwargs: Any) -> Callable[[], object]:
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, **kwargs)
        return with_velocities(opt, params, velocities).step

    compiled = MomentumSGD(params, lr=lr, momentum=momentum, impl=compiled_impl)
    return {
        "d2l verbatim": lambda: d2l_verbatim_step(params, velocities, hyperparams),
        "in-place loop": lambda: in_place_step(params, velocities, hyperparams),
        "foreach": torch_sgd(foreach=True),
        "fused": torch_sgd(fused=True),
        "compiled": with_velocities(compiled, params, velocities).step,
    }
