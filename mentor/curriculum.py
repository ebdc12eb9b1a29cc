"""The course as authored in YAML: Course -> Phase -> Lesson -> Step, validated on load.

The models are plain dataclasses so that the everyday commands can load a pickled, already
validated course without importing pydantic or yaml; pydantic validates them on a cache miss.
Every error names the file, the step and the field, and is raised as `CurriculumError`.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from decimal import Decimal
from typing import Literal, Optional, Union

from mentor import __version__
from mentor.paths import GRADERS_DIR

_FORBID = {"extra": "forbid"}  # pydantic reads this: unknown YAML fields are errors, not ignored
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$"
MIN_HINT_TIERS = 3


class CurriculumError(Exception):
    """A content error: one line naming file, step and field."""


@dataclass
class Param:
    """One drawn input of a parametrised check: a range `{min, max, step}` or a list of `choices`."""

    __pydantic_config__ = _FORBID
    min: Optional[float] = None
    max: Optional[float] = None
    step: float = 1
    choices: Optional[list[float]] = None

    def values(self) -> list[float]:
        """Every value it can take, in order (a range includes both ends)."""
        if self.choices is not None:
            return list(self.choices)
        n = int(round((self.max - self.min) / self.step + 1e-9)) + 1
        places = max(0, -Decimal(str(self.step)).as_tuple().exponent)  # 0.1 steps give 0.3, not 0.30000000000000004
        return [round(self.min + k * self.step, places) for k in range(n)]


@dataclass
class WrongAnswer:
    """A value that a known wrong reasoning gives, and what to tell the learner who typed it."""

    __pydantic_config__ = _FORBID
    why: str
    formula: Optional[str] = None  # over the check's params
    numeric: Optional[float] = None


@dataclass
class Answer:
    """How a reasoning check is graded: exactly one of the kinds is set."""

    __pydantic_config__ = _FORBID
    numeric: Optional[float] = None
    # The answer as an expression over the check's `params` (drawn per learner and try), e.g. `2*B*H*T*T*Dh`.
    formula: Optional[str] = None
    tolerance: float = 0.01  # relative; hand computations round
    decimals: Optional[int] = None  # the question asks for this many decimals: accept exactly that rounding
    digits: Optional[int] = None  # ... or this many significant digits
    close: Optional[float] = None  # relative: a miss within it is told "close: give the exact value"
    wrong: Optional[list[WrongAnswer]] = None  # values of known wrong reasonings, each with its explanation
    exact: Optional[list[str]] = None
    shape: Optional[list[Union[int, str]]] = None  # entries may be formulas over the params
    values: Optional[list[Union[float, str]]] = None  # a tuple or list of numbers, `(2, 0, 1, 3)`
    choice: Optional[str] = None
    # A free-text explanation: the required ideas, each a list of accepted phrasings. Offline every
    # idea must be mentioned; with a tutor model configured, the model judges against the same ideas.
    rubric: Optional[list[list[str]]] = None
    forbid: Optional[list[str]] = None  # phrasings of a known wrong explanation: an answer using one is wrong

    @property
    def kind(self) -> str:
        return next(k for k in ANSWER_KINDS if getattr(self, k) is not None)


ANSWER_KINDS = ("numeric", "formula", "exact", "shape", "values", "choice", "rubric")
DEFAULT_CHOICE_TRIES = 2  # wrong picks of a multiple-choice check per passing grader run


@dataclass
class Choice:
    """An option of a multiple-choice check; `why` tells a learner who picked it why it is wrong."""

    __pydantic_config__ = _FORBID
    text: str
    why: str = ""


@dataclass
class Check:
    """A reasoning check, asked after the grader passes.

    `choices` may be written as plain strings or as `{text, why}`; after loading, `choices` holds the
    texts (what is shown) and `options` the Choice objects. `answer.choice` names an option by its
    letter as written; the learner sees the options shuffled per try.
    """

    __pydantic_config__ = _FORBID
    id: str
    ask: str
    answer: Answer
    choices: Optional[list[Union[str, Choice]]] = None
    params: Optional[dict[str, Param]] = None  # drawn per learner and try; `{name}` in ask/hint/explain
    tries: Optional[int] = None  # wrong answers allowed per passing grader run (default: 2 for choices)
    hint: str = ""  # shown after a wrong answer
    explain: str = ""  # shown after a right one

    def __post_init__(self):
        self.options = [c if isinstance(c, Choice) else Choice(**c) if isinstance(c, dict) else Choice(str(c)) for c in self.choices or []]
        if self.choices is not None:
            self.choices = [o.text for o in self.options]

    @property
    def max_tries(self) -> Optional[int]:
        if self.tries is not None:
            return self.tries
        return DEFAULT_CHOICE_TRIES if self.answer.choice is not None else None


@dataclass
class Step:
    __pydantic_config__ = _FORBID
    id: str
    title: str
    objective: str
    concept: str
    task: str
    exercise: str  # relative to the workspace: what the learner edits
    solution: str  # relative to the course content: revealed after mastery
    grader: str  # relative to mentor/graders, optionally `file.py::test_or_class`
    hints: list[str]
    checks: list[Check]
    requires: Optional[list[str]] = None  # None: the step before it in the course
    # The top-level functions and classes of the exercise file this step asks for. Needed when
    # several steps share a file: `mentor reset STEP` restores only these, keeping the others.
    defines: Optional[list[str]] = None
    timeout_s: Optional[float] = None
    memory_mb: Optional[int] = None
    budgets: Optional[dict[str, Budget]] = None  # by profile name, or `all` for every profile
    # Filled in by the loader, not written by authors.
    phase: int = 0
    lesson: str = ""

    @property
    def grader_file(self) -> str:
        return self.grader.split("::", 1)[0]


@dataclass
class Lesson:
    __pydantic_config__ = _FORBID
    id: str
    title: str
    steps: list[Step]


@dataclass
class Phase:
    __pydantic_config__ = _FORBID
    number: int
    title: str
    summary: str
    lessons: list[Lesson]
    file: str = ""  # filled in by the loader: the YAML file it came from


@dataclass
class Profile:
    """A target machine the course is graded for."""

    __pydantic_config__ = _FORBID
    description: str
    device: Literal["cuda", "cpu"]
    memory_gb: float  # RAM of a CPU machine, or the GPU's memory
    capstone_params: int
    threads: int = 0  # BLAS/torch threads graders are pinned to (0: as the machine has)
    grader_memory_mb: Optional[int] = None  # the grader process's memory cap under this profile


@dataclass
class Budget:
    """Speed and memory limits for a step's budget checks; see mentor/grading/budget.py."""

    __pydantic_config__ = _FORBID
    latency_ratio: Optional[float] = None  # at most this x the reference's time (the fastest of alternating runs)
    throughput_ratio: Optional[float] = None  # at least this x the reference's units per second
    peak_memory_ratio: Optional[float] = None  # at most this x the reference's peak memory
    peak_memory_mb: Optional[float] = None  # at most this many MB, whatever the reference needs
    memory_scaling: Optional[float] = None  # peak at 2x size over peak at 1x size, at most

    def limits(self) -> dict[str, float]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass
class Defaults:
    __pydantic_config__ = _FORBID
    timeout_s: float = 60.0
    memory_mb: int = 4096


@dataclass
class CourseFile:
    """`curriculum/course.yaml` as written."""

    __pydantic_config__ = _FORBID
    title: str
    phases: list[str]
    defaults: Defaults = field(default_factory=Defaults)
    profiles: dict[str, Profile] = field(default_factory=dict)
    # Step ids the course changed: old id -> new id. `mentor update` moves a workspace's records.
    renamed: dict[str, str] = field(default_factory=dict)


@dataclass
class Course:
    title: str
    defaults: Defaults
    profiles: dict[str, Profile]
    phases: list[Phase]
    content_root: Path
    renamed: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""  # of the YAML and the stubs: a workspace made from other content can update

    def steps_sharing(self, exercise: str) -> list[Step]:
        return [s for s in self.steps if s.exercise == exercise]

    @property
    def steps(self) -> list[Step]:
        return [s for p in self.phases for lesson in p.lessons for s in lesson.steps]

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def phase_of(self, step: Step) -> Phase:
        return next(p for p in self.phases if p.number == step.phase)

    def timeout_for(self, step: Step) -> float:
        return step.timeout_s or self.defaults.timeout_s

    def memory_for(self, step: Step, profile: Optional[str] = None) -> int:
        cap = self.profiles[profile].grader_memory_mb if profile in self.profiles else None
        mine = step.memory_mb or self.defaults.memory_mb
        return min(mine, cap) if cap else mine

    def budget_for(self, step: Step, profile: str) -> dict[str, float]:
        """The step's limits under `profile`: those for `all`, overridden by the profile's own."""
        budgets = step.budgets or {}
        limits = budgets["all"].limits() if "all" in budgets else {}
        limits.update(budgets[profile].limits() if profile in budgets else {})
        return limits


def load_course(content_root: Path, cache_dir: Optional[Path] = None) -> Course:
    """Load and validate the course under `content_root/curriculum`.

    A validated course is pickled in `cache_dir`, keyed by the YAML files' names, sizes and
    modification times and by mentor's version, so unchanged content loads without parsing.
    """
    curriculum = content_root / "curriculum"
    course_file = curriculum / "course.yaml"
    if not course_file.is_file():
        raise CurriculumError(f"{course_file}: the course file is missing")
    key = _cache_key(curriculum)
    cached = cache_dir / f"course-{key}.pickle" if cache_dir else None
    if cached and cached.is_file():
        try:
            course = pickle.loads(cached.read_bytes())
            course.content_root = content_root
            _check_files(course)
            return course
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError):
            pass  # a stale or damaged cache is rebuilt below
    course = _parse_course(content_root)
    if cached:
        _write_cache(cached, course)
    return course


def _cache_key(curriculum: Path) -> str:
    h = hashlib.sha256(__version__.encode())
    exercises = curriculum.parent / "exercises"
    for path in sorted(curriculum.rglob("*.yaml")) + sorted(exercises.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(curriculum.parent)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def _write_cache(path: Path, course: Course) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("course-*.pickle"):
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(course))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only workspace just loads a little slower


def _parse_course(content_root: Path) -> Course:
    curriculum = content_root / "curriculum"
    course_file = _validate(CourseFile, _read_yaml(curriculum / "course.yaml"), curriculum / "course.yaml")
    phases, step_files = [], {}
    for name in course_file.phases:
        path = curriculum / name
        if not path.is_file():
            raise CurriculumError(f"{curriculum / 'course.yaml'}: phases: {name} does not exist")
        data, lesson_files = _with_lesson_files(_read_yaml(path), path, curriculum)
        phase = _validate(Phase, data, path)
        phase.file = str(path)
        for lesson, lesson_file in zip(phase.lessons, lesson_files):
            for step in lesson.steps:
                step.phase, step.lesson = phase.number, lesson.id
                step_files[step.id] = lesson_file
        phases.append(phase)
    course = Course(
        title=course_file.title,
        defaults=course_file.defaults,
        profiles=course_file.profiles,
        phases=phases,
        content_root=content_root,
        renamed=course_file.renamed,
    )
    _check_course(course, step_files)
    _check_files(course)
    _check_defines(course, step_files)
    course.fingerprint = _fingerprint(course)
    return course


def _fingerprint(course: Course) -> str:
    """What a workspace was made from: the course's YAML and its stubs as shipped (mentor.content)."""
    from mentor.content import shipped_files

    h = hashlib.sha256()
    curriculum = course.content_root / "curriculum"
    for path in sorted(curriculum.rglob("*.yaml")):
        h.update(f"{path.relative_to(course.content_root)}\0".encode() + path.read_bytes() + b"\0")
    for rel, data in shipped_files(course.content_root, [s.exercise for s in course.steps]).items():
        h.update(f"{rel}\0".encode() + data + b"\0")
    return h.hexdigest()[:16]


def top_level_names(source: str) -> set[str]:
    """The functions, classes and assigned names a module defines at its top level."""
    import ast

    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _check_defines(course: Course, step_files: dict[str, Path]) -> None:
    """Steps that share an exercise file each say what they define there, and the stub has it."""
    for s in course.steps:
        where = f"{step_files[s.id]}: step {s.id}: field defines"
        sharing = course.steps_sharing(s.exercise)
        if len(sharing) > 1 and not s.defines:
            others = ", ".join(x.id for x in sharing if x is not s)
            raise CurriculumError(f"{where}: {s.exercise} is shared with {others}: name the functions and classes this step asks for")
        if s.defines:
            stub = (course.content_root / s.exercise).read_text(encoding="utf-8")
            missing = [n for n in s.defines if n not in top_level_names(stub)]
            if missing:
                raise CurriculumError(f"{where}: {s.exercise} defines no {', '.join(missing)} at its top level")
    for old, new in course.renamed.items():
        where = f"{course.content_root / 'curriculum' / 'course.yaml'}: field renamed.{old}"
        if new not in {s.id for s in course.steps}:
            raise CurriculumError(f"{where}: {new!r} is not a step of the course")
        if old in {s.id for s in course.steps}:
            raise CurriculumError(f"{where}: {old!r} is still a step of the course")


def _with_lesson_files(data: object, path: Path, curriculum: Path) -> tuple[object, list[Path]]:
    """The phase with each lesson written as a file name read in, and the file each lesson came from.

    A lesson is written inline, or as a path relative to curriculum/: a YAML file holding one lesson,
    or a folder whose YAML files are lessons in name order (`phase3/` with `10-norms.yaml`, ...), so
    that each lesson of a long phase has a file of its own.
    """
    if not isinstance(data, dict) or not isinstance(data.get("lessons"), list):
        return data, []
    lessons, files = [], []
    for entry in data["lessons"]:
        if not isinstance(entry, str):
            lessons.append(entry)
            files.append(path)
            continue
        target = curriculum / entry
        if target.is_dir():
            found = sorted(target.glob("*.yaml"))
        elif target.is_file():
            found = [target]
        else:
            raise CurriculumError(f"{path}: field lessons: {entry} does not exist")
        for lesson_file in found:
            lesson = _read_yaml(lesson_file)
            _validate(Lesson, lesson, lesson_file)  # so that a mistake names the lesson's own file
            lessons.append(lesson)
            files.append(lesson_file)
    return {**data, "lessons": lessons}, files


def _read_yaml(path: Path) -> object:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.load(f, Loader=loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise CurriculumError(f"{path}{where}: not valid YAML: {problem}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CurriculumError(f"{path}: cannot be read: {e}") from None


def _validate(model: type, data: object, path: Path):
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(model).validate_python(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = _describe_location(data, err["loc"])
        raise CurriculumError(f"{path}: {where}: {err['msg']}") from None


def _describe_location(data: object, loc: tuple) -> str:
    """Turn pydantic's location into `step p1.x field checks[0].answer` using the step's id."""
    node, step_id, parts = data, None, []
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
        if isinstance(node, dict) and "exercise" in node and "id" in node:
            step_id, parts = node["id"], []
            continue
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    field_name = "".join(parts).lstrip(".") or "(top level)"
    return f"step {step_id}: field {field_name}" if step_id else f"field {field_name}"


def _check_course(course: Course, step_files: dict[str, Path]) -> None:
    import re

    seen: dict[str, Path] = {}
    steps = course.steps
    for s in steps:
        path = step_files[s.id]
        if not re.match(ID_PATTERN, s.id):
            raise CurriculumError(f"{path}: step {s.id}: field id: use lowercase words joined by '.' or '-'")
        if s.id in seen:
            raise CurriculumError(f"{path}: step {s.id}: field id: duplicate (also in {seen[s.id].name})")
        seen[s.id] = path
    for s in steps:
        path = step_files[s.id]
        where = f"{path}: step {s.id}"
        for req in s.requires or []:
            if req not in seen:
                raise CurriculumError(f"{where}: field requires: unknown step {req!r}")
            if steps.index(course.step(req)) >= steps.index(s):
                raise CurriculumError(f"{where}: field requires: {req!r} comes later in the course")
        if len(s.hints) < MIN_HINT_TIERS:
            raise CurriculumError(f"{where}: field hints: needs at least {MIN_HINT_TIERS} tiers")
        if not s.checks:
            raise CurriculumError(f"{where}: field checks: needs at least one reasoning check")
        check_ids = [c.id for c in s.checks]
        if len(set(check_ids)) != len(check_ids):
            raise CurriculumError(f"{where}: field checks: duplicate check id")
        for i, c in enumerate(s.checks):
            _check_answer(c, f"{where}: field checks[{i}]")
        if (s.timeout_s is not None and s.timeout_s <= 0) or (s.memory_mb is not None and s.memory_mb <= 0):
            raise CurriculumError(f"{where}: field timeout_s/memory_mb: must be positive")
        for name, budget in (s.budgets or {}).items():
            if name != "all" and name not in course.profiles:
                known = ", ".join(["all", *course.profiles])
                raise CurriculumError(f"{where}: field budgets.{name}: not a profile of the course ({known})")
            for key, value in budget.limits().items():
                if not value > 0:
                    raise CurriculumError(f"{where}: field budgets.{name}.{key}: must be positive, got {value}")


def _check_answer(c: Check, where: str) -> None:
    """One check's answer, params and texts; `where` names the file, the step and `checks[i]`."""
    a = c.answer
    at = f"{where}.answer (check {c.id})"
    kinds = [k for k in ANSWER_KINDS if getattr(a, k) is not None]
    if len(kinds) != 1:
        raise CurriculumError(f"{at}: set exactly one of {', '.join(ANSWER_KINDS)} (found {kinds or 'none'})")
    if a.choice is not None:
        letters = [chr(ord("a") + i) for i in range(len(c.choices or []))]
        if a.choice not in letters:
            raise CurriculumError(f"{at}: choice {a.choice!r} is not one of the choices {letters}")
        if len(letters) < 2:
            raise CurriculumError(f"{where}.choices (check {c.id}): a choice needs at least two options")
        if c.options[ord(a.choice) - ord("a")].why:
            raise CurriculumError(f"{where}.choices (check {c.id}): the right option carries a `why`, which says why an option is wrong")
    elif c.choices:
        raise CurriculumError(f"{at}: choices are given but the answer is not a choice")
    if a.exact is not None and not a.exact:
        raise CurriculumError(f"{at}: exact needs at least one accepted answer")
    if a.rubric is not None and not (a.rubric and all(idea and all(p.strip() for p in idea) for idea in a.rubric)):
        raise CurriculumError(f"{at}: rubric needs at least one idea, each with at least one non-empty phrasing")
    if a.forbid is not None and (a.rubric is None or not all(p.strip() for p in a.forbid) or not a.forbid):
        raise CurriculumError(f"{where}.answer.forbid (check {c.id}): forbidden phrasings go with a rubric, each non-empty")
    if not 0 <= a.tolerance < 1:
        raise CurriculumError(f"{at}: tolerance is relative and must lie in [0, 1)")
    numeric = a.numeric is not None or a.formula is not None
    if (a.decimals is not None or a.digits is not None or a.close is not None or a.wrong) and not numeric:
        raise CurriculumError(f"{at}: decimals, digits, close and wrong go with a numeric or formula answer")
    if a.decimals is not None and a.digits is not None:
        raise CurriculumError(f"{at}: set decimals or digits, not both")
    if (a.decimals is not None and not 0 <= a.decimals <= 12) or (a.digits is not None and not 1 <= a.digits <= 15):
        raise CurriculumError(f"{at}: decimals lie in 0..12 and digits in 1..15")
    if a.close is not None and not (a.tolerance < a.close < 1):
        raise CurriculumError(f"{where}.answer.close (check {c.id}): a near miss lies beyond the tolerance ({a.tolerance:g}) and below 1")
    if c.tries is not None and c.tries < 1:
        raise CurriculumError(f"{where}.tries (check {c.id}): must be at least 1")
    _check_params(c, where)


def _check_params(c: Check, where: str) -> None:
    """A parametrised check: sound ranges, every name known, every formula and placeholder finite at the extremes."""
    from itertools import product

    from mentor.checks import FormulaError, evaluate, names_in
    from mentor.checks import placeholders

    a = c.answer
    params = c.params or {}
    for name, p in params.items():
        at = f"{where}.params.{name} (check {c.id})"
        if not name.isidentifier():
            raise CurriculumError(f"{at}: a parameter is named like a variable (letters, digits, _)")
        if (p.choices is None) == (p.min is None or p.max is None):
            raise CurriculumError(f"{at}: give either min and max (and step) or choices")
        if p.choices is not None and len(set(p.choices)) < 2:
            raise CurriculumError(f"{at}: choices need at least two different values")
        if p.choices is None and not (p.step > 0 and p.min < p.max):
            raise CurriculumError(f"{at}: a range needs min < max and step > 0 (got {p.min}..{p.max} step {p.step})")
        if p.choices is None and (p.max - p.min) / p.step > 1_000_000:
            raise CurriculumError(f"{at}: more than a million values; use a larger step")
    # What each field computes from the params: (field, expression).
    formulas = [("answer.formula", a.formula)] if a.formula is not None else []
    formulas += [(f"answer.shape[{i}]", x) for i, x in enumerate(a.shape or []) if isinstance(x, str)]
    formulas += [(f"answer.values[{i}]", x) for i, x in enumerate(a.values or []) if isinstance(x, str)]
    formulas += [(f"answer.wrong[{i}].formula", w.formula) for i, w in enumerate(a.wrong or []) if w.formula is not None]
    for i, w in enumerate(a.wrong or []):
        if (w.formula is None) == (w.numeric is None):
            raise CurriculumError(f"{where}.answer.wrong[{i}] (check {c.id}): give a formula or a numeric value")
    texts = [("ask", c.ask), ("hint", c.hint), ("explain", c.explain)] + [(f"choices[{i}]", o.text) for i, o in enumerate(c.options)]
    texts += [(f"choices[{i}].why", o.why) for i, o in enumerate(c.options)] + [(f"answer.wrong[{i}].why", w.why) for i, w in enumerate(a.wrong or [])]
    if params:
        formulas += [(fld, expr) for fld, text in texts for expr, _ in placeholders(text)]
    if formulas and not params:
        raise CurriculumError(f"{where}.{formulas[0][0]} (check {c.id}): a formula needs params to draw (or write the number itself)")
    shown = set()
    for fld, expr in formulas:
        try:
            used = names_in(expr)
        except FormulaError as e:
            raise CurriculumError(f"{where}.{fld} (check {c.id}): {e}") from None
        unknown = sorted(used - set(params))
        if unknown:
            raise CurriculumError(f"{where}.{fld} (check {c.id}): unknown name {unknown[0]!r} (params: {', '.join(params) or 'none'})")
        if fld == "ask" or fld.startswith("choices"):
            shown |= used
    hidden = sorted(set(params) - shown)
    if hidden:
        raise CurriculumError(f"{where}.ask (check {c.id}): param {hidden[0]!r} is drawn but never shown: write {{{hidden[0]}}} in the ask")
    # Every formula must give a finite number at every corner of the ranges (capped: 2^8 corners).
    names = sorted(params)
    corners = [sorted({min(params[n].values()), max(params[n].values())}) for n in names]
    for point in list(product(*corners))[:256]:
        values = dict(zip(names, point))
        for fld, expr in formulas:
            try:
                evaluate(expr, values)
            except FormulaError as e:
                shown_at = ", ".join(f"{n}={v:g}" for n, v in values.items())
                raise CurriculumError(f"{where}.{fld} (check {c.id}): at {shown_at}: {e}") from None


def _check_files(course: Course) -> None:
    """Every step's stub, solution and grader exist in the course content."""
    for phase in course.phases:
        for lesson in phase.lessons:
            for s in lesson.steps:
                for fld, path in (
                    ("exercise", course.content_root / s.exercise),
                    ("solution", course.content_root / s.solution),
                    ("grader", GRADERS_DIR / s.grader_file),
                ):
                    if not path.is_file():
                        raise CurriculumError(f"{phase.file}: step {s.id}: field {fld}: {path} does not exist")
