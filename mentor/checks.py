"""Grading a learner's answer to a reasoning check: numbers (arithmetic allowed), shapes, lists of
values, words, choices, and free-text explanations judged by a rubric of required ideas.

A check may be parametrised: its numbers are drawn per learner and per try (mentor.draws), and its
answer is a formula over them. Grading takes that draw, so the same function grades a live answer
and replays a recorded one. No `eval`: expressions go through the small evaluator below.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from mentor.curriculum import Check

if TYPE_CHECKING:
    from mentor.draws import Draw

_OPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos, ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}  # fmt: skip
CONSTANTS = {"pi": math.pi, "e": math.e}
_FUNCS = {
    "sqrt": math.sqrt, "log": math.log, "ln": math.log, "exp": math.exp, "log2": math.log2, "log10": math.log10,
    "tanh": math.tanh, "sin": math.sin, "cos": math.cos, "erf": math.erf, "abs": abs, "floor": math.floor,
    "ceil": math.ceil, "round": round, "min": min, "max": max,
}  # fmt: skip


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")


class AnswerError(ValueError):
    """The answer could not be read; the message says what form is expected."""


class FormulaError(ValueError):
    """An author's formula or placeholder cannot be evaluated; the message says why."""


def _clean(text: str) -> str:
    # `−` (U+2212) is what lesson text prints and what a learner may paste back.
    return text.strip().replace("^", "**").replace("×", "*").replace("·", "*").replace("−", "-")


def evaluate(expression: str, names: Optional[dict[str, float]] = None) -> float:
    """An arithmetic expression over `names` (and pi, e): `2*B*H*T*T*Dh`, `ln(V)`, `1/sqrt(64)`.

    Raises FormulaError for anything else: unknown names, calls outside the small function list,
    attribute access, huge powers, division by zero, a result that is not a finite number.
    """
    try:
        value = float(_eval(ast.parse(_clean(expression), mode="eval").body, {**CONSTANTS, **(names or {})}))
    except KeyError as e:
        raise FormulaError(f"unknown name {e.args[0]!r}") from None
    except (SyntaxError, TypeError, ZeroDivisionError, OverflowError, ValueError, RecursionError) as e:
        raise FormulaError(f"{expression!r} does not evaluate ({type(e).__name__})") from None
    if not math.isfinite(value):
        raise FormulaError(f"{expression!r} is not finite")
    return value


def names_in(expression: str) -> set[str]:
    """The variable names an expression uses (function names excluded); raises FormulaError on bad syntax."""
    try:
        tree = ast.parse(_clean(expression), mode="eval")
    except SyntaxError:
        raise FormulaError(f"{expression!r} is not an arithmetic expression") from None
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called} - set(CONSTANTS)


def evaluate_number(text: str) -> float:
    """A number or a small arithmetic expression: `16384`, `2*48*96`, `1.6e4`, `2**14`, `ln(10)`."""
    grouped = re.sub(r"(?<=\d)[,_](?=\d{3}(?!\d))", "", text)  # 786,432 and 786_432 are one number
    try:
        return evaluate(grouped)
    except FormulaError:
        raise AnswerError(f"{text!r} is not a number or arithmetic like 2*48*96") from None


def _eval(node, names: dict):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left, names), _eval(node.right, names)
        if isinstance(node.op, ast.Pow) and abs(right) > 1000:
            raise OverflowError
        return _OPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.operand, names))
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
        if not node.args or len(node.args) > 2:
            raise TypeError
        return _FUNCS[node.func.id](*(_eval(a, names) for a in node.args))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        raise KeyError(node.func.id)
    raise ValueError


# -- lists and shapes --------------------------------------------------------------------------
def parse_values(text: str) -> list[float]:
    """`(2, 0, 1, 3)`, `[2 0 1 3]`, `2,0,1,3` or `2 0 1 3`; each entry may be arithmetic."""
    inner = text.strip()
    if len(inner) >= 2 and inner[0] + inner[-1] in ("()", "[]"):
        inner = inner[1:-1]
    parts = inner.split(",") if "," in inner else inner.split()
    parts = [p for p in (p.strip() for p in parts) if p]
    try:
        return [evaluate(p) for p in parts]
    except FormulaError:
        raise AnswerError(f"{text!r} is not a list of numbers like (2, 0, 1, 3)") from None


def parse_shape(text: str) -> list[int]:
    """`(64, 128)`, `[64,128]`, `64x128` or `64 128`; `()` is a scalar."""
    parts = re.findall(r"-?\d+", text)
    if not parts and not re.fullmatch(r"\s*[\(\[]\s*[\)\]]\s*", text):
        raise AnswerError(f"{text!r} is not a shape like (64, 128)")
    return [int(p) for p in parts]


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower()).rstrip(".")


# -- free text -----------------------------------------------------------------------------------
OFFLINE_JUDGE = "the rubric's accepted phrasings"


@dataclass
class Verdict:
    """A free-text answer judged against its rubric: which required ideas (numbered from 1) it states."""

    found: list[int]
    missing: list[int]
    judged_by: str = OFFLINE_JUDGE
    evidence: dict[int, str] = field(default_factory=dict)  # idea -> the learner's words that state it
    note: str = ""  # e.g. why the tutor model could not judge it
    forbidden: list[str] = field(default_factory=list)  # phrasings of the known wrong explanation it uses

    @property
    def correct(self) -> bool:
        return not self.missing and not self.forbidden

    def describe(self) -> str:
        total = len(self.found) + len(self.missing)
        wrong = f" It also states the wrong explanation this check is about (“{self.forbidden[0]}”)." if self.forbidden else ""
        if not self.missing:
            return f"All {total} required ideas are there (judged by {self.judged_by}).{wrong}"
        # Ideas are named by number: quoting their phrasings would hand over the answer.
        missing = ", ".join(str(i) for i in self.missing)
        return f"{len(self.found)} of {total} required ideas found (judged by {self.judged_by}); not yet: idea {missing}.{wrong}"

    def to_record(self) -> dict:
        return {"judged_by": self.judged_by, "found": self.found, "missing": self.missing, "forbidden": self.forbidden}


def _plain(text: str) -> str:
    """Lowercase words and numbers only, so `1/sqrt(d_k)` and `1 / sqrt(d k)` read alike."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def mentions(text: str, phrasing: str) -> bool:
    """Whether `text` contains `phrasing` starting at a word boundary (a phrasing may be a stem: `saturat`)."""
    wanted = _plain(phrasing)
    return bool(wanted) and re.search(rf"(?<![a-z0-9]){re.escape(wanted)}", _plain(text)) is not None


def rubric_verdict(check: Check, text: str) -> Verdict:
    """The offline verdict: an idea counts when the answer uses one of its accepted phrasings; an
    answer using a phrasing of the known wrong explanation (`forbid`) is wrong whatever else it says."""
    if not text.strip():
        raise AnswerError("write your explanation in a sentence or two")
    found, missing = [], []
    for i, phrasings in enumerate(check.answer.rubric, 1):
        (found if any(mentions(text, p) for p in phrasings) else missing).append(i)
    forbidden = [p for p in check.answer.forbid or [] if mentions(text, p)]
    return Verdict(found, missing, forbidden=forbidden)


# -- grading -------------------------------------------------------------------------------------
@dataclass
class Graded:
    """One answer graded: right or wrong, what to tell the learner, and what the store keeps."""

    correct: bool
    recorded: str  # the answer as stored: for a choice, the option itself, never the letter shown
    note: str = ""  # close; why a picked option or a known wrong value is wrong
    expected: object = None  # the value, shape or option accepted for this draw (for the record and replays)
    verdict: Optional[Verdict] = None  # free text only


def expected_answer(check: Check, draw: Optional["Draw"] = None):
    """The accepted answer for `draw`: a number, a shape, a list of values, an option's index, or the texts."""
    a, params = check.answer, draw.params if draw else {}
    if a.formula is not None:
        return evaluate(a.formula, params)
    if a.numeric is not None:
        return a.numeric
    if a.shape is not None:
        return [int(round(evaluate(str(x), params))) for x in a.shape]
    if a.values is not None:
        return [evaluate(str(x), params) for x in a.values]
    if a.choice is not None:
        return ord(a.choice) - ord("a")
    return a.exact if a.exact is not None else None


def accepts(check: Check, value: float, expected: float) -> bool:
    """Whether `value` is `expected` as the question asks for it: to its decimals, digits or tolerance."""
    a = check.answer
    if a.decimals is not None:
        return abs(value - expected) <= 0.5 * 10.0**-a.decimals * (1 + 1e-9) + 1e-12
    if a.digits is not None and expected != 0:
        unit = 10.0 ** (math.floor(math.log10(abs(expected))) - a.digits + 1)
        return abs(value - expected) <= 0.5 * unit * (1 + 1e-9)
    return math.isclose(value, expected, rel_tol=max(a.tolerance, 1e-9), abs_tol=1e-12)


def grade(check: Check, text: str, draw: Optional["Draw"] = None) -> Graded:
    """Grade `text` against the check as drawn. Raises AnswerError when the answer is not of the expected form."""
    a = check.answer
    if a.rubric is not None:
        verdict = rubric_verdict(check, text)
        return Graded(verdict.correct, text, verdict=verdict)
    expected = expected_answer(check, draw)
    if a.numeric is not None or a.formula is not None:
        return _grade_number(check, text, expected, draw)
    if a.shape is not None:
        return Graded(parse_shape(text) == expected, text, expected=expected)
    if a.values is not None:
        got = parse_values(text)
        ok = len(got) == len(expected) and all(
            math.isclose(g, x, rel_tol=max(a.tolerance, 1e-9), abs_tol=1e-9) for g, x in zip(got, expected)
        )
        return Graded(ok, text, expected=expected)
    if a.choice is not None:
        return _grade_choice(check, text, draw)
    return Graded(_normalize(text) in {_normalize(x) for x in a.exact}, text, expected=a.exact[0])


def _grade_number(check: Check, text: str, expected: float, draw) -> Graded:
    a = check.answer
    value = evaluate_number(text)
    if accepts(check, value, expected):
        return Graded(True, text, expected=expected)
    params = draw.params if draw else {}
    for wrong in a.wrong or []:
        known = wrong.numeric if wrong.numeric is not None else evaluate(wrong.formula, params)
        if accepts(check, value, known):
            return Graded(False, text, note=fill(wrong.why, params) if check.params else wrong.why, expected=expected)
    if a.close is not None and math.isclose(value, expected, rel_tol=a.close):
        how = f" to {a.decimals} decimals" if a.decimals is not None else (f" to {a.digits} significant digits" if a.digits else "")
        return Graded(False, text, note=f"close: give the exact value{how}", expected=expected)
    return Graded(False, text, expected=expected)


def shown_order(check: Check, draw: Optional["Draw"]) -> list[int]:
    """The options' indices as written, in the order this draw shows them."""
    n = len(check.options)
    return list(draw.order) if draw and sorted(draw.order) == list(range(n)) else list(range(n))


def letters_for(n: int) -> list[str]:
    return [chr(ord("a") + i) for i in range(n)]


def _grade_choice(check: Check, text: str, draw) -> Graded:
    order = shown_order(check, draw)
    letters = letters_for(len(order))
    picked = text.strip().lower().rstrip(")").strip()
    if picked.isdigit():
        picked = chr(ord("a") + int(picked) - 1) if int(picked) >= 1 else ""
    if picked in letters:
        index = order[letters.index(picked)]
    else:  # the option itself, as scripts may name it whatever the shuffle
        index = next((i for i, o in enumerate(check.options) if _normalize(o.text) == _normalize(text)), None)
        if index is None:
            raise AnswerError(f"answer with one of {', '.join(letters)}")
    option = check.options[index]
    right = ord(check.answer.choice) - ord("a")
    why = fill(option.why, draw.params) if draw and check.params else option.why
    return Graded(index == right, option.text, note="" if index == right else why, expected=check.options[right].text)


def format_number(value: float, spec: str = "") -> str:
    """A number as lesson text shows it: `16384`, not `16384.0`; six significant digits otherwise."""
    if spec:
        return format(value, spec)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def placeholders(text: str) -> list[tuple[str, str]]:
    """The `{expression}` or `{expression:format}` placeholders of a text, as (expression, format) pairs."""
    out = []
    for m in _PLACEHOLDER.finditer(text):
        if m.group(1) is not None:
            expr, _, spec = m.group(1).partition(":")
            out.append((expr.strip(), spec.strip()))
    return out


def fill(text: str, params: dict[str, float]) -> str:
    """`text` with each `{expression[:format]}` evaluated over `params`; `{{` and `}}` are braces."""

    def one(m: re.Match) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        expr, _, spec = m.group(1).partition(":")
        return format_number(evaluate(expr, params), spec.strip())

    return _PLACEHOLDER.sub(one, text)


def is_correct(check: Check, text: str, draw: Optional["Draw"] = None) -> bool:
    """Raises AnswerError when the answer is not of the expected form."""
    return grade(check, text, draw).correct


def right_answer(check: Check, draw: Optional["Draw"] = None) -> str:
    """An answer the check accepts for `draw`, as a learner would type it (for tests and authors' self-checks)."""
    a, expected = check.answer, expected_answer(check, draw)
    if a.rubric is not None:
        return "; ".join(idea[0] for idea in a.rubric)
    if a.numeric is not None or a.formula is not None:
        if a.decimals is not None:
            return f"{expected:.{a.decimals}f}"
        return format_number(expected) if float(expected).is_integer() else repr(expected)
    if a.shape is not None:
        return str(tuple(expected))
    if a.values is not None:
        return "(" + ", ".join(format_number(x) if float(x).is_integer() else repr(x) for x in expected) + ")"
    if a.choice is not None:
        return letters_for(len(check.options))[shown_order(check, draw).index(expected)]
    return a.exact[0]


def answer_form(check: Check) -> str:
    """How to type an answer, for prompts and --help."""
    a = check.answer
    kind = a.kind
    if kind in ("numeric", "formula"):
        rounding = f" to {a.decimals} decimals" if a.decimals is not None else (f" to {a.digits} significant digits" if a.digits else "")
        return f"a number{rounding}; arithmetic like 2*48*96 is fine"
    return {
        "shape": "a shape like (64, 128)",
        "values": "a list like (2, 0, 1, 3)",
        "choice": "the letter of your choice",
        "exact": "a word or short phrase",
        "rubric": f"a sentence or two in your own words; to dispute a verdict: mentor ask --contest {check.id}",
    }[kind]
