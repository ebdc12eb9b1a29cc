"""Right answers to a step's reasoning checks as a script would type them, for tests that master steps.

A check's numbers and option order are drawn for the workspace's learner and try (mentor.draws), so a
right answer is computed for the workspace at hand, never written into a test.
"""

from pathlib import Path

from mentor.checks import right_answer
from mentor.draws import draw, learner_id
from mentor.progress import ProgressStore


def answer_args(ws: Path, step) -> list[str]:
    """`--answer CHECK=VALUE` for every check of `step`, right for this workspace's next try of each."""
    store = ProgressStore(ws / "progress.db")
    try:
        tries = {c.id: len(store.answers_to(step.id, c.id)) for c in step.checks}
    finally:
        store.close()
    learner = learner_id(ws / ".mentor")
    return [arg for c in step.checks for arg in ("--answer", f"{c.id}={right_answer(c, draw(c, learner, step.id, tries[c.id]))}")]
