"""Publish updates: write a short "what changed because you reported", link the near misses,
actions and clusters behind it, choose whom it affects, publish, and edit with history.

Publishing tells every named reporter of a linked near miss (in the portal, and by email when
they have one); people who reported without their name see it with their follow-up code.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.clock import utcnow
from core.config import settings
from core.errors import DomainError, ValidationFailed
from core.feedback.queries import UpdateDetail, UpdateSummary
from core.feedback.service import (
    PUBLISHED,
    ThemeDraft,
    UpdateDraft,
    audience_roles,
    create_update,
    edit_update,
    publish_update,
)
from core.review.rca import parse_references
from core.uow import UnitOfWork
from core.views.feedback import UpdateEditor, update_editor, update_list
from ui.accessibility import error_summary, field_message, mark_invalid_fields
from ui.mail import send_emails_soon
from ui.session import current_actor
from ui.text import escape_markdown, local

NEW = "new"
SELECTED = "fb_selected"
SELECT_NEXT = "fb_select_next"
ERRORS = "fb_errors"
NOTICE = "fb_notice"
REFUSALS = "fb_refusals"  # refused saves so far: each one focuses the summary again
SUMMARY = "feedback_error_summary"
# A refused answer's widget, by the name core's checks use (where they differ).
WIDGETS = {"reports": "references"}
NOT_SAVED = "Not saved yet: check the answers marked below. Nothing you typed is lost."

actor = current_actor()


def _base(update_id: int | str) -> str:
    return f"fb.{update_id}"


def _value(base: str, name: str) -> Any:
    return st.session_state.get(f"{base}.{name}")


def _error(base: str, name: str) -> None:
    """The answer's message, beside it (text, not an alert of its own)."""
    field_message(f"{base}.{WIDGETS.get(name, name)}",
                  (st.session_state.get(ERRORS) or {}).get(name))


def _theme_key(theme: ThemeDraft) -> str:
    return f"{theme.type_key}|{theme.service_id or ''}|{theme.region_id or ''}"


def _theme_from_key(key: str) -> ThemeDraft:
    type_key, service_id, region_id = key.split("|")
    return ThemeDraft(type_key, int(service_id) if service_id else None,
                      int(region_id) if region_id else None)


def _draft(base: str) -> UpdateDraft:
    return UpdateDraft(
        title=_value(base, "title") or "",
        what_changed=_value(base, "what_changed") or "",
        why=_value(base, "why") or "",
        report_references=parse_references(_value(base, "references") or ""),
        action_ids=list(_value(base, "actions") or []),
        themes=[_theme_from_key(k) for k in _value(base, "themes") or []],
        service_ids=list(_value(base, "services") or []),
        roles=list(_value(base, "roles") or []),
    )


def _refused(exc: DomainError) -> None:
    if isinstance(exc, ValidationFailed):
        st.session_state[ERRORS] = exc.errors
        st.session_state[REFUSALS] = st.session_state.get(REFUSALS, 0) + 1
        st.session_state[NOTICE] = ("error", NOT_SAVED)
    else:
        st.session_state[NOTICE] = ("error", str(exc))


def _save(update_id: int | None, revision: int | None, *, and_publish: bool) -> None:
    """Button callback: save (create or edit), then publish if asked."""
    st.session_state.pop(ERRORS, None)
    base = _base(update_id or NEW)
    try:
        if update_id is None:
            update_id = create_update(UnitOfWork(), actor, _draft(base),
                                      now=utcnow(), rules=settings())
            revision = 1
            st.session_state[SELECT_NEXT] = update_id
            for name in [k for k in st.session_state if str(k).startswith(base + ".")]:
                del st.session_state[name]
        else:
            assert revision is not None
            revision = edit_update(UnitOfWork(), actor, update_id, _draft(base),
                                   expected_revision=revision, now=utcnow(), rules=settings())
    except DomainError as exc:
        _refused(exc)
        return
    if not and_publish:
        st.session_state[NOTICE] = ("success", "Saved.")
        return
    try:
        result = publish_update(UnitOfWork(), actor, update_id, expected_revision=revision,
                                now=utcnow(), rules=settings())
    except DomainError as exc:
        _refused(exc)
        if isinstance(exc, ValidationFailed):
            st.session_state[NOTICE] = ("error", "Saved as a draft, but not published yet: "
                                                 "see below.")
        return
    told = len(result.told_user_ids)
    message = (f"Published. {told} reporter{'s' if told != 1 else ''} told"
               + (f"; {result.anonymous_reports} report"
                  f"{'s' if result.anonymous_reports != 1 else ''} filed without a name will "
                  "see it with the follow-up code." if result.anonymous_reports else "."))
    st.session_state[NOTICE] = ("success", message)
    send_emails_soon()


def _preview(title: str, what_changed: str, why: str) -> None:
    """The update as staff will read it: as text, never Markdown or HTML."""
    with st.container(border=True):
        st.caption("How staff will see it")
        st.text(title or "(no title yet)")
        st.text(what_changed or "")
        if why.strip():
            st.caption("Why")
            st.text(why)


def _form(editor: UpdateEditor, defaults: dict[str, Any]) -> None:
    detail = editor.detail
    update_id = detail.id if detail else None
    base = _base(update_id or NEW)
    services, actions = dict(editor.services), dict(editor.actions)
    themes: dict[str, str] = {}
    for theme, label in editor.themes:  # current clusters first; a past one keeps its link
        themes.setdefault(_theme_key(theme), label)
    roles = {r.value: r.label for r in audience_roles()}

    st.text_input("Title", value=defaults["title"], key=f"{base}.title", max_chars=200,
                  placeholder="e.g. A pre-transfer equipment check at the bathroom doorway")
    _error(base, "title")
    st.text_area("What changed", value=defaults["what_changed"], key=f"{base}.what_changed",
                 height=110, placeholder="A revised checklist, a new handover prompt, a changed "
                 "scheduling rule: say it plainly, in a sentence or two.")
    _error(base, "what_changed")
    st.text_area("Why: what people reported", value=defaults["why"], key=f"{base}.why",
                 height=80, placeholder="e.g. Three near falls at the same doorway in a month.")
    _error(base, "why")
    st.markdown("**Behind it**")
    st.text_input("Near misses (references, separated by commas)", value=defaults["references"],
                  key=f"{base}.references", placeholder="NM-2026-00012, NM-2026-00007",
                  help="Their reporters are told when the update is published.")
    _error(base, "reports")
    st.multiselect("Actions", list(actions), default=[a for a in defaults["actions"]
                                                      if a in actions],
                   format_func=actions.get, key=f"{base}.actions", placeholder="None")
    _error(base, "actions")
    st.multiselect("Clusters", list(themes), default=[t for t in defaults["themes"]
                                                      if t in themes],
                   format_func=themes.get, key=f"{base}.themes", placeholder="None")
    _error(base, "themes")
    st.markdown("**Who it affects**")
    everyone = "All services" if actor.service_ids is None else "Choose your services"
    st.multiselect("Services", list(services), default=[s for s in defaults["services"]
                                                        if s in services],
                   format_func=services.get, key=f"{base}.services", placeholder=everyone)
    _error(base, "services")
    st.multiselect("Roles", list(roles), default=[r for r in defaults["roles"] if r in roles],
                   format_func=roles.get, key=f"{base}.roles", placeholder="Everyone")
    _error(base, "roles")
    _preview(_value(base, "title") or "", _value(base, "what_changed") or "",
             _value(base, "why") or "")

    revision = detail.revision if detail else None
    published = detail is not None and detail.status == PUBLISHED
    with st.container(horizontal=True, gap="small"):
        st.button("Save changes" if published else "Save draft", key=f"{base}.save",
                  icon=":material/save:", on_click=_save, args=(update_id, revision),
                  kwargs={"and_publish": False}, type="secondary" if not published else "primary")
        if not published:
            st.button("Publish", key=f"{base}.publish", type="primary",
                      icon=":material/campaign:", on_click=_save, args=(update_id, revision),
                      kwargs={"and_publish": True},
                      help="Saves, then publishes: staff see it on “What changed” and the "
                           "reporters of the linked near misses are told.")
    errors = st.session_state.get(ERRORS) or {}
    if errors:
        mark_invalid_fields([f"{base}.{WIDGETS.get(name, name)}" for name in errors],
                            summary_key=SUMMARY, attempt=str(st.session_state.get(REFUSALS, 0)))


def _history(detail: UpdateDetail) -> None:
    with st.expander(f"History ({len(detail.revisions)} "
                     f"revision{'s' if len(detail.revisions) != 1 else ''})",
                     icon=":material/history:"):
        st.dataframe(pd.DataFrame({
            "Revision": [r.revision for r in detail.revisions],
            "Saved": [local(r.edited_at) for r in detail.revisions],
            "By": [r.edited_by for r in detail.revisions],
            "Title": [r.title for r in detail.revisions],
            "What changed": [r.what_changed for r in detail.revisions],
            "Why": [r.why for r in detail.revisions],
        }), hide_index=True, width="stretch")


st.title("Publish updates")
st.caption("Tell staff what changed because they reported, even small changes: a revised "
           "checklist, a new handover prompt, a changed scheduling rule. It keeps people "
           "reporting.")

if SELECT_NEXT in st.session_state:
    st.session_state[SELECTED] = st.session_state.pop(SELECT_NEXT)

summaries = update_list(actor)


def _state(summary: UpdateSummary) -> str:
    if summary.status == PUBLISHED:
        return "Published " + local(summary.published_at, "%d %b %Y")
    return "Draft"


labels = {NEW: "New update"} | {u.id: f"#{u.id} {u.title} · {_state(u)}" for u in summaries}
if st.session_state.get(SELECTED) not in labels:
    st.session_state[SELECTED] = NEW
st.selectbox("Update", list(labels), format_func=labels.get, key=SELECTED)

with st.container(key="feedback_notice_slot"):
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        kind, text = notice
        if kind == "success":
            st.success(escape_markdown(text))
        elif st.session_state.get(ERRORS):  # the one alert of a refused save, focused
            error_summary(SUMMARY, escape_markdown(text))
        else:
            st.error(escape_markdown(text))

selected = st.session_state[SELECTED]
if selected == NEW:
    linked = parse_references(str(st.query_params.get("ref", "")))
    _form(update_editor(actor, None, now=utcnow(), rules=settings()),
          {"title": "", "what_changed": "", "why": "", "references": ", ".join(linked),
           "actions": [], "themes": [], "services": [], "roles": []})
else:
    try:
        editor = update_editor(actor, int(selected), now=utcnow(), rules=settings())
        current = editor.detail
        assert current is not None  # an id was given
    except DomainError as exc:
        st.error(escape_markdown(str(exc)))
        st.stop()
    if current.status == PUBLISHED:
        st.success(f"Published {local(current.published_at)} · revision {current.revision}. "
                   f"{current.told_reporters} reporter"
                   f"{'s' if current.told_reporters != 1 else ''} told"
                   + (f"; {current.anonymous_references} near miss"
                      f"{'es' if current.anonymous_references != 1 else ''} reported without "
                      "a name (seen with the follow-up code)." if current.anonymous_references
                      else "."), icon=":material/campaign:")
        st.caption("Edits are kept in the history below. Reporters of near misses you add now "
                   "are told when you save.")
    else:
        st.info(f"Draft · revision {current.revision}. Nobody sees it until you publish.",
                icon=":material/edit_note:")
    _form(editor, {"title": current.title, "what_changed": current.what_changed,
                    "why": current.why, "references": ", ".join(current.references),
                    "actions": current.action_ids,
                    "themes": [_theme_key(t) for t in current.themes],
                    "services": current.service_ids, "roles": current.roles})
    _history(current)
