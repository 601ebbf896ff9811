"""Convergence theory of gradient descent and heavy-ball momentum on quadratics (NumPy, float64).

On ``f(x) = 1/2 x^T A x - h^T x`` with ``A`` symmetric positive definite the minimiser is
``x* = A^{-1} h``. In the eigenbasis of ``A`` the error ``e = Q^T (x - x*)`` splits into
independent coordinates, one per eigenvalue ``lam``, and each method becomes a tiny linear map::

    GD           e <- (1 - lr * lam) * e
    heavy ball   v <- b * v + lam * e;   e <- e - lr * v      (sgd_momentum: v = b v + g)

So the whole theory is a number per eigenvalue (GD) or a 2x2 matrix per eigenvalue (heavy ball).
``mu`` and ``L`` are the smallest and largest eigenvalues, ``kappa = L / mu``.

- ``gd_optimal``, ``gd_rate``: the best fixed step ``2 / (mu + L)`` and the rate of any step;
- ``heavy_ball_matrix``, ``heavy_ball_radii``, ``heavy_ball_rate``: the 2x2 iteration matrix and
  its spectral radius per eigenvalue (closed form) and over a spectrum;
- ``heavy_ball_optimal``: Polyak's tuned ``(lr, momentum)`` for a condition number;
- ``heavy_ball_path``: the iterates of heavy ball (or Nesterov, or GD at ``momentum=0``) for any
  gradient function; ``steps_to_tol`` and ``measured_rate`` read a run's error sequence. These
  three are the course's one simulator and its two measurements: every notebook uses them with
  this meaning.
- ``iterations_to_tolerance``: the first step with ``||e_t|| <= tol ||e_0||`` on a diagonal
  quadratic, streamed, for runs too long to store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from helpers.checks import check_count, check_lr, check_momentum, check_nonnegative, real

__all__ = [
    "gd_optimal",
    "gd_rate",
    "heavy_ball_optimal",
    "heavy_ball_matrix",
    "heavy_ball_radii",
    "heavy_ball_rate",
    "heavy_ball_path",
    "steps_to_tol",
    "measured_rate",
    "iterations_to_tolerance",
]

ArrayLike = Sequence[float] | np.ndarray


# ---------------------------------------------------------------------------------------------
# Argument checks: a wrong argument fails here, by name, not deep inside the arithmetic
# ---------------------------------------------------------------------------------------------


def _check_mu_L(mu: Any, L: Any) -> tuple[float, float]:
    """``0 < mu <= L < inf``: the extreme eigenvalues of a positive definite matrix."""
    mu_value, L_value = real(mu, "mu"), real(L, "L")
    if not (math.isfinite(mu_value) and mu_value > 0):
        raise ValueError(f"mu must be finite and > 0, got mu={mu!r}")
    if not (math.isfinite(L_value) and L_value >= mu_value):
        raise ValueError(f"L must be finite and >= mu, got L={L!r} with mu={mu!r}")
    return mu_value, L_value


def _check_eigvals(eigvals: Any) -> np.ndarray:
    """A non-empty 1-D array of finite eigenvalues > 0 (A positive definite: a unique minimum).

    Zero or negative curvature has no minimiser to converge to, so a "rate" would be
    meaningless there; refusing it catches a Hessian that is not what the caller thinks.
    """
    kind = np.asarray(eigvals).dtype.kind
    if kind not in "iuf":  # bool, complex, strings, objects: not eigenvalues of a real matrix
        raise ValueError(f"eigvals must be an array of real numbers, got eigvals={eigvals!r}")
    try:
        values = np.asarray(eigvals, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"eigvals must be an array of real numbers, got eigvals={eigvals!r}"
        ) from None
    if values.ndim == 0:
        values = values.reshape(1)  # one eigenvalue given as a scalar
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"eigvals must be a non-empty 1-D array, got eigvals={eigvals!r}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"eigvals must be finite and > 0, got eigvals={eigvals!r}")
    return values


def _check_lam(lam: Any) -> float:
    """One eigenvalue: finite and > 0."""
    value = real(lam, "lam")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"lam must be finite and > 0, got lam={lam!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Gradient descent
# ---------------------------------------------------------------------------------------------


def gd_optimal(mu: float, L: float) -> float:
    """The step that minimises GD's worst-case rate on eigenvalues in ``[mu, L]``.

    ``lr* = 2 / (mu + L)``: it balances the two extremes, ``1 - lr*mu = -(1 - lr*L)``, and
    gives the rate ``(kappa - 1) / (kappa + 1)`` with ``kappa = L / mu``.
    """
    mu, L = _check_mu_L(mu, L)
    return 2.0 / (mu + L)


def gd_rate(lr: float, eigvals: ArrayLike) -> float:
    """GD's per-step contraction factor: ``max_i |1 - lr * lambda_i|`` (>= 1: no convergence).

    Each eigen-coordinate of the error is multiplied by ``1 - lr * lambda_i`` every step, so the
    slowest one sets the rate; only the extreme eigenvalues can be the slowest.
    """
    lr, values = check_lr(lr), _check_eigvals(eigvals)
    return float(np.max(np.abs(1.0 - lr * values)))


# ---------------------------------------------------------------------------------------------
# Heavy ball: v <- b v + g;  x <- x - lr v
# ---------------------------------------------------------------------------------------------


def heavy_ball_optimal(mu: float, L: float) -> tuple[float, float]:
    """Polyak's tuned heavy ball for eigenvalues in ``[mu, L]``, in the ``sgd_momentum`` form.

    ``lr* = 4 / (sqrt(mu) + sqrt(L))**2`` and ``b* = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**2``.
    They put ``lr*mu`` and ``lr*L`` exactly on the edges ``(1 -+ sqrt(b))**2`` of the band where
    every eigenvalue has complex roots of modulus ``sqrt(b)``, so the rate is
    ``sqrt(b*) = (sqrt(kappa) - 1) / (sqrt(kappa) + 1)``. In the EMA form
    (``v = b v + (1 - b) g; x -= e v``) the same method has the step
    ``e* = lr* / (1 - b*) = 1 / sqrt(mu * L)``.
    """
    mu, L = _check_mu_L(mu, L)
    sqrt_mu, sqrt_L = math.sqrt(mu), math.sqrt(L)
    lr = 4.0 / (sqrt_mu + sqrt_L) ** 2
    # Written with sqrt(mu), sqrt(L) rather than kappa: the same number, no division by mu.
    momentum = ((sqrt_L - sqrt_mu) / (sqrt_L + sqrt_mu)) ** 2
    return lr, momentum


def heavy_ball_matrix(lr: float, momentum: float, lam: float) -> np.ndarray:
    """The 2x2 map of one eigen-coordinate's state ``(e, v)`` over one heavy-ball step.

    From ``v' = b v + lam e`` and ``e' = e - lr v' = (1 - lr lam) e - lr b v``::

        [e']   [1 - lr*lam   -lr*b] [e]
        [v'] = [   lam          b ] [v]

    Trace ``1 + b - lr*lam``, determinant ``b``: the characteristic polynomial is
    ``z**2 - (1 + b - lr*lam) z + b``.
    """
    lr, b, lam = check_lr(lr), check_momentum(momentum), _check_lam(lam)
    return np.array([[1.0 - lr * lam, -lr * b], [lam, b]], dtype=np.float64)


def heavy_ball_radii(lr: float, momentum: float, eigvals: ArrayLike) -> np.ndarray:
    """Spectral radius of ``heavy_ball_matrix(lr, momentum, lam)`` for each eigenvalue, closed form.

    The roots of ``z**2 - t z + b`` (``t = 1 + b - lr*lam``) are ``(t +- sqrt(t**2 - 4b)) / 2``:

    - ``t**2 < 4b`` (``(1 - sqrt b)**2 < lr*lam < (1 + sqrt b)**2``): complex conjugates whose
      product is ``b``, so the radius is ``sqrt(b)``, whatever ``lam`` is;
    - otherwise two real roots and the radius is ``(|t| + sqrt(t**2 - 4b)) / 2``.

    The radius is < 1 exactly when ``0 < lr*lam < 2 (1 + b)``.
    """
    lr, b, values = check_lr(lr), check_momentum(momentum), _check_eigvals(eigvals)
    t = 1.0 + b - lr * values
    disc = t * t - 4.0 * b
    real_radius = 0.5 * (np.abs(t) + np.sqrt(np.maximum(disc, 0.0)))
    # Complex roots: |z|^2 = z * conj(z) = product of the roots = b. (Not 2 sqrt(b).)
    return np.where(disc < 0.0, math.sqrt(b), real_radius)


def heavy_ball_rate(lr: float, momentum: float, eigvals: ArrayLike) -> float:
    """Heavy ball's asymptotic rate: ``max_i rho(M(lambda_i))`` (>= 1 means no convergence).

    ``rho`` is the spectral radius of ``heavy_ball_matrix`` (see ``heavy_ball_radii``). The error
    shrinks like ``rate**k`` up to a factor that grows at most linearly in ``k`` (where roots
    repeat, e.g. at the tuned parameters, it behaves like ``k * rate**k``).
    """
    return float(np.max(heavy_ball_radii(lr, momentum, eigvals)))


# ---------------------------------------------------------------------------------------------
# Simulation on a diagonal quadratic f(e) = 1/2 sum_i lambda_i e_i^2 (any quadratic, in its
# eigenbasis, measured from its minimiser)
# ---------------------------------------------------------------------------------------------


def _check_start(x0: Any, n: int) -> np.ndarray:
    """Starting error(s): shape (n,) or (runs, n), finite."""
    start = np.array(x0, dtype=np.float64)  # a copy: the caller's array is never written
    if start.ndim not in (1, 2) or start.shape[-1] != n:
        raise ValueError(
            f"x0 must have shape ({n},) or (runs, {n}) to match eigvals, got shape {start.shape}"
        )
    if not np.all(np.isfinite(start)):
        raise ValueError(f"x0 must be finite, got x0={x0!r}")
    return start


def iterations_to_tolerance(
    lr: float,
    momentum: float,
    eigvals: ArrayLike,
    x0: ArrayLike,
    tol: float = 1e-6,
    max_steps: int = 1_000_000,
) -> int:
    """First ``t`` with ``||e_t|| <= tol * ||e_0||``: noiseless heavy ball (GD if momentum=0).

    A first dip, streamed without storing the path: a rippling run may rise above ``tol`` again
    afterwards, which ``steps_to_tol`` (the error stays below) would count.

    Same iteration as ``heavy_ball_path`` (``v_0 = 0``) on a single run ``x0`` of shape ``(n,)``,
    without storing the path. Raises ``RuntimeError`` if ``max_steps`` steps are not enough
    (e.g. when ``heavy_ball_rate(lr, momentum, eigvals) >= 1``).
    """
    lr, b, values = check_lr(lr), check_momentum(momentum), _check_eigvals(eigvals)
    tol_value = real(tol, "tol")
    if not (0.0 < tol_value < 1.0):
        raise ValueError(f"tol must be in (0, 1), got tol={tol!r}")
    max_steps = check_count(max_steps, "max_steps", 1)
    e = _check_start(x0, values.size)
    if e.ndim != 1:
        raise ValueError(f"x0 must be one run of shape ({values.size},), got shape {e.shape}")
    # Compare squared norms: no square root per step.
    target = (tol_value * float(np.linalg.norm(e))) ** 2
    if target == 0.0:
        raise ValueError("x0 must be nonzero: a relative error needs ||x0|| > 0")
    v = np.zeros_like(e)
    for k in range(1, max_steps + 1):
        v = b * v + values * e
        e = e - lr * v
        if float(e @ e) <= target:
            return k
    raise RuntimeError(
        f"relative error {tol_value:g} not reached in max_steps={max_steps} steps "
        f"(lr={lr!r}, momentum={momentum!r}); check heavy_ball_rate(lr, momentum, eigvals) < 1"
    )


# ---------------------------------------------------------------------------------------------
# The course's simulator and its two measurements (one name, one meaning, in every notebook)
# ---------------------------------------------------------------------------------------------


def heavy_ball_path(
    grad: Callable[[np.ndarray], np.ndarray],
    x0: ArrayLike,
    lr: float,
    momentum: float,
    steps: int,
    *,
    nesterov: bool = False,
    blow_up: float = math.inf,
) -> np.ndarray:
    """The iterates ``x_0, ..., x_steps`` of heavy ball from ``x_0 = x0``, ``v_0 = 0``::

        g_t = grad(x_t);   v_{t+1} = momentum * v_t + g_t;   x_{t+1} = x_t - lr * v_{t+1}

    (``sgd_momentum``'s rule; ``momentum=0`` is plain GD). With ``nesterov=True`` the step is
    ``x_{t+1} = x_t - lr * (g_t + momentum * v_{t+1})``, ``torch.optim.SGD(nesterov=True)``.
    ``grad`` maps an iterate (a float64 array shaped like ``x0``) to its gradient; it may draw
    noise, which makes this SGD. Returns shape ``(steps + 1, *x0.shape)``, row 0 a copy of
    ``x0``. A run whose norm exceeds ``blow_up``, or that overflows, stops there (the path is
    then shorter), so a divergent setting is seen to diverge instead of carrying inf and NaN.
    """
    lr, b = check_lr(lr), check_momentum(momentum)
    steps = check_count(steps, "steps", 0)
    limit = real(blow_up, "blow_up")
    if not limit > 0:
        raise ValueError(f"blow_up must be > 0, got blow_up={blow_up!r}")
    x = np.array(x0, dtype=np.float64)  # a copy: the caller's array is never written
    if x.ndim == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"x0 must be a finite array with at least one axis, got x0={x0!r}")
    v = np.zeros_like(x)
    path = [x]
    for _ in range(steps):
        g = np.asarray(grad(x), dtype=np.float64)
        if g.shape != x.shape:
            raise ValueError(f"grad(x) must have the shape of x, {x.shape}; got {g.shape}")
        v = b * v + g
        x = x - lr * (g + b * v if nesterov else v)
        path.append(x)
        if not np.all(np.isfinite(x)):  # overflowed: nothing after this step means anything
            break
        with np.errstate(over="ignore"):  # a huge finite x: its norm is inf, above any limit
            if float(np.linalg.norm(x)) > limit:
                break
    return np.array(path)


def _check_errors(errors: Any) -> np.ndarray:
    values = np.asarray(errors, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"errors must be a non-empty 1-D sequence, got shape {values.shape}")
    if np.any(np.isnan(values)) or np.any(values < 0):
        raise ValueError("errors must be >= 0 and not NaN (norms, losses or their ratios)")
    return values


def steps_to_tol(errors: ArrayLike, tol: float) -> int | None:
    """The first step ``t`` from which the error STAYS at or below ``tol``.

    That is, the smallest ``t`` with ``max(errors[t:]) <= tol``.

    ``errors[t]`` is the error after ``t`` steps (a norm, a loss, or one relative to step 0; the
    caller chooses). A momentum run ripples, so its first dip below the tolerance can be
    followed by a rise above it again; this count is the one that means "converged".
    ``None`` when the run ends above ``tol``.
    """
    values, limit = _check_errors(errors), check_nonnegative(tol, "tol")
    worst_from_here = np.maximum.accumulate(values[::-1])[::-1]  # max(errors[t:]) for each t
    settled = np.flatnonzero(worst_from_here <= limit)
    return int(settled[0]) if settled.size else None


def measured_rate(errors: ArrayLike, start: int, end: int, *, window: int = 1) -> float:
    """The per-step contraction between steps ``start`` and ``end``.

    ``rate = (E_end / E_start) ** (1 / (end - start))``.

    ``E_t`` is the largest error over the ``window`` steps ending at ``t`` (``window=1``: the error
    itself). A window longer than one oscillation measures the envelope of a rippling run,
    which is what the spectral radius predicts; a single step could sit near a zero crossing.
    """
    values = _check_errors(errors)
    start, end = check_count(start, "start", 0), check_count(end, "end", 0)
    window = check_count(window, "window", 1)
    if not (window - 1 <= start < end < values.size):
        raise ValueError(
            f"need window - 1 <= start < end < len(errors) = {values.size}, got "
            f"start={start}, end={end}, window={window}"
        )
    first = values[start - window + 1 : start + 1].max()
    last = values[end - window + 1 : end + 1].max()
    if first == 0:
        raise ValueError(f"the error at start={start} is 0: no rate can be measured from there")
    return float((last / first) ** (1.0 / (end - start)))
