"""Notebook 08's own definitions, checked against torch.optim.SGD and helpers.optim.

The notebook counts the bytes each way of writing a momentum step moves (``CountBytes``), and
its exercises ask for a floor formula, byte predictions, an in-place Nesterov step and a
32-byte EMA step. These tests run those definitions (``tests/notebook_code.py``) on small CPU
tensors, so the counts the text relies on and the worked solutions cannot drift.
"""

from __future__ import annotations

import ast
import json

import pytest
import torch
from notebook_code import NOTEBOOKS, defined_names, load_definitions

from helpers.optim import init_momentum_states, sgd_momentum, sgd_momentum_ema

NOTEBOOK = NOTEBOOKS / "08_fast_optimizer_steps.ipynb"
NAMES = [
    "tensor_bytes",
    "CountBytes",
    "d2l_verbatim_step",
    "in_place_step",
    "floor_ms_solution",
    "check_floor_ms",
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
        "d2l verbatim": lambda: nb["d2l_verbatim_step"](params, velocities, HYPERPARAMS),
        "in-place loop": lambda: nb["in_place_step"](params, velocities, HYPERPARAMS),
        "torch default": torch_step(params, velocities, foreach=False, **momentum),
        "foreach": torch_step(params, velocities, foreach=True, **momentum),
        "fused": torch_step(params, velocities, fused=True, **momentum),
        "sgd_momentum": lambda: sgd_momentum(params, velocities, HYPERPARAMS),
    }
    moved = {name: bytes_per_element(nb, step, params)[0] for name, step in steps.items()}
    assert moved == {
        "d2l verbatim": 56,
        "in-place loop": 32,
        "torch default": 32,
        "foreach": 32,
        "fused": 20,
        "sgd_momentum": 36,  # the summary's 32 + 4: zeroing the gradient writes g
    }


def test_the_in_place_loop_is_torchs_cpu_step_bit_for_bit(nb):
    mine, theirs = make_params(), make_params()
    velocities = init_momentum_states(mine)
    step = torch_step(theirs, momentum=0.9)
    for _ in range(3):
        nb["in_place_step"](mine, velocities, HYPERPARAMS)
        step()
    assert all(torch.equal(p, q) for p, q in zip(mine, theirs, strict=True))


# ----------------------------------------------------------------------------------------------
# Exercises
# ----------------------------------------------------------------------------------------------


def test_floor_ms_solution_passes_and_the_check_can_fail(nb):
    check = nb["check_floor_ms"]
    assert check(nb["floor_ms_solution"])
    assert not check(lambda shapes, bandwidth_gbs, bytes_per_element=20: None)  # the stub
    assert not check(  # seconds, not milliseconds
        lambda shapes, bw, b=20: nb["floor_ms_solution"](shapes, bw, b) / 1e3
    )
    assert not check(  # the bytes per element ignored
        lambda shapes, bw, b=20: nb["floor_ms_solution"](shapes, bw)
    )


def predicted_bytes_solution():
    # The solution cell assigns a dict of plain arithmetic: evaluate that expression alone.
    for cell in cells():
        if cell["cell_type"] != "code" or "solution" not in tags(cell):
            continue
        for node in ast.parse("".join(cell["source"])).body:
            if isinstance(node, ast.Assign) and node.targets[0].id == "predicted_bytes_solution":
                return eval(compile(ast.Expression(node.value), "cell", "eval"), {})
    raise LookupError("no predicted_bytes_solution")


def test_predicted_bytes_solution_matches_torchs_steps(nb):
    counted = {}
    params = make_params()
    counted["plain SGD"] = bytes_per_element(nb, torch_step(params, foreach=False), params)[0]
    params = make_params()
    step = torch_step(
        params, init_momentum_states(params), momentum=0.9, nesterov=True, foreach=False
    )
    counted["Nesterov"], ops = bytes_per_element(nb, step, params)
    assert ops[:4] == ["mul_", "add_", "add", "add_"]  # the lines the exercise quotes
    assert predicted_bytes_solution() == counted == {"plain SGD": 12, "Nesterov": 44}


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
    for name in ("floor_ms", "predicted_bytes", "nesterov_step", "ema_step"):
        assert name in learner and f"{name}_solution" in solutions


def test_summary_states_the_measured_sgd_momentum_count():
    summary = next(
        "".join(c["source"]) for c in cells() if "".join(c["source"]).startswith("## Summary")
    )
    assert "`sgd_momentum` streams 36" in summary and "32 bytes" in summary
    assert "sgd_momentum` streams 32" not in summary
