"""Step states come from the records alone: locked until the steps before are mastered."""

from mentor.gating import AVAILABLE, LOCKED, MASTERED, PASSED, active_seconds, current_step, step_states
from mentor.progress import Records, StepRecord


def mastered_record(step) -> StepRecord:
    return StepRecord(attempts=1, passed=True, correct_checks={c.id for c in step.checks})


def test_a_fresh_learner_has_only_the_first_step_open(course):
    states = step_states(course, Records())
    first, *rest = course.steps
    assert states[first.id] == AVAILABLE
    assert all(states[s.id] == LOCKED for s in rest)
    assert current_step(course, states) is first


def test_passing_without_the_checks_does_not_unlock(course):
    first = course.steps[0]
    states = step_states(course, Records(steps={first.id: StepRecord(attempts=1, passed=True)}))
    assert states[first.id] == PASSED
    if len(course.steps) > 1:
        assert states[course.steps[1].id] == LOCKED


def test_mastery_unlocks_the_next_step(course):
    first = course.steps[0]
    states = step_states(course, Records(steps={first.id: mastered_record(first)}))
    assert states[first.id] == MASTERED
    if len(course.steps) > 1:
        assert states[course.steps[1].id] == AVAILABLE
        assert current_step(course, states) is course.steps[1]


def test_correct_answers_alone_are_not_mastery(course):
    first = course.steps[0]
    rec = StepRecord(passed=False, correct_checks={c.id for c in first.checks})
    assert step_states(course, Records(steps={first.id: rec}))[first.id] == AVAILABLE


def test_time_counts_short_pauses_and_grader_runs_not_long_breaks(course):
    sid = course.steps[0].id
    events = [(0.0, 2.0, sid), (62.0, 63.0, sid), (10_000.0, 10_001.0, sid)]
    # 2 s + 60 s pause + 1 s, then a break of hours (not counted) and 1 s.
    assert active_seconds(course, Records(events=events))[1] == 64.0
