"""The recall scan: does a reasoning check's answer already stand in the text the learner reads?

A check demands reasoning only if its answer cannot be copied from the step. The scan reads every
number the step's text prints, in any usual spelling (786432, 786,432, 786 432, 7.86e5, 7.86×10⁵,
1/4 for 0.25, 10¹⁰, 124M, 25%), and every product or quotient of printed numbers (`1024 × 768`,
`ln 50257`, since an answer may be typed as that arithmetic), and asks the check's own grading
whether it would accept any of them. A fixed answer it would accept is a *recall hit*. For a
parametrised check it samples draws and counts those whose answer the text holds (*draw hits*).

What counts as the step's text: its concept, task and hints, the check's own hint (shown after a
wrong answer), and every other check's ask, hint and explanation (shown around it).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
from dataclasses import dataclass, field

from mentor.checks import FormulaError, accepts, evaluate, expected_answer
from mentor.curriculum import Check, Step

_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺"
_SPACES = "\u2009\u202f\u00a0 "
_SCALES = {
    "k": [1e3], "K": [1e3], "thousand": [1e3], "M": [1e6], "million": [1e6], "B": [1e9], "billion": [1e9],
    "G": [1e9], "T": [1e12], "trillion": [1e12], "KB": [1e3, 2**10], "kB": [1e3, 2**10], "MB": [1e6, 2**20],
    "GB": [1e9, 2**30], "TB": [1e12, 2**40], "KiB": [2**10], "MiB": [2**20], "GiB": [2**30], "TiB": [2**40],
    "GFLOP": [1e9], "GFLOPs": [1e9], "TFLOP": [1e12], "%": [0.01],
}  # fmt: skip
_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "twice": 2, "half": 0.5, "quarter": 0.25, "a third": 1 / 3,
}  # fmt: skip

_NUM = r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
_GROUPED = rf"\d{{1,3}}(?:[,_{_SPACES}]\d{{3}})+(?:\.\d+)?"
_ATOM = rf"(?:{_GROUPED}|{_NUM})[{_SUPERS}]*"
_OP = r"\s*(?:[×x·*/+]|-(?=\s*[\d(√]))\s*"


def _number(atom: str) -> float:
    """An atom of the text as a number: `786 432`, `1.5e3`, `768²`, `10¹⁰`."""
    head = atom.rstrip(_SUPERS)
    power = atom[len(head) :].translate(_SUPER)
    value = float(re.sub(rf"[,_{_SPACES}]", "", head))
    return value ** float(power) if power and power not in "+-" else value


def _operand_value(operand: str) -> float:
    operand = operand.strip()
    if operand.startswith("√"):
        return math.sqrt(_operand_value(operand[1:]))
    if operand.startswith("(") and operand.endswith(")"):
        return evaluate(_as_python(operand[1:-1]))
    return _number(operand)


def _as_python(text: str) -> str:
    """Lesson arithmetic as the evaluator reads it: `1024²` -> `1024**2`, `√64` -> `sqrt(64)`, `1 024` -> `1024`."""
    text = re.sub(rf"(?<=\d)[{_SPACES}](?=\d{{3}}(?!\d))", "", text)
    text = re.sub(rf"(?<=\d),(?=\d{{3}}(?!\d))", "", text)
    text = re.sub(rf"[{_SUPERS}]+", lambda m: "**(" + m.group(0).translate(_SUPER) + ")", text)
    text = re.sub(r"√\s*(\d+(?:\.\d+)?|\([^()]*\))", r"sqrt(\1)", text)
    text = re.sub(r"(?<=[\d)])\s*x\s*(?=[\d(])", "*", text)
    return text.replace("×", "*").replace("·", "*").replace("−", "-").replace("^", "**")


@functools.lru_cache(maxsize=4096)
def _sorted_readings(text: str) -> list[float]:
    return sorted(number_readings(text))


def _near(readings: list[float], value: float) -> list[float]:
    """The readings within a generous window of `value`; the check's own rule then decides."""
    width = max(abs(value) * 0.5, 1.0)
    return readings[bisect.bisect_left(readings, value - width) : bisect.bisect_right(readings, value + width)]


def number_readings(text: str) -> set[float]:
    """Every number the text can be read as showing (see the module docstring); a superset on purpose."""
    text = text.replace("−", "-").replace("–", "-")
    found: set[float] = set()

    def add(value) -> None:
        try:
            v = float(value)
        except (TypeError, ValueError, OverflowError):
            return
        if math.isfinite(v):
            found.add(v)

    for m in re.finditer(rf"(?<![\w.]){_ATOM}", text):
        atom = m.group(0)
        try:
            value = _number(atom)
        except (ValueError, OverflowError):
            continue
        add(value)
        for part in re.split(rf"[,_{_SPACES}]", atom):  # "8 128" is also 8 and 128
            if re.fullmatch(_NUM, part):
                add(float(part))
        before = text[max(0, m.start() - 2) : m.start()]
        if before.endswith("-") or before.endswith("- "):
            add(-value)
        after = text[m.end() : m.end() + 12]
        unit = re.match(r"\s?([A-Za-z%]+)", after)
        if unit and unit.group(1) in _SCALES:
            for scale in _SCALES[unit.group(1)]:
                add(value * scale)
    # a × 10^b, 10^b, 2**14, e^-2
    for m in re.finditer(rf"(?:({_NUM})\s*[×x·*]\s*)?(10|e|\d+)\s*(?:\^|\*\*)\s*\(?\s*([+-]?{_NUM})\s*\)?", text):
        base = math.e if m.group(2) == "e" else float(m.group(2))
        try:
            add((float(m.group(1)) if m.group(1) else 1.0) * base ** float(m.group(3)))
        except OverflowError:
            pass
    # functions of a printed number: ln 50257, log(3), sqrt(64), √64, exp(-2)
    for m in re.finditer(rf"\b(ln|log|log2|log10|sqrt|exp)\s*\(?\s*(-?{_NUM})\s*\)?|√\s*({_NUM})", text):
        name, arg = (m.group(1), m.group(2)) if m.group(1) else ("sqrt", m.group(3))
        try:
            add(evaluate(f"{name}({arg})"))
        except FormulaError:
            pass
    for word, value in _WORDS.items():
        if re.search(rf"\b{word}\b", text, flags=re.IGNORECASE):
            add(value)
    # Chains of printed numbers: every contiguous run of operands of `2 × 8 × 12 × 1024² × 4`, `1/4`, `(65 + 1) × 384`.
    operand = rf"(?:√\s*)?(?:{_ATOM}|\([^()]*\))"
    for m in re.finditer(rf"{operand}(?:{_OP}{operand})+", text):
        parts = re.split(rf"({_OP})", m.group(0))
        operands, ops = parts[0::2], [p.strip() for p in parts[1::2]]
        for i, j in itertools.combinations(range(len(operands) + 1), 2):
            if j - i < 2:
                continue
            expr = "".join(operands[k] + (ops[k] if k < j - 1 else "") for k in range(i, j))
            try:
                add(evaluate(_as_python(expr)))
            except FormulaError:
                pass
    return found


def tuple_readings(text: str) -> list[list[float]]:
    """Every bracketed or `x`-joined list of numbers in the text: `(2, 0, 1, 3)`, `[2 0 1 3]`, `64x128`."""
    out = []
    for m in re.finditer(r"[\(\[]\s*(-?\d+(?:\.\d+)?(?:\s*[,\s]\s*-?\d+(?:\.\d+)?)*)\s*,?\s*[\)\]]", text):
        out.append([float(x) for x in re.split(r"[,\s]+", m.group(1).strip()) if x])
    for m in re.finditer(r"\b\d+(?:\s*[x×]\s*\d+)+\b", text):
        out.append([float(x) for x in re.split(r"\s*[x×]\s*", m.group(0))])
    return out


def _plain(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def texts_around(step: Step, check: Check) -> list[tuple[str, str]]:
    """What a learner reads while answering `check`, as (where, text)."""
    texts = [("concept", step.concept), ("task", step.task)]
    texts += [(f"hints[{i}]", h) for i, h in enumerate(step.hints)]
    texts.append(("hint", check.hint))
    for i, other in enumerate(step.checks):
        if other is not check:
            texts += [(f"checks[{i}].{part}", getattr(other, part)) for part in ("ask", "hint", "explain")]
            texts += [(f"checks[{i}].choices", " ".join(other.choices or []))]
    # Another parametrised check's placeholders show other numbers on every draw: leave them out.
    return [(where, re.sub(r"\{[^{}]*\}", " ", text)) for where, text in texts if text]


@dataclass
class Hit:
    check_id: str
    where: str
    answer: object
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {"check": self.check_id, "where": self.where, "answer": self.answer}
        if self.params:
            out["params"] = self.params
        return out


def _found_in(check: Check, expected, texts: list[tuple[str, str]]) -> str | None:
    """Where the texts hold an answer the check accepts as `expected`, or None."""
    a = check.answer
    for where, text in texts:
        if a.numeric is not None or a.formula is not None:
            if any(accepts(check, v, expected) for v in _near(_sorted_readings(text), expected)):
                return where
        elif a.shape is not None or a.values is not None:
            want = [float(x) for x in expected]
            for got in tuple_readings(text):
                if len(got) == len(want) and all(math.isclose(g, w, rel_tol=max(a.tolerance, 1e-9), abs_tol=1e-9) for g, w in zip(got, want)):
                    return where
        elif a.exact is not None:
            if any(_plain(x) and re.search(rf"(?<![a-z0-9]){re.escape(_plain(x))}(?![a-z0-9])", _plain(text)) for x in a.exact):
                return where
    return None


def recall_hits(step: Step) -> list[Hit]:
    """The fixed answers (numbers, shapes, lists, words) of a step's checks that its text already holds."""
    hits = []
    for check in step.checks:
        if check.params or check.answer.choice is not None or check.answer.rubric is not None:
            continue
        where = _found_in(check, expected_answer(check), texts_around(step, check))
        if where:
            hits.append(Hit(check.id, where, expected_answer(check)))
    return hits


def sample_draws(check: Check, step_id: str, n: int = 48) -> list:
    """Draws of a parametrised check as different learners would see them (learner ids `scan-0`, ...)."""
    from mentor.draws import draw

    return [draw(check, f"scan-{i}", step_id, 0) for i in range(n)]


def draw_hits(step: Step, samples: int = 48) -> list[Hit]:
    """Parametrised checks some of whose sampled draws have an answer the text holds; one hit per check,
    with the first such draw's numbers, so the author can narrow the ranges."""
    hits = []
    for check in step.checks:
        if not check.params or check.answer.rubric is not None or check.answer.choice is not None:
            continue
        texts = texts_around(step, check)
        for d in sample_draws(check, step.id, samples):
            expected = expected_answer(check, d)
            where = _found_in(check, expected, texts)
            if where:
                hits.append(Hit(check.id, where, expected, d.params))
                break
    return hits


def self_check(step: Step, samples: int = 24) -> list[dict]:
    """Each check graded against itself over sampled draws: its right answer is accepted, and each of
    its declared wrong values is rejected (a check meant to tell tanh GELU from erf GELU must)."""
    problems = []
    for check in step.checks:
        if check.answer.rubric is not None:
            continue
        draws = sample_draws(check, step.id, samples) if check.params or check.options else [None]
        for d in draws:  # the first problem of each check, with the numbers that show it
            problem = _self_problem(check, d)
            if problem:
                problems.append({"check": check.id, "params": d.params if d else {}, "problem": problem})
                break
    return problems


def _self_problem(check: Check, d) -> str:
    from mentor.checks import grade, right_answer

    if not grade(check, right_answer(check, d), d).correct:
        return "its right answer is not accepted"
    expected = expected_answer(check, d)
    for wrong in check.answer.wrong or []:
        value = wrong.numeric if wrong.numeric is not None else evaluate(wrong.formula, d.params if d else {})
        if accepts(check, value, expected):
            return f"a declared wrong value ({value:g}) is accepted"
    return ""


def step_check_counts(step: Step) -> dict:
    """The reasoning-check figures of one step for `mentor dev verify`."""
    kinds = [c.answer.kind for c in step.checks]
    recall, draws = recall_hits(step), draw_hits(step)
    return {
        "step": step.id,
        "lesson": step.lesson,
        "checks": len(step.checks),
        "parametrised": sum(1 for c in step.checks if c.params),
        "free_text": kinds.count("rubric"),
        "multiple_choice": kinds.count("choice"),
        "fixed": sum(1 for c in step.checks if not c.params and c.answer.kind not in ("choice", "rubric")),
        "choices_without_why": sum(1 for c in step.checks for i, o in enumerate(c.options) if not o.why and chr(ord("a") + i) != c.answer.choice),
        "recall_hits": len(recall),
        "draw_hits": len(draws),
        "hits": [h.to_dict() for h in recall],
        "draws_in_text": [h.to_dict() for h in draws],
        "self_check": self_check(step),
    }


def course_check_counts(course, steps: list[Step] | None = None) -> dict:
    """Per step and in total; plus the lessons (of the steps looked at) with no free-text check."""
    steps = course.steps if steps is None else steps
    per_step = [step_check_counts(s) for s in steps]
    keys = ("checks", "parametrised", "free_text", "multiple_choice", "fixed", "choices_without_why", "recall_hits", "draw_hits")
    total = {k: sum(r[k] for r in per_step) for k in keys}
    total["self_check_problems"] = sum(len(r["self_check"]) for r in per_step)
    lessons = {}
    for r in per_step:
        lessons[r["lesson"]] = lessons.get(r["lesson"], 0) + r["free_text"]
    total["lessons"] = len(lessons)
    total["lessons_without_free_text"] = sorted(name for name, n in lessons.items() if n == 0)
    return {"total": total, "steps": per_step}
