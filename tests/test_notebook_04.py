"""Notebook 04 (EMA momentum): its definitions, and the EMA / dampening relations it teaches.

The notebook's own functions are loaded with ``notebook_code.load_definitions`` (imports and
``def``s only, nothing else runs) and checked against ``helpers.optim`` and ``torch.optim.SGD``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from notebook_code import load_definitions

from helpers.data import make_linear_data
from helpers.optim import MomentumSGD, init_momentum_states, sgd_momentum_ema
from helpers.quadratic import heavy_ball_path

NB = load_definitions(
    "04_ema_momentum.ipynb",
    [
        "ema_closed_form",
        "ema_series",
        "pages_ema_loop",
        "ema_iteration_matrix",
        "predicted_errors",
        "sgd_momentum_ema_corrected",
    ],
)


def _grad_sequence(steps: int, size: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """A fixed sequence of gradients that does not depend on the parameters."""
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.standard_normal((steps, size)), dtype=dtype)


def _quadratic_problem(dtype):
    """Two parameter tensors and a loss whose gradient depends on them (a least-squares fit)."""
    gen = torch.Generator().manual_seed(1)
    A = torch.randn(20, 5, generator=gen, dtype=dtype) / 3
    b = torch.randn(20, generator=gen, dtype=dtype)
    w0 = torch.randn(5, generator=gen, dtype=dtype)
    c0 = torch.randn(1, generator=gen, dtype=dtype)

    def loss(w, c):
        return ((A @ w + c - b) ** 2).mean()

    return w0, c0, loss


# --- the notebook's definitions ------------------------------------------------------------


def test_pages_loop_matches_sgd_momentum_ema():
    """The source pages' NumPy loop and the helper follow the same path (float64)."""
    x, y = make_linear_data(100, seed=0, dtype=torch.float64)
    X_b = torch.cat([torch.ones_like(x), x], dim=1)
    theta0 = np.array([[-0.5], [1.0]])
    path = NB["pages_ema_loop"](X_b.numpy(), y.numpy(), theta0, 0.01, 0.9, 200)

    theta = torch.tensor(theta0, requires_grad=True)
    states = init_momentum_states([theta])
    for t in range(200):
        ((X_b @ theta - y) ** 2).mean().backward()
        sgd_momentum_ema([theta], states, {"lr": 0.01, "momentum": 0.9})
        np.testing.assert_allclose(theta.detach().numpy(), path[t + 1], rtol=0, atol=1e-12)


def test_iteration_matrix_predicts_the_pages_loop():
    """(e_t, v_t) = T^t (e_0, 0) for the EMA form on least squares (the notebook's analysis)."""
    x, y = make_linear_data(100, seed=0, dtype=torch.float64)
    X_b = np.c_[np.ones(100), x.numpy()[:, 0]]
    y = y.numpy()
    theta_star = np.linalg.lstsq(X_b, y, rcond=None)[0]
    theta0 = np.array([[0.0], [0.0]])
    lr, beta, t = 0.05, 0.8, 150
    path = NB["pages_ema_loop"](X_b, y, theta0, lr, beta, t)
    H = 2 / len(y) * X_b.T @ X_b
    T = NB["ema_iteration_matrix"](H, lr, beta)
    state = np.linalg.matrix_power(T, t) @ np.r_[(theta0 - theta_star)[:, 0], 0.0, 0.0]
    np.testing.assert_allclose(state[:2], (path[-1] - theta_star)[:, 0], rtol=0, atol=1e-10)


@pytest.mark.parametrize(("lr", "beta"), [(0.01, 0.9), (0.2, 0.5), (0.05, 0.99)])
def test_iteration_matrix_has_heavy_balls_eigenvalues(lr, beta):
    """T (EMA form, step lr) has the eigenvalues of notebook 05's heavy-ball matrix M with
    eta = lr (1 - beta): one 2x2 block [[1 - eta lam, -eta beta], [lam, beta]] per eigenvalue."""
    rng = np.random.default_rng(6)
    Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    lams = np.array([0.3, 1.5, 4.0])
    T = NB["ema_iteration_matrix"](Q @ np.diag(lams) @ Q.T, lr, beta)
    eta = lr * (1 - beta)
    blocks = [np.linalg.eigvals([[1 - eta * lam, -eta * beta], [lam, beta]]) for lam in lams]
    np.testing.assert_allclose(
        np.sort_complex(np.linalg.eigvals(T)), np.sort_complex(np.concatenate(blocks)), atol=1e-10
    )


def test_closed_form_from_nonzero_velocity():
    """From a nonzero v0 the helper's velocity equals beta^t v0 + (1-b) sum b^(t-i) g_i."""
    beta, lr = 0.8, 0.1
    grads = _grad_sequence(25, 3)
    v0 = torch.tensor([1.5, -2.0, 0.25], dtype=torch.float64)
    closed = NB["ema_closed_form"](v0, grads, beta)

    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    states = [v0.clone()]
    position = torch.zeros(3, dtype=torch.float64)
    for t, g in enumerate(grads, start=1):
        p.grad = g.clone()
        sgd_momentum_ema([p], states, {"lr": lr, "momentum": beta})
        # independent formula, written out here rather than taken from the notebook
        expected = beta**t * v0 + (1 - beta) * sum(
            beta ** (t - i) * grads[i - 1] for i in range(1, t + 1)
        )
        position = position - lr * expected
        np.testing.assert_allclose(states[0].numpy(), expected.numpy(), rtol=0, atol=1e-13)
        np.testing.assert_allclose(closed[t - 1].numpy(), expected.numpy(), rtol=0, atol=1e-13)
        np.testing.assert_allclose(p.detach().numpy(), position.numpy(), rtol=0, atol=1e-13)


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.98])
def test_ema_series_is_the_helper_velocity_and_lags_a_ramp(beta):
    """ema_series(s)[t] is sgd_momentum_ema's v_{t+1} fed s_0..s_t; a ramp lags beta/(1-beta)."""
    s = np.random.default_rng(5).standard_normal(40)
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    states = init_momentum_states([p])
    out = NB["ema_series"](s, beta)
    assert out.shape == s.shape
    for t, s_t in enumerate(s):
        p.grad = torch.tensor([s_t], dtype=torch.float64)
        sgd_momentum_ema([p], states, {"lr": 0.0, "momentum": beta})
        assert abs(out[t] - states[0].item()) <= 1e-15
    ramp = np.arange(4000.0)
    assert abs((ramp[-1] - NB["ema_series"](ramp, beta)[-1]) - beta / (1 - beta)) < 1e-8


@pytest.mark.parametrize(("lr", "beta"), [(0.01, 0.9), (0.2, 0.5)])
def test_predicted_errors_match_heavy_ball_path(lr, beta):
    """T^t (e_0, 0) from ema_iteration_matrix predicts heavy_ball_path(lr * (1 - beta), beta)."""
    rng = np.random.default_rng(2)
    Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    H = Q @ np.diag([0.5, 2.0, 6.0]) @ Q.T
    e0 = rng.standard_normal(3)
    path = heavy_ball_path(lambda e: H @ e, e0, lr * (1 - beta), beta, 300)
    run = np.linalg.norm(path, axis=1) / np.linalg.norm(e0)
    predicted = NB["predicted_errors"](NB["ema_iteration_matrix"](H, lr, beta), e0, 300)
    np.testing.assert_allclose(predicted, run, rtol=1e-9, atol=1e-15)


def test_adam_first_moment_is_the_ema_velocity():
    """torch.optim.Adam's exp_avg is sgd_momentum_ema's velocity (beta1) on the same gradients."""
    grads = _grad_sequence(40, 3, seed=4)
    p_adam = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    adam = torch.optim.Adam([p_adam], lr=1e-2, betas=(0.8, 0.99))
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    states = init_momentum_states([p])
    for g in grads:
        p_adam.grad, p.grad = g.clone(), g.clone()
        adam.step()
        sgd_momentum_ema([p], states, {"lr": 0.0, "momentum": 0.8})
        torch.testing.assert_close(adam.state[p_adam]["exp_avg"], states[0], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.99])
def test_bias_corrected_step(beta):
    """The notebook's corrected EMA: exactly lr*g per step under a constant gradient, the same
    path as MomentumSGD(variant='ema', bias_correction=True), and t advanced by one per call."""
    lr = 0.1
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    states = init_momentum_states([p])
    hyper = {"lr": lr, "momentum": beta, "t": 1}
    g = torch.tensor([1.0, -3.0], dtype=torch.float64)
    for t in range(1, 31):
        before = p.detach().clone()
        p.grad = g.clone()
        NB["sgd_momentum_ema_corrected"]([p], states, hyper)
        assert hyper["t"] == t + 1
        np.testing.assert_allclose((before - p.detach()).numpy(), (lr * g).numpy(), rtol=1e-12)
        np.testing.assert_allclose(states[0].numpy(), ((1 - beta**t) * g).numpy(), rtol=1e-12)

    grads = _grad_sequence(30, 2, seed=3)
    p_nb = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    p_cls = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    v_nb, hyper = init_momentum_states([p_nb]), {"lr": lr, "momentum": beta, "t": 1}
    opt = MomentumSGD([p_cls], lr=lr, momentum=beta, variant="ema", bias_correction=True)
    for g in grads:
        p_nb.grad, p_cls.grad = g.clone(), g.clone()
        NB["sgd_momentum_ema_corrected"]([p_nb], v_nb, hyper)
        opt.step()
        np.testing.assert_allclose(p_nb.detach().numpy(), p_cls.detach().numpy(), atol=1e-14)


def test_bias_corrected_skips_params_without_grad():
    p = torch.ones(2, dtype=torch.float64, requires_grad=True)
    states = init_momentum_states([p])
    NB["sgd_momentum_ema_corrected"]([p], states, {"lr": 0.1, "momentum": 0.9, "t": 1})
    assert torch.equal(p.detach(), torch.ones(2, dtype=torch.float64))


# --- the relations between the EMA form and torch.optim.SGD ---------------------------------


@pytest.mark.parametrize(
    ("dtype", "tol"),
    # float64: rounding only (lr*(1-b)*u vs lr*v). float32: the two round at ~1e-7 relative per
    # step; over 60 contracting steps the paths stay within a few 1e-6 of each other.
    [(torch.float64, 1e-12), (torch.float32, 2e-5)],
)
@pytest.mark.parametrize(("lr", "beta"), [(0.1, 0.9), (0.5, 0.5), (0.3, 0.99)])
def test_ema_is_sgd_with_scaled_lr(dtype, tol, lr, beta):
    """sgd_momentum_ema(lr=e) follows torch.optim.SGD(lr=e*(1-b), momentum=b), buffer scaled."""
    w0, c0, loss = _quadratic_problem(dtype)
    ours = [w0.clone().requires_grad_(), c0.clone().requires_grad_()]
    theirs = [w0.clone().requires_grad_(), c0.clone().requires_grad_()]
    states = init_momentum_states(ours)
    opt = torch.optim.SGD(theirs, lr=lr * (1 - beta), momentum=beta)
    for _ in range(60):
        loss(*ours).backward()
        sgd_momentum_ema(ours, states, {"lr": lr, "momentum": beta})
        opt.zero_grad()
        loss(*theirs).backward()
        opt.step()
        for a, b, v in zip(ours, theirs, states, strict=True):
            torch.testing.assert_close(a, b, rtol=tol, atol=tol)
            buf = opt.state[b]["momentum_buffer"]
            torch.testing.assert_close(v, (1 - beta) * buf, rtol=tol, atol=tol)


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.99])
def test_dampening_buffer_is_ema_plus_beta_t_g0(beta):
    """SGD(momentum=b, dampening=b) starts its buffer at g_0: buf_t = EMA_t + b^t g_0 exactly."""
    lr = 0.05
    grads = _grad_sequence(80, 5, seed=7)
    scale = grads.abs().max()
    p_torch = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    p_ema = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p_torch], lr=lr, momentum=beta, dampening=beta)
    states = init_momentum_states([p_ema])
    for t, g in enumerate(grads, start=1):
        p_torch.grad, p_ema.grad = g.clone(), g.clone()
        opt.step()
        sgd_momentum_ema([p_ema], states, {"lr": lr, "momentum": beta})
        buf = opt.state[p_torch]["momentum_buffer"]
        gap = buf - states[0] - beta**t * grads[0]
        assert gap.abs().max() <= 1e-15 * scale, (t, gap)
        extra = -lr * grads[0] * beta * (1 - beta**t) / (1 - beta)
        drift = (p_torch - p_ema).detach() - extra
        assert drift.abs().max() <= 1e-13 * lr * scale, (t, drift)
    # and so it is NOT the EMA form: the parameters end up measurably apart
    assert (p_torch - p_ema).abs().max() > 1e-3 * lr
