"""The recall scan finds an answer the step's own text already prints, in any usual spelling, and
`mentor dev verify` reports it with the step's reasoning-check counts; the shipped Phases 1-2 have none."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from mentor.cli import app
from mentor.content import copy_shipped
from mentor.curriculum import Answer, Check, load_course
from mentor.paths import content_root
from mentor.recall import number_readings, recall_hits

runner = CliRunner()


def step_with(course, concept: str, answer: Answer, hint: str = ""):
    import dataclasses

    step = course.steps[0]
    return dataclasses.replace(step, concept=concept, task="", hints=["a", "b", "c"],
                               checks=[Check(id="planted", ask="?", answer=answer, hint=hint)])  # fmt: skip


@pytest.mark.parametrize(
    "printed,answer",
    [
        ("GPT-2 small: 786432 parameters.", Answer(numeric=786432, tolerance=0)),
        ("GPT-2 small: 786,432 parameters.", Answer(numeric=786432, tolerance=0)),
        ("GPT-2 small: 786 432 parameters.", Answer(numeric=786432, tolerance=0)),
        ("GPT-2 small: about 7.86e5 parameters.", Answer(numeric=786432, tolerance=0.01)),
        ("GPT-2 small: 7.86 × 10⁵ parameters.", Answer(numeric=786432, tolerance=0.01)),
        ("GPT-2 small: 1024 × 768 parameters.", Answer(numeric=786432, tolerance=0)),
        ("the slope is 1/4 there", Answer(numeric=0.25, tolerance=0)),
        ("the slope is a quarter there", Answer(numeric=0.25, tolerance=0)),
        ("about 10¹⁰ pair visits", Answer(numeric=1e10, tolerance=0.01)),
        ("about 10^10 pair visits", Answer(numeric=1e10, tolerance=0.01)),
        ("uniform logits cost ln 50257", Answer(numeric=10.825, tolerance=0.001)),
        ("it weighs 1.65 GB", Answer(numeric=1.646e9, tolerance=0.01)),
        ("weights share 31%", Answer(numeric=0.31, tolerance=0.01)),
        ("GELU(-1) ≈ −0.159", Answer(numeric=-0.1588, tolerance=0.005)),
        ("(65 + 1) × 384 rows", Answer(numeric=25344, tolerance=0)),
        ("the stride is (512, 16, 64, 1)", Answer(shape=[512, 16, 64, 1])),
        ("encode gives [2 0 1 3]", Answer(values=[2, 0, 1, 3])),
        ("that is Layer Norm, as usual", Answer(exact=["layer norm"])),
    ],
)
def test_the_scan_finds_a_planted_answer_in_any_usual_format(course, printed, answer):
    hits = recall_hits(step_with(course, f"Some text. {printed} More text.", answer))
    assert [h.where for h in hits] == ["concept"], printed


@pytest.mark.parametrize(
    "printed,answer",
    [
        ("ln(1.8e308) ≈ 710", Answer(numeric=709.7827, decimals=2)),  # two decimals asked: 710 is not it
        ("the table has 786,433 rows", Answer(numeric=786432, tolerance=0)),
        ("about 1.65 GB", Answer(numeric=1646821376, tolerance=0.001)),
        ("the slope is 1/3", Answer(numeric=0.25, tolerance=0.01)),
    ],
)
def test_a_number_the_check_would_reject_is_not_a_hit(course, printed, answer):
    assert recall_hits(step_with(course, printed, answer)) == []


def test_the_checks_own_hint_counts_as_text_the_learner_reads(course):
    hits = recall_hits(step_with(course, "nothing here", Answer(numeric=65504, tolerance=0), hint="float16 stops at 65504"))
    assert [h.where for h in hits] == ["hint"]


def test_every_spelling_of_a_number_is_read():
    readings = number_readings("786 432 and 7.86e5, 2^14, 768², √64, 3/4, five, 25 MiB, 124M, e^-2")
    for value in (786432, 7.86e5, 16384, 589824, 8, 0.75, 5, 25 * 2**20, 124e6):
        assert value in readings, value
    assert any(abs(r - 0.1353) < 1e-3 for r in readings)


def test_dev_verify_reports_a_planted_answer_and_the_check_counts(tmp_path, monkeypatch):
    content = tmp_path / "content"
    copy_shipped(content_root(), content, ("curriculum", "exercises", "solutions", "tests"))
    path = content / "curriculum" / "phase1.yaml"
    data = yaml.safe_load(path.read_text())
    step = data["lessons"][0]["steps"][0]
    step["concept"] += "\nA planted sentence: the answer is 4,321,987.\n"
    step["checks"].append({"id": "planted", "ask": "How many?", "answer": {"numeric": 4321987, "tolerance": 0}})
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    monkeypatch.setenv("MENTOR_CONTENT", str(content))
    result = runner.invoke(app, ["dev", "verify", "--checks-only", "--json", "--step", step["id"]])
    report = json.loads(result.output)["checks"]
    mine = report["steps"][0]
    assert mine["recall_hits"] == 1 and mine["hits"] == [{"check": "planted", "where": "concept", "answer": 4321987.0}]
    assert report["total"]["recall_hits"] == 1 and report["total"]["checks"] == len(step["checks"])
    assert {"parametrised", "free_text", "multiple_choice", "draw_hits"} <= set(mine)
    text = runner.invoke(app, ["dev", "verify", "--checks-only", "--step", step["id"]]).output
    assert "recall: planted = 4321987.0 is printed in concept" in text


def test_phases_1_and_2_have_no_recall_hits_and_a_free_text_check_per_lesson(course):
    from mentor.recall import course_check_counts

    steps = [s for s in course.steps if s.phase in (1, 2)]
    counts = course_check_counts(course, steps)
    hits = [(r["step"], h) for r in counts["steps"] for h in r["hits"]]
    assert hits == [] and counts["total"]["lessons_without_free_text"] == []
    assert counts["total"]["choices_without_why"] == 0


def test_no_fixed_answer_appears_in_the_help_texts_or_the_readme(course):
    """A help page or the README must not hold an answer (the numbers a check draws change per learner)."""
    from mentor.checks import accepts, expected_answer

    texts = [runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "200"}).output for cmd in (["check"], ["answer"], ["dev", "verify"])]
    texts.append((content_root() / "README.md").read_text(encoding="utf-8") if (content_root() / "README.md").is_file() else "")
    readings = set().union(*(number_readings(t) for t in texts))
    for step in course.steps:
        for c in step.checks:
            if c.params or c.answer.kind not in ("numeric",):
                continue
            expected = expected_answer(c)
            assert not any(accepts(c, r, expected) for r in readings), (step.id, c.id, expected)
