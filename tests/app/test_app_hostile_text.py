"""Pages in the real app, with every typed text set to Markdown and HTML (tests/hostile.py):
what reaches an element that parses Markdown is escaped, and still reads as typed.

The browser test (tests/browser/test_hostile_text_sweep.py) opens every page of every role;
these check the Markdown Streamlit is handed on the busiest pages, quickly and on both
databases.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.apptest_helpers import assert_no_exception, new_app, open_sections, shown, sign_in
from tests.hostile import HOSTILE, TYPE_KEY, HostileSeed, seed_hostile

# Pieces of HOSTILE that only survive in the Markdown source if it was not escaped.
RAW = ("](http://127.0.0.1:9", "**s**", "$x^2$", ":red[r]", "<b>b</b>")
# A bare address, escaped or not, still becomes a link (GFM) unless a word joiner breaks it.
BARE_LINK = re.compile(r"http\\?:\\?/")
LABELLED = ("text_input", "text_area", "selectbox", "multiselect", "radio", "checkbox",
            "toggle", "button", "number_input", "date_input", "datetime_input", "file_uploader",
            "download_button", "expander", "tabs", "metric", "segmented_control", "pills",
            "status")


@pytest.fixture
def seed(engine) -> HostileSeed:
    return seed_hostile(engine)


def markdown_sources(at: Any) -> list[str]:
    """Everything the page hands Streamlit as Markdown: bodies, labels, help, options."""
    sources = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "error", "warning",
                 "info", "success", "toast"):
        sources += [str(e.value) for e in getattr(at, kind)]
    for kind in LABELLED:
        for element in getattr(at, kind):
            sources += [str(getattr(element, name, "") or "") for name in ("label", "help")]
            if kind == "metric":
                sources.append(str(element.value))
            if kind in ("radio", "segmented_control", "pills"):
                sources += [str(option) for option in element.options]
    sources += [e.proto.label for e in at.get("page_link")]
    return sources


def assert_escaped(at: Any, *, shows: int = 1) -> None:
    """No hostile markup reaches Markdown as such, and the text is shown at least `shows`
    times (so the page drew the records)."""
    assert_no_exception(at)
    sources = markdown_sources(at)
    raw = [s for s in sources if any(piece in s for piece in RAW) or BARE_LINK.search(s)]
    assert raw == []
    assert sum(shown(s).count(HOSTILE) for s in sources) >= shows


def _open(username: str, page: str, **params: str) -> Any:
    at = sign_in(new_app(), username)
    for name, value in params.items():
        at.query_params[name] = value
    return at.switch_page(page).run()


def test_the_board_and_the_inbox_escape_places_and_types(seed):
    # Its sections opened: closed, they draw nothing but their titles.
    assert_escaped(open_sections(_open("supervisor", "pages/triage_board.py"),
                                 "board_regulator", "board_clusters"), shows=8)
    assert_escaped(_open("safeguarding", "pages/inbox.py"), shows=3)


def test_a_near_miss_under_review_escapes_its_template_and_answers(seed):
    at = _open("supervisor", "pages/near_miss.py", ref=seed.in_review)
    assert_escaped(at, shows=5)
    assert shown(at.title[0].value) == f"{seed.in_review} · {HOSTILE}"


def test_the_report_form_escapes_the_type_its_fields_and_the_cues(seed):
    at = _open("reporter", "pages/report.py")
    at.selectbox(key="report.type_key").select(TYPE_KEY).run()
    assert_escaped(at, shows=5)  # the cues guide, the type's description and capture labels


def test_the_plan_and_the_analysis_escape_names_and_checks(seed):
    assert_escaped(_open("quality", "pages/action_plan.py", plan=str(seed.plan_id)), shows=3)
    assert_escaped(_open("quality", "pages/rca.py", rca=str(seed.completed_rca)))
