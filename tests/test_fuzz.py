"""Generated course files and generated submissions, for a bounded time: the loader answers with
a CurriculumError or a course, the grader with a verdict; neither crashes, neither passes junk."""

import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mentor.curriculum import CurriculumError, load_course
from mentor.grading.runner import GradeRequest, grade
from mentor.content import copy_shipped
from mentor.paths import content_root

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True), st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
STEP_FIELDS = ["id", "title", "objective", "concept", "task", "exercise", "solution", "grader", "hints", "checks", "requires", "timeout_s", "memory_mb", "budgets"]


@pytest.fixture(scope="module")
def content(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "content"
    copy_shipped(content_root(), root, ("curriculum", "exercises", "solutions"))
    return root


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(STEP_FIELDS), value=VALUES, drop=st.booleans(), index=st.integers(0, 6))
def test_a_mangled_step_is_loaded_or_refused_with_a_curriculum_error(content, field, value, drop, index):
    path = content / "curriculum" / "phase1.yaml"
    original = path.read_text()
    data = yaml.safe_load(original)
    steps = [s for lesson in data["lessons"] for s in lesson["steps"]]
    step = steps[index % len(steps)]
    if drop:
        step.pop(field, None)
    else:
        step[field] = value
    try:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        try:
            load_course(content)
        except CurriculumError as e:
            assert str(e).startswith(str(content)), e  # names the file
    finally:
        path.write_text(original)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400))
def test_arbitrary_yaml_text_never_escapes_as_another_exception(content, text):
    path = content / "curriculum" / "phase1.yaml"
    original = path.read_text()
    try:
        path.write_text(text)
        with pytest.raises(CurriculumError):
            load_course(content)
    finally:
        path.write_text(original)


MISBEHAVIOURS = [
    "import os; os._exit(3)",
    "raise SystemExit(0)",
    "def neuron_forward(*a, **k):\n    return None",
    "def neuron_forward(*a, **k):\n    raise RuntimeError('x')",
    "neuron_forward = 3",
    "import sys; sys.modules['numpy'] = None",
    "def neuron_forward(x, w, b, activation=None):\n    return x",
    "import builtins; builtins.print = None",
    "def neuron_forward(x, w, b, activation=None):\n    import pytest; pytest.exit('done', returncode=0)",
]


@settings(max_examples=12, deadline=None, derandomize=True)
@given(parts=st.lists(st.sampled_from(MISBEHAVIOURS) | st.text(max_size=40), min_size=1, max_size=3))
def test_generated_submissions_never_pass_and_always_get_a_verdict(tmp_path_factory, parts):
    folder = tmp_path_factory.mktemp("sub")
    sub = folder / "neuron.py"
    sub.write_text("\n".join(parts) + "\n")
    reference = content_root() / "solutions" / "phase1" / "neuron.py"
    result = grade(GradeRequest("phase1/test_neuron.py", sub, reference, folder, timeout_s=20))
    assert result.status in {"failed", "not_started", "error", "timeout", "memory", "crashed", "tampered"}
    assert result.message
