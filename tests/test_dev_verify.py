"""`mentor dev verify` as an author runs it: passes on the course, fails on a broken grader."""

import json
import shutil

from typer.testing import CliRunner

from mentor.cli import app
from mentor.content import copy_shipped
from mentor.paths import content_root

runner = CliRunner()


def test_verify_passes_on_a_step_and_reports_every_case():
    result = runner.invoke(app, ["dev", "verify", "--json", "--step", "p1.neuron.forward"])
    data = json.loads(result.output)
    assert result.exit_code == 0 and data["ok"] is True
    cases = {r["case"] for r in data["results"]}
    assert {"solution", "stub"} <= cases and sum(c.startswith("known-wrong:") for c in cases) >= 3


def test_verify_fails_when_a_solution_no_longer_passes(tmp_path, monkeypatch):
    content = tmp_path / "content"
    copy_shipped(content_root(), content, ("curriculum", "exercises", "solutions", "tests"))
    sol = content / "solutions" / "phase1" / "neuron.py"
    sol.write_text(sol.read_text().replace("x @ w + b", "x @ w"))  # the reference itself is now wrong
    monkeypatch.setenv("MENTOR_CONTENT", str(content))
    result = runner.invoke(app, ["dev", "verify", "--json", "--step", "p1.neuron.forward"])
    data = json.loads(result.output)
    assert result.exit_code == 1 and data["ok"] is False
    assert any(r["case"] == "solution" and not r["ok"] for r in data["results"])


def test_verify_rejects_an_unknown_step():
    assert runner.invoke(app, ["dev", "verify", "--step", "nope"]).exit_code == 2
