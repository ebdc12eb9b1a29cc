"""Reasoning-check answers: arithmetic is read as numbers, shapes in any common spelling, letters for choices."""

import pytest

from mentor.checks import AnswerError, evaluate_number, is_correct, parse_shape
from mentor.curriculum import Answer, Check


def check(**answer) -> Check:
    return Check(id="c", ask="?", answer=Answer(**answer), choices=["one", "two", "three"] if "choice" in answer else None)


@pytest.mark.parametrize("text,value", [("16384", 16384), ("2*64*128", 16384), ("1.6384e4", 16384), ("2^14", 16384), ("16,384", 16384), ("ln(10)", 2.302585092994046)])
def test_numbers_and_arithmetic_are_evaluated(text, value):
    assert evaluate_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["lots", "__import__('os')", "2**100000", "1/0", ""])
def test_anything_else_is_refused_with_a_message(text):
    with pytest.raises(AnswerError):
        evaluate_number(text)


def test_numeric_tolerance_is_relative():
    c = check(numeric=2.302585, tolerance=0.001)
    assert is_correct(c, "2.3026") and not is_correct(c, "2.2")


def test_zero_tolerance_still_accepts_the_exact_value():
    assert is_correct(check(numeric=16384, tolerance=0), "2*64*128")
    assert not is_correct(check(numeric=16384, tolerance=0), "16383")


@pytest.mark.parametrize("text", ["(64, 128)", "[64,128]", "64x128", "64 128"])
def test_shapes_in_any_spelling(text):
    assert parse_shape(text) == [64, 128]
    assert is_correct(check(shape=[64, 128]), text)


def test_wrong_shape_is_wrong():
    assert not is_correct(check(shape=[64]), "(64, 1)")


def test_choices_take_letters_or_numbers():
    c = check(choice="b")
    assert is_correct(c, "b") and is_correct(c, "B)") and is_correct(c, "2") and not is_correct(c, "a")
    with pytest.raises(AnswerError):
        is_correct(c, "z")


def test_exact_answers_ignore_case_and_spacing():
    c = check(exact=["layer norm", "LayerNorm"])
    assert is_correct(c, "  Layer   Norm. ") and not is_correct(c, "batch norm")
