"""The noisy quadratic model (Zhang et al., NeurIPS 2019): exact expected loss, no simulation.

The loss is L(x) = 1/2 sum_i h_i x_i^2. Along direction i the stochastic gradient is
h_i x_i + xi_i, with xi_i independent, zero-mean, of variance noise_i / batch_size. Heavy ball
(beta = 0: SGD), from v_0 = 0:

    v_{t+1} = beta v_t + h x_t + xi_t,        x_{t+1} = x_t - eta v_{t+1}
            = (1 - eta h) x_t - eta beta v_t - eta xi_t.

Each direction is a linear map of (x, v) plus noise, so its second moments
(a, b, c) = (E x^2, E x v, E v^2) follow a linear recursion, with s = noise / batch_size:

    a' = (1 - eta h)^2 a - 2 eta beta (1 - eta h) b + eta^2 beta^2 c + eta^2 s
    b' = h (1 - eta h) a + beta (1 - 2 eta h) b - eta beta^2 c - eta s
    c' = h^2 a + 2 h beta b + beta^2 c + s

and E[L(x_t)] = 1/2 sum_i h_i a_i(t), exactly. The start is a = x0^2, b = c = 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["expected_loss", "steps_to_target"]

ArrayLike = float | Sequence[float] | np.ndarray


def _directions(curvatures: ArrayLike, noise: ArrayLike, x0: ArrayLike) -> tuple[np.ndarray, ...]:
    """The three per-direction arrays, checked: same length, h > 0, noise >= 0, all finite."""
    arrays = {}
    for name, value in (("curvatures", curvatures), ("noise", noise), ("x0", x0)):
        array = np.atleast_1d(np.asarray(value, dtype=float))
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must be finite, got {array.tolist()}")
        arrays[name] = array
    sizes = {name: a.size for name, a in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"curvatures, noise and x0 must have the same length, got {sizes}")
    if np.any(arrays["curvatures"] <= 0):
        raise ValueError(f"curvatures must be > 0, got {arrays['curvatures'].tolist()}")
    if np.any(arrays["noise"] < 0):
        raise ValueError(f"noise must be >= 0 (a variance), got {arrays['noise'].tolist()}")
    return arrays["curvatures"], arrays["noise"], arrays["x0"]


def _check_scalars(lr: float, momentum: float, batch_size: float) -> None:
    if not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"lr must be finite and >= 0, got {lr}")
    if not (math.isfinite(momentum) and 0 <= momentum < 1):
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if not (math.isfinite(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")


def _losses(
    lr: float,
    momentum: float,
    batch_size: float,
    curvatures: ArrayLike,
    noise: ArrayLike,
    x0: ArrayLike,
):
    """Yield E[L(x_t)] for t = 0, 1, 2, ... (forever; the caller stops)."""
    _check_scalars(lr, momentum, batch_size)
    h, noise_arr, start = _directions(curvatures, noise, x0)
    s = noise_arr / batch_size
    eta, beta = float(lr), float(momentum)
    keep = 1 - eta * h
    a, b, c = start**2, np.zeros_like(h), np.zeros_like(h)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run becomes inf, then stops
        while True:
            loss = 0.5 * float(np.sum(h * a))
            yield loss if math.isfinite(loss) else math.inf
            a, b, c = (
                keep**2 * a - 2 * eta * beta * keep * b + (eta * beta) ** 2 * c + eta**2 * s,
                h * keep * a + beta * (1 - 2 * eta * h) * b - eta * beta**2 * c - eta * s,
                h**2 * a + 2 * h * beta * b + beta**2 * c + s,
            )


def expected_loss(
    lr: float,
    momentum: float,
    batch_size: float,
    curvatures: ArrayLike,
    noise: ArrayLike,
    x0: ArrayLike,
    steps: int,
) -> np.ndarray:
    """E[L(x_t)] for t = 0..steps of heavy ball on the noisy quadratic model, exactly.

    ``curvatures`` h_i > 0, ``noise`` (per-example gradient variance) and ``x0`` are per
    direction, of one length; the gradient noise of a batch has variance noise_i / batch_size.
    A diverging run reads ``inf`` from the step where it overflows. Bad input raises
    ``ValueError`` naming the argument.
    """
    _check_count("steps", steps)
    losses = _losses(lr, momentum, batch_size, curvatures, noise, x0)
    out = np.empty(steps + 1)
    for t in range(steps + 1):
        out[t] = next(losses)
        if out[t] == math.inf:
            out[t:] = math.inf
            break
    return out


def steps_to_target(
    lr: float,
    momentum: float,
    batch_size: float,
    curvatures: ArrayLike,
    noise: ArrayLike,
    x0: ArrayLike,
    target: float,
    max_steps: int,
) -> int | None:
    """The first t <= ``max_steps`` with E[L(x_t)] <= ``target``, or None if there is none."""
    if not (math.isfinite(target) and target >= 0):
        raise ValueError(f"target must be finite and >= 0, got {target}")
    _check_count("max_steps", max_steps)
    losses = _losses(lr, momentum, batch_size, curvatures, noise, x0)
    for t in range(max_steps + 1):
        loss = next(losses)
        if loss <= target:
            return t
        if loss == math.inf:
            return None
    return None
