"""The noisy quadratic model's exact expected loss (helpers/noisy_quadratic.py).

Checked against code it does not share: a Monte-Carlo simulation of the same heavy-ball
recursion, plain gradient descent's closed form without noise, and the stationary noise floors
of SGD and heavy ball derived in notebook 05.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers.noisy_quadratic import expected_loss, steps_to_target

H = np.array([1.0, 0.1, 0.01])
NOISE = np.array([2.0, 0.5, 1.0])
X0 = np.array([1.0, -2.0, 3.0])


def simulate(lr, momentum, batch, curvatures, noise, x0, steps, runs, seed):
    """Mean and standard error of L(x_t) over ``runs`` independent noisy runs."""
    rng = np.random.default_rng(seed)
    x = np.tile(np.asarray(x0, float), (runs, 1))
    v = np.zeros_like(x)
    sd = np.sqrt(np.asarray(noise) / batch)
    losses = [0.5 * (curvatures * x**2).sum(1)]
    for _ in range(steps):
        g = curvatures * x + sd * rng.standard_normal(x.shape)
        v = momentum * v + g
        x = x - lr * v
        losses.append(0.5 * (curvatures * x**2).sum(1))
    losses = np.array(losses)
    return losses.mean(1), losses.std(1, ddof=1) / math.sqrt(runs)


@pytest.mark.parametrize(
    ("lr", "momentum", "batch"), [(0.5, 0.0, 4), (0.3, 0.9, 1), (1.5, 0.5, 16)]
)
def test_the_exact_loss_matches_a_simulation_within_4_standard_errors(lr, momentum, batch):
    exact = expected_loss(lr, momentum, batch, H, NOISE, X0, 60)
    mean, se = simulate(lr, momentum, batch, H, NOISE, X0, 60, runs=20000, seed=7)
    z = np.abs(exact - mean)[1:] / se[1:]
    assert z.max() < 4, f"largest gap {z.max():.2f} standard errors"
    assert exact[0] == 0.5 * np.sum(H * X0**2)


def test_without_noise_it_is_gradient_descents_closed_form():
    lr, steps = 0.7, 25
    t = np.arange(steps + 1)[:, None]
    closed = 0.5 * np.sum(H * ((1 - lr * H) ** (2 * t)) * X0**2, axis=1)
    np.testing.assert_allclose(
        expected_loss(lr, 0.0, 1, H, 0 * NOISE, X0, steps), closed, rtol=1e-12
    )


def test_the_stationary_floors_are_notebook_05s():
    """SGD at step a: a s / (2 (2 - a h)); heavy ball at the same effective step a = eta/(1-beta):
    a s / (2 (2 - a h (1-beta)/(1+beta))), slightly lower."""
    h, s, a, beta = 1.0, 0.2, 0.5, 0.9
    sgd = expected_loss(a, 0.0, 1, [h], [s], [0.0], 4000)[-1]
    heavy = expected_loss(a * (1 - beta), beta, 1, [h], [s], [0.0], 4000)[-1]
    assert math.isclose(sgd, a * s / (2 * (2 - a * h)), rel_tol=1e-9)
    assert math.isclose(heavy, a * s / (2 * (2 - a * h * (1 - beta) / (1 + beta))), rel_tol=1e-9)
    assert heavy < sgd


def test_batch_size_divides_the_noise():
    one = expected_loss(0.1, 0.5, 4, H, NOISE, X0, 30)
    two = expected_loss(0.1, 0.5, 1, H, NOISE / 4, X0, 30)
    np.testing.assert_allclose(one, two, rtol=1e-13)


def test_steps_to_target_is_the_first_step_at_or_below_it():
    losses = expected_loss(0.5, 0.5, 8, H, NOISE, X0, 400)
    target = 2 * losses[-1]  # twice the floor: reached after some steps
    t = steps_to_target(0.5, 0.5, 8, H, NOISE, X0, target, 400)
    assert t is not None and losses[t] <= target and np.all(losses[:t] > target)
    assert steps_to_target(0.5, 0.5, 8, H, NOISE, X0, target, t - 1) is None
    floor = losses[-1]
    assert steps_to_target(0.5, 0.5, 8, H, NOISE, X0, floor / 10, 2000) is None  # below the floor


def test_a_diverging_run_reads_inf_and_never_reaches_a_target():
    losses = expected_loss(2.5, 0.0, 1, [1.0], [1.0], [1.0], 3000)
    assert np.isinf(losses[-1]) and np.all(np.diff(losses[np.isfinite(losses)]) > 0)
    assert steps_to_target(2.5, 0.0, 1, [1.0], [1.0], [1.0], 1e-3, 3000) is None


BAD = [
    ({"lr": -0.1}, "lr"),
    ({"lr": math.nan}, "lr"),
    ({"momentum": 1.0}, "momentum"),
    ({"momentum": -0.5}, "momentum"),
    ({"batch_size": 0.5}, "batch_size"),
    ({"noise": [1.0, -1.0, 1.0]}, "noise"),
    ({"curvatures": [1.0, 0.0, 1.0]}, "curvatures"),
    ({"x0": [1.0, 2.0]}, "same length"),
    ({"x0": [1.0, math.inf, 0.0]}, "x0"),
    ({"steps": -1}, "steps"),
]


@pytest.mark.parametrize(("change", "named"), BAD, ids=[n for _, n in BAD])
def test_bad_input_names_the_argument(change, named):
    args = {
        "lr": 0.1,
        "momentum": 0.5,
        "batch_size": 1,
        "curvatures": H,
        "noise": NOISE,
        "x0": X0,
        "steps": 3,
    } | change
    with pytest.raises(ValueError, match=named):
        expected_loss(**args)


def test_bad_target_or_max_steps_names_the_argument():
    with pytest.raises(ValueError, match="target"):
        steps_to_target(0.1, 0.5, 1, H, NOISE, X0, -1.0, 10)
    with pytest.raises(ValueError, match="max_steps"):
        steps_to_target(0.1, 0.5, 1, H, NOISE, X0, 1.0, 2.5)
