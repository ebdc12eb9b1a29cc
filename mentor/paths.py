"""Where the course content and the hidden graders live."""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
GRADERS_DIR = PACKAGE_DIR / "graders"
CONTENT_ENV = "MENTOR_CONTENT"  # an author's copy of the course, to try changes without installing


def content_root() -> Path:
    """The folder holding curriculum/, exercises/ and solutions/.

    An installed wheel carries them in mentor/_content; a source checkout has them beside the package.
    """
    if os.environ.get(CONTENT_ENV):
        return Path(os.environ[CONTENT_ENV]).expanduser().resolve()
    packaged = PACKAGE_DIR / "_content"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent
