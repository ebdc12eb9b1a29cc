"""A pass is confirmed outside the learner's process: patching NumPy, mentor's comparison helpers,
the grader or the reference module inside the grader process makes a wrong file pass there, and
the runner catches it. Correct files pass, sealed or not yet sealed."""

import json
import os
import shutil

import numpy as np
import pytest

from mentor.grading import expect, seal
from mentor.grading.expect import Misconception, expect_equal
from mentor.grading.runner import GradeRequest, grade
from mentor.paths import content_root

GRADER = "phase1/test_neuron.py"
REFERENCE = content_root() / "solutions" / "phase1" / "neuron.py"
SOLUTION = REFERENCE.read_text()
WRONG = SOLUTION.replace("x @ w + b", "x @ w")  # forgets the bias

# A grader that compares exact values (token ids) with expect_equal rather than expect_close.
CHAR_GRADER = "phase2/test_char_tokenizer.py"
CHAR_REFERENCE = content_root() / "solutions" / "phase2" / "char_tokenizer.py"
CHAR_SOLUTION = CHAR_REFERENCE.read_text()
# Sorts case-insensitively: right on the grader's lower-case vocabularies, wrong on its 'THE END!'.
CHAR_WRONG = CHAR_SOLUTION.replace("sorted(set(text))", "sorted(set(text), key=str.lower)")

# Each makes the wrong file pass inside the grader process, in a different way.
PATCH_COMPARISON = """
import mentor.grading.expect as _e
_e._allclose = lambda *a, **k: True
"""


def patch_reference(name: str) -> str:
    """Code that makes the reference module use the learner's `name` instead of its own."""
    return f"""
import sys as _sys
for _name, _mod in list(_sys.modules.items()):
    if _name.startswith("reference_"):
        _mod.{name} = {name}
"""


PATCH_REFERENCE = patch_reference("neuron_forward")
PATCH_CHAR_REFERENCE = patch_reference("CharTokenizer")
SILENCE_GRADER = """
import sys as _sys
for _mod in list(_sys.modules.values()):
    if getattr(_mod, "__file__", "") and _mod.__file__.endswith("test_neuron.py"):
        _mod.expect_close = lambda *a, **k: None
        _mod.expect_shape = lambda *a, **k: None
"""


def run(tmp_path, source, grader=GRADER, reference=REFERENCE):
    sub = tmp_path / reference.name
    sub.write_text(source)
    return grade(GradeRequest(grader, sub, reference, tmp_path))


def sealed_entries():
    return sorted((seal.cache_root() / "seals").glob("*/seal.json"))


def test_a_correct_file_passes_and_its_grader_is_sealed_once(tmp_path, monkeypatch):
    monkeypatch.setenv("MENTOR_CACHE_DIR", str(tmp_path / "cache"))
    first = run(tmp_path, SOLUTION.replace("x @ w + b", "b + x @ w"))  # not sealed yet: the reference runs too
    assert first.status == "passed", [(t.name, t.message) for t in first.tests]
    [entry] = sealed_entries()
    records = json.loads(entry.read_text())["records"]
    assert len(records) == 5 and all(records.values())  # every test compared something
    again = run(tmp_path, SOLUTION)
    assert again.status == "passed" and sealed_entries() == [entry]


def test_patching_the_comparison_inside_the_process_is_caught(tmp_path):
    result = run(tmp_path, WRONG + PATCH_COMPARISON)
    assert result.status == "tampered", (result.status, result.message)
    flagged = [t for t in result.tests if t.kind == "tampered"]
    assert flagged and all("does not match the expected one" in t.message for t in flagged)
    assert "neuron.py" in result.message


def test_patching_the_reference_module_is_caught_as_changed_expected_values(tmp_path):
    result = run(tmp_path, WRONG + PATCH_COMPARISON + PATCH_REFERENCE)
    assert result.status == "tampered"
    assert any("expected value changed" in t.message for t in result.tests if t.kind == "tampered")


def test_silencing_the_graders_comparisons_is_caught(tmp_path):
    result = run(tmp_path, WRONG + SILENCE_GRADER)
    assert result.status == "tampered"
    assert any("without making any of the grader's comparisons" in t.message for t in result.tests)


def test_switching_the_recorder_off_is_caught(tmp_path):
    off = PATCH_COMPARISON + "_e.recorder = None\n"
    result = run(tmp_path, WRONG + off)
    assert result.status == "tampered"


def test_without_the_seal_each_trick_would_have_passed(tmp_path, monkeypatch):
    """The tricks above really fool the in-process grader: confirmation is what stops them."""
    monkeypatch.setattr("mentor.grading.runner._confirm", lambda req, result, *rest: result)
    for trick in (PATCH_COMPARISON, PATCH_COMPARISON + PATCH_REFERENCE, SILENCE_GRADER):
        assert run(tmp_path, WRONG + trick).status == "passed"
    tokenizer = run(tmp_path, CHAR_WRONG + PATCH_CHAR_REFERENCE, CHAR_GRADER, CHAR_REFERENCE)
    assert tokenizer.status == "passed"


def test_patching_the_reference_is_caught_where_exact_values_are_compared(tmp_path):
    result = run(tmp_path, CHAR_WRONG + PATCH_CHAR_REFERENCE, CHAR_GRADER, CHAR_REFERENCE)
    assert result.status == "tampered", (result.status, result.message)
    flagged = [t for t in result.tests if t.kind == "tampered"]
    assert [t.name for t in flagged] == ["test_ids_follow_sorted_characters"]
    assert "expected value changed" in flagged[0].message


def test_a_correct_tokenizer_file_is_confirmed(tmp_path):
    result = run(tmp_path, CHAR_SOLUTION + "\n# the learner's own copy\n", CHAR_GRADER, CHAR_REFERENCE)
    assert result.status == "passed", [(t.name, t.kind, t.message) for t in result.tests]


def test_a_damaged_or_deleted_seal_is_made_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MENTOR_CACHE_DIR", str(tmp_path / "cache"))
    assert run(tmp_path, SOLUTION).status == "passed"
    [entry] = sealed_entries()
    entry.write_text("{not json")
    assert run(tmp_path, SOLUTION).status == "passed"  # the damaged entry is not trusted ...
    assert run(tmp_path, WRONG + PATCH_COMPARISON).status == "tampered"  # ... nor needed to catch this
    shutil.rmtree(entry.parent)
    assert run(tmp_path, WRONG + PATCH_COMPARISON).status == "tampered"
    [entry] = sealed_entries()
    next(entry.parent.glob("*.want.npy")).unlink()  # an entry missing a value is made again, not held against you
    assert run(tmp_path, SOLUTION).status == "passed"
    records = json.loads(entry.read_text())["records"]
    assert len(list(entry.parent.glob("*.want.npy"))) == sum(len(by_key) for by_key in records.values())


def test_the_seal_key_follows_the_reference_and_the_profile(tmp_path):
    base = seal.seal_key(GRADER, REFERENCE, {"profile": "cpu-8gb"})
    assert base == seal.seal_key(GRADER, REFERENCE, {"profile": "cpu-8gb"})
    assert base != seal.seal_key(GRADER, REFERENCE, {"profile": "gpu-16gb"})
    copy = tmp_path / "neuron.py"
    copy.write_text(SOLUTION + "\n# changed\n")
    assert base != seal.seal_key(GRADER, copy, {"profile": "cpu-8gb"})


def _sealed_pair(tmp_path, want, got):
    """A seal of one comparison whose expected value is `want`, and a run that compared `got` with it."""
    ref, run = tmp_path / "ref", tmp_path / "run"
    for folder, value in ((ref, want), (run, got)):
        folder.mkdir(parents=True)
        np.save(folder / "1.want.npy", want, allow_pickle=False)
        np.save(folder / "1.got.npy", value, allow_pickle=False)
    record = {"test": "t::a", "key": "test_x.py:9#0", "file": "1", "rtol": 1e-6, "atol": 1e-8}
    key = os.urandom(8).hex()
    seal.keep(key, ["t::a"], [record], ref)
    return seal.verify(seal.load(key), ["t::a"], ["t::a"], [record], run)


def test_equal_bytes_confirm_a_comparison_only_when_no_nan_is_in_it(tmp_path):
    values = np.linspace(0.0, 1.0, 50)
    assert _sealed_pair(tmp_path / "same", values, values.copy()) == {}
    assert _sealed_pair(tmp_path / "close", values, values * (1 + 1e-9)) == {}
    assert "does not match" in _sealed_pair(tmp_path / "far", values, values + 1.0)["t::a"]
    with_nan = values.copy()
    with_nan[3] = np.nan  # equal to the bit, and still never close: NaN is not a value
    assert "changed" in _sealed_pair(tmp_path / "nan", with_nan, with_nan.copy())["t::a"]


def test_npy_files_are_read_back_exactly_without_numpy(tmp_path):
    import numpy as np

    cases = [
        np.linspace(-3, 3, 12).reshape(3, 4),
        np.array([1.5, -np.inf, np.nan], dtype=np.float32),
        np.array([0.5, 2.0], dtype=np.float16),
        np.arange(6, dtype=np.int64).reshape(2, 3),
        np.array([True, False]),
        np.array(2.5),
    ]
    for i, arr in enumerate(cases):
        np.save(tmp_path / f"{i}.npy", arr, allow_pickle=False)
        shape, values = seal.read_npy(tmp_path / f"{i}.npy")
        assert shape == arr.shape
        assert np.array_equal(np.array(values, dtype=arr.dtype).reshape(shape), arr, equal_nan=arr.dtype.kind == "f")
    cut = tmp_path / "cut.npy"
    cut.write_bytes((tmp_path / "0.npy").read_bytes()[:-8])  # one value short
    with pytest.raises(ValueError, match="bytes of values"):
        seal.read_npy(cut)


def test_pure_python_closeness_agrees_with_numpy_allclose():
    import numpy as np

    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.normal(size=5)
        b = a + rng.normal(scale=10.0 ** rng.integers(-9, 0), size=5)
        b[rng.integers(0, 5)] = rng.choice([b[0], np.inf, np.nan])
        for rtol, atol in ((1e-6, 1e-8), (0.0, 0.0), (1e-3, 0.0)):
            want = bool(np.allclose(a, b, rtol=rtol, atol=atol))
            assert seal._close(((5,), tuple(a)), ((5,), tuple(b)), rtol, atol) == want
    assert not seal._close(((2,), (1.0, 2.0)), ((1, 2), (1.0, 2.0)), 1.0, 1.0)  # shapes must agree


@pytest.mark.parametrize("size", [1, 7, 100_000])
def test_closeness_agrees_with_numpy_allclose_on_every_path(size):
    """Equal lists, close lists, infinities on either side, NaN, one value off at the end."""
    rng = np.random.default_rng(size)
    a = rng.normal(size=size)
    cases = [a.copy(), a * (1 + 1e-9), a + 1e-3]
    for special in (np.inf, -np.inf, np.nan):
        for where in ("both", "a", "b"):
            x, y = a.copy(), a * (1 + 1e-9)
            if where in ("both", "a"):
                x[-1] = special
            if where in ("both", "b"):
                y[-1] = special
            cases.append((x, y))
    off = a.copy()
    off[-1] += 1.0
    pairs = [(a, c) for c in cases[:3]] + cases[3:] + [(a, off), (off, a)]
    for x, y in pairs:
        for rtol, atol in ((1e-6, 1e-8), (0.0, 0.0), (1e-3, 0.0)):
            want = bool(np.allclose(x, y, rtol=rtol, atol=atol))
            assert seal._close(((size,), x.tolist()), ((size,), y.tolist()), rtol, atol) == want, (x[-1], y[-1], rtol)


class AlwaysEqual:
    def __eq__(self, other):
        return True


class LyingInt(int):
    """An int that claims to equal anything, and to be any int it is turned into."""

    def __eq__(self, other):
        return True

    def __int__(self):
        return 3

    __hash__ = int.__hash__


def test_expect_equal_passes_equal_plain_values():
    expect_equal([0, 1, 3, 3], [0, 1, 3, 3], "why")
    expect_equal([(97, 98), (256, 99)], [(97, 98), (256, 99)], "why")
    expect_equal("h\ufffdi", "h\ufffdi", "why")
    expect_equal(list(np.array([0, 1, 3])), [0, 1, 3], "why")  # NumPy integers are the ints they hold
    expect_equal(1234.0, 1234, "why")  # a whole float equals its int, as == has it


def test_an_object_whose_eq_always_says_true_does_not_pass():
    with pytest.raises(Misconception) as caught:
        expect_equal([0, AlwaysEqual(), 3], [0, 1, 3], "ids differ")
    assert caught.value.why == "ids differ"
    assert "at [1] has type AlwaysEqual" in caught.value.diff


def test_an_int_subclass_is_compared_by_the_int_it_holds():
    expect_equal(LyingInt(3), 3, "why")
    with pytest.raises(Misconception) as caught:
        expect_equal([LyingInt(2)], [3], "ids differ", "my diff")
    assert (caught.value.why, caught.value.diff) == ("ids differ", "my diff")


def test_a_value_of_another_type_is_a_misconception_naming_it():
    for wrong, kind in (({0, 1}, "set"), (np.array([0.0, 1.0]), "ndarray")):
        with pytest.raises(Misconception) as caught:
            expect_equal(wrong, [0, 1], "encode returns a list of ids")
        assert caught.value.why == "encode returns a list of ids"
        assert f"your value has type {kind}" in caught.value.diff


def test_without_a_diff_both_values_are_shown_abbreviated():
    with pytest.raises(Misconception) as caught:
        expect_equal(list(range(100)), "01", "why")
    assert caught.value.diff == "got [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ...], expected '01'"


def test_expect_equal_records_an_exact_comparison_the_seal_reads_back(tmp_path, monkeypatch):
    recorded = []
    monkeypatch.setattr(expect, "recorder", lambda got, want, rtol, atol: recorded.append((got, want, rtol, atol)))
    expect_equal({"ids": (104, 195), 1: b"\xc3"}, {1: b"\xc3", "ids": [104, 195]}, "why")
    [(got, want, rtol, atol)] = recorded
    assert (rtol, atol) == (0.0, 0.0)
    np.save(tmp_path / "got.npy", got, allow_pickle=False)
    np.save(tmp_path / "want.npy", want, allow_pickle=False)
    read = seal.read_npy(tmp_path / "got.npy")
    assert bytes(read[1]) == got.tobytes() and seal._close(read, seal.read_npy(tmp_path / "want.npy"), 0.0, 0.0)


def test_the_recorder_keeps_a_0d_value_apart_from_a_one_element_array(tmp_path):
    """Through the recorder both sides keep their shapes, so the seal refuses () against (1,) as it refuses (2, 3) against (3, 2)."""
    lines = []
    recorder = seal.Recorder(str(tmp_path), lines.append)
    recorder.start("t::a")
    recorder(np.array([2.5]), np.array(2.5), 1e-6, 1e-8)
    recorder(np.arange(6.0).reshape(2, 3).T, np.arange(6.0).reshape(2, 3).T.copy(), 0.0, 0.0)  # a transposed view
    (first, second) = (line["seal"] for line in lines)
    got, want = (seal.read_npy(tmp_path / f"{first['file']}.{side}.npy") for side in ("got", "want"))
    assert (got[0], want[0]) == ((1,), ()) and not seal._close(got, want, 1e-6, 1e-8)
    got, want = (seal.read_npy(tmp_path / f"{second['file']}.{side}.npy") for side in ("got", "want"))
    assert got == want and got[0] == (3, 2) and got[1] == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
