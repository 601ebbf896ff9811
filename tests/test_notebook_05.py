"""Notebook 05 derives ``heavy_ball_matrix``; it must not drift from helpers.quadratic's."""

from __future__ import annotations

import numpy as np
from notebook_code import load_definitions

from helpers.quadratic import heavy_ball_matrix

# A missing or renamed notebook makes load_definitions raise: the test fails, it never skips.
DERIVED = load_definitions("05_momentum_theory.ipynb", ["heavy_ball_matrix"])["heavy_ball_matrix"]


def test_notebook_matrix_matches_helper():
    rng = np.random.default_rng(20240605)
    for _ in range(50):
        mu = 10 ** rng.uniform(-3, 1)
        L = mu * 10 ** rng.uniform(0, 4)
        lr, b = rng.uniform(0.01, 4.4) / L, rng.uniform(0.0, 0.99)
        lam = rng.uniform(mu, L)
        np.testing.assert_array_equal(DERIVED(lr, b, lam), heavy_ball_matrix(lr, b, lam))
