"""Step states, derived from the records alone: nothing stores "unlocked", so nothing can drift.

- mastered:  the grader passed and every reasoning check was answered correctly
- passed:    the grader passed; reasoning checks are still open
- available: every required step is mastered
- locked:    some required step is not mastered yet
"""

from __future__ import annotations

from dataclasses import dataclass

from mentor.curriculum import Course, Step
from mentor.progress import Records

LOCKED, AVAILABLE, PASSED, MASTERED = "locked", "available", "passed", "mastered"
ACTIVE_GAP_S = 20 * 60  # longer pauses between two actions do not count as time spent


def requirements(course: Course, step: Step) -> list[str]:
    """The steps that must be mastered first: as written, or else the step before it."""
    if step.requires is not None:
        return list(step.requires)
    steps = course.steps
    i = steps.index(step)
    return [steps[i - 1].id] if i > 0 else []


def step_states(course: Course, records: Records) -> dict[str, str]:
    states: dict[str, str] = {}
    for step in course.steps:  # course order: requirements are always decided first
        rec = records.of(step.id)
        if rec.passed and {c.id for c in step.checks} <= rec.correct_checks:
            states[step.id] = MASTERED
        elif rec.passed:
            states[step.id] = PASSED
        elif all(states[r] == MASTERED for r in requirements(course, step)):
            states[step.id] = AVAILABLE
        else:
            states[step.id] = LOCKED
    return states


def current_step(course: Course, states: dict[str, str]) -> Step | None:
    """The first step, in course order, that is open and not yet mastered."""
    return next((s for s in course.steps if states[s.id] in (AVAILABLE, PASSED)), None)


def blocking(course: Course, step: Step, states: dict[str, str]) -> list[str]:
    return [r for r in requirements(course, step) if states[r] != MASTERED]


@dataclass
class PhaseSummary:
    number: int
    title: str
    mastered: int
    total: int
    attempts: int
    hints: int
    questions: int
    seconds: float


def phase_summaries(course: Course, records: Records, states: dict[str, str]) -> list[PhaseSummary]:
    seconds = active_seconds(course, records)
    out = []
    for phase in course.phases:
        steps = [s for lesson in phase.lessons for s in lesson.steps]
        out.append(
            PhaseSummary(
                number=phase.number,
                title=phase.title,
                mastered=sum(states[s.id] == MASTERED for s in steps),
                total=len(steps),
                attempts=sum(records.of(s.id).attempts for s in steps),
                hints=sum(records.of(s.id).hints_seen for s in steps),
                questions=sum(records.of(s.id).questions for s in steps),
                seconds=seconds.get(phase.number, 0.0),
            )
        )
    return out


def active_seconds(course: Course, records: Records) -> dict[int, float]:
    """Time spent per phase: time inside actions (grader runs) plus short pauses between them."""
    phase_of = {s.id: s.phase for s in course.steps}
    out: dict[int, float] = {}
    prev_end = None
    for start, end, step_id in records.events:  # sorted by start
        spent = end - start
        if prev_end is not None:
            gap = start - prev_end
            spent = (gap if 0 < gap <= ACTIVE_GAP_S else 0.0) + max(0.0, end - max(start, prev_end))
        prev_end = end if prev_end is None else max(prev_end, end)
        if step_id in phase_of:
            out[phase_of[step_id]] = out.get(phase_of[step_id], 0.0) + spent
    return out
