"""The `mentor` command: parse, call one function, render.

Exit codes: 0 success (for `check`: the grader passed), 1 a failed check or a refused action,
2 usage or content errors (unknown step, malformed YAML, no workspace).
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, List, Optional

from mentor import __version__

# Typer is imported only to parse a command line (see build_app): the plain everyday commands are
# called directly by `main`, so `mentor next` does not pay for Typer, click and pydantic. Parameter
# metadata lives in string annotations, which Typer resolves when the app is built.
if TYPE_CHECKING:
    import typer


@dataclass
class Session:
    """The workspace, its course and its progress store, loaded once per command."""

    ws: object
    course: object
    store: object

    def records(self):
        return self.store.records()

    def states(self):
        from mentor.gating import step_states

        return step_states(self.course, self.records())

    def step(self, step_id: Optional[str]):
        """The named step, or the current one; an unknown id is a usage error (exit 2)."""
        from mentor.gating import current_step

        if step_id is None:
            step = current_step(self.course, self.states())
            if step is None:
                _fail("every step is mastered: nothing to do (see `mentor progress`)", code=0)
            return step
        try:
            return self.course.step(step_id)
        except KeyError:
            close = similar_steps(self.course, step_id)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            _fail(f"unknown step {step_id!r}: {hint}`mentor list` shows the step ids", code=2)

    def exercise(self, step) -> Path:
        return self.ws.exercise_path(step)


def similar_steps(course, text: str) -> list[str]:
    """Step ids close to `text` (a typo, or the end of an id), closest first."""
    import difflib

    ids = [st.id for st in course.steps]
    tails = [i for i in ids if text and i.endswith("." + text)]
    return (tails + [i for i in difflib.get_close_matches(text, ids, n=3, cutoff=0.75) if i not in tails])[:3]


def _fail(message: str, code: int = 1):
    from mentor.ui import error

    if code == 0:
        from mentor.ui import console

        console.print(message)
    else:
        error(message)
    raise SystemExit(code)


@contextmanager
def _user_errors():
    """Content, workspace and store problems become one clear line and exit 2, never a traceback.

    Every command runs inside it (see build_app and main), so a store found damaged half-way
    through a command reads the same as one found damaged when it was opened.
    """
    from mentor.curriculum import CurriculumError
    from mentor.progress import StoreError
    from mentor.workspace import WorkspaceError

    try:
        yield
    except (CurriculumError, WorkspaceError, StoreError) as e:
        _fail(str(e), code=2)


def _session(ws=None) -> Session:
    from mentor.curriculum import load_course
    from mentor.paths import content_root
    from mentor.progress import ProgressStore
    from mentor.workspace import find_workspace

    ws = ws or find_workspace()
    course = load_course(content_root(), cache_dir=ws.cache_dir)
    store = ProgressStore(ws.db_path)
    store.connect()
    return Session(ws, course, store)


def _show_cached(s: Session, parts: tuple, render) -> None:
    """Print a screen that is a function of `parts`, rendered by `render(ui)` only when not cached."""
    from mentor.screen_cache import cached_screen

    def capture() -> str:
        from mentor import ui

        return ui.capture(render, ui)

    sys.stdout.write(cached_screen(s.ws.cache_dir, parts, capture))


def _interactive() -> bool:
    """A person at a terminal can answer prompts (CI may run us with no stdin at all)."""
    return sys.stdin is not None and sys.stdin.isatty()


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _step_json(session: Session, step, state: str) -> dict:
    return {
        "id": step.id,
        "title": step.title,
        "phase": step.phase,
        "lesson": step.lesson,
        "state": state,
        "exercise": session.ws.display(session.exercise(step)),
    }


# --------------------------------------------------------------------------------------------
def next(as_json: JsonFlag = False) -> None:
    """Show where you are: the step, its concept, your task and the file to edit.

    `mentor` alone does the same.

    Examples: mentor next    mentor next --json
    """
    s = _session()
    if as_json:
        _print_json(_next_json(s))
        return
    _show_next(s)


def _next_json(s: Session) -> dict:
    from mentor.gating import current_step

    states = s.states()
    step = current_step(s.course, states)
    if step is None:
        return {"step": None, "done": True}
    return {
        "step": {**_step_json(s, step, states[step.id]), "objective": step.objective, "concept": step.concept, "task": step.task},
        "done": False,
        "checks_pending": _pending_checks(s, step) if states[step.id] == "passed" else [],
        "hints": {"seen": s.records().of(step.id).hints_seen, "total": len(step.hints)},
    }


def show(step_id: StepArg = None) -> None:
    """Show any step you have unlocked again: its concept, your task and the file to edit.

    Examples: mentor show p1.neuron.forward    mentor show
    """
    s = _session()
    step = s.step(step_id)
    states = s.states()
    _refuse_locked(s, step, states)
    from mentor import ui

    ui.render_step(s.course, step, states[step.id], s.ws.display(s.exercise(step)))


def _show_next(s: Session) -> None:
    from mentor.gating import current_step
    from mentor.workspace import update_to_mention

    states = s.states()
    step = current_step(s.course, states)
    if step is None:
        from mentor import ui

        ui.console.print("[green]Every step is mastered.[/] See `mentor progress` for your record.")
    else:
        shown = s.ws.display(s.exercise(step))
        parts = ("next", step.id, states[step.id], shown, step.title, step.objective, step.concept, step.task)
        _show_cached(s, parts, lambda ui: ui.render_step(s.course, step, states[step.id], shown))
    if update_to_mention(s.ws, s.course):
        from mentor import ui

        ui.console.print(
            "[yellow]The installed course differs from the one this workspace was made from:[/] "
            "[bold]mentor update[/] brings in new steps and keeps every file and record of yours "
            "(`mentor update --dry-run` shows what would change).",
            highlight=False,
        )


def list_steps(as_json: JsonFlag = False) -> None:
    """List every step and its state: locked, available, passed or mastered.

    Example: mentor list --json
    """
    s = _session()
    records = s.records()
    from mentor.gating import step_states

    states = step_states(s.course, records)
    if as_json:
        _print_json(
            {
                "steps": [
                    {**_step_json(s, step, states[step.id]), "attempts": records.of(step.id).attempts}
                    for step in s.course.steps
                ]
            }
        )
        return
    rows = tuple((st.id, st.title, states[st.id], records.of(st.id).attempts) for st in s.course.steps)
    _show_cached(s, ("list", s.course.title, rows), lambda ui: ui.render_list(s.course, states, records))


def check(
    step_id: StepArg = None,
    as_json: JsonFlag = False,
    answers: Annotated[
        Optional[List[str]],
        typer.Option("--answer", "-a", metavar="CHECK=VALUE", help="Answer a reasoning check without prompts (repeatable)."),
    ] = None,
    target: Annotated[
        Optional[str],
        typer.Option(
            "--target", "-t", metavar="PROFILE",
            help="Grade under another machine's profile (e.g. cpu-8gb): its memory cap, threads and budgets.",
        ),
    ] = None,  # fmt: skip
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show what your code printed in every test, not only the failing ones.")] = False,
    tracebacks: Annotated[bool, typer.Option("--tb", help="Show the full traceback of your code's frames for each exception.")] = False,
) -> None:
    """Run the hidden grader on your exercise file; after a pass, answer the reasoning checks.

    In a terminal the reasoning checks are asked interactively; in scripts pass them with
    --answer CHECK=VALUE. Exit code 0 only when the grader passed. Budgets (speed, memory) are
    graded for this machine's profile, or for --target / the workspace's `target` setting.
    What your code prints is shown under each failing test (all of it with -v; in --json as each
    test's `output` and `warnings`).

    Examples: mentor check    mentor check -v --tb    mentor check p1.neuron.forward --answer flops=VALUE
    """
    from mentor.grading.runner import GraderWorker

    worker = GraderWorker(_prestarted.pop() if _prestarted else None)  # pytest loads while we find what to grade
    try:
        s = _session()
        step = s.step(step_id)
        _refuse_locked(s, step, s.states())
        req = _grade_request(s, step, target)
    except BaseException:
        worker.cancel()
        raise

    result = _grade_and_record(s, step, req, worker, show_status=not as_json)
    if as_json:
        pending = _pending_checks(s, step) if result.passed else [c.id for c in step.checks]
        answered = _answer_from_options(s, step, answers or [], quiet=True) if result.passed and answers else []
        state = s.states()[step.id]
        _print_json(
            {
                **_step_json(s, step, state),
                "passed": result.passed,
                **{k: v for k, v in result.to_dict().items() if k in ("status", "message", "duration_s", "where", "line", "column")},
                "tests": [
                    {k: getattr(t, k) for k in ("name", "doc", "outcome", "kind", "message", "diff", "where", "line", "output", "warnings", "traceback")}
                    for t in result.tests
                ],
                "profile": req.profile,
                "measurements": result.measurements,
                "answers": answered,
                "checks_pending": [c for c in pending if c not in {a["check"] for a in answered if a["correct"]}],
                # The open checks with this learner's numbers, so that a script can answer them next.
                "questions": [_question_json(s, step, c) for c in step.checks if c.id in _pending_checks(s, step)]
                if result.passed else [],
            }
        )
        raise SystemExit(0 if result.passed else 1)
    from mentor import ui

    ui.render_result(step, result, s.ws.display(req.submission), verbose=verbose, tracebacks=tracebacks)
    if not result.passed:
        ui.console.print("Fix it and run [bold]mentor check[/] again; [bold]mentor hint[/] gives a nudge.")
        raise SystemExit(1)
    _ask_checks(s, step, answers or [])


def _grade_and_record(s: Session, step, req, worker, show_status: bool):
    """One grader run of `step` on `worker`, recorded as an attempt; Ctrl-C records the stop, exits 130."""
    from mentor.grading.runner import GradingInterrupted, grade

    def warm_up():  # overlaps with the grader: what we need to record and render afterwards
        from mentor import progress, ui  # noqa: F401

        progress._sqlite_utils()

    try:
        with _grading_status(step, req, enabled=show_status) as on_progress:
            result = grade(req, while_running=warm_up, worker=worker, on_progress=on_progress)
    except GradingInterrupted as stop:
        s.store.record_attempt(step.id, stop.result, profile=req.profile, version=__version__)
        _fail(stop.result.message, code=130)
    s.store.record_attempt(step.id, result, profile=req.profile, version=__version__)
    return result


WATCH_KEYS = "[h] hint  [a] answer the checks  [n] next step  [c] check now  [q] quit"


def watch(
    step_id: StepArg = None,
    target: Annotated[
        Optional[str],
        typer.Option("--target", "-t", metavar="PROFILE", help="Grade under another machine's profile (e.g. cpu-8gb)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show what your code printed in every test.")] = False,
) -> None:
    """Grade your step again each time you save its file, on a warm grader.

    The grader's libraries (pytest, NumPy, torch) load once; every check runs in a fresh process
    forked from it, with the limits of `mentor check`, and is recorded the same way. Keys: h the next
    hint, a answer the reasoning checks (after a pass), n on to the next step (once mastered), c check
    again now, q (or Ctrl-C) quit.

    Examples: mentor watch    mentor watch p2.attention.mha --target cpu-8gb
    """
    import threading

    from mentor import ui
    from mentor.gating import MASTERED, current_step
    from mentor.grading.runner import WarmGrader
    from mentor.watch import Keys, saves

    s = _session()
    step = s.step(step_id)
    _refuse_locked(s, step, s.states())
    warm = WarmGrader()  # its imports overlap with the first check, which runs cold if it must
    stop = threading.Event()
    due = True
    try:
        with Keys() as keys:
            while True:
                req = _grade_request(s, step, target)
                if due:
                    graded = _contents(req.submission)
                    result = _grade_and_record(s, step, req, warm.worker(), show_status=True)
                    ui.render_result(step, result, s.ws.display(req.submission), verbose=verbose)
                    ui.console.print(f"Watching {s.ws.display(req.submission)} · {WATCH_KEYS}", style="dim", markup=False, highlight=False)
                    due = False
                key = None
                for tick, saved in enumerate(saves(req.submission, stop)):
                    # A save between the last check and the watch starting shows as a change of contents.
                    changed = saved or (tick == 0 and _contents(req.submission) != graded)
                    key = "c" if changed else keys.poll()
                    if key:
                        break
                key = (key or "").lower()
                if key == "q":
                    return
                if key == "c":
                    due = True
                elif key == "h":
                    _no_exit(lambda: hint(step_id=step.id, as_json=False))
                elif key == "a":
                    if not s.records().of(step.id).passed:
                        ui.console.print(f"Pass the grader first: save {s.ws.display(req.submission)} to check again.")
                        continue
                    with keys.lines():
                        _no_exit(lambda: _ask_checks(s, step, []))
                elif key == "n":
                    if s.states()[step.id] != MASTERED:
                        ui.console.print(f"{step.id} is not mastered yet: pass its grader and answer its checks first.")
                        continue
                    following = current_step(s.course, s.states())
                    if following is None:
                        ui.console.print("[bold green]Every step is mastered.[/]")
                        return
                    step, due = following, True
                    ui.console.print(f"On to [bold]{step.id}[/] · {ui.escape(step.title)}: `mentor show` has its concept.", highlight=False)
    except KeyboardInterrupt:
        ui.console.print("Stopped watching.")
    finally:
        stop.set()
        warm.close()


def _contents(path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _no_exit(action) -> None:
    """Run a command's body inside the watch loop: its exit (an open question, a refusal) ends it, not the loop."""
    try:
        action()
    except SystemExit:
        pass


@contextmanager
def _grading_status(step, req, enabled: bool):
    """On a terminal, a spinner while the grader runs: tests done of all, the one running, time against
    the limit. Yields the grader's progress callback (None elsewhere: nothing to show, nothing polled)."""
    from mentor import ui

    if not enabled or not ui.console.is_terminal:
        yield None
        return
    import time

    from rich.text import Text

    start = time.monotonic()

    def line(report=None) -> Text:
        total = len(report.collected) if report and report.collected else 0
        done = len(report.results) if report else 0
        running = report.doc_of(report.started[-1]) if report and report.started and done < total else ""
        counter = f"{done}/{total} tests" if total else "starting the grader"
        return Text.assemble(
            (f"Grading {step.id}", "bold"), f"  {counter}", (f"  · {running}" if running else "", "cyan"),
            (f"  {time.monotonic() - start:.0f}s of {req.timeout_s:g}s", "dim"),
        )  # fmt: skip

    with ui.console.status(line(), spinner="dots") as status:
        yield lambda report: status.update(line(report))


def _grade_request(s: Session, step, target: Optional[str]):
    """What to grade for `step`, under the hardware profile it is graded for."""
    from mentor.grading.runner import GradeRequest

    exercise = s.exercise(step)
    if not exercise.is_file():
        _fail(f"{s.ws.display(exercise)} is missing: restore the stub with `mentor reset {step.id}`", code=2)
    grading_for = _target(s, target)
    return GradeRequest(
        grader=step.grader,
        submission=exercise,
        reference=s.course.content_root / step.solution,
        cwd=s.ws.root,
        timeout_s=s.course.timeout_for(step),
        memory_mb=s.course.memory_for(step, grading_for.profile),
        profile=grading_for.profile,
        budget=s.course.budget_for(step, grading_for.profile),
        threads=grading_for.threads,
        hide_cuda=grading_for.hide_cuda,
        cuda_memory_fraction=grading_for.cuda_memory_fraction,
    )


def _target(s: Session, requested: Optional[str]):
    """The hardware profile to grade for; an unknown profile is a usage error."""
    from mentor.hardware import resolve_target

    try:
        return resolve_target(s.course.profiles, requested, s.ws.setting("target"))
    except KeyError as e:
        _fail(f"unknown profile {e.args[0]!r}: the course has {', '.join(s.course.profiles)}", code=2)


def _refuse_locked(s: Session, step, states) -> None:
    from mentor.gating import LOCKED, blocking

    if states[step.id] == LOCKED:
        needed = ", ".join(blocking(s.course, step, states))
        _fail(f"{step.id} is locked: master {needed} first (`mentor next` shows where you are)")


def _pending_checks(s: Session, step) -> list[str]:
    done = s.records().of(step.id).correct_checks
    return [c.id for c in step.checks if c.id not in done]


# -- reasoning checks: drawn, asked, graded, recorded -------------------------------------------
def _draw_for(s: Session, step, check):
    """This try of `check`: numbers and option order drawn for this learner and the answers recorded so far."""
    from mentor.draws import draw, learner_id

    return draw(check, learner_id(s.ws.state_dir), step.id, len(s.store.answers_to(step.id, check.id)))


def _tries_left(s: Session, step, check) -> Optional[int]:
    """Wrong answers still allowed since the last passing grader run (None: no limit)."""
    if check.max_tries is None:
        return None
    since = s.store.last_pass_at(step.id) or 0.0
    wrong = sum(1 for row in s.store.answers_to(step.id, check.id) if not row["correct"] and row["at"] >= since)
    return max(0, check.max_tries - wrong)


def _no_tries_message(step, check) -> str:
    return (f"No tries left on {check.id} for this pass ({check.max_tries} wrong answers): run `mentor check {step.id}` "
            "again for more; the options come shuffled anew.")  # fmt: skip


def _question_json(s: Session, step, check) -> dict:
    """An open check as a script needs it to answer: the question with this learner's numbers, the options as shown."""
    from mentor.checks import answer_form
    from mentor.draws import present

    d = _draw_for(s, step, check)
    shown = present(check, d)
    return {
        "id": check.id, "kind": check.answer.kind, "ask": shown.ask, "params": d.params, "choices": shown.choices,
        "form": answer_form(check), "try": d.try_number, "tries_left": _tries_left(s, step, check),
    }  # fmt: skip


def _judge(s: Session, check, text: str, d=None):
    """Grade one answer: (Graded, detail line, what to record beside it). Free text goes to the tutor model
    when one is configured; the offline rubric's verdict is kept too, and its forbidden phrasings count either way."""
    from mentor.checks import grade

    graded = grade(check, text, d)  # raises AnswerError for an unreadable answer
    if graded.verdict is None:
        return graded, "", {}
    from mentor.tutor import judge_answer, load_config

    offline = graded.verdict
    verdict = judge_answer(load_config(s.ws.root), check, text)
    context = {"offline": offline.to_record()}
    if verdict.judged_by != offline.judged_by:
        context["model"] = verdict.to_record()
        verdict.forbidden = offline.forbidden
    graded.correct = verdict.correct
    return graded, " ".join(x for x in (verdict.describe(), verdict.note) if x), context


def _grade_answer(s: Session, check, text: str, d=None) -> tuple[bool, str]:
    """Right or wrong, and for a free-text answer what the rubric judge said (the tutor model when configured)."""
    graded, detail, _ = _judge(s, check, text, d)
    return graded.correct, detail


def _answer_once(s: Session, step, check, text: str) -> tuple[dict, object, str]:
    """Grade and record one answer to the current try; (report entry, check as shown, detail). AnswerError propagates."""
    from mentor.draws import present, record_of

    d = _draw_for(s, step, check)
    graded, detail, extra = _judge(s, check, text, d)
    context = {**record_of(check, d), **extra}
    if graded.recorded != text:
        context["typed"] = text  # a choice: the letter shown; the option itself is the answer recorded
    s.store.record_answer(step.id, check.id, graded.recorded, graded.correct, context)
    entry = {"check": check.id, "answer": text, "correct": graded.correct, "detail": detail, "note": graded.note}
    return entry, present(check, d), detail


def _answer_from_options(s: Session, step, answers: list[str], quiet: bool = False) -> list[dict]:
    """Grade `CHECK=VALUE` answers, record each, and report them (usage errors exit 2)."""
    from mentor.checks import AnswerError

    by_id = {c.id: c for c in step.checks}
    out = []
    for item in answers:
        check_id, sep, value = item.partition("=")
        if not sep or check_id not in by_id:
            _fail(f"--answer takes CHECK=VALUE with CHECK one of {', '.join(by_id)}; got {item!r}", code=2)
        check = by_id[check_id]
        if _tries_left(s, step, check) == 0:
            out.append({"check": check_id, "answer": value, "correct": False, "detail": "", "note": _no_tries_message(step, check), "refused": True})
            if not quiet:
                _show_note(_no_tries_message(step, check))
            continue
        try:
            entry, shown, detail = _answer_once(s, step, check, value)
        except AnswerError as e:
            _fail(f"--answer {check_id}: {e}", code=2)
        out.append(entry)
        if not quiet:
            _show_verdict(shown, entry["correct"], detail, entry["note"])
            if not entry["correct"] and (check.params or check.options):
                _show_note(f"The next try of {check_id} has new numbers or a new order: `mentor answer {step.id}` shows it.")
    return out


def _show_note(text: str) -> None:
    from rich.text import Text

    from mentor import ui

    ui.console.print(Text(f"  {text}", style="yellow"))


def _show_verdict(check, correct: bool, detail: str = "", note: str = "") -> None:
    from rich.text import Text

    from mentor import ui

    if correct:
        ui.labelled(f"✔ {check.id}: right.", "green", check.explain)
    else:
        ui.labelled(f"✘ {check.id}: not quite.", "red", check.hint)
    if note:  # why the picked option or the typed value is wrong, or that it was close
        ui.console.print(Text(f"  {note}", style="yellow"))
    if detail:  # may quote the learner's answer: plain text, never markup
        ui.console.print(Text(f"  {detail}", style="dim"))


def _ask_checks(s: Session, step, answers: list[str]) -> None:
    """The reasoning checks still open: from --answer, else interactively, else show them and say how."""
    from mentor import ui
    from mentor.draws import present
    from mentor.gating import MASTERED

    before = s.states()
    if answers:
        _answer_from_options(s, step, answers)
    pending = [c for c in step.checks if c.id in _pending_checks(s, step)]
    if pending and _interactive() and not answers:
        _ask_interactively(s, step, pending)
        pending = [c for c in step.checks if c.id in _pending_checks(s, step)]
    if pending:
        if not _interactive():  # a script or a pipe: the questions with this learner's numbers, to answer with --answer
            for i, c in enumerate(pending, 1):
                ui.render_check_question(present(c, _draw_for(s, step, c)), i, len(pending))
        ids = " ".join(f"--answer {c.id}=..." for c in pending)
        ui.console.print(
            f"Reasoning checks still open: {', '.join(c.id for c in pending)}. "
            f"Answer with [bold]mentor answer {step.id}[/] (or {ids}).",
            highlight=False,
        )
        raise SystemExit(0)
    after = s.states()
    if after[step.id] == MASTERED and before[step.id] != MASTERED:
        ui.console.print(f"[bold green]Mastered {step.id}.[/]")
        unlocked = [x for x in s.course.steps if before[x.id] == "locked" and after[x.id] != "locked"]
        for x in unlocked:
            ui.console.print(f"Unlocked: [bold]{x.id}[/] · {ui.escape(x.title)}  → [bold]mentor next[/]", highlight=False)


def _ask_interactively(s: Session, step, pending) -> None:
    """Each open check in turn until it is right, the learner stops, or its tries for this pass run out.
    After a wrong answer a parametrised check is asked again with new numbers, a choice with a new order."""
    from rich.prompt import Prompt

    from mentor import ui
    from mentor.checks import AnswerError, answer_form
    from mentor.draws import present

    for i, c in enumerate(pending, 1):
        shown_try = None
        while True:
            if _tries_left(s, step, c) == 0:
                _show_note(_no_tries_message(step, c))
                break
            d = _draw_for(s, step, c)
            if shown_try is None or (d.try_number != shown_try and (c.params or c.options)):
                if shown_try is not None:
                    ui.console.print("[dim]New numbers (or a new order) for this try:[/]")
                ui.render_check_question(present(c, d), i, len(pending))
                shown_try = d.try_number
            text = Prompt.ask(f"Your answer ({answer_form(c)}; empty to stop)", default="", show_default=False)
            if not text.strip():
                return
            try:
                entry, shown, detail = _answer_once(s, step, c, text)
            except AnswerError as e:
                ui.console.print(f"[yellow]{ui.escape(str(e))}[/]")
                continue
            _show_verdict(shown, entry["correct"], detail, entry["note"])
            if entry["correct"]:
                break


def _replay(s: Session, step, check_id: str, as_json: bool) -> None:
    """Every recorded answer to one check, regraded from what was recorded with it: the numbers drawn then,
    the option chosen, the verdict then and now (under the course as installed)."""
    from rich.text import Text

    from mentor import ui
    from mentor.checks import AnswerError, expected_answer, grade
    from mentor.draws import Draw, present

    check = {c.id: c for c in step.checks}.get(check_id)  # (`next` is a command here)
    if check is None:
        _fail(f"--replay takes a check of {step.id}: {', '.join(c.id for c in step.checks)}; got {check_id!r}", code=2)
    out = []
    for row in s.store.answers_to(step.id, check.id):
        context = row["context"] or {}
        d = Draw.from_record(step.id, check.id, context)
        entry = {"at": row["at"], "try": d.try_number, "params": d.params, "answer": row["answer"], "typed": context.get("typed"),
                 "correct_then": bool(row["correct"]), "expected_then": context.get("expected")}  # fmt: skip
        if check.params and not d.params:
            entry.update(correct_now=None, why="recorded before this check drew its numbers")
        else:
            try:
                shown = present(check, d)
                entry.update(asked=shown.ask, correct_now=grade(check, row["answer"], d).correct)
                if check.options:
                    entry["shown"] = shown.choices  # the options in the order this try showed them
                if check.answer.rubric is None:
                    expected = expected_answer(check, d)
                    entry["expected_now"] = check.options[expected].text if check.options else expected
            except AnswerError as e:
                entry.update(correct_now=None, why=str(e))
        out.append(entry)
    if as_json:
        _print_json({"step": step.id, "check": check.id, "answers": out})
        return
    if not out:
        ui.console.print(Text(f"No answers to {check.id} recorded yet."))
    for e in out:
        numbers = ", ".join(f"{k}={v}" for k, v in e["params"].items())
        now = {True: "right", False: "wrong", None: "cannot be regraded"}[e["correct_now"]]
        ui.console.print(Text(f"try {e['try']}" + (f" ({numbers})" if numbers else "") + f": {e['answer']!r} was "
                              f"{'right' if e['correct_then'] else 'wrong'}; regraded now: {now}"
                              + (f" (expected {_shown_value(e['expected_now'])})" if "expected_now" in e else "") + (f"; {e['why']}" if e.get("why") else "")))  # fmt: skip


def _shown_value(value) -> str:
    from mentor.checks import format_number

    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, list):
        return "(" + ", ".join(_shown_value(v) for v in value) + ")"
    return repr(value)


def answer(
    step_id: StepArg = None,
    answers: Annotated[
        Optional[List[str]],
        typer.Option("--answer", "-a", metavar="CHECK=VALUE", help="Answer without prompts (repeatable)."),
    ] = None,
    as_json: JsonFlag = False,
    replay: Annotated[
        Optional[str],
        typer.Option("--replay", metavar="CHECK", help="Show every recorded answer to a check with the numbers it was asked with, regraded."),
    ] = None,
) -> None:
    """Answer the reasoning checks of a step whose grader has passed.

    Interactive in a terminal; in scripts use --answer CHECK=VALUE (arithmetic is accepted for
    numbers, (64, 128) for shapes and lists, a letter or the option's text for choices). The numbers
    of a check are drawn for you and change after a wrong answer: --json lists the open questions as
    you would see them.

    Examples: mentor answer --json    mentor answer p1.neuron.forward --answer flops=VALUE    mentor answer --replay flops
    """
    s = _session()
    step = s.step(step_id)
    if replay:
        _replay(s, step, replay, as_json)
        return
    if not s.records().of(step.id).passed:
        _fail(f"{step.id}: pass the grader first (`mentor check {step.id}`), then answer its reasoning checks")
    if as_json:
        answered = _answer_from_options(s, step, answers or [], quiet=True)
        pending = [c for c in step.checks if c.id in _pending_checks(s, step)]
        _print_json({
            "step": step.id, "state": s.states()[step.id], "answers": answered,
            "checks_pending": [c.id for c in pending], "questions": [_question_json(s, step, c) for c in pending],
        })  # fmt: skip
        return
    _ask_checks(s, step, answers or [])


def hint(step_id: StepArg = None, as_json: JsonFlag = False) -> None:
    """Show the next hint tier for a step (cheapest first); every hint is recorded.

    Examples: mentor hint    mentor hint p1.neuron.forward --json
    """
    s = _session()
    step = s.step(step_id)
    _refuse_locked(s, step, s.states())
    seen = s.records().of(step.id).hints_seen
    tier = min(seen + 1, len(step.hints))
    if tier > seen:
        s.store.record_hint(step.id, tier)
    if as_json:
        _print_json({"step": step.id, "tier": tier, "tiers": len(step.hints), "new": tier > seen, "hints": step.hints[:tier]})
        return
    _show_hints(step, tier, seen)


def _show_hints(step, tier: int, seen: int, last_note: bool = True) -> None:
    """Hints 1..tier, the newest in bold; `seen` is how many had been seen before."""
    from mentor import ui

    for i in range(tier):
        style = "bold" if i == tier - 1 else "dim"
        ui.labelled(f"Hint {i + 1}/{len(step.hints)}:", style, step.hints[i])
    if last_note and tier == len(step.hints) and seen == tier:
        ui.console.print("[dim]That was the last hint; `mentor ask` looks at your last check.[/]")


def ask(
    step_id: Annotated[
        Optional[str],
        typer.Argument(metavar="[STEP] [QUESTION]", help="A step id (default: your current step), or your question.", show_default=False),
    ] = None,
    words: Annotated[Optional[List[str]], typer.Argument(hidden=True, show_default=False)] = None,
    question: Annotated[Optional[str], typer.Option("--question", "-q", help="What you are stuck on (asked for in a terminal when left out).")] = None,
    spend_hint: Annotated[bool, typer.Option("--hint", help="Offline, also take the next hint tier (recorded as a hint).")] = False,
    check_connection: Annotated[bool, typer.Option("--check-connection", help="Only say whether the tutor endpoint answers, and with which model.")] = False,
    no_log: Annotated[bool, typer.Option("--no-log", help="Keep this question and its answer out of progress.db.")] = False,
    contest: Annotated[Optional[str], typer.Option("--contest", metavar="CHECK", help="Have your last answer to a free-text check judged again.")] = None,
) -> None:
    """Ask the tutor about a step: Socratic help grounded in your last check, never the solution.

    Any OpenAI-compatible endpoint: OPENAI_BASE_URL, OPENAI_API_KEY and MENTOR_MODEL, or a [tutor]
    table in mentor.toml (the environment wins). Without one, or when it fails, the answer comes from
    your last check and the next hint. Ctrl-C stops an answer and keeps what arrived.

    Offline, the answer comes from your last check and the hints you have seen; --hint takes the next one.

    Examples: mentor ask "why is my softmax nan?"    mentor ask p2.attention.sdpa "which axis?"    mentor ask --check-connection
    """
    import re

    from rich.text import Text

    from mentor import tutor, ui
    from mentor.gating import MASTERED

    s = _session()
    step_id, question = _step_and_question(s, step_id, words or [], question)
    try:
        config = tutor.load_config(s.ws.root)
    except tutor.TutorConfigError as e:
        _fail(str(e), code=2)
    if check_connection:
        report = tutor.check_connection(config)
        if not report.ok:
            _fail(report.line, code=1)
        ui.console.print(report.line, highlight=False)
        return
    step = s.step(step_id)
    states = s.states()
    _refuse_locked(s, step, states)
    log = config.log and not no_log
    if contest:
        try:
            verdict = tutor.contest(config, s.store, step, contest, log=log)
        except LookupError as e:
            _fail(str(e), code=2)
        lines = [verdict.describe(), verdict.note] + [f"idea {i}: “{q}”" for i, q in verdict.evidence.items()]
        for line in filter(None, lines):
            ui.console.print(Text(line, style="green" if verdict.correct else ""))
        raise SystemExit(0 if verdict.correct else 1)
    if question is None and _interactive():
        from rich.prompt import Prompt

        question = Prompt.ask("Your question")
    question = (question or "").strip() or tutor.DEFAULT_QUESTION
    grounding = tutor.gather(s.course, s.ws, s.store, step, mastered=states[step.id] == MASTERED)
    shown = []

    def show(block: str) -> None:
        # A blank line between blocks, as in the Markdown they came from; rich already spaces lists and code.
        spaced = re.compile(r"\s*(([-*+]|\d+[.)])\s|```|~~~)")
        if shown and not spaced.match(block) and not shown[-1].lstrip().startswith(("```", "~~~")):
            ui.console.print()
        shown.append(block)
        ui.console.print(ui.markdown(block))

    reply = tutor.ask_tutor(config, grounding, question, show)
    if log:
        s.store.record_tutor(step.id, question, **reply.log_fields())
    if reply.offline_reason:
        ui.console.print(Text(f"Tutor offline: {reply.offline_reason}. Answering from your last check and the hints.", style="dim"))
        for line, style in tutor.offline_feedback(grounding):
            ui.console.print(Text(line, style=style))
        seen = s.records().of(step.id).hints_seen
        if spend_hint and seen < len(step.hints):
            s.store.record_hint(step.id, seen + 1)
            _show_hints(step, seen + 1, seen)
        elif seen:
            _show_hints(step, seen, seen, last_note=False)
        if not spend_hint and seen < len(step.hints):
            ui.console.print(Text(f"`mentor ask --hint` or `mentor hint` shows hint {seen + 1}/{len(step.hints)} (recorded).", style="dim"))
        return
    for note in reply.notes:
        ui.console.print()
        ui.console.print(Text(note, style="bold yellow"))
    if reply.interrupted:
        ui.console.print(Text("Stopped: what arrived is kept" + (" in progress.db." if log else "."), style="dim"))
        raise SystemExit(130)
    ui.console.print(Text(f"{reply.model} · {reply.duration_s:.1f}s" + ("" if log else " · not logged"), style="dim"))


def _step_and_question(s: Session, first: Optional[str], rest: list[str], question: Optional[str]):
    """`mentor ask [STEP] [QUESTION...]`: a first word that is no step id starts the question.
    A near miss of a step id with nothing after it is taken for a typo (exit 2, with the ids it resembles)."""
    ids = {st.id for st in s.course.steps}
    if first is None or first in ids:
        words = rest
    elif not rest and " " not in first and similar_steps(s.course, first):
        s.step(first)  # exits 2: unknown step, did you mean ...
    else:
        first, words = None, [first, *rest]
    if words:
        if question is not None:
            _fail("give the question once: as words after the step, or with --question", code=2)
        question = " ".join(words)
    return first, question


def progress(as_json: JsonFlag = False) -> None:
    """Report progress per phase: steps mastered, attempts, hints used and time spent.

    Example: mentor progress --json
    """
    from mentor.gating import current_step, phase_summaries, step_states

    s = _session()
    records = s.records()
    states = step_states(s.course, records)
    phases = phase_summaries(s.course, records, states)
    current = current_step(s.course, states)
    if as_json:
        _print_json(
            {
                "current": current.id if current else None,
                "phases": [vars(p) for p in phases],
                "steps": [
                    {
                        **_step_json(s, step, states[step.id]),
                        "attempts": records.of(step.id).attempts,
                        "hints_seen": records.of(step.id).hints_seen,
                        "questions": records.of(step.id).questions,
                        "checks_correct": sorted(records.of(step.id).correct_checks),
                    }
                    for step in s.course.steps
                ],
                "measurements": s.store.measurements(),
                "store": s.store.export(),
            }
        )
        return
    measurements = s.store.measurements()

    def render(ui):
        ui.render_progress(s.course, phases, current)
        ui.render_budget_history(measurements)

    figures = tuple((m["step_id"], m["budget"], m["profile"], m["measured"], m["ok"]) for m in measurements)
    parts = ("progress", tuple(tuple(vars(p).values()) for p in phases), current.id if current else None, figures)
    _show_cached(s, parts, render)


# How editors take a line to open at: `+LINE FILE` for the terminal editors, FILE:LINE for these.
_COLON_LINE = {"code", "codium", "subl", "hx", "zed"}
_DASH_G = {"code", "codium"}  # FILE:LINE only after -g


def edit(step_id: StepArg = None) -> None:
    """Open your file for a step in $VISUAL or $EDITOR, at the line your last check pointed to
    (else at the first function still to write).

    Examples: EDITOR=vim mentor edit    mentor edit p2.attention.mha
    """
    import shlex
    import subprocess

    s = _session()
    step = s.step(step_id)
    path = s.exercise(step)
    if not path.is_file():
        _fail(f"{s.ws.display(path)} is missing: restore the stub with `mentor reset {step.id}`", code=2)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    line = _line_to_open(s, step, path)
    if not editor:
        _fail(f"set $EDITOR (or $VISUAL) to your editor, or open {s.ws.display(path)}:{line} yourself", code=2)
    command = shlex.split(editor)
    name = Path(command[0]).name
    if name in _COLON_LINE:
        command += [*(["-g"] if name in _DASH_G else []), f"{path}:{line}"]
    else:  # vi, vim, nvim, nano, emacs, micro, kak, joe and most others take +LINE
        command += [f"+{line}", str(path)]
    try:
        raise SystemExit(subprocess.call(command))
    except FileNotFoundError:
        _fail(f"cannot run the editor {command[0]!r} ($VISUAL / $EDITOR)", code=2)


def _line_to_open(s: Session, step, path: Path) -> int:
    """The learner's line the last check of `step` stopped at, else the first `raise NotImplementedError`, else 1."""
    last = s.store.last_attempt(step.id)
    for test in (last or {}).get("tests", []):
        file, _, number = (test.get("where_") or "").rpartition(":")
        if test.get("outcome") != "passed" and number.isdigit() and file and Path(file).name == path.name:
            return int(number)
    for number, text in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if "raise NotImplementedError" in text:
            return number
    return 1


def report(
    html_file: Annotated[Optional[Path], typer.Option("--html", metavar="FILE", help="Write a self-contained HTML page with plots.")] = None,
    markdown_file: Annotated[Optional[Path], typer.Option("--markdown", metavar="FILE", help="Write the report as Markdown.")] = None,
    logs: Annotated[
        Optional[List[Path]],
        typer.Option("--log", metavar="FILE", help="A JSON-lines training log to plot (repeatable; capstone/*/log.jsonl and runs/**/*.jsonl are found by themselves)."),
    ] = None,
) -> None:
    """Your progress as a page to keep: per phase and per step, with plots of steps mastered over time,
    grader runs and hints per step, budget figures against their limits, and your training loss curves.

    The HTML page needs nothing else (no network, no scripts): open it in any browser, or send it.
    Without --html or --markdown, the Markdown goes to standard output.

    Examples: mentor report --html progress.html    mentor report --log runs/tiny/log.jsonl --html r.html
    """
    from mentor.report import find_logs, gather, to_html, to_markdown

    s = _session()
    missing = [str(p) for p in logs or [] if not p.is_file()]
    if missing:
        _fail(f"no such log file: {', '.join(missing)}", code=2)
    found = sorted({*find_logs(s.ws.root), *(p.resolve() for p in logs or [])})
    gathered = gather(s.course, s.store, found, s.ws.root)
    if not html_file and not markdown_file:
        sys.stdout.write(to_markdown(gathered))
        return
    from mentor import ui

    for path, text in ((html_file, to_html), (markdown_file, to_markdown)):
        if path:
            try:
                path.write_text(text(gathered), encoding="utf-8")
            except OSError as e:
                _fail(f"cannot write {path}: {e.strerror}", code=2)
            ui.console.print(f"Wrote {path}", highlight=False)


def reset(
    step_id: Annotated[
        Optional[str],
        typer.Argument(help="The step to reset (default: your current one); with --undo, a backup number or step.", show_default=False),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    whole_file: Annotated[bool, typer.Option("--whole-file", help="Restore the whole stub, other steps' code in it included.")] = False,
    list_backups: Annotated[bool, typer.Option("--list", help="List the backups of your files, newest first.")] = False,
    undo: Annotated[bool, typer.Option("--undo", help="Put a backup back: the newest, or the number or step given.")] = False,
) -> None:
    """Restore a step's stub: only the functions and classes the step asks for, the rest of the file kept.

    Your whole file is kept in .mentor/backups/ first: `mentor reset --list` shows the backups and
    `mentor reset --undo` puts the newest back (itself undoable). A file several steps share keeps
    the other steps' code; --whole-file restores every line of the stub.

    Examples: mentor reset p2.attention.causal    mentor reset --list    mentor reset --undo 2
    """
    from rich.text import Text

    from mentor import ui
    from mentor.workspace import apply_reset, list_backups as backups_of, plan_reset

    s = _session()
    if list_backups or undo:
        _reset_from_backups(s, backups_of(s.ws), step_id, undo, yes)
        return
    step = s.step(step_id)
    _refuse_locked(s, step, s.states())
    plan = plan_reset(s.course, s.ws, step, whole_file)
    shown = s.ws.display(s.exercise(step))
    if plan.problem:
        _fail(f"{plan.problem}. `mentor reset {step.id} --whole-file` restores the whole stub (your file is kept in .mentor/backups/).")
    if plan.whole_file:
        ui.console.print(Text(f"Restores the whole stub of {shown}."))
        if plan.keep:
            ui.console.print(Text(f"This also resets the code of other steps in it: {', '.join(plan.keep)}.", style="yellow"))
    else:
        ui.console.print(Text(f"Restores in {shown}: {', '.join(plan.replace)} (the stub of {step.id})."))
        ui.console.print(Text(f"Keeps as they are: {', '.join(plan.keep)} and every other line.", style="dim"))
    from rich.prompt import Confirm

    if not yes and _interactive() and not Confirm.ask("Go ahead?"):
        raise SystemExit(1)
    backup = apply_reset(s.ws, plan)
    ui.console.print(Text(f"Restored. Your previous file is in {s.ws.display(backup.copy)}" if backup else "Restored."))
    if backup:
        ui.console.print(Text("`mentor reset --undo` puts it back.", style="dim"))


def _reset_from_backups(s: Session, backups: list, which: Optional[str], undo: bool, yes: bool) -> None:
    import time

    from rich.text import Text

    from mentor import ui
    from mentor.workspace import restore_backup

    def when(b) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(b.at))

    if not undo:
        if not backups:
            ui.console.print("No backups yet: `mentor reset` and `mentor update` keep one before they replace a file.")
        for i, b in enumerate(backups, 1):
            ui.console.print(Text(f"{i:>3}  {when(b)}  {b.file}  {b.reason}"))
        return
    if not backups:
        _fail("there is no backup to put back (`mentor reset --list`)")
    if which is None:
        chosen = backups[0]
    elif which.isdigit() and 1 <= int(which) <= len(backups):
        chosen = backups[int(which) - 1]
    else:
        step = s.step(which)  # an unknown id exits 2
        chosen = next((b for b in backups if b.file == step.exercise), None)
        if chosen is None:
            _fail(f"no backup of {step.exercise} (`mentor reset --list` shows the backups)")
    ui.console.print(Text(f"Puts back {chosen.file} as it was at {when(chosen)} ({chosen.reason})."))
    from rich.prompt import Confirm

    if not yes and _interactive() and not Confirm.ask("Go ahead?"):
        raise SystemExit(1)
    kept = restore_backup(s.ws, chosen)
    ui.console.print(Text("Done." + (f" The file it replaced is kept in {s.ws.display(kept.copy)}." if kept else "")))


def solution(
    step_id: Annotated[
        Optional[str],
        typer.Argument(help="A step you have mastered (default: your current step, else the last one you mastered).", show_default=False),
    ] = None,
    diff: Annotated[bool, typer.Option("--diff", help="Show how the reference differs from your file, as a unified diff.")] = False,
) -> None:
    """Show the reference solution of a step, once you have mastered it.

    In a terminal it is highlighted with line numbers; piped or redirected it is the file as it is,
    every line whole.

    Examples: mentor solution    mentor solution p1.neuron.forward --diff    mentor solution > ref.py
    """
    from mentor import ui
    from mentor.gating import MASTERED

    s = _session()
    states = s.states()
    if step_id is None:
        step = _solution_default(s, states)
    else:
        step = s.step(step_id)
    if states[step.id] != MASTERED:
        _fail(f"the solution of {step.id} opens once you have mastered it (grader passed, checks answered)")
    path = s.course.content_root / step.solution
    text = path.read_text(encoding="utf-8")
    if diff:
        import difflib

        mine = s.exercise(step)
        theirs = mine.read_text(encoding="utf-8", errors="replace") if mine.is_file() else ""
        text = "".join(difflib.unified_diff(
            theirs.splitlines(keepends=True), text.splitlines(keepends=True),
            fromfile=f"{s.ws.display(mine)} (yours)", tofile=f"{step.solution} (reference)",
        ))  # fmt: skip
        if not text:
            ui.console.print(f"Your {s.ws.display(mine)} is the reference, line for line.", highlight=False)
            return
    if not ui.console.is_terminal:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from rich.syntax import Syntax

    ui.console.print(Syntax(text, "diff" if diff else "python", line_numbers=not diff, word_wrap=True))


def _solution_default(s: Session, states: dict):
    """The step you mastered last in course order: the current step is never mastered yet."""
    from mentor.gating import MASTERED

    mastered = [st for st in s.course.steps if states[st.id] == MASTERED]
    if not mastered:
        _fail("no step is mastered yet: a solution opens once you have mastered its step (`mentor next` shows where you are)")
    return mastered[-1]


def hardware(as_json: JsonFlag = False) -> None:
    """Show the detected machine and the course profile that applies to it.

    Example: mentor hardware
    """
    from mentor.curriculum import load_course
    from mentor.hardware import choose_profile, detect
    from mentor.paths import content_root

    course = load_course(content_root())
    machine = detect()
    name, why = choose_profile(course.profiles, machine)
    if as_json:
        _print_json({"machine": vars(machine), "profile": name, "why": why})
        return
    from rich.table import Table

    from mentor import ui

    table = Table(title="This machine", show_header=False)
    for key, value in vars(machine).items():
        table.add_row(key.replace("_", " "), str(value))
    ui.console.print(table)
    ui.console.print(f"Profile: [bold]{name}[/] — {why}", highlight=False)


def corpus(
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="Your own UTF-8 text file instead of the default.")] = None,
    write: Annotated[Optional[Path], typer.Option("--write", "-w", help="Save the text to this file (e.g. data/corpus.txt).")] = None,
    max_bytes: Annotated[Optional[int], typer.Option("--max-bytes", help="Cut the text at this many bytes.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the course's training text: gathered offline from this Python installation, or your own file.

    The tokenizer steps and later training read it; nothing is downloaded.

    Examples: mentor corpus    mentor corpus --write data/corpus.txt    mentor corpus --file my_book.txt
    """
    from mentor.corpus import CorpusError, load_corpus

    try:
        text = load_corpus(file, max_bytes=max_bytes)
    except CorpusError as e:
        _fail(str(e), code=2)
    info = {
        "source": str(file) if file else "default (this Python installation's documentation and docstrings)",
        "bytes": len(text.encode("utf-8")),
        "characters": len(text),
        "lines": text.count("\n") + 1,
        "distinct_characters": len(set(text)),
    }
    if write:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(text, encoding="utf-8")
        info["written_to"] = str(write)
    if as_json:
        _print_json(info)
        return
    from mentor import ui

    for key, value in info.items():
        ui.console.print(f"{key.replace('_', ' '):>20}: {value}", highlight=False)
    ui.console.print(f"{'first line':>20}: {ui.escape(text.splitlines()[0][:70]) if text else ''}", highlight=False)


def restore(
    file: Annotated[Path, typer.Argument(help="A file from `mentor export`, or from `mentor progress --json`.")],
) -> None:
    """Bring your records (and, from `mentor export`, your code) into this fresh workspace.

    A file of yours here that differs from the one arriving is kept in .mentor/backups/ first.

    Example: mentor export my-course.json   (on the GPU laptop), then in a new workspace on the
    CPU box: mentor import my-course.json
    """
    from rich.text import Text

    from mentor import ui
    from mentor.transfer import import_workspace, read_transfer

    s = _session()
    report = import_workspace(s.ws, s.store, read_transfer(file))
    counts = ", ".join(f"{n} {table}" for table, n in report.records.items() if n) or "no records"
    ui.console.print(Text(f"Restored {counts}."))
    if report.written:
        ui.console.print(Text(f"Wrote {len(report.written)} exercise files ({report.same} were the same already)."))
    for rel, where in report.backed_up.items():
        ui.console.print(Text(f"Your own {rel} differed: kept in {where}", style="yellow"))


def export(
    file: Annotated[Path, typer.Argument(help="Where to write the export (JSON).")],
) -> None:
    """Write your records and every file under exercises/ to one file, to carry to another machine.

    Example: mentor export ~/my-course.json    then there: mentor init ~/llm-course && cd ~/llm-course && mentor import ~/my-course.json
    """
    from rich.text import Text

    from mentor import ui
    from mentor.transfer import export_workspace

    s = _session()
    data = export_workspace(s.ws, s.store, s.course)
    try:
        file.write_text(json.dumps(data, indent=1), encoding="utf-8")
    except OSError as e:
        _fail(f"cannot write {file}: {e.strerror}", code=2)
    ui.console.print(Text(f"Wrote {file}: {sum(len(rows) for rows in data['store']['tables'].values())} records, {len(data['files'])} files."))
    for rel in data["skipped"]:
        ui.console.print(Text(f"Not carried (not text, or over 1 MB): {rel}", style="yellow"))


def update(
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Only say what would change.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Bring this workspace up to the installed course: new steps' stubs appear, your files and records stay.

    A file you edited is never overwritten: when the course changed its stub too, the new stub is
    written beside it as NAME.new.py. Records follow steps the course renamed.

    Example: pip install -U mentor (or git pull in the course's clone), then: mentor update
    """
    from rich.text import Text

    from mentor import ui
    from mentor.update import update_workspace

    s = _session()
    report = update_workspace(s.course, s.ws, s.store, dry_run=dry_run)
    if as_json:
        _print_json({"dry_run": dry_run, **report.to_dict()})
        return
    will = "Would" if dry_run else "Did"
    if not report.changed:
        ui.console.print("This workspace is up to date with the installed course.")
    for sid in report.new_steps:
        ui.console.print(Text(f"New step: {sid} · {s.course.step(sid).title}"))
    for old, new in report.renamed.items():
        ui.console.print(Text(f"Renamed by the course: {old} → {new} (your records follow it)"))
    for rel in report.written:
        ui.console.print(Text(f"{will} write {rel} (new)"))
    for rel in report.replaced:
        ui.console.print(Text(f"{will} update {rel} (you had not edited it; backup kept)"))
    for rel, new in report.beside.items():
        ui.console.print(Text(f"{rel} is yours and stays as it is; the course's new stub {'would go' if dry_run else 'is'} beside it: {new}", style="yellow"))
    for sid in report.removed_steps:
        ui.console.print(Text(f"Records of {sid}, a step this course no longer has, are kept but not shown.", style="dim"))
    if report.beside and not report.known_start:
        ui.console.print(Text("This workspace did not record the stubs it started from, so every edited file counts as changed.", style="dim"))


def repair(as_json: JsonFlag = False) -> None:
    """Set a damaged or foreign progress.db aside and start a fresh store with every record still readable.

    A healthy store is left exactly as it is. Otherwise the old file (with its -wal/-shm companions)
    is renamed to progress.db.damaged-DATE-TIME and kept, never deleted, and a new progress.db takes
    its place holding every attempt, hint, answer and tutor question that could still be read. The
    report names the kept file and counts, per table, the records salvaged and those lost.

    Example: mentor repair
    """
    from mentor.repair import repair_store
    from mentor.workspace import find_workspace

    ws = find_workspace()  # not _session(): it opens the store, and that is what fails here
    report = repair_store(ws.db_path)
    if as_json:
        _print_json(
            {
                "store": ws.display(report.store),
                "condition": report.condition,
                "reason": report.reason,
                "kept": [ws.display(path) for path in report.kept],
                "tables": {table: vars(counts) for table, counts in report.tables.items()},
            }
        )
        return
    from mentor import ui

    ui.render_repair(report, ws.display)


def init(
    directory: Annotated[Path, typer.Argument(help="A new folder for your workspace.")],
    from_folder: Annotated[
        Optional[Path],
        typer.Option("--from", help="An old workspace (or a course checkout an earlier mentor used as one) to take your files and records from."),
    ] = None,
) -> None:
    """Create a fresh workspace (the exercise stubs as the course ships them, an empty progress store) and show its first step.

    The workspace is yours; the course it comes from is never edited. Run it again on an existing
    workspace to see where you are.

    Example: mentor init ~/llm-course && cd ~/llm-course && mentor next
    """
    from rich.text import Text

    from mentor import ui
    from mentor.curriculum import load_course
    from mentor.paths import content_root
    from mentor.progress import ProgressStore
    from mentor.workspace import MARKER, Workspace, init_workspace

    target = directory.expanduser().resolve()
    if (target / MARKER).is_file():
        ui.console.print(Text(f"{target} is already your workspace; `mentor update` there brings in a newer course."))
        s = _session(Workspace(target))
        _show_next(s)
        s.store.close()
        return
    course = load_course(content_root())
    old = _old_workspace(from_folder, course) if from_folder else None
    ws = init_workspace(directory, course)
    store = ProgressStore(ws.db_path)
    store.connect()  # an empty store at the current schema
    if old is not None:
        from mentor.transfer import import_workspace

        report = import_workspace(ws, store, old)
        moved = sum(report.records.values())
        ui.console.print(Text(f"Took {moved} records and {len(report.written)} of your files from {from_folder}."))
    store.close()  # and nothing left open on it: no -wal or -shm beside it
    ui.console.print(Text(f"Workspace ready in {ws.root}. Work there: cd {directory}", style="bold"))
    ui.console.print()
    s = _session(ws)
    _show_next(s)
    s.store.close()  # a fresh workspace holds progress.db alone, no -wal or -shm beside it


def _old_workspace(folder: Path, course) -> dict:
    """Everything `mentor export` would carry out of `folder`, a workspace with or without its marker."""
    from mentor.progress import ProgressStore
    from mentor.transfer import export_workspace
    from mentor.workspace import Workspace

    folder = folder.expanduser().resolve()
    if not (folder / "progress.db").is_file():
        _fail(f"{folder} holds no progress.db: not a workspace to take work from", code=2)
    old = ProgressStore(folder / "progress.db")
    try:
        return export_workspace(Workspace(folder), old, course)
    finally:
        old.close()


def verify(
    as_json: JsonFlag = False,
    steps: Annotated[Optional[List[str]], typer.Option("--step", help="Only these steps (repeatable).")] = None,
    checks_only: Annotated[bool, typer.Option("--checks-only", help="Only count the reasoning checks and scan for recall; grade nothing.")] = False,
) -> None:
    """Validate the curriculum; every solution must pass its grader, every stub must read as
    not started, every known-wrong implementation must be rejected with its misconception.

    Also counts each step's reasoning checks (parametrised, free-text, multiple-choice) and the
    recall hits: fixed answers that the step's own text already prints, in any usual format.

    Example: mentor dev verify --json    mentor dev verify --checks-only
    """
    from mentor.authoring import verify_course
    from mentor.curriculum import load_course
    from mentor.paths import content_root

    course = load_course(content_root())
    chosen = course.steps
    if steps:
        unknown = [x for x in steps if x not in {st.id for st in course.steps}]
        if unknown:
            _fail(f"unknown step(s): {', '.join(unknown)}", code=2)
        chosen = [st for st in course.steps if st.id in steps]
    report = verify_course(course, chosen, grade=not checks_only)
    if as_json:
        _print_json({"ok": report.ok, "steps": len(chosen), "results": [r.to_dict() for r in report.results], "checks": report.checks})
    else:
        from mentor import ui

        for r in report.results:
            mark = "[green]✔[/]" if r.ok else "[red]✘[/]"
            ui.console.print(f"{mark} {r.step_id:28} {r.case:32} {ui.escape(r.detail)}", highlight=False)
        _show_check_counts(report.checks)
        ui.console.print(f"{'[green]ok' if report.ok else '[red]FAILED'}[/]: {len(chosen)} steps, {len(report.results)} graded cases")
    raise SystemExit(0 if report.ok else 1)


def _show_check_counts(counts: dict) -> None:
    from rich.text import Text

    from mentor import ui

    for r in counts["steps"]:
        line = (f"{r['step']:28} reasoning checks {r['checks']}: {r['parametrised']} parametrised, {r['free_text']} free-text, "
                f"{r['multiple_choice']} multiple-choice; recall hits {r['recall_hits']}, draw hits {r['draw_hits']}")  # fmt: skip
        ui.console.print(Text(line, style="yellow" if r["recall_hits"] else ""))
        for h in r["hits"]:
            ui.console.print(Text(f"  recall: {h['check']} = {h['answer']} is printed in {h['where']}", style="yellow"))
        for h in r["draws_in_text"]:
            ui.console.print(Text(f"  draw: {h['check']} = {h['answer']} at {h['params']} is printed in {h['where']}", style="dim"))
        for problem in r["self_check"]:
            ui.console.print(Text(f"  self-check: {problem['check']} at {problem['params']}: {problem['problem']}", style="red"))
    t = counts["total"]
    ui.console.print(Text(
        f"reasoning checks: {t['checks']} ({t['parametrised']} parametrised, {t['free_text']} free-text, {t['multiple_choice']} "
        f"multiple-choice, {t['fixed']} fixed; {t['choices_without_why']} wrong options without a why); recall hits {t['recall_hits']}, "
        f"draw hits {t['draw_hits']}; lessons without a free-text check: {', '.join(t['lessons_without_free_text']) or 'none'}"
    ))  # fmt: skip


def mutate(
    steps: Annotated[Optional[List[str]], typer.Argument(help="Steps to mutate (default: every step).", show_default=False)] = None,
    as_json: JsonFlag = False,
    workers: Annotated[int, typer.Option(help="Mutants graded at once.")] = 2,
    fresh: Annotated[bool, typer.Option("--fresh", help="Grade every mutant again instead of reusing kept verdicts.")] = False,
) -> None:
    """Mutate each step's reference where the learner writes code, grade every mutant, count the survivors.

    A surviving mutant is a mistake the grader cannot see, unless it is listed as equivalent (with
    the reason) in tests/mutation/equivalent.yaml. Verdicts are kept in the cache, so an
    interrupted run resumes; exits 1 when any non-equivalent mutant survives.

    Example: mentor dev mutate p1.neuron.forward p2.attention.sdpa
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.text import Text

    from mentor import ui
    from mentor.curriculum import load_course
    from mentor.mutate import default_cache_path, mutate_course, totals
    from mentor.paths import content_root

    course = load_course(content_root())
    known = {st.id for st in course.steps}
    unknown = [x for x in steps or [] if x not in known]
    if unknown:
        _fail(f"unknown step(s): {', '.join(unknown)}", code=2)
    chosen = [st for st in course.steps if not steps or st.id in steps]
    cache = default_cache_path()
    if fresh and cache.exists():
        cache.unlink()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=ui.err_console, disable=as_json or not ui.err_console.is_terminal)  # fmt: skip
    current = {}
    with progress:
        def on_step(step, n):
            current["task"] = progress.add_task(step.id, total=n)

        scores = mutate_course(course, chosen, cache_path=cache, workers=workers, on_step=on_step,
                               on_mutant=lambda m, status: progress.advance(current["task"]))  # fmt: skip
    total = totals(scores)
    if as_json:
        _print_json({"steps": [s.to_dict() for s in scores], "total": total})
    else:
        for s in scores:
            rate = "n/a" if s.kill_rate is None else f"{s.kill_rate:.0%}"
            unjudged = f"  {s.unjudged} unjudged" if s.unjudged else ""
            line = f"{s.step_id:28} {s.generated:4} mutants  {s.equivalent:3} equivalent  {s.killed:4} killed  {s.survived:3} survived{unjudged}  {rate:>5}"
            ui.console.print(Text(line, style="red" if s.survived or s.error or s.unjudged else ""))
            if s.error:
                ui.console.print(Text(f"  {s.error}", style="red"))
            for u in s.unjudged_mutants:
                ui.console.print(Text(f"  no verdict ({u['status']}): {u['key']}; run again to judge it", style="yellow"))
            for survivor in s.survivors:
                ui.console.print(Text(f"  survived: {survivor['key']} (line {survivor['line']})", style="yellow"))
                ui.console.print(Text("    " + survivor["diff"].replace("\n", "\n    "), style="dim"))
            for key in s.unused_equivalents:
                ui.console.print(Text(f"  listed as equivalent, no longer generated: {key}", style="dim"))
        rate = "n/a" if total["kill_rate"] is None else f"{total['kill_rate']:.1%}"
        ui.console.print(Text(f"total: {total['generated']} mutants, {total['equivalent']} equivalent, {total['killed']} killed, {total['survived']} survived, {total['unjudged']} unjudged, kill rate {rate}"))
    raise SystemExit(1 if total["survived"] or total["unjudged"] or any(s.error for s in scores) else 0)


def capstone_plan(
    profile: Annotated[Optional[str], typer.Option("--profile", "-p", help="tiny, cpu-8gb or gpu-16gb; default: this machine's profile.")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="Your own UTF-8 text (documents separated by a blank line).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show what your capstone run will be: parameters, tokens wanted and had, memory against the limit, time.

    Example: mentor capstone plan --profile cpu-8gb --file my_books.txt
    """
    from mentor.capstone import plan_capstone

    with _capstone_errors():
        plan = plan_capstone(_capstone_workspace(required=False), _capstone_course(), profile, file)
    if as_json:
        _print_json(plan.to_json())
        return
    from mentor.capstone.view import render_plan

    render_plan(plan)


def capstone_train(
    profile: Annotated[Optional[str], typer.Option("--profile", "-p", help="tiny, cpu-8gb or gpu-16gb; default: this machine's profile.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run from its last checkpoint.")] = False,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="Your own UTF-8 text (documents separated by a blank line).")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Stop after step N in all; the lr schedule stays the plan's, so --resume goes on.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse to stand the course's reference in for a file of yours that is missing or not done.")] = False,
) -> None:
    """Train your own GPT with your own tokenizer, AdamW, shards and training loop; artifacts go to capstone/<profile>/.

    Ctrl-C saves a checkpoint and says how to resume. On several GPUs (or CPU processes):
    torchrun --nproc_per_node=2 -m mentor capstone train --profile gpu-16gb

    Example: mentor capstone train --profile tiny
    """
    from mentor.capstone import train_capstone
    from mentor.capstone.view import TrainDisplay, render_result

    ws, course = _capstone_workspace(), _capstone_course()
    display = TrainDisplay()
    try:
        with _capstone_errors():
            result = train_capstone(ws, course, profile, file, resume, steps, strict, display)
    finally:
        display.close()
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 speaks
        render_result(result, ws, result.run_dir.name)
    if result.interrupted:
        raise SystemExit(130)


def _capstone_workspace(required: bool = True):
    """The workspace; a plan needs none (it then has no run to count tokens or time from)."""
    from mentor.workspace import WorkspaceError, find_workspace

    try:
        return find_workspace()
    except WorkspaceError:
        if required:
            raise
        return None


def _capstone_course():
    from mentor.curriculum import load_course
    from mentor.paths import content_root

    return load_course(content_root())


@contextmanager
def _capstone_errors():
    from mentor.capstone.run import CapstoneError
    from mentor.corpus import CorpusError

    try:
        yield
    except (CapstoneError, CorpusError) as e:
        _fail(str(e), code=2)


def _complete_step(incomplete: str) -> list[str]:
    """Step ids for the shell's completion."""
    from mentor.curriculum import load_course
    from mentor.paths import content_root

    return [st.id for st in load_course(content_root()).steps if st.id.startswith(incomplete)]


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mentor {__version__}\n")
        raise typer.Exit()


def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_show_version, is_eager=True, help="Show mentor's version and exit.")
    ] = False,
) -> None:
    """`mentor` alone is `mentor next`."""
    if ctx.invoked_subcommand is None:
        next(as_json=False)


def build_app():
    """The Typer application: every command with its options, for any command line but the plainest."""
    global typer, JsonFlag, StepArg
    import typer

    JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of the rich view.")]
    StepArg = Annotated[
        Optional[str],
        typer.Argument(help="Step id (see `mentor list`); default: your current step.", show_default=False, autocompletion=_complete_step),
    ]
    app = typer.Typer(
        name="mentor",
        help="An interactive, auto-graded course: from a NumPy neuron to your own GPT.\n\n"
        "Start with `mentor next` (or just `mentor`), edit the file it names, then `mentor check`.\n\n"
        "Example: mentor init ~/llm-course && cd ~/llm-course && mentor",
        no_args_is_help=False,
        invoke_without_command=True,
        add_completion=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_user_errors()(_root))
    commands = (next, show, list_steps, check, watch, edit, answer, hint, ask, progress, report, reset, solution, hardware, corpus, restore, export, update, repair, init)
    for command in commands:
        app.command("list" if command is list_steps else None)(_user_errors()(command))
    app.command("import", help="Same as `mentor restore`: records and code from `mentor export`.")(_user_errors()(restore))
    dev_app = typer.Typer(help="Course-author tools.", no_args_is_help=True)
    dev_app.command()(_user_errors()(verify))
    dev_app.command()(_user_errors()(mutate))
    app.add_typer(dev_app, name="dev")
    capstone_app = typer.Typer(help="Train your own GPT end to end: `plan` first, then `train`.", no_args_is_help=True)
    capstone_app.command("plan")(_user_errors()(capstone_plan))
    capstone_app.command("train")(_user_errors()(capstone_train))
    app.add_typer(capstone_app, name="capstone")
    return app


def __getattr__(name: str):
    if name == "app":  # `from mentor.cli import app`, for tests and embedding
        return build_app()
    raise AttributeError(name)


def _fast_call(argv: list[str]):
    """The everyday commands in their plain forms, called without building a Typer app.

    Importing Typer and building its command tree (click, pydantic) costs more than the rest of
    `mentor next`. Any other form, `--help` included, goes through Typer as usual.
    """
    if not argv:
        return next
    name, rest = argv[0], argv[1:]
    as_json = "--json" in rest
    args = [a for a in rest if a != "--json"]
    if any(a.startswith("-") for a in args) or len(args) > (1 if name in ("check", "hint") else 0):
        return None
    step_id = args[0] if args else None
    return {
        "next": lambda: next(as_json=as_json),
        "list": lambda: list_steps(as_json=as_json),
        "progress": lambda: progress(as_json=as_json),
        "check": lambda: check(step_id=step_id, as_json=as_json, answers=None, target=None, verbose=False, tracebacks=False),
        "hint": lambda: hint(step_id=step_id, as_json=as_json),
    }.get(name)


_prestarted: list = []  # a grader worker the entry point started for `check` (see mentor/entry.py)


def main(prestarted=None) -> None:
    if prestarted is not None:
        _prestarted.append(prestarted)
    try:
        completing = any(name.endswith("_COMPLETE") for name in os.environ)  # a shell asks Typer for completions
        fast = None if completing else _fast_call(sys.argv[1:])
        if fast is None:
            build_app()(prog_name="mentor")
        else:
            with _user_errors():
                fast()
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
    except BrokenPipeError:  # `mentor list --json | head`: the reader has what it wanted
        _quiet_stdout()
        sys.exit(1)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that flushing what is left at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    main()
