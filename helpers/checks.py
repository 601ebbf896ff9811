"""Argument checks shared by the optimizers (helpers.optim) and the theory (helpers.quadratic).

A wrong argument fails at the door with a ``ValueError`` that names it and its value, instead of
becoming a NaN deep inside the arithmetic.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any


def real(value: Any, name: str) -> float:
    """``value`` as a float: a Python or NumPy real number, or a 0-d array or tensor.

    Bools are refused although Python counts them as integers: ``True`` is not a learning rate.
    """
    is_scalar_array = getattr(value, "ndim", None) == 0 and hasattr(value, "item")
    if isinstance(value, bool) or not (isinstance(value, Real) or is_scalar_array):
        raise ValueError(f"{name} must be a real number, got {name}={value!r}")
    return float(value)


def check_lr(lr: Any, name: str = "lr") -> float:
    """A learning rate (step size) is finite and ``>= 0``; 0 is allowed and freezes everything."""
    value = real(lr, name)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {name}={lr!r}")
    return value


def check_momentum(momentum: Any, name: str = "momentum") -> float:
    """Momentum lies in ``[0, 1)``: at 1 the velocity never forgets, above 1 it grows."""
    value = real(momentum, name)
    if not (0.0 <= value < 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1), got {name}={momentum!r}")
    return value
