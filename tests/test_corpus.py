"""The built-in corpus is offline, deterministic and capped; a learner's file loads or fails clearly."""

import hashlib
import subprocess
import sys

import pytest

from mentor.corpus import CorpusError, default_corpus, load_corpus, write_default_corpus

HASH_DEFAULT = "import hashlib; from mentor.corpus import default_corpus; print(hashlib.sha256(default_corpus(50_000).encode()).hexdigest())"


def test_default_corpus_is_prose_of_the_size_asked_for():
    text = default_corpus(50_000)
    size = len(text.encode("utf-8"))
    assert 45_000 <= size <= 50_000
    assert text.count(" ") > size // 10  # words separated by spaces, not a binary blob
    assert "\x00" not in text


def test_default_corpus_is_the_same_in_every_process():
    digests = set()
    for seed in ("0", "1"):  # string hashing differs between these, so set or dict order would show
        env = {"PYTHONHASHSEED": seed, "PATH": ""}
        out = subprocess.run([sys.executable, "-c", HASH_DEFAULT], capture_output=True, text=True, env=env, check=True)
        digests.add(out.stdout.strip())
    assert digests == {hashlib.sha256(default_corpus(50_000).encode()).hexdigest()}


@pytest.mark.parametrize("cap", [0, 1, 777, 10_000, 123_457])
def test_default_corpus_respects_its_cap_and_grows_by_extension(cap):
    text = default_corpus(cap)
    assert len(text.encode("utf-8")) <= cap
    assert default_corpus(cap + 5_000).startswith(text)  # a larger cap only adds text at the end


def test_default_corpus_is_about_two_megabytes_uncapped():
    assert 500_000 < len(default_corpus(None).encode("utf-8"))


def test_negative_cap_is_an_error():
    with pytest.raises(ValueError, match="max_bytes"):
        default_corpus(-1)


def test_load_corpus_without_a_path_gives_the_default():
    assert load_corpus(max_bytes=20_000) == default_corpus(20_000)


def test_load_corpus_reads_the_learners_utf8_file(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("Grüße, 世界! 🙂\nline two\n", encoding="utf-8")
    assert load_corpus(path) == "Grüße, 世界! 🙂\nline two\n"
    assert load_corpus(str(path)) == "Grüße, 世界! 🙂\nline two\n"


@pytest.mark.parametrize("cap", range(1, 12))
def test_load_corpus_cuts_at_a_character_boundary(tmp_path, cap):
    path = tmp_path / "wide.txt"
    path.write_text("é世🙂" * 5, encoding="utf-8")  # 2-, 3- and 4-byte characters
    text = load_corpus(path, max_bytes=cap)
    assert len(text.encode("utf-8")) <= cap
    assert ("é世🙂" * 5).startswith(text)
    assert len(text.encode("utf-8")) > cap - 4  # at most one character dropped


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope.txt")


def test_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="not a file"):
        load_corpus(tmp_path)


def test_non_utf8_file_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café au lait".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"not UTF-8 text \(byte 0xe9 at offset 3\)"):
        load_corpus(path)
    with pytest.raises(CorpusError, match="not UTF-8"):
        load_corpus(path, max_bytes=6)  # the bad byte inside the cap is an error, not a cut character


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(CorpusError, match="empty"):
        load_corpus(path)


def test_write_default_corpus_round_trips(tmp_path):
    dest = write_default_corpus(tmp_path / "data" / "corpus.txt", max_bytes=30_000)
    assert dest.is_file()
    assert dest.read_bytes() == default_corpus(30_000).encode("utf-8")
    assert load_corpus(dest) == default_corpus(30_000)


def test_corpus_command_reports_writes_and_refuses_bad_files(tmp_path):
    import json

    from typer.testing import CliRunner

    from mentor.cli import app

    runner = CliRunner()
    dest = tmp_path / "data" / "corpus.txt"
    result = runner.invoke(app, ["corpus", "--max-bytes", "20000", "--write", str(dest), "--json"])
    info = json.loads(result.output)
    assert result.exit_code == 0 and info["bytes"] == 20000 and len(dest.read_bytes()) == 20000
    mine = tmp_path / "mine.txt"
    mine.write_text("héllo wörld\n", encoding="utf-8")
    assert json.loads(runner.invoke(app, ["corpus", "--file", str(mine), "--json"]).output)["characters"] == 12
    mine.write_bytes(b"\xff\xfe bad")
    bad = runner.invoke(app, ["corpus", "--file", str(mine)])
    assert bad.exit_code == 2 and "not UTF-8" in " ".join(bad.output.split())
