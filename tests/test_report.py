"""`mentor report`: what it gathers from a real store and training logs, the page it writes (self-contained,
every plot there), rendered in a real headless Chromium, and the Markdown."""

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mentor.curriculum import load_course
from mentor.grading.runner import GradeResult
from mentor.paths import content_root
from mentor.progress import ProgressStore
from mentor.report import MAX_LOG_POINTS, gather, read_loss_log, to_html, to_markdown

from answering import answer_args

COURSE = load_course(content_root())
FIRST, SECOND = COURSE.steps[0], COURSE.steps[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def mentor(ws: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mentor", *args], cwd=ws, capture_output=True, text=True, timeout=300)


def write_log(path: Path, steps: int = 120) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for s in range(steps):
            row = {"step": s, "tokens": 512 * s, "train_loss": 4.0 * math.exp(-s / 40) + 1.0, "lr": 1e-3}
            if s % 20 == 0:
                row["val_loss"] = 4.0 * math.exp(-s / 40) + 1.3
            f.write(json.dumps(row) + "\n")
        f.write('{"step": 120, "train_loss": NaN}\n{"step": 121, "train_loss"')  # a value that is no number; a cut line
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A workspace where the first step is mastered through the CLI, the second has a budget figure and
    a hint, and a capstone run left a log."""
    ws = tmp_path_factory.mktemp("report") / "ws"
    assert mentor(ws.parent, "init", str(ws)).returncode == 0
    shutil.copy(content_root() / FIRST.solution, ws / FIRST.exercise)
    done = mentor(ws, "check", FIRST.id, *answer_args(ws, FIRST))
    assert done.returncode == 0, done.stdout + done.stderr
    store = ProgressStore(ws / "progress.db")
    figure = {"budget": "latency_ratio", "measured": 1.4, "allowed": 3.0, "learner": 1.4, "reference": 1.0, "unit": "ms", "ok": True}
    store.record_attempt(SECOND.id, GradeResult("failed", "one test failed", measurements=[figure]), profile="default")
    store.record_hint(SECOND.id, 1)
    store.close()
    write_log(ws / "capstone" / "tiny" / "log.jsonl")
    return ws


def test_a_log_keeps_finite_losses_by_step_and_skips_what_is_not_one(tmp_path):
    log = read_loss_log(write_log(tmp_path / "log.jsonl"))
    assert log.steps == list(range(120)) and len(log.train) == 120
    assert log.val_steps == list(range(0, 120, 20)) and log.val[0] == pytest.approx(5.3)
    alt = tmp_path / "alt.jsonl"
    alt.write_text('{"step": 1, "loss": 2.5}\n{"step": 2, "loss": true}\n[1, 2]\n{"loss": 3}\n')
    assert (read_loss_log(alt).steps, read_loss_log(alt).train) == ([1], [2.5])


def test_gathered_from_the_store_mastery_time_effort_and_budget_figures(workspace):
    store = ProgressStore(workspace / "progress.db")
    try:
        report = gather(COURSE, store, [workspace / "capstone" / "tiny" / "log.jsonl"], workspace)
        rows = store.export()["tables"]
    finally:
        store.close()
    assert [s for _, s in report.mastered_at] == [FIRST.id]
    last_condition = max(
        min(a["at"] for a in rows["attempts"] if a["step_id"] == FIRST.id and a["passed"]),
        *(min(a["at"] for a in rows["answers"] if a["check_id"] == c.id and a["correct"]) for c in FIRST.checks),
    )
    assert report.mastered_at[0][0] == last_condition
    by_id = {s["id"]: s for s in report.steps}
    assert (by_id[FIRST.id]["state"], by_id[FIRST.id]["attempts"]) == ("mastered", 1)
    assert (by_id[SECOND.id]["attempts"], by_id[SECOND.id]["hints"]) == (1, 1)
    assert [(m["step_id"], m["measured"]) for m in report.measurements] == [(SECOND.id, 1.4)]
    assert report.logs[0].name == "capstone/tiny/log.jsonl"


def test_the_page_holds_every_plot_inline_and_needs_nothing_outside_it(workspace, tmp_path):
    page = tmp_path / "progress.html"
    done = mentor(workspace, "report", "--html", str(page))
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert re.findall(r'<figure id="([a-z0-9-]+)">', text) == ["mastery", "effort", "budgets", "loss-0"]
    assert text.count("<svg") == 4 and "<script" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|url\((?!#)|@import""", text)  # url(#id): a clip path inside the SVG
    assert "Steps mastered over time (1 of" in text and "capstone/tiny/log.jsonl" in text
    assert f"<td>{FIRST.id}</td>" in text and "class=mastered>mastered" in text


def test_a_log_named_on_the_command_line_joins_and_a_missing_one_is_refused(workspace, tmp_path):
    extra = write_log(tmp_path / "mine.jsonl", steps=5000)
    page = tmp_path / "p.html"
    assert mentor(workspace, "report", "--html", str(page), "--log", str(extra)).returncode == 0
    text = page.read_text()
    assert text.count('<figure id="loss-') == 2 and "5000 train" in text
    missing = mentor(workspace, "report", "--log", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "no such log file" in missing.stderr + missing.stdout


def test_a_long_log_is_thinned_for_the_plot_and_kept_whole_in_the_figures(tmp_path):
    from mentor.report import _thinned

    xs = list(range(10_001))
    thin_x, thin_y = _thinned(xs, xs)
    assert len(thin_x) <= MAX_LOG_POINTS and thin_x[0] == 0 and thin_x == thin_y
    assert _thinned(xs[:10], xs[:10]) == (xs[:10], xs[:10])


def test_the_markdown_goes_to_standard_output_without_a_file(workspace):
    done = mentor(workspace, "report")
    assert done.returncode == 0
    assert f"| {FIRST.id} | mastered | 1 | 0 |" in done.stdout
    assert "| 1. " in done.stdout and "train loss 5.000 →" in done.stdout


def test_an_empty_workspace_reports_without_plots(tmp_path):
    ws = tmp_path / "ws"
    assert mentor(tmp_path, "init", str(ws)).returncode == 0
    store = ProgressStore(ws / "progress.db")
    try:
        report = gather(COURSE, store, [], ws)
    finally:
        store.close()
    page = to_html(report)
    assert "<svg" not in page and "No plots yet" in page
    assert to_markdown(report).startswith(f"# {COURSE.title}: progress")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (CI installs Debian's chromium)")
def test_chromium_renders_the_page_with_its_plots(workspace, tmp_path):
    page = tmp_path / "progress.html"
    assert mentor(workspace, "report", "--html", str(page)).returncode == 0
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<svg") == 4 and "Budget figures against their limits" in dom and "Loss: capstone/tiny/log.jsonl" in dom
    shot = tmp_path / "page.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1000,1400", f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 30_000  # a blank page of that size compresses to a few kB
