"""Every exercise in the book: its answer is computed by labs_py and the checker accepts exactly that."""

import math

import pytest

from labs_py import exercises


@pytest.mark.parametrize("exercise_id", exercises.all_ids())
def test_the_expected_answer_is_correct_and_a_wrong_one_is_not(exercise_id, capsys):
    ex = exercises.get(exercise_id)
    expected = ex.expected()
    assert exercises.is_correct(exercise_id, expected)
    exercises.check(exercise_id, expected)
    assert "Correct" in capsys.readouterr().out
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        wrong = expected * (1 + 10 * max(ex.rel_tol, 0.01)) + 1
        assert not exercises.is_correct(exercise_id, wrong)
        exercises.check(exercise_id, wrong)
        assert "Not yet" in capsys.readouterr().out


def test_unanswered_exercises_say_so_without_raising(capsys):
    exercises.check(exercises.all_ids()[0], None)
    out = capsys.readouterr().out
    assert "Not answered yet" in out
    assert max(len(line) for line in out.splitlines()) <= exercises.WIDTH


def test_tolerance_is_relative():
    ex_id = "econ-70b-breakeven"
    expected = exercises.get(ex_id).expected()
    assert exercises.is_correct(ex_id, expected * 1.009)
    assert not exercises.is_correct(ex_id, expected * 1.02)
    assert not exercises.is_correct(ex_id, "262")  # a string is not a number of Gb/s
    assert math.isfinite(expected)


def test_unknown_exercise_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown exercise 'nope'.*econ-70b-breakeven"):
        exercises.get("nope")
