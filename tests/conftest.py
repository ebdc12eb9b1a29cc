import pytest

from mentor.curriculum import load_course
from mentor.paths import content_root


@pytest.fixture(scope="session")
def course():
    return load_course(content_root())
