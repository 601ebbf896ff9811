"""Tests of helpers/quadratic.py: closed forms against eigenvalues and simulation, bad input.

The closed forms are checked three independent ways: against ``np.linalg.eigvals`` of the 2x2
iteration matrix, against matrix powers, and against the simulated iteration (``heavy_ball_path``),
over many random (mu, L, lr, momentum) drawn from a seeded generator.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.quadratic import (
    gd_optimal,
    gd_rate,
    heavy_ball_matrix,
    heavy_ball_optimal,
    heavy_ball_path,
    heavy_ball_radii,
    heavy_ball_rate,
    iterations_to_tolerance,
    measured_rate,
    steps_to_tol,
)

SEED = 20240605


def diagonal_path(lr, b, eigvals, x0, steps, *, grad_noise=0.0, seed=0):
    """heavy_ball_path on f(x) = 1/2 sum lam x^2 (an eigenbasis), plus seeded gradient noise."""
    lams, rng = np.asarray(eigvals, dtype=float), np.random.default_rng(seed)

    def grad(x):
        return lams * x + grad_noise * rng.standard_normal(x.shape) if grad_noise else lams * x

    return heavy_ball_path(grad, x0, lr, b, steps)


def _random_setting(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """(mu, L, lr, momentum) with kappa in [1, 1e4] and lr*L anywhere in (0, 4.4)."""
    mu = 10 ** rng.uniform(-3, 1)
    L = mu * 10 ** rng.uniform(0, 4)
    lr = rng.uniform(0.01, 4.4) / L
    momentum = rng.uniform(0.0, 0.99)
    return mu, L, lr, momentum


def _growth_rate(e: np.ndarray, n: int, window: int) -> float:
    """Per-step rate between steps n and 2n from the peaks of |e| in a window before each."""
    peak1 = np.abs(e[n - window : n + 1]).max()
    peak2 = np.abs(e[2 * n - window : 2 * n + 1]).max()
    return float((peak2 / peak1) ** (1.0 / n))


# ---------------------------------------------------------------------------------------------
# Closed forms against direct eigenvalue computation
# ---------------------------------------------------------------------------------------------


def test_matrix_trace_determinant_and_characteristic_polynomial():
    rng = np.random.default_rng(SEED)
    for _ in range(300):
        mu, L, lr, b = _random_setting(rng)
        lam = rng.uniform(mu, L)
        M = heavy_ball_matrix(lr, b, lam)
        np.testing.assert_allclose(np.trace(M), 1 + b - lr * lam, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(M), b, rtol=1e-9, atol=1e-12)
        # every eigenvalue z of M solves z^2 - (1 + b - lr*lam) z + b = 0
        for z in np.linalg.eigvals(M):
            assert abs(z * z - (1 + b - lr * lam) * z + b) < 1e-9


def test_radii_match_eigenvalues_of_the_matrix():
    rng = np.random.default_rng(SEED + 1)
    for _ in range(500):
        mu, L, lr, b = _random_setting(rng)
        eigvals = np.sort(np.concatenate([[mu, L], rng.uniform(mu, L, 6)]))
        radii = heavy_ball_radii(lr, b, eigvals)
        direct = [np.abs(np.linalg.eigvals(heavy_ball_matrix(lr, b, lam))).max() for lam in eigvals]
        # near a repeated root the eigenvalues of M are ill-conditioned (error ~ sqrt(eps)), so
        # LAPACK, not the closed form, limits the agreement
        np.testing.assert_allclose(radii, direct, rtol=1e-6, atol=1e-7)
        assert heavy_ball_rate(lr, b, eigvals) == pytest.approx(max(direct), rel=1e-6, abs=1e-7)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    lr=st.floats(0.0, 10.0),
    lams=st.lists(st.floats(1e-6, 1e3), min_size=1, max_size=8),
)
def test_gd_rate_is_the_largest_factor_and_momentum_zero(lr, lams):
    direct = max(abs(1 - lr * lam) for lam in lams)
    assert gd_rate(lr, lams) == pytest.approx(direct, rel=1e-12, abs=1e-15)
    # heavy ball with momentum 0 is GD
    assert heavy_ball_rate(lr, 0.0, lams) == pytest.approx(direct, rel=1e-12, abs=1e-15)


# ---------------------------------------------------------------------------------------------
# Closed forms against simulation
# ---------------------------------------------------------------------------------------------


def test_heavy_ball_path_equals_matrix_powers():
    rng = np.random.default_rng(SEED + 2)
    for _ in range(50):
        mu, L, lr, b = _random_setting(rng)
        eigvals = rng.uniform(mu, L, 4)
        x0 = rng.standard_normal(4)
        path = diagonal_path(lr, b, eigvals, x0, 30)
        assert path.shape == (31, 4)
        for i, lam in enumerate(eigvals):
            M = heavy_ball_matrix(lr, b, lam)
            state = np.array([x0[i], 0.0])
            for k in range(31):
                scale = max(1.0, abs(state[0]), np.abs(path[k, i]))
                assert abs(path[k, i] - state[0]) <= 1e-9 * scale
                state = M @ state


def test_heavy_ball_path_is_the_sgd_momentum_update():
    # v <- b v + g; x <- x - lr v on f = 1/2 sum lam x^2, written out by hand
    lr, b, lams, x0 = 0.3, 0.7, np.array([0.5, 2.0]), np.array([1.0, -2.0])
    x, v, expected = x0.copy(), np.zeros(2), [x0.copy()]
    for _ in range(10):
        v = b * v + lams * x
        x = x - lr * v
        expected.append(x.copy())
    np.testing.assert_allclose(diagonal_path(lr, b, lams, x0, 10), expected, rtol=1e-15)


def test_simulated_rate_matches_closed_form_away_from_regime_boundaries():
    rng = np.random.default_rng(SEED + 3)
    checked = 0
    while checked < 150:
        x = rng.uniform(0.01, 4.4)  # lr * lambda
        b = rng.uniform(0.0, 0.95)
        sb = math.sqrt(b)
        edges = ((1 - sb) ** 2, (1 + sb) ** 2, 2 * (1 + b))
        # skip the neighbourhood of the boundaries, where repeated roots (k * rho^k) or a
        # near-unit rate make a finite-horizon estimate converge slowly
        if min(abs(x - e) for e in edges) < 0.05:
            continue
        rho = heavy_ball_rate(x, b, [1.0])
        if not 0.2 < rho < 2.5:
            continue  # avoid underflow / overflow over 2n steps
        n = 200
        e = diagonal_path(x, b, [1.0], [1.0], 2 * n)[:, 0]
        # the window covers several oscillation periods, so both peaks sit on the envelope
        assert _growth_rate(e, n, window=40) == pytest.approx(rho, abs=0.01), (x, b)
        checked += 1


def test_iterations_to_tolerance_matches_the_path():
    rng = np.random.default_rng(SEED + 4)
    for _ in range(20):
        mu = 10 ** rng.uniform(-2, 0)
        eigvals = np.geomspace(mu, 1.0, 5)
        x0 = rng.standard_normal(5)
        for lr, b in ((gd_optimal(mu, 1.0), 0.0), heavy_ball_optimal(mu, 1.0)):
            k = iterations_to_tolerance(lr, b, eigvals, x0, tol=1e-4)
            norms = np.linalg.norm(diagonal_path(lr, b, eigvals, x0, k), axis=1)
            assert norms[k] <= 1e-4 * norms[0] < norms[:k].min()


def test_iterations_to_tolerance_gd_single_eigenvalue_closed_form():
    # one coordinate shrinks by exactly |1 - lr*lam| per step: k = ceil(log(tol) / log(rate))
    for lr, lam, tol in ((0.1, 1.0, 1e-6), (1.5, 1.0, 1e-3), (0.01, 3.0, 1e-8)):
        rate = abs(1 - lr * lam)
        expected = math.ceil(math.log(tol) / math.log(rate))
        assert abs(iterations_to_tolerance(lr, 0.0, [lam], [1.0], tol) - expected) <= 1


def test_iterations_to_tolerance_gives_up_when_not_converging():
    with pytest.raises(RuntimeError, match="not reached in max_steps=50"):
        iterations_to_tolerance(1.0, 0.5, [3.5], [1.0], 1e-6, max_steps=50)


def test_noise_is_seeded_and_stationary_level_matches_theory():
    lr, b, lam, sigma = 0.05, 0.9, 0.5, 0.2
    x0 = np.zeros((400, 1))
    a = diagonal_path(lr, b, [lam], x0, 3000, grad_noise=sigma, seed=7)
    np.testing.assert_array_equal(
        a, diagonal_path(lr, b, [lam], x0, 3000, grad_noise=sigma, seed=7)
    )
    assert not np.array_equal(a, diagonal_path(lr, b, [lam], x0, 3000, grad_noise=sigma, seed=8))
    # stationary E[e^2] of the AR(2) recursion e' = (1+b-lr*lam) e - b e_prev - lr*sigma*xi
    var = lr * sigma**2 * (1 + b) / (lam * (1 - b) * (2 * (1 + b) - lr * lam))
    per_run = (a[1000:, :, 0] ** 2).mean(axis=0)  # time average per run: runs are independent
    se = per_run.std(ddof=1) / math.sqrt(per_run.size)
    assert abs(per_run.mean() - var) < 5 * se


# ---------------------------------------------------------------------------------------------
# The stability boundary, the ripple rate, the optimal parameters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("b", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_stability_boundary_from_both_sides(b):
    edge = 2 * (1 + b)
    for rel in (1e-2, 1e-4):
        inside, outside = edge * (1 - rel), edge * (1 + rel)
        assert heavy_ball_rate(inside, b, [1.0]) < 1 < heavy_ball_rate(outside, b, [1.0])
    # on the boundary a root sits at -1
    assert heavy_ball_rate(edge, b, [1.0]) == pytest.approx(1.0, abs=1e-12)
    # and by simulation, from both sides (5 % off the edge): decay inside (the slowest case,
    # b = 0.99, has rate sqrt(0.99) there, hence 4000 steps), growth outside (300 steps, few
    # enough that the fastest growth, about 1.55 per step, cannot overflow)
    decay = diagonal_path(edge * 0.95, b, [1.0], [1.0], 4000)[:, 0]
    growth = diagonal_path(edge * 1.05, b, [1.0], [1.0], 300)[:, 0]
    assert abs(decay[-1]) < 1e-3 and abs(growth[-1]) > 1e3
    # the lower edge: lr*lambda -> 0+ never diverges, the rate tends to 1 from below
    assert heavy_ball_rate(1e-9, b, [1.0]) < 1


def test_stability_region_over_random_points():
    rng = np.random.default_rng(SEED + 5)
    for _ in range(200):
        b = rng.uniform(0.0, 0.999)
        x = rng.uniform(1e-4, 4.5, 50)
        far = np.abs(x - 2 * (1 + b)) > 1e-9
        converges = heavy_ball_radii(1.0, b, x) < 1
        np.testing.assert_array_equal(converges[far], (x < 2 * (1 + b))[far])


def test_complex_roots_have_modulus_sqrt_beta_not_two_sqrt_beta():
    rng = np.random.default_rng(SEED + 6)
    for _ in range(300):
        b = rng.uniform(0.01, 0.99)
        sb = math.sqrt(b)
        x = rng.uniform((1 - sb) ** 2, (1 + sb) ** 2)  # inside the ripple band
        z = np.linalg.eigvals(heavy_ball_matrix(x, b, 1.0))
        assert np.all(np.abs(z.imag) > 0)  # complex pair
        np.testing.assert_allclose(np.abs(z), sb, rtol=1e-9)
        assert heavy_ball_radii(x, b, [1.0])[0] == pytest.approx(sb, rel=1e-12)
    # by simulation: ripples decay at sqrt(b) = 0.9 although 2 sqrt(b) = 1.8 would mean divergence
    e = diagonal_path(0.5, 0.81, [1.0], [1.0], 400)[:, 0]
    assert _growth_rate(e, 200, window=20) == pytest.approx(0.9, abs=2e-3)


def test_regime_boundaries_are_where_roots_turn_complex():
    for b in (0.04, 0.25, 0.5, 0.81):
        sb = math.sqrt(b)
        for edge in ((1 - sb) ** 2, (1 + sb) ** 2):
            outside = edge * (0.98 if edge < 1 else 1.02)
            inside = edge * (1.02 if edge < 1 else 0.98)
            assert np.all(np.linalg.eigvals(heavy_ball_matrix(outside, b, 1.0)).imag == 0)
            assert np.all(np.linalg.eigvals(heavy_ball_matrix(inside, b, 1.0)).imag != 0)


def test_gd_optimal_gives_the_stated_rate_and_is_optimal():
    rng = np.random.default_rng(SEED + 7)
    for _ in range(100):
        mu, L, _, _ = _random_setting(rng)
        kappa = L / mu
        eigvals = np.concatenate([[mu, L], rng.uniform(mu, L, 10)])
        lr = gd_optimal(mu, L)
        assert lr == pytest.approx(2 / (mu + L), rel=1e-15)
        rate = gd_rate(lr, eigvals)
        assert rate == pytest.approx((kappa - 1) / (kappa + 1), rel=1e-9, abs=1e-12)
        for factor in (0.9, 0.99, 1.01, 1.1):
            assert gd_rate(lr * factor, eigvals) >= rate - 1e-12


def test_heavy_ball_optimal_gives_the_stated_rate_and_is_optimal():
    rng = np.random.default_rng(SEED + 8)
    for _ in range(100):
        mu, L, _, _ = _random_setting(rng)
        s = math.sqrt(L / mu)
        eigvals = np.concatenate([[mu, L], rng.uniform(mu, L, 10)])
        lr, b = heavy_ball_optimal(mu, L)
        assert lr == pytest.approx(4 / (math.sqrt(mu) + math.sqrt(L)) ** 2, rel=1e-14)
        assert b == pytest.approx(((s - 1) / (s + 1)) ** 2, rel=1e-12, abs=1e-15)
        rate = heavy_ball_rate(lr, b, eigvals)
        assert rate == pytest.approx((s - 1) / (s + 1), rel=1e-7, abs=1e-7)
        # the EMA form's step e = lr / (1 - b) is 1 / sqrt(mu L)
        assert lr / (1 - b) == pytest.approx(1 / math.sqrt(mu * L), rel=1e-10)
        # no nearby (lr, b) does better: perturb each, and both
        for dlr, db in ((1.02, 0), (0.98, 0), (1, 0.02), (1, -0.02), (1.02, 0.02), (0.98, -0.02)):
            b2 = min(max(b + db * (1 - b), 0.0), 0.999)
            assert heavy_ball_rate(lr * dlr, b2, eigvals) >= rate - 1e-9


def test_optimal_rate_by_simulation_with_repeated_roots():
    # At the optimum the extremes have repeated roots: e_k(mu) = (1 + (1 - r) k) r^k and
    # e_k(L) = (1 + (1 + r) k) (-r)^k from e_0 = 1, v_0 = 0; measured rates sit above r.
    for mu, L in ((0.01, 1.0), (1.0, 25.0), (0.3, 3.0)):
        lr, b = heavy_ball_optimal(mu, L)
        r = math.sqrt(b)
        path = diagonal_path(lr, b, [mu, L], [1.0, 1.0], 300)
        k = np.arange(301)
        np.testing.assert_allclose(path[:, 0], (1 + (1 - r) * k) * r**k, rtol=1e-7, atol=1e-300)
        np.testing.assert_allclose(
            path[:, 1], (1 + (1 + r) * k) * (-r) ** k, rtol=1e-7, atol=1e-300
        )
        measured = (np.linalg.norm(path[300]) / np.linalg.norm(path[0])) ** (1 / 300)
        assert r < measured <= r * (1 + (1 + r) * 300) ** (1 / 300)


# ---------------------------------------------------------------------------------------------
# Bad input: ValueError naming the argument and the value
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gd_optimal(0.0, 1.0), r"mu must be finite and > 0, got mu=0\.0"),
        (lambda: gd_optimal(-1.0, 1.0), r"mu must be finite and > 0, got mu=-1\.0"),
        (lambda: gd_optimal(math.nan, 1.0), r"mu must be finite and > 0, got mu=nan"),
        (lambda: gd_optimal(2.0, 1.0), r"L must be finite and >= mu, got L=1\.0 with mu=2\.0"),
        (lambda: heavy_ball_optimal(0.0, 1.0), r"mu must be finite and > 0, got mu=0\.0"),
        (lambda: heavy_ball_optimal(1.0, 0.5), r"L must be finite and >= mu, got L=0\.5"),
        (lambda: heavy_ball_optimal(1.0, math.inf), r"L must be finite and >= mu, got L=inf"),
        (lambda: heavy_ball_optimal("1", 2.0), r"mu must be a real number, got mu='1'"),
        (lambda: gd_rate(-0.1, [1.0]), r"lr must be finite and >= 0, got lr=-0\.1"),
        (lambda: gd_rate(math.inf, [1.0]), r"lr must be finite and >= 0, got lr=inf"),
        (lambda: gd_rate(True, [1.0]), r"lr must be a real number, got lr=True"),
        (lambda: gd_rate(0.1, []), r"eigvals must be a non-empty 1-D array, got eigvals=\[\]"),
        (lambda: gd_rate(0.1, [[1.0, 2.0]]), r"eigvals must be a non-empty 1-D array"),
        (
            lambda: gd_rate(0.1, [1.0, 0.0]),
            r"eigvals must be finite and > 0, got eigvals=\[1\.0, 0\.0\]",
        ),
        (lambda: gd_rate(0.1, [-1.0]), r"eigvals must be finite and > 0"),
        (lambda: gd_rate(0.1, [math.nan]), r"eigvals must be finite and > 0"),
        (lambda: gd_rate(0.1, ["a"]), r"eigvals must be an array of real numbers"),
        (
            lambda: heavy_ball_rate(0.1, 1.0, [1.0]),
            r"momentum must be in \[0, 1\), got momentum=1\.0",
        ),
        (
            lambda: heavy_ball_rate(0.1, -0.1, [1.0]),
            r"momentum must be in \[0, 1\), got momentum=-0\.1",
        ),
        (
            lambda: heavy_ball_rate(0.1, math.nan, [1.0]),
            r"momentum must be in \[0, 1\), got momentum=nan",
        ),
        (lambda: heavy_ball_rate(-1.0, 0.5, [1.0]), r"lr must be finite and >= 0, got lr=-1\.0"),
        (lambda: heavy_ball_rate(0.1, 0.5, []), r"eigvals must be a non-empty 1-D array"),
        (lambda: heavy_ball_radii(0.1, 0.5, [0.0]), r"eigvals must be finite and > 0"),
        (
            lambda: heavy_ball_matrix(0.1, 1.5, 1.0),
            r"momentum must be in \[0, 1\), got momentum=1\.5",
        ),
        (lambda: heavy_ball_matrix(math.nan, 0.5, 1.0), r"lr must be finite and >= 0, got lr=nan"),
        (lambda: heavy_ball_matrix(0.1, 0.5, 0.0), r"lam must be finite and > 0, got lam=0\.0"),
        (
            lambda: heavy_ball_path(abs, [1.0], 0.1, 0.5, -1),
            r"steps must be an integer >= 0, got steps=-1",
        ),
        (
            lambda: heavy_ball_path(abs, [1.0], 0.1, 0.5, 2.5),
            r"steps must be an integer >= 0, got steps=2\.5",
        ),
        (lambda: heavy_ball_path(abs, [math.inf], 0.1, 0.5, 5), r"x0 must be a finite array"),
        (lambda: heavy_ball_path(abs, [1.0], 0.1, 1.0, 5), r"momentum must be in \[0, 1\)"),
        (
            lambda: iterations_to_tolerance(0.1, 0.5, [1.0], [1.0], tol=0.0),
            r"tol must be in \(0, 1\), got tol=0\.0",
        ),
        (
            lambda: iterations_to_tolerance(0.1, 0.5, [1.0], [1.0], tol=1.5),
            r"tol must be in \(0, 1\), got tol=1\.5",
        ),
        (
            lambda: iterations_to_tolerance(0.1, 0.5, [1.0], [1.0], max_steps=0),
            r"max_steps must be an integer >= 1, got max_steps=0",
        ),
        (lambda: iterations_to_tolerance(0.1, 0.5, [1.0], [0.0]), r"x0 must be nonzero"),
        (lambda: gd_rate(0.1, [1.0 + 2.0j]), r"eigvals must be an array of real numbers"),
        (lambda: gd_rate(0.1, [True, True]), r"eigvals must be an array of real numbers"),
        (lambda: heavy_ball_rate(0.1, 0.5, ["1"]), r"eigvals must be an array of real numbers"),
        (lambda: heavy_ball_rate(0.1 + 0j, 0.5, [1.0]), r"lr must be a real number"),
        (
            lambda: iterations_to_tolerance(0.1, 0.5, [1.0], [[1.0], [2.0]]),
            r"x0 must be one run of shape \(1,\)",
        ),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_good_edge_cases_are_accepted():
    assert gd_optimal(1.0, 1.0) == 1.0  # kappa = 1: one step to the minimum
    assert heavy_ball_optimal(2.0, 2.0) == pytest.approx((0.5, 0.0))  # kappa = 1: no momentum
    assert heavy_ball_rate(0.0, 0.0, [1.0]) == 1.0  # lr = 0: nothing moves
    assert gd_rate(0.5, 2.0) == 0.0  # a scalar eigenvalue is one eigenvalue
    assert heavy_ball_rate(np.float32(0.1), np.float64(0.5), np.array([1.0])) < 1
    assert diagonal_path(0.1, 0.5, [1.0], [1.0], 0).shape == (1, 1)


# --- the course's simulator and its two measurements -----------------------------------------


def test_heavy_ball_path_matches_the_eigenbasis_simulation():
    eigvals, x0 = np.array([0.2, 4.0]), np.array([-9.0, 1.5])
    path = heavy_ball_path(lambda x: eigvals * x, x0, 0.4, 0.5, 50)
    np.testing.assert_allclose(path, diagonal_path(0.4, 0.5, eigvals, x0, 50), rtol=0, atol=0)
    assert path.shape == (51, 2) and np.array_equal(path[0], x0) and path[0] is not x0


def test_heavy_ball_path_nesterov_is_torchs_rule():
    # Two steps by hand on f = x^2 / 2 (grad x) from x0 = 1, lr 0.1, momentum 0.5, torch's form.
    x, v = 1.0, 0.0
    for _ in range(2):
        g = x
        v = 0.5 * v + g
        x = x - 0.1 * (g + 0.5 * v)
    path = heavy_ball_path(lambda x: x, [1.0], 0.1, 0.5, 2, nesterov=True)
    assert path[-1, 0] == x
    assert heavy_ball_path(lambda x: x, [1.0], 0.1, 0.5, 2)[-1, 0] != x  # the flag matters


def test_heavy_ball_path_stops_a_divergent_run():
    path = heavy_ball_path(lambda x: x, [1.0], 3.0, 0.0, 1000, blow_up=1e6)
    assert len(path) < 1001 and np.linalg.norm(path[-1]) > 1e6 and np.all(np.isfinite(path))


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"lr": -1.0}, "lr"),
        ({"momentum": 1.0}, "momentum"),
        ({"steps": 2.5}, "steps"),
        ({"blow_up": 0.0}, "blow_up"),
        ({"x0": [math.nan]}, "x0"),
    ],
)
def test_heavy_ball_path_refuses_bad_arguments(kwargs, word):
    args = {"grad": lambda x: x, "x0": [1.0], "lr": 0.1, "momentum": 0.5, "steps": 3} | kwargs
    with pytest.raises(ValueError, match=word):
        heavy_ball_path(**args)
    with pytest.raises(ValueError, match="shape"):
        heavy_ball_path(lambda x: np.zeros(3), [1.0, 2.0], 0.1, 0.5, 3)


def test_steps_to_tol_means_stays_below():
    errors = [1.0, 0.5, 0.05, 0.2, 0.05, 0.01]
    assert steps_to_tol(errors, 0.1) == 4  # the dip at step 2 does not count
    assert steps_to_tol(errors, 1.0) == 0
    assert steps_to_tol(errors, 0.001) is None
    with pytest.raises(ValueError, match="errors"):
        steps_to_tol([1.0, math.nan], 0.1)
    with pytest.raises(ValueError, match="tol"):
        steps_to_tol([1.0], -0.1)


def test_measured_rate_reads_a_geometric_sequence_exactly():
    errors = 0.9 ** np.arange(40)
    assert measured_rate(errors, 10, 30) == pytest.approx(0.9, rel=1e-14)
    # A rippling sequence: the window reads the envelope, one step can sit at a zero crossing.
    t = np.arange(400)
    ripples = np.abs(0.98**t * np.cos(0.7 * t))
    assert measured_rate(ripples, 200, 380, window=20) == pytest.approx(0.98, abs=1e-3)
    with pytest.raises(ValueError, match="start"):
        measured_rate(errors, 30, 10)
    with pytest.raises(ValueError, match="window"):
        measured_rate(errors, 3, 10, window=10)
