"""Notebook 01 derives gd_rate and gd_optimal; they must stay equal to helpers.quadratic's."""

from __future__ import annotations

import numpy as np
import pytest
from notebook_code import load_definitions

from helpers import quadratic

NB = load_definitions("01_gradient_descent.ipynb", ["gd_rate", "gd_optimal"])


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
