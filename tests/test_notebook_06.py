"""Notebook 06's own definitions, checked against helpers.optim and torch.optim.SGD.

The notebook derives an lr-inside optimizer, the source pages' NumPy ``Momentum`` class,
Nesterov's look-ahead form, and the exercise solutions. These tests run those definitions
(``tests/notebook_code.py``) so they cannot drift from the course's helpers or from torch. They
also check the notebook's claims on general problems: the two ways torch.optim.SGD follows
lr-inside code under a schedule (a rescaled buffer, a scheduled momentum), the answers of the
by-hand and predict exercises, and the decoupled weight decay that matches a coupled one.
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
    "lr_inside_momenta_solution",
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


def test_warm_up_exercise_by_hand():
    # Exercise 1: beta = 0.5, rates 0.1, 0.1, 0.2 on f(x) = x; the worked solution's numbers.
    lrs = [Fraction(1, 10), Fraction(1, 10), Fraction(1, 5)]
    x_out, x_in = exact_by_simulation(lrs, Fraction(1, 2))
    assert (x_out, x_in) == (Fraction(-3, 5), Fraction(-21, 40))
    # The last steps: outside -0.2 * 1.75 = -0.35, inside -0.275; outside is the longer one.
    x2_out, x2_in = exact_by_simulation(lrs[:2], Fraction(1, 2))
    assert abs(x_out - x2_out) == Fraction(7, 20) and abs(x_in - x2_in) == Fraction(11, 40)
    assert abs(x_out - x2_out) > abs(x_in - x2_in)


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


def max_gap(ps, qs):
    return max((p - q).abs().max().item() for p, q in zip(ps, qs, strict=True))


SCHEDULE = [0.05] * 10 + [0.005] * 10 + [0.02] * 10  # a decay, then a rise


def test_schedule_separates_and_lr_inside_code_can_follow_outside(nb):
    """lr-inside code follows lr outside with Exercise 3's momenta, or with Goyal et al.'s
    momentum correction (u rescaled by lr_new / lr_old); with the same lr and momentum it
    does not."""
    init, loss = make_problem(torch.float64, seed=1)
    momenta = nb["lr_inside_momenta_solution"](SCHEDULE, 0.9)
    assert len(momenta) == len(SCHEDULE)
    assert momenta[10] == pytest.approx(0.09) and momenta[20] == pytest.approx(3.6)
    runs = {}
    for name in ("outside", "inside", "rescaled", "momenta"):
        params = leaves(init)
        states = init_momentum_states(params)
        for t, lr in enumerate(SCHEDULE):
            if name == "rescaled" and t > 0 and lr != SCHEDULE[t - 1]:
                for u in states:
                    u.mul_(lr / SCHEDULE[t - 1])
            loss(params).backward()
            step = sgd_momentum if name == "outside" else nb["sgd_momentum_lr_inside"]
            momentum = momenta[t] if name == "momenta" else 0.9
            step(params, states, {"lr": lr, "momentum": momentum})
        runs[name] = params
    assert max_gap(runs["outside"], runs["inside"]) > 1e-3
    assert max_gap(runs["outside"], runs["rescaled"]) < 1e-12
    assert max_gap(runs["outside"], runs["momenta"]) < 1e-12


def torch_following(init, loss, lrs, follow, nesterov=False):
    """torch.optim.SGD as section 1 drives it: follow None, "buffer" or "momentum"."""
    params = leaves(init)
    opt = torch.optim.SGD(params, lr=lrs[0], momentum=0.9, nesterov=nesterov)
    group = opt.param_groups[0]
    for t, lr in enumerate(lrs):
        lr_prev = lrs[t - 1] if t > 0 else lr
        group["lr"] = lr
        if follow == "buffer" and lr != lr_prev:
            for p in params:
                opt.state[p]["momentum_buffer"].mul_(lr_prev / lr)
        if follow == "momentum":
            group["momentum"] = 0.9 * lr_prev / lr
        opt.zero_grad()
        loss(params).backward()
        opt.step()
    return params


def test_torch_follows_lr_inside_code_with_a_rescaled_buffer_or_a_scheduled_momentum(nb):
    """Section 1: both conversions reproduce lr-inside code (float64 rounding only); the plain
    call with the same lr and momentum does not (an earlier text said that none could)."""
    init, loss = make_problem(torch.float64, seed=3)
    inside = leaves(init)
    states = init_momentum_states(inside)
    for lr in SCHEDULE:
        loss(inside).backward()
        nb["sgd_momentum_lr_inside"](inside, states, {"lr": lr, "momentum": 0.9})
    assert max_gap(torch_following(init, loss, SCHEDULE, None), inside) > 1e-3
    assert max_gap(torch_following(init, loss, SCHEDULE, "buffer"), inside) < 1e-12
    assert max_gap(torch_following(init, loss, SCHEDULE, "momentum"), inside) < 1e-12


def test_keras_nesterov_needs_the_buffer_not_the_momentum():
    """Section 5's table: for lr-inside Nesterov (p <- p + beta u - lr g) only the rescaled
    buffer works, because a scheduled momentum also changes torch's step g + beta v."""
    init, loss = make_problem(torch.float64, seed=4)
    keras = leaves(init)
    us = [torch.zeros_like(p) for p in keras]
    for lr in SCHEDULE:
        loss(keras).backward()
        with torch.no_grad():
            for p, u in zip(keras, us, strict=True):
                u.mul_(0.9).sub_(lr * p.grad)
                p.add_(0.9 * u - lr * p.grad)
                p.grad = None
    assert max_gap(torch_following(init, loss, SCHEDULE, "buffer", nesterov=True), keras) < 1e-12
    assert max_gap(torch_following(init, loss, SCHEDULE, "momentum", nesterov=True), keras) > 1e-4
    assert max_gap(torch_following(init, loss, SCHEDULE, None, nesterov=True), keras) > 1e-4


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
def test_sgd_nesterov_matches_torch_bit_for_bit(dtype):
    # Section 4's claim on a problem with two params of different shapes.
    init, loss = make_problem(dtype, seed=2)
    helper, theirs = leaves(init), leaves(init)
    s_helper = init_momentum_states(helper)
    opt = torch.optim.SGD(theirs, lr=0.05, momentum=0.9, nesterov=True)
    for _ in range(30):
        loss(helper).backward()
        sgd_nesterov(helper, s_helper, {"lr": 0.05, "momentum": 0.9})
        opt.zero_grad()
        loss(theirs).backward()
        opt.step()
    for h, t, vh in zip(helper, theirs, s_helper, strict=True):
        assert torch.equal(h, t) and torch.equal(vh, opt.state[t]["momentum_buffer"])


def test_exercise_nesterov_at_lr_lambda_one(nb):
    # Exercise 2: on the valley from (-5, -2), lr = 0.25 makes lr * 4 = 1 in the stiff
    # direction; torch's Nesterov puts it at 1.8, then at 0 (both roots of z^2 are 0).
    y = torch.tensor([-5.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([y], lr=0.25, momentum=0.9, nesterov=True)
    stiff = []
    for _ in range(4):
        opt.zero_grad()
        (0.5 * (torch.tensor([0.2, 4.0], dtype=torch.float64) * y**2).sum()).backward()
        opt.step()
        stiff.append(y[1].item())
    assert stiff[0] == pytest.approx(1.8, abs=1e-12)
    assert all(abs(s) < 1e-12 for s in stiff[1:])
    assert float(nb["nesterov_radius"](1.0, 0.9)) == 0.0


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


def test_decoupled_decay_ends_at_ridge_of_one_minus_beta_times_wd():
    # Section 3: decoupled wd ends at ridge((1 - beta) wd), so wd / (1 - beta) matches coupled wd.
    rng = np.random.default_rng(4)
    D = rng.standard_normal((30, 5))
    t = rng.standard_normal(30)
    H, c = D.T @ D / 30, D.T @ t / 30

    def decoupled_end(wd_dec, beta):
        p, v = np.zeros(5), np.zeros(5)
        for _ in range(2000):
            v = beta * v + (H @ p - c)
            p = p - 0.1 * v - 0.1 * wd_dec * p
        return p

    for wd, beta in ((0.1, 0.9), (0.3, 0.5)):
        ridge = np.linalg.solve(H + wd * np.eye(5), c)
        np.testing.assert_allclose(decoupled_end(wd / (1 - beta), beta), ridge, rtol=0, atol=1e-10)
        weaker = np.linalg.solve(H + (1 - beta) * wd * np.eye(5), c)
        np.testing.assert_allclose(decoupled_end(wd, beta), weaker, rtol=0, atol=1e-10)


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


def test_numpy_class_with_scheduled_momentum_follows_d2l_momentum(nb):
    # Claim 7 under a schedule: the class with the same lr and momentum leaves sgd_momentum;
    # with Exercise 3's momenta it follows it.
    A = np.diag([0.5, 2.0, 4.0])
    x0 = np.array([1.0, -2.0, 0.5])
    momenta = nb["lr_inside_momenta_solution"](SCHEDULE, 0.9)
    ends = {}
    for name in ("same", "scheduled"):
        opt, params = nb["Momentum"](lr=SCHEDULE[0], momentum=0.9), {"w": x0.copy()}
        for lr, m in zip(SCHEDULE, momenta, strict=True):
            opt.lr = lr
            opt.momentum = m if name == "scheduled" else 0.9
            opt.update(params, {"w": A @ params["w"]})
        ends[name] = params["w"]
    w = torch.tensor(x0, requires_grad=True)
    states = init_momentum_states([w])
    for lr in SCHEDULE:
        (0.5 * w @ torch.tensor(A) @ w).backward()
        sgd_momentum([w], states, {"lr": lr, "momentum": 0.9})
    np.testing.assert_allclose(ends["scheduled"], w.detach().numpy(), rtol=0, atol=1e-12)
    assert np.abs(ends["same"] - w.detach().numpy()).max() > 1e-3
