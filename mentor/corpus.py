"""The course's text corpus: an offline default built from the local Python installation, or a file the
learner names.

The default is the documentation that ships with every Python: the language reference's topics
that `help()` shows (`pydoc_data.topics`, in sorted topic order), the docstrings of the standard
library's public modules (`argparse.py`, `json/__init__.py`, ...) read with `ast` in sorted path
order, then the docstrings of the built-in functions and types: about 2 MB in all, documents
separated by a blank line. It needs no network and no download, and the same installation always
gives the same text, so graders (tokenizers, Phase 4 training) can use it as realistic input.

    from mentor.corpus import default_corpus, load_corpus, write_default_corpus
    text = default_corpus(max_bytes=50_000)        # 50 KB of English prose, a little code
    text = load_corpus("my_book.txt")              # the learner's own UTF-8 text file
    write_default_corpus("data/corpus.txt")        # the default, saved for other tools
"""

from __future__ import annotations

import ast
import builtins
import itertools
import os
import sysconfig
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Optional, Union

DEFAULT_MAX_BYTES = 2_000_000  # about 2 MB: plenty for a tokenizer, a small model's first training runs
DOCUMENT_SEPARATOR = "\n\n"

# Folders of the standard library that are not its documentation: installed packages, test suites
# (full of generated strings), caches, and the IDLE and turtle demos.
_SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test", "idlelib", "turtledemo"}


class CorpusError(ValueError):
    """A corpus file that cannot be used; the message names the file and what to do."""


def default_corpus(max_bytes: Optional[int] = DEFAULT_MAX_BYTES) -> str:
    """The built-in corpus, at most `max_bytes` bytes of UTF-8 (None: all of it).

    Deterministic for a given Python installation; cut at a character boundary, never inside one.
    """
    if max_bytes is not None and max_bytes < 0:
        raise ValueError(f"max_bytes must be 0 or more, or None for all of it; got {max_bytes}")
    return _default_corpus(max_bytes)


@lru_cache(maxsize=4)
def _default_corpus(max_bytes: Optional[int]) -> str:
    pieces, size = [], 0
    for doc in _documents():
        piece = DOCUMENT_SEPARATOR + doc if pieces else doc
        pieces.append(piece)
        size += len(piece.encode("utf-8"))
        if max_bytes is not None and size >= max_bytes:
            break  # enough read: the documents are long, so reading on would only be thrown away
    text = "".join(pieces)
    return text if max_bytes is None or size <= max_bytes else _cut_utf8(text.encode("utf-8"), max_bytes)


def load_corpus(path: Union[str, os.PathLike, None] = None, max_bytes: Optional[int] = None) -> str:
    """The text of the UTF-8 file at `path`, or the default corpus when `path` is None.

    `max_bytes` caps the size (at a character boundary); None reads the whole file, or gives the
    default corpus its default size. Raises CorpusError for a missing, empty or non-UTF-8 file.
    """
    if path is None:
        return default_corpus(DEFAULT_MAX_BYTES if max_bytes is None else max_bytes)
    file = Path(path).expanduser()
    if not file.exists():
        raise CorpusError(f"corpus file {file} does not exist: name a UTF-8 text file, or leave it out for the default corpus")
    if not file.is_file():
        raise CorpusError(f"corpus file {file} is not a file (a folder?): name a UTF-8 text file")
    try:
        with file.open("rb") as f:
            data = f.read() if max_bytes is None else f.read(max_bytes + 4)  # + room to finish a character
    except OSError as e:
        raise CorpusError(f"corpus file {file} cannot be read: {e.strerror or e}") from None
    if not data:
        raise CorpusError(f"corpus file {file} is empty: it needs some text to learn from")
    try:
        if max_bytes is None or len(data) <= max_bytes:
            return data.decode("utf-8")
        return _cut_utf8(data, max_bytes)  # the file goes on past the cap: drop a character cut in two
    except UnicodeDecodeError as e:
        raise CorpusError(
            f"corpus file {file} is not UTF-8 text (byte {data[e.start]:#04x} at offset {e.start}): "
            "convert it to UTF-8 first, e.g. with `iconv -t UTF-8`"
        ) from None


def write_default_corpus(dest: Union[str, os.PathLike], max_bytes: Optional[int] = DEFAULT_MAX_BYTES) -> Path:
    """Write the default corpus to `dest` as UTF-8 (creating its folder); returns the path."""
    dest = Path(dest).expanduser()
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(default_corpus(max_bytes), encoding="utf-8", newline="\n")
    return dest


def _cut_utf8(data: bytes, max_bytes: int) -> str:
    """The first `max_bytes` bytes as text, dropping a character that the cut would split.

    A UTF-8 character is at most 4 bytes, so only an error in the last 3 bytes can be the cut's doing;
    anything earlier is a real decoding error and is raised.
    """
    head = data[:max_bytes]
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start >= len(head) - 3 and e.reason == "unexpected end of data":
            return head[: e.start].decode("utf-8")
        raise


def _documents() -> Iterator[str]:
    """The help topics, every docstring of the standard library's public modules, then the built-ins'."""
    docs = _help_topics()
    docs = itertools.chain(docs, (d for path in _stdlib_sources() for d in _docstrings(path)))
    docs = itertools.chain(docs, _builtin_docstrings())
    for doc in docs:
        doc = doc.strip()
        if doc and _is_utf8(doc):  # a docstring may hold a lone surrogate, which UTF-8 cannot encode
            yield doc


def _help_topics() -> Iterator[str]:
    """The language reference pages that `help('assert')` shows, in sorted topic order."""
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some distributions package the help topics separately
        return
    for name in sorted(topics):
        yield topics[name]


def _builtin_docstrings() -> Iterator[str]:
    for name in sorted(dir(builtins)):
        doc = getattr(getattr(builtins, name), "__doc__", None)
        if not name.startswith("_") and isinstance(doc, str):
            yield doc


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _stdlib_sources() -> Iterator[Path]:
    """The standard library's public .py files in sorted path order (private `_name.py` modules skipped)."""
    root = sysconfig.get_paths().get("stdlib")
    if not root or not os.path.isdir(root):
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith((".", "_")) and "-" not in d)
        for name in sorted(files):
            if name.endswith(".py") and (name == "__init__.py" or not name.startswith("_")):
                yield Path(folder) / name


def _docstrings(path: Path) -> Iterator[str]:
    """The module's docstring, then each class's and function's, in source order."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):  # a file for another Python version, or unreadable
        return
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield doc
        body = [n for n in getattr(node, "body", []) if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
        stack.extend(reversed(body))  # reversed: pop() then visits them top to bottom
