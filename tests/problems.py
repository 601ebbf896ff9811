"""Small optimisation problems shared by the test modules (one definition, many users)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

Loss = Callable[[Sequence[torch.Tensor]], torch.Tensor]


def make_problem(
    dtype: torch.dtype, seed: int = 0, shapes: Sequence[tuple[int, ...]] = ((3, 4), (7,), (2, 3))
) -> tuple[list[torch.Tensor], Loss]:
    """Params of the given shapes and a nonlinear loss whose gradient depends on them.

    ``loss(ps) = sum(sin(w * p)**2 + 0.05 * p**4)``: every step sees new gradients, so a
    trajectory tests the update rule and not one fixed gradient.
    """
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    weights = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]

    def loss(ps: Sequence[torch.Tensor]) -> torch.Tensor:
        return sum(
            (torch.sin(w * p) ** 2).sum() + 0.05 * (p**4).sum()
            for w, p in zip(weights, ps, strict=True)
        )

    return params, loss


def leaves(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Independent copies of ``tensors`` as leaves that require grad."""
    return [t.detach().clone().requires_grad_(True) for t in tensors]


def max_diff(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """The largest absolute difference between corresponding tensors of ``a`` and ``b``."""
    return max((x - y).abs().max().item() for x, y in zip(a, b, strict=True))


def make_model(dtype: torch.dtype = torch.float32, seed: int = 0) -> nn.Module:
    """A small MLP: one architecture for every optimizer test (each new shape compiles anew)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2)).to(dtype)


def batch(k: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Minibatch ``k``: different inputs and targets at every step."""
    gen = torch.Generator().manual_seed(100 + k)
    x = torch.randn(6, 5, generator=gen, dtype=dtype)
    return x, torch.randn(6, 2, generator=gen, dtype=dtype)


def loss_of(model: nn.Module, k: int) -> torch.Tensor:
    x, y = batch(k, next(model.parameters()).dtype)
    return nn.functional.mse_loss(model(x), y)


def train(model, opt, steps: int = 8, start: int = 0, schedulers=()) -> list[float]:
    """``steps`` steps on minibatches ``start, start + 1, ...``; the losses before each step."""
    losses = []
    for k in range(start, start + steps):
        opt.zero_grad()
        loss = loss_of(model, k)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        for s in schedulers:
            s.step(loss.item()) if isinstance(s, ReduceLROnPlateau) else s.step()
    return losses


def params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]
