"""Lesson markdown rendered without rich.markdown: every word shown, no markup left, code kept as written."""

import re
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rich.console import Console

from mentor.curriculum import load_course
from mentor.markdown import markdown
from mentor.paths import content_root

COURSE = load_course(content_root())


def shown(text: str, width: int = 200) -> str:
    """What a terminal of `width` columns shows for `text`, trailing spaces removed."""
    console = Console(width=width, color_system=None)
    with console.capture() as captured:
        console.print(markdown(text))
    return "\n".join(line.rstrip() for line in captured.get().splitlines())


def style_at(text: str, word: str):
    """The style the first paragraph of `text` gives to the start of `word`."""
    console = Console(color_system="truecolor")
    paragraph = markdown(text).renderables[0]
    return paragraph.get_style_at_offset(console, paragraph.plain.index(word))


def words(text: str) -> Counter:
    """How often each word occurs in `text`; underscores around a word are emphasis, not the word."""
    return Counter(w.strip("_") for w in re.findall(r"\w+", text) if w.strip("_"))


def letters(text: str) -> Counter:
    return Counter(c for c in text if c.isalpha())


def fenced_blocks(text: str) -> list[list[str]]:
    """The lines of each ``` block in `text`."""
    return [block.splitlines() for block in re.findall(r"^```\n(.*?)\n```$", text, flags=re.MULTILINE | re.DOTALL)]


def appears_verbatim(code: list[str], screen: str) -> bool:
    """Whether `code` shows as consecutive lines of `screen`, each moved right by the same margin."""
    lines = screen.splitlines()
    return any(
        all(lines[i + k] == (" " * margin + line).rstrip() for k, line in enumerate(code))
        for margin in range(5)
        for i in range(len(lines) - len(code) + 1)
    )


LESSON_TEXTS = [
    pytest.param(text, id=f"{step.id}:{part}")
    for step in COURSE.steps
    for part, text in [("concept", step.concept), ("task", step.task), *((c.id, c.ask) for c in step.checks)]
]


@pytest.mark.parametrize("source", LESSON_TEXTS)
def test_every_lesson_text_shows_each_of_its_words_and_no_markup(source):
    screen = shown(source)
    assert not words(source) - words(screen)
    for markup in ("```", "**", "`"):
        assert markup not in screen
    for heading in re.findall(r"^#+ (.*)$", source, flags=re.MULTILINE):
        title = re.sub(r"[`*]", "", heading)
        assert title in screen.splitlines() and f"# {title}" not in screen


@pytest.mark.parametrize("step", [s for s in COURSE.steps if "```" in s.concept], ids=lambda s: s.id)
def test_code_blocks_of_the_course_show_line_for_line_as_written(step):
    screen = shown(step.concept)
    blocks = fenced_blocks(step.concept)
    assert blocks
    for code in blocks:
        assert appears_verbatim(code, screen), code


def test_nested_lists_indent_under_their_item_with_bullets_and_numbers():
    screen = shown("- one\n  - inner\n    1. first\n    2. second\n- two")
    assert screen.splitlines() == [" • one", "    • inner", "       1. first", "       2. second", " • two"]


def test_an_empty_list_item_still_shows_its_marker():
    assert shown("1. \n2. two") == " 1.\n 2. two"


def test_text_nested_deeper_than_the_terminal_is_wide_still_shows():
    source = "\n".join("   " * depth + f"- item{depth}" for depth in range(10)) + "\n\n" + "> " * 15 + "deep"
    assert words(shown(source, width=20)) == words(source)


def test_a_wrapped_list_item_keeps_a_hanging_indent():
    screen = shown("3. " + "word " * 12, width=30)
    lines = screen.splitlines()
    assert lines[0].startswith(" 3. word") and all(line.startswith("    word") for line in lines[1:])
    assert words(screen) == words("3 " + "word " * 12)


def test_a_long_code_line_wraps_without_running_into_the_next_line():
    long = "x = compute(" + ", ".join(f"arg{n}" for n in range(12)) + ")"
    screen = shown(f"```\n    {long}\ny = 2\n```", width=40)
    assert "    x = compute(arg0," in screen
    assert " y = 2" in screen.splitlines() and words(screen) == words(f"{long} y = 2")


def test_an_indented_code_block_keeps_its_lines():
    screen = shown("Before:\n\n    for x in xs:\n        print(x)\n\nAfter.")
    assert appears_verbatim(["for x in xs:", "    print(x)"], screen)


def test_inline_code_keeps_stars_and_underscores_and_is_not_emphasis():
    source = "Compute `a*b*c` and `__init__` with `x_1_`."
    assert shown(source) == "Compute a*b*c and __init__ with x_1_."
    style = style_at(source, "b*c")
    assert style.bgcolor is not None and not style.italic


def test_emphasis_spans_several_words():
    source = "Then **two bold words** and *three italic words* and _one more_ end."
    assert shown(source) == "Then two bold words and three italic words and one more end."
    assert style_at(source, "words and three").bold and not style_at(source, "and three").bold
    assert style_at(source, "italic words").italic and style_at(source, "more").italic
    assert not style_at(source, "end").italic


def test_text_that_only_looks_like_markup_stays_as_written():
    source = "snake_case_name, 2 * 3 * 4, an ** alone, a `tick, a [bracket] and \\*escaped\\*."
    assert shown(source) == "snake_case_name, 2 * 3 * 4, an ** alone, a `tick, a [bracket] and *escaped*."


def test_a_heading_is_styled_text_without_its_hashes():
    source = "## Two words ##\n\nBody."
    assert shown(source).splitlines() == ["Two words", "", "Body."]
    assert style_at(source, "Two").underline


def test_a_table_lines_up_its_cells_in_columns_without_pipes():
    source = "| name | formula |\n|------|--------:|\n| relu | `max(x, 0)` |\n| `a|b` | 2 | extra |"
    lines = shown(source).splitlines()
    assert "|" not in "\n".join(lines[:3]) and "---" not in "\n".join(lines)
    header = next(line for line in lines if "name" in line)
    relu = next(line for line in lines if "relu" in line)
    assert header.index("formula") <= relu.index("max(x, 0)")
    assert any("a|b" in line and "extra" in line for line in lines)


def test_a_table_wider_than_the_terminal_wraps_its_cells_instead_of_cutting_them():
    source = "| n | words |\n|---|---|\n| 1 | an_identifier_longer_than_the_terminal and more |"
    assert letters(shown(source, width=20)) == letters(source)


def test_soft_line_breaks_reflow_and_hard_breaks_stay():
    assert shown("one\ntwo  \nthree\\\nfour") == "one two\nthree\nfour"
    assert shown("a last backslash stays\\") == "a last backslash stays\\"


def test_links_quotes_and_rules_keep_their_text():
    screen = shown("See [the docs](https://example.org).\n\n> quoted\n> *text*\n\n---\n\nafter")
    assert "See the docs (https://example.org)." in screen
    assert "▌ quoted text" in screen and "after" in screen


MARKDOWNISH = st.lists(
    st.sampled_from([*"ab c*_`~[]()|#>-+.:\\!\n", "1. ", "- ", "    ", "| a | b |\n|---|---|\n"]), max_size=40
).map("".join)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(source=MARKDOWNISH, width=st.sampled_from([20, 80]))
def test_any_text_renders_and_keeps_every_letter(source, width):
    assume("```" not in source and "~~~" not in source)  # the word after a fence names a language
    assert not letters(source) - letters(shown(source, width))


def test_rendering_the_course_imports_neither_markdown_it_nor_pygments():
    code = (
        "import sys\n"
        "from mentor import ui\n"
        "from mentor.curriculum import load_course\n"
        "from mentor.paths import content_root\n"
        "course = load_course(content_root())\n"
        "for step in course.steps:\n"
        "    ui.capture(ui.render_step, course, step, 'available', step.exercise)\n"
        "    for n, check in enumerate(step.checks):\n"
        "        ui.capture(ui.render_check_question, check, n + 1, len(step.checks))\n"
        "print('markdown_it' in sys.modules, 'pygments' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


COURSE_NOTES = [
    pytest.param(text, id=f"{step.id}:{part}")
    for step in COURSE.steps
    for part, text in [
        *((f"hint{i + 1}", h) for i, h in enumerate(step.hints)),
        *((f"{c.id}:hint", c.hint) for c in step.checks if c.hint),
        *((f"{c.id}:explain", c.explain) for c in step.checks if c.explain),
    ]
]


@pytest.mark.parametrize("source", COURSE_NOTES)
def test_hints_and_explanations_show_every_word_even_inside_brackets(source):
    """`W[ids]` or params["W1"] are text, not rich markup tags that would swallow them."""
    from mentor import ui

    screen = ui.capture(ui.labelled, "Hint 1/3:", "bold", source)
    assert screen.startswith("Hint 1/3:")
    assert not words(source) - words(screen)
