"""Course-author tools: verify every step's grader against its solution, stub and known-wrong code.

A known-wrong implementation lives in `tests/known_wrong/<step id>/<name>.py`. It holds only the
buggy function(s) and a `MISCONCEPTION` string; it is appended to the step's solution, so its
definitions replace the reference ones. The grader must reject it, and one failing test's message
must contain `MISCONCEPTION` (case-insensitive).

A correct alternative lives in `tests/correct/<step id>/<name>.py`: another way to write the same
spec (another style, order of operations, library call the task allows), composed the same way. The
grader must pass it: a tightened check that rejects a correct learner is a grader bug.
"""

from __future__ import annotations

import ast
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mentor.curriculum import Course, Step
from mentor.grading.runner import GradeRequest, GradeResult, grade


@dataclass
class KnownWrong:
    step_id: str
    name: str
    path: Path
    misconception: str


@dataclass
class Verification:
    step_id: str
    case: str  # solution | stub | known-wrong:<name>
    ok: bool
    detail: str
    status: str = ""

    def to_dict(self) -> dict:
        return dict(step=self.step_id, case=self.case, ok=self.ok, status=self.status, detail=self.detail)


@dataclass
class VerifyReport:
    results: list[Verification] = field(default_factory=list)
    # The reasoning checks' figures (mentor.recall): per step and in total, parametrised, free-text and
    # multiple-choice checks, and the fixed answers the step's own text already holds (recall hits).
    checks: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def known_wrong_dir(course: Course) -> Path:
    return course.content_root / "tests" / "known_wrong"


def correct_alternatives(course: Course, step: Step) -> list[Path]:
    return sorted((course.content_root / "tests" / "correct" / step.id).glob("*.py"))


def compose_alternative(course: Course, step: Step, path: Path, dest_dir: Path) -> Path:
    """The step's solution with a correct alternative's definitions appended in place of the reference's."""
    return compose_submission(course, step, dest_dir, f"# --- correct alternative: {path.stem} ---\n{path.read_text(encoding='utf-8')}")


def known_wrong_cases(course: Course, step: Step) -> list[KnownWrong]:
    folder = known_wrong_dir(course) / step.id
    cases = []
    for path in sorted(folder.glob("*.py")):
        cases.append(KnownWrong(step.id, path.stem, path, read_misconception(path)))
    return cases


_PARSING = threading.Lock()  # CPython 3.11's parser can fail ("AST constructor recursion depth mismatch") when threads parse at once


def read_misconception(path: Path) -> str:
    source = path.read_text(encoding="utf-8")
    with _PARSING:
        tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "MISCONCEPTION" for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError(f"{path}: a known-wrong implementation needs MISCONCEPTION = '...'")


def compose_known_wrong(course: Course, step: Step, case: KnownWrong, dest_dir: Path) -> Path:
    """The step's solution with the buggy definitions appended, written as the exercise's file name."""
    wrong = case.path.read_text(encoding="utf-8")
    return compose_submission(course, step, dest_dir, f"# --- known wrong: {case.name} ---\n{wrong}")


def compose_submission(course: Course, step: Step, dest_dir: Path, appended: str = "") -> Path:
    """A learner's file for `step` in `dest_dir`: the solution with `appended` code after it.

    The reference versions of its sibling files go beside it, for steps that import earlier ones.
    """
    import shutil

    solution_path = course.content_root / step.solution
    for sibling in solution_path.parent.glob("*.py"):
        if sibling.name != solution_path.name:
            shutil.copy(sibling, dest_dir / sibling.name)
    solution = solution_path.read_text(encoding="utf-8")
    dest = dest_dir / Path(step.exercise).name
    dest.write_text(f"{solution}\n\n{appended}", encoding="utf-8")
    return dest


def pristine_stub_file(course: Course, step: Step, dest_dir: Path) -> Path:
    """The step's stub as the course ships it (mentor.content), written into `dest_dir` beside the
    shipped stubs of its folder, which an untouched workspace holds next to it."""
    from mentor.content import shipped_files

    folder = Path(step.exercise).parent
    beside = {s.exercise for s in course.steps if Path(s.exercise).parent == folder}
    for rel, data in shipped_files(course.content_root, sorted(beside)).items():
        (dest_dir / Path(rel).name).write_bytes(data)
    return dest_dir / Path(step.exercise).name


def threads_per_grader(workers: int) -> int:
    """The torch/BLAS threads each of `workers` graders running at once may use: a share of the cores.

    Authoring grades many files at once. Left at one thread per core each, their OpenMP pools
    oversubscribe the machine: a thread waiting at a parallel region for a preempted partner spins,
    and a 2 ms optimizer step was measured taking 800 ms on one side of a latency comparison and not
    the other, failing a correct file (and every grader ran 3x slower)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def grade_file(
    course: Course, step: Step, submission: Path, cwd: Path, profile: str = "", threads: int = 1
) -> GradeResult:
    """Grade a file for `step` under `profile` (default: the limits every profile shares), with
    `threads` torch/BLAS threads (one by default: authoring grades files side by side)."""
    req = GradeRequest(
        grader=step.grader,
        submission=submission,
        reference=course.content_root / step.solution,
        cwd=cwd,
        timeout_s=course.timeout_for(step),
        memory_mb=course.memory_for(step, profile),
        profile=profile,
        budget=course.budget_for(step, profile),
        threads=threads,
    )
    return grade(req)


def rejection_matches(result: GradeResult, misconception: str) -> bool:
    needle = misconception.lower()
    return not result.passed and any(needle in (t.message or "").lower() for t in result.tests if t.outcome != "passed")


def _verify_step(course: Course, step: Step, threads: int) -> list[Verification]:
    out = []
    with tempfile.TemporaryDirectory(prefix="mentor-verify-") as tmp:
        tmp_path = Path(tmp)
        sol = grade_file(course, step, course.content_root / step.solution, tmp_path, threads=threads)
        out.append(Verification(step.id, "solution", sol.passed, sol.message, sol.status))
        stub_dir = tmp_path / "stub"
        stub_dir.mkdir()
        stub = grade_file(course, step, pristine_stub_file(course, step, stub_dir), stub_dir, threads=threads)
        out.append(Verification(step.id, "stub", stub.status == "not_started", stub.message, stub.status))
        for case in known_wrong_cases(course, step):
            case_dir = tmp_path / case.name
            case_dir.mkdir()
            res = grade_file(course, step, compose_known_wrong(course, step, case, case_dir), case_dir, threads=threads)
            ok = rejection_matches(res, case.misconception)
            detail = (
                f"rejected: {case.misconception!r}"
                if ok
                else f"expected a failure mentioning {case.misconception!r}, got {res.status}: "
                + "; ".join(t.message for t in res.tests if t.outcome != "passed")[:300]
            )
            out.append(Verification(step.id, f"known-wrong:{case.name}", ok, detail, res.status))
        for path in correct_alternatives(course, step):
            case_dir = tmp_path / f"correct-{path.stem}"
            case_dir.mkdir()
            res = grade_file(course, step, compose_alternative(course, step, path, case_dir), case_dir, threads=threads)
            detail = "passed" if res.passed else f"{res.status}: " + "; ".join(
                f"{t.name}: {t.message}" for t in res.tests if t.outcome != "passed"
            )[:300]
            out.append(Verification(step.id, f"correct:{path.stem}", res.passed, detail, res.status))
    return out


def verify_course(course: Course, steps: list[Step] | None = None, workers: int = 2, grade: bool = True) -> VerifyReport:
    """Grade every step's solution (must pass), stub (must read as not started) and known-wrong code,
    and count the steps' reasoning checks (`grade=False`: only count them)."""
    from mentor.recall import course_check_counts

    steps = steps if steps is not None else course.steps
    report = VerifyReport(checks=course_check_counts(course, steps))
    if not grade:
        return report
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for results in pool.map(lambda s: _verify_step(course, s, threads_per_grader(workers)), steps):
            report.results.extend(results)
    return report
