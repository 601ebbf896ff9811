"""The d2l-style optimizers of helpers.optim against torch.optim.SGD and against their formulas."""

from __future__ import annotations

import math
import re

import numpy as np
import problems
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from problems import leaves, max_diff

from helpers.optim import (
    init_momentum_states,
    sgd,
    sgd_momentum,
    sgd_momentum_ema,
    sgd_nesterov,
)

SHAPES = [(3, 4), (7,), (2, 3, 2), (1,), (5, 1)]


def make_problem(dtype: torch.dtype, seed: int = 0):
    return problems.make_problem(dtype, seed, SHAPES)


def run_pair(func, torch_kwargs, hyperparams, dtype, steps, states_fn=init_momentum_states):
    """Run one of our functions and torch.optim.SGD side by side from identical params."""
    init, loss = make_problem(dtype)
    ours, theirs = leaves(init), leaves(init)
    states = states_fn(ours)
    opt = torch.optim.SGD(theirs, **torch_kwargs)
    for _ in range(steps):
        loss(ours).backward()
        func(ours, states, hyperparams)
        opt.zero_grad()
        loss(theirs).backward()
        opt.step()
    return ours, theirs, states, opt


# ----------------------------------------------------------------------------------------------
# Whole trajectories against torch.optim.SGD
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sgd_momentum_matches_torch_bit_for_bit(dtype):
    ours, theirs, states, opt = run_pair(
        sgd_momentum, dict(lr=0.02, momentum=0.9), {"lr": 0.02, "momentum": 0.9}, dtype, 300
    )
    for p, q, v in zip(ours, theirs, states, strict=True):
        assert torch.equal(p, q)
        assert torch.equal(v, opt.state[q]["momentum_buffer"])
    # The trajectory moved: equality is not the trivial equality of untouched tensors.
    init, _ = make_problem(dtype)
    assert max_diff(ours, init) > 0.1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sgd_matches_torch_bit_for_bit(dtype):
    ours, theirs, _, opt = run_pair(sgd, dict(lr=0.05), {"lr": 0.05}, dtype, 200, lambda ps: None)
    for p, q in zip(ours, theirs, strict=True):
        assert torch.equal(p, q)
    assert len(opt.state) == 0  # torch keeps no state without momentum


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sgd_nesterov_matches_torch_bit_for_bit(dtype):
    ours, theirs, states, opt = run_pair(
        sgd_nesterov,
        dict(lr=0.02, momentum=0.9, nesterov=True),
        {"lr": 0.02, "momentum": 0.9},
        dtype,
        300,
    )
    for p, q, v in zip(ours, theirs, states, strict=True):
        assert torch.equal(p, q)
        assert torch.equal(v, opt.state[q]["momentum_buffer"])


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_ema_is_heavy_ball_with_scaled_lr(dtype, tol):
    e, b = 0.1, 0.9
    ours, theirs, states, opt = run_pair(
        sgd_momentum_ema, dict(lr=e * (1 - b), momentum=b), {"lr": e, "momentum": b}, dtype, 300
    )
    assert max_diff(ours, theirs) < tol
    # The EMA buffer is (1 - b) times torch's heavy-ball buffer.
    for v, q in zip(states, theirs, strict=True):
        torch.testing.assert_close(
            v, (1 - b) * opt.state[q]["momentum_buffer"], rtol=tol * 10, atol=tol
        )


def test_ema_is_not_torch_dampening():
    """SGD(dampening=b) starts its buffer at g1 undampened, so it is not the EMA form."""
    e, b = 0.1, 0.9
    ours, theirs, _, _ = run_pair(
        sgd_momentum_ema,
        dict(lr=e, momentum=b, dampening=b),
        {"lr": e, "momentum": b},
        torch.float64,
        20,
    )
    assert max_diff(ours, theirs) > 1e-3


# ----------------------------------------------------------------------------------------------
# One step from a NONZERO velocity equals the formula (catches a missing beta * v term)
# ----------------------------------------------------------------------------------------------


def one_step(func, lr, m, dtype=torch.float64):
    gen = torch.Generator().manual_seed(1)
    p0 = torch.randn(4, 3, generator=gen, dtype=dtype)
    v0 = torch.randn(4, 3, generator=gen, dtype=dtype)
    g = torch.randn(4, 3, generator=gen, dtype=dtype)
    p = p0.clone().requires_grad_(True)
    p.grad = g.clone()
    v = v0.clone()
    func([p], [v], {"lr": lr, "momentum": m})
    return p0, v0, g, p.detach(), v


@pytest.mark.parametrize(
    ("func", "velocity", "direction"),
    [
        (sgd_momentum, lambda v0, g, m: m * v0 + g, lambda v, g, m: v),
        (sgd_momentum_ema, lambda v0, g, m: m * v0 + (1 - m) * g, lambda v, g, m: v),
        (sgd_nesterov, lambda v0, g, m: m * v0 + g, lambda v, g, m: g + m * v),
    ],
    ids=["heavy_ball", "ema", "nesterov"],
)
def test_step_from_nonzero_velocity_follows_formula(func, velocity, direction):
    lr, m = 0.3, 0.7
    p0, v0, g, p, v = one_step(func, lr, m)
    v_expected = velocity(v0, g, m)
    torch.testing.assert_close(v, v_expected, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(p, p0 - lr * direction(v_expected, g, m), rtol=1e-14, atol=1e-14)
    # A version that dropped m * v0 would land elsewhere by lr * m * |v0|: far above tolerance.
    assert (v - velocity(torch.zeros_like(v0), g, m)).abs().max() > 0.1


# ----------------------------------------------------------------------------------------------
# Properties over lr, momentum, shapes and dtypes
# ----------------------------------------------------------------------------------------------

shapes = st.lists(
    st.lists(st.integers(1, 5), min_size=0, max_size=3).map(tuple), min_size=1, max_size=4
)


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(0, 2, allow_nan=False),
    momentum=st.floats(0, 0.999),
    shapes=shapes,
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
    func_name=st.sampled_from(["sgd_momentum", "sgd_nesterov", "sgd_momentum_ema"]),
)
def test_properties(lr, momentum, shapes, dtype, seed, func_name):
    func = {"sgd_momentum": sgd_momentum, "sgd_nesterov": sgd_nesterov}.get(
        func_name, sgd_momentum_ema
    )
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=gen, dtype=dtype).requires_grad_(True) for s in shapes]
    no_grad = torch.randn(3, dtype=dtype).requires_grad_(True)  # never gets a gradient
    grads = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    twin = leaves(params)
    for q, g in zip(twin, grads, strict=True):
        q.grad = g.clone()
    states = init_momentum_states([*params, no_grad])
    before = [p.detach().clone() for p in params]
    no_grad_before = no_grad.detach().clone()

    func([*params, no_grad], states, {"lr": lr, "momentum": momentum})

    # Grads used are zeroed; the param without a grad and its state are untouched.
    assert all(torch.count_nonzero(p.grad) == 0 for p in params)
    assert no_grad.grad is None and torch.equal(no_grad, no_grad_before)
    assert torch.count_nonzero(states[-1]) == 0
    # From zero states the first step of heavy ball and torch agree exactly.
    if func is sgd_momentum:
        torch.optim.SGD(twin, lr=lr, momentum=momentum).step()
        for p, q in zip(params, twin, strict=True):
            assert torch.equal(p, q)
    # The step has the size the formula gives: first step direction is g (heavy ball),
    # (1 - m) g (EMA), (1 + m) g (Nesterov) from a zero velocity.
    scale = {sgd_momentum: 1.0, sgd_nesterov: 1 + momentum, sgd_momentum_ema: 1 - momentum}[func]
    for p, p0, g in zip(params, before, grads, strict=True):
        torch.testing.assert_close(p.detach(), p0 - lr * scale * g)


def test_accepts_generators_and_zero_lr():
    p = torch.ones(3, requires_grad=True)
    p.grad = torch.ones(3)
    states = init_momentum_states([p])
    sgd_momentum((q for q in [p]), states, {"lr": 0, "momentum": 0.5})
    assert torch.equal(p.detach(), torch.ones(3))  # lr 0 freezes the params
    assert torch.equal(states[0], torch.ones(3))  # but the velocity still accumulates


def test_init_momentum_states_matches_params():
    params = [torch.randn(2, 3, dtype=torch.float64), torch.randn(4)]
    states = init_momentum_states(params)
    for p, v in zip(params, states, strict=True):
        assert v.shape == p.shape and v.dtype == p.dtype and torch.count_nonzero(v) == 0
        assert v.data_ptr() != p.data_ptr()


# ----------------------------------------------------------------------------------------------
# Bad input: a clear ValueError naming the problem
# ----------------------------------------------------------------------------------------------


def param_with_grad():
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    return p


def _non_leaf():
    w = param_with_grad()
    t = w * 2
    t.retain_grad()
    t.sum().backward()
    return t


_W = param_with_grad()
GOOD = {"lr": 0.1, "momentum": 0.9}
# (what is wrong, hyperparams, states (None: made from params), params (None: one with a
# gradient), the argument the ValueError must name). Each row runs through sgd_momentum,
# sgd_momentum_ema and sgd_nesterov, and (without the momentum key) through sgd where it applies.
BAD_INPUTS = [
    ("negative lr", {"lr": -0.1, "momentum": 0.9}, None, None, "lr"),
    ("nan lr", {"lr": math.nan, "momentum": 0.9}, None, None, "lr"),
    ("inf lr", {"lr": math.inf, "momentum": 0.9}, None, None, "lr"),
    ("str lr", {"lr": "0.1", "momentum": 0.9}, None, None, "lr"),
    ("bool lr", {"lr": True, "momentum": 0.9}, None, None, "lr"),
    ("numpy bool lr", {"lr": np.bool_(True), "momentum": 0.9}, None, None, "lr"),
    ("tensor bool lr", {"lr": torch.tensor(True), "momentum": 0.9}, None, None, "lr"),
    ("str array lr", {"lr": np.array("0.1"), "momentum": 0.9}, None, None, "lr"),
    ("complex lr", {"lr": 0.1 + 0.2j, "momentum": 0.9}, None, None, "lr"),
    ("complex tensor lr", {"lr": torch.tensor(0.1 + 0j), "momentum": 0.9}, None, None, "lr"),
    ("2-element lr", {"lr": torch.tensor([0.1, 0.2]), "momentum": 0.9}, None, None, "lr"),
    ("lr over float32", {"lr": 4e38, "momentum": 0.9}, None, None, "lr"),
    ("momentum 1", {"lr": 0.1, "momentum": 1.0}, None, None, "momentum"),
    ("negative momentum", {"lr": 0.1, "momentum": -0.5}, None, None, "momentum"),
    ("nan momentum", {"lr": 0.1, "momentum": math.nan}, None, None, "momentum"),
    ("no momentum", {"lr": 0.1}, None, None, "momentum"),
    ("no lr", {"momentum": 0.9}, None, None, "lr"),
    ("misspelt key", {"lr": 0.1, "momemtum": 0.9}, None, None, "momentum"),
    ("unknown key", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, None, None, "nesterov"),
    ("not a dict", [("lr", 0.1)], None, None, "hyperparams"),
    ("too few states", GOOD, [], None, "states"),
    ("wrong shape", GOOD, [torch.zeros(1)], None, "state 0"),
    ("wrong dtype", GOOD, [torch.zeros(2, dtype=torch.float16)], None, "state 0"),
    ("integer state", GOOD, [torch.zeros(2, dtype=torch.int64)], None, "state 0"),
    ("too many states", GOOD, [0.0, 0.0], None, "states"),
    ("a number as state", GOOD, [0.0], None, "state 0"),
    ("states None", GOOD, "None", None, "states"),
    ("states a tensor", GOOD, torch.zeros(1, 2), None, "states"),
    ("a param twice", GOOD, None, [_W, _W], "param 1"),
    ("a non-leaf param", GOOD, None, "non-leaf", "param 0"),
    ("a list as param", GOOD, [torch.zeros(1)], [[1.0]], "param 0"),
]


def _applies(func, hyperparams, named) -> bool:
    """``sgd`` takes no states and no momentum: those rows test the momentum functions only."""
    if func is not sgd or not isinstance(hyperparams, dict):
        return True
    return named not in ("states", "state 0", "momentum") and "lr" in hyperparams


BAD_CALLS = [
    pytest.param(func, *row[1:], id=f"{func.__name__}-{row[0]}")
    for func in (sgd, sgd_momentum, sgd_momentum_ema, sgd_nesterov)
    for row in BAD_INPUTS
    if _applies(func, row[1], row[4])
]


@pytest.mark.parametrize(("func", "hyperparams", "states", "params", "named"), BAD_CALLS)
def test_bad_input_is_refused_naming_the_argument(func, hyperparams, states, params, named):
    if params == "non-leaf":
        params = [_non_leaf()]
    params = [param_with_grad()] if params is None else params
    if func is sgd and isinstance(hyperparams, dict):
        hyperparams = {k: v for k, v in hyperparams.items() if k != "momentum"}
    if states is None:
        states = init_momentum_states(params)
    before = [p.detach().clone() for p in params if isinstance(p, torch.Tensor)]
    with pytest.raises(ValueError) as caught:
        func(params, None if states == "None" else states, hyperparams)
    assert re.search(rf"\b{named}\b", str(caught.value)), str(caught.value)
    after = [p.detach() for p in params if isinstance(p, torch.Tensor)]
    assert all(torch.equal(x, y) for x, y in zip(before, after, strict=True))  # nothing moved


def test_real_scalars_of_numpy_and_torch_are_accepted():
    for lr in (np.float32(0.5), np.int64(1), np.array(0.5), torch.tensor(0.5), 1):
        p = param_with_grad()
        sgd_momentum([p], init_momentum_states([p]), {"lr": lr, "momentum": np.float64(0.5)})
        assert torch.equal(p.detach(), -float(lr) * torch.ones(2))
    big = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # 4e38 fits a float64
    big.grad = torch.ones(1, dtype=torch.float64)
    sgd(([big]), None, {"lr": 4e38})
    assert big.item() == -4e38
