"""Notebook 07's own definitions, checked against helpers/ and torch.optim.

The notebook defines an optimizer factory, the quadratic model's limit on the learning rate, a
sharpness estimate, a 1cycle scheduler factory (and a step hook that drives it), the exercise
checks and solutions. These tests run those definitions (``tests/notebook_code.py``) outside the
notebook, so they cannot drift from the course's helpers, from ``torch.optim.SGD``, from
``torch.optim.lr_scheduler.OneCycleLR`` or from an exact eigenvalue computation.
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
from helpers.selfcheck import NotStarted

NAMES = [
    "heavy_ball_optimizer",
    "quadratic_lr_limit",
    "sharpness",
    "one_cycle",
    "with_schedule",
    "settled_step",
    "check_by_hand",
    "torch_twin_solution",
    "near_miss_dampening",
    "near_miss_rescaled_decay",
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


def test_one_cycle_through_the_step_hook_is_the_explicit_scheduler_loop(nb):
    # with_schedule steps the scheduler after every optimizer step, as an explicit loop does.
    steps, max_lr = 20, 0.5
    make = nb["one_cycle"](max_lr, True, steps)
    explicit, schedule = run(nb["heavy_ball_optimizer"](max_lr, 0.9), steps, make)
    hooked, hooked_schedule = run(
        nb["with_schedule"](nb["heavy_ball_optimizer"](max_lr, 0.9), make), steps
    )
    assert hooked_schedule == schedule
    assert all(torch.equal(a, b) for a, b in zip(explicit, hooked, strict=True))


@pytest.mark.parametrize("spectrum", [[0.5, 2.0, 7.0], [-1.0, 0.3, 4.0], [-9.0, 1.0, 3.0]])
def test_sharpness_is_a_lower_bound_on_the_largest_eigenvalue(nb, spectrum):
    # f(x) = x^T A x / 2 with A = Q diag(spectrum) Q^T: its Hessian is A.
    generator = torch.Generator().manual_seed(1)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    a = q @ torch.diag(torch.tensor(spectrum, dtype=torch.float64)) @ q.T
    x = torch.randn(3, generator=generator, dtype=torch.float64, requires_grad=True)
    largest = torch.linalg.eigvalsh(a).max().item()
    for iters in (1, 3, 200):
        estimate = nb["sharpness"](0.5 * x @ a @ x, [x], iters=iters)
        assert estimate <= largest + 1e-12
    if abs(max(spectrum)) > abs(min(spectrum)):  # power iteration finds the largest |eigenvalue|
        assert math.isclose(estimate, largest, rel_tol=1e-9)


def test_by_hand_check_accepts_the_matched_steps_and_names_each_miss(nb):
    check = nb["check_by_hand"]
    # SGD lr 0.6 at beta 0.9: heavy ball 0.06, EMA 0.6; heavy ball 0.05 at 0.95 is SGD lr 1.
    assert check((0.06, 0.6, 1.0)) is None
    assert check((0.6, 0.6, 1.0)) == "(a) your heavy-ball lr is too large"
    assert check((0.006, 0.6, 1.0)) == "(a) your heavy-ball lr is too small"
    assert check((0.06, 0.06, 1.0)) == "(b) your EMA lr is too small"
    assert check((0.06, 6.0, 1.0)) == "(b) your EMA lr is too large"
    assert check((0.06, 0.6, 0.05)) == "(c) your SGD lr is too small"
    assert check((0.06, 0.6, 20.0)) == "(c) your SGD lr is too large"
    assert "three numbers" in check((0.06, 0.6))
    with pytest.raises(NotStarted):
        check(None)


def test_torch_twin_solution_is_the_ema_form_with_weight_decay(nb):
    def ema(p):
        return MomentumSGD(p, 0.5, 0.9, variant="ema", weight_decay=1e-3, impl="loop")

    ours, _ = run(ema, steps=30)
    twin, _ = run(nb["torch_twin_solution"], steps=30)
    assert isinstance(
        nb["torch_twin_solution"]([torch.zeros(1, requires_grad=True)]), torch.optim.SGD
    )
    assert all(torch.allclose(a, b, rtol=0, atol=1e-12) for a, b in zip(ours, twin, strict=True))
    for near_miss in ("near_miss_dampening", "near_miss_rescaled_decay"):
        missed, _ = run(nb[near_miss], steps=30)
        assert max((a - b).abs().max().item() for a, b in zip(ours, missed, strict=True)) > 1e-6
