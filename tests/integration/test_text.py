"""core.text, the one helper for people's text: for each kind of element, what a person typed
is shown exactly as typed and never interpreted.

Streamlit's Markdown is CommonMark with GFM (tables, strikethrough, bare links), KaTeX
(`$...$`), directives (`:red[...]`), and a few rewrites of the text itself (Material icons,
`:streamlit:`, emoji shortcodes, arrows). The CommonMark part is checked with markdown-it-py
(the same specification, with HTML on); the rest with the patterns Streamlit 1.67's renderer
applies (read from its bundle, StreamlitMarkdown.*.js).
"""

from __future__ import annotations

import html
import io
import re

import pytest
from markdown_it import MarkdownIt
from matplotlib.text import Text
from pypdf import PdfReader

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.exports.pack_pdf import build_pack
from core.feedback.service import UpdateDraft, create_update, publish_update
from core.text import (
    WORD_JOINER,
    chart_text,
    escape_caption,
    escape_label,
    escape_layout,
    escape_markdown,
    matplotlib_text,
)
from core.uow import UnitOfWork
from tests.hostile import HOSTILE, seed_hostile
from ui.text import badge_line, small_lines

COMMONMARK = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# What Streamlit's renderer does to text after parsing (mdast find-and-replace on text nodes).
STREAMLIT_TEXT_REWRITES = {
    "bare link": re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE),
    "bare e-mail": re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)"),
    "Material icon": re.compile(r":material_(\w+):"),
    "Streamlit logo": re.compile(r":streamlit:"),
    "emoji shortcode": re.compile(r":[\w+-][\w_+-]*:"),
    "arrow": re.compile(r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)"),
}
# Streamlit's own test for "this source has maths" (escaped $ and code removed first).
STREAMLIT_MATH = (re.compile(r"(?<!\$)\$\$+(?!\$)[\s\S]*?\$\$"),
                  re.compile(r"(?<!\$)\$(?![\s$])[^$\n]*?[^\s$]\$(?!\d)"))
STREAMLIT_NOT_MATH = re.compile(r"(?m:^) {0,3}(`{3,}|~{3,})[\s\S]*?(?:\n[ \t]*\1|$)"
                                r"|(?<!`)(`+)[^`\n]+\2(?!`)|\\[\\$`]")
DIRECTIVE = re.compile(r"(?<!\\):[a-z][a-z0-9-]*\[")

TYPED = [
    HOSTILE,
    "See http://127.0.0.1:9/x and www.example.org or write to a@example.org",
    ":streamlit: :material/home: :smile: 10:30:45",
    "a -> b -- c >= d <- e ~= f",
    "# not a heading\n- not a list\n1. not a list\n> not a quote",
    "    not code\n\tnot code either",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "&amp; &lt;b&gt; &#42; \\*not emphasis\\* trailing backslash \\",
    "~~not struck~~ __not bold__ _not em_ `not code` [^1] [ref]\n\n[ref]: http://127.0.0.1:9/",
    "$$x$$ and $y$ and :blue-background[z] and :help[tip]",
]


def _text_of(rendered: str) -> str:
    """The text a browser shows for rendered HTML (tags dropped, entities decoded)."""
    text = re.sub(r"<br />\n?", "\n", rendered)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).replace(WORD_JOINER, "")


def _text_nodes(source: str) -> list[str]:
    return [child.content for token in COMMONMARK.parse(source) if token.children
            for child in token.children if child.type == "text"]


def _streamlit_source(source: str) -> str:
    # Streamlit turns ":material/" into ":material_" before parsing.
    return source.replace(":material/", ":material_")


def assert_inert(source: str, typed: str, *, lines: bool = True) -> None:
    """`source`, rendered as Streamlit renders Markdown, shows `typed` and nothing else."""
    source = _streamlit_source(source)
    rendered = COMMONMARK.render(source)
    tags = set(re.findall(r"<([a-z0-9]+)", rendered)) - {"p", "br"}
    assert tags == set(), f"{typed!r} became {tags}: {rendered}"
    expected = typed if lines else " ".join(typed.split())
    shown_lines = [line.strip() for line in _text_of(rendered).strip().splitlines()]
    expected_lines = [line.strip() for line in expected.splitlines() if line.strip()]
    assert [line for line in shown_lines if line] == expected_lines
    for text in _text_nodes(source):
        for name, pattern in STREAMLIT_TEXT_REWRITES.items():
            assert not pattern.search(text), f"{name} in {text!r}"
    without_code = STREAMLIT_NOT_MATH.sub("_", source)
    assert not any(p.search(without_code) for p in STREAMLIT_MATH), f"KaTeX in {source!r}"
    assert not DIRECTIVE.search(source), f"a directive in {source!r}"


@pytest.mark.parametrize("typed", TYPED)
def test_body_text_shows_exactly_what_was_typed(typed):
    assert_inert(escape_markdown(typed), typed)
    assert escape_caption(typed) == escape_markdown(typed)


@pytest.mark.parametrize("typed", TYPED)
def test_labels_show_what_was_typed_on_one_line(typed):
    label = escape_label(typed)
    assert "\n" not in label
    assert_inert(label, typed, lines=False)


@pytest.mark.parametrize("typed", [typed for typed in TYPED if "\n" not in typed])
def test_a_badge_on_a_line_of_badges_shows_its_text_as_typed(typed):
    """ui.text.badge_line: nothing typed closes its badge early or becomes markup."""
    line = badge_line([(typed, "red", None), ("Repeat", "yellow", ":material/replay:")])
    first, second = line.rsplit(" :yellow-badge[", 1)
    assert second == ":material/replay: Repeat]"
    assert first.startswith(":red-badge[") and first.endswith("]")
    inner = first.removeprefix(":red-badge[").removesuffix("]")
    assert not re.search(r"(?<!\\)\]", inner)  # no bracket left to close the badge
    assert_inert(inner, typed, lines=False)


@pytest.mark.parametrize("typed", TYPED)
def test_a_small_grey_line_shows_its_text_as_typed(typed):
    """ui.text.small_lines: each line stays one line, and nothing typed closes its small or
    grey span early or becomes markup."""
    lines = small_lines([typed, "Maple House"]).split("  \n")
    assert lines[1:] == [":small[:gray[Maple House]]"]
    inner = lines[0].removeprefix(":small[:gray[").removesuffix("]]")
    assert lines[0] == f":small[:gray[{inner}]]"
    assert not re.search(r"(?<!\\)\]", inner)  # no bracket left to close a span
    assert_inert(inner, " ".join(typed.split()), lines=False)


def test_the_hostile_line_is_escaped_as_expected():
    j = WORD_JOINER
    assert escape_markdown(HOSTILE) == (
        f"!\\[x\\](http:{j}//127.0.0.1:{j}9/x.png) \\[y\\](http:{j}//127.0.0.1:{j}9/y) "
        f"\\<b\\>b\\</b\\> \\*\\*s\\*\\* \\$x^2\\$ :{j}red\\[r\\]")


def test_ordinary_punctuation_stays_as_typed():
    # Streamlit passes a label's source to aria-label: only Markdown is escaped.
    assert escape_label("Person's balance (or fatigue), e.g. 1/2 - 3; ok? \"yes\" 100%") == \
        "Person's balance (or fatigue), e.g. 1/2 - 3; ok? \"yes\" 100%"


def test_nothing_typed_is_lost_or_added_but_word_joiners():
    for typed in TYPED:
        plain = re.sub(r"\\(.)", r"\1", escape_markdown(typed)).replace(WORD_JOINER, "")
        assert plain.replace("  \n", "\n") == "\n".join(
            line.strip() for line in typed.splitlines())


def test_a_cues_guide_keeps_its_headings_and_lists_and_nothing_else():
    guide = ("# Cues for " + HOSTILE + "\n\nReport it when:\n- " + HOSTILE
             + "\n  continued\n- **bold** [link](http://127.0.0.1:9/)\n\n" + HOSTILE)
    rendered = COMMONMARK.render(_streamlit_source(escape_layout(guide)))
    tags = set(re.findall(r"<([a-z0-9]+)", rendered))
    assert tags == {"h2", "p", "ul", "li"}, rendered
    text = _text_of(rendered)
    assert text.count(HOSTILE) == 3 and "**bold** [link](http://127.0.0.1:9/)" in text
    for node in _text_nodes(escape_layout(guide)):
        assert not STREAMLIT_TEXT_REWRITES["bare link"].search(node)
    assert not DIRECTIVE.search(escape_layout(guide))


def test_chart_text_is_inert_html_for_plotly():
    shown = chart_text(HOSTILE)
    assert "<" not in shown and ">" not in shown
    assert html.unescape(shown) == HOSTILE
    assert chart_text("Tom & Jerry <i>") == "Tom &amp; Jerry &lt;i&gt;"
    assert chart_text("$5 cash$").startswith(WORD_JOINER)  # not MathJax
    assert chart_text("abcdefghij", 5) == "abcd…"
    assert chart_text(None) == ""


def test_matplotlib_draws_dollars_as_dollars():
    text = Text(0, 0, "")
    for typed in (HOSTILE, "$x^2$", "costs $5 and $6", "already \\$ escaped"):
        drawn, is_maths = text._preprocess_math(matplotlib_text(typed))
        assert (drawn, is_maths) == (typed, False)


def test_the_pdf_writes_typed_text_as_typed(engine):
    seed = seed_hostile(engine)
    quality = seed.actor("quality")
    title = "Page {nb} of the rota: " + HOSTILE  # "{nb}" was fpdf2's page-count alias
    update = create_update(UnitOfWork(engine), quality, UpdateDraft(
        title=title, what_changed=HOSTILE, report_references=[seed.closed],
        service_ids=[seed.service_id]), now=utcnow(), rules=settings())
    publish_update(UnitOfWork(engine), quality, update, now=utcnow(), rules=settings())
    from core.commissioner.period import parse_period
    from tests.builders import local_now

    today = local_now().date()
    period = parse_period(f"{today.year}-Q{(today.month - 1) // 3 + 1}")
    with read_session(engine) as session:
        pdf = build_pack(session, quality, period, "board", now=utcnow(), rules=settings())
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", title) in flat
    assert flat.count(re.sub(r"\s+", "", HOSTILE)) >= 3  # the update, the action, the cluster
