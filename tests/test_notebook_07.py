"""Notebook 07's own definitions, checked against helpers/ and torch.optim.

The notebook defines an optimizer factory, the quadratic model's limit on the learning rate, a
1cycle scheduler factory and the exercise solutions. These tests run those definitions
(``tests/notebook_code.py``) outside the notebook, so they cannot drift from the course's
helpers, from ``torch.optim.SGD`` or from ``torch.optim.lr_scheduler.OneCycleLR``.
"""

from __future__ import annotations

import math

import numpy as np
import problems
import pytest
import torch
from notebook_code import load_definitions
from problems import leaves

from helpers.optim import MomentumSGD
from helpers.quadratic import gd_rate, heavy_ball_path, heavy_ball_rate

NAMES = [
    "heavy_ball_optimizer",
    "quadratic_lr_limit",
    "one_cycle",
    "settled_step",
    "check_exercise_1",
    "matched_lrs_solution",
    "same_lr_everywhere",
    "verdict_solution",
]


@pytest.fixture(scope="module")
def nb():
    return load_definitions("07_training_networks.ipynb", NAMES)


def run(factory, steps=15, make_scheduler=None, seed=0):
    """Optimise the shared test problem with an optimizer factory; return params and the lrs."""
    start, loss = problems.make_problem(torch.float64, seed, [(4, 3), (5,)])
    params = leaves(start)
    optimizer = factory(params)
    scheduler = make_scheduler(optimizer) if make_scheduler else None
    seen = []
    for _ in range(steps):
        seen.append((optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["momentum"]))
        optimizer.zero_grad()
        loss(params).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return params, seen


@pytest.mark.parametrize("lr, beta", [(0.1, 0.0), (0.05, 0.9), (0.3, 0.5)])
def test_heavy_ball_optimizer_is_torch_sgd(nb, lr, beta):
    factory = nb["heavy_ball_optimizer"](lr, beta)
    assert isinstance(factory([torch.zeros(1, requires_grad=True)]), MomentumSGD)
    ours, _ = run(factory)
    theirs, _ = run(lambda p: torch.optim.SGD(p, lr, momentum=beta))
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.75, 0.9, 0.9375, 0.99])
@pytest.mark.parametrize("lam", [0.1, 1.0, 7.0])
def test_quadratic_lr_limit_is_the_stability_edge(nb, beta, lam):
    limit = nb["quadratic_lr_limit"](beta, lam)
    assert (
        heavy_ball_rate(0.999 * limit, beta, [lam])
        < 1
        <= heavy_ball_rate(1.001 * limit, beta, [lam])
    )

    # By simulation: just below the limit the error shrinks, just above it grows.
    def grad(e):
        return lam * e

    below = heavy_ball_path(grad, [1.0], 0.98 * limit, beta, 3000)
    above = heavy_ball_path(grad, [1.0], 1.02 * limit, beta, 3000, blow_up=1e6)
    assert abs(below[-1, 0]) < 1e-3 and np.abs(above).max() > 1e3
    if beta == 0.0:
        assert gd_rate(0.999 * limit, [lam]) < 1 <= gd_rate(1.001 * limit, [lam])


@pytest.mark.parametrize("max_lr", [0.1, 0.5])  # larger peaks diverge on this problem
def test_one_cycle_drives_momentum_sgd_like_torch_sgd(nb, max_lr):
    steps = 20
    make = nb["one_cycle"](max_lr, True, steps)
    ours, schedule = run(nb["heavy_ball_optimizer"](max_lr, 0.9), steps, make)
    theirs, torch_schedule = run(lambda p: torch.optim.SGD(p, max_lr, momentum=0.9), steps, make)
    assert schedule == torch_schedule
    assert all(torch.isfinite(a).all() for a in ours)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    lrs, moms = np.array(schedule).T
    peak = int(np.argmax(lrs))
    assert 0 < peak < steps - 1 and int(np.argmin(moms)) == peak
    assert math.isclose(lrs[peak], max_lr) and math.isclose(moms[peak], 0.85)
    assert math.isclose(moms[0], 0.95) and math.isclose(lrs[0], max_lr / 25)


def test_one_cycle_without_cycling_keeps_the_momentum(nb):
    _, schedule = run(nb["heavy_ball_optimizer"](0.1, 0.85), 20, nb["one_cycle"](0.1, False, 20))
    assert {m for _, m in schedule} == {0.85}


def test_settled_step_matches_the_steady_state(nb):
    # Heavy ball on a constant gradient: the step tends to lr / (1 - beta) (helpers simulator).
    path = heavy_ball_path(lambda x: np.ones_like(x), [0.0], 0.02, 0.9, 300)
    assert math.isclose(path[-2, 0] - path[-1, 0], nb["settled_step"](0.02, 0.9), rel_tol=1e-12)
    assert math.isclose(nb["settled_step"](0.02, 0.9), 0.2, rel_tol=1e-9)
    assert math.isclose(nb["settled_step"](0.2, 0.9, variant="ema"), 0.2, rel_tol=1e-9)


def test_exercise_1_check_accepts_the_design_and_rejects_near_misses(nb):
    check, solution = nb["check_exercise_1"], nb["matched_lrs_solution"]
    assert check(solution)
    assert not check(nb["same_lr_everywhere"])
    assert not check(lambda lr, b: (lr * (1 - b), lr, lr))  # Nesterov left at SGD's lr
    assert not check(lambda lr, b: (lr * (1 - b), lr * (1 - b), lr * (1 - b)))  # EMA rescaled
    assert not check(lambda lr, b: None)


def test_verdict_solution(nb):
    verdict = nb["verdict_solution"]
    assert verdict([2.3, 0.5, 0.09], 0.1, 23.0) == 3
    assert verdict([2.3, 30.0, 0.05], 0.1, 23.0) == "diverged"
    assert verdict([2.3, float("nan")], 0.1, 23.0) == "diverged"
    assert verdict([2.3, 1.0], 0.1, 23.0) == "never"
