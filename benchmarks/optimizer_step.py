"""Time one momentum-SGD step, written many ways, against the memory-bandwidth floor.

A heavy-ball step ``v <- m*v + g; p <- p - lr*v`` does 4 flops per element and must read p, g
and v and write v and p: 20 bytes per float32 element. Any CPU does flops far faster than its
memory delivers 20 bytes, so the best a step can do is move those bytes at the machine's
bandwidth. The floor below is ``20 bytes * elements / bandwidth``, with the bandwidth measured
in the same run by an in-place ``a.add_(b)`` (12 bytes per element) over arrays of the same
total size, interleaved with the steps.

Usage (from the repository root)::

    python benchmarks/optimizer_step.py            # every layout, 1e2 .. 1e7 elements per tensor
    python benchmarks/optimizer_step.py --quick    # the two target layouts only (under a minute)
    python benchmarks/optimizer_step.py --smoke    # seconds: every row runs and agrees (for CI)

It prints a table per layout, then one PASS/FAIL line per target. It measures; it does not
assert timings; it exits non-zero only when an implementation disagrees with torch. A CSV
and a PNG go to ``results/optimizer_step/`` (git ignores ``results/``). Columns:

- ``ms/step``: median time of one step;
- ``B/elem``: the least bytes the step must move per element (20; 24 for the rows marked
  ``+zero``, which also zero the gradients, as ``sgd_momentum`` does by its contract);
- ``GB/s``: those bytes over the time; ``% floor``: that over the ``add_`` bandwidth;
- ``/fused``: time over the time of ``torch.optim.SGD(fused=True)``;
- ``alloc B/elem``: bytes allocated per step (PyTorch's profiler), per parameter element;
- ``faults``: minor page faults per step (fresh memory pages the kernel had to map).

Rows marked ``flat`` step the same numbers stored as one tensor (``Tensors.flat``: the n
parameters are views into it, as under DDP's gradient buckets or FSDP's flat parameters), so
one call covers them all; ``update_compiled_`` rows call the compiled step function without the
optimizer around it. The target "compiled share of floor" reports the compiled step all four ways.

Every implementation is first checked against ``torch.optim.SGD`` (two steps from the same
tensors; the loops must agree bit for bit, the others to float32 rounding).
Timings are medians of interleaved repetitions: each round runs every implementation once, in
a shuffled order, so that a burst of load from elsewhere hits them all alike.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import platform
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from helpers.compiled import update_compiled_
from helpers.optim import MomentumSGD, sgd_momentum

ROOT = Path(__file__).resolve().parent.parent

LR, MOMENTUM = 0.01, 0.9
FLOOR_BYTES = 20  # read p, g, v; write v, p (float32)
ZERO_BYTES = 4  # writing the zeros of zero_grad
ADD_BYTES = 12  # a.add_(b): read a, b; write a

# (tensors, elements per tensor). The two target layouts first: few large, many small.
TARGET_LAYOUTS = [(10, 10**6), (1000, 10**3)]
ALL_LAYOUTS = [(1000, 10**2), (1000, 10**3), (1000, 10**4), (100, 10**5), (10, 10**6), (1, 10**7)]
SMOKE_LAYOUTS = [(64 + 4, 10**2)]  # two chunks of the compiled step, in seconds

# Each target is named after what it measures; the value is the bar it must clear.
TARGETS = {
    # time of sgd_momentum (plus its zeroing) over torch SGD's default step + zero_grad: at most
    "sgd_momentum / torch default": 1.10,
    # time of MomentumSGD(impl="compiled") over torch SGD(fused=True): at most
    "compiled / fused": 1.05,
    # the best compiled step's share of the bandwidth floor: at least
    "compiled share of floor": 0.85,
}
# The share of the floor is judged on the compiled step, over the n tensors and over the same
# numbers stored flat; with the optimizer around it and without (the step function alone).
COMPILED_ROWS = [
    "MomentumSGD compiled",
    "update_compiled_ bare",
    "MomentumSGD comp, flat",
    "update_compiled_ flat",
]
# The implementations drawn in the figure (all are in the table and the CSV), with markers.
PLOTTED = [
    ("d2l verbatim", "v"),
    ("in-place loop", "o"),
    ("torch foreach", "s"),
    ("torch fused", "D"),
    ("MomentumSGD compiled", "^"),
    ("MomentumSGD comp, flat", "*"),
]
SCALAR_BYTES = 64  # per tensor: room for a boxed Python scalar, far below any tensor's size


# ---------------------------------------------------------------------------------------------
# The implementations: each builds its own tensors and returns a step function
# ---------------------------------------------------------------------------------------------


@dataclass
class Tensors:
    """One layout's data, seen two ways that share memory.

    ``params`` are ``n`` leaf tensors of ``size`` elements, each with a ``.grad``, and
    ``velocities`` their momentum buffers: what an optimizer of a model with ``n`` parameters
    sees. ``flat`` is one leaf over the same storage, end to end, with ``flat.grad`` over all the
    gradients and ``flat_velocity`` over all the buffers: the same numbers stored flat, as
    DDP's gradient buckets and FSDP's flat parameters store them. Stepping either view updates
    both.
    """

    params: list[torch.Tensor]
    velocities: list[torch.Tensor]
    flat: torch.Tensor
    flat_velocity: torch.Tensor

    def lists(self, flat: bool) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The parameters and velocities an optimizer gets: the n tensors, or the one flat."""
        return ([self.flat], [self.flat_velocity]) if flat else (self.params, self.velocities)


def make_tensors(n: int, size: int, seed: int = 0) -> Tensors:
    """Parameters, gradients (the same for a seed) and zero velocities for ``n`` x ``size``."""
    gen = torch.Generator().manual_seed(seed)
    p, g = torch.randn(n * size, generator=gen), torch.randn(n * size, generator=gen)
    v = torch.zeros(n * size)
    pieces = [slice(i * size, (i + 1) * size) for i in range(n)]
    # Slices of tensors that need no gradient are leaves: each can be an optimizer's parameter.
    params = [p[s].requires_grad_() for s in pieces]
    for param, s in zip(params, pieces, strict=True):
        param.grad = g[s]
    flat = p.detach().requires_grad_()  # a second leaf over p's storage
    flat.grad = g
    return Tensors(params, [v[s] for s in pieces], flat, v)


Factory = Callable[[Tensors], tuple[Callable[[], object], torch.optim.Optimizer | None]]


@dataclass(frozen=True)
class Impl:
    """One row of the table: a way to write the step, built fresh on a layout's tensors."""

    name: str
    build: Factory  # tensors -> (step function, the optimizer it steps, if any)
    exact: bool = False  # bit for bit equal to torch's default path
    zeroes_grads: bool = False  # also writes zeros into the gradients (4 more bytes)


@dataclass
class Run:
    """An implementation built on tensors: its step function and the timings it collects."""

    name: str
    params: list[torch.Tensor]
    step: Callable[[], object]
    bytes_per_element: int = FLOOR_BYTES  # the least traffic this step can have
    exact: bool = False
    optimizer: torch.optim.Optimizer | None = None
    times: list[float] = field(default_factory=list)


def d2l_verbatim(t: Tensors):
    params, velocities = t.params, t.velocities

    def step():
        with torch.no_grad():
            for p, v in zip(params, velocities, strict=True):
                v[:] = MOMENTUM * v + p.grad
                p[:] -= LR * v

    return step, None


def inplace_loop(t: Tensors):
    params, velocities = t.params, t.velocities

    def step():
        with torch.no_grad():
            for p, v in zip(params, velocities, strict=True):
                v.mul_(MOMENTUM).add_(p.grad)
                p.add_(v, alpha=-LR)

    return step, None


def course_sgd_momentum(t: Tensors):
    hyperparams = {"lr": LR, "momentum": MOMENTUM}
    return (lambda: sgd_momentum(t.params, t.velocities, hyperparams)), None


def bare_update_compiled(t: Tensors, flat: bool = False):
    params, velocities = t.lists(flat)
    grads = [p.grad for p in params]

    def step():
        with torch.no_grad():
            update_compiled_(params, grads, velocities, lr=LR, momentum=MOMENTUM)

    return step, None


def with_velocities(opt, params, velocities):
    """Hand an optimizer the shared velocities as its momentum buffers."""
    for p, v in zip(params, velocities, strict=True):
        opt.state[p]["momentum_buffer"] = v
    return opt


def torch_sgd(t: Tensors, zero_grad=False, flat=False, **kwargs):
    params, velocities = t.lists(flat)
    opt = with_velocities(
        torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, **kwargs), params, velocities
    )
    if not zero_grad:
        return opt.step, opt

    def step():
        opt.step()
        opt.zero_grad(set_to_none=False)

    return step, opt


def course_momentum_sgd(t: Tensors, impl: str, flat: bool = False):
    params, velocities = t.lists(flat)
    opt = MomentumSGD(params, lr=LR, momentum=MOMENTUM, impl=impl)
    return opt.step, with_velocities(opt, params, velocities)


# The "flat" rows step the one flat leaf instead of the n tensors.
IMPLS = [
    Impl(name="d2l verbatim", build=d2l_verbatim),
    Impl(name="in-place loop", build=inplace_loop, exact=True),
    Impl(name="sgd_momentum +zero", build=course_sgd_momentum, exact=True, zeroes_grads=True),
    Impl(
        name="torch default +zero",
        build=lambda t: torch_sgd(t, zero_grad=True),
        exact=True,
        zeroes_grads=True,
    ),
    Impl(name="torch default", build=torch_sgd, exact=True),
    Impl(name="torch foreach", build=lambda t: torch_sgd(t, foreach=True)),
    Impl(name="torch fused", build=lambda t: torch_sgd(t, fused=True)),
    Impl(name="MomentumSGD loop", build=lambda t: course_momentum_sgd(t, "loop"), exact=True),
    Impl(name="MomentumSGD foreach", build=lambda t: course_momentum_sgd(t, "foreach")),
    Impl(name="MomentumSGD compiled", build=lambda t: course_momentum_sgd(t, "compiled")),
    Impl(name="update_compiled_ bare", build=bare_update_compiled),
    Impl(name="torch fused, flat", build=lambda t: torch_sgd(t, fused=True, flat=True)),
    Impl(
        name="MomentumSGD comp, flat",
        build=lambda t: course_momentum_sgd(t, "compiled", flat=True),
    ),
    Impl(name="update_compiled_ flat", build=lambda t: bare_update_compiled(t, flat=True)),
]


def build_impls(data: Callable[[], Tensors], total: int) -> list[Run]:
    """Every implementation, each on the tensors ``data()`` returns, plus the bandwidth probe."""
    runs = []
    for impl in IMPLS:
        tensors = data()
        step, opt = impl.build(tensors)
        runs.append(
            Run(
                name=impl.name,
                params=tensors.params,
                step=step,
                bytes_per_element=FLOOR_BYTES + (ZERO_BYTES if impl.zeroes_grads else 0),
                exact=impl.exact,
                optimizer=opt,
            )
        )
    a, b = torch.randn(total), torch.randn(total)
    runs.append(
        Run(name="add_ (bandwidth)", params=[], step=lambda: a.add_(b), bytes_per_element=ADD_BYTES)
    )
    return runs


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_stderr():
    """Silence the process's stderr (the profiler prints two log lines there from C++)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def allocated_bytes_per_step(step: Callable[[], object], steps: int = 3) -> float:
    """Bytes the CPU allocator hands out during ``steps`` calls, per call (PyTorch's profiler)."""
    from torch.profiler import ProfilerActivity, profile

    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        for _ in range(steps):
            step()
    return sum(max(e.cpu_memory_usage, 0) for e in prof.events()) / steps


def page_faults_per_step(step: Callable[[], object], steps: int = 5) -> float:
    """Minor page faults per call: fresh pages the kernel had to map (fresh temporaries)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def compiled_graphs() -> int:
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]


def check_agreement(n: int, size: int) -> tuple[float, bool]:
    """Two steps of every implementation from the same tensors, each on its own copy.

    Returns the largest difference to torch's default path, and whether the implementations
    marked exact equal it bit for bit. The gradients are restored before each step, since some
    implementations zero them.
    """
    params0 = make_tensors(n, size).params
    impls = [i for i in build_impls(lambda: make_tensors(n, size), n * size) if i.params]
    for _ in range(2):
        for impl in impls:
            for p, q in zip(impl.params, params0, strict=True):
                p.grad.copy_(q.grad)
            impl.step()
    reference = next(i for i in impls if i.name == "torch default").params
    worst, exact_ok = 0.0, True
    for impl in impls:
        for p, q in zip(impl.params, reference, strict=True):
            if impl.exact:
                exact_ok &= torch.equal(p, q)
            worst = max(worst, (p - q).abs().max().item())
    return worst, exact_ok


def measure_layout(n: int, size: int, rounds: int, rng: random.Random) -> dict:
    """Check, then time every implementation on ``n`` tensors of ``size`` elements.

    For timing, all implementations share one set of params, gradients and velocities: no
    implementation gets luckier memory (placement, huge pages) than another, and each finds
    the data as the previous one left it.
    """
    torch._dynamo.reset()  # each layout compiles its own static graphs, as a fresh process would
    graphs_before = compiled_graphs()
    t0 = time.perf_counter()
    worst, exact_ok = check_agreement(n, size)  # this compiles the compiled step's graphs
    check_s = time.perf_counter() - t0
    graphs = compiled_graphs()

    shared = make_tensors(n, size)
    impls = build_impls(lambda: shared, n * size)
    for impl in impls:  # warm-up
        impl.step()
    for _ in range(rounds):
        order = impls[:]
        rng.shuffle(order)
        for impl in order:
            t0 = time.perf_counter()
            impl.step()
            impl.times.append(time.perf_counter() - t0)
    compiled = next(i for i in impls if i.name == "MomentumSGD compiled")
    for group in compiled.optimizer.param_groups:
        group["lr"] = LR / 2  # a schedule's change must not recompile
    compiled.step()
    recompiled = compiled_graphs() - graphs

    memory = {}
    for impl in impls:
        if impl.params:
            rss0 = rss_bytes()
            faults = page_faults_per_step(impl.step)
            memory[impl.name] = (allocated_bytes_per_step(impl.step), faults, rss_bytes() - rss0)
    return {
        "n": n,
        "size": size,
        "impls": impls,
        "check_s": check_s,
        "graphs": graphs - graphs_before,
        "recompiled": recompiled,
        "worst": worst,
        "exact_ok": exact_ok,
        "memory": memory,
        "compiled_impl": compiled.optimizer.impl,  # "foreach" if compilation failed
    }


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def summarise(result: dict) -> list[dict]:
    n, size = result["n"], result["size"]
    elements = n * size
    med = {i.name: statistics.median(i.times) for i in result["impls"]}
    bandwidth = ADD_BYTES * elements / med["add_ (bandwidth)"]
    rows = []
    for impl in result["impls"]:
        t = med[impl.name]
        achieved = impl.bytes_per_element * elements / t
        alloc, faults, rss = result["memory"].get(impl.name, (0.0, 0.0, 0))
        rows.append(
            {
                "tensors": n,
                "elements_per_tensor": size,
                "impl": impl.name,
                "ms_per_step": t * 1e3,
                "bytes_per_element": impl.bytes_per_element,
                "achieved_GBps": achieved / 1e9,
                "pct_of_floor": 100 * achieved / bandwidth,
                "ratio_to_fused": t / med["torch fused"],
                "alloc_bytes_per_step": alloc,
                "alloc_bytes_per_element": alloc / elements,
                "alloc_bytes_per_tensor": alloc / n,
                "page_faults_per_step": faults,
                "rss_growth_bytes": rss,
                "bandwidth_GBps": bandwidth / 1e9,
            }
        )
    return rows


def print_table(result: dict, rows: list[dict]) -> None:
    n, size = result["n"], result["size"]
    bw = rows[0]["bandwidth_GBps"]
    floor_ms = FLOOR_BYTES * n * size / (bw * 1e9) * 1e3
    print(
        f"\n{n} tensors x {size:.0e} elements (float32): bandwidth {bw:.1f} GB/s by add_, "
        f"floor {floor_ms:.3f} ms per step"
    )
    header = (
        f"{'implementation':<22}{'ms/step':>9}{'B/elem':>7}{'GB/s':>7}{'% floor':>9}"
        f"{'/fused':>8}{'alloc B/elem':>13}{'faults':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['impl']:<22}{r['ms_per_step']:>9.3f}{r['bytes_per_element']:>7d}"
            f"{r['achieved_GBps']:>7.1f}{r['pct_of_floor']:>8.0f}%{r['ratio_to_fused']:>8.2f}"
            f"{r['alloc_bytes_per_element']:>13.3f}{r['page_faults_per_step']:>8.0f}"
        )
    print(
        f"checked steps: largest difference to torch default {result['worst']:.1e}; "
        f"loop implementations bit for bit equal: {result['exact_ok']}; "
        f"graphs compiled for this layout: {result['graphs']} (the check, compilation included, "
        f"took {result['check_s']:.1f} s); "
        f"recompiled while timing or after an lr change: {result['recompiled']}"
    )
    if result["compiled_impl"] != "compiled":
        print("WARNING: torch.compile failed; 'MomentumSGD compiled' ran the foreach fallback")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_targets(all_rows: list[dict]) -> list[str]:
    by = {(r["tensors"], r["elements_per_tensor"], r["impl"]): r for r in all_rows}
    lines = []
    for n, size in TARGET_LAYOUTS:
        key = (n, size)
        if (*key, "torch fused") not in by:
            continue
        name = "sgd_momentum / torch default"
        ours = by[(*key, "sgd_momentum +zero")]["ms_per_step"]
        theirs = by[(*key, "torch default +zero")]["ms_per_step"]
        ratio = ours / theirs
        lines.append(
            f"{name:<26} {n} x {size:.0e}: time of sgd_momentum over torch SGD's default step "
            f"+ zero_grad = {ratio:.3f} (<= {TARGETS[name]:.2f})  {verdict(ratio <= TARGETS[name])}"
        )
        name = "compiled / fused"
        ratio = by[(*key, "MomentumSGD compiled")]["ratio_to_fused"]
        lines.append(
            f"{name:<26} {n} x {size:.0e}: time of MomentumSGD compiled over torch SGD fused "
            f"= {ratio:.3f} (<= {TARGETS[name]:.2f})  {verdict(ratio <= TARGETS[name])}"
        )
        name = "compiled share of floor"
        pct = {row: by[(*key, row)]["pct_of_floor"] for row in COMPILED_ROWS}
        best = max(pct, key=lambda row: pct[row])
        lines.append(
            f"{name:<26} {n} x {size:.0e}: % of the bandwidth floor (>= "
            f"{100 * TARGETS[name]:.0f}%): "
            + ", ".join(f"{row} {value:.0f}%" for row, value in pct.items())
            + f"  {verdict(pct[best] >= 100 * TARGETS[name])} ({best})"
        )
    # Allocation: a step that allocates a temporary as large as a tensor is proportional to the
    # parameter count; a few bytes per tensor (a boxed Python scalar) are not.
    worst = max(
        (r for r in all_rows if r["impl"] not in ("d2l verbatim", "add_ (bandwidth)")),
        key=lambda r: r["alloc_bytes_per_tensor"],
    )
    d2l = [r["alloc_bytes_per_element"] for r in all_rows if r["impl"] == "d2l verbatim"]
    ok = worst["alloc_bytes_per_tensor"] <= SCALAR_BYTES
    lines.append(
        f"{'allocation per step':<26} the most any step but d2l's allocates is "
        f"{worst['alloc_bytes_per_tensor']:.0f} bytes per tensor, "
        f"{worst['alloc_bytes_per_element']:.3f} per element ({worst['impl']} at "
        f"{worst['tensors']} x {worst['elements_per_tensor']:.0e}; <= {SCALAR_BYTES} per tensor)  "
        f"{verdict(ok)}; d2l verbatim allocates {min(d2l):.1f}-{max(d2l):.1f} bytes per element "
        "(three temporaries: 12), as expected"
    )
    print("\nTargets (measured, not asserted):")
    for line in lines:
        print("  " + line)
    return lines


def write_outputs(all_rows: list[dict], out: Path, suffix: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"optimizer_step_{suffix}" if suffix else "optimizer_step"
    with open(out / f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(all_rows[0]))
        writer.writeheader()
        writer.writerows(all_rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.plot import COLORS, use_course_style

    use_course_style()
    layouts = sorted(
        {(r["tensors"], r["elements_per_tensor"]) for r in all_rows}, key=lambda k: k[1]
    )
    by = {(r["tensors"], r["elements_per_tensor"], r["impl"]): r for r in all_rows}
    xs = [size for _, size in layouts]
    fig, ax = plt.subplots(figsize=(10, 6))
    for (name, marker), color in zip(PLOTTED, COLORS[: len(PLOTTED)], strict=True):
        ys = [by[(*k, name)]["achieved_GBps"] for k in layouts]
        ax.plot(xs, ys, marker=marker, color=color, label=name, linewidth=2)
    floor = [by[(*k, "add_ (bandwidth)")]["bandwidth_GBps"] for k in layouts]
    ax.plot(xs, floor, "k--", linewidth=2, label="floor: the add_ bandwidth")
    ax.set_xscale("log")
    ax.set_xlabel("elements per tensor (tensors: " + ", ".join(str(n) for n, _ in layouts) + ")")
    ax.set_ylabel("achieved GB/s (20 bytes per element / time)")
    big, small = layouts[-1], layouts[0]
    best_big = max(PLOTTED, key=lambda m: by[(*big, m[0])]["pct_of_floor"])[0]
    best_small = max(PLOTTED, key=lambda m: by[(*small, m[0])]["pct_of_floor"])[0]
    pct_big = by[(*big, best_big)]["pct_of_floor"]
    pct_small = by[(*small, best_small)]["pct_of_floor"]
    ax.set_title(
        f"At {big[1]:.0e} elements per tensor {best_big} reaches {pct_big:.0f}% of the floor;\n"
        f"at {small[1]:.0e} the best ({best_small}) reaches {pct_small:.0f}%",
        fontsize=12,
    )
    ax.legend(fontsize=10)
    fig.savefig(out / f"{stem}.png")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="target layouts only, fewer rounds")
    parser.add_argument(
        "--smoke", action="store_true", help="seconds: small layouts, few rounds (CI)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per layout")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "optimizer_step")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # Steps that zero the shared gradients let the velocities decay geometrically; flushing
    # denormals keeps hundreds of steps from reaching the slow denormal range.
    torch.set_flush_denormal(True)
    layouts = SMOKE_LAYOUTS if args.smoke else TARGET_LAYOUTS if args.quick else ALL_LAYOUTS
    rounds = args.rounds or (3 if args.smoke else 15 if args.quick else 31)
    load = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load:.1f}; {rounds} interleaved rounds, medians"
    )
    if load > 0.5 * (os.cpu_count() or 1):
        print("note: the machine is busy; timings are noisy")
    from torch.optim.optimizer import _default_to_fused_or_foreach

    probe = make_tensors(2, 4).params
    fused, foreach = _default_to_fused_or_foreach(probe, differentiable=False, use_fused=False)
    print(
        "torch SGD's default path on these CPU tensors: "
        + ("fused" if fused else "foreach" if foreach else "per-tensor loop (_single_tensor_sgd)")
    )

    rng = random.Random(0)
    start = time.perf_counter()
    all_rows, agreed = [], True
    for n, size in layouts:
        result = measure_layout(n, size, rounds, rng)
        rows = summarise(result)
        print_table(result, rows)
        all_rows += rows
        agreed &= result["exact_ok"] and result["worst"] < 1e-5
    print_targets(all_rows)
    write_outputs(all_rows, args.out, "smoke" if args.smoke else "quick" if args.quick else "")
    print(
        f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}/"
        f"; total {time.perf_counter() - start:.0f} s"
    )
    if not agreed:
        print(
            "FAIL: an implementation disagrees with torch.optim.SGD (see the checked-steps lines)"
        )
    return 0 if agreed else 1


if __name__ == "__main__":
    raise SystemExit(main())
