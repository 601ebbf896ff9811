"""Notebook 05 derives ``heavy_ball_matrix`` and the noise floors; they must stay right.

The matrix must not drift from helpers.quadratic's. The stationary variances of SGD and heavy
ball are closed forms the notebook derives; they must solve the Lyapunov equation, and they give
the noise caveat the text states (tuned heavy ball's floor in the stiffest direction is
kappa (kappa + 1) / (2 sqrt(kappa)) times SGD's at step 1/L: 505 times at kappa = 100).
"""

from __future__ import annotations

import math

import numpy as np
from notebook_code import load_definitions

from helpers.quadratic import heavy_ball_matrix, heavy_ball_optimal

# A missing or renamed notebook makes load_definitions raise: the test fails, it never skips.
DEFS = load_definitions(
    "05_momentum_theory.ipynb", ["heavy_ball_matrix", "var_sgd", "var_hb", "var_lyapunov"]
)
DERIVED = DEFS["heavy_ball_matrix"]


def test_notebook_matrix_matches_helper():
    rng = np.random.default_rng(20240605)
    for _ in range(50):
        mu = 10 ** rng.uniform(-3, 1)
        L = mu * 10 ** rng.uniform(0, 4)
        lr, b = rng.uniform(0.01, 4.4) / L, rng.uniform(0.0, 0.99)
        lam = rng.uniform(mu, L)
        np.testing.assert_array_equal(DERIVED(lr, b, lam), heavy_ball_matrix(lr, b, lam))


def test_noise_floors_solve_the_lyapunov_equation():
    rng = np.random.default_rng(5)
    for _ in range(30):
        lam, beta, sigma = rng.uniform(0.1, 5.0), rng.uniform(0.0, 0.95), rng.uniform(0.01, 2.0)
        lr = rng.uniform(0.05, 1.9) * 2 * (1 + beta) / lam  # inside the stable range
        np.testing.assert_allclose(
            DEFS["var_hb"](lr, beta, lam, sigma),
            DEFS["var_lyapunov"](lr, beta, lam, sigma),
            rtol=1e-8,
        )
        a = rng.uniform(0.05, 1.9) * 2 / lam
        np.testing.assert_allclose(
            DEFS["var_sgd"](a, lam, sigma), DEFS["var_lyapunov"](a, 0.0, lam, sigma), rtol=1e-8
        )


def test_tuned_heavy_ball_pays_for_its_speed_under_noise():
    var_sgd, var_hb = DEFS["var_sgd"], DEFS["var_hb"]
    ratios = {}
    for kappa in (100, 1000):
        lr, beta = heavy_ball_optimal(1 / kappa, 1.0)
        floor = var_hb(lr, beta, 1.0, 1.0)  # the stiffest direction, L = 1
        ratios[kappa] = (
            floor / var_sgd(1.0, 1.0, 1.0),
            floor / var_sgd(2 / (1 / kappa + 1), 1.0, 1.0),
        )
        np.testing.assert_allclose(ratios[kappa][0], kappa * (kappa + 1) / (2 * math.sqrt(kappa)))
        np.testing.assert_allclose(ratios[kappa][1], (kappa + 1) / (2 * math.sqrt(kappa)))
    assert round(ratios[100][0]) == 505 and round(ratios[100][1], 2) == 5.05
    assert round(ratios[1000][0], -2) == 15800 and round(ratios[1000][1]) == 16
