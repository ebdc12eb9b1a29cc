"""What `mentor watch` waits on: saves of the exercise file, and single key presses.

Saves are seen with watchfiles on the file's folder, filtered to its name: editors that save by
writing a new file and renaming it over the old one (vim, most IDEs) replace the file being watched,
and a watch on the file alone would go quiet after the first save. Changes within `debounce_ms` of
each other are one save.

Keys are read one at a time without waiting for Enter on a terminal (cbreak mode, restored on the
way out and while a prompt needs whole lines); from a pipe, each character is a key, so scripts and
tests drive the loop the same way.
"""

from __future__ import annotations

import os
import select
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

POLL_MS = 200  # how often the watch wakes without a save, to read keys


def saves(path: Path, stop, debounce_ms: int = 300) -> Iterator[bool]:
    """True after each save of `path`, False every POLL_MS without one; ends when `stop` is set."""
    import watchfiles

    target = os.path.realpath(path)

    def is_target(change, changed: str) -> bool:
        return os.path.realpath(changed) == target

    for changes in watchfiles.watch(
        path.parent, watch_filter=is_target, debounce=debounce_ms, step=50, rust_timeout=POLL_MS,
        yield_on_timeout=True, stop_event=stop, recursive=False,
    ):  # fmt: skip
        yield bool(changes)


class Keys:
    """Single key presses from stdin, polled without blocking."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self._saved = None
        self._closed = False

    def __enter__(self) -> "Keys":
        self._cbreak()
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _fd(self) -> Optional[int]:
        try:
            return self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return None

    def _cbreak(self) -> None:
        fd = self._fd()
        if fd is None or not os.isatty(fd):
            return
        import termios
        import tty

        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)

    def _restore(self) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self._fd(), termios.TCSADRAIN, self._saved)
            self._saved = None

    @contextmanager
    def lines(self):
        """Whole lines again for a while: for a prompt that reads an answer."""
        was = self._saved is not None
        self._restore()
        try:
            yield
        finally:
            if was:
                self._cbreak()

    def poll(self) -> Optional[str]:
        """The next key pressed, or None if there is none waiting. After stdin ends, "q"."""
        fd = self._fd()
        if fd is None:
            return None
        if self._closed:
            return "q"
        if not select.select([fd], [], [], 0)[0]:
            return None
        data = os.read(fd, 1)
        if not data:
            self._closed = True  # a closed stdin can never press a key again: leave rather than spin
            return "q"
        return data.decode("utf-8", errors="replace")
