"""Notebook 03 derives `init_momentum_states`, `sgd_momentum` and the NumPy `Momentum` class.

It also defines the course's simulator and measurements (`heavy_ball_path`, `steps_to_tol`,
`heavy_ball_rate`) to teach them. These tests run the notebook's own definitions (via
``notebook_code.load_definitions``) and check them against ``helpers.optim``,
``helpers.quadratic`` and ``torch.optim.SGD``, so that the notebook and the library cannot
drift apart. The exercises' self-checks are run on right, wrong and unfinished answers, and the
numbers section 3 states (the source pages' example, the stability limit) against torch.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from notebook_code import load_definitions
from problems import leaves as clone_params

from helpers import optim as hopt
from helpers import quadratic as hq
from helpers.selfcheck import NotStarted, report

NOTEBOOK = "03_momentum.ipynb"


@pytest.fixture(scope="module")
def nb():
    return load_definitions(
        NOTEBOOK,
        [
            "init_momentum_states",
            "sgd_momentum",
            "Momentum",
            "heavy_ball_path",
            "steps_to_tol",
            "heavy_ball_rate",
        ],
    )


def random_params(seed: int, dtype=torch.float32) -> list[torch.Tensor]:
    """3-5 parameters of random shapes (0-d to 3-d) and values, from one seed."""
    gen = torch.Generator().manual_seed(seed)
    params = []
    for _ in range(int(torch.randint(3, 6, (), generator=gen))):
        ndim = int(torch.randint(0, 4, (), generator=gen))
        shape = tuple(int(s) for s in torch.randint(1, 6, (ndim,), generator=gen))
        params.append(torch.randn(shape, generator=gen, dtype=dtype).requires_grad_())
    return params


def loss(params: list[torch.Tensor], frozen: int | None = None) -> torch.Tensor:
    """A loss whose gradient depends on the parameters; param ``frozen`` takes no part in it."""
    total = torch.zeros((), dtype=params[0].dtype)
    for i, p in enumerate(params):
        if i != frozen:
            total = total + (torch.tanh(p) * p).sum() + 0.1 * (p**4).mean()
    return total


def test_init_momentum_states_matches_helper(nb):
    params = random_params(0, dtype=torch.float64)
    ours, theirs = nb["init_momentum_states"](params), hopt.init_momentum_states(params)
    assert len(ours) == len(theirs) == len(params)
    for v, w, p in zip(ours, theirs, params, strict=True):
        assert torch.equal(v, w) and not v.any()
        assert v.shape == p.shape and v.dtype == p.dtype and not v.requires_grad


@pytest.mark.parametrize("seed", range(6))
def test_sgd_momentum_bitwise_equals_helper_and_torch(nb, seed):
    params = random_params(seed)
    lr, momentum = [(0.05, 0.9), (0.1, 0.5), (0.01, 0.99)][seed % 3]
    frozen = seed % len(params) if seed % 2 else None  # some runs keep one param frozen
    initial = clone_params(params)
    ours, helper, torch_params = params, clone_params(params), clone_params(params)
    states = nb["init_momentum_states"](ours)
    helper_states = hopt.init_momentum_states(helper)
    opt = torch.optim.SGD(torch_params, lr=lr, momentum=momentum)
    hp = {"lr": lr, "momentum": momentum}
    for step in range(100):
        loss(ours, frozen).backward()
        nb["sgd_momentum"](ours, states, hp)
        loss(helper, frozen).backward()
        hopt.sgd_momentum(helper, helper_states, hp)
        opt.zero_grad()
        loss(torch_params, frozen).backward()
        opt.step()
        for a, b, c in zip(ours, helper, torch_params, strict=True):
            assert torch.equal(a, b), f"step {step}: notebook != helpers.optim"
            assert torch.equal(a, c), f"step {step}: notebook != torch.optim.SGD"
    for i, (p, v, w) in enumerate(zip(torch_params, states, helper_states, strict=True)):
        assert torch.equal(v, w)
        if i == frozen:
            assert p not in opt.state and not v.any()  # never stepped, like torch
            assert torch.equal(ours[i], initial[i])
        else:
            assert torch.equal(v, opt.state[p]["momentum_buffer"])
    for p in ours:  # gradients used are zeroed; a frozen param's grad stays None
        assert p.grad is None or not p.grad.any()


def test_sgd_momentum_skips_missing_grads_and_checks_lengths(nb):
    used, unused = torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True)
    (used**2).sum().backward()
    states = nb["init_momentum_states"]([used, unused])
    nb["sgd_momentum"]([used, unused], states, {"lr": 0.1, "momentum": 0.9})
    assert torch.equal(used.detach(), torch.full((3,), 0.8))
    assert torch.equal(unused.detach(), torch.ones(2)) and unused.grad is None
    with pytest.raises(ValueError):
        nb["sgd_momentum"]([used, unused], states[:1], {"lr": 0.1, "momentum": 0.9})


@pytest.mark.parametrize("seed", range(3))
def test_numpy_momentum_class_equals_sgd_momentum(nb, seed):
    """Learning rate inside the velocity: same trajectory at constant lr, v_numpy = -lr v."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((20, 4))
    A = A.T @ A / 20 + 0.1 * np.eye(4)  # a positive definite quadratic 1/2 x^T A x - c^T x
    c = rng.standard_normal(4)
    lr, momentum = 0.1, [0.5, 0.9, 0.95][seed]
    params_np = {"x": rng.standard_normal(4), "y": rng.standard_normal(())[None]}
    x = torch.tensor(params_np["x"], requires_grad=True)
    y = torch.tensor(params_np["y"], requires_grad=True)
    A_t, c_t = torch.tensor(A), torch.tensor(c)
    opt_np = nb["Momentum"](lr=lr, momentum=momentum)
    states = nb["init_momentum_states"]([x, y])
    for _ in range(200):
        grads = {"x": A @ params_np["x"] - c, "y": 2 * params_np["y"] ** 3}
        opt_np.update(params_np, grads)
        (0.5 * x @ A_t @ x - c_t @ x + 0.5 * (y**4).sum()).backward()
        nb["sgd_momentum"]([x, y], states, {"lr": lr, "momentum": momentum})
        for key, p, v in (("x", x, states[0]), ("y", y, states[1])):
            np.testing.assert_allclose(params_np[key], p.detach().numpy(), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(opt_np.v[key], -lr * v.numpy(), rtol=1e-9, atol=1e-12)


# --- The course's simulator and measurements, as the notebook defines them -------------------


@pytest.mark.parametrize("seed", range(8))
def test_heavy_ball_path_equals_helper(nb, seed):
    """Same iterates as helpers.quadratic.heavy_ball_path: shapes, Nesterov, noise, blow-up."""
    rng = np.random.default_rng(seed)
    shape = [(2,), (5,), (3, 4), (1,)][seed % 4]
    eigvals = rng.uniform(0.1, 5.0, size=shape)
    x0 = rng.standard_normal(shape)
    lr = float(rng.uniform(0.05, 0.6))
    momentum = [0.0, 0.5, 0.9, 0.99][seed % 4]
    nesterov = seed % 2 == 1
    noise = 0.3 if seed % 3 == 0 else 0.0
    blow_up = 50.0 if seed % 4 == 3 else np.inf  # seed 3 and 7: some runs stop early

    def make_grad():
        gen = np.random.default_rng(100 + seed)  # the same noise stream for both
        return lambda x: eigvals * x + noise * gen.standard_normal(x.shape)

    kwargs = {"nesterov": nesterov, "blow_up": blow_up}
    ours = nb["heavy_ball_path"](make_grad(), x0, lr, momentum, 300, **kwargs)
    theirs = hq.heavy_ball_path(make_grad(), x0, lr, momentum, 300, **kwargs)
    assert ours.shape == theirs.shape and ours.shape[1:] == x0.shape
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours[0], x0)


def test_heavy_ball_path_stops_when_blowing_up_like_helper(nb):
    grad = lambda x: np.array([0.2, 4.0]) * x  # noqa: E731
    x0 = np.array([-9.0, 1.5])
    ours = nb["heavy_ball_path"](grad, x0, 0.6, 0.0, 1000, blow_up=1e6)  # GD diverges here
    theirs = hq.heavy_ball_path(grad, x0, 0.6, 0.0, 1000, blow_up=1e6)
    np.testing.assert_array_equal(ours, theirs)
    assert len(ours) < 1001 and np.linalg.norm(ours[-1]) > 1e6


@pytest.mark.parametrize("seed", range(6))
def test_steps_to_tol_equals_helper(nb, seed):
    """First t from which the errors stay <= tol, on rippling sequences, and None if never."""
    rng = np.random.default_rng(seed)
    t = np.arange(400)
    ripple = 1 + 0.9 * np.cos(rng.uniform(0.3, 2.5) * t)
    errors = rng.uniform(0.9, 0.99) ** t * ripple
    for tol in (1e-1, 1e-3, 1e-6, 1e-30, 2.0):
        assert nb["steps_to_tol"](errors, tol) == hq.steps_to_tol(errors, tol), tol
    assert nb["steps_to_tol"](errors, 1e-30) is None
    # A first dip below tol is not enough: the error must stay below.
    dip = np.array([1.0, 0.01, 0.5, 0.001, 0.0001])
    assert nb["steps_to_tol"](dip, 0.05) == hq.steps_to_tol(dip, 0.05) == 3


def test_heavy_ball_rate_equals_helper(nb):
    """np.linalg.eigvals (the notebook) against the helper's closed form, on a sample grid."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        eigvals = rng.uniform(0.01, 10.0, size=int(rng.integers(1, 5)))
        lr = float(rng.uniform(0.001, 1.0))
        momentum = float(rng.choice([0.0, rng.uniform(0.0, 0.999)]))
        ours = nb["heavy_ball_rate"](lr, momentum, eigvals)
        theirs = hq.heavy_ball_rate(lr, momentum, eigvals)
        # eigvals loses accuracy near a repeated eigenvalue (~sqrt(eps)), hence 1e-6.
        assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-7)
    # The tuned pair of the notebook's valley: rate (sqrt(kappa) - 1) / (sqrt(kappa) + 1).
    lr, momentum = hq.heavy_ball_optimal(0.2, 4.0)
    assert nb["heavy_ball_rate"](lr, momentum, [0.2, 4.0]) == pytest.approx(
        (np.sqrt(20) - 1) / (np.sqrt(20) + 1), rel=1e-6
    )


# --- The exercises' self-checks and section 3's numbers ----------------------------------------


@pytest.fixture(scope="module")
def checks():
    # One namespace: check_design_momentum runs the notebook's constant_gradient_steps, which
    # runs its sgd_momentum.
    return load_definitions(
        NOTEBOOK,
        [
            "check_by_hand",
            "check_predict_velocity",
            "check_design_momentum",
            "constant_gradient_steps",
            "sgd_momentum",
            "init_momentum_states",
        ],
    )


def test_by_hand_check_accepts_the_rule_and_names_the_wrong_part(checks):
    check = checks["check_by_hand"]
    assert check((5, 7.5, 12.75)) is None and check([5.0, 7.5, 12.75]) is None
    assert "pages" in check((5, 3, 5.7))  # the pages' verbal rule is recognised as such
    assert check((5, 8, 14)) == "your v2 is too large"  # forgot the factor beta
    assert check((5, 7.5, 12.7)) == "your v3 is too small"
    assert "three numbers" in check((5, 7.5)) and "three numbers" in check("abc")
    with pytest.raises(NotStarted):
        check(None)


def predict_right(c, a, beta):
    return c / (1 - beta) + a / (1 + beta), c / (1 - beta) - a / (1 + beta)


def test_predict_velocity_check(checks, capsys):
    check = checks["check_predict_velocity"]
    assert check(predict_right) is None
    swapped = check(lambda c, a, b: predict_right(c, a, b)[::-1])
    assert swapped.startswith("for c = 1.0, a = 3.0, beta = 0.8") and "first value" in swapped
    both_amplified = check(lambda c, a, b: (c / (1 - b) + a / (1 - b), c / (1 - b) - a / (1 - b)))
    assert "too large" in both_amplified
    assert "two numbers" in check(lambda c, a, b: c / (1 - b))
    assert not report(check, lambda c, a, b: None)
    assert capsys.readouterr().out == "not started: <lambda> still returns None\n"


def test_design_momentum_check(checks):
    check = checks["check_design_momentum"]

    def right(h, s, g):
        beta = 0.5 ** (1 / h)
        return -s * (1 - beta) / g, beta

    assert check(right) is None
    assert "half-life" in check(lambda h, s, g: (right(h, s, g)[0], 0.5**h))
    assert "final step is too large" in check(lambda h, s, g: (-s / g, right(h, s, g)[1]))
    assert "lr must be > 0" in check(lambda h, s, g: (-right(h, s, g)[0], right(h, s, g)[1]))
    assert "two numbers" in check(lambda h, s, g: 0.1)


def test_the_pages_example_is_what_torch_stores(nb):
    """Section 3: gradients 5, 3, 6 with momentum 0.9 give the buffers 5, 7.5, 12.75 in
    torch.optim.SGD and in the notebook's sgd_momentum; the learning rate is not inside."""
    p, q = (
        torch.zeros(1, dtype=torch.float64, requires_grad=True),
        torch.zeros(1, dtype=torch.float64, requires_grad=True),
    )
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    states = nb["init_momentum_states"]([q])
    buffers = []
    for g in (5.0, 3.0, 6.0):
        p.grad = torch.full((1,), g, dtype=torch.float64)
        opt.step()
        q.grad = torch.full((1,), g, dtype=torch.float64)
        nb["sgd_momentum"]([q], states, {"lr": 0.1, "momentum": 0.9})
        buffers.append(opt.state[p]["momentum_buffer"].item())
        assert torch.equal(states[0], opt.state[p]["momentum_buffer"])
    assert buffers == pytest.approx([5.0, 7.5, 12.75], abs=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.25, 0.5, 0.9])
def test_stability_limit_of_section_3(nb, momentum):
    """eta * lambda just below 2 (1 + beta) converges, just above diverges (notebook 05 proves
    it); the notebook's simulator shows it."""
    limit = 2 * (1 + momentum)
    for factor, converges in ((0.99, True), (1.01, False)):
        path = nb["heavy_ball_path"](
            lambda x: 4.0 * x, [1.0], factor * limit / 4.0, momentum, 5000, blow_up=1e6
        )
        assert (abs(path[-1, 0]) < 1e-6) == converges, (momentum, factor)
