"""`mentor report`: the learner's progress as one self-contained HTML page with plots, and Markdown.

The page needs nothing but itself: styles inline, every plot an inline SVG drawn by matplotlib (text
kept as text, so the page can be searched and read by a screen reader), no script, no link to
anything outside. Its plots: steps mastered over time, attempts and hints per step, each budget
figure against its limit over time, and the loss curves of the training logs (the JSON-lines logs
of Phase 4 and the capstone: one object per line with `step` and `train_loss` or `loss`, and
`val_loss` where measured).
"""

from __future__ import annotations

import html
import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from mentor.curriculum import Course
from mentor.gating import MASTERED, phase_summaries, step_states
from mentor.progress import ProgressStore

LOG_GLOBS = ("capstone/*/log.jsonl", "runs/**/*.jsonl")  # where training logs are found in a workspace
MAX_LOG_POINTS = 2000  # a plotted curve keeps at most this many points, evenly spaced


@dataclass
class LossLog:
    name: str
    steps: list[float] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    val_steps: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)


def read_loss_log(path: Path, name: str = "") -> LossLog:
    """A JSON-lines training log; lines that are not objects with a step and a finite loss are skipped."""
    log = LossLog(name or path.name)
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut short by a stopped run, say
            if not isinstance(row, dict) or not isinstance(row.get("step"), (int, float)):
                continue
            train = row.get("train_loss", row.get("loss"))
            if _finite(train):
                log.steps.append(row["step"])
                log.train.append(float(train))
            if _finite(row.get("val_loss")):
                log.val_steps.append(row["step"])
                log.val.append(float(row["val_loss"]))
    return log


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def find_logs(root: Path) -> list[Path]:
    return sorted({p for pattern in LOG_GLOBS for p in root.glob(pattern) if p.is_file()})


@dataclass
class Report:
    """Everything the page shows, gathered from the store and the logs."""

    title: str
    made_at: float
    phases: list
    steps: list[dict]  # id, title, phase, state, attempts, hints
    mastered_at: list[tuple[float, str]]  # when each mastered step was mastered, in time order
    measurements: list[dict]
    logs: list[LossLog]


def gather(course: Course, store: ProgressStore, logs: list[Path], root: Path | None = None) -> Report:
    records = store.records()
    states = step_states(course, records)
    rows = store.export()["tables"]
    steps = [
        {
            "id": s.id, "title": s.title, "phase": s.phase, "state": states[s.id],
            "attempts": records.of(s.id).attempts, "hints": records.of(s.id).hints_seen,
        }
        for s in course.steps
    ]  # fmt: skip
    mastered = [(t, s.id) for s in course.steps if states[s.id] == MASTERED and (t := _mastered_at(s, rows)) is not None]
    return Report(
        title=course.title,
        made_at=time.time(),
        phases=phase_summaries(course, records, states),
        steps=steps,
        mastered_at=sorted(mastered),
        measurements=rows["measurements"],
        logs=[read_loss_log(p, str(p.relative_to(root)) if root and p.is_relative_to(root) else p.name) for p in logs],
    )


def _mastered_at(step, rows: dict) -> float | None:
    """When the last of mastery's conditions came true: the first pass, and each check's first right answer."""
    passes = [a["at"] for a in rows["attempts"] if a["step_id"] == step.id and a["passed"]]
    if not passes:
        return None
    times = [min(passes)]
    for check in step.checks:
        right = [a["at"] for a in rows["answers"] if a["step_id"] == step.id and a["check_id"] == check.id and a["correct"]]
        if not right:
            return None
        times.append(min(right))
    return max(times)


# -- plots ----------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display: drawn to a string
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.fonttype": "none", "svg.hashsalt": "mentor", "font.size": 9, "axes.spines.top": False,
        "axes.spines.right": False, "figure.dpi": 100,
    })  # fmt: skip
    return plt


def _svg(fig) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    _pyplot().close(fig)
    text = out.getvalue()
    return text[text.index("<svg") :]  # the XML prologue and doctype do not belong inside HTML


def plot_mastery(report: Report) -> str | None:
    if not report.mastered_at:
        return None
    import datetime as dt

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 2.6))
    when = [dt.datetime.fromtimestamp(t) for t, _ in report.mastered_at]
    ax.step(when, range(1, len(when) + 1), where="post", color="#2a7", linewidth=2)
    ax.plot(when, range(1, len(when) + 1), "o", color="#2a7", markersize=3)
    ax.set_ylim(0, len(report.steps))
    ax.set_ylabel("steps mastered")
    ax.set_title(f"Steps mastered over time ({len(when)} of {len(report.steps)})", loc="left")
    fig.autofmt_xdate()
    return _svg(fig)


def plot_effort(report: Report) -> str | None:
    worked = [s for s in report.steps if s["attempts"] or s["hints"]]
    if not worked:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, max(1.6, 0.22 * len(worked) + 0.8)))
    y = range(len(worked))
    ax.barh([i - 0.2 for i in y], [s["attempts"] for s in worked], height=0.4, label="grader runs", color="#37a")
    ax.barh([i + 0.2 for i in y], [s["hints"] for s in worked], height=0.4, label="hints seen", color="#e92")
    ax.set_yticks(list(y), [s["id"] for s in worked])
    ax.xaxis.get_major_locator().set_params(integer=True)  # counts
    ax.invert_yaxis()
    ax.legend(loc="lower right", frameon=False)
    ax.set_title("Grader runs and hints per step", loc="left")
    return _svg(fig)


def plot_budgets(report: Report) -> str | None:
    """Each budget figure as a share of its limit over time: at most 1 passes (at least 1 for a minimum)."""
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for m in report.measurements:
        if _finite(m.get("measured")) and _finite(m.get("allowed")) and m["allowed"]:
            series.setdefault((m["budget"], m["step_id"]), []).append((m["at"], m["measured"] / m["allowed"]))
    if not series:
        return None
    import datetime as dt

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 2.8))
    for (budget, step_id), points in sorted(series.items()):
        ax.plot([dt.datetime.fromtimestamp(t) for t, _ in points], [r for _, r in points], "o-", markersize=3, label=f"{step_id} · {budget}")
    ax.axhline(1.0, color="#c33", linestyle="--", linewidth=1, label="the limit")
    ax.set_ylabel("measured / allowed")
    ax.set_title("Budget figures against their limits", loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.autofmt_xdate()
    return _svg(fig)


def _thinned(xs: list, ys: list) -> tuple[list, list]:
    if len(xs) <= MAX_LOG_POINTS:
        return xs, ys
    every = math.ceil(len(xs) / MAX_LOG_POINTS)
    return xs[::every], ys[::every]


def plot_loss(log: LossLog) -> str | None:
    if not log.train and not log.val:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 2.8))
    if log.train:
        ax.plot(*_thinned(log.steps, log.train), color="#37a", linewidth=1, label="train loss")
    if log.val:
        ax.plot(log.val_steps, log.val, "o-", color="#e92", markersize=3, label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(f"Loss: {log.name}", loc="left")
    ax.legend(frameon=False)
    return _svg(fig)


# -- pages ----------------------------------------------------------------------------------------
STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } .made { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0; } th, td { padding: 0.25rem 0.7rem; text-align: left; }
th { border-bottom: 2px solid #ccc; } td { border-bottom: 1px solid #eee; } td.n { text-align: right; }
figure { margin: 1.5rem 0; } figure svg { max-width: 100%; height: auto; } figcaption { color: #555; }
.mastered { color: #2a7; } .passed { color: #37a; } .locked { color: #999; }
"""


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def figures(report: Report) -> list[tuple[str, str, str]]:
    """(id, caption, svg) of every plot there is data for."""
    out = []
    for fid, caption, svg in (
        ("mastery", "Each step counts once its grader passed and its reasoning checks were answered.", plot_mastery(report)),
        ("effort", "Grader runs (mentor check) and hint tiers seen, per step worked on.", plot_effort(report)),
        ("budgets", "Speed and memory figures as a share of the limit the step allows on that profile.", plot_budgets(report)),
    ):
        if svg:
            out.append((fid, caption, svg))
    for i, log in enumerate(report.logs):
        svg = plot_loss(log)
        if svg:
            out.append((f"loss-{i}", f"Training log {log.name}: {len(log.train)} train and {len(log.val)} validation points.", svg))
    return out


def to_html(report: Report) -> str:
    e = html.escape
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(report.made_at))
    phases = "".join(
        f"<tr><td>{p.number}. {e(p.title)}</td><td class=n>{p.mastered}/{p.total}</td><td class=n>{p.attempts}</td>"
        f"<td class=n>{p.hints}</td><td class=n>{p.questions}</td><td class=n>{_hours(p.seconds)}</td></tr>"
        for p in report.phases
    )
    steps = "".join(
        f"<tr><td>{e(s['id'])}</td><td>{e(s['title'])}</td><td class={e(s['state'])}>{e(s['state'])}</td>"
        f"<td class=n>{s['attempts']}</td><td class=n>{s['hints']}</td></tr>"
        for s in report.steps
    )
    plots = "".join(
        f'<figure id="{fid}">{svg}<figcaption>{e(caption)}</figcaption></figure>' for fid, caption, svg in figures(report)
    ) or "<p>No plots yet: they appear once you have run a check.</p>"
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{e(report.title)}: progress</title><style>{STYLE}</style></head><body>"
        f"<h1>{e(report.title)}</h1><p class=made>Progress report, {made}</p>"
        "<h2>Phases</h2><table><tr><th>phase</th><th>mastered</th><th>grader runs</th><th>hints</th>"
        f"<th>tutor questions</th><th>time</th></tr>{phases}</table>"
        f"<h2>Plots</h2>{plots}"
        "<h2>Steps</h2><table><tr><th>step</th><th>title</th><th>state</th><th>grader runs</th><th>hints</th></tr>"
        f"{steps}</table></body></html>\n"
    )


def to_markdown(report: Report) -> str:
    lines = [f"# {report.title}: progress", "", "| phase | mastered | grader runs | hints | tutor questions | time |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {p.number}. {p.title} | {p.mastered}/{p.total} | {p.attempts} | {p.hints} | {p.questions} | {_hours(p.seconds)} |" for p in report.phases]
    lines += ["", "| step | state | grader runs | hints |", "|---|---|---:|---:|"]
    lines += [f"| {s['id']} | {s['state']} | {s['attempts']} | {s['hints']} |" for s in report.steps]
    for log in report.logs:
        if log.train:
            lines += ["", f"Training log {log.name}: {len(log.train)} steps, train loss {log.train[0]:.3f} → {log.train[-1]:.3f}"
                      + (f", last validation loss {log.val[-1]:.3f}" if log.val else "")]  # fmt: skip
    return "\n".join(lines) + "\n"
