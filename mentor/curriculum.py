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
from typing import Literal, Optional

from mentor import __version__
from mentor.paths import GRADERS_DIR

_FORBID = {"extra": "forbid"}  # pydantic reads this: unknown YAML fields are errors, not ignored
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$"
MIN_HINT_TIERS = 3


class CurriculumError(Exception):
    """A content error: one line naming file, step and field."""


@dataclass
class Answer:
    """How a reasoning check is graded: exactly one of the kinds is set."""

    __pydantic_config__ = _FORBID
    numeric: Optional[float] = None
    tolerance: float = 0.01  # relative; hand computations round
    exact: Optional[list[str]] = None
    shape: Optional[list[int]] = None
    choice: Optional[str] = None
    # A free-text explanation: the required ideas, each a list of accepted phrasings. Offline every
    # idea must be mentioned; with a tutor model configured, the model judges against the same ideas.
    rubric: Optional[list[list[str]]] = None

    @property
    def kind(self) -> str:
        return next(k for k in ANSWER_KINDS if getattr(self, k) is not None)


ANSWER_KINDS = ("numeric", "exact", "shape", "choice", "rubric")


@dataclass
class Check:
    """A reasoning check, asked after the grader passes."""

    __pydantic_config__ = _FORBID
    id: str
    ask: str
    answer: Answer
    choices: Optional[list[str]] = None
    hint: str = ""  # shown after a wrong answer
    explain: str = ""  # shown after a right one


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
    latency_ratio: Optional[float] = None  # at most this x the reference's median time
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
            _check_answer(c, f"{where}: field checks[{i}].answer")
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
    kinds = [k for k in ANSWER_KINDS if getattr(c.answer, k) is not None]
    if len(kinds) != 1:
        raise CurriculumError(f"{where}: set exactly one of {', '.join(ANSWER_KINDS)} (found {kinds or 'none'})")
    if c.answer.choice is not None:
        letters = [chr(ord("a") + i) for i in range(len(c.choices or []))]
        if c.answer.choice not in letters:
            raise CurriculumError(f"{where}: choice {c.answer.choice!r} is not one of the choices {letters}")
    elif c.choices:
        raise CurriculumError(f"{where}: choices are given but the answer is not a choice")
    if c.answer.exact is not None and not c.answer.exact:
        raise CurriculumError(f"{where}: exact needs at least one accepted answer")
    if c.answer.rubric is not None and not (
        c.answer.rubric and all(idea and all(p.strip() for p in idea) for idea in c.answer.rubric)
    ):
        raise CurriculumError(f"{where}: rubric needs at least one idea, each with at least one non-empty phrasing")
    if not 0 <= c.answer.tolerance < 1:
        raise CurriculumError(f"{where}: tolerance is relative and must lie in [0, 1)")


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
