"""The exercises' self-checks: right, wrong, unfinished and crashing answers each get their say."""

from __future__ import annotations

import pytest

from helpers.selfcheck import NotStarted, answer_of, direction, report


def check_double(answer_fn):
    for x in (1.0, -2.0):
        got, want = answer_of(answer_fn, x), 2 * x
        if got != want:
            return f"for x = {x}, {direction(got, want, 'your value')}"
    return None


def test_a_right_answer_prints_correct(capsys):
    assert report(check_double, lambda x: 2 * x)
    assert capsys.readouterr().out == "correct\n"


def test_a_wrong_answer_says_what_and_which_way(capsys):
    assert not report(check_double, lambda x: 3 * x)
    assert capsys.readouterr().out == "not yet: for x = 1.0, your value is too large\n"
    assert not report(check_double, lambda x: -2 * x)
    assert "wrong sign" in capsys.readouterr().out


def test_an_unfilled_stub_is_not_started(capsys):
    def double(x):
        return None

    assert not report(check_double, double)
    assert capsys.readouterr().out == "not started: double still returns None\n"


def test_the_learners_exception_is_shown_with_its_traceback(capsys):
    def double(x):
        return undefined_name * x  # noqa: F821  (the learner's typo)

    assert not report(check_double, double)
    out, err = capsys.readouterr()
    assert "Traceback (most recent call last)" in err and "NameError" in err
    assert "undefined_name" in err and "in double" in err  # the learner's own line
    assert out.startswith("not yet: double raised NameError")


def test_answer_of_raises_not_started_only_for_none():
    with pytest.raises(NotStarted):
        answer_of(lambda: None)
    assert answer_of(lambda: 0) == 0
