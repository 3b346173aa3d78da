"""People's text, made inert for the element it goes into, so it reads exactly as typed.

One function per kind of element. Pages reach them through `ui.text`; the governance pack and
any chart built in core use them from here. Nothing a person typed (names of services,
locations, people, types and actions, descriptions, notes, messages, titles, guides) may reach
an element that interprets markup without passing through one of these:

- `escape_markdown`: body text of anything Streamlit renders as Markdown (st.markdown,
  st.write, st.caption, st.info/success/warning/error, st.toast, headings, st.table cells).
- `escape_caption`: the same rules, named for captions.
- `escape_label`: widget labels and `help` tooltips, tab/expander/popover/status titles,
  st.metric labels and values, st.page_link labels and the options of radios, pills,
  segmented controls and select sliders (all parse Markdown, on one line).
- `escape_layout`: a cues guide: its line layout (`# ` headings, `- ` list items) is kept,
  every character of its text is shown as typed.
- `chart_text`: plotly titles, tick labels, annotations and hover text (plotly reads a little
  HTML: <b>, <a href>, <br>, entities).
- `matplotlib_text`: text in the PNG charts of the PDF (matplotlib reads $...$ as mathematics).

Plain-text elements need nothing: st.text, st.code, st.dataframe and st.data_editor cells,
the options of st.selectbox and st.multiselect, widget values and placeholders, and the PDF's
own text (core.exports.pack_pdf writes it with fpdf2's markdown off and its page alias off).

How Streamlit's Markdown is neutralised: the characters that make Markdown are
backslash-escaped (CommonMark lets any ASCII punctuation be): everywhere `\\ ` * _ [ ] < > | ~ $ &`,
which stops links, images, emphasis, code, HTML, entities, tables, strikethrough and KaTeX;
at the start of a line `# = + -` and the `.` or `)` of `1.`, which stop headings and lists.
Other punctuation stays as it is, so a label's accessible name (Streamlit passes the source
to aria-label) reads cleanly. Streamlit's own syntax starts with a colon (`:red[...]`,
`:material/...:`, `:streamlit:`, emoji shortcodes), and some of its rewrites work on the text
after escapes are resolved (bare web and e-mail addresses becoming links, `->` becoming an
arrow): an invisible word joiner (U+2060) inside those few patterns stops them.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

WORD_JOINER = "\u2060"

# Markdown anywhere in a line (CommonMark, GFM tables and strikethrough, HTML, KaTeX).
_MARKUP = re.compile(r"([\\`*_\[\]<>|~$&])")
# Markdown at the start of a line: headings, setext underlines, list items, ordered lists.
_LINE_START = re.compile(r"^(?:([#=+-])|(\d{1,9})([.)]))")
# Split by a word joiner: a colon before a word or "/" (Streamlit's directives, icons,
# :streamlit:, emoji shortcodes; "http://", "mailto:"), "a@b" and "www." (GFM bare links),
# "->", "<-", "--", ">=", "<=", "~=" (typographic arrows).
_REWRITTEN = re.compile(r"(?<=:)(?=[\w/])|(?<=@)(?=\w)|(?i:(?<=www)(?=\.))"
                        r"|(?<=[<>~-])(?=[->=])")
_LAYOUT_LINE = re.compile(r"^(#{1,6} |[-*] )(.*)$")


def _line_start(match: re.Match[str]) -> str:
    if match.group(1):
        return "\\" + match.group(1)
    return match.group(2) + "\\" + match.group(3)


# Kept: the same names (types, services, places, badges) come back on every card of every
# run, and each line costs three regular expressions.
@lru_cache(maxsize=4096)
def _inert_line(line: str) -> str:
    text = _MARKUP.sub(r"\\\1", _REWRITTEN.sub(WORD_JOINER, line.strip()))
    return _LINE_START.sub(_line_start, text, count=1)


def escape_markdown(text: object) -> str:
    """Text for Streamlit Markdown (body text): shown exactly as typed, line breaks kept."""
    lines = str(text if text is not None else "").splitlines()
    # A hard break ("  \n") keeps each typed line; leading spaces would make a code block.
    return "  \n".join(_inert_line(line) for line in lines)


def escape_caption(text: object) -> str:
    """Text for st.caption: the same rules as body text."""
    return escape_markdown(text)


def escape_label(text: object) -> str:
    """Text for a widget label, tooltip, tab or expander title, metric or option label: one
    line, shown exactly as typed."""
    return _inert_line(" ".join(str(text if text is not None else "").split()))


def escape_layout(text: object) -> str:
    """A cues guide for st.markdown: lines starting "# " stay headings, lines starting "- "
    stay list items and blank lines separate paragraphs; every character of the text itself
    is shown as typed (no emphasis, links, images, HTML or mathematics)."""
    out = []
    for line in str(text if text is not None else "").splitlines():
        match = _LAYOUT_LINE.match(line.strip())
        if match is None:
            out.append(_inert_line(line))
        elif match.group(1).startswith("#"):
            # Headings one level down: the page has its own title.
            out.append("\n#" + match.group(1) + _inert_line(match.group(2)) + "\n")
        else:
            out.append("- " + _inert_line(match.group(2)))
    return "\n".join(out)


def chart_text(text: object, limit: int | None = None) -> str:
    """Text for plotly (titles, ticks, annotations, hover): HTML escaped, optionally
    shortened to `limit` characters before escaping."""
    value = str(text if text is not None else "")
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    escaped = html.escape(value, quote=False)
    # Plotly hands "$...$" to MathJax when a page has it: a word joiner keeps it text.
    if escaped.startswith("$") and escaped.endswith("$") and len(escaped) > 1:
        escaped = WORD_JOINER + escaped
    return escaped


def matplotlib_text(text: object) -> str:
    """Text for a matplotlib chart: "$...$" would be drawn as mathematics."""
    return str(text if text is not None else "").replace("$", r"\$")
