"""What MomentumSGD adds to torch.optim.SGD: the EMA variant, the compiled path, sparse
gradients, and its refusals. Parity with torch's SGD settings is tests/test_torch_generic.py."""

from __future__ import annotations

import copy
import re
import warnings

import numpy as np
import pytest
import torch
from problems import loss_of, make_model, max_diff, params, train
from torch import nn

from helpers import compiled
from helpers.optim import MomentumSGD
from helpers.sgd_rule import SGDRule, single_tensor_sgd_

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
    model = make_model(torch.float64)
    twin = copy.deepcopy(model)
    train(model, MomentumSGD(model.parameters(), lr=e, momentum=m, variant="ema"), steps=40)
    train(twin, torch.optim.SGD(twin.parameters(), lr=e * (1 - m), momentum=m), steps=40)
    assert max_diff(params(model), params(twin)) < 1e-12


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


def test_gradients_are_not_modified():
    model = make_model()
    opt = MomentumSGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)
    loss_of(model, 0).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    opt.step()
    opt.step()
    for p, g in zip(model.parameters(), grads, strict=True):
        assert torch.equal(p.grad, g)


# ----------------------------------------------------------------------------------------------
# The compiled implementation and its fallback
# ----------------------------------------------------------------------------------------------


def test_compiled_follows_a_schedule_without_recompiling():
    # Plain SGD (no velocities), one shape, one chunk of 2 tensors: one small graph.
    gen = torch.Generator().manual_seed(3)
    ours = [torch.randn(4, generator=gen).requires_grad_() for _ in range(2)]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    kwargs = dict(maximize=True, weight_decay=0.01)
    opt = MomentumSGD(ours, lr=0.1, impl="compiled", **kwargs)
    opt._compiled = compiled.CompiledSGD(chunk=2)
    reference = torch.optim.SGD(theirs, lr=0.1, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # a fallback would warn
        for k in range(4):
            for o in (opt, reference):
                for group in o.param_groups:
                    group["lr"] = 0.1 / (k + 1)  # a new learning rate at every step
            for p, q in zip(ours, theirs, strict=True):
                p.grad = torch.randn(p.shape, generator=gen)
                q.grad = p.grad.clone()
            # From step 2 on, the graph exists: a new learning rate must not recompile.
            with torch._dynamo.config.patch(error_on_recompile=k >= 1):
                opt.step()
            reference.step()
    assert not [w for w in caught if "MomentumSGD" in str(w.message)]
    assert opt.impl == "compiled"
    assert max_diff(ours, theirs) < 1e-6


def fake_kernel(*, wrong_by=0.0, fail_after_calls=None):
    """A stand-in for the compiled kernel: the eager rule, optionally wrong, optionally failing.

    It takes the compiled function's arguments (lists, then 0-d scalars), so the runner's check
    against the eager step and its fallback can be tested without a compiler.
    """
    calls = []

    def kernel(params, grads, velocities, lr, momentum, keep, *decay):
        calls.append(len(params))
        if fail_after_calls is not None and len(calls) > fail_after_calls:
            raise RuntimeError("no compiler here")
        rule = SGDRule(lr=float(lr), momentum=float(momentum), dampening=1 - float(keep))
        single_tensor_sgd_(params, grads, velocities, rule)
        for p in params:
            p.add_(wrong_by)

    return kernel, calls


def run_against_torch(kernel, monkeypatch, n_tensors=3, steps=4, chunk=compiled.CHUNK):
    """MomentumSGD(impl="compiled") with ``kernel`` as its compiled step, beside torch SGD."""
    monkeypatch.setattr(compiled, "_compiled", lambda **flags: compiled._Compiled(kernel, set()))
    gen = torch.Generator().manual_seed(0)
    ours = [torch.randn(5, generator=gen).requires_grad_() for _ in range(n_tensors)]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    opt = MomentumSGD(ours, lr=0.1, momentum=0.9, impl="compiled")
    opt._compiled = compiled.CompiledSGD(chunk=chunk)
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
    assert calls == [3]  # called once (step 2: the first with velocities), then never again
    assert diff < 1e-6  # the eager result was kept: every step is right
    assert len(caught) == 1 and "disagrees with the eager step by up to 0.13" in caught[0]
    assert opt.impl == "foreach" and opt.param_groups[0]["impl"] == "compiled"


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
    # Chunks of 2 and 1. The first chunk's kernel works, the second fails: the step must
    # update the first 2 once (compiled) and the last one once (foreach).
    kernel, calls = fake_kernel(fail_after_calls=1)
    opt, diff, caught = run_against_torch(kernel, monkeypatch, n_tensors=3, chunk=2)
    assert calls == [2, 1] and diff < 1e-6 and opt.impl == "foreach"
    assert len(caught) == 1 and "failed on tensors 2 and after" in caught[0]


def test_one_optimizers_fallback_is_its_own(monkeypatch):
    kernel, _ = fake_kernel()
    monkeypatch.setattr(compiled, "_compiled", lambda **flags: compiled._Compiled(kernel, set()))
    broken = MomentumSGD([torch.zeros(4, requires_grad=True)], lr=0.5, impl="compiled")
    broken._compiled.failure = RuntimeError("an earlier failure")
    q = torch.zeros(4, requires_grad=True)
    opt = MomentumSGD([q], lr=0.5, momentum=0.5, impl="compiled")
    for _ in range(3):
        q.grad = torch.ones(4)
        opt.step()
    assert broken.impl == "foreach" and opt.impl == "compiled" and opt._compiled.failure is None
    assert torch.allclose(q.detach(), torch.full((4,), -0.5 * (1 + 1.5 + 1.75)))


# ----------------------------------------------------------------------------------------------
# Sparse gradients (nn.Embedding(sparse=True)), as torch steps them
# ----------------------------------------------------------------------------------------------


def embedding_pair(seed=0):
    torch.manual_seed(seed)
    ours = nn.Embedding(10, 3, sparse=True)
    return ours, copy.deepcopy(ours)


def embedding_steps(emb, opt, steps=5):
    for k in range(steps):
        opt.zero_grad()
        idx = torch.tensor([[1, 2, 1, 5], [2, 2, 7, 1]][k % 2])  # repeated rows: uncoalesced
        emb(idx).pow(2).sum().backward()
        opt.step()


@pytest.mark.parametrize("impl", ["loop", "foreach", "compiled"])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(momentum=0.9),
        dict(momentum=0.9, dampening=0.5),
        dict(momentum=0.9, maximize=True),
    ],
    ids=["plain", "momentum", "dampening", "maximize"],
)
def test_sparse_gradients_step_bit_for_bit_like_torch(kwargs, impl):
    ours, theirs = embedding_pair()
    opt = MomentumSGD(ours.parameters(), lr=0.1, impl=impl, **kwargs)
    ref = torch.optim.SGD(theirs.parameters(), lr=0.1, **kwargs)
    embedding_steps(ours, opt)
    embedding_steps(theirs, ref)
    assert torch.equal(ours.weight, theirs.weight)
    if "momentum" in kwargs:
        mine, torchs = opt.state[ours.weight], ref.state[theirs.weight]
        assert torch.equal(mine["momentum_buffer"].to_dense(), torchs["momentum_buffer"].to_dense())


def test_sparse_gradients_with_the_ema():
    ours, _ = embedding_pair()
    dense = nn.Embedding(10, 3)
    dense.weight.data.copy_(ours.weight.data)
    for emb in (ours, dense):
        embedding_steps(emb, MomentumSGD(emb.parameters(), lr=0.1, momentum=0.9, variant="ema"))
    torch.testing.assert_close(ours.weight, dense.weight, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("option", ["weight_decay", "nesterov"])
def test_sparse_gradients_refuse_what_torch_cannot_run(option):
    ours, _ = embedding_pair()
    kwargs = dict(momentum=0.9, weight_decay=0.1 if option == "weight_decay" else 0.0)
    opt = MomentumSGD(ours.parameters(), lr=0.1, nesterov=option == "nesterov", **kwargs)
    before = ours.weight.detach().clone()
    with pytest.raises(ValueError, match=rf"^{option}=.* sparse gradients"):
        embedding_steps(ours, opt, steps=1)
    assert torch.equal(ours.weight, before)


# ----------------------------------------------------------------------------------------------
# Bad arguments: each refusal names the argument (torch's wording first, where torch checks)
# ----------------------------------------------------------------------------------------------

# (kwargs, what the message must name, whether a step refuses it when set by hand: the step
# checks what it uses)
BAD_ARGUMENTS = [
    (dict(lr=-0.1), "Invalid learning rate: -0.1 (lr", True),
    (dict(lr=float("nan")), "Invalid learning rate: nan (lr", True),
    (dict(lr=np.bool_(True)), "lr", False),
    (dict(lr=torch.tensor([0.1, 0.2])), "Tensor lr must be 1-element", True),
    (dict(lr=0.1, momentum=1.0), "Invalid momentum value: 1.0 (momentum", True),
    (dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5 (momentum", True),
    (dict(lr=0.1, weight_decay=-1.0), "Invalid weight_decay value: -1.0 (weight_decay", True),
    (
        dict(lr=0.1, nesterov=True),
        "Nesterov momentum requires a momentum and zero dampening",
        False,
    ),
    (dict(lr=0.1, momentum=0.9, dampening=0.5, nesterov=True), "nesterov=True", False),
    (dict(lr=0.1, momentum=0.9, nesterov=True, variant="ema"), "variant='ema'", False),
    (dict(lr=0.1, momentum=0.9, nesterov="no"), "nesterov", False),
    (dict(lr=0.1, maximize=1), "maximize", False),
    (dict(lr=0.1, momentum=0.9, dampening=1.5), "dampening", True),
    (dict(lr=0.1, momentum=0.9, dampening=0.5, variant="ema"), "dampening", False),
    (dict(lr=0.1, variant="adam"), "variant", True),
    (dict(lr=0.1, bias_correction=True), "bias_correction", True),
    (dict(lr=0.1, impl="cuda"), "impl", True),
    (dict(lr=0.1, fused=True), "fused", False),
    (dict(lr=0.1, differentiable=True), "differentiable", False),
    (dict(lr=1e5, params=torch.float16), "lr", True),
]


# Each bad setting at each door: construction, add_param_group, and (for the settings a step
# uses) a step after the setting was written into the param group by hand.
BAD_AT_EACH_DOOR = [
    pytest.param(kwargs, named, where, id=f"{where}-{str(kwargs)[:40]}")
    for kwargs, named, at_step in BAD_ARGUMENTS
    for where in ("constructor", "add_param_group", "step")
    if where != "step" or at_step
]


@pytest.mark.parametrize(("kwargs", "named", "where"), BAD_AT_EACH_DOOR)
def test_bad_arguments_are_refused_naming_them(kwargs, named, where):
    kwargs = dict(kwargs)
    dtype = kwargs.pop("params", torch.float32)
    p = torch.zeros(2, dtype=dtype, requires_grad=True)
    if where == "constructor":
        with pytest.raises(ValueError) as caught:
            MomentumSGD([p], **kwargs)
    elif where == "add_param_group":
        opt = MomentumSGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        with pytest.raises(ValueError) as caught:
            opt.add_param_group({"params": [p], **kwargs})
        assert len(opt.param_groups) == 1  # a rejected group is not kept
    else:  # written into param_groups by hand: refused before it reaches the parameters
        opt = MomentumSGD([p], lr=0.1)
        opt.param_groups[0].update(kwargs)
        p.grad = torch.ones_like(p)
        with pytest.raises(ValueError) as caught:
            opt.step()
        assert torch.equal(p.detach(), torch.zeros_like(p))
    message = str(caught.value)
    assert message.startswith(named) or re.search(rf"\b{re.escape(named)}", message), message


def test_the_compiled_path_hands_each_kernel_one_dtype(monkeypatch):
    seen = []

    def kernel(params, grads, velocities, lr, momentum, keep, *decay):
        seen.append({t.dtype for t in [*params, *grads, *velocities, lr]})
        rule = SGDRule(lr=float(lr), momentum=float(momentum), dampening=1 - float(keep))
        single_tensor_sgd_(params, grads, velocities, rule)

    monkeypatch.setattr(compiled, "_compiled", lambda **flags: compiled._Compiled(kernel, set()))
    dtypes = [torch.float32, torch.float64, torch.float32]
    ours = [torch.ones(3, dtype=d, requires_grad=True) for d in dtypes]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    opt = MomentumSGD(ours, lr=0.1, momentum=0.9, impl="compiled")
    reference = torch.optim.SGD(theirs, lr=0.1, momentum=0.9)
    for k in range(3):
        for p, q in zip(ours, theirs, strict=True):
            p.grad = torch.full_like(p, float(k + 1))
            q.grad = p.grad.clone()
        opt.step()
        reference.step()
    assert seen == [{torch.float32}, {torch.float64}] * 2  # steps 2 and 3: velocities exist
    assert all(torch.equal(p, q) for p, q in zip(ours, theirs, strict=True))
