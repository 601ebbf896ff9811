"""Notebook 09's own definitions, checked against helpers/ and torch.

The notebook derives the second-moment recursion of the noisy quadratic model, tunes on a grid
by running every setting at once, defines the critical batch size and the stationary loss of
notebook 05, and trains many copies of notebook 07's network side by side. These tests run those
definitions (``tests/notebook_code.py``) outside the notebook, on problems of their own, and
compare them with ``helpers.noisy_quadratic``, with a setting-by-setting search, with PyTorch's
initialisation of ``nn.Linear`` and with ``torch.optim.SGD``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from notebook_code import load_definitions
from torch import nn

from helpers.noisy_quadratic import expected_loss, steps_to_target

NAMES = [
    "second_moments_step",
    "simulate_losses",
    "tuned_steps",
    "critical_batch",
    "stationary_loss",
    "initial_weights",
    "mean_losses",
    "steps_to_loss",
    "check_by_hand",
    "by_hand_solution",
    "check_critical",
    "critical_if_noisier_solution",
    "schedule_factor",
]

# A small problem of the tests' own: three directions, kappa = 20.
CURVATURES = np.array([1.0, 0.3, 0.05])
NOISE = np.array([0.4, 0.1, 0.02])
X0 = np.array([1.0, -2.0, 3.0])


@pytest.fixture(scope="module")
def nb():
    """The notebook's definitions, sharing one namespace that each test fills as it needs."""
    return load_definitions("09_momentum_and_noise.ipynb", NAMES)


def namespace(nb):
    return nb["second_moments_step"].__globals__


def test_the_recursion_is_the_helpers_expected_loss(nb):
    rng = np.random.default_rng(9)
    for _ in range(20):
        lr, momentum, batch = (
            rng.uniform(0.05, 1.5),
            rng.choice([0.0, 0.5, 0.9]),
            rng.integers(1, 9),
        )
        a, b, c = X0**2, 0.0, 0.0
        mine = [0.5 * np.sum(CURVATURES * a)]
        for _ in range(60):
            a, b, c = nb["second_moments_step"](a, b, c, CURVATURES, lr, momentum, NOISE / batch)
            mine.append(0.5 * np.sum(CURVATURES * a))
        helper = expected_loss(lr, momentum, batch, CURVATURES, NOISE, X0, 60)
        np.testing.assert_allclose(mine, helper, rtol=1e-12, atol=0)


def test_the_simulation_matches_the_exact_loss(nb):
    namespace(nb).update(CURVATURES=CURVATURES, NOISE=NOISE, X0=X0)
    losses = nb["simulate_losses"](0.3, 0.9, 2, 80, 6000, np.random.default_rng(3))
    assert losses.shape == (81, 6000)
    exact = expected_loss(0.3, 0.9, 2, CURVATURES, NOISE, X0, 80)
    error = losses.std(axis=1, ddof=1) / math.sqrt(6000)
    assert np.max(np.abs(losses.mean(axis=1) - exact)[1:] / error[1:]) < 4.5


@pytest.mark.parametrize("batch", [1, 8, 512])
def test_tuning_all_settings_at_once_is_the_best_single_setting(nb, batch):
    """tuned_steps returns the fewest steps over the grid, which a setting-by-setting search
    with the helper finds too, and the setting it names reaches the target in that many."""
    effective_steps = 2.0 ** np.arange(-4, 2.5, 0.5)
    target = 2e-2
    namespace(nb).update(
        CURVATURES=CURVATURES, NOISE=NOISE, X0=X0, TARGET=target, EFFECTIVE_STEPS=effective_steps
    )
    nb["tuned_steps"].cache_clear()
    momenta = (0.0, 0.5, 0.9)
    steps, beta, eff = nb["tuned_steps"](batch, momenta)
    counts = [
        steps_to_target(a * (1 - m), m, batch, CURVATURES, NOISE, X0, target, 5000)
        for m in momenta
        for a in effective_steps
    ]
    assert steps == min(c for c in counts if c is not None)
    assert steps_to_target(eff * (1 - beta), beta, batch, CURVATURES, NOISE, X0, target, 5000) == (
        steps
    )
    nb["tuned_steps"].cache_clear()


def test_the_critical_batch_is_where_steps_reach_twice_the_perfect_line(nb):
    namespace(nb)["BATCH_SIZES"] = 2 ** np.arange(8)
    perfect_then_flat = np.array([1000, 500, 250, 125, 80, 70, 70, 70])
    assert nb["critical_batch"](perfect_then_flat) == 32  # 70 >= 2 * 1000 / 32; 80 < 125
    exactly_twice = np.array([800, 400, 400, 400, 400, 400, 400, 400])
    assert nb["critical_batch"](exactly_twice) == 4  # "at least twice" includes equality


def test_the_stationary_loss_is_the_helpers_after_the_noise_settles(nb):
    rng = np.random.default_rng(5)
    for _ in range(10):
        lam, momentum, s = rng.uniform(0.2, 2.0), rng.choice([0.0, 0.3, 0.8]), rng.uniform(0.1, 3)
        lr = rng.uniform(0.1, 1.5) * (1 + momentum) / lam  # stable: lr lam < 2 (1 + momentum)
        settled = expected_loss(lr, momentum, 1, [lam], [s], [0.0], 4000)[-1]
        np.testing.assert_allclose(nb["stationary_loss"](lr, momentum, lam, s), settled, rtol=1e-9)


def test_the_by_hand_exercise_and_its_check(nb, capsys):
    answer = nb["by_hand_solution"]()
    np.testing.assert_allclose(answer, 2 * expected_loss(0.5, 0.5, 1, [1.0], [0.5], [1.0], 2)[1:])
    assert nb["check_by_hand"](nb["by_hand_solution"]) is None
    # The noiseless answer is too small: the check says which number and which way.
    assert nb["check_by_hand"](lambda: (0.25, 0.0)) == "your E[x_1^2] is too small"
    assert nb["check_by_hand"](lambda: (0.375, 0.5)) == "your E[x_2^2] is too large"
    assert "two numbers" in nb["check_by_hand"](lambda: (0.375,))


def test_more_noise_moves_the_critical_batch_by_the_same_factor(nb):
    namespace(nb)["critical"] = {"SGD": 64, "heavy ball": 256}
    assert [nb["critical_if_noisier_solution"](k) for k in (2, 4, 16)] == [128, 256, 1024]
    assert nb["check_critical"](nb["critical_if_noisier_solution"]) is None
    assert "too small" in nb["check_critical"](lambda factor: 64)


def test_the_schedule_warms_up_then_decays_to_zero(nb):
    namespace(nb).update(BUDGET=100, WARM_UP=10)
    factor = nb["schedule_factor"]
    assert [factor(t, "constant") for t in (0, 50, 99)] == [1.0, 1.0, 1.0]
    assert [factor(t, "warm-up") for t in (0, 4, 9)] == [0.1, 0.5, 1.0]
    decay = [factor(t, "warm-up") for t in range(10, 100)]
    assert decay[0] == 1.0 and np.all(np.diff(decay) < 0) and 0 < decay[-1] < 1e-3


# ---- the digits network, many copies side by side ------------------------------------------


def digits_namespace(nb, n_images=96, seed=11):
    """Fill the network's globals with a small synthetic classification problem."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand((n_images, 64), generator=generator, dtype=torch.float64) - 0.5
    teacher = torch.randn((64, 10), generator=generator, dtype=torch.float64)
    y = (X @ teacher).argmax(dim=1)  # labels a network can learn in a few dozen steps
    namespace(nb).update(
        DTYPE=torch.float64, HIDDEN=32, X_train=X, y_train=y, N_TRAIN=n_images, BLOW_UP=23.0
    )
    return X, y


def sequential_from(weights):
    W1, b1, W2, b2 = weights
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).to(torch.float64)
    with torch.no_grad():
        for layer, W, b in ((model[0], W1, b1), (model[2], W2, b2)):
            layer.weight.copy_(W.T)
            layer.bias.copy_(b[0])
    return model


def test_initial_weights_are_pytorchs_initialisation(nb):
    """nn.Linear's default initialisation, drawn from torch's seeded stream (as notebook 07
    draws it): equal up to the float32 rounding of torch's own draw (a float32 step at the
    largest weight, 1/sqrt(32) = 0.18, is 1.5e-8)."""
    digits_namespace(nb)
    for seed in (0, 1, 7):
        torch.manual_seed(seed)
        torch_model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        ours = sequential_from(nb["initial_weights"](seed))
        for mine, theirs in zip(ours.parameters(), torch_model.parameters(), strict=True):
            assert mine.dtype == torch.float64
            assert (mine - theirs.to(torch.float64)).abs().max() < 1e-7


def test_the_side_by_side_loss_is_each_networks_cross_entropy(nb):
    X, y = digits_namespace(nb)
    starts = [nb["initial_weights"](seed) for seed in (0, 1, 2)]
    stacked = [torch.stack([w[k] for w in starts]) for k in range(4)]
    losses = nb["mean_losses"](stacked, X, y)
    for i, weights in enumerate(starts):
        reference = nn.CrossEntropyLoss()(sequential_from(weights)(X), y)
        torch.testing.assert_close(losses[i], reference, rtol=1e-12, atol=0)


def reference_steps(nb, batch_size, momentum, eff, seed, target, check_every, max_steps):
    """One network, nn.Sequential and torch.optim.SGD, the notebook's batches and checks."""
    X, y, n = (namespace(nb)[k] for k in ("X_train", "y_train", "N_TRAIN"))
    model = sequential_from(nb["initial_weights"](seed))
    optimizer = torch.optim.SGD(model.parameters(), lr=eff * (1 - momentum), momentum=momentum)
    shuffler, position = torch.Generator().manual_seed(seed), n
    for t in range(max_steps + 1):
        if t % check_every == 0:
            with torch.no_grad():
                if nn.CrossEntropyLoss()(model(X), y).item() <= target:
                    return t
        if batch_size == n:
            images = torch.arange(n)
        else:
            if position + batch_size > n:
                order, position = torch.randperm(n, generator=shuffler), 0
            images = order[position : position + batch_size]
            position += batch_size
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(X[images]), y[images]).backward()
        optimizer.step()
    return None


@pytest.mark.parametrize(("batch_size", "check_every"), [(16, 3), (96, 1)])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_training_side_by_side_is_heavy_ball_on_each_network(nb, batch_size, momentum, check_every):
    """Each network of the lockstep batch trains as torch.optim.SGD trains it alone: per seed,
    the notebook's count is the fewest steps over its grid of the reference runs."""
    digits_namespace(nb)
    grid, seeds, target = [0.5, 2.0], [0, 3], 1.0
    found = nb["steps_to_loss"](batch_size, momentum, grid, seeds, target, check_every, 400)
    for i, seed in enumerate(seeds):
        steps = found["steps"][i]
        assert steps is not None
        # The winner reaches the target at that step, and no grid point does so earlier.
        counts = [
            reference_steps(nb, batch_size, momentum, a, seed, target, check_every, steps)
            for a in grid
        ]
        assert counts[grid.index(found["winner"][i])] == steps
        assert all(count in (None, steps) for count in counts)
    assert found["closest"] > 1e-6  # no count here sits on a rounding tie
