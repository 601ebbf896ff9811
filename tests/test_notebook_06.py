"""Notebook 06's own definitions, checked against helpers.optim and torch.optim.SGD.

The notebook derives an lr-inside optimizer, the source pages' NumPy ``Momentum`` class,
Nesterov's look-ahead form, and the exercise solutions. These tests run those definitions
(``tests/notebook_code.py``) so they cannot drift from the course's helpers or from torch.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import problems
import pytest
import torch
from notebook_code import load_definitions
from problems import leaves

from helpers.optim import init_momentum_states, sgd_momentum, sgd_nesterov
from helpers.quadratic import heavy_ball_path, measured_rate

NAMES = [
    "Momentum",
    "sgd_momentum_lr_inside",
    "nesterov_lookahead",
    "nesterov_radius",
    "rescale_velocity_solution",
    "nesterov_step_solution",
    "matching_decoupled_wd_solution",
]


@pytest.fixture(scope="module")
def nb():
    return load_definitions("06_conventions_and_nesterov.ipynb", NAMES)


def make_problem(dtype, seed=0):
    """Two params of different shapes and a nonlinear loss whose gradient depends on them."""
    return problems.make_problem(dtype, seed, [(4, 3), (5,)])


def assert_near(a, b, atol):
    """|a - b| <= atol elementwise (plain torch: torch.testing's first call is slow to import)."""
    assert a.shape == b.shape and (a - b).abs().max().item() <= atol


# ----------------------------------------------------------------------------------------------
# lr inside vs outside
# ----------------------------------------------------------------------------------------------


def exact_by_simulation(lrs, beta):
    """f(x) = x from 0, in exact rational arithmetic, by stepping (not by the closed forms)."""
    x_out = x_in = v = u = Fraction(0)
    for lr in lrs:
        v = beta * v + 1
        x_out -= lr * v
        u = beta * u - lr
        x_in += u
    return x_out, x_in


def test_f_equals_x_example(nb):
    lrs = [Fraction(1, 10)] * 3 + [Fraction(1, 100)]
    x_out, x_in = exact_by_simulation(lrs, Fraction(9, 10))
    assert x_out == Fraction("-0.59539")
    assert x_in == Fraction("-0.8149")

    def run(step):
        x = torch.zeros((), dtype=torch.float64, requires_grad=True)
        states = init_momentum_states([x])
        for lr in lrs:
            x.backward()  # gradient 1
            step([x], states, {"lr": float(lr), "momentum": 0.9})
        return x.item()

    assert run(sgd_momentum) == pytest.approx(float(x_out), abs=1e-14)
    assert run(nb["sgd_momentum_lr_inside"]) == pytest.approx(float(x_in), abs=1e-14)

    opt, params = nb["Momentum"](lr=0.1, momentum=0.9), {"x": np.zeros(1)}
    for lr in lrs:
        opt.lr = float(lr)
        opt.update(params, {"x": np.ones(1)})
    assert params["x"][0] == pytest.approx(float(x_in), abs=1e-14)


def test_lr_inside_equals_outside_at_constant_lr(nb):
    init, loss = make_problem(torch.float64)
    outside, inside = leaves(init), leaves(init)
    v, u = init_momentum_states(outside), init_momentum_states(inside)
    lr, beta = 0.05, 0.9
    for _ in range(50):
        loss(outside).backward()
        sgd_momentum(outside, v, {"lr": lr, "momentum": beta})
        loss(inside).backward()
        nb["sgd_momentum_lr_inside"](inside, u, {"lr": lr, "momentum": beta})
    for p, q, vi, ui in zip(outside, inside, v, u, strict=True):
        assert_near(p.detach(), q.detach(), 1e-12)
        assert_near(ui, -lr * vi, 1e-12)
        assert not q.grad.any()  # gradients are zeroed, like the course's helpers
    assert max((p - p0).abs().max().item() for p, p0 in zip(inside, init, strict=True)) > 0.1


def test_schedule_separates_and_rescaling_reconciles(nb):
    init, loss = make_problem(torch.float64, seed=1)
    lrs = [0.05] * 10 + [0.005] * 10 + [0.02] * 10
    runs = {}
    for name in ("outside", "inside", "rescaled"):
        params = leaves(init)
        states = init_momentum_states(params)
        for t, lr in enumerate(lrs):
            if name == "rescaled" and t > 0 and lr != lrs[t - 1]:
                states[0] = nb["rescale_velocity_solution"](states[0], lrs[t - 1], lr)
                states[1] = nb["rescale_velocity_solution"](states[1], lrs[t - 1], lr)
            loss(params).backward()
            step = sgd_momentum if name == "outside" else nb["sgd_momentum_lr_inside"]
            step(params, states, {"lr": lr, "momentum": 0.9})
        runs[name] = params
    gap = max(
        (p - q).abs().max().item() for p, q in zip(runs["outside"], runs["inside"], strict=True)
    )
    fixed = max(
        (p - q).abs().max().item() for p, q in zip(runs["outside"], runs["rescaled"], strict=True)
    )
    assert gap > 1e-3
    assert fixed < 1e-12


def test_lr_inside_skips_params_without_grad(nb):
    a = torch.ones(3, dtype=torch.float64, requires_grad=True)
    b = torch.ones(2, dtype=torch.float64, requires_grad=True)
    states = init_momentum_states([a, b])
    a.grad = torch.full((3,), 2.0, dtype=torch.float64)
    nb["sgd_momentum_lr_inside"]([a, b], states, {"lr": 0.1, "momentum": 0.9})
    assert torch.equal(b, torch.ones(2, dtype=torch.float64)) and not states[1].any()
    assert_near(a.detach(), torch.full((3,), 0.8, dtype=torch.float64), 1e-15)


# ----------------------------------------------------------------------------------------------
# Nesterov
# ----------------------------------------------------------------------------------------------


def test_lookahead_form_is_torch_nesterov_after_change_of_variables(nb):
    rng = np.random.default_rng(0)
    q = rng.standard_normal((4, 4))
    A = q @ q.T / 4 + 0.1 * np.eye(4)  # symmetric positive definite
    x0 = rng.standard_normal(4)
    lr, beta = 0.2, 0.9

    x, u = x0.copy(), np.zeros(4)
    y = torch.tensor(x0, requires_grad=True)
    states = init_momentum_states([y])
    for _ in range(40):
        x, u = nb["nesterov_lookahead"](lambda z: A @ z, x, u, lr, beta)
        (0.5 * y @ torch.tensor(A) @ y).backward()
        sgd_nesterov([y], states, {"lr": lr, "momentum": beta})
        # helpers' parameters are the look-ahead points; its buffer is -u / lr.
        np.testing.assert_allclose(y.detach().numpy(), x + beta * u, rtol=0, atol=1e-12)
        np.testing.assert_allclose(states[0].numpy(), -u / lr, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exercise_nesterov_solution_matches_helper_and_torch_bit_for_bit(nb, dtype):
    init, loss = make_problem(dtype, seed=2)
    ours, helper, theirs = leaves(init), leaves(init), leaves(init)
    s_ours, s_helper = init_momentum_states(ours), init_momentum_states(helper)
    opt = torch.optim.SGD(theirs, lr=0.05, momentum=0.9, nesterov=True)
    for _ in range(30):
        loss(ours).backward()
        nb["nesterov_step_solution"](ours, s_ours, {"lr": 0.05, "momentum": 0.9})
        loss(helper).backward()
        sgd_nesterov(helper, s_helper, {"lr": 0.05, "momentum": 0.9})
        opt.zero_grad()
        loss(theirs).backward()
        opt.step()
    for p, h, t, v, vh in zip(ours, helper, theirs, s_ours, s_helper, strict=True):
        assert torch.equal(p, h) and torch.equal(p, t)
        assert torch.equal(v, vh) and torch.equal(v, opt.state[t]["momentum_buffer"])


def test_nesterov_radius_matches_iteration_matrix(nb):
    rng = np.random.default_rng(3)
    for a, beta in zip(rng.uniform(0.0, 3.0, 50), rng.uniform(0.0, 0.99, 50), strict=True):
        nag = np.array([[1 - a, beta * (1 - a)], [-a, beta * (1 - a)]])  # (x, u) -> next
        expected = np.abs(np.linalg.eigvals(nag)).max()
        got = float(nb["nesterov_radius"](a, beta))
        # Repeated roots make eigvals accurate to ~sqrt(machine epsilon) only.
        assert got == pytest.approx(expected, abs=1e-6), (a, beta)


def test_nesterov_radius_is_the_rate_of_the_course_simulator(nb):
    # heavy_ball_path(nesterov=True) on f = a x^2 / 2 with lr = 1 contracts at nesterov_radius.
    for a, beta in [(1.2, 0.9), (0.8, 0.9), (0.5, 0.5), (0.06, 0.9), (1.3, 0.6)]:
        rho = float(nb["nesterov_radius"](a, beta))
        path = heavy_ball_path(lambda x, a=a: a * x, np.array([1.0]), 1.0, beta, 400, nesterov=True)
        errors = np.abs(path[:, 0])  # the slowest radius here, 0.5, leaves 1e-120: no underflow
        assert measured_rate(errors, 200, 400, window=12) == pytest.approx(rho, abs=0.01), (a, beta)
    assert float(nb["nesterov_radius"](0.7, 0.0)) == pytest.approx(0.3)  # beta = 0: GD's |1 - a|
    assert float(nb["nesterov_radius"](1.0, 0.9)) == pytest.approx(0.0, abs=1e-7)  # a = 1: gone


# ----------------------------------------------------------------------------------------------
# Weight decay and the NumPy class
# ----------------------------------------------------------------------------------------------


def test_matching_decoupled_wd_reaches_the_coupled_fixed_point(nb):
    rng = np.random.default_rng(4)
    M = rng.standard_normal((30, 5))
    t = rng.standard_normal(30)
    H, c = M.T @ M / 30, M.T @ t / 30
    for wd, beta in ((0.1, 0.9), (0.3, 0.5)):
        wd_dec = nb["matching_decoupled_wd_solution"](wd, beta)
        assert wd_dec == pytest.approx(wd / (1 - beta))
        p, v = np.zeros(5), np.zeros(5)
        for _ in range(2000):
            v = beta * v + (H @ p - c)
            p = p - 0.1 * v - 0.1 * wd_dec * p
        np.testing.assert_allclose(p, np.linalg.solve(H + wd * np.eye(5), c), rtol=0, atol=1e-10)


def test_numpy_class_is_d2l_momentum_at_constant_lr(nb):
    rng = np.random.default_rng(5)
    A = np.diag([0.5, 2.0, 4.0])
    x0 = rng.standard_normal(3)
    opt, params = nb["Momentum"](lr=0.1, momentum=0.9), {"w": x0.copy()}
    w = torch.tensor(x0, requires_grad=True)
    states = init_momentum_states([w])
    for _ in range(60):
        opt.update(params, {"w": A @ params["w"]})
        (0.5 * w @ torch.tensor(A) @ w).backward()
        sgd_momentum([w], states, {"lr": 0.1, "momentum": 0.9})
    np.testing.assert_allclose(params["w"], w.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(opt.v["w"], -0.1 * states[0].numpy(), rtol=0, atol=1e-12)
