"""MomentumSGD, the course's torch.optim.Optimizer, against torch.optim.SGD and its own formulas."""

from __future__ import annotations

import copy
import io
import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers import compiled
from helpers.optim import MomentumSGD
from helpers.update import update_loop_


def make_model(dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(32, 6, generator=gen, dtype=dtype)
    y = torch.randint(0, 3, (32,), generator=gen)
    return model, x, y


def train(model, opt, x, y, steps, start=0):
    loss_fn = nn.CrossEntropyLoss()
    for k in range(start, start + steps):
        opt.zero_grad()
        # Rotating minibatches, so gradients change from step to step.
        idx = torch.arange(8) + 8 * (k % 4)
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()


def params_of(model):
    return [p.detach().clone() for p in model.parameters()]


def max_diff(a, b):
    return max((p - q).abs().max().item() for p, q in zip(a, b, strict=True))


# ----------------------------------------------------------------------------------------------
# Parity with torch.optim.SGD
# ----------------------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    lr=st.floats(1e-3, 0.5),
    momentum=st.sampled_from([0.0, 0.5, 0.9, 0.99]),
    nesterov=st.booleans(),
    weight_decay=st.sampled_from([0.0, 1e-3, 0.1]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    impl=st.sampled_from(["loop", "foreach"]),
)
def test_heavy_ball_matches_torch_sgd(lr, momentum, nesterov, weight_decay, dtype, impl):
    nesterov = nesterov and momentum > 0
    ours, x, y = make_model(dtype)
    theirs = copy.deepcopy(ours)
    kwargs = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    opt_ours = MomentumSGD(ours.parameters(), impl=impl, **kwargs)
    opt_theirs = torch.optim.SGD(theirs.parameters(), foreach=False, **kwargs)
    train(ours, opt_ours, x, y, 15)
    train(theirs, opt_theirs, x, y, 15)
    if impl == "loop":  # same ops, same order: identical bits
        for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
            assert torch.equal(p, q)
    else:
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        assert max_diff(params_of(ours), params_of(theirs)) < tol
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert ("momentum_buffer" in opt_ours.state[p]) == (momentum > 0)
        if momentum > 0:
            torch.testing.assert_close(
                opt_ours.state[p]["momentum_buffer"], opt_theirs.state[q]["momentum_buffer"]
            )


@pytest.mark.parametrize("impl", ["loop", "foreach"])
def test_first_step_and_grad_none_like_torch(impl):
    """A param that only gets a gradient later starts its buffer then, with buf = g."""
    a = torch.zeros(3, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    a2, b2 = (t.detach().clone().requires_grad_(True) for t in (a, b))
    ours = MomentumSGD([a, b], lr=0.1, momentum=0.9, impl=impl)
    theirs = torch.optim.SGD([a2, b2], lr=0.1, momentum=0.9)
    grads_a = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, -1.0, 2.0]), torch.ones(3)]
    grads_b = [None, torch.tensor([4.0, -4.0]), torch.tensor([1.0, 1.0])]
    for ga, gb in zip(grads_a, grads_b, strict=True):
        for opt, (pa, pb) in ((ours, (a, b)), (theirs, (a2, b2))):
            pa.grad = ga.clone()
            pb.grad = None if gb is None else gb.clone()
            opt.step()
        if gb is None:
            assert b not in ours.state and torch.equal(b.detach(), torch.zeros(2))
    assert torch.equal(a, a2) and torch.equal(b, b2)
    assert torch.equal(ours.state[b]["momentum_buffer"], theirs.state[b2]["momentum_buffer"])


def test_gradients_are_not_modified():
    model, x, y = make_model()
    opt = MomentumSGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)
    nn.CrossEntropyLoss()(model(x), y).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    opt.step()
    opt.step()
    for p, g in zip(model.parameters(), grads, strict=True):
        assert torch.equal(p.grad, g)


def test_param_groups_use_their_own_settings():
    model, x, y = make_model()
    twin = copy.deepcopy(model)
    groups = [
        {"params": model[0].parameters(), "lr": 0.05, "momentum": 0.5},
        {"params": model[2].parameters()},
    ]
    twin_groups = [
        {"params": twin[0].parameters(), "lr": 0.05, "momentum": 0.5},
        {"params": twin[2].parameters()},
    ]
    opt = MomentumSGD(groups, lr=0.2, momentum=0.9, impl="loop")
    ref = torch.optim.SGD(twin_groups, lr=0.2, momentum=0.9)
    train(model, opt, x, y, 20)
    train(twin, ref, x, y, 20)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p, q)
    assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[1]["momentum"] == 0.9


def test_closure_returns_the_loss():
    model, x, y = make_model()
    opt = MomentumSGD(model.parameters(), lr=0.1, momentum=0.9)

    def closure():
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        return loss

    first = opt.step(closure)
    for _ in range(20):
        last = opt.step(closure)
    assert isinstance(first, torch.Tensor) and last.item() < first.item()


# ----------------------------------------------------------------------------------------------
# The EMA variant and bias correction, against their formulas
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["loop", "foreach"])
@pytest.mark.parametrize("bias_correction", [False, True])
def test_ema_follows_its_formula(impl, bias_correction):
    lr, m = 0.3, 0.8
    gen = torch.Generator().manual_seed(3)
    p = torch.randn(5, generator=gen, dtype=torch.float64).requires_grad_(True)
    x, v = p.detach().clone(), torch.zeros(5, dtype=torch.float64)
    opt = MomentumSGD(
        [p], lr=lr, momentum=m, variant="ema", bias_correction=bias_correction, impl=impl
    )
    for t in range(1, 8):
        g = torch.randn(5, generator=gen, dtype=torch.float64)
        p.grad = g.clone()
        opt.step()
        v = m * v + (1 - m) * g
        x = x - lr * (v / (1 - m**t) if bias_correction else v)
        torch.testing.assert_close(p.detach(), x, rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(opt.state[p]["momentum_buffer"], v, rtol=1e-13, atol=1e-13)
    assert opt.state[p].get("step") == (7 if bias_correction else None)


def test_ema_equals_heavy_ball_with_scaled_lr():
    e, m = 0.4, 0.9
    model, x, y = make_model(torch.float64)
    twin = copy.deepcopy(model)
    train(model, MomentumSGD(model.parameters(), lr=e, momentum=m, variant="ema"), x, y, 40)
    train(twin, torch.optim.SGD(twin.parameters(), lr=e * (1 - m), momentum=m), x, y, 40)
    assert max_diff(params_of(model), params_of(twin)) < 1e-12


def test_bias_correction_counts_steps_per_param():
    """A param that skips steps (grad None) has its own t in 1 - m**t."""
    lr, m = 1.0, 0.5
    a = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = MomentumSGD([a, b], lr=lr, momentum=m, variant="ema", bias_correction=True)
    for k in range(3):
        a.grad = torch.ones(1, dtype=torch.float64)
        b.grad = torch.ones(1, dtype=torch.float64) if k == 2 else None
        opt.step()
    # With a constant gradient 1 the corrected EMA is exactly 1: each step moves by lr.
    assert a.item() == pytest.approx(-3.0, abs=1e-14)
    assert b.item() == pytest.approx(-1.0, abs=1e-14)
    assert (opt.state[a]["step"], opt.state[b]["step"]) == (3, 1)


# ----------------------------------------------------------------------------------------------
# Saving and resuming
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(momentum=0.9, impl="loop"),
        dict(momentum=0.9, nesterov=True, impl="foreach"),
        dict(momentum=0.9, variant="ema", bias_correction=True, impl="foreach"),
    ],
    ids=["heavy_ball", "nesterov", "ema_bias_corrected"],
)
def test_resume_from_state_dict_continues_exactly(kwargs):
    model, x, y = make_model()
    reference = copy.deepcopy(model)
    train(reference, MomentumSGD(reference.parameters(), lr=0.1, **kwargs), x, y, 20)

    opt = MomentumSGD(model.parameters(), lr=0.1, **kwargs)
    train(model, opt, x, y, 11)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buffer)

    buffer.seek(0)
    saved = torch.load(buffer)
    resumed, _, _ = make_model(seed=123)  # different weights: everything must come from the file
    resumed.load_state_dict(saved["model"])
    opt2 = MomentumSGD(resumed.parameters(), lr=0.1, **kwargs)
    opt2.load_state_dict(saved["opt"])
    train(resumed, opt2, x, y, 9, start=11)
    for p, q in zip(resumed.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)


# ----------------------------------------------------------------------------------------------
# The compiled implementation and its fallback
# ----------------------------------------------------------------------------------------------


def test_compiled_matches_torch_sgd():
    model, x, y = make_model()
    twin = copy.deepcopy(model)
    train(model, MomentumSGD(model.parameters(), lr=0.1, momentum=0.9, impl="compiled"), x, y, 15)
    train(twin, torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9), x, y, 15)
    assert max_diff(params_of(model), params_of(twin)) < 1e-5


@pytest.mark.parametrize(
    "kwargs",
    [dict(momentum=0.9, nesterov=True, weight_decay=0.01), dict(momentum=0.0, weight_decay=0.01)],
    ids=["nesterov+decay", "plain+decay"],
)
def test_compiled_follows_a_schedule_over_many_mixed_tensors(kwargs):
    from torch._dynamo.utils import counters

    gen = torch.Generator().manual_seed(3)
    shapes = [(5, 3), (7,), (2, 2, 2), ()] * 18  # 72 tensors: chunks of 64 and 8, mixed shapes
    ours = [torch.randn(s, generator=gen).requires_grad_() for s in shapes]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    opt = MomentumSGD(ours, lr=0.1, impl="compiled", **kwargs)
    reference = torch.optim.SGD(theirs, lr=0.1, **kwargs)
    graphs = []
    for k in range(4):
        for o in (opt, reference):
            for group in o.param_groups:
                group["lr"] = 0.1 / (k + 1)  # a new learning rate at every step
        for p, q in zip(ours, theirs, strict=True):
            p.grad = torch.randn(p.shape, generator=gen)
            q.grad = p.grad.clone()
        opt.step()
        reference.step()
        graphs.append(counters["stats"]["unique_graphs"])
    assert opt.impl == "compiled"
    assert graphs[1] == graphs[-1], "a new learning rate recompiled the step"
    assert max_diff(ours, theirs) < 1e-6


def fake_kernel(*, wrong_by=0.0, fail_after_calls=None):
    """A stand-in for the compiled kernel: the eager rule, optionally wrong, optionally failing.

    It takes the compiled function's arguments (lists, then 0-d scalars), so the runner's check
    against the eager step and its fallback can be tested without a compiler.
    """
    calls = []

    def kernel(params, grads, buffers, lr, momentum, keep, *decay):
        calls.append(len(params))
        if fail_after_calls is not None and len(calls) > fail_after_calls:
            raise RuntimeError("no compiler here")
        rule = dict(lr=float(lr), momentum=float(momentum), dampening=1 - float(keep))
        update_loop_(params, grads, buffers, **rule)
        for p in params:
            p.add_(wrong_by)

    return kernel, calls


def run_against_torch(kernel, monkeypatch, n_tensors=3, steps=4):
    """MomentumSGD(impl="compiled") with ``kernel`` as its compiled step, beside torch SGD."""
    monkeypatch.setattr(compiled, "_compiled", lambda **flags: kernel)
    monkeypatch.setattr(compiled, "_CHECKED_GRAPHS", set())  # a fake kernel: a new graph
    gen = torch.Generator().manual_seed(0)
    ours = [torch.randn(5, generator=gen).requires_grad_() for _ in range(n_tensors)]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    opt = MomentumSGD(ours, lr=0.1, momentum=0.9, impl="compiled")
    reference = torch.optim.SGD(theirs, lr=0.1, momentum=0.9)
    caught = []
    for _ in range(steps):
        for p, q in zip(ours, theirs, strict=True):
            p.grad = torch.randn(5, generator=gen)
            q.grad = p.grad.clone()
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            opt.step()
        caught += [str(w.message) for w in record]
        reference.step()
    return opt, max_diff(ours, theirs), caught


def test_a_kernel_that_disagrees_with_the_eager_step_is_not_used(monkeypatch):
    # What a stale inductor cache did: plausible-looking but wrong parameters.
    kernel, calls = fake_kernel(wrong_by=0.13)
    opt, diff, caught = run_against_torch(kernel, monkeypatch)
    assert calls == [3]  # called once (step 2: the first with buffers), then never again
    assert diff < 1e-6  # the eager result was kept: every step is right
    assert len(caught) == 1 and "disagrees with the eager step by up to 0.13" in caught[0]
    assert opt.impl == "foreach"


def test_a_kernel_within_rounding_of_the_eager_step_is_used(monkeypatch):
    kernel, calls = fake_kernel(wrong_by=1e-9)  # far below 64 ulps of numbers of order 1
    opt, diff, caught = run_against_torch(kernel, monkeypatch)
    assert calls == [3, 3, 3] and caught == [] and opt.impl == "compiled" and diff < 1e-6


def test_compile_failure_on_the_first_chunk_falls_back_once(monkeypatch):
    kernel, calls = fake_kernel(fail_after_calls=0)
    opt, diff, caught = run_against_torch(kernel, monkeypatch)
    assert calls == [3] and diff < 1e-6 and opt.impl == "foreach"
    assert len(caught) == 1  # said once, not at every step
    assert re.search(r"failed on tensors 0 and after \(RuntimeError: no compiler here\)", caught[0])


def test_failure_on_a_later_chunk_finishes_the_step_without_double_updates(monkeypatch):
    # 72 tensors: chunks of 64 and 8. The first chunk's kernel works, the second fails: the
    # step must update the first 64 once (compiled) and the last 8 once (foreach).
    kernel, calls = fake_kernel(fail_after_calls=1)
    opt, diff, caught = run_against_torch(kernel, monkeypatch, n_tensors=72)
    assert calls == [64, 8] and diff < 1e-6 and opt.impl == "foreach"
    assert len(caught) == 1 and "failed on tensors 64 and after" in caught[0]


def test_one_optimizers_fallback_is_its_own():
    torch._dynamo.reset()
    broken = compiled.CompiledUpdate()
    broken.failure = RuntimeError("an earlier failure")
    p = torch.zeros(4, requires_grad=True)
    p.grad = torch.ones(4)
    buf = torch.ones(4)
    broken([p], [p.grad], [buf], lr=0.5, momentum=0.5)  # steps, by foreach: v = 1.5
    assert torch.equal(p.detach(), torch.full((4,), -0.75))
    q = torch.zeros(4, requires_grad=True)
    opt = MomentumSGD([q], lr=0.5, momentum=0.5, impl="compiled")
    for _ in range(3):
        q.grad = torch.ones(4)
        opt.step()
    assert opt.impl == "compiled" and opt._compiled_update.failure is None
    assert torch.allclose(q.detach(), torch.full((4,), -0.5 * (1 + 1.5 + 1.75)))


def test_compiled_falls_back_when_dynamo_will_not_compile_another_graph():
    # Kernels are specialised to shapes, and dynamo compiles at most recompile_limit graphs per
    # function: past it MomentumSGD must still step, by foreach, and say so.
    torch._dynamo.reset()
    compiled._compiled.cache_clear()
    try:
        with torch._dynamo.config.patch(recompile_limit=1):
            first, second = torch.zeros(3).requires_grad_(), torch.zeros(4).requires_grad_()
            first.grad, second.grad = torch.ones(3), torch.ones(4)
            MomentumSGD([first], lr=0.5, impl="compiled").step()  # the one graph allowed
            opt = MomentumSGD([second], lr=0.5, impl="compiled")
            with pytest.warns(RuntimeWarning, match=r"compiled step failed .*foreach"):
                opt.step()
        assert opt.impl == "foreach"
        assert torch.equal(first.detach(), torch.full((3,), -0.5))
        assert torch.equal(second.detach(), torch.full((4,), -0.5))
    finally:
        torch._dynamo.reset()
        compiled._compiled.cache_clear()


def test_compiled_step_problem_reports_a_working_compiler():
    assert compiled.compiled_step_problem() is None  # this machine has a C++ compiler


# ----------------------------------------------------------------------------------------------
# Bad arguments
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(lr=-0.1), r"lr must be finite and >= 0, got lr=-0\.1"),
        (dict(lr=float("nan")), r"lr must be finite and >= 0, got lr=nan"),
        (dict(lr=0.1, momentum=1.0), r"momentum must be in \[0, 1\), got momentum=1\.0"),
        (dict(lr=0.1, variant="adam"), r"variant must be one of .*got variant='adam'"),
        (dict(lr=0.1, impl="cuda"), r"impl must be one of .*got impl='cuda'"),
        (
            dict(lr=0.1, weight_decay=-1.0),
            r"weight_decay must be finite and >= 0, got weight_decay=-1\.0",
        ),
        (dict(lr=0.1, nesterov=True), r"nesterov=True needs momentum > 0, .*got momentum=0\.0"),
        (
            dict(lr=0.1, momentum=0.9, nesterov=True, variant="ema"),
            r"nesterov=True needs .*variant='ema'",
        ),
        (dict(lr=0.1, bias_correction=True), r"bias_correction=True applies to variant='ema'"),
        (
            dict(lr=0.1, momentum=0.9, nesterov="no"),
            r"nesterov must be True or False, got nesterov='no'",
        ),
        (dict(lr=0.1, maximize=1), r"maximize must be True or False, got maximize=1"),
        (dict(lr=np.bool_(True)), r"lr must be a real number, got lr=np\.True_"),
        (dict(lr=0.1, momentum=0.9, dampening=1.5), r"dampening must be in \[0, 1\]"),
        (
            dict(lr=0.1, momentum=0.9, dampening=0.5, nesterov=True),
            r"nesterov=True needs momentum > 0, dampening=0",
        ),
        (
            dict(lr=0.1, momentum=0.9, dampening=0.5, variant="ema"),
            r"variant='ema' damps the gradient by \(1 - momentum\)",
        ),
        (dict(lr=0.1, fused=True), r"fused=True is torch's own C\+\+ kernel.*impl='compiled'"),
        (dict(lr=0.1, differentiable=True), r"differentiable=True .* is not supported"),
        (dict(lr=0.1, foreach=False, impl="compiled"), r"foreach=False contradicts impl="),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MomentumSGD([torch.zeros(2, requires_grad=True)], **kwargs)


def test_bad_param_group_raises():
    opt = MomentumSGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got momentum=2"):
        opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "momentum": 2})
    with pytest.raises(ValueError, match=r"lr must be finite and >= 0, got lr=-1\.0"):
        opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": -1.0})
    assert len(opt.param_groups) == 1  # a rejected group is not kept
