"""MomentumSGD beside torch.optim.SGD, through the checks of PyTorch's own generic optimizer tests.

PyTorch tests every optimizer the same way (``test/test_optim.py``, driven by ``optim_db`` in
``torch.testing._internal.common_optimizers``): each configuration of ``optim_inputs_func_sgd``
is trained, saved, loaded, copied, hooked, scheduled and fed bad input. Here each such check runs
MomentumSGD and ``torch.optim.SGD`` side by side on the same model and minibatches: with
``impl="loop"`` the results must be equal bit for bit, with ``"foreach"`` and ``"compiled"`` equal
to rounding.
"""

from __future__ import annotations

import copy
import io
import pickle
import warnings
from typing import Any

import pytest
import torch
from problems import batch, loss_of, make_model, params, train
from torch import Tensor, nn
from torch.optim import SGD
from torch.optim import lr_scheduler as sched

from helpers import sgd_rule
from helpers.optim import MomentumSGD

STEPS = 8


# torch.testing._internal.common_optimizers cannot be imported here (it needs ``expecttest``, not
# a course dependency, and replaces the course's hypothesis profile on import), so its SGD
# entries are copied: ``optim_inputs_func_sgd`` (torch 2.13) as desc -> kwargs, and the error
# inputs of ``optim_error_inputs_func_sgd`` as (desc, params, kwargs, error type, regex).
SGD_INPUTS: dict[str, dict[str, Any]] = {
    "default": {},
    "non-default lr": {"lr": 1e-2},
    "tensor lr": {"lr": "tensor(0.001)"},  # made anew by sgd_kwargs
    "non-zero weight_decay": {"weight_decay": 0.5},
    "momentum": {"momentum": 0.9},
    "maximize": {"weight_decay": 0.1, "maximize": True},
    "dampening": {"momentum": 0.9, "dampening": 0.5},
    "weight_decay w/ momentum": {"momentum": 0.9, "weight_decay": 0.1},
    "nesterov": {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
}
SGD_DESCS = list(SGD_INPUTS)


def _error_inputs():
    one, two = nn.Parameter(torch.randn(1, 1)), nn.Parameter(torch.randn(1, 1))
    return {
        "invalid param type": (
            one,
            {},
            TypeError,
            "params argument given to the optimizer should be an iterable",
        ),
        "a param group cannot have duplicate parameters": (
            [one, one],
            {},
            UserWarning,
            ".*a parameter group with duplicate parameters.*",
        ),
        "duplicate parameters should not occur across param groups either": (
            [{"params": one}, {"params": one}],
            {},
            ValueError,
            "some parameters appear in more than one parameter group",
        ),
        "Tensor lr must be 1-element": (
            None,
            dict(lr=torch.tensor([0.001, 0.001])),
            ValueError,
            "Tensor lr must be 1-element",
        ),
        "all optimizer params should be with/without names": (
            [("weight", one), two],
            {},
            ValueError,
            "all optimizer params should be with/without names. Some param names are missing",
        ),
        "all optimizer param groups should be with/without names.": (
            [{"params": [one], "lr": 1e-2}, {"params": [("weight", two)]}],
            {},
            ValueError,
            "all optimizer param groups should be with/without names. "
            "cannot add param group with names to the optimizer",
        ),
        "momentum should be between 0 and 1": (
            None,
            dict(lr=1e-2, momentum=-0.5),
            ValueError,
            "Invalid momentum value: -0.5",
        ),
    }


ERROR_DESCS = list(_error_inputs())
IMPLS = ("loop", "foreach", "compiled")
DTYPES = (torch.float32, torch.float64)


def sgd_kwargs(desc: str) -> dict[str, Any]:
    """A fresh copy of the kwargs torch tests SGD with under ``desc`` (a tensor lr is new)."""
    kwargs = dict(SGD_INPUTS[desc])
    if kwargs.get("lr") == "tensor(0.001)":
        kwargs["lr"] = torch.tensor(0.001)
    return kwargs


@pytest.fixture(autouse=True)
def _room_for_compiled_graphs(request):
    """Let this module's compiled steps compile, whatever other modules compiled before.

    Dynamo allows ``recompile_limit`` graphs per code object in a process, shared by all
    compiled steps of every MomentumSGD (helpers.compiled falls back to foreach past it, tested
    in test_momentum_sgd). Here the compiled cases must run compiled, and they assert so.
    """
    if "compiled" not in request.node.name:
        yield  # (importing torch._dynamo takes seconds)
        return
    with torch._dynamo.config.patch(recompile_limit=64):
        yield


# ----------------------------------------------------------------------------------------------
# Shared helpers: one model, its minibatches, side-by-side runs
# ----------------------------------------------------------------------------------------------


def pair(kwargs, impl, dtype=torch.float32, seed=0):
    """Two equal models, one with MomentumSGD(impl=impl), the other with torch.optim.SGD."""
    ours_model, torch_model = make_model(dtype, seed), make_model(dtype, seed)
    ours = MomentumSGD(ours_model.parameters(), impl=impl, **kwargs)
    theirs = SGD(torch_model.parameters(), **kwargs)
    return ours_model, ours, torch_model, theirs


TOL = {
    torch.float32: dict(rtol=1e-5, atol=1e-6),
    torch.float64: dict(rtol=1e-12, atol=1e-13),
    torch.complex64: dict(rtol=1e-5, atol=1e-6),
    torch.complex128: dict(rtol=1e-12, atol=1e-13),
}


def assert_same(ours, theirs, impl, what="params"):
    """Equal bit for bit for ``impl="loop"``, to rounding for the others."""
    ours, theirs = list(ours), list(theirs)
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.dtype == b.dtype and a.shape == b.shape
        if impl == "loop":
            assert torch.equal(a, b), f"{what}[{i}] differ by {(a - b).abs().max().item():.3g}"
        else:
            torch.testing.assert_close(a, b, **TOL[a.dtype], msg=f"{what}[{i}] differ")


def assert_same_state(ours: MomentumSGD, theirs: SGD, impl):
    """The same per-param state keys and momentum buffers as torch's."""
    ours_params = [p for g in ours.param_groups for p in g["params"]]
    theirs_params = [p for g in theirs.param_groups for p in g["params"]]
    for p, q in zip(ours_params, theirs_params, strict=True):
        assert set(ours.state.get(p, {})) == set(theirs.state.get(q, {}))
        if "momentum_buffer" in theirs.state.get(q, {}):
            assert_same(
                [ours.state[p]["momentum_buffer"]],
                [theirs.state[q]["momentum_buffer"]],
                impl,
                "momentum_buffer",
            )


def assert_still(opt: MomentumSGD, impl):
    """A compiled optimizer that fell back to foreach would hide what the test is about."""
    assert opt.impl == impl


def saved_and_loaded(state_dict):
    """Through ``torch.save`` and ``torch.load(weights_only=True)``, as a checkpoint goes."""
    buf = io.BytesIO()
    torch.save(state_dict, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# Every SGD configuration torch tests, with each implementation, in both precisions. A compiled
# step compiles for seconds per structure (velocities or not, Nesterov, maximize, weight decay,
# dtype), so the compiled cases are few: heavy ball and dampening (one graph) and Nesterov with
# weight decay in float32; Nesterov in float64. Plain SGD compiled is in test_momentum_sgd.
COMPILED_F32 = {"momentum", "dampening"}
TRAJECTORY_CASES = [
    pytest.param(desc, impl, dtype, id=f"{desc}-{impl}-{str(dtype)[6:]}")
    for desc in SGD_DESCS
    for impl in IMPLS
    for dtype in DTYPES
    if impl != "compiled" or desc == "nesterov" or (desc in COMPILED_F32 and dtype == torch.float32)
]


# ----------------------------------------------------------------------------------------------
# Trajectories (test_foreach_matches_forloop, test_forloop_goes_right_direction, test_tensor_lr)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("desc", "impl", "dtype"), TRAJECTORY_CASES)
def test_trajectory_matches_torch_sgd(desc, impl, dtype):
    kwargs = sgd_kwargs(desc)
    ours_model, ours, torch_model, theirs = pair(kwargs, impl, dtype)
    start = params(ours_model)
    ours_losses = train(ours_model, ours)
    theirs_losses = train(torch_model, theirs)
    assert_same(ours_model.parameters(), torch_model.parameters(), impl)
    assert_same_state(ours, theirs, impl)
    assert_still(ours, impl)
    if impl == "loop":
        assert ours_losses == theirs_losses
    assert any(not torch.equal(p, q) for p, q in zip(params(ours_model), start, strict=True))


@pytest.mark.parametrize("impl", ["loop", "foreach"])
def test_tensor_lr_steps_like_its_float(impl):
    model_t, model_f = make_model(), make_model()
    opt_t = MomentumSGD(model_t.parameters(), lr=torch.tensor(0.01), momentum=0.9, impl=impl)
    opt_f = MomentumSGD(model_f.parameters(), lr=float(torch.tensor(0.01)), momentum=0.9, impl=impl)
    train(model_t, opt_t)
    train(model_f, opt_f)
    assert_same(model_t.parameters(), model_f.parameters(), "loop")


@pytest.mark.parametrize("impl", ["loop", "foreach"])
@pytest.mark.parametrize("desc", SGD_DESCS)
def test_goes_downhill_or_uphill_with_maximize(desc, impl):
    # torch's test_forloop_goes_right_direction, on one fixed minibatch.
    kwargs = sgd_kwargs(desc)
    kwargs["lr"] = 0.05
    model = make_model()
    opt = MomentumSGD(model.parameters(), impl=impl, **kwargs)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = loss_of(model, 0)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if kwargs.get("maximize"):
        assert losses[-1] > losses[0]
    else:
        assert losses[-1] < losses[0]


@pytest.mark.parametrize("impl", ["loop", "foreach"])
def test_maximize_and_dampening_change_the_result(impl):
    finals = {}
    for name, kwargs in {
        "plain": dict(lr=0.01, momentum=0.9),
        "maximize": dict(lr=0.01, momentum=0.9, maximize=True),
        "dampening": dict(lr=0.01, momentum=0.9, dampening=0.5),
    }.items():
        ours_model, ours, torch_model, theirs = pair(kwargs, impl)
        train(ours_model, ours)
        train(torch_model, theirs)
        assert_same(ours_model.parameters(), torch_model.parameters(), impl)
        assert_still(ours, impl)
        finals[name] = params(ours_model)
    for name in ("maximize", "dampening"):
        pairs = zip(finals[name], finals["plain"], strict=True)
        diff = max((p - q).abs().max().item() for p, q in pairs)
        assert diff > 1e-3, f"{name} did not change the trajectory"


@pytest.mark.parametrize("impl", ["loop", "foreach"])
def test_zero_grads_and_missing_grads_are_noops(impl):
    # torch's test_step_is_noop_for_zero_grads and test_step_is_noop_when_params_have_no_grad.
    for desc in SGD_DESCS:
        kwargs = {**sgd_kwargs(desc), "weight_decay": 0.0}
        for zero in (True, False):
            model, twin = make_model(), make_model()
            ours = MomentumSGD(model.parameters(), impl=impl, **kwargs)
            theirs = SGD(twin.parameters(), **kwargs)
            for m, opt in ((model, ours), (twin, theirs)):
                for _ in range(3):
                    for p in m.parameters():
                        p.grad = torch.zeros_like(p) if zero else None
                    opt.step()
            assert_same(model.parameters(), params(make_model()), "loop")
            assert_same_state(ours, theirs, "loop")
            assert len(ours.state) == len(theirs.state)


def test_empty_params_step_like_torch():
    # torch's test_empty_grad: zero-element params and grads.
    ours_p = [torch.zeros(0, 3, requires_grad=True), torch.ones(2, requires_grad=True)]
    theirs_p = [p.detach().clone().requires_grad_() for p in ours_p]
    for impl in ("loop", "foreach"):
        ours = MomentumSGD(ours_p, lr=0.1, momentum=0.9, impl=impl)
        theirs = SGD(theirs_p, lr=0.1, momentum=0.9)
        for _ in range(2):
            for p, q in zip(ours_p, theirs_p, strict=True):
                p.grad = torch.full_like(p, 0.5)
                q.grad = torch.full_like(q, 0.5)
            ours.step()
            theirs.step()
        assert_same(ours_p, theirs_p, "loop")


# ----------------------------------------------------------------------------------------------
# Closures
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
def test_step_with_a_closure_returns_its_loss(impl):
    ours_model, ours, torch_model, theirs = pair(dict(lr=0.01, momentum=0.9), impl)
    for k in range(4):
        results, calls = {}, {}
        for name, model, opt in (("ours", ours_model, ours), ("torch", torch_model, theirs)):
            calls[name] = 0

            def closure(model=model, opt=opt, name=name, calls=calls, k=k):
                calls[name] += 1
                opt.zero_grad()
                loss = loss_of(model, k)
                loss.backward()
                return loss

            results[name] = opt.step(closure)
        assert calls == {"ours": 1, "torch": 1}
        assert isinstance(results["ours"], Tensor) and results["ours"].grad_fn is not None
        assert_same([results["ours"].detach()], [results["torch"].detach()], impl, "loss")
    assert ours.step() is None and theirs.step() is None  # no closure, no loss
    assert_same(ours_model.parameters(), torch_model.parameters(), impl)
    assert_still(ours, impl)


# ----------------------------------------------------------------------------------------------
# Param groups
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["loop", "foreach"])
def test_param_groups_and_a_group_added_later(impl):
    # torch's test_param_groups_lr / test_param_groups_weight_decay, then add_param_group.
    ours_model, torch_model = make_model(), make_model()
    ours_late, torch_late = make_model(seed=1), make_model(seed=1)

    def groups(model):
        first, second = model[0], model[2]
        return [
            {"params": first.parameters()},
            {"params": second.parameters(), "lr": 0.05, "weight_decay": 0.1},
        ]

    ours = MomentumSGD(groups(ours_model), lr=0.01, momentum=0.5, impl=impl)
    theirs = SGD(groups(torch_model), lr=0.01, momentum=0.5)
    train(ours_model, ours, steps=3)
    train(torch_model, theirs, steps=3)
    later = dict(lr=0.02, momentum=0.9, nesterov=True)
    ours.add_param_group({"params": list(ours_late.parameters()), **later})
    theirs.add_param_group({"params": list(torch_late.parameters()), **later})
    assert ours.param_groups[2]["momentum"] == 0.9 and ours.param_groups[2]["dampening"] == 0
    for k in range(3, 3 + STEPS):
        for model, late, opt in ((ours_model, ours_late, ours), (torch_model, torch_late, theirs)):
            opt.zero_grad()
            (loss_of(model, k) + loss_of(late, k + 50)).backward()
            opt.step()
    assert_same(ours_model.parameters(), torch_model.parameters(), impl)
    assert_same(ours_late.parameters(), torch_late.parameters(), impl, "late params")
    assert_same_state(ours, theirs, impl)


def test_a_misspelt_key_is_refused_and_the_group_not_added():
    model = make_model()
    first, second = list(model[0].parameters()), list(model[2].parameters())
    with pytest.raises(ValueError, match="momemtum"):
        MomentumSGD([{"params": first}, {"params": second, "momemtum": 0.9}], lr=0.1)
    opt = MomentumSGD([{"params": first}], lr=0.1)
    with pytest.raises(ValueError, match="momemtum"):
        opt.add_param_group({"params": second, "momemtum": 0.9})
    assert len(opt.param_groups) == 1
    opt.add_param_group({"params": second, "momentum": 0.9})  # the right spelling is taken
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["momentum"] == 0.9


@pytest.mark.parametrize("impl", ["loop", "foreach"])
def test_named_parameters_like_torch(impl):
    ours_model, torch_model = make_model(), make_model()
    ours = MomentumSGD(ours_model.named_parameters(), lr=0.01, momentum=0.9, impl=impl)
    theirs = SGD(torch_model.named_parameters(), lr=0.01, momentum=0.9)
    train(ours_model, ours)
    train(torch_model, theirs)
    assert_same(ours_model.parameters(), torch_model.parameters(), impl)
    assert ours.param_groups[0]["param_names"] == theirs.param_groups[0]["param_names"]
    saved = (ours.state_dict(), theirs.state_dict())
    names = [sd["param_groups"][0]["param_names"] for sd in saved]
    assert names[0] == names[1] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_named_parameters_with_a_large_lr_like_torch():
    # Above 65504 the lr is checked against the params' dtypes; named params are (name, tensor).
    model = make_model()
    SGD(model.named_parameters(), lr=1e5)
    opt = MomentumSGD(model.named_parameters(), lr=1e5)
    assert opt.param_groups[0]["lr"] == 1e5


# ----------------------------------------------------------------------------------------------
# state_dict, both ways (test_state_dict_deterministic, test_can_load_older_state_dict, ...)
# ----------------------------------------------------------------------------------------------

ROUND_TRIP_DESCS = [
    "momentum",
    "nesterov",
    "dampening",
    "maximize",
    "non-zero weight_decay",
    "weight_decay w/ momentum",
    "tensor lr",
]


@pytest.mark.parametrize("impl", ["loop", "foreach"])
@pytest.mark.parametrize("desc", ROUND_TRIP_DESCS)
def test_torch_sgd_state_dict_into_momentum_sgd(desc, impl):
    kwargs = sgd_kwargs(desc)
    torch_model = make_model()
    theirs = SGD(torch_model.parameters(), **kwargs)
    train(torch_model, theirs, steps=3)
    ours_model = copy.deepcopy(torch_model)
    ours = MomentumSGD(ours_model.parameters(), lr=0.5, impl=impl)  # settings come from the file
    ours.load_state_dict(saved_and_loaded(theirs.state_dict()))
    assert_same_state(ours, theirs, "loop")
    train(ours_model, ours, start=3)
    train(torch_model, theirs, start=3)
    assert_same(ours_model.parameters(), torch_model.parameters(), impl)
    assert_same_state(ours, theirs, impl)
    assert_still(ours, impl)


@pytest.mark.parametrize("impl", ["loop", "foreach"])
@pytest.mark.parametrize("desc", ROUND_TRIP_DESCS)
def test_momentum_sgd_state_dict_into_torch_sgd(desc, impl):
    kwargs = sgd_kwargs(desc)
    ours_model = make_model()
    ours = MomentumSGD(ours_model.parameters(), impl=impl, **kwargs)
    train(ours_model, ours, steps=3)
    torch_model = copy.deepcopy(ours_model)
    theirs = SGD(torch_model.parameters(), lr=0.5)
    theirs.load_state_dict(saved_and_loaded(ours.torch_state_dict()))
    assert_same_state(ours, theirs, "loop")
    train(ours_model, ours, start=3)
    train(torch_model, theirs, start=3)
    assert_same(ours_model.parameters(), torch_model.parameters(), impl)
    # And back: torch's state dict into a third MomentumSGD, which continues like both.
    again_model = copy.deepcopy(torch_model)
    again = MomentumSGD(again_model.parameters(), lr=0.5, impl=impl)
    again.load_state_dict(copy.deepcopy(theirs.state_dict()))
    assert again.state_dict()["param_groups"] == ours.state_dict()["param_groups"]
    train(again_model, again, start=6, steps=3)
    train(ours_model, ours, start=6, steps=3)
    assert_same(again_model.parameters(), ours_model.parameters(), "loop")


@pytest.mark.parametrize("impl", ["loop", "foreach"])
def test_loading_its_own_state_dict_is_deterministic(impl):
    model = make_model()
    opt = MomentumSGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, impl=impl)
    train(model, opt, steps=3)
    twin_model = copy.deepcopy(model)
    twin = MomentumSGD(twin_model.parameters(), lr=0.3, impl=impl)
    twin.load_state_dict(saved_and_loaded(opt.state_dict()))
    first, second = opt.state_dict(), twin.state_dict()
    assert first["param_groups"] == second["param_groups"]
    assert first["state"].keys() == second["state"].keys()
    for k, entry in first["state"].items():
        assert torch.equal(entry["momentum_buffer"], second["state"][k]["momentum_buffer"])
    train(model, opt, start=3)
    train(twin_model, twin, start=3)
    assert_same(model.parameters(), twin_model.parameters(), "loop")


@pytest.mark.parametrize("impl", ["loop", "foreach"])
def test_an_older_torch_state_dict_loads(impl):
    # torch's test_can_load_older_state_dict: flags added to SGD later are missing from the file.
    torch_model = make_model()
    theirs = SGD(torch_model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    train(torch_model, theirs, steps=3)
    sd = copy.deepcopy(theirs.state_dict())
    for group in sd["param_groups"]:
        for key in ("maximize", "foreach", "differentiable", "fused"):  # SGD's later flags
            del group[key]
    ours_model, old_model = copy.deepcopy(torch_model), copy.deepcopy(torch_model)
    ours = MomentumSGD(ours_model.parameters(), lr=0.5, impl=impl)
    ours.load_state_dict(copy.deepcopy(sd))
    old = SGD(old_model.parameters(), lr=0.5)
    old.load_state_dict(sd)
    train(ours_model, ours, start=3)
    train(old_model, old, start=3)
    train(torch_model, theirs, start=3)
    assert_same(ours_model.parameters(), old_model.parameters(), impl)
    assert_same(ours_model.parameters(), torch_model.parameters(), impl)


class TwoHeads(nn.Module):
    """A model whose second head takes no part in the loss until ``late`` is set."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Linear(5, 4)
        self.head = nn.Linear(4, 2)
        self.late = nn.Linear(4, 2)
        self.use_late = False

    def forward(self, x):
        h = torch.tanh(self.body(x))
        return self.head(h) + (self.late(h) if self.use_late else 0)


def train_two_heads(model, opt, start, steps):
    for k in range(start, start + steps):
        opt.zero_grad()
        x, y = batch(k)
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def torch_ema(parameters, lr, m):
    """torch.optim.SGD running the EMA: dampening = momentum, buffers started at zero."""
    opt = SGD(parameters, lr=lr, momentum=m, dampening=m)
    for p in opt.param_groups[0]["params"]:
        opt.state[p]["momentum_buffer"] = torch.zeros_like(p)
    return opt


@pytest.mark.parametrize("impl", IMPLS)
def test_ema_is_torch_sgd_with_dampening_equal_to_momentum(impl):
    ours_model, torch_model = make_model(), make_model()
    ours = MomentumSGD(ours_model.parameters(), lr=0.05, momentum=0.9, variant="ema", impl=impl)
    theirs = torch_ema(torch_model.parameters(), lr=0.05, m=0.9)
    train(ours_model, ours)
    train(torch_model, theirs)
    assert_same(ours_model.parameters(), torch_model.parameters(), impl)
    assert_same_state(ours, theirs, impl)
    assert_still(ours, impl)


@pytest.mark.parametrize("impl", ["loop", "foreach"])
def test_ema_state_dict_continues_the_same_ema_in_torch(impl):
    model = TwoHeads()
    ours = MomentumSGD(model.parameters(), lr=0.05, momentum=0.9, variant="ema", impl=impl)
    train_two_heads(model, ours, 0, 3)
    assert all(p not in ours.state for p in model.late.parameters())  # never stepped
    sd = saved_and_loaded(ours.torch_state_dict())
    assert sd["param_groups"][0]["dampening"] == 0.9
    torch_model, back_model = copy.deepcopy(model), copy.deepcopy(model)
    # Each loader gets its own copy: load_state_dict keeps the tensors it is given.
    theirs = SGD(torch_model.parameters(), lr=1.0)
    theirs.load_state_dict(copy.deepcopy(sd))
    back = MomentumSGD(back_model.parameters(), lr=1.0, impl=impl)  # heavy ball until loaded
    back.load_state_dict(copy.deepcopy(sd))
    assert back.param_groups[0]["variant"] == "ema"
    for m in (model, torch_model, back_model):
        m.use_late = True
    train_two_heads(model, ours, 3, 5)
    train_two_heads(torch_model, theirs, 3, 5)
    train_two_heads(back_model, back, 3, 5)
    assert_same(model.parameters(), torch_model.parameters(), impl)
    assert_same(model.parameters(), back_model.parameters(), "loop")
    # The late head's EMA started at zero like the others' (its first step was (1 - m) * g):
    # the same as torch running the EMA from the start with every buffer at zero.
    reference = TwoHeads()
    reference_opt = torch_ema(reference.parameters(), lr=0.05, m=0.9)
    train_two_heads(reference, reference_opt, 0, 3)
    reference.use_late = True
    train_two_heads(reference, reference_opt, 3, 5)
    assert_same(model.parameters(), reference.parameters(), impl, "EMA from zero")


@pytest.mark.parametrize("impl", ["loop", "foreach"])
def test_bias_corrected_state_dict(impl):
    model = TwoHeads()
    kwargs = dict(lr=0.05, momentum=0.9, variant="ema", bias_correction=True)
    ours = MomentumSGD(model.parameters(), impl=impl, **kwargs)
    train_two_heads(model, ours, 0, 3)
    with pytest.raises(ValueError, match="bias_correction"):
        ours.torch_state_dict()
    sd = saved_and_loaded(ours.state_dict())
    assert "dampening" not in sd["param_groups"][0]
    # torch cannot run it, and says so instead of running something else.
    torch_model = copy.deepcopy(model)
    theirs = SGD(torch_model.parameters(), lr=0.05)
    theirs.load_state_dict(copy.deepcopy(sd))
    x, y = batch(3)
    nn.functional.mse_loss(torch_model(x), y).backward()
    with pytest.raises(KeyError, match="dampening"):
        theirs.step()
    # MomentumSGD resumes it exactly, step counts included.
    back_model = copy.deepcopy(model)
    back = MomentumSGD(back_model.parameters(), lr=1.0, impl=impl)
    back.load_state_dict(sd)
    for m in (model, back_model):
        m.use_late = True
    train_two_heads(model, ours, 3, 4)
    train_two_heads(back_model, back, 3, 4)
    assert_same(model.parameters(), back_model.parameters(), "loop")
    assert [back.state[p]["step"] for p in back_model.parameters()] == [7, 7, 7, 7, 4, 4]


# ----------------------------------------------------------------------------------------------
# Copies: deepcopy, pickle, torch.save (test_deepcopy_copies_all_public_attrs, ...)
# ----------------------------------------------------------------------------------------------


def _public_attrs(opt):
    return {k: v for k, v in vars(opt).items() if not k.startswith("_")}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_keeps_stepping_like_the_original(how, impl):
    model = make_model()
    opt = MomentumSGD(model.parameters(), lr=0.01, momentum=0.9, impl=impl)
    train(model, opt, steps=3)
    if how == "deepcopy":
        copy_model, copy_opt = copy.deepcopy((model, opt))
    else:
        copy_model, copy_opt = pickle.loads(pickle.dumps((model, opt)))
    assert type(copy_opt) is MomentumSGD and copy_opt.impl == impl
    assert _public_attrs(copy_opt).keys() == _public_attrs(opt).keys()
    assert copy_opt.param_groups[0]["params"][0] is next(copy_model.parameters())
    assert copy_opt.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    train(model, opt, start=3)
    train(copy_model, copy_opt, start=3)
    assert_same(copy_model.parameters(), model.parameters(), "loop")
    assert_still(opt, impl)
    assert_still(copy_opt, impl)


def _copied(how, obj):
    return copy.deepcopy(obj) if how == "deepcopy" else pickle.loads(pickle.dumps(obj))


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_ema_optimizer_still_saves_what_torch_continues(how):
    model = TwoHeads()
    opt = MomentumSGD(model.parameters(), lr=0.05, momentum=0.9, variant="ema", impl="loop")
    train_two_heads(model, opt, 0, 3)
    copy_model, copy_opt = _copied(how, (model, opt))
    sd = copy_opt.torch_state_dict()
    assert sd["param_groups"] == opt.state_dict()["param_groups"]
    assert sd["param_groups"][0]["dampening"] == 0.9
    torch_model = copy.deepcopy(copy_model)
    theirs = SGD(torch_model.parameters(), lr=1.0)
    theirs.load_state_dict(copy.deepcopy(sd))
    for m in (model, copy_model, torch_model):
        m.use_late = True
    train_two_heads(model, opt, 3, 4)
    train_two_heads(copy_model, copy_opt, 3, 4)
    train_two_heads(torch_model, theirs, 3, 4)
    assert_same(copy_model.parameters(), model.parameters(), "loop")
    assert_same(torch_model.parameters(), model.parameters(), "loop")


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_bias_corrected_optimizer_still_refuses_torch(how):
    model = TwoHeads()
    kwargs = dict(lr=0.05, momentum=0.9, variant="ema", bias_correction=True)
    opt = MomentumSGD(model.parameters(), impl="loop", **kwargs)
    train_two_heads(model, opt, 0, 2)
    _, copy_opt = _copied(how, (model, opt))
    with pytest.raises(ValueError, match="bias_correction"):
        copy_opt.torch_state_dict()
    assert "dampening" not in copy_opt.state_dict()["param_groups"][0]


@pytest.mark.parametrize("impl", ["loop", "foreach"])
def test_torch_save_and_weights_only_load(impl):
    model = make_model()
    opt = MomentumSGD(model.parameters(), lr=torch.tensor(0.01), momentum=0.9, impl=impl)
    train(model, opt, steps=3)
    sd = saved_and_loaded(opt.state_dict())
    twin_model = copy.deepcopy(model)
    twin = MomentumSGD(twin_model.parameters(), impl=impl)
    twin.load_state_dict(sd)
    assert torch.equal(torch.as_tensor(twin.param_groups[0]["lr"]), torch.tensor(0.01))
    train(model, opt, start=3)
    train(twin_model, twin, start=3)
    assert_same(twin_model.parameters(), model.parameters(), "loop")


# ----------------------------------------------------------------------------------------------
# The course's state_dict hook (torch's own hooks are torch's, inherited and not retested)
# ----------------------------------------------------------------------------------------------


def test_a_state_dict_post_hook_sees_the_ema_as_torch_will_load_it():
    # A post hook that copies the state dict (as a checkpointing hook does) must get what
    # state_dict() returns: for an EMA group, dampening = momentum and zero buffers.
    model = TwoHeads()
    ours = MomentumSGD(model.parameters(), lr=0.05, momentum=0.9, variant="ema", impl="loop")
    snapshots = []
    ours.register_state_dict_post_hook(lambda o, sd: snapshots.append(copy.deepcopy(sd)))
    train_two_heads(model, ours, 0, 3)
    returned = ours.state_dict()
    (snapshot,) = snapshots
    torch_model = copy.deepcopy(model)
    theirs = SGD(torch_model.parameters(), lr=1.0)
    theirs.load_state_dict(snapshot)
    for m in (model, torch_model):
        m.use_late = True
    train_two_heads(model, ours, 3, 3)
    train_two_heads(torch_model, theirs, 3, 3)
    assert_same(model.parameters(), torch_model.parameters(), "loop")
    assert snapshot["param_groups"] == returned["param_groups"]


# ----------------------------------------------------------------------------------------------
# Complex and mixed-dtype params (test_complex, test_complex_2d, test_mixed_device_dtype)
# ----------------------------------------------------------------------------------------------


def _complex_params(dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, dtype=dtype, generator=gen) for shape in [(3, 2), (4,)]]


def _complex_grads(k, like):
    gen = torch.Generator().manual_seed(50 + k)
    return [torch.randn(p.shape, dtype=p.dtype, generator=gen) for p in like]


COMPLEX_CASES = [
    pytest.param(desc, impl, dtype, id=f"{desc}-{impl}-{str(dtype)[6:]}")
    for desc in ("momentum", "nesterov", "maximize", "dampening")
    for impl in ("loop", "foreach")
    for dtype in (torch.complex64, torch.complex128)
]


@pytest.mark.parametrize(("desc", "impl", "dtype"), COMPLEX_CASES)
def test_complex_params_like_torch_and_like_their_real_view(desc, impl, dtype):
    kwargs = {**sgd_kwargs(desc), "lr": 0.05}
    start = _complex_params(dtype)
    ours_p = [p.clone().requires_grad_() for p in start]
    theirs_p = [p.clone().requires_grad_() for p in start]
    real_p = [torch.view_as_real(p).clone().requires_grad_() for p in start]
    ours = MomentumSGD(ours_p, impl=impl, **kwargs)
    theirs = SGD(theirs_p, **kwargs)
    real = SGD(real_p, **kwargs)
    for k in range(5):
        grads = _complex_grads(k, start)
        for p, q, r, g in zip(ours_p, theirs_p, real_p, grads, strict=True):
            p.grad, q.grad, r.grad = g.clone(), g.clone(), torch.view_as_real(g).clone()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Torchinductor does not support code generation")
            ours.step()
        theirs.step()
        real.step()
    assert_same(ours_p, theirs_p, impl)
    assert_same([torch.view_as_real(p.detach()) for p in ours_p], real_p, "close", "real view")
    assert_still(ours, impl)


@pytest.mark.parametrize("impl", ["loop", "foreach"])
@pytest.mark.parametrize("desc", ["momentum", "nesterov", "default", "weight_decay w/ momentum"])
def test_mixed_dtypes_in_one_group(desc, impl, monkeypatch):
    kwargs = sgd_kwargs(desc)
    real_rule = sgd_rule._rule
    calls = []

    def one_dtype_per_call(ops, params, grads, velocities, *args, **kwargs):
        if ops is sgd_rule.FOREACH:
            vs = [v for v in velocities or [] if v is not None]
            dtypes = {t.dtype for t in [*params, *grads, *vs]}
            calls.append(dtypes)
            assert len(dtypes) == 1, f"foreach was handed {dtypes}"
        return real_rule(ops, params, grads, velocities, *args, **kwargs)

    monkeypatch.setattr(sgd_rule, "_rule", one_dtype_per_call)
    gen = torch.Generator().manual_seed(0)
    start = [
        torch.randn(3, 2, generator=gen),
        torch.randn(4, generator=gen, dtype=torch.float64),
        torch.randn(2, generator=gen),
        torch.randn(2, 2, generator=gen, dtype=torch.float64),
    ]
    ours_p = [p.clone().requires_grad_() for p in start]
    theirs_p = [p.clone().requires_grad_() for p in start]
    ours = MomentumSGD(ours_p, impl=impl, **kwargs)
    theirs = SGD(theirs_p, **kwargs)
    for k in range(5):
        grads = _complex_grads(k, start)
        for p, q, g in zip(ours_p, theirs_p, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        ours.step()
        theirs.step()
    assert_same(ours_p, theirs_p, impl)
    assert_same_state(ours, theirs, impl)
    if impl == "foreach":
        assert {frozenset(c) for c in calls} == {
            frozenset({torch.float32}),
            frozenset({torch.float64}),
        }
    else:
        assert calls == []


# ----------------------------------------------------------------------------------------------
# LR schedulers (torch's SGD scheduler_inputs, and OneCycleLR cycling the momentum)
# ----------------------------------------------------------------------------------------------

SCHEDULERS = {
    "StepLR": [lambda o: sched.StepLR(o, gamma=0.5, step_size=3)],
    "LinearLR": [lambda o: sched.LinearLR(o, start_factor=0.4, end_factor=0.8, total_iters=4)],
    "StepLR+LinearLR": [
        lambda o: sched.StepLR(o, gamma=0.9, step_size=2),
        lambda o: sched.LinearLR(o, start_factor=0.4, end_factor=0.6, total_iters=4),
    ],
    "StepLR+ExponentialLR+ReduceLROnPlateau": [
        lambda o: sched.StepLR(o, gamma=0.99, step_size=2),
        lambda o: sched.ExponentialLR(o, gamma=0.9),
        lambda o: sched.ReduceLROnPlateau(o, patience=1, factor=0.5),
    ],
    "ConstantLR": [lambda o: sched.ConstantLR(o, factor=0.4, total_iters=4)],
    "PolynomialLR": [lambda o: sched.PolynomialLR(o, power=0.9, total_iters=4)],
    "OneCycleLR": [
        lambda o: sched.OneCycleLR(o, max_lr=0.05, total_steps=STEPS, cycle_momentum=True)
    ],
}

SCHEDULER_CASES = [
    pytest.param(name, impl, id=f"{name}-{impl}")
    for name in SCHEDULERS
    for impl in ("loop", "foreach")
] + [pytest.param("OneCycleLR", "compiled", id="OneCycleLR-compiled")]


@pytest.mark.parametrize(("name", "impl"), SCHEDULER_CASES)
def test_lr_schedulers_give_torchs_trajectory(name, impl):
    kwargs = dict(lr=0.02, momentum=0.9)
    ours_model, ours, torch_model, theirs = pair(kwargs, impl)
    seen = {}
    for key, model, opt in (("ours", ours_model, ours), ("torch", torch_model, theirs)):
        schedulers = [make(opt) for make in SCHEDULERS[name]]
        group = opt.param_groups[0]
        seen[key] = []
        for k in range(STEPS):
            train(model, opt, steps=1, start=k, schedulers=schedulers)
            seen[key].append((group["lr"], group["momentum"]))
    assert seen["ours"] == seen["torch"]
    assert len({lr for lr, _ in seen["ours"]}) > 1, "the schedule never changed the lr"
    if name == "OneCycleLR":
        assert len({m for _, m in seen["ours"]}) > 1, "cycle_momentum never changed momentum"
    assert_same(ours_model.parameters(), torch_model.parameters(), impl)
    assert_same_state(ours, theirs, impl)
    assert_still(ours, impl)


# ----------------------------------------------------------------------------------------------
# Settings checked when a step uses them
# ----------------------------------------------------------------------------------------------

BAD_SETTINGS = [
    pytest.param("lr", float("nan"), id="lr-nan"),
    pytest.param("lr", -5.0, id="lr-negative"),
    pytest.param("momentum", 1.5, id="momentum-1.5"),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("how", ["by-hand", "load_state_dict"])
@pytest.mark.parametrize(("key", "value"), BAD_SETTINGS)
def test_bad_settings_are_refused_at_step_time(key, value, how, impl):
    model = make_model()
    opt = MomentumSGD(model.parameters(), lr=0.01, momentum=0.9, impl=impl)
    train(model, opt, steps=2)
    if how == "by-hand":
        opt.param_groups[0][key] = value
    else:
        sd = copy.deepcopy(opt.state_dict())
        sd["param_groups"][0][key] = value
        opt.load_state_dict(sd)
    before = params(model)
    buffers = {id(p): s["momentum_buffer"].clone() for p, s in opt.state.items()}
    opt.zero_grad()
    loss_of(model, 2).backward()
    with pytest.raises(ValueError, match=rf"\b{key}\b"):
        opt.step()
    assert_same(model.parameters(), before, "loop")
    for p, s in opt.state.items():
        assert torch.equal(s["momentum_buffer"], buffers[id(p)])


@pytest.mark.parametrize("impl", ["loop", "foreach"])
@pytest.mark.parametrize(("key", "value"), BAD_SETTINGS)
def test_a_bad_setting_in_a_later_group_leaves_every_param_unchanged(key, value, impl):
    model = make_model()
    groups = [{"params": model[0].parameters()}, {"params": model[2].parameters()}]
    opt = MomentumSGD(groups, lr=0.01, momentum=0.9, impl=impl)
    train(model, opt, steps=2)
    opt.param_groups[1][key] = value
    before = params(model)
    opt.zero_grad()
    loss_of(model, 2).backward()
    with pytest.raises(ValueError, match=rf"\b{key}\b"):
        opt.step()
    assert_same(model.parameters(), before, "loop")


# ----------------------------------------------------------------------------------------------
# Bad input at construction (torch's optim_error_inputs_func_sgd, and SGD's own checks)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("desc", ERROR_DESCS)
def test_torchs_error_inputs_are_refused_in_torchs_words(desc):
    for cls in (SGD, MomentumSGD):
        params, kwargs, error, regex = _error_inputs()[desc]
        params = [nn.Parameter(torch.randn(1, 1))] if params is None else params
        if issubclass(error, Warning):
            with pytest.warns(error, match=regex):
                cls(params, **kwargs)
        else:
            with pytest.raises(error, match=regex):
                cls(params, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        (dict(lr=-0.1), "lr"),
        (dict(lr=0.1, weight_decay=-0.1), "weight_decay"),
        (dict(lr=0.1, nesterov=True), "nesterov"),
        (dict(lr=0.1, momentum=0.9, dampening=0.5, nesterov=True), "nesterov"),
    ],
    ids=["lr", "weight_decay", "nesterov-no-momentum", "nesterov-dampening"],
)
def test_torchs_own_checks_are_kept(kwargs, argument):
    param = [nn.Parameter(torch.randn(2))]
    with pytest.raises(ValueError):
        SGD(param, **kwargs)
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        MomentumSGD(param, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(fused=True), r"fused=True .*impl='compiled'"),
        (dict(differentiable=True), r"differentiable=True .*not supported"),
    ],
    ids=["fused", "differentiable"],
)
def test_refused_implementations(kwargs, message):
    param = [nn.Parameter(torch.randn(2))]
    with pytest.raises(ValueError, match=message):
        MomentumSGD(param, lr=0.1, **kwargs)
    SGD(param, lr=0.1, **{k: v for k, v in kwargs.items() if k != "impl"})  # torch takes them


@pytest.mark.parametrize(
    ("kwargs", "impl"),
    [(dict(fused=False), "foreach"), (dict(differentiable=False), "foreach")]
    + [(dict(foreach=False), "loop"), (dict(foreach=True), "foreach"), ({}, "foreach")],
    ids=["fused-False", "differentiable-False", "foreach-False", "foreach-True", "default"],
)
def test_torchs_implementation_flags_choose_an_impl(kwargs, impl):
    model, twin = make_model(), make_model()
    ours = MomentumSGD(model.parameters(), lr=0.01, momentum=0.9, **kwargs)
    assert ours.impl == impl
    train(model, ours, steps=3)
    train(twin, SGD(twin.parameters(), lr=0.01, momentum=0.9, **kwargs), steps=3)
    assert_same(model.parameters(), twin.parameters(), impl)


@pytest.mark.parametrize("momentum", [1.0, 1.5])
def test_momentum_of_one_or_more_is_refused_on_purpose(momentum):
    # The one deliberate difference from torch: SGD takes momentum >= 1 and then diverges.
    param = [nn.Parameter(torch.randn(2))]
    SGD(param, lr=0.1, momentum=momentum)
    with pytest.raises(ValueError, match=rf"^Invalid momentum value: {momentum} .*on purpose"):
        MomentumSGD(param, lr=0.1, momentum=momentum)
