"""Grading a learner's answer to a reasoning check: numbers (arithmetic allowed), shapes, words, choices,
and free-text explanations judged by a rubric of required ideas."""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass, field

from mentor.curriculum import Check

_OPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos, ast.FloorDiv: operator.floordiv,
}  # fmt: skip
_NAMES = {"pi": math.pi, "e": math.e}
_FUNCS = {"sqrt": math.sqrt, "log": math.log, "ln": math.log, "exp": math.exp, "log2": math.log2}


class AnswerError(ValueError):
    """The answer could not be read; the message says what form is expected."""


def evaluate_number(text: str) -> float:
    """A number or a small arithmetic expression: `16384`, `2*64*128`, `1.6e4`, `2**14`, `ln(10)`."""
    cleaned = text.strip().replace(",", "").replace("^", "**").replace("×", "*")
    try:
        return float(_eval(ast.parse(cleaned, mode="eval").body))
    except (SyntaxError, TypeError, ZeroDivisionError, OverflowError, ValueError, KeyError):
        raise AnswerError(f"{text!r} is not a number or arithmetic like 2*64*128") from None


def _eval(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 1000:
            raise OverflowError
        return _OPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name):
        return _NAMES[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
        return _FUNCS[node.func.id](_eval(node.args[0]))
    raise ValueError


def parse_shape(text: str) -> list[int]:
    """`(64, 128)`, `[64,128]`, `64x128` or `64 128`; `()` is a scalar."""
    parts = re.findall(r"-?\d+", text)
    if not parts and not re.fullmatch(r"\s*[\(\[]\s*[\)\]]\s*", text):
        raise AnswerError(f"{text!r} is not a shape like (64, 128)")
    return [int(p) for p in parts]


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower()).rstrip(".")


OFFLINE_JUDGE = "the rubric's accepted phrasings"


@dataclass
class Verdict:
    """A free-text answer judged against its rubric: which required ideas (numbered from 1) it states."""

    found: list[int]
    missing: list[int]
    judged_by: str = OFFLINE_JUDGE
    evidence: dict[int, str] = field(default_factory=dict)  # idea -> the learner's words that state it
    note: str = ""  # e.g. why the tutor model could not judge it

    @property
    def correct(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        total = len(self.found) + len(self.missing)
        if self.correct:
            return f"All {total} required ideas are there (judged by {self.judged_by})."
        # Ideas are named by number: quoting their phrasings would hand over the answer.
        missing = ", ".join(str(i) for i in self.missing)
        return f"{len(self.found)} of {total} required ideas found (judged by {self.judged_by}); not yet: idea {missing}."


def _plain(text: str) -> str:
    """Lowercase words and numbers only, so `1/sqrt(d_k)` and `1 / sqrt(d k)` read alike."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def mentions(text: str, phrasing: str) -> bool:
    """Whether `text` contains `phrasing` starting at a word boundary (a phrasing may be a stem: `saturat`)."""
    wanted = _plain(phrasing)
    return bool(wanted) and re.search(rf"(?<![a-z0-9]){re.escape(wanted)}", _plain(text)) is not None


def rubric_verdict(check: Check, text: str) -> Verdict:
    """The offline verdict: an idea counts when the answer uses one of its accepted phrasings."""
    if not text.strip():
        raise AnswerError("write your explanation in a sentence or two")
    found, missing = [], []
    for i, phrasings in enumerate(check.answer.rubric, 1):
        (found if any(mentions(text, p) for p in phrasings) else missing).append(i)
    return Verdict(found, missing)


def is_correct(check: Check, text: str) -> bool:
    """Raises AnswerError when the answer is not of the expected form."""
    a = check.answer
    if a.rubric is not None:
        return rubric_verdict(check, text).correct
    if a.numeric is not None:
        value = evaluate_number(text)
        return math.isclose(value, a.numeric, rel_tol=max(a.tolerance, 1e-9), abs_tol=1e-12)
    if a.shape is not None:
        return parse_shape(text) == list(a.shape)
    if a.choice is not None:
        picked = text.strip().lower().rstrip(")")
        if picked.isdigit():
            picked = chr(ord("a") + int(picked) - 1) if int(picked) >= 1 else ""
        letters = [chr(ord("a") + i) for i in range(len(check.choices or []))]
        if picked not in letters:
            raise AnswerError(f"answer with one of {', '.join(letters)}")
        return picked == a.choice
    return _normalize(text) in {_normalize(x) for x in a.exact}


def answer_form(check: Check) -> str:
    """How to type an answer, for prompts and --help."""
    kind = check.answer.kind
    return {
        "numeric": "a number; arithmetic like 2*64*128 is fine",
        "shape": "a shape like (64, 128)",
        "choice": "the letter of your choice",
        "exact": "a word or short phrase",
        "rubric": f"a sentence or two in your own words; to dispute a verdict: mentor ask --contest {check.id}",
    }[kind]
