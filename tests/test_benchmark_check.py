"""The verdict of ``benchmarks/optimizer_step.py --check``, on made-up ratios (no timing).

``missed`` must pass a value that meets its bound or misses it by less than the noise margin,
and fail one beyond, in both directions (a time ratio at most a bound, a share at least one).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "optimizer_step.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("optimizer_step", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_target_has_a_margin_and_is_judged_at_a_measured_layout(bench):
    runs = (
        (bench.TARGETS, bench.TARGET_LAYOUTS),
        (bench.TARGETS, bench.ALL_LAYOUTS),
        (bench.SMOKE_TARGETS, bench.SMOKE_LAYOUTS),
    )
    for targets, layouts in runs:
        for name, (layout, op, bound) in targets.items():
            assert 0 < bench.NOISE_MARGINS[name] < 0.5 and op in ("<=", ">=") and bound > 0
            assert layout in layouts, name


def test_missed_passes_values_that_meet_their_bound(bench):
    met = {"sgd_momentum / torch default": 0.95, "compiled / fused": 1.0}
    assert bench.missed(met | {"compiled share of floor": 0.9}) == []
    exactly = {name: bound for name, (_, _, bound) in bench.TARGETS.items()}
    assert bench.missed(exactly) == []


def test_missed_passes_a_miss_within_the_noise_margin_and_fails_one_beyond(bench):
    margins = bench.NOISE_MARGINS
    for name, (_, op, bound) in bench.TARGETS.items():
        step = 1 if op == "<=" else -1  # the direction in which the value gets worse
        inside = bound * (1 + step * margins[name] * 0.9)
        beyond = bound * (1 + step * margins[name] * 1.1)
        assert bench.missed({name: inside}) == [], name
        (failure,) = bench.missed({name: beyond})
        assert failure.startswith(name) and f"not {op} {bound}" in failure


def test_an_impossible_target_fails(bench):
    # What --target "compiled / fused=0.5" does to a realistic 1.02.
    targets = dict(bench.TARGETS, **{"compiled / fused": ((10, 10**6), "<=", 0.5)})
    assert bench.missed({"compiled / fused": 1.02}, targets)
    assert not bench.missed({"compiled / fused": 1.02})
    # The smoke bound is generous, but a step twice as slow as fused fails it.
    assert not bench.missed({"compiled / fused": 1.25}, bench.SMOKE_TARGETS)
    assert bench.missed({"compiled / fused": 2.0}, bench.SMOKE_TARGETS)
