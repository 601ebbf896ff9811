"""Notebook 01 derives gd_rate, gd_optimal and steps_to_tol; they must stay equal to helpers'.

It previews heavy ball with the course's one simulator, ``heavy_ball_path``: if the notebook
defines it, the definition must match helpers.quadratic's; otherwise it must import that one.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter

import numpy as np
import pytest
from notebook_code import cells as notebook_cells
from notebook_code import load_definitions

from helpers import quadratic

NAME = "01_gradient_descent.ipynb"
NB = load_definitions(NAME, ["gd_rate", "gd_optimal", "steps_to_tol"])


def top_level_nodes() -> list[ast.stmt]:
    sources = ["".join(c["source"]) for c in notebook_cells(NAME) if c["cell_type"] == "code"]
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


def cells() -> list[dict]:
    return notebook_cells(NAME)


def stored_output(label: str) -> str:
    [cell] = [c for c in cells() if c["metadata"].get("label") == label]
    return "".join("".join(o.get("text", "")) for o in cell["outputs"])


def gd_steps_to(eigvals, x0, lr, tol, limit=20_000):
    """Steps until ||x_t|| <= tol ||x_0||, by a plain loop (norms fall monotonically here)."""
    x, t, target = np.array(x0, dtype=float), 0, tol * np.linalg.norm(x0)
    while np.linalg.norm(x) > target:
        x, t = x - lr * (np.asarray(eigvals) * x), t + 1
        assert t < limit
    return t


def test_step_count_table_row_for_the_no_zigzag_step():
    # lr = 1/L = 0.25 on the valley: x2 is 0 after one step, x1 shrinks by 0.95, so GD needs
    # ceil(log(tol ||x0|| / 9) / log 0.95) = 270 steps; the stored table says so.
    t = gd_steps_to([0.2, 4.0], [-9.0, 1.5], 0.25, 1e-6)
    assert t == math.ceil(math.log(1e-6 * math.hypot(9.0, 1.5) / 9.0) / math.log(0.95)) == 270
    rows = {line.split()[0]: line.split() for line in stored_output("01-step-counts").splitlines()}
    assert rows["0.250"][-2:] == ["270", "270"]
    assert rows["0.476"][-2:] == ["139", "139"]


def test_kappa_table_counts_are_simulated_counts():
    # At eta* on diag(1, kappa) from (1, 1); the table is in the core, stored for the deck.
    table = stored_output("01-kappa-iterations")
    for kappa in (10, 20, 100, 1000):
        t = gd_steps_to([1.0, kappa], [1.0, 1.0], 2 / (1 + kappa), 1e-6)
        assert f"kappa = {kappa:5d}: {t:5d} iterations" in table


def test_by_hand_exercise_comes_before_any_code_that_reveals_it():
    nb_cells = cells()
    [hand] = [i for i, c in enumerate(nb_cells) if "Exercise 1" in "".join(c["source"])]
    first_run = next(i for i, c in enumerate(nb_cells) if c["metadata"].get("label"))
    assert hand < first_run  # the regimes table (x_1..x_4 at 0.5 and 1.5) comes after it
    before = "".join("".join(c["source"]) for c in nb_cells[:hand])
    for iterate in ("0.125", "-0.5", "0.25"):
        assert iterate not in before
    # The learner's cell starts empty; the solution is what x <- (1 - p) x gives.
    sources = ["".join(c["source"]) for c in nb_cells if c["cell_type"] == "code"]
    assert any(re.search(r"^by_hand = None\b", src, re.M) for src in sources)
    [solution] = [
        node.value
        for src in sources
        for node in ast.parse(src).body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == "by_hand_solution"
    ]
    iterates_05, iterates_15, faster = ast.literal_eval(solution)
    x05, x15 = 1.0, 1.0
    for k in range(3):
        x05, x15 = (1 - 0.5) * x05, (1 - 1.5) * x15
        assert iterates_05[k] == x05 and iterates_15[k] == x15
    assert faster == "same" and abs(x05) == abs(x15)


def test_design_exercise_answer_is_what_the_solution_claims():
    # Exercise 3: the steps for which ||x_100|| <= 1e-6 ||x_0|| from every start, found here
    # by brute force (GD from the worst starts, the two eigenvectors, on a fine grid of steps).
    solution = load_definitions(NAME, ["step_range_solution"])["step_range_solution"]
    grid = np.arange(0.10, 0.20, 1e-5)
    x = np.ones((grid.size, 2, 1)) * np.eye(2)  # per step size: the starts e1 and e2 (columns)
    for _ in range(100):  # 100 GD steps for every step size at once
        x = x - grid[:, None, None] * (np.diag([1.0, 10.0]) @ x)
    ok = np.linalg.norm(x, axis=1).max(axis=1) <= 1e-6
    inside = grid[ok]
    assert ok[np.flatnonzero(ok)[0] : np.flatnonzero(ok)[-1] + 1].all()  # one interval
    low, high = solution(1.0, 10.0, 100, 1e-6)
    assert abs(inside[0] - low) <= 1e-5 and abs(inside[-1] - high) <= 1e-5
    # Our valley in 100 steps: no step works, since even eta* needs 139 > 100.
    low, high = solution(0.2, 4.0, 100, 1e-6)
    assert low > high
    assert gd_steps_to([0.2, 4.0], [1.0, 0.0], 2 / 4.2, 1e-6) > 100


def test_predict_exercise_answer_is_what_the_solution_claims():
    # Exercise 4: GD at lr = 1/kappa on diag(1, kappa) from (1, 1), counted by a plain loop.
    solution = load_definitions(NAME, ["cautious_iterations_solution"])
    for kappa in (10, 20, 100, 1000):
        t = gd_steps_to([1.0, kappa], [1.0, 1.0], 1 / kappa, 1e-6)
        assert solution["cautious_iterations_solution"](kappa, 1e-6) == t


def test_heavy_ball_rate_is_quoted_as_it_rounds():
    # (sqrt 20 - 1)/(sqrt 20 + 1) = 0.63451... is 0.635 to three places, not 0.634.
    text = "".join("".join(c["source"]) for c in cells() if c["cell_type"] == "markdown")
    rho = (math.sqrt(20) - 1) / (math.sqrt(20) + 1)
    assert f"{rho:.3f}" == "0.635"
    assert "0.635" in text and "0.634" not in text
