"""`mentor dev mutate`: mutants of the code a step asks for, graded like a learner's file, counted
as killed, equivalent (listed with a reason) or surviving, with verdicts kept so a run resumes."""

import json

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.curriculum import load_course
from mentor.mutate import ResultCache, asked_definitions, generate_mutants, score_step, step_mutants
from mentor.paths import content_root

COURSE = load_course(content_root())
runner = CliRunner()


def test_only_the_definitions_the_step_asks_for_are_mutated():
    _, mutants = step_mutants(COURSE, COURSE.step("p2.attention.causal"))
    assert mutants and {m.key.split(":")[0] for m in mutants} <= {"causal_mask", "causal_attention"}
    _, neuron = step_mutants(COURSE, COURSE.step("p1.neuron.forward"))
    changes = {(m.before, m.after) for m in neuron}
    assert ("x @ w + b", "x @ w - b") in changes and ("x @ w + b", "x @ w") in changes
    assert ("activation is None", "activation is not None") in changes


STUB = '''
def given(x):
    return x + 1

def asked(x):
    """Docstring: 1 + 1."""
    raise NotImplementedError

class Model:
    def __init__(self):
        self.scale = 2.0

    def forward(self, x):
        raise NotImplementedError
'''

REFERENCE = '''
def given(x):
    return x + 1

def asked(x, axis=-1):
    """Docstring: 1 + 1."""
    if x is None:
        raise ValueError(f"no input: {1 + 1}")
    return x.sum(axis=axis, keepdims=True).detach() * 3

class Model:
    def __init__(self):
        self.scale = 2.0

    def forward(self, x):
        return x.exp() * self.scale
'''


def test_given_code_docstrings_and_messages_are_left_alone_and_each_operator_applies():
    asked = asked_definitions(STUB)
    assert asked == {"asked", "Model.forward"}
    mutants = generate_mutants("demo", REFERENCE, asked)
    keys = [m.key for m in mutants]
    assert len(keys) == len(set(keys))
    assert not [m for m in mutants if m.key.startswith(("given", "Model.__init__"))]
    assert all("Docstring: 1 + 1." in m.source and "no input: {1 + 1}" in m.source for m in mutants)
    changes = {(m.before, m.after) for m in mutants}
    for wanted in [
        ("x.sum(axis=axis, keepdims=True)", "x.sum(axis=axis)"),  # keepdims dropped
        ("x.sum(axis=axis, keepdims=True).detach()", "x.sum(axis=axis, keepdims=True)"),  # detach dropped
        ("3", "4"),
        ("x is None", "x is not None"),
        ("x.exp()", "x.exp_()"),  # a pure operation made in-place
        ("x.exp() * self.scale", "x.exp() / self.scale"),
    ]:
        assert wanted in changes, wanted
    assert asked_definitions(STUB, defines=["Model"]) == {"Model.forward"}


def fake_grade(passing: set[str], calls: list, stop_after: int | None = None):
    """A grader that passes the reference, and each mutant whose source contains one of `passing`."""
    reference, _ = step_mutants(COURSE, COURSE.step("p1.neuron.forward"))

    def grade(step, submission, cwd, timeout_s):
        calls.append(submission)
        if stop_after is not None and len(calls) > stop_after:
            raise KeyboardInterrupt
        source = submission.read_text()
        return "passed" if source == reference or any(p in source for p in passing) else "failed"

    return grade


def test_survivors_are_shown_with_their_diff_and_listed_equivalents_are_not_counted_against_the_grader(tmp_path):
    step = COURSE.step("p1.neuron.forward")
    calls = []
    grade = fake_grade({"x @ w - b", "x * w + b"}, calls)
    key_minus = "neuron_forward: `x @ w + b` -> `x @ w - b`"
    score = score_step(COURSE, step, {key_minus: "pretend it is equivalent"}, ResultCache(None), grade)
    survivors = [s["key"] for s in score.survivors]
    assert score.equivalent == 1 and survivors == ["neuron_forward: `x @ w` -> `x * w`"]
    assert "-    z = x @ w + b" in score.survivors[0]["diff"] and "+    z = x * w + b" in score.survivors[0]["diff"]
    assert score.killed == score.generated - 2 and score.kill_rate == score.killed / (score.generated - 1)
    assert len(calls) == score.generated + 1  # the reference first, then each mutant once


def test_a_reference_that_does_not_pass_is_reported_instead_of_judging_mutants():
    score = score_step(COURSE, COURSE.step("p1.neuron.forward"), {}, ResultCache(None), lambda *a: "failed")
    assert "reference itself graded failed" in score.error and score.killed == 0


def test_an_interrupted_run_resumes_from_the_verdicts_it_kept(tmp_path):
    step = COURSE.step("p1.neuron.forward")
    path = tmp_path / "mutants.json"
    first = []
    with pytest.raises(KeyboardInterrupt):
        score_step(COURSE, step, {}, ResultCache(path), fake_grade(set(), first, stop_after=4), workers=1)
    kept = len(json.loads(path.read_text()))
    assert kept == 3  # the reference, then three mutants before the interruption
    second = []
    score = score_step(COURSE, step, {}, ResultCache(path), fake_grade(set(), second), workers=1)
    assert len(second) == 1 + score.generated - kept and score.killed == score.generated


def test_a_grader_that_could_not_judge_a_mutant_is_no_kill_and_is_asked_again_next_run(tmp_path):
    step = COURSE.step("p1.neuron.forward")
    path = tmp_path / "mutants.json"
    reference, mutants = step_mutants(COURSE, step)
    disturbed = mutants[0].source  # e.g. the course changed under the seal while this one was graded

    def grade(step, submission, cwd, timeout_s):
        source = submission.read_text()
        return "passed" if source == reference else "tampered" if source == disturbed else "failed"

    score = score_step(COURSE, step, {}, ResultCache(path), grade, workers=1)
    assert (score.unjudged, score.killed, score.survived) == (1, score.generated - 1, 0)
    assert score.unjudged_mutants == [{"key": mutants[0].key, "status": "tampered"}]
    assert score.kill_rate == (score.generated - 1) / score.generated  # counted against the rate until judged
    assert len(json.loads(path.read_text())) == score.generated - 1  # its verdict was not kept
    again = []
    score_step(COURSE, step, {}, ResultCache(path), fake_grade(set(), again), workers=1)
    assert len(again) == 2  # the reference and the unjudged mutant only


def test_the_real_grader_kills_every_mutant_of_the_neuron_step(tmp_path, monkeypatch):
    monkeypatch.setenv("MENTOR_CACHE_DIR", str(tmp_path))
    result = runner.invoke(app, ["dev", "mutate", "p1.neuron.forward", "--json"])
    data = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert data["total"]["generated"] >= 8 and data["total"]["killed"] == data["total"]["generated"]
    assert data["total"]["kill_rate"] == 1.0


def test_an_unknown_step_is_a_usage_error():
    result = runner.invoke(app, ["dev", "mutate", "p9.nothing"])
    assert result.exit_code == 2 and "unknown step" in result.output
