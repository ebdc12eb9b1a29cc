"""A malformed course gives one clear error naming file, step and field; a good one loads."""

import shutil
from pathlib import Path

import pytest
import yaml

from mentor.curriculum import CurriculumError, load_course
from mentor.content import copy_shipped
from mentor.paths import content_root


@pytest.fixture
def content(tmp_path) -> Path:
    """A private copy of the course content that a test may break."""
    root = tmp_path / "content"
    copy_shipped(content_root(), root, ("curriculum", "exercises", "solutions"))
    return root


def edit_first_step(content: Path, change) -> Path:
    path = content / "curriculum" / "phase1.yaml"
    data = yaml.safe_load(path.read_text())
    change(data["lessons"][0]["steps"][0], data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def error_for(content: Path) -> str:
    with pytest.raises(CurriculumError) as e:
        load_course(content)
    return str(e.value)


def test_the_shipped_course_loads_with_unique_ids(course):
    ids = [s.id for s in course.steps]
    assert len(ids) == len(set(ids)) and ids[0] == "p1.neuron.forward"


def test_unknown_field_is_named_with_its_step(content):
    edit_first_step(content, lambda s, d: s.update(colour="blue"))
    msg = error_for(content)
    assert "phase1.yaml" in msg and "p1.neuron.forward" in msg and "colour" in msg


def test_missing_required_field_is_named(content):
    edit_first_step(content, lambda s, d: s.pop("grader"))
    msg = error_for(content)
    assert "p1.neuron.forward" in msg and "grader" in msg and "Field required" in msg


def test_wrong_type_in_a_check_names_the_check_field(content):
    edit_first_step(content, lambda s, d: s["checks"][0]["answer"].update(numeric="lots"))
    msg = error_for(content)
    assert "checks[0].answer.numeric" in msg and "p1.neuron.forward" in msg


def test_duplicate_step_id_is_rejected(content):
    def dup(step, data):
        data["lessons"][0]["steps"].append(dict(step))

    edit_first_step(content, dup)
    assert "duplicate" in error_for(content)


def test_unknown_prerequisite_is_rejected(content):
    edit_first_step(content, lambda s, d: s.update(requires=["p9.nothing"]))
    msg = error_for(content)
    assert "requires" in msg and "p9.nothing" in msg


def test_fewer_than_three_hint_tiers_is_rejected(content):
    edit_first_step(content, lambda s, d: s.update(hints=s["hints"][:2]))
    assert "field hints" in error_for(content)


def test_answer_with_two_kinds_is_rejected(content):
    edit_first_step(content, lambda s, d: s["checks"][0]["answer"].update(exact=["x"]))
    assert "exactly one of" in error_for(content)


def test_choice_answer_must_be_one_of_the_choices(content):
    edit_first_step(content, lambda s, d: s["checks"][0].update(choices=["x", "y"], answer={"choice": "c"}))
    assert "not one of the choices" in error_for(content)


def test_missing_exercise_file_is_named(content):
    (content / "exercises" / "phase1" / "neuron.py").unlink()
    msg = error_for(content)
    assert "field exercise" in msg and "neuron.py" in msg


def test_missing_grader_file_is_named(content):
    edit_first_step(content, lambda s, d: s.update(grader="phase1/test_nothing.py"))
    assert "field grader" in error_for(content)


def test_yaml_syntax_error_names_the_line(content):
    path = content / "curriculum" / "phase1.yaml"
    path.write_text(path.read_text() + "\n  - [unclosed\n")
    msg = error_for(content)
    assert "phase1.yaml:" in msg and "not valid YAML" in msg


def test_a_changed_file_is_revalidated_despite_the_cache(content, tmp_path):
    load_course(content, cache_dir=tmp_path / "cache")
    edit_first_step(content, lambda s, d: s.update(colour="blue"))
    with pytest.raises(CurriculumError):
        load_course(content, cache_dir=tmp_path / "cache")


def test_cached_course_equals_the_parsed_one(content, tmp_path):
    first = load_course(content, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").glob("course-*.pickle"))
    second = load_course(content, cache_dir=tmp_path / "cache")
    assert [s.id for s in first.steps] == [s.id for s in second.steps]
    assert second.steps[0].checks == first.steps[0].checks


def test_budget_for_an_unknown_profile_is_named(content):
    edit_first_step(content, lambda s, d: s.update(budgets={"tpu-pod": {"latency_ratio": 2.0}}))
    msg = error_for(content)
    assert "budgets.tpu-pod" in msg and "not a profile" in msg


def test_bad_budget_value_is_named(content):
    edit_first_step(content, lambda s, d: s.update(budgets={"all": {"latency_ratio": -1}}))
    assert "budgets.all.latency_ratio: must be positive" in error_for(content)


def test_unknown_budget_key_is_named(content):
    edit_first_step(content, lambda s, d: s.update(budgets={"all": {"speed": 2}}))
    assert "budgets" in error_for(content) and "speed" in error_for(content)


def test_profile_budget_overrides_the_shared_one(course):
    step = course.step("p1.activations.forward")
    assert course.budget_for(step, "cpu-8gb")["latency_ratio"] == 4.0
    assert course.budget_for(step, "gpu-16gb")["latency_ratio"] == 3.0


def _split_first_lesson_out(content: Path, entry: str, lesson_path: Path) -> dict:
    """phase1.yaml with its first lesson moved to `lesson_path`, named in `lessons:` as `entry`."""
    phase_file = content / "curriculum" / "phase1.yaml"
    data = yaml.safe_load(phase_file.read_text())
    lesson = data["lessons"][0]
    lesson_path.parent.mkdir(parents=True, exist_ok=True)
    lesson_path.write_text(yaml.safe_dump(lesson, sort_keys=False))
    data["lessons"][0] = entry
    phase_file.write_text(yaml.safe_dump(data, sort_keys=False))
    return lesson


@pytest.mark.parametrize("entry", ["phase1/neuron.yaml", "phase1/"])
def test_a_lesson_may_live_in_a_file_or_folder_of_its_own(content, entry, course):
    lesson = _split_first_lesson_out(content, entry, content / "curriculum" / "phase1" / "neuron.yaml")
    loaded = load_course(content)
    assert [s.id for s in loaded.steps] == [s.id for s in course.steps]
    assert loaded.step(lesson["steps"][0]["id"]).lesson == lesson["id"]


def test_a_folder_of_lessons_is_read_in_name_order(content, course):
    folder = content / "curriculum" / "phase1"
    _split_first_lesson_out(content, "phase1/", folder / "20-first.yaml")
    phase_file = content / "curriculum" / "phase1.yaml"
    data = yaml.safe_load(phase_file.read_text())
    second = data["lessons"].pop(1)
    (folder / "10-second.yaml").write_text(yaml.safe_dump(second, sort_keys=False))
    phase_file.write_text(yaml.safe_dump(data, sort_keys=False))
    lessons = [les.id for les in load_course(content).phases[0].lessons]
    assert lessons[:2] == [second["id"], course.phases[0].lessons[0].id]


def test_a_mistake_in_a_lesson_file_names_that_file_and_step(content):
    lesson_file = content / "curriculum" / "phase1" / "neuron.yaml"
    lesson = _split_first_lesson_out(content, "phase1/neuron.yaml", lesson_file)
    lesson["steps"][0]["colour"] = "blue"
    lesson_file.write_text(yaml.safe_dump(lesson, sort_keys=False))
    msg = error_for(content)
    assert "neuron.yaml" in msg and "p1.neuron.forward" in msg and "colour" in msg


def test_a_missing_lesson_file_is_named(content):
    phase_file = content / "curriculum" / "phase1.yaml"
    data = yaml.safe_load(phase_file.read_text())
    data["lessons"].append("phase1/nowhere.yaml")
    phase_file.write_text(yaml.safe_dump(data, sort_keys=False))
    msg = error_for(content)
    assert "phase1.yaml" in msg and "phase1/nowhere.yaml does not exist" in msg
