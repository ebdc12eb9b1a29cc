"""Rendered screens that depend only on static course text, cached as the terminal bytes rich produced.

`mentor next` is run dozens of times a session and shows the same step until it is mastered;
reading the screen back skips importing and running rich's console, tables and panels. The cache key
covers the text, the step's state and everything that changes how rich renders: terminal size, TTY,
colour settings.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

from mentor import __version__

_RENDER_ENV = ("COLUMNS", "LINES", "TERM", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def screen_key(parts: tuple) -> str:
    size = shutil.get_terminal_size((80, 25))
    tty = sys.stdout is not None and sys.stdout.isatty()
    facts = (__version__, parts, size, tty, tuple(os.environ.get(v) for v in _RENDER_ENV))
    return hashlib.sha256(repr(facts).encode("utf-8")).hexdigest()[:24]


def cached_screen(cache_dir: Path, parts: tuple, render: Callable[[], str]) -> str:
    """The screen for `parts`, rendered by `render()` once and then read back."""
    path = cache_dir / f"screen-{screen_key(parts)}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    text = render()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in sorted(cache_dir.glob("screen-*.txt"), key=lambda p: p.stat().st_mtime)[:-50]:
            old.unlink(missing_ok=True)  # keep the cache small
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
    return text
