"""Terminal rendering with rich: lesson text as markdown, steps and figures in columns, one next action per screen.

rich honours NO_COLOR and plain (non-TTY) output by itself; output that is not a terminal also
carries no trailing spaces, so a file or a pipe holds the lines as a reader would copy them.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.text import Text

from mentor.curriculum import Check, Course, Step
from mentor.gating import AVAILABLE, LOCKED, MASTERED, PASSED, PhaseSummary

if TYPE_CHECKING:
    from rich.table import Table

_TRAILING_SPACES = re.compile(r"[ \t]+(?=\n)")


class _Console(Console):
    def _render_buffer(self, buffer) -> str:
        text = super()._render_buffer(buffer)
        return text if self.is_terminal else _TRAILING_SPACES.sub("", text)


console = _Console()
err_console = _Console(stderr=True)

STATE_STYLE = {MASTERED: "green", PASSED: "yellow", AVAILABLE: "cyan", LOCKED: "dim"}
STATE_MARK = {MASTERED: "✔", PASSED: "◐", AVAILABLE: "○", LOCKED: "·"}
OUTCOME_MARK = {"passed": "[green]✔[/]", "failed": "[red]✘[/]", "skipped": "[red]✘[/]", "missing": "[red]?[/]"}


# Modules that only some screens need load when one of them renders: `mentor next` shows no table,
# `mentor list` no markdown.
def markdown(text: str) -> RenderableType:
    from mentor.markdown import markdown

    return markdown(text)


def _table(title: str) -> Table:
    from rich.table import Table

    return Table(title=title)


def error(message: str) -> None:
    """`message` as written: it may quote the learner's input, a path or an exception, never markup."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)


def capture(render, *args) -> str:
    """What `render(*args)` prints, as the terminal would receive it."""
    with console.capture() as captured:
        render(*args)
    return captured.get()


def render_step(course: Course, step: Step, state: str, exercise_display: str) -> None:
    phase = course.phase_of(step)
    lesson = next(les for les in phase.lessons if les.id == step.lesson)
    header = Text.assemble(
        (f"Phase {phase.number} · {phase.title}", "bold"), "  ›  ", lesson.title, "  ›  ", (step.title, "bold cyan")
    )
    console.print(Panel(header, subtitle=f"{step.id} · {state}", expand=True))
    console.print(Text(step.objective, style="italic"))
    console.print()
    console.print(markdown(step.concept))
    console.print()
    console.print(Panel(markdown(step.task), title="Your task", title_align="left", border_style="cyan"))
    console.print(f"  Edit   [bold]{escape(exercise_display)}[/]", highlight=False)
    console.print(f"  Check  [bold]mentor check[/]     stuck? [bold]mentor hint[/]", highlight=False)


def render_result(step: Step, result, exercise_display: str, verbose: bool = False, tracebacks: bool = False) -> None:
    """A grader's verdict: the summary, each test, and under a failing one its misconception, the
    values, what the learner's code printed; with `verbose`, the output of every test; with
    `tracebacks`, the learner's frames of each exception."""
    style = {"passed": "green", "not_started": "yellow"}.get(result.status, "red")
    console.print(Panel(Text(result.message), title=f"{step.id} · {result.status.replace('_', ' ')}", border_style=style))
    if result.where:
        _show_source_line(result.where, result.line, result.column, result.end_column)
    if result.status == "not_started":
        console.print(f"  Open [bold]{escape(exercise_display)}[/] and replace `raise NotImplementedError`.", highlight=False)
        return
    if result.status == "error" and result.where:  # Python could not load the file: one message, not one per test
        console.print(Text(f"  None of the {len(result.tests)} tests could run until Python loads your file.", style="dim"))
        return
    for t in result.tests:
        render_test(t, verbose, tracebacks)
    for m in result.measurements:
        mark = OUTCOME_MARK["passed" if m["ok"] else "failed"]
        bound = "≥" if m["budget"] == "throughput_ratio" else "≤"
        console.print(
            f" {mark} budget {m['budget']} = {m['measured']:.3g} ({bound} {m['allowed']:.3g} allowed; yours "
            f"{m['learner']:.4g} vs reference {m['reference']:.4g} {m['unit']}, profile {m['profile'] or 'default'})",
            highlight=False,
        )
    if result.status in ("crashed", "error") and result.output.strip():
        console.print(Panel(Text(printable(result.output.strip()[-2000:])), title="output (last lines)", border_style="dim"))


OUTPUT_LINES_SHOWN = 12  # of a failing test's output, without --verbose


def render_test(t, verbose: bool = False, tracebacks: bool = False) -> None:
    """One test: its mark and what it checks; below a failure (or any test, `verbose`) the details."""
    console.print(f" {OUTCOME_MARK.get(t.outcome, '?')} {escape(t.doc or t.name)}", highlight=False)
    failing = t.outcome != "passed"
    if failing and t.message:
        indented(Text(t.message, style="yellow"), 5)
        if t.where:
            indented(Text(f"at {location(t.where)}: {t.line}", style="dim"), 5)
        for line in (t.diff or "").splitlines():
            indented(Text(line, style="dim"), 7)
    if tracebacks and t.traceback:
        indented(Text("your code, outermost call first:", style="dim"), 5)
        for frame in t.traceback:
            indented(Text(f"{location(frame['where'])} in {frame['function']}", style="dim"), 7)
            indented(Text(frame["line"]), 9)
    if failing or verbose:
        _show_output(t.output, t.warnings, None if verbose else OUTPUT_LINES_SHOWN)


def _show_output(output: str, warnings: list[dict], most: int | None) -> None:
    lines = printable(output).rstrip("\n").splitlines() if output.strip() else []
    if lines:
        shown = lines if most is None or len(lines) <= most else lines[: most // 2] + lines[-(most - most // 2) :]
        indented(Text("your code printed:", style="dim"), 5)
        for n, line in enumerate(shown):
            if most is not None and len(lines) > most and n == most // 2:
                indented(Text(f"… {len(lines) - most} more lines (`mentor check -v` shows them all)", style="dim"), 7)
            indented(Text(f"│ {line}"), 5)
    for w in warnings:
        indented(Text(f"warning: {printable(w['message'])} (at {location(w['where'])})", style="magenta"), 5)


_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]")


def printable(text: str) -> str:
    """The learner's output without terminal control sequences: it cannot move the cursor or recolour our screen."""
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


def indented(text: Text, indent: int) -> None:
    """`text` wrapped at the terminal's width, every line of it `indent` spaces in."""
    width = max(20, console.width - indent)
    for line in text.wrap(console, width) or [Text()]:
        line.rstrip()
        console.print(Text(" " * indent) + line, soft_wrap=True, highlight=False)


def location(where: str) -> str:
    """`path:line` as an editor or a terminal can follow it from here: relative to the current folder
    when the file is under it."""
    path, sep, rest = where.rpartition(":")
    if not sep or not rest.isdigit():
        path, rest = where, ""
    try:
        shown = os.path.relpath(path)
        if shown.startswith(".."):
            shown = path
    except ValueError:
        shown = path
    return f"{shown}:{rest}" if rest else shown


def _show_source_line(where: str, line: str, column: int = 0, end_column: int = 0) -> None:
    """file:line[:column], then the line as written with a caret under the column."""
    at = location(where) + (f":{column}" if column else "")
    console.print(Text.assemble("  at ", (at, "bold")), highlight=False)
    if line.strip():
        console.print(Text(f"    {line.expandtabs(4).rstrip()}"), soft_wrap=True, highlight=False)
        if column:
            prefix = line[: column - 1].expandtabs(4)
            from rich.cells import cell_len

            marks = "^" * max(1, (end_column or column + 1) - column)
            console.print(Text(" " * (4 + cell_len(prefix)) + marks, style="bold red"), soft_wrap=True, highlight=False)


def labelled(label: str, style: str, body: str) -> None:
    """A styled label, then course text (a hint, an explanation) as markdown: brackets in it stay text."""
    console.print(Text(label, style=style))
    if body.strip():
        console.print(Padding(markdown(body), (0, 0, 0, 2)))


def render_check_question(check: Check, index: int, total: int) -> None:
    console.print(Panel(markdown(check.ask), title=f"Reasoning check {index}/{total} · {check.id}", border_style="magenta"))
    for i, choice in enumerate(check.choices or []):
        console.print(f"   {chr(ord('a') + i)}) {escape(choice)}", highlight=False)


def render_list(course: Course, states: dict[str, str], records) -> None:
    """Every step under its phase, one line each: mark, id, title, state, attempts."""
    header = _cells("", "step", "title", "state", "attempts", style="dim")
    rows = {
        s.id: _cells(
            (STATE_MARK[states[s.id]], STATE_STYLE[states[s.id]]),
            (s.id, "dim" if states[s.id] == LOCKED else ""),
            (s.title, "dim" if states[s.id] == LOCKED else ""),
            (states[s.id], STATE_STYLE[states[s.id]]),
            str(records.of(s.id).attempts or ""),
        )
        for s in course.steps
    }
    grid = _Grid([header, *rows.values()], flex=2, justify="llllr", stack="after", stack_indent=5)  # under the id
    lines = [Text(course.title, style="bold"), Text(), *grid.lines(header, header=True)]
    for phase in course.phases:
        steps = [s for lesson in phase.lessons for s in lesson.steps]
        mastered = sum(states[s.id] == MASTERED for s in steps)
        lines.append(Text.assemble((f"Phase {phase.number} · {phase.title}", "bold"), (f"  {mastered}/{len(steps)}", "dim")))
        lines.extend(line for s in steps for line in grid.lines(rows[s.id]))
    lines.extend(_roadmap(course, states))
    _print_lines(lines)


def _roadmap(course: Course, states: dict[str, str]) -> list[Text]:
    """The phases not begun yet with their lessons, and the capstone after them."""
    ahead = [p for p in course.phases if all(states[s.id] == LOCKED for lesson in p.lessons for s in lesson.steps)]
    if not ahead:
        return []
    import textwrap

    width = max(40, console.width - 2)
    lines = [Text(), Text("Ahead", style="bold")]
    for phase in ahead:
        lines.append(Text(f"Phase {phase.number} · {phase.title}", style="bold"))
        lessons = " · ".join(lesson.title for lesson in phase.lessons)
        lines.extend(Text(part, style="dim") for part in textwrap.wrap(lessons, width, initial_indent="  ", subsequent_indent="  "))
    lines.append(Text("Then the capstone", style="bold"))
    lines.append(Text("  your own GPT at your machine's scale: mentor capstone plan", style="dim"))
    return lines


def render_progress(course: Course, phases: list[PhaseSummary], current: Step | None) -> None:
    header = _cells("phase", "mastered", "attempts", "hints", "questions", "time", style="dim")
    rows = [
        _cells(
            f"{p.number} · {p.title}", f"{_bar(p.mastered, p.total)} {p.mastered}/{p.total}", str(p.attempts),
            str(p.hints), str(p.questions), _duration(p.seconds),
        )
        for p in phases
    ]  # fmt: skip
    grid = _Grid([header, *rows], flex=0, justify="lrrrrr", stack="before")
    body = [*grid.lines(header, header=True), *(line for row in rows for line in grid.lines(row))]
    _print_lines([Text("Progress", style="bold"), *body])
    if current:
        console.print(f"Next: [bold]{current.id}[/] · {escape(current.title)}   ([bold]mentor next[/])", highlight=False)
    else:
        console.print("[green]Every step is mastered.[/]")


# `list` and `progress` are laid out here rather than by rich.table: their screens change after
# every check, and importing and measuring a table cost them a fifth of their time.
def _cells(*cells: str | tuple[str, str], style: str = "") -> tuple[Text, ...]:
    """Plain text cells, each a string or (string, style): never read as markup."""
    return tuple(Text(c, style=style) if isinstance(c, str) else Text(c[0], style=c[1] or style) for c in cells)


class _Grid:
    """Columns as wide as their widest cell, two spaces apart. Column `flex` gives way when the
    terminal is narrower than the rows: its text wraps onto more lines of the row, at spaces only.
    Where even its longest word would not fit, the column leaves the grid and each row's text takes
    lines of its own, `stack`ed "before" or "after" the other cells, so no word is split."""

    GAP, INDENT, NARROWEST = 2, 2, 8

    def __init__(self, rows: list[tuple[Text, ...]], flex: int, justify: str, stack: str = "after", stack_indent: int = 2):
        self.flex, self.justify, self.stack, self.stack_indent = flex, justify, stack, stack_indent
        self.widths = [max(cell.cell_len for cell in column) for column in zip(*rows)]
        others = sum(self.widths) - self.widths[flex] + self.GAP * (len(self.widths) - 1) + self.INDENT
        longest_word = max((cell_len(word) for row in rows for word in row[flex].plain.split()), default=0)
        room = console.width - others
        self.stacked = room < min(longest_word, self.widths[flex])
        self.widths[flex] = max(self.NARROWEST, min(self.widths[flex], room))

    def lines(self, cells: tuple[Text, ...], header: bool = False) -> list[Text]:
        """One row: as many lines as its wrapped `flex` cell needs (a header's flex cell is left out when stacked)."""
        if self.stacked:
            keep = [i for i in range(len(cells)) if i != self.flex]
            grid = self._lay_out([[cells[i]] for i in keep], [self.widths[i] for i in keep], "".join(self.justify[i] for i in keep))
            if header:
                return grid
            width = max(self.NARROWEST, console.width - self.stack_indent)
            own = [Text(" " * self.stack_indent) + line for line in cells[self.flex].wrap(console, width)]
            for line in own:
                line.rstrip()
            return own + grid if self.stack == "before" else grid + own
        width = self.widths[self.flex]
        columns = [list(cell.wrap(console, width)) or [Text()] if i == self.flex else [cell] for i, cell in enumerate(cells)]
        return self._lay_out(columns, self.widths, self.justify)

    def _lay_out(self, columns: list[list[Text]], widths: list[int], justify: str) -> list[Text]:
        out = []
        for n in range(max(map(len, columns))):
            line = Text(" " * self.INDENT)
            for i, (column, width, side) in enumerate(zip(columns, widths, justify)):
                cell = column[n] if n < len(column) else Text()
                padding = " " * (width - cell.cell_len)
                line.append(" " * self.GAP if i else "")
                line.append_text(Text.assemble(padding, cell) if side == "r" else Text.assemble(cell, padding))
            line.rstrip()
            out.append(line)
        return out


def _print_lines(lines: list[Text]) -> None:
    """Lines printed as laid out: one too wide for a very narrow terminal is cut, never wrapped."""
    console.print(Text("\n").join(lines), no_wrap=True, overflow="ellipsis", highlight=False)


def render_budget_history(measurements: list[dict]) -> None:
    """Per step, budget and profile: the first and the latest figure against what is allowed."""
    if not measurements:
        return
    series: dict[tuple, list[dict]] = {}
    for m in measurements:
        series.setdefault((m["step_id"], m["budget"], m["profile"]), []).append(m)
    table = _table("Budgets: your figures against the reference")
    for col in ("step", "budget", "profile", "first", "latest", "allowed", "yours / reference (latest)"):
        table.add_column(col)
    for (step_id, budget, profile), ms in series.items():
        first, last = ms[0], ms[-1]
        style = "green" if last["ok"] else "red"
        table.add_row(
            step_id, budget, profile or "default", f"{first['measured']:.3g}", f"[{style}]{last['measured']:.3g}[/]",
            f"{last['allowed']:.3g}", f"{last['learner']:.4g} / {last['reference']:.4g} {last['unit']}",
        )  # fmt: skip
    console.print(table)


def _bar(done: int, total: int, width: int = 10) -> str:
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def render_repair(report, display) -> None:
    """What `mentor repair` found, what it kept aside and, per table, the records carried over."""
    from mentor.repair import FOREIGN, HEALTHY, MISSING

    name = display(report.store)
    if report.condition == MISSING:
        console.print(f"There is no {name} yet: nothing to repair (the next command starts one).", highlight=False)
        return
    if report.condition == HEALTHY:
        console.print(f"[green]{name} is healthy:[/] nothing to repair, nothing changed.", highlight=False)
        return
    kept = display(report.kept[0])
    suffixes = [path.name[len(report.kept[0].name) :] for path in report.kept[1:]]
    also = f" (and its {', '.join(suffixes)} files)" if suffixes else ""
    if report.condition == FOREIGN:
        console.print(f"[yellow]{name} is {report.reason}.[/]", highlight=False)
    else:
        console.print(f"[yellow]{name} cannot be read ({report.reason}).[/]", highlight=False)
    console.print(f"Kept the old file as [bold]{kept}[/]{also}; a fresh {name} is in its place.", highlight=False)
    if report.condition == FOREIGN:
        console.print("Nothing was taken from it: it holds no mentor records.")
        return
    if not report.tables:
        console.print("[red]Nothing could be read from it[/]: the fresh store starts empty.")
        return
    table = _table("Records carried over")
    for col in ("table", "salvaged", "could not be read"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for t, counts in report.tables.items():
        lost = "unknown" if counts.unreadable is None else str(counts.unreadable)
        style = "green" if counts.unreadable == 0 else "red"
        table.add_row(t, str(counts.salvaged), f"[{style}]{lost}[/]")
    console.print(table)
