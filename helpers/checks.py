"""Argument checks shared by the optimizers, the theory and the data helpers.

A wrong argument fails at the door with a ``ValueError`` that names it and its value, instead of
becoming a NaN deep inside the arithmetic, or a silent wrong answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch


def real(value: Any, name: str) -> float:
    """``value`` as a float: a Python or NumPy real number, or a 0-d real array or tensor.

    Refused: bools (Python counts them as integers, but ``True`` is not a learning rate, and
    neither is ``np.bool_(True)`` or ``torch.tensor(True)``), complex numbers (their imaginary
    part would be dropped), strings and string arrays, and anything with more than one element.
    """
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be a real number, got {name}={value!r}")
    if isinstance(value, torch.Tensor):
        ok = value.ndim == 0 and not value.dtype.is_complex and value.dtype != torch.bool
    elif isinstance(value, np.ndarray | np.generic):
        ok = value.ndim == 0 and value.dtype.kind in "iuf"
    else:
        ok = isinstance(value, Real)
    if not ok:
        raise ValueError(f"{name} must be a real number, got {name}={value!r}")
    return float(value)


def check_nonnegative(value: Any, name: str) -> float:
    """A finite real number ``>= 0`` (a learning rate, a weight decay, a noise level)."""
    number = real(value, name)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {name}={value!r}")
    return number


def check_lr(lr: Any, name: str = "lr") -> float:
    """A learning rate (step size) is finite and ``>= 0``; 0 is allowed and freezes everything."""
    return check_nonnegative(lr, name)


def check_momentum(momentum: Any, name: str = "momentum") -> float:
    """Momentum lies in ``[0, 1)``: at 1 the velocity never forgets, above 1 it grows."""
    value = real(momentum, name)
    if not (0.0 <= value < 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1), got {name}={momentum!r}")
    return value


def check_fraction(value: Any, name: str) -> float:
    """A number in ``[0, 1]`` (dampening: the share of the gradient that is held back)."""
    number = real(value, name)
    if not (0.0 <= number <= 1.0):
        raise ValueError(f"{name} must be in [0, 1], got {name}={value!r}")
    return number


def check_flag(value: Any, name: str) -> bool:
    """A switch is ``True`` or ``False``: ``"no"`` or ``1`` would be truthy by accident."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {name}={value!r}")
    return bool(value)


def check_count(value: Any, name: str, minimum: int) -> int:
    """An integer count (points, steps) of at least ``minimum``; ``2.5`` or ``True`` is refused."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {name}={value!r}")
    return int(value)


# float16's largest value: a number up to it fits every floating dtype.
_FITS_EVERY_DTYPE = 65504.0


def check_fits(value: float, name: str, tensors: Iterable[torch.Tensor]) -> None:
    """``value`` must be representable in every floating dtype of ``tensors`` it will multiply.

    Above ``torch.finfo(dtype).max`` torch refuses the scalar with an overflow ``RuntimeError``
    deep in the kernel; this says which argument it was. Up to 65504 (float16's largest value)
    every dtype fits, and the tensors are not even looked at.
    """
    if value <= _FITS_EVERY_DTYPE:
        return
    for dtype in {t.dtype for t in tensors}:
        if dtype.is_floating_point and value > torch.finfo(dtype).max:
            raise ValueError(
                f"{name} must be at most {torch.finfo(dtype).max:.4g} for {dtype} params, "
                f"got {name}={value!r}"
            )


def read_hyperparams(func: str, hyperparams: Any, keys: Sequence[str]) -> list[Any]:
    """Return ``hyperparams[k]`` for each k in ``keys``; refuse missing and unknown keys.

    Unknown keys are refused because a typo ("momemtum") would otherwise be ignored silently.
    """
    if not isinstance(hyperparams, Mapping):
        raise ValueError(f"{func}: hyperparams must be a dict, got {type(hyperparams).__name__}")
    expected = ", ".join(repr(k) for k in keys)
    for key in keys:
        if key not in hyperparams:
            raise ValueError(f"{func}: hyperparams is missing the key {key!r} (needs {expected})")
    unknown = sorted(set(hyperparams) - set(keys), key=str)
    if unknown:
        raise ValueError(f"{func}: unknown hyperparameter {unknown[0]!r} (it takes {expected})")
    return [hyperparams[k] for k in keys]
