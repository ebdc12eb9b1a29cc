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


# -- formulas, rounding, near misses and known wrong values ---------------------------------------
def test_a_formula_is_evaluated_over_named_values_without_eval():
    from mentor.checks import FormulaError, evaluate, names_in

    assert evaluate("2*B*H*T*T*Dh", {"B": 2, "H": 4, "T": 8, "Dh": 16}) == 2 * 2 * 4 * 8 * 8 * 16
    assert evaluate("max(3, 4) + ln(e)") == 5
    assert names_in("ln(V) + 0.5*(s*sqrt(C))**2") == {"V", "s", "C"}
    for bad in ("__import__('os').system('true')", "x.real", "open('f')", "(lambda: 1)()"):
        with pytest.raises(FormulaError):
            evaluate(bad, {"x": 1})


@pytest.mark.parametrize("text", ["786432", "786,432", "786_432", "786432.0", "768*1024"])
def test_grouped_digits_read_as_one_number(text):
    assert evaluate_number(text) == 786432


def test_asking_for_two_decimals_rejects_the_rounded_neighbour():
    c = check(numeric=709.7827, decimals=2)
    assert is_correct(c, "709.78") and is_correct(c, "ln(1.797e308)") and not is_correct(c, "710") and not is_correct(c, "709.7")


def test_significant_digits_reject_one_digit_less():
    c = check(numeric=0.0900306, digits=4)
    assert is_correct(c, "0.09003") and not is_correct(c, "0.0900") and not is_correct(c, "0.09")


def test_a_near_miss_says_close_and_a_known_wrong_value_says_why():
    from mentor.checks import grade
    from mentor.curriculum import WrongAnswer

    erf = WrongAnswer(why="that is the exact erf GELU", numeric=-0.15866)
    c = check(numeric=-0.15881, digits=4, close=0.05, wrong=[erf])
    assert grade(c, "-0.1588").correct
    assert "erf GELU" in grade(c, "-0.1587").note
    assert grade(c, "-0.16").note.startswith("close: give the exact value")
    assert grade(c, "0.5").note == ""


# -- lists ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["(2, 0, 1, 3)", "[2 0 1 3]", "2,0,1,3", "2 0 1 3", " [2, 0, 1, 3,] ", "(1+1, 0, 1, 3)"])
def test_lists_and_tuples_are_read_as_values(text):
    assert is_correct(check(values=[2, 0, 1, 3]), text)


def test_a_list_in_the_wrong_order_or_length_is_wrong():
    c = check(values=[2, 0, 1, 3])
    assert not is_correct(c, "(0, 2, 1, 3)") and not is_correct(c, "(2, 0, 1)")
    with pytest.raises(AnswerError):
        is_correct(c, "(two, zero)")


# -- choices and free text -------------------------------------------------------------------------
def test_a_choice_follows_the_drawn_order_and_records_the_option_itself():
    from mentor.checks import grade
    from mentor.draws import Draw

    c = Check(id="c", ask="?", answer=Answer(choice="b"), choices=["one", {"text": "two"}, {"text": "three", "why": "no: 3"}])
    d = Draw("me", "s", "c", 0, order=[2, 0, 1])  # shown as a) three  b) one  c) two
    assert grade(c, "c", d).correct and grade(c, "c", d).recorded == "two"
    wrong = grade(c, "a", d)
    assert not wrong.correct and wrong.recorded == "three" and wrong.note == "no: 3"
    assert grade(c, "Two", d).correct  # by its text, whatever the letters


def test_a_forbidden_phrasing_makes_a_free_text_answer_wrong():
    from mentor.checks import rubric_verdict

    c = check(rubric=[["causal mask", "mask"]], forbid=["ignores order"])
    assert rubric_verdict(c, "the causal mask lets each position count its keys").correct
    verdict = rubric_verdict(c, "the mask is there but attention ignores order")
    assert not verdict.correct and verdict.forbidden == ["ignores order"] and "wrong explanation" in verdict.describe()
