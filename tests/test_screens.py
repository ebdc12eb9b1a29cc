"""`mentor list` and `mentor progress` laid out in columns: whole ids, every word of a title, lines
that fit the terminal, text never read as markup."""

import re
from types import SimpleNamespace

import pytest
from rich.cells import cell_len
from rich.console import Console

from mentor import ui
from mentor.curriculum import load_course
from mentor.gating import AVAILABLE, LOCKED, MASTERED, PASSED, PhaseSummary
from mentor.paths import content_root
from mentor.progress import StepRecord

COURSE = load_course(content_root())
STATES = (MASTERED, PASSED, AVAILABLE, LOCKED)


class Records:
    def __init__(self, attempts: dict[str, int]):
        self.attempts = attempts

    def of(self, step_id: str) -> StepRecord:
        return StepRecord(attempts=self.attempts.get(step_id, 0))


def shown(monkeypatch, width: int, render, *args) -> list[str]:
    monkeypatch.setattr(ui, "console", Console(width=width, color_system=None))
    return [line.rstrip() for line in ui.capture(render, *args).splitlines()]


def listed(monkeypatch, width: int, course=COURSE, attempts=None) -> tuple[list[str], dict, dict]:
    states = {s.id: STATES[n % 4] for n, s in enumerate(course.steps)}
    attempts = attempts or {s.id: n * 7 for n, s in enumerate(course.steps)}
    return shown(monkeypatch, width, ui.render_list, course, states, Records(attempts)), states, attempts


def rows_of(lines: list[str], course, indent: int = 10) -> dict[str, list[str]]:
    """Each step's lines: the one that names it, and the wrapped ones under it (indented `indent` or more)."""
    rows, current = {}, None
    ids = {s.id for s in course.steps}
    for line in lines:
        fields = line.split()
        if len(fields) > 1 and fields[1] in ids:
            current = fields[1]
            rows[current] = [line]
        elif current and line.startswith(" " * indent):
            rows[current].append(line)
        else:
            current = None
    return rows


def _letters(parts) -> str:
    """The text without its spaces: a word longer than its column is folded, not lost."""
    return "".join("".join(parts).split())


def test_a_wide_terminal_shows_each_step_on_one_line_in_course_order(monkeypatch):
    lines, states, attempts = listed(monkeypatch, 200)
    rows = rows_of(lines, COURSE)
    assert list(rows) == [s.id for s in COURSE.steps]
    for s in COURSE.steps:
        (line,) = rows[s.id]
        tail = [states[s.id], *([str(attempts[s.id])] if attempts[s.id] else [])]
        assert line.split()[:2] == [ui.STATE_MARK[states[s.id]], s.id] and line.split()[-len(tail) :] == tail
        assert f"  {s.title}  " in line
    for phase in COURSE.phases:
        total = sum(len(lesson.steps) for lesson in phase.lessons)
        mastered = sum(states[s.id] == MASTERED for lesson in phase.lessons for s in lesson.steps)
        assert f"Phase {phase.number} · {phase.title}  {mastered}/{total}" in lines


@pytest.mark.parametrize("width", [80, 72])
def test_a_narrow_terminal_wraps_titles_and_keeps_ids_states_and_counts_whole(monkeypatch, width):
    lines, states, attempts = listed(monkeypatch, width)
    assert all(cell_len(line) <= width for line in lines)
    header = next(line for line in lines if line.split()[:2] == ["step", "title"])
    title_at, state_at = header.index("title"), header.index("state")
    rows = rows_of(lines, COURSE)
    assert list(rows) == [s.id for s in COURSE.steps]
    assert any(len(row) > 1 for row in rows.values())  # some titles did need wrapping
    for s in COURSE.steps:
        first, *more = rows[s.id]
        assert first[:title_at].split() == [ui.STATE_MARK[states[s.id]], s.id]
        assert first[state_at:].split() == [states[s.id], *([str(attempts[s.id])] if attempts[s.id] else [])]
        assert all(not line[:title_at].strip() and not line[state_at:].strip() for line in more)
        assert _letters(line[title_at:state_at] for line in rows[s.id]) == _letters([s.title])
        assert " ".join(line[title_at:state_at].strip() for line in rows[s.id]).split() == s.title.split()  # words whole


@pytest.mark.parametrize("width", [66, 60])
def test_a_terminal_too_narrow_for_a_title_column_puts_each_title_under_its_id_with_words_whole(monkeypatch, width):
    lines, states, attempts = listed(monkeypatch, width)
    assert all(cell_len(line) <= width for line in lines) and not any("…" in line for line in lines)
    assert next(line for line in lines if "step" in line.split()).split() == ["step", "state", "attempts"]
    rows = rows_of(lines, COURSE, indent=5)
    assert list(rows) == [s.id for s in COURSE.steps]
    for s in COURSE.steps:
        first, *title = rows[s.id]
        assert first.split() == [ui.STATE_MARK[states[s.id]], s.id, states[s.id], *([str(attempts[s.id])] if attempts[s.id] else [])]
        assert " ".join(title).split() == s.title.split()


def test_attempts_line_up_on_the_right(monkeypatch):
    lines, _, _ = listed(monkeypatch, 200, attempts={s.id: 10 ** (n % 4) for n, s in enumerate(COURSE.steps)})
    ends = {len(rows[0]) for rows in rows_of(lines, COURSE).values()}
    assert len(ends) == 1


def fake_course(titles: list[str]):
    steps = [SimpleNamespace(id=f"p1.s{n}", title=title) for n, title in enumerate(titles)]
    phase = SimpleNamespace(number=1, title="Brackets [b]", lessons=[SimpleNamespace(steps=steps)])
    return SimpleNamespace(title="A course [/] of its own", steps=steps, phases=[phase])


def test_titles_are_shown_as_written_never_read_as_markup(monkeypatch):
    titles = ["Shapes [B, T, C] and W[ids]", "[bold]not bold[/bold]", "[/oops]", "宽字符 titles take two cells each"]
    course = fake_course(titles)
    lines, _, _ = listed(monkeypatch, 200, course=course)
    assert lines[0] == "A course [/] of its own" and lines[3].startswith("Phase 1 · Brackets [b]")
    for step, line in zip(course.steps, lines[4:]):
        assert f"{step.id}  {step.title}  " in line
    for width in (66, 40):  # wrapped, folded or cut: still no markup error and nothing wider than the terminal
        lines, _, _ = listed(monkeypatch, width, course=course)
        assert all(cell_len(line) <= width for line in lines) and lines[0].startswith("A course [/]")


def _phases():
    return [
        PhaseSummary(number=p.number, title=p.title, total=9 + p.number, mastered=p.number, attempts=123 * p.number,
                     hints=4 * p.number, questions=p.number, seconds=3725.0 * p.number)
        for p in COURSE.phases
    ]  # fmt: skip


def _figures(p) -> list[str]:
    return [f"{p.mastered}/{p.total}", str(p.attempts), str(p.hints), str(p.questions), ui._duration(p.seconds)]


def test_progress_fits_the_terminal_and_shows_every_figure(monkeypatch):
    phases = _phases()
    for width in (200, 80):
        lines = shown(monkeypatch, width, ui.render_progress, COURSE, phases, COURSE.steps[3])
        table = lines[: next(n for n, line in enumerate(lines) if line.startswith("Next: "))]
        assert table[0] == "Progress" and table[1].split() == ["phase", "mastered", "attempts", "hints", "questions", "time"]
        assert all(cell_len(line) <= width for line in table)
        starts = [n for n, line in enumerate(table) if re.match(r"  \d+ · ", line)]
        assert len(starts) == len(phases)
        for p, start, end in zip(phases, starts, [*starts[1:], len(table)]):
            first, *more = table[start:end]
            label, bar, *figures = re.split(r" {2,}|(?<=[█░]) ", first.strip())
            assert bar == ui._bar(p.mastered, p.total)
            assert figures == _figures(p)
            assert _letters([label, *more]) == _letters([f"{p.number} · {p.title}"])
        assert COURSE.steps[3].id in " ".join(lines[len(table) :])


@pytest.mark.parametrize("width", [64, 60])
def test_narrow_progress_puts_each_phase_title_above_its_figures_and_hides_none(monkeypatch, width):
    phases = _phases()
    lines = shown(monkeypatch, width, ui.render_progress, COURSE, phases, COURSE.steps[3])
    table = lines[: next(n for n, line in enumerate(lines) if line.startswith("Next: "))]
    assert all(cell_len(line) <= width for line in table) and not any("…" in line for line in table)
    assert table[1].split() == ["mastered", "attempts", "hints", "questions", "time"]
    for p in phases:
        at = table.index(f"  {p.number} · {p.title}")  # the whole title on one line of its own
        bar, *figures = table[at + 1].split()
        assert bar == ui._bar(p.mastered, p.total) and figures == _figures(p)
