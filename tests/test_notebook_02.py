"""Notebook 02 (stochastic gradient descent): its ``sgd`` must behave exactly like the library's.

The notebook derives ``sgd(params, states, hyperparams)`` line by line; ``helpers.optim.sgd`` ships
the same function with argument checks. ``notebook_code.load_definitions`` runs only the
notebook's imports and its ``def sgd``, and these tests compare the two bit for bit (and with
``torch.optim.SGD``) so that neither can drift from the other. Further tests run two exercise
solutions outside the notebook and check its structure: a core path of at most 2000 words, optional
blocks that open properly, solutions that do not redefine the learner's functions, and ``t`` as the
step index in the text.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import problems
import pytest
import torch
from notebook_code import defined_names, load_definitions
from problems import leaves

import helpers.optim

NB_SGD = load_definitions("02_stochastic_gradient_descent.ipynb", ["sgd"])["sgd"]

# A scalar, small tensors, and one large enough (4096 elements) that CPU kernels take their
# vectorized path, where a differently rounded update (e.g. p.sub_(lr * g)) would show up.
SHAPES = [(), (7,), (3, 4), (64, 64)]
DTYPES = [torch.float32, torch.float64]
LRS = [0.1, 0.013, 0.5, 0.0, 1e-3]


def make_problem(dtype: torch.dtype, seed: int):
    """Params of several shapes, plus one that never gets a gradient, and a nonlinear loss."""
    params, loss = problems.make_problem(dtype, seed, SHAPES)
    unused = torch.randn(5, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return params + [unused], lambda ps: loss(ps[: len(SHAPES)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_notebook_sgd_equals_helpers_and_torch_bit_for_bit(dtype, seed):
    init, loss = make_problem(dtype, seed)
    ours, lib, theirs = leaves(init), leaves(init), leaves(init)
    opt = torch.optim.SGD(theirs, lr=LRS[0])
    for step in range(3 * len(LRS)):
        lr = LRS[step % len(LRS)]
        for params in (ours, lib, theirs):
            loss(params[:-1]).backward()  # the last param takes no part in the loss
        NB_SGD(ours, None, {"lr": lr})
        helpers.optim.sgd(lib, None, {"lr": lr})
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        opt.zero_grad()
        for p, q, r in zip(ours, lib, theirs, strict=True):
            assert torch.equal(p, q), f"notebook sgd != helpers.optim.sgd at step {step}"
            assert torch.equal(p, r), f"notebook sgd != torch.optim.SGD at step {step}"
    assert not torch.equal(ours[0], init[0])  # the params did move


@pytest.mark.parametrize("dtype", DTYPES)
def test_notebook_sgd_step_is_the_formula(dtype):
    """One step on arbitrary grads: p <- p - lr * g, computed as p.add(g, alpha=-lr)."""
    gen = torch.Generator().manual_seed(3)
    params = [torch.randn(s, generator=gen, dtype=dtype).requires_grad_() for s in SHAPES]
    grads = [torch.randn(s, generator=gen, dtype=dtype) for s in SHAPES]
    expected = [torch.add(p.detach(), g, alpha=-0.37) for p, g in zip(params, grads, strict=True)]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    NB_SGD(params, None, {"lr": 0.37})
    for p, e in zip(params, expected, strict=True):
        assert torch.equal(p.detach(), e)


def test_notebook_sgd_zeroes_grads_in_place_and_skips_missing_grads():
    init, loss = make_problem(torch.float32, 4)
    params = leaves(init)
    loss(params[:-1]).backward()
    grad_objects = [p.grad for p in params[:-1]]
    unused_before = params[-1].detach().clone()
    NB_SGD(params, None, {"lr": 0.1})
    for p, g in zip(params[:-1], grad_objects, strict=True):
        assert p.grad is g, "the grad tensor should be zeroed in place, not replaced"
        assert torch.count_nonzero(p.grad) == 0
    assert params[-1].grad is None
    assert torch.equal(params[-1].detach(), unused_before)
    assert all(p.is_leaf and p.requires_grad and p.grad_fn is None for p in params)


def test_notebook_sgd_lr_zero_freezes_params_but_still_zeroes_grads():
    init, loss = make_problem(torch.float64, 5)
    params = leaves(init)
    loss(params[:-1]).backward()
    NB_SGD(params, None, {"lr": 0.0})
    for p, q in zip(params, init, strict=True):
        assert torch.equal(p.detach(), q)
    assert all(torch.count_nonzero(p.grad) == 0 for p in params[:-1])


def test_notebook_sgd_ignores_states():
    init, loss = make_problem(torch.float32, 6)
    a, b = leaves(init), leaves(init)
    states = [torch.full_like(p, 7.0) for p in b]
    for params, st in ((a, None), (b, states)):
        loss(params[:-1]).backward()
        NB_SGD(params, st, {"lr": 0.2})
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert all(torch.equal(s, torch.full_like(s, 7.0)) for s in states)  # left untouched


# ----------------------------------------------------------------------------------------------
# Exercise solutions, run outside the notebook
# ----------------------------------------------------------------------------------------------

SOLUTIONS = load_definitions(
    "02_stochastic_gradient_descent.ipynb",
    ["sgd_fixed_solution", "minibatch_variance_solution"],
)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_fixed_solution_equals_notebook_sgd_bit_for_bit(dtype):
    init, loss = make_problem(dtype, 7)
    ours, fixed = leaves(init), leaves(init)
    for step in range(2 * len(LRS)):
        lr = LRS[step % len(LRS)]
        for params in (ours, fixed):
            loss(params[:-1]).backward()
        NB_SGD(ours, None, {"lr": lr})
        SOLUTIONS["sgd_fixed_solution"](fixed, None, {"lr": lr})
        assert all(torch.equal(p, q) for p, q in zip(ours, fixed, strict=True)), step
        assert all(torch.count_nonzero(p.grad) == 0 for p in fixed[:-1])
        assert fixed[-1].grad is None


@pytest.mark.parametrize(("n", "seed"), [(5, 0), (8, 1)])
def test_minibatch_variance_solution_is_the_exact_average_over_all_minibatches(n, seed):
    grads = np.random.default_rng(seed).standard_normal((n, 3))
    mean = grads.mean(axis=0)
    for batch_size in range(1, n + 1):
        exact = np.mean(
            [
                np.sum((grads[list(s)].mean(axis=0) - mean) ** 2)
                for s in itertools.combinations(range(n), batch_size)
            ]
        )
        value = SOLUTIONS["minibatch_variance_solution"](grads, batch_size)
        assert math.isclose(value, exact, rel_tol=1e-12, abs_tol=1e-15), batch_size
    # At B = N the minibatch is the whole data set: no variance at all.
    assert SOLUTIONS["minibatch_variance_solution"](grads, n) == 0


# ----------------------------------------------------------------------------------------------
# Structure: core length, optional blocks, exercises
# ----------------------------------------------------------------------------------------------

NOTEBOOK = (
    Path(__file__).resolve().parent.parent / "notebooks" / ("02_stochastic_gradient_descent.ipynb")
)


def cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_solutions_do_not_redefine_the_learners_functions():
    learner, solutions = set(), set()
    for cell in cells():
        if cell["cell_type"] == "code":
            (solutions if "solution" in tags(cell) else learner).update(
                defined_names("".join(cell["source"]))
            )
    assert not learner & solutions, learner & solutions
    for name in ("minibatch_variance", "sgd_fixed", "predict_next_loss", "design_schedule"):
        assert name in learner and f"{name}_solution" in solutions, name


def test_markdown_uses_t_as_the_step_index():
    for i, cell in enumerate(cells()):
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            assert not re.search(r"_k\b|_\{k|_{k\+1}|\\eta_k", text), (i, text[:80])
