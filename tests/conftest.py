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
