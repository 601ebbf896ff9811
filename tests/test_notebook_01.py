"""Notebook 01 derives gd_rate, gd_optimal and steps_to_tol; they must stay equal to helpers'.

It previews heavy ball with the course's one simulator, ``heavy_ball_path``: if the notebook
defines it, the definition must match helpers.quadratic's; otherwise it must import that one.
"""

from __future__ import annotations

import ast
import json
import math
from collections import Counter

import numpy as np
import pytest
from notebook_code import NOTEBOOKS, load_definitions

from helpers import quadratic

NAME = "01_gradient_descent.ipynb"
NB = load_definitions(NAME, ["gd_rate", "gd_optimal", "steps_to_tol"])


def top_level_nodes() -> list[ast.stmt]:
    nb = json.loads((NOTEBOOKS / NAME).read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return [node for source in sources for node in ast.parse(source).body]


def defined_names() -> Counter:
    return Counter(
        node.name for node in top_level_nodes() if isinstance(node, ast.FunctionDef | ast.ClassDef)
    )


@pytest.mark.parametrize("seed", range(5))
def test_gd_rate_and_optimal_agree_with_helpers(seed):
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.01, 1.0)
    L = mu * rng.uniform(1.0, 1e3)
    eigvals = np.sort(rng.uniform(mu, L, size=6))
    assert NB["gd_optimal"](mu, L) == pytest.approx(quadratic.gd_optimal(mu, L), rel=1e-15)
    for lr in (0.0, 0.5 / L, quadratic.gd_optimal(mu, L), 2 / L, 3 / L):
        assert NB["gd_rate"](lr, eigvals) == pytest.approx(
            quadratic.gd_rate(lr, eigvals), rel=1e-15
        )


@pytest.mark.parametrize("seed", range(20))
def test_steps_to_tol_agrees_with_helpers(seed):
    # Rippling sequences (a decaying envelope times noise), so that "first dip below" and
    # "stays below" differ; tolerances include values of the sequence itself (ties).
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    errors = np.exp(-0.2 * np.arange(n)) * rng.uniform(0.2, 1.5, size=n)
    for tol in (*rng.choice(errors, size=3), 0.0, 1e-9, 0.05, 0.3, 2.0):
        mine, theirs = NB["steps_to_tol"](errors, tol), quadratic.steps_to_tol(errors, tol)
        assert mine == theirs, (errors, tol)
        assert mine is None or isinstance(mine, int)
    assert NB["steps_to_tol"](list(errors), 2.0) == 0  # a list works as well as an array


def test_steps_to_tol_means_stays_below_not_first_dip():
    ripple = [1.0, 0.3, 5e-7, 2e-6, 8e-7, 1e-7]
    assert NB["steps_to_tol"](ripple, 1e-6) == 4  # the first dip, at t = 2, does not count
    assert NB["steps_to_tol"](ripple, 1e-8) is None


def test_heavy_ball_path_is_the_course_simulator():
    if defined_names()["heavy_ball_path"]:
        hb = load_definitions(NAME, ["heavy_ball_path"])["heavy_ball_path"]
        A = np.diag([0.2, 4.0])
        x0 = np.array([-9.0, 1.5])
        lr, momentum = quadratic.heavy_ball_optimal(0.2, 4.0)
        for kwargs in ({}, {"nesterov": True}, {"blow_up": 5.0}):
            for m in (0.0, 0.5, momentum):
                np.testing.assert_array_equal(
                    hb(lambda x: A @ x, x0, 1.1 * lr, m, 80, **kwargs),
                    quadratic.heavy_ball_path(lambda x: A @ x, x0, 1.1 * lr, m, 80, **kwargs),
                )
    else:
        imported = {
            alias.name
            for node in top_level_nodes()
            if isinstance(node, ast.ImportFrom) and node.module == "helpers.quadratic"
            for alias in node.names
            if alias.asname is None
        }
        assert "heavy_ball_path" in imported


def test_no_second_simulator_or_step_counter():
    # The names this notebook used to have for the same things: gone, not kept alongside.
    names = defined_names()
    for old in ("heavy_ball", "steps_to_reach", "run_momentum", "run_quadratic"):
        assert names[old] == 0, old


def test_solutions_do_not_redefine_the_learners_functions():
    names = defined_names()
    for exercise in (
        "largest_stable_step",
        "no_zigzag_design",
        "iterations_needed",
        "edge_limit_loss",
    ):
        assert names[exercise] == 1, exercise
        assert names[f"{exercise}_solution"] == 1, exercise


def test_design_exercise_answer_is_what_the_solution_claims():
    # Exercise 2: lr = 1/L is the largest step with no zig-zag; GD then needs ceil(...) steps,
    # computed here independently of the notebook, with a plain loop.
    A, x0, tol = np.diag([0.2, 4.0]), np.array([-9.0, 1.5]), 1e-6
    x, t, target = x0.copy(), 0, tol * np.linalg.norm(x0)
    while np.linalg.norm(x) > target:
        x, t = x - 0.25 * (A @ x), t + 1
    assert t == math.ceil(math.log(tol * np.linalg.norm(x0) / 9.0) / math.log(0.95)) == 270
