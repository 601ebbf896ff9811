"""The verdict of ``benchmarks/optimizer_step.py --check``, on made-up ratios (no timing).

``missed`` must pass a value that meets its bound or misses it by less than the noise margin,
and fail one beyond, in both directions (a time ratio at most a bound, a share at least one).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
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


def test_processes_are_judged_by_the_median_of_their_values(bench, monkeypatch, capsys):
    """--processes N runs N workers with --values-json and judges each target's median: one
    slow process among three does not fail the check, two do; a fallback in any one does."""
    runs: list[list[str]] = []

    def worker_results(values):
        replies = iter(values)

        def fake_run(cmd, **_):
            runs.append(cmd)
            value, fell_back = next(replies)
            out = json.dumps({"values": {"compiled / fused": value}, "fell_back": fell_back})
            return subprocess.CompletedProcess(cmd, 0, stdout=f"timings...\n{out}\n")

        monkeypatch.setattr(bench.subprocess, "run", fake_run)

    argv = ["--quick", "--rows", "compiled", "--check", "--processes", "3"]
    worker_results([(1.0, []), (1.3, []), (1.04, [])])
    assert bench.main(argv) == 0
    assert "compiled / fused" in capsys.readouterr().out.split("median of 3 processes")[1]
    assert len(runs) == 3 and runs[0][-3:] == ["--processes", "1", "--values-json"]
    worker_results([(1.0, []), (1.3, []), (1.25, [])])
    assert bench.main(argv) == 1  # median 1.25, beyond the noise limit of 1.05
    worker_results([(1.0, []), (1.0, ["compiled at 10 x 1e6"]), (1.0, [])])
    assert bench.main(argv) == 1
    assert "compiled at 10 x 1e6 fell back to foreach" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench.main(["--processes", "0"])


def test_a_failed_worker_process_stops_the_run_with_its_error(bench, monkeypatch, capsys):
    def failing_run(cmd, **_):
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr="RuntimeError: no memory\n")

    monkeypatch.setattr(bench.subprocess, "run", failing_run)
    with pytest.raises(SystemExit, match="process 1 failed"):
        bench.main(["--quick", "--processes", "3"])
    assert "RuntimeError: no memory" in capsys.readouterr().err
