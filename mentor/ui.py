"""Terminal rendering with rich: lesson text as markdown, tables for lists, one next action per screen.

rich honours NO_COLOR and plain (non-TTY) output by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.text import Text

from mentor.curriculum import Check, Course, Step
from mentor.gating import AVAILABLE, LOCKED, MASTERED, PASSED, PhaseSummary

if TYPE_CHECKING:
    from rich.table import Table

console = Console()
err_console = Console(stderr=True)

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


def render_result(step: Step, result, exercise_display: str) -> None:
    style = {"passed": "green", "not_started": "yellow"}.get(result.status, "red")
    console.print(Panel(Text(result.message), title=f"{step.id} · {result.status.replace('_', ' ')}", border_style=style))
    if result.where:
        console.print(f"  at [bold]{escape(result.where)}[/]: {escape(result.line)}", highlight=False)
    if result.status == "not_started":
        console.print(f"  Open [bold]{escape(exercise_display)}[/] and replace `raise NotImplementedError`.", highlight=False)
        return
    for t in result.tests:
        label = t.doc or t.name
        console.print(f" {OUTCOME_MARK.get(t.outcome, '?')} {escape(label)}", highlight=False)
        if t.outcome != "passed" and t.message:
            console.print(Text(f"     {t.message}", style="yellow"))
            if t.where:
                console.print(Text(f"     at {t.where}: {t.line}", style="dim"))
            for line in (t.diff or "").splitlines():
                console.print(Text(f"       {line}", style="dim"))
    for m in result.measurements:
        mark = OUTCOME_MARK["passed" if m["ok"] else "failed"]
        bound = "≥" if m["budget"] == "throughput_ratio" else "≤"
        console.print(
            f" {mark} budget {m['budget']} = {m['measured']:.3g} ({bound} {m['allowed']:.3g} allowed; yours "
            f"{m['learner']:.4g} vs reference {m['reference']:.4g} {m['unit']}, profile {m['profile'] or 'default'})",
            highlight=False,
        )
    if result.status in ("crashed", "error", "timeout") and result.output.strip():
        console.print(Panel(Text(result.output.strip()[-2000:]), title="output (last lines)", border_style="dim"))


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
    table = _table(course.title)
    table.add_column("", width=1)
    table.add_column("step")
    table.add_column("title")
    table.add_column("state")
    table.add_column("attempts", justify="right")
    for phase in course.phases:
        table.add_row("", f"[bold]Phase {phase.number}[/]", f"[bold]{phase.title}[/]", "", "")
        for lesson in phase.lessons:
            for s in lesson.steps:
                st = states[s.id]
                style = STATE_STYLE[st]
                table.add_row(
                    f"[{style}]{STATE_MARK[st]}[/]", s.id, s.title, f"[{style}]{st}[/]", str(records.of(s.id).attempts or "")
                )
    console.print(table)


def render_progress(course: Course, phases: list[PhaseSummary], current: Step | None) -> None:
    table = _table("Progress")
    columns = ("phase", "mastered", "attempts", "hints", "questions", "time")
    for col, just in zip(columns, ("left", *["right"] * 5)):
        table.add_column(col, justify=just)
    for p in phases:
        bar = _bar(p.mastered, p.total)
        table.add_row(
            f"{p.number} · {p.title}", f"{bar} {p.mastered}/{p.total}", str(p.attempts), str(p.hints),
            str(p.questions), _duration(p.seconds),
        )
    console.print(table)
    if current:
        console.print(f"Next: [bold]{current.id}[/] · {escape(current.title)}   ([bold]mentor next[/])", highlight=False)
    else:
        console.print("[green]Every step is mastered.[/]")


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
