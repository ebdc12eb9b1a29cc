"""Where the course content and the hidden graders live."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
GRADERS_DIR = PACKAGE_DIR / "graders"


def content_root() -> Path:
    """The folder holding curriculum/, exercises/ and solutions/.

    An installed wheel carries them in mentor/_content; a source checkout has them beside the package.
    """
    packaged = PACKAGE_DIR / "_content"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent
