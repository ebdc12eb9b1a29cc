from pathlib import Path

import pytest

from mentor.curriculum import load_course
from mentor.paths import content_root


@pytest.fixture(autouse=True)
def no_tutor_endpoint_from_the_environment(monkeypatch):
    """Tests never reach a real LLM endpoint configured on the developer's machine."""
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MENTOR_MODEL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def course():
    return load_course(content_root())


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Path:
    """A fresh workspace made by `mentor init`, as the current folder."""
    from typer.testing import CliRunner

    from mentor.cli import app

    root = tmp_path / "ws"
    assert CliRunner().invoke(app, ["init", str(root)]).exit_code == 0
    monkeypatch.chdir(root)
    monkeypatch.delenv("MENTOR_WORKSPACE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # no wrapping inside the lines we look for
    return root
