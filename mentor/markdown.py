"""Markdown as rich renderables: lesson text, reasoning checks and the tutor's answers.

rich.markdown parses with markdown-it and highlights code with pygments: some 50 ms of imports on
top of rich's console, paid by the first `mentor next` after a change. Lessons need much less than all of
CommonMark: headings, paragraphs, bullet and numbered lists (nested), fenced and indented code,
tables, block quotes, rules, and inline code, emphasis, links and escapes. Blocks are found line by
line, inline markup in one scan from left to right. Whatever is not recognised is shown as the text
it is: nothing is dropped. Styles are the `markdown.*` entries of rich's theme, as rich.markdown uses.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.rule import Rule
from rich.segment import Segment
from rich.text import Text

if TYPE_CHECKING:
    from rich.table import Table

# How a line opens a block. Tabs are expanded before these are tried.
_FENCE = re.compile(r"( {0,3})(`{3,}(?=[^`]*$)|~{3,})")  # an info string after ``` holds no backtick
_HEADING = re.compile(r" {0,3}(#{1,6})(?: +|$)")
_RULE = re.compile(r" {0,3}([-*_])(?: *\1){2,} *$")  # three or more of one of - * _, spaces allowed
_ITEM = re.compile(r"( {0,3})([-+*]|\d{1,9}[.)])( +|$)")  # indent, marker, the spaces after it


def markdown(text: str) -> Group:
    """`text` as rich renderables, one blank line between blocks."""
    return Group(*_spaced(_blocks(text.expandtabs(4).splitlines())))


# -- blocks --------------------------------------------------------------------------------------
def _blocks(lines: list[str]) -> list[RenderableType]:
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if fence := _FENCE.match(line):
            block, i = _fenced_code(lines, i, len(fence.group(1)), fence.group(2))
        elif _indent(line) >= 4:
            block, i = _indented_code(lines, i)
        elif heading := _HEADING.match(line):
            block, i = _heading(len(heading.group(1)), line[heading.end() :]), i + 1
        elif _RULE.match(line):
            block, i = Rule(style="markdown.hr"), i + 1
        elif _is_table(lines, i):
            block, i = _table(lines, i)
        elif line.lstrip().startswith(">"):
            block, i = _quote(lines, i)
        elif _item(line):
            block, i = _list(lines, i)
        else:
            block, i = _paragraph(lines, i)
        blocks.append(block)
    return blocks


def _spaced(blocks: list[RenderableType]):
    """The blocks with a blank line between each two, as between paragraphs in the source."""
    for n, block in enumerate(blocks):
        if n:
            yield Text()
        yield block


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _dedent(line: str, width: int) -> str:
    return line[min(width, _indent(line)) :]


def _interrupts_paragraph(lines: list[str], i: int) -> bool:
    """Whether line i opens a block even right after a paragraph line (CommonMark's rule: a
    numbered list must then start at 1, so that "2024. was a year" stays text)."""
    line = lines[i]
    item = _item(line)
    starts_list = item and line[item.end() :].strip() and item.group(2) in ("-", "+", "*", "1.", "1)")
    return bool(
        starts_list
        or _FENCE.match(line)
        or _HEADING.match(line)
        or _RULE.match(line)
        or line.lstrip().startswith(">")
        or _is_table(lines, i)
    )


def _paragraph(lines: list[str], i: int) -> tuple[Text, int]:
    end = i + 1
    while end < len(lines) and lines[end].strip() and not _interrupts_paragraph(lines, end):
        end += 1
    return _inline(_join_lines(lines[i:end])), end


def _join_lines(lines: list[str]) -> str:
    """A paragraph's lines as one string: a soft break becomes a space, so the terminal rewraps it;
    a hard break (two trailing spaces or a backslash) stays a line break."""
    joined = []
    for line in lines[:-1]:
        stripped = line.strip()
        if stripped.endswith("\\") and not stripped.endswith("\\\\"):
            joined.append(stripped[:-1] + "\n")
        elif line.endswith("  "):
            joined.append(stripped + "\n")
        else:
            joined.append(stripped + " ")
    return "".join(joined) + lines[-1].strip()


def _heading(level: int, title: str) -> Text:
    title = title.strip()
    unclosed = title.rstrip("#")
    if not unclosed or unclosed.endswith(" "):  # "## Title ##": the closing run of # is optional
        title = unclosed.rstrip()
    return _inline(title, style=f"markdown.h{level}", justify="center" if level == 1 else "left")


def _fenced_code(lines: list[str], i: int, indent: int, fence: str) -> tuple[Padding, int]:
    end = i + 1
    while end < len(lines) and not _closes_fence(lines[end], fence):
        end += 1
    return _code_block([_dedent(line, indent) for line in lines[i + 1 : end]]), end + 1


def _closes_fence(line: str, fence: str) -> bool:
    run = line.strip()
    return len(run) >= len(fence) and run == fence[0] * len(run)


def _indented_code(lines: list[str], i: int) -> tuple[Padding, int]:
    end = i
    while end < len(lines) and (_indent(lines[end]) >= 4 or not lines[end].strip()):
        end += 1
    while not lines[end - 1].strip():  # trailing blank lines separate, they are not code
        end -= 1
    return _code_block([line[4:] for line in lines[i:end]]), end


def _code_block(lines: list[str]) -> Padding:
    """Code as written: each line kept whole, wrapped only where it is wider than the terminal."""
    return Padding(Text("\n".join(lines).rstrip()), (1, 1), style="markdown.code_block", expand=True)


def _quote(lines: list[str], i: int) -> tuple[_Prefixed, int]:
    inner = []
    while i < len(lines) and lines[i].strip():
        line = lines[i].lstrip()
        if line.startswith(">"):
            line = line[1:].removeprefix(" ")
        elif _interrupts_paragraph(lines, i):
            break
        inner.append(line)  # a line without ">" continues the quote's paragraph
        i += 1
    body = Group(*_spaced(_blocks(inner)))
    return _Prefixed(body, "▌ ", "▌ ", "markdown.block_quote", body_style="markdown.block_quote"), i


def _list(lines: list[str], i: int) -> tuple[Group, int]:
    """Consecutive items of one kind, bullets or numbers; the first number sets the count."""
    first = _item(lines[i]).group(2)
    numbered = first[0].isdigit()
    bodies = []
    while i < len(lines) and (item := _item(lines[i])) and item.group(2)[0].isdigit() == numbered:
        body, i = _list_item(lines, i, item)
        bodies.append(Group(*_blocks(body)))
        next_line = next((j for j in range(i, len(lines)) if lines[j].strip()), len(lines))
        if next_line < len(lines) and _item(lines[next_line]):  # blank lines between two items
            i = next_line
    if numbered:
        start = int(first[:-1])
        width = len(f" {start + len(bodies) - 1}. ")
        markers = [f" {n}. ".rjust(width) for n in range(start, start + len(bodies))]
        style = "markdown.item.number"
    else:
        width, markers, style = 3, [" • "] * len(bodies), "markdown.item.bullet"
    return Group(*(_Prefixed(body, marker, " " * width, style) for body, marker in zip(bodies, markers))), i


def _item(line: str) -> re.Match | None:
    """The list marker that opens `line`, if it opens an item (a rule such as "- - -" does not)."""
    return None if _RULE.match(line) else _ITEM.match(line)


def _list_item(lines: list[str], i: int, item: re.Match) -> tuple[list[str], int]:
    """The lines of the item opening at line i, without its marker and indentation."""
    spaces = len(item.group(3))  # 1 to 4 spaces after the marker set the indentation of the item's text
    width = item.end(2) + (spaces if 1 <= spaces <= 4 else 1)
    body = [lines[i][width:]]
    end = i + 1
    while end < len(lines):
        line = lines[end]
        if not line.strip() or _indent(line) >= width:
            body.append(line[width:])
        elif body[-1].strip() and not _item(line) and not _interrupts_paragraph(lines, end):
            body.append(line.strip())  # a lazy continuation of the item's last paragraph
        else:
            break
        end += 1
    while len(body) > 1 and not body[-1].strip():  # blank lines after the item belong to the list
        body.pop()
        end -= 1
    return body, end


def _is_table(lines: list[str], i: int) -> bool:
    """A header row with pipes, then a delimiter row made of | : - and spaces, such as |---|:-:|."""
    if i + 1 >= len(lines) or "|" not in lines[i]:
        return False
    delimiter = lines[i + 1].strip()
    return "|" in delimiter and "-" in delimiter and set(delimiter) <= set("|:- ")


def _table(lines: list[str], i: int) -> tuple[Table, int]:
    from rich.table import Table  # with the fractions and decimal it needs: loaded for a text with a table

    header, aligns = _cells(lines[i]), [_alignment(cell) for cell in _cells(lines[i + 1])]
    end = i + 2
    while end < len(lines) and "|" in lines[end] and lines[end].strip():
        end += 1
    rows = [_cells(line) for line in lines[i + 2 : end]]
    columns = max([len(header), *map(len, rows)])  # a row longer than the header keeps its cells
    table = Table(
        box=box.SIMPLE, pad_edge=False, style="markdown.table.border", show_edge=True, collapse_padding=True
    )
    for n in range(columns):
        title = _inline(header[n] if n < len(header) else "", style="markdown.table.header")
        table.add_column(title, justify=aligns[n] if n < len(aligns) else "left", overflow="fold")
    for row in rows:
        table.add_row(*map(_inline, row))
    return table, end


def _cells(row: str) -> list[str]:
    """A table row's cells, split at each | that is neither escaped (\\|) nor inside `code`."""
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    cells, cell, in_code = [], "", False
    for n, c in enumerate(row):
        if c == "|" and not in_code and row[n - 1 : n] != "\\":
            cells.append(cell.strip())
            cell = ""
            continue
        if c == "|":
            cell = cell.removesuffix("\\")
        elif c == "`":
            in_code = not in_code
        cell += c
    return [*cells, cell.strip()]


def _alignment(delimiter: str) -> str:
    if delimiter.startswith(":") and delimiter.endswith(":"):
        return "center"
    return "right" if delimiter.endswith(":") else "left"


@dataclass
class _Prefixed:
    """`body` rendered narrower, each of its lines after a prefix: `first` on its first line,
    `rest` on the others. A list item's marker and hanging indent; a quote's bar."""

    body: RenderableType
    first: str
    rest: str
    style: str
    body_style: str = ""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        style = console.get_style(self.style, default="none")
        body_style = console.get_style(self.body_style, default="none") if self.body_style else None
        first, rest = self.first, self.rest
        if options.max_width - cell_len(first) < 8:  # nested deeper than the terminal is wide: keep the text
            first = rest = ""
        width = options.max_width - cell_len(first)
        lines = console.render_lines(self.body, options.update(width=width), style=body_style) or [[]]
        for n, line in enumerate(lines):  # an empty item still shows its marker
            yield Segment(rest if n else first, style)
            yield from line
            yield Segment.line()


# -- inline markup ------------------------------------------------------------------------------
_PUNCTUATION = frozenset(string.punctuation)
_EMPHASIS = {  # a delimiter run, and the styles of what it encloses
    "*": ("markdown.em",),
    "_": ("markdown.em",),
    "**": ("markdown.strong",),
    "__": ("markdown.strong",),
    "***": ("markdown.strong", "markdown.em"),
    "___": ("markdown.strong", "markdown.em"),
    "~~": ("markdown.s",),
}


def _inline(source: str, style: str = "", justify: str = "left") -> Text:
    text = Text(justify=justify)
    _append_inline(text, source)
    text.stylize(style)  # the text only: an underlined heading is not underlined to the margin
    return text


def _append_inline(text: Text, source: str) -> None:
    """Append `source` to `text`, its inline markup turned into styled spans."""
    literal = ""  # characters shown as they are, appended together
    i = 0
    while i < len(source):
        c = source[i]
        if c == "\\" and source[i + 1 : i + 2] in _PUNCTUATION:
            literal, i = literal + source[i + 1], i + 2
        elif c in _MARKUP:
            text.append(literal)
            literal = ""
            end = _MARKUP[c](text, source, i)
            if end is None:  # markup that never closes is text
                end = i + _run(source, i)
                literal = source[i:end]
            i = end
        else:
            literal, i = literal + c, i + 1
    text.append(literal)


def _run(source: str, i: int) -> int:
    """How many times the character at i repeats from there on."""
    end = i
    while end < len(source) and source[end] == source[i]:
        end += 1
    return end - i


def _code_span(text: Text, source: str, i: int) -> int | None:
    """`code`: a run of backticks up to the next run of the same length, in code style."""
    end = _code_span_end(source, i)
    if end == -1:
        return None
    n = _run(source, i)
    code = source[i + n : end - n]
    if code.startswith(" ") and code.endswith(" ") and code.strip():
        code = code[1:-1]
    text.append(code, "markdown.code")
    return end


def _code_span_end(source: str, i: int) -> int:
    """Where the code span opening at i ends, after its closing backticks; -1 if it never closes."""
    n = _run(source, i)
    end = i + n
    while (end := source.find("`", end)) != -1:
        if _run(source, end) == n:
            return end + n
        end += _run(source, end)
    return -1


def _emphasis(text: Text, source: str, i: int) -> int | None:
    """*em*, **strong**, ***both*** (or with _) and ~~struck~~: the opening run needs a closing run
    of the same characters, where CommonMark's flanking rules let the two open and close."""
    n = _run(source, i)
    styles = _EMPHASIS.get(source[i : i + n])
    if not styles or not _can_open_close(source, i, n)[0]:
        return None
    end = _closing_run(source, i + n, source[i : i + n])
    if end == -1:
        return None
    start = len(text)
    _append_inline(text, source[i + n : end])
    for style in styles:
        text.stylize(style, start, len(text))
    return end + n


def _closing_run(source: str, start: int, run: str) -> int:
    """Where the first `run` that can close emphasis begins, skipping escapes and code spans."""
    j = start
    while j < len(source):
        n = _run(source, j)
        if source[j] == "\\":
            j += 2
        elif source[j] == "`":
            j = max(_code_span_end(source, j), j + n)
        elif source[j : j + n] == run and _can_open_close(source, j, n)[1]:
            return j
        else:
            j += n
    return -1


def _can_open_close(source: str, i: int, n: int) -> tuple[bool, bool]:
    """CommonMark's flanking rules for the delimiter run source[i:i+n]: `*` may open before a word
    and close after one; `_` neither opens nor closes inside a word, so snake_case stays as it is."""
    before = source[i - 1] if i > 0 else " "
    after = source[i + n] if i + n < len(source) else " "
    left = not after.isspace() and (after not in _PUNCTUATION or before.isspace() or before in _PUNCTUATION)
    right = not before.isspace() and (before not in _PUNCTUATION or after.isspace() or after in _PUNCTUATION)
    if source[i] == "_":
        return left and (not right or before in _PUNCTUATION), right and (not left or after in _PUNCTUATION)
    return left, right


def _link(text: Text, source: str, i: int) -> int | None:
    """[label](url): the label in link style, then the address, which a terminal cannot hide."""
    close = source.find("]", i)
    if close == -1 or not source.startswith("(", close + 1):
        return None
    end = source.find(")", close)
    if end == -1:
        return None
    label, url = source[i + 1 : close], source[close + 2 : end].strip()
    start = len(text)
    _append_inline(text, label)
    text.stylize("markdown.link", start, len(text))
    if url and url != label:
        text.append(" ")
        text.append(f"({url})", "markdown.link_url")
    return end + 1


_MARKUP = {"`": _code_span, "*": _emphasis, "_": _emphasis, "~": _emphasis, "[": _link}
