"""What keeps the portal usable with a keyboard, a screen reader and a phone where Streamlit's
widgets alone do not (WCAG 2.2 AA, measured by axe in the browser tests).

- Page-wide styles: small Streamlit and plotly controls kept at 24 px targets.
- Fields with an error: marked `aria-invalid` and described by their message, which is text
  beside the field rather than an alert of its own, so a screen reader hears one summary.
- Focus: after sign-in and after a refused submit, focus goes where the person should read.
- The sidebar menu: a navigation landmark, its link to the page on screen `aria-current`.
- The document's language (`<html lang>`).

The scripts here are the project's own constants; the only values they receive are widget
keys, language codes and the menu's name from the message catalogue, passed as JSON, never
text a person typed.
"""

from __future__ import annotations

import json
import re

import streamlit as st

from ui.text import escape_markdown

# WCAG 2.5.8 (target size, minimum: 24x24 px, for a finger or a shaky hand): the date fields
# draw day, month, year, hour and minute as 18x20 px segments; a multiselect's text input
# shrinks beside its chips; a chart's toolbar buttons are 22 px.
_STYLE = """<style>
[data-testid="stMain"] [role="spinbutton"][contenteditable] {
  display: inline-block; min-width: 24px; min-height: 24px; line-height: 24px;
  text-align: center;
}
[data-testid="stMultiSelect"] input[role="combobox"] { min-width: 24px; min-height: 24px; }
.js-plotly-plot .modebar-btn { min-width: 24px; min-height: 24px; box-sizing: border-box; }
/* Each heading's "link to heading" anchor is a Tab stop of no use to a care worker: two of
   them stood between a visitor and the sign-in fields. */
[data-testid="stMain"] a[aria-label="Link to heading"] { display: none; }
/* The sidebar menu (ui.navigation): links close together, as in Streamlit's own menu. */
.st-key-nm_menu { gap: 0; }
/* Each link at least 32 px tall, as in Streamlit's own menu (WCAG 2.5.8 asks 24 px). */
.st-key-nm_menu a[data-testid="stPageLink-NavLink"] { min-height: 2rem; align-items: center; }
.st-key-nm_menu [data-testid="stMarkdown"] { margin-top: 0.75rem; }
</style>"""

# Marks each listed field invalid and ties it to its message; then focuses the summary (or
# the first invalid field). Streamlit draws elements as they arrive, so it retries briefly.
_MARK_INVALID = """<script>
(() => {
  const fields = %(fields)s, summary = %(summary)s;
  const controls = 'input, textarea, [role="combobox"], [role="radiogroup"], [role="spinbutton"]';
  let tries = 0, focused = false;
  const mark = () => {
    let missing = false;
    for (const [box, message] of fields) {
      const field = document.querySelector('.' + box), note = document.querySelector('.' + message);
      if (!field || !note) { missing = true; continue; }
      note.id = message;
      for (const control of field.querySelectorAll(controls)) {
        control.setAttribute('aria-invalid', 'true');
        const described = (control.getAttribute('aria-describedby') || '').split(' ');
        if (!described.includes(message))
          control.setAttribute('aria-describedby', [message, ...described].join(' ').trim());
      }
    }
    const alert = summary && document.querySelector('.' + summary + ' [role="alert"]');
    if (alert && !focused) {
      alert.setAttribute('tabindex', '-1');
      focused = true;
      alert.focus();
    }
    // A field drawn again after its first render (a busy machine delivers the page in pieces)
    // comes back unmarked, so the marks are put back for a while after all were found.
    if (++tries < 80) setTimeout(mark, missing || (summary && !focused) ? 50 : 200);
  };
  mark();
})();
</script>"""

# The signed-in page is redrawn once more as its cookie is set, which can drop the focus back
# to the document: for a few seconds, a focus left nowhere returns to the title (a focus the
# person has moved elsewhere is left alone).
_FOCUS_HEADING = """<script>
(() => {
  let tries = 0;
  const focus = () => {
    const heading = document.querySelector('[data-testid="stMain"] h1');
    const nowhere = !document.activeElement || document.activeElement === document.body;
    if (heading && (nowhere || tries === 0)) {
      heading.setAttribute('tabindex', '-1');
      heading.focus();
    }
    if (++tries < 80) setTimeout(focus, 50);
  };
  focus();
})();
</script>"""

# The menu is a navigation landmark, and its link to the page on screen says so to a screen
# reader, as Streamlit's own menu did; the mark moves with each page (the script's text
# changes, so it runs again). On a phone the open menu covers the page: a tap on a link closes
# it, as Streamlit's own menu did (its breakpoint: narrower than 768 px).
_CURRENT_PAGE = """<script>
(() => {
  const menu = %(menu)s, current = %(current)s, links = %(links)s, label = %(label)s;
  let tries = 0;
  const closeOnPhone = (event) => {
    if (!event.target.closest('a') || window.innerWidth >= 768) return;
    const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (close) close.click();
  };
  const mark = () => {
    const nav = document.querySelector('.' + menu);
    if (nav) { nav.setAttribute('role', 'navigation'); nav.setAttribute('aria-label', label); }
    if (nav && !nav.dataset.closesOnPhone) {
      nav.dataset.closesOnPhone = 'yes';
      nav.addEventListener('click', closeOnPhone);
    }
    const drawn = document.querySelectorAll('.' + menu + ' a[data-testid="stPageLink-NavLink"]');
    for (const link of drawn) link.removeAttribute('aria-current');
    if (current === null) return;
    if (drawn.length === links) drawn[current].setAttribute('aria-current', 'page');
    else if (++tries < 60) setTimeout(mark, 50);
  };
  mark();
})();
</script>"""

_LANGUAGE = """<script>document.documentElement.lang = %(lang)s;</script>"""


def key_class(widget_key: str) -> str:
    """The CSS class Streamlit gives the element of a widget or container with this key."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", widget_key.strip())


def _script(source: str) -> None:
    st.html(source, unsafe_allow_javascript=True)


def apply_accessible_styles() -> None:
    """Draw the page-wide accessibility styles (invisible)."""
    st.html(_STYLE)


def field_message(widget_key: str, message: str | None) -> None:
    """A field's error, right below it: an icon and text (never colour alone), not an alert,
    so a screen reader hears one summary; `mark_invalid_fields` ties it to the field."""
    if not message:
        return
    with st.container(key=f"{widget_key}__error"):
        st.markdown(f":red[:material/error: **{escape_markdown(message)}**]")


def error_summary(summary_key: str, text: str) -> None:
    """The one alert of a refused form, listing what to fix; focused when it appears."""
    with st.container(key=summary_key):
        st.error(text, icon=":material/error:")


def answers_summary(summary_key: str, not_done: str, labels: list[str]) -> None:
    """The one alert of a refused form that names the answers to fix, e.g. "Not saved yet:
    check the 2 answers marked below (Recurrence; Route to)."; `labels` are the fields'
    labels (escaped here)."""
    count = len(labels)
    named = "; ".join(escape_markdown(label) for label in labels)
    error_summary(summary_key, f"{not_done}: check the {count} "
                               f"{'answer' if count == 1 else 'answers'} marked below ({named}).")


def mark_invalid_fields(widget_keys: list[str], *, summary_key: str | None, attempt: str) -> None:
    """After a form's widgets: mark each field in `widget_keys` (which has a `field_message`)
    invalid and described by its message, and focus the summary. `attempt` changes with each
    refused submit, so the script runs again for it."""
    fields = [[key_class(k), key_class(f"{k}__error")] for k in widget_keys]
    source = _MARK_INVALID % {
        "fields": json.dumps(fields),
        "summary": json.dumps(key_class(summary_key) if summary_key else None),
    }
    _script(source.replace("<script>", f"<script data-attempt={json.dumps(attempt)}>", 1))


def focus_main_heading() -> None:
    """Put the keyboard focus on the page's title (after sign-in nothing had focus)."""
    _script(_FOCUS_HEADING)


def mark_current_page(menu_key: str, current_link: int | None, links: int, *,
                      label: str) -> None:
    """Make the container `menu_key` a navigation landmark named `label` and mark its link
    at place `current_link` (from 0, of `links` links) as the page on screen
    (`aria-current="page"`), and no other; `None` when the page has no link."""
    _script(_CURRENT_PAGE % {
        "menu": json.dumps(key_class(menu_key)),
        "current": json.dumps(current_link),
        "links": json.dumps(links),
        "label": json.dumps(label),
    })


def set_document_language(code: str) -> None:
    """`<html lang>` follows the person's language, so a screen reader reads it right."""
    _script(_LANGUAGE % {"lang": json.dumps(code)})
