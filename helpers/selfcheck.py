"""Self-checks for the exercises: feedback that says what is wrong, never a swallowed error.

An exercise's check is a function of the learner's answer that returns ``None`` when the answer
is right and otherwise one sentence on what is wrong (which part, in which direction) without
giving the answer away. ``answer_of`` calls the learner's function; ``report`` runs the check
and prints what a learner needs:

- ``correct``;
- ``not yet: <the check's sentence>``;
- ``not started: <name> still returns None``;
- the learner's exception with its full traceback, then ``not yet: <name> raised <error>``.

A worked solution ends with ``assert report(check, answer_solution)``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["NotStarted", "answer_of", "report", "direction"]


class NotStarted(Exception):
    """The learner's function still returns ``None``: the stub is not filled in yet."""


def answer_of(answer_fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``answer_fn(*args, **kwargs)``, raising ``NotStarted`` when it returns ``None``."""
    answer = answer_fn(*args, **kwargs)
    if answer is None:
        raise NotStarted(f"{getattr(answer_fn, '__name__', 'your function')} still returns None")
    return answer


def direction(got: float, want: float, what: str) -> str:
    """A hint that names the quantity and the direction of the error, not the value."""
    if (got < 0) != (want < 0) and got != 0 and want != 0:
        return f"{what} has the wrong sign"
    return f"{what} is too {'large' if abs(got) > abs(want) else 'small'}"


def report(
    check: Callable[[Callable[..., Any]], str | None], answer_fn: Callable[..., Any]
) -> bool:
    """Run ``check(answer_fn)``, print the feedback, and return whether the answer is right.

    An exception from the learner's code is shown with its traceback (on stderr, as Python
    shows it), never hidden behind a bare "not yet".
    """
    name = getattr(answer_fn, "__name__", "your function")
    try:
        problem = check(answer_fn)
    except NotStarted as started:
        print(f"not started: {started}")
        return False
    except Exception as error:  # the learner's error: show it whole, then say where it came from
        traceback.print_exc(file=sys.stderr)
        print(f"not yet: {name} raised {type(error).__name__}: {error} (traceback above)")
        return False
    if problem:
        print(f"not yet: {problem}")
        return False
    print("correct")
    return True
