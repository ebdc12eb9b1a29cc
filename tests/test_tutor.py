"""`mentor ask` against a real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions protocol.

The server (stdlib http.server in a thread, ephemeral port) answers /v1/models and
/v1/chat/completions, streamed as server-sent events or not, and can be told to fail: a status
code, a stall longer than the client's timeout, a pause in the middle of a stream.
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from mentor import tutor
from mentor.checks import AnswerError, is_correct, rubric_verdict
from mentor.cli import app
from mentor.curriculum import Answer, Check
from mentor.content import copy_shipped
from mentor.paths import content_root
from mentor.progress import ProgressStore

FIRST = "p1.neuron.forward"
KEY = "sk-test-5ecret-k3y-never-shown"
MODEL = "tiny-tutor"
runner = CliRunner()


# -- the server ----------------------------------------------------------------------------------
class FakeLLM:
    """What the server will do next, and every request it received."""

    def __init__(self):
        self.requests: list[dict] = []
        self.reply = "What does `b` add to each row?\n\nTry a batch of one by hand."
        self.status = 200
        self.stall_s = 0.0  # before any byte of the response
        self.pause_after_first_block_s = 0.0  # in the middle of a stream
        self.models = [MODEL]
        self.release = threading.Event()  # ends every stall at teardown
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
                if fake.status != 200:
                    return self._error()
                self._json({"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "t"} for m in fake.models]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if fake.stall_s and fake.release.wait(fake.stall_s):
                    return
                if fake.status != 200:
                    return self._error()
                if body.get("stream"):
                    return self._stream(body)
                message = {"role": "assistant", "content": fake.reply}
                self._json({
                    "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57},
                })  # fmt: skip

            def _stream(self, body):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                blocks = fake.reply.split("\n\n")
                for i, block in enumerate(blocks):
                    text = block + ("\n\n" if i < len(blocks) - 1 else "")
                    for j in range(0, len(text), 7):  # token-sized pieces
                        self._event({"choices": [{"index": 0, "delta": {"content": text[j : j + 7]}, "finish_reason": None}]}, body)
                    if i == 0 and fake.pause_after_first_block_s and fake.release.wait(fake.pause_after_first_block_s):
                        return
                if (body.get("stream_options") or {}).get("include_usage"):
                    self._event({"choices": [], "usage": {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}}, body)
                self.wfile.write(b"data: [DONE]\n\n")

            def _event(self, data, body):
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"], **data}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

            def _error(self):
                # A server that echoes the credentials it was sent: they must not reach the learner.
                self._json({"error": {"message": f"no: {self.headers.get('Authorization')}", "type": "x"}}, fake.status)

            def _json(self, data, status=200):
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@pytest.fixture
def llm():
    fake = FakeLLM()
    fake.thread.start()
    yield fake
    fake.release.set()
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join(timeout=5)
    assert not fake.thread.is_alive()


# -- workspaces and settings -----------------------------------------------------------------------
@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Every connection made in this process goes to 127.0.0.1, or the test fails.

    A refused address is recorded and checked at teardown: the tutor turns any connection error
    into its offline answer, so an exception alone would go unnoticed.
    """
    connect, elsewhere = socket.socket.connect, []

    def guarded(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1"):
            elsewhere.append(address)
            raise ConnectionRefusedError(f"the tests connect to 127.0.0.1 only, not {address}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MENTOR_MODEL", "MENTOR_TUTOR_TIMEOUT", "MENTOR_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    yield elsewhere
    assert elsewhere == [], f"connections outside 127.0.0.1: {elsewhere}"


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "ws"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    monkeypatch.chdir(root)
    monkeypatch.setenv("COLUMNS", "200")
    return root


@pytest.fixture
def online(llm, monkeypatch):
    """The tutor configured, through the environment, to use the test server."""
    assert urlsplit(llm.url).hostname == "127.0.0.1"
    monkeypatch.setenv("OPENAI_BASE_URL", llm.url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("MENTOR_MODEL", MODEL)
    monkeypatch.setenv("MENTOR_TUTOR_TIMEOUT", "2")
    return llm


def mentor(*args: str):
    return runner.invoke(app, list(args))


def step(step_id=FIRST):
    from mentor.curriculum import load_course

    return load_course(content_root()).step(step_id)


def fail_the_bias_test(ws: Path) -> None:
    """The reference with the bias dropped, checked: the last grader report says `bias is missing`."""
    path = ws / step().exercise
    path.write_text((content_root() / step().solution).read_text().replace("x @ w + b", "x @ w  # my attempt 42"))
    assert mentor("check").exit_code == 1


def tutor_rows(ws: Path) -> list[dict]:
    return ProgressStore(ws / "progress.db").tutor_history(FIRST, 100)


def store_bytes(ws: Path) -> bytes:
    return b"".join(p.read_bytes() for p in ws.glob("progress.db*"))


# -- grounding -------------------------------------------------------------------------------------
def test_the_request_carries_the_grounded_context(ws, online):
    fail_the_bias_test(ws)
    mentor("hint")
    result = mentor("ask", "-q", "why does the bias test fail?")
    assert result.exit_code == 0, result.output
    (request,) = online.chat_requests()
    body = request["body"]
    context = "\n".join(m["content"] for m in body["messages"])
    s = step()
    for expected in (s.objective, "# my attempt 42", "bias is missing", "test_bias_added_once", s.hints[0], "why does the bias test fail?"):
        assert expected in context, expected
    assert s.hints[1] not in context  # only the hints already seen
    assert "x @ w + b" not in context  # the reference solution is never sent
    assert body["model"] == MODEL and body["stream"] is True
    assert request["auth"] == f"Bearer {KEY}"


def test_the_conversation_on_the_step_is_remembered(ws, online):
    mentor("ask", "-q", "first question")
    mentor("ask", "-q", "second question")
    messages = online.chat_requests()[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "first question" and "What does `b` add" in messages[2]["content"]


# -- streaming and the log -------------------------------------------------------------------------
def test_the_streamed_answer_is_shown_and_logged(ws, online):
    result = mentor("ask", "-q", "where do I start?")
    assert result.exit_code == 0, result.output
    assert "What does b add to each row?" in result.output and "Try a batch of one by hand." in result.output
    assert "Tutor offline" not in result.output
    (row,) = tutor_rows(ws)
    assert row["question"] == "where do I start?" and "Try a batch of one" in row["answer"]
    assert (row["model"], row["prompt_tokens"], row["completion_tokens"], row["withheld"], row["offline_reason"]) == (MODEL, 321, 12, 0, None)


def test_no_log_and_log_false_keep_questions_out_of_the_store(ws, online):
    assert mentor("ask", "-q", "private", "--no-log").exit_code == 0
    (ws / "mentor.toml").write_text((ws / "mentor.toml").read_text() + "\n[tutor]\nlog = false\n")
    assert mentor("ask", "-q", "also private").exit_code == 0
    assert len(online.chat_requests()) == 2 and tutor_rows(ws) == []


def test_the_api_key_is_never_stored_or_printed(ws, online):
    outputs = [mentor("ask", "-q", "hello").output, mentor("ask", "--check-connection").output]
    online.status = 401  # the server echoes the Authorization header in its error body
    outputs += [mentor("ask", "-q", "hello again").output, mentor("ask", "--check-connection").output]
    assert online.requests and all(r["auth"] == f"Bearer {KEY}" for r in online.requests)
    assert not any(KEY in out for out in outputs)
    assert len(tutor_rows(ws)) == 2 and KEY.encode() not in store_bytes(ws)


# -- no spoilers -----------------------------------------------------------------------------------
SPOILER = (
    "Here is the fixed function:\n\n```python\n"
    "def neuron_forward(x, w, b, activation=None):\n"
    "    z = x @ w + b\n"
    "    return z if activation is None else activation(z)\n```\n\nThat should do it."
)


def test_a_reply_with_the_reference_solution_is_withheld(ws, online):
    fail_the_bias_test(ws)
    online.reply = SPOILER
    result = mentor("ask", "-q", "just give me the code")
    assert result.exit_code == 0, result.output
    assert "x @ w + b" not in result.output and "Held back" in result.output
    assert "test_bias_added_once" in result.output  # the nudge points at the failing test
    (row,) = tutor_rows(ws)
    assert row["withheld"] == 1 and "x @ w + b" not in row["answer"]


def test_what_the_learner_was_already_shown_is_no_spoiler(ws, online):
    fail_the_bias_test(ws)
    for _ in step().hints:  # the last hint spells out the line
        mentor("hint")
    online.reply = "The line you need is `z = x @ w + b`, as the last hint says. Why the `+ b`?"
    result = mentor("ask", "-q", "what was that hint again?")
    assert "z = x @ w + b" in result.output and "Held back" not in result.output


# -- ground truth wins -----------------------------------------------------------------------------
def test_an_answer_calling_failing_code_correct_gets_the_graders_note(ws, online):
    fail_the_bias_test(ws)
    online.reply = "Your code is correct, nothing to change."
    result = mentor("ask", "-q", "is it right?")
    assert "Your code is correct" in result.output
    assert "the grader disagrees" in result.output and "test_bias_added_once" in result.output
    assert "grader disagrees" in tutor_rows(ws)[0]["answer"]


def test_no_note_when_the_answer_agrees_with_the_grader(ws, online):
    fail_the_bias_test(ws)
    online.reply = "Your code is not correct yet: what happens to b?"
    assert "grader disagrees" not in mentor("ask", "-q", "is it right?").output


# -- offline, within a bounded time -----------------------------------------------------------------
def assert_offline(result, reason: str, started: float, bound_s: float = 8.0):
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert elapsed < bound_s, f"fell back after {elapsed:.1f}s"
    lines = [line for line in result.output.splitlines() if "Tutor offline" in line]
    assert len(lines) == 1 and reason in lines[0], result.output
    assert "bias is missing" in result.output and "shows hint 1/3 (recorded)" in result.output  # offline: the next hint is offered, not spent
    assert KEY not in result.output


@pytest.mark.parametrize("status,reason", [(500, "server error (500)"), (401, "refused the API key (401)"), (429, "rate-limiting")])
def test_a_failing_server_falls_back_offline(ws, online, status, reason):
    fail_the_bias_test(ws)
    online.status = status
    started = time.monotonic()
    assert_offline(mentor("ask", "-q", "help"), reason, started)
    (row,) = tutor_rows(ws)
    assert row["question"] == "help" and reason in row["offline_reason"]


def test_a_stalled_server_falls_back_offline_after_the_timeout(ws, online, monkeypatch):
    fail_the_bias_test(ws)
    monkeypatch.delenv("MENTOR_TUTOR_TIMEOUT")
    (ws / "mentor.toml").write_text((ws / "mentor.toml").read_text() + "\n[tutor]\ntimeout_s = 1\n")
    online.stall_s = 30
    started = time.monotonic()
    assert_offline(mentor("ask", "-q", "help"), "did not answer within 1 s", started, bound_s=5)


def test_a_refused_connection_falls_back_offline(ws, monkeypatch):
    fail_the_bias_test(ws)
    with socket.socket() as s:  # a port nobody listens on any more
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("MENTOR_MODEL", MODEL)
    started = time.monotonic()
    assert_offline(mentor("ask", "-q", "help"), "cannot connect to", started)


def test_without_an_endpoint_the_question_is_still_recorded(ws):
    fail_the_bias_test(ws)
    started = time.monotonic()
    assert_offline(mentor("ask", "-q", "anyone there?"), "no tutor endpoint is configured", started)
    (row,) = tutor_rows(ws)
    assert row["question"] == "anyone there?" and "bias is missing" in row["answer"] and row["model"] is None


def test_a_stream_that_stalls_midway_keeps_what_was_shown(ws, online):
    online.reply = "First, look at the shapes.\n\nSecond, never arrives."
    online.pause_after_first_block_s = 30
    started = time.monotonic()
    result = mentor("ask", "-q", "help")
    assert time.monotonic() - started < 8
    assert result.exit_code == 0 and "First, look at the shapes." in result.output
    assert "Second" not in result.output and "stopped early" in result.output and "Tutor offline" not in result.output


def test_ctrl_c_stops_the_stream_and_keeps_what_arrived(ws, online):
    online.reply = "First, look at the shapes.\n\nSecond, never arrives."
    online.pause_after_first_block_s = 30
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-m", "mentor", "ask", "-q", "help"], cwd=ws, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = b""
    deadline = time.monotonic() + 20
    while b"First, look at the shapes." not in seen and time.monotonic() < deadline:
        seen += os.read(proc.stdout.fileno(), 4096)
    assert b"First, look at the shapes." in seen
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - started < 5
    assert proc.returncode == 130 and b"Traceback" not in err and b"Stopped" in out
    (row,) = tutor_rows(ws)
    assert row["interrupted"] == 1 and "First, look at the shapes." in row["answer"] and "Second" not in row["answer"]


# -- the connection check ----------------------------------------------------------------------------
def test_check_connection_names_the_model(ws, online):
    result = mentor("ask", "--check-connection")
    assert result.exit_code == 0 and "answers" in result.output and MODEL in result.output


def test_check_connection_without_a_model_setting_takes_the_served_one(ws, online, monkeypatch):
    monkeypatch.delenv("MENTOR_MODEL")
    online.models = ["llama-local"]
    result = mentor("ask", "--check-connection")
    assert result.exit_code == 0 and "llama-local" in result.output


def test_check_connection_says_why_not(ws, online, monkeypatch):
    monkeypatch.setenv("MENTOR_MODEL", "no-such-model")
    result = mentor("ask", "--check-connection")
    assert result.exit_code == 1 and "no model 'no-such-model'" in result.output and MODEL in result.output
    online.status = 500
    result = mentor("ask", "--check-connection")
    assert result.exit_code == 1 and "500" in result.output
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    result = mentor("ask", "--check-connection")
    assert result.exit_code == 1 and "no tutor endpoint" in result.output


def test_the_loopback_guard_sees_other_addresses(ws, loopback_only, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://192.0.2.1/v1")  # TEST-NET-1: never routed
    result = mentor("ask", "-q", "help")
    assert "Tutor offline: cannot connect" in result.output
    assert loopback_only == [("192.0.2.1", 80)]
    loopback_only.clear()


# -- configuration -----------------------------------------------------------------------------------
def write_tutor_table(root: Path, text: str) -> None:
    (root / "mentor.toml").write_text(f"[workspace]\n\n[tutor]\n{text}\n")


def test_the_environment_wins_over_the_file(tmp_path):
    write_tutor_table(tmp_path, 'base_url = "http://127.0.0.1:1/v1"\nmodel = "file-model"\napi_key_env = "MY_KEY"\ntimeout_s = 5')
    from_file = tutor.load_config(tmp_path, {"MY_KEY": KEY})
    assert (from_file.base_url, from_file.model, from_file.api_key, from_file.timeout_s) == ("http://127.0.0.1:1/v1", "file-model", KEY, 5)
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:2/v1", "MENTOR_MODEL": "env-model", "MENTOR_TUTOR_TIMEOUT": "3", "MY_KEY": KEY}
    from_env = tutor.load_config(tmp_path, env)
    assert (from_env.base_url, from_env.model, from_env.timeout_s) == ("http://127.0.0.1:2/v1", "env-model", 3)
    assert KEY not in repr(from_env)


def test_nothing_configured_means_offline(tmp_path):
    write_tutor_table(tmp_path, "")
    assert not tutor.load_config(tmp_path, {}).configured


@pytest.mark.parametrize("line,problem", [('api_key = "sk-abc"', "does not belong in a file"), ("colour = 1", "unknown setting"), ("timeout_s = -1", "positive")])
def test_a_bad_tutor_table_is_one_clear_error(ws, line, problem):
    write_tutor_table(ws, line)
    result = mentor("ask", "-q", "x")
    assert result.exit_code == 2 and problem in result.output and "sk-abc" not in result.output


# -- the guards as units -------------------------------------------------------------------------------
REFERENCE = '''"""A reference with four functions."""
import numpy as np


def relu(x):
    """Elementwise max(0, x)."""
    return np.maximum(x, 0.0)  # not np.max: that reduces


def sigmoid(x):
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def tanh(x):
    return 2.0 * sigmoid(2.0 * x) - 1.0


def softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)
'''


def test_the_guard_catches_a_copy_however_it_is_wrapped():
    guard = tutor.SpoilerGuard.for_reference(REFERENCE, known=[])
    body = REFERENCE.split("import numpy as np")[1]
    assert guard.leaks(f"Sure:\n```python\n{body}\n```")
    assert guard.leaks(body.replace("    ", "\t").replace(" = ", "="))
    rewrapped = " ".join(line for unit in tutor.code_units(REFERENCE) for line in unit)  # run together in prose
    assert guard.leaks(rewrapped)


def test_the_guard_lets_questions_and_a_single_line_through():
    guard = tutor.SpoilerGuard.for_reference(REFERENCE, known=[])
    assert not guard.leaks("Which axis does your max reduce over? Compare `x.max(axis=axis)` with `x.max()`.")
    assert not guard.leaks("Try `shifted = x - x.max(axis=axis, keepdims=True)` and print its shape.")
    assert not guard.leaks("What does np.exp do for x = 1000? Why subtract the max first?")


def test_the_guard_ignores_what_the_stub_already_shows():
    stub = "def relu(x):\n    raise NotImplementedError\n"
    guard = tutor.SpoilerGuard.for_reference(REFERENCE, known=[stub])
    assert not any("defrelu(x):" in lines for lines, _ in guard.units) and not guard.leaks("def relu(x):")


def test_code_is_released_only_as_whole_blocks():
    splitter = tutor.BlockSplitter()
    assert splitter.feed("A question?\n\n```py") == ["A question?"]
    assert splitter.feed("thon\nline one\n\nline two\n") == []  # a blank line inside a fence does not end it
    assert splitter.feed("```\nAfter.") == ["```python\nline one\n\nline two\n```"]
    assert splitter.rest() == "After."


@pytest.mark.parametrize(
    "answer,claims",
    [
        ("Your code is correct.", True), ("This looks right to me!", True), ("The implementation works.", True),
        ("There are no bugs here.", True), ("Your code is not correct yet.", False), ("Is your code correct? Check b.", False),
    ],
)  # fmt: skip
def test_claims_of_correctness_are_recognised(answer, claims):
    failed = {"passed": 0, "message": "1 of 5 tests failed.", "tests": [{"name": "test_bias", "outcome": "failed"}]}
    assert (tutor.grader_note(answer, failed) is not None) is claims
    assert tutor.grader_note(answer, {**failed, "passed": 1}) is None


# -- the store ---------------------------------------------------------------------------------------
def test_a_version_1_store_migrates_to_the_current_version_without_losing_rows(tmp_path):
    from mentor import progress

    path = tmp_path / "progress.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = progress._sqlite_utils().Database(conn)
    progress._migration_1(db)  # the store as a version-1 mentor left it
    attempt = db["attempts"].insert({"step_id": "a", "at": 1.0, "duration_s": 0.5, "status": "failed", "passed": 0}).last_pk
    db["test_results"].insert({"attempt_id": attempt, "name": "t", "outcome": "failed", "message": "m"})
    db["hints"].insert({"step_id": "a", "tier": 1, "at": 2.0})
    db["answers"].insert({"step_id": "a", "check_id": "flops", "answer": "1", "correct": 0, "at": 3.0})
    conn.execute("PRAGMA user_version = 1")
    before = {t: conn.execute(f"SELECT * FROM {t}").fetchall() for t in ("attempts", "test_results", "hints", "answers")}
    conn.close()

    store = ProgressStore(path)
    store.record_tutor("a", "why?", "because", model=MODEL, prompt_tokens=3)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == progress.SCHEMA_VERSION
    # Later migrations may add columns (answers.context); the version-1 columns keep every value.
    assert {t: [row[: len(before[t][0])] for row in conn.execute(f"SELECT * FROM {t}")] for t in before} == before
    conn.close()
    assert store.records().of("a").attempts == 1 and store.records().of("a").hints_seen == 1
    assert [r["question"] for r in store.tutor_history("a")] == ["why?"] and store.records().of("a").questions == 1
    assert len(store.export()["tables"]["tutor_log"]) == 1


# -- free-text reasoning checks -------------------------------------------------------------------------
WHY = Check(
    id="why-scale",
    ask="Why do we scale the scores by 1/sqrt(d_k)?",
    answer=Answer(rubric=[["variance", "grows with d_k", "std"], ["softmax saturat", "vanishing gradient", "small gradient"]]),
)


def test_the_offline_rubric_names_the_missing_ideas_by_number():
    verdict = rubric_verdict(WHY, "Because the Variance of q·k grows with d_k.")
    assert not verdict.correct and verdict.found == [1] and verdict.missing == [2]
    assert "not yet: idea 2" in verdict.describe() and "softmax" not in verdict.describe()
    assert is_correct(WHY, "the variance grows, so the softmax saturates and gradients vanish")
    assert not is_correct(WHY, "it is the covariance standard")  # phrasings start at a word boundary
    with pytest.raises(AnswerError):
        is_correct(WHY, "   ")


def test_the_model_judges_free_text_against_the_rubric(llm):
    config = tutor.TutorConfig(base_url=llm.url, model=MODEL, timeout_s=2)
    answer = "Large dot products make the softmax peaky, so learning stalls."
    llm.reply = json.dumps({"ideas": [{"idea": 1, "present": False, "evidence": ""}, {"idea": 2, "present": True, "evidence": "make the softmax peaky"}]})
    verdict = tutor.judge_answer(config, WHY, answer)
    assert (verdict.found, verdict.missing, verdict.judged_by) == ([2], [1], MODEL)
    request = llm.chat_requests()[-1]["body"]
    assert answer in request["messages"][1]["content"] and "JSON" in request["messages"][0]["content"]
    llm.reply = "```json\n" + json.dumps({"ideas": [{"idea": 1, "present": True, "evidence": "Large dot products"}, {"idea": 2, "present": True, "evidence": "softmax peaky"}]}) + "\n```"
    assert tutor.judge_answer(config, WHY, answer).correct


@pytest.mark.parametrize(
    "reply",
    [
        "Looks good to me!",
        json.dumps({"ideas": [{"idea": 1, "present": True, "evidence": "x"}]}),  # one idea short
        json.dumps({"ideas": [{"idea": 1, "present": True, "evidence": "words never written"}, {"idea": 2, "present": True, "evidence": "softmax"}]}),
    ],
)
def test_an_unusable_model_verdict_falls_back_to_the_rubric(llm, reply):
    llm.reply = reply
    verdict = tutor.judge_answer(tutor.TutorConfig(base_url=llm.url, model=MODEL, timeout_s=2), WHY, "the variance grows with d_k; softmax")
    assert verdict.judged_by != MODEL and verdict.found == [1] and "could not judge" in verdict.note


@pytest.fixture
def rubric_course(tmp_path, monkeypatch):
    """A copy of the course whose first step also asks a free-text check."""
    import shutil

    content = tmp_path / "content"
    copy_shipped(content_root(), content, ("curriculum", "exercises", "solutions"))
    path = content / "curriculum" / "phase1.yaml"
    check = (
        "          - id: why-bias\n"
        "            ask: Why does a neuron need a bias?\n"
        "            answer: {rubric: [[shift, offset], [through the origin, origin]]}\n"
    )
    text = path.read_text()
    anchor = "        checks:\n"
    i = text.index(anchor) + len(anchor)
    path.write_text(text[:i] + check + text[i:])
    monkeypatch.setenv("MENTOR_CONTENT", str(content))
    return content


def test_a_rejected_explanation_can_be_contested(rubric_course, ws, online):
    (ws / step().exercise).write_text((content_root() / step().solution).read_text())
    result = mentor("check", "--answer", "why-bias=it moves the decision boundary away from zero")
    assert result.exit_code == 0 and "not quite" in result.output  # offline rubric: no phrasing matched
    assert mentor("ask", "--contest", "flops").exit_code == 2  # only free-text checks
    online.reply = json.dumps({"ideas": [
        {"idea": 1, "present": True, "evidence": "moves the decision boundary"},
        {"idea": 2, "present": True, "evidence": "away from zero"},
    ]})  # fmt: skip
    result = mentor("ask", "--contest", "why-bias")
    assert result.exit_code == 0 and "All 2 required ideas" in result.output and MODEL in result.output
    checks = json.loads(mentor("progress", "--json").output)["steps"][0]["checks_correct"]
    assert "why-bias" in checks
    assert tutor_rows(ws)[-1]["question"].startswith("contest why-bias")


def test_offline_a_contest_says_what_is_missing(rubric_course, ws):
    (ws / step().exercise).write_text((content_root() / step().solution).read_text())
    mentor("check", "--answer", "why-bias=it adds a shift")
    result = mentor("ask", "--contest", "why-bias")
    assert result.exit_code == 1 and "1 of 2 required ideas" in result.output and "idea 2" in result.output


def test_a_rubric_must_name_its_ideas(rubric_course):
    from mentor.curriculum import CurriculumError, load_course

    path = rubric_course / "curriculum" / "phase1.yaml"
    path.write_text(path.read_text().replace("[[shift, offset], [through the origin, origin]]", "[[shift], []]"))
    with pytest.raises(CurriculumError, match="rubric needs"):
        load_course(rubric_course)


# -- the everyday commands stay light ------------------------------------------------------------------
@pytest.mark.parametrize("command", ["next", "list", "progress", "hint"])
def test_everyday_commands_do_not_import_openai(ws, command, modules_at_exit):
    loaded = modules_at_exit(ws, command)
    assert "mentor.cli" in loaded and not {"openai", "mentor.tutor"} & loaded
