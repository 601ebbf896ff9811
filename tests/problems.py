"""Small optimisation problems shared by the test modules (one definition, many users)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

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
