"""Notebook 02 (stochastic gradient descent): its ``sgd`` must behave exactly like the library's.

The notebook derives ``sgd(params, states, hyperparams)`` line by line; ``helpers.optim.sgd`` ships
the same function with argument checks. ``notebook_code.load_definitions`` runs only the
notebook's imports and its ``def sgd``, and these tests compare the two bit for bit (and with
``torch.optim.SGD``) so that neither can drift from the other. Further tests check two exercise
solutions outside the notebook (the by-hand answer against the formula, the accumulated step
against one step on the whole batch) and the notebook's structure: solutions that do not redefine
the learner's functions, self-checks that are collapsed and start as "not started", ``t`` as the
step index and ``f`` as the loss in the text.
"""

from __future__ import annotations

import ast
import math
import re

import problems
import pytest
import torch
from notebook_code import cells as notebook_cells
from notebook_code import defined_names, load_definitions
from problems import leaves

import helpers.optim
from helpers.data import load_diabetes

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
    "02_stochastic_gradient_descent.ipynb", ["accumulated_step_solution", "batch_loss", "sgd"]
)
# The solution's globals: the notebook's float32 data and its batch size.
SOLUTIONS["batch_loss"].__globals__.update(zip(("X", "y"), load_diabetes(), strict=True))


def notebook_constant(name: str):
    """The literal a notebook cell assigns to ``name`` at top level (e.g. a by-hand answer)."""
    for cell in cells():
        if cell["cell_type"] != "code":
            continue
        for node in ast.parse("".join(cell["source"])).body:
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
                name
            ]:
                return ast.literal_eval(node.value)
    raise LookupError(name)


def test_by_hand_solution_follows_the_formula():
    """Exercise 1: sigma^2 / B for B = 2, 8, 32, and the batch size with a tenth of the error."""
    v2, v8, v32, tenth = notebook_constant("batch_noise_solution")
    for got, batch in ((v2, 2), (v8, 8), (v32, 32)):
        assert math.isclose(got, 9.6 / batch, rel_tol=1e-12), batch
    assert math.isclose(math.sqrt(9.6 / tenth), math.sqrt(9.6) / 10, rel_tol=1e-12)
    assert notebook_constant("batch_noise") is None  # the learner's cell starts empty


@pytest.mark.parametrize(("seed", "micro"), [(0, 4), (1, 2), (2, 8)])
def test_accumulated_step_solution_is_one_step_on_the_whole_batch(seed, micro):
    step, batch_loss, sgd = (
        SOLUTIONS[k] for k in ("accumulated_step_solution", "batch_loss", "sgd")
    )
    gen = torch.Generator().manual_seed(seed)
    start = [torch.randn(10, generator=gen), torch.randn((), generator=gen)]
    batch = torch.randperm(442, generator=gen)[:32]
    mine, ref, theirs = leaves(start), leaves(start), leaves(start)
    loss = step(mine, list(batch.reshape(micro, -1)), 0.1)
    ref_loss = batch_loss(*ref, batch)
    ref_loss.backward()
    sgd(ref, None, {"lr": 0.1})
    batch_loss(*theirs, batch).backward()
    torch.optim.SGD(theirs, lr=0.1).step()
    assert all(torch.equal(p, q) for p, q in zip(ref, theirs, strict=True))
    # float32: summing `micro` partial gradients rounds differently from one mean over 32.
    for p, q in zip(mine, ref, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7)
    assert not torch.equal(mine[0], start[0])
    assert all(torch.count_nonzero(p.grad) == 0 for p in mine)
    assert math.isclose(loss, ref_loss.item(), rel_tol=1e-5)


# ----------------------------------------------------------------------------------------------
# Structure: core length, optional blocks, exercises
# ----------------------------------------------------------------------------------------------

NOTEBOOK = "02_stochastic_gradient_descent.ipynb"


def cells() -> list[dict]:
    return notebook_cells(NOTEBOOK)


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_every_self_check_is_collapsed_and_starts_as_not_started():
    """A check cell ends with report(check_x, x) (bound to a name, so that only the feedback
    shows); as stored, the learner's stub is not started."""
    checks = [
        c for c in cells() if re.search(r"^right = report\(check_", "".join(c["source"]), re.M)
    ]
    assert len(checks) == 4
    for cell in checks:
        source = "".join(cell["source"]).rstrip()
        name = re.search(r"\nright = report\(check_\w+, (\w+)\)  # [^\n]*$", source)
        assert name, source[-80:]
        assert "hide-input" in tags(cell) and cell["metadata"]["jupyter"]["source_hidden"]
        printed = "".join("".join(o.get("text", "")) for o in cell["outputs"])
        shown = name.group(1).removesuffix("_answer")
        assert printed == f"not started: {shown} still returns None\n", printed


def test_the_by_hand_exercise_comes_before_the_learner_writes_code():
    order = [defined_names("".join(c["source"])) for c in cells() if c["cell_type"] == "code"]
    first_by_hand = next(i for i, names in enumerate(order) if "batch_noise" in names)
    first_sgd = next(i for i, names in enumerate(order) if "sgd" in names)
    assert first_by_hand < first_sgd


LOSS_AS_L = re.compile(r"\bL\(|L\^\\star|L_\{?\*|\\mathbb\{E\}\[L\]")


def test_markdown_uses_f_for_the_loss_and_plain_words():
    """L is the largest curvature (notebook 01), never the loss; no idioms for the noise floor."""
    for i, cell in enumerate(cells()):
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            assert not LOSS_AS_L.search(text), (i, text[:80])
        assert "noise ball" not in text.lower(), i


def test_markdown_uses_t_as_the_step_index():
    for i, cell in enumerate(cells()):
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            assert not re.search(r"_k\b|_\{k|_{k\+1}|\\eta_k", text), (i, text[:80])
