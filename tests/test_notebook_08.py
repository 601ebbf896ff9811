"""Notebook 08's definitions and its step variants, checked against torch.optim.SGD.

The notebook counts the bytes each way of writing a momentum step moves (``CountBytes``), and
its exercises ask for a count by hand, byte predictions, an in-place Nesterov step and an EMA
step in at most 32 bytes. These tests run those definitions (``tests/notebook_code.py``) and
the step variants it imports from ``helpers.step_variants`` (which the benchmark times too) on
small CPU tensors, so the counts the text relies on and the worked solutions cannot drift.
"""

from __future__ import annotations

import ast
import json

import pytest
import torch
from notebook_code import NOTEBOOKS, defined_names, load_definitions

from helpers.optim import init_momentum_states, sgd_momentum, sgd_momentum_ema
from helpers.selfcheck import NotStarted
from helpers.step_variants import d2l_verbatim_step, in_place_step, step_variants

NOTEBOOK = NOTEBOOKS / "08_fast_optimizer_steps.ipynb"
NAMES = [
    "tensor_bytes",
    "same_memory",
    "CountBytes",
    "check_by_hand",
    "nesterov_step_solution",
    "naive_ema_step",
    "ema_step_solution",
]
HYPERPARAMS = {"lr": 0.01, "momentum": 0.9}


@pytest.fixture(scope="module")
def nb():
    return load_definitions(NOTEBOOK.name, NAMES)


def cells():
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def make_params(sizes=(1000, 37), seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = []
    for size in sizes:
        p = torch.randn(size, generator=gen).requires_grad_()
        p.grad = torch.randn(size, generator=gen)
        params.append(p)
    return params


def bytes_per_element(nb, step, params):
    with nb["CountBytes"]() as counter:
        step()
    return (counter.read + counter.written) / sum(p.numel() for p in params), counter.ops


def torch_step(params, velocities=None, **kwargs):
    optimizer = torch.optim.SGD(params, lr=0.01, **kwargs)
    for p, v in zip(params, velocities or [], strict=False):
        optimizer.state[p]["momentum_buffer"] = v
    return optimizer.step


# ----------------------------------------------------------------------------------------------
# The byte counts of sections 3 and 4 and of the summary
# ----------------------------------------------------------------------------------------------


def test_byte_counts_of_the_five_ways_and_sgd_momentum(nb):
    params = make_params()
    velocities = init_momentum_states(params)
    momentum = {"momentum": 0.9}
    steps = {
        "d2l verbatim": lambda: d2l_verbatim_step(params, velocities, HYPERPARAMS),
        "in-place loop": lambda: in_place_step(params, velocities, HYPERPARAMS),
        "torch default": torch_step(params, velocities, foreach=False, **momentum),
        "foreach": torch_step(params, velocities, foreach=True, **momentum),
        "fused": torch_step(params, velocities, fused=True, **momentum),
        "sgd_momentum": lambda: sgd_momentum(params, velocities, HYPERPARAMS),
    }
    moved = {name: bytes_per_element(nb, step, params)[0] for name, step in steps.items()}
    assert moved == {
        "d2l verbatim": 48,  # 12 streams: its copy_ of p onto itself moves nothing
        "in-place loop": 32,
        "torch default": 32,
        "foreach": 32,
        "fused": 20,
        "sgd_momentum": 36,  # the summary's 32 + 4: zeroing the gradient writes g
    }


def test_a_copy_onto_the_same_memory_is_skipped_and_a_real_copy_is_counted(nb):
    p, x = torch.zeros(1000), torch.ones(1000)
    address = p.data_ptr()
    with torch.no_grad(), nb["CountBytes"]() as counter:
        p[:] -= x  # sub_ through a view, then p[:] = that view: a copy_ of p onto itself
    assert p.data_ptr() == address and torch.equal(p, -x)
    assert (counter.ops, counter.skipped) == (["sub_"], ["copy_"])
    assert counter.read + counter.written == 3 * 4000  # sub_ alone: r p x, w p
    with nb["CountBytes"]() as counter:
        p.copy_(x)  # r x, w p
        p[:500] = p[500:]  # the same storage, another place in it: a real copy
    assert counter.skipped == [] and counter.ops == ["copy_", "copy_"]
    assert counter.read + counter.written == 2 * 4000 + 2 * 2000


def test_the_in_place_loop_is_torchs_cpu_step_bit_for_bit(nb):
    mine, theirs = make_params(), make_params()
    velocities = init_momentum_states(mine)
    step = torch_step(theirs, momentum=0.9)
    for _ in range(3):
        in_place_step(mine, velocities, HYPERPARAMS)
        step()
    assert all(torch.equal(p, q) for p, q in zip(mine, theirs, strict=True))


def test_the_five_step_variants_agree_with_torch():
    # The notebook checks this on its own tensors; the benchmark, which times the same
    # functions, checks nothing, so here it is on small ones.
    reference = make_params()
    torch_default = torch_step(reference, init_momentum_states(reference), momentum=0.9)
    for _ in range(3):
        torch_default()
    names = ["d2l verbatim", "in-place loop", "foreach", "fused", "compiled"]
    for name in names:
        params = make_params()
        steps = step_variants(params, init_momentum_states(params), lr=0.01, momentum=0.9)
        assert list(steps) == names
        for _ in range(3):
            steps[name]()
        pairs = list(zip(params, reference, strict=True))
        assert all((p - q).abs().max() < 1e-5 for p, q in pairs), name
        if name == "in-place loop":
            assert all(torch.equal(p, q) for p, q in pairs)
    assert steps["compiled"].__self__.impl == "compiled"  # the notebook reads the optimizer so


def test_the_notebook_imports_the_step_variants_and_shows_the_two_loops():
    # One home for the variants: the notebook must not define them again, and it prints the
    # source of the two loops where their definitions used to be.
    sources = ["".join(c["source"]) for c in cells() if c["cell_type"] == "code"]
    defined = set().union(*(defined_names(s) for s in sources))
    shared = {"d2l_verbatim_step", "in_place_step", "with_velocities", "step_variants"}
    assert not defined & shared
    shown = next(
        c for c in cells() if "inspect.getsource(d2l_verbatim_step)" in "".join(c["source"])
    )
    printed = "".join("".join(o.get("text", "")) for o in shown["outputs"])
    assert "v[:] = hyperparams" in printed and "v.mul_(momentum).add_(p.grad)" in printed


# ----------------------------------------------------------------------------------------------
# Exercises
# ----------------------------------------------------------------------------------------------


def solution_value(name):
    # A solution cell assigns `name` a tuple or dict of plain arithmetic: evaluate it alone.
    for cell in cells():
        if cell["cell_type"] != "code" or "solution" not in tags(cell):
            continue
        for node in ast.parse("".join(cell["source"])).body:
            if isinstance(node, ast.Assign) and node.targets[0].id == name:
                return eval(compile(ast.Expression(node.value), "cell", "eval"), {})
    raise LookupError(f"no {name}")


def test_by_hand_solution_is_what_torchs_steps_move_and_the_check_can_fail(nb):
    # Exercise 1: plain SGD as one pass (torch's fused kernel), then with weight decay as
    # torch's per-tensor loop runs it (add into a new d, then add_).
    params = make_params()
    one_pass, ops = bytes_per_element(nb, torch_step(params, fused=True), params)
    assert ops == ["_fused_sgd_"]
    params = make_params()
    step = torch_step(params, foreach=False, weight_decay=0.1)
    weight_decay_loop, ops = bytes_per_element(nb, step, params)
    assert ops[:2] == ["add", "add_"]  # the two kernels the exercise quotes
    answer = solution_value("by_hand_solution")
    assert answer == (one_pass, weight_decay_loop) == (12, 24)
    check = nb["check_by_hand"]
    assert check(answer) is None and check(list(answer)) is None
    with pytest.raises(NotStarted):
        check(None)
    assert "weight-decay count is too large" in check((12, 32))
    assert "one-pass count is too small" in check((8, 24))
    assert "two numbers" in check(12)


def test_predicted_bytes_solution_matches_torchs_steps(nb):
    counted = {}
    for name, path in {"Nesterov": {"foreach": False}, "Nesterov, fused": {"fused": True}}.items():
        params = make_params()
        velocities = init_momentum_states(params)
        step = torch_step(params, velocities, momentum=0.9, nesterov=True, **path)
        counted[name], ops = bytes_per_element(nb, step, params)
        if name == "Nesterov":
            assert ops[:4] == ["mul_", "add_", "add", "add_"]  # the lines the exercise quotes
    expected = {"Nesterov": 44, "Nesterov, fused": 20}
    assert solution_value("predicted_bytes_solution") == counted == expected


def test_nesterov_solution_equals_torch_bit_for_bit_in_place(nb):
    gen = torch.Generator().manual_seed(1)
    mine = make_params((1000, 300, 7), seed=1)
    theirs = [p.detach().clone().requires_grad_() for p in mine]
    states = init_momentum_states(mine)
    optimizer = torch.optim.SGD(theirs, lr=0.05, momentum=0.8, nesterov=True)
    for _ in range(3):
        for p, q in zip(mine, theirs, strict=True):
            g = torch.randn(p.shape, generator=gen)
            p.grad, q.grad = g.clone(), g.clone()
        _, ops = bytes_per_element(
            nb,
            lambda: nb["nesterov_step_solution"](mine, states, {"lr": 0.05, "momentum": 0.8}),
            mine,
        )
        optimizer.step()
        assert all(op.endswith("_") for op in ops), ops  # in place: no new tensor
    assert all(torch.equal(p, q) for p, q in zip(mine, theirs, strict=True))


def test_ema_solution_moves_32_bytes_and_equals_the_course_ema(nb):
    params, reference = make_params(seed=2), make_params(seed=2)
    states, reference_states = init_momentum_states(params), init_momentum_states(reference)
    hyperparams = {"lr": 0.1, "momentum": 0.7}
    moved, _ = bytes_per_element(
        nb, lambda: nb["ema_step_solution"](params, states, hyperparams), params
    )
    other = make_params(seed=3)
    other_states = init_momentum_states(other)
    naive, _ = bytes_per_element(
        nb, lambda: nb["naive_ema_step"](other, other_states, hyperparams), other
    )
    assert (moved, naive) == (32, 40)
    sgd_momentum_ema(reference, reference_states, hyperparams)  # same kernels, then zero grads
    assert all(torch.equal(p, q) for p, q in zip(params, reference, strict=True))
    assert all(torch.equal(v, w) for v, w in zip(states, reference_states, strict=True))


# ----------------------------------------------------------------------------------------------
# Structure: solutions that do not redefine the learner's names (core length and optional
# blocks: tests/test_course_structure.py)
# ----------------------------------------------------------------------------------------------


def test_solutions_define_only_solution_names():
    learner, solutions = set(), set()
    for cell in cells():
        if cell["cell_type"] == "code":
            (solutions if "solution" in tags(cell) else learner).update(
                defined_names("".join(cell["source"]))
            )
    assert solutions, "no solution cells"
    assert all(name.endswith("_solution") for name in solutions), solutions
    for name in ("by_hand", "predicted_bytes", "nesterov_step", "ema_step"):
        assert name in learner and f"{name}_solution" in solutions


def test_summary_states_the_measured_sgd_momentum_count():
    summary = next(
        "".join(c["source"]) for c in cells() if "".join(c["source"]).startswith("## Summary")
    )
    assert "`sgd_momentum` streams 36" in summary and "32 bytes" in summary
    assert "sgd_momentum` streams 32" not in summary
