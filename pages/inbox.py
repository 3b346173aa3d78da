"""Inbox: escalations to act on now (overdue first) and my notifications."""

from __future__ import annotations

import streamlit as st

from core.clock import utcnow
from core.config import settings
from core.errors import DomainError, ValidationFailed
from core.escalation.queries import InboxItem
from core.escalation.rules import EscalationKind
from core.escalation.service import (
    CLINICAL_REVIEW_WAYS,
    ClinicalReviewOutcome,
    InformationPathway,
    PersonSafeConfirmation,
    SafeguardingDecision,
    acknowledge,
    decide,
    mark_read,
)
from core.regulator.queries import EventClocks
from core.uow import UnitOfWork
from core.views.inbox import inbox_page
from ui import regulator as regulator_ui
from ui.accessibility import answers_summary, field_message, mark_invalid_fields
from ui.badges import ESCALATION_STATE_COLOURS
from ui.session import current_actor
from ui.text import escape_caption, escape_label, escape_markdown, local

ERRORS = "inbox_errors"
REFUSALS = "inbox_refusals"  # refused decisions so far: each one focuses the summary again
NOTICE = "inbox_notice"
# Each decision's answers by the names core's checks use, as their fields and the summary
# name them.
LABELS = {
    "external_report_made": "Was an external report made?",
    "reported_to": "Reported to (agency, team)",
    "reported_at": "Reported at",
    "reason": "Why (the reasoning behind the decision)",
    "where_entered": "Where the change was entered",
    "who_should_have_received": "Who should have received it",
    "failed_confirmation_step": "Which notification or confirmation step failed",
    "notes": "Notes (optional)",
    "how": "How was the review done?",
    "outcome": "Clinical advice or outcome",
    "note": "How did you confirm the person is safe?",
}
YES_NO = {"yes": "Yes", "no": "No"}

actor = current_actor()


def _key(item_id: int, name: str) -> str:
    return f"inbox.{item_id}.{name}"


def _value(item_id: int, name: str) -> str:
    return st.session_state.get(_key(item_id, name)) or ""


def _errors_for(item_id: int) -> dict[str, str]:
    return (st.session_state.get(ERRORS) or {}).get(item_id, {})


def _summary_key(item_id: int) -> str:
    return f"inbox_{item_id}_error_summary"


def _field_error(item_id: int, name: str) -> None:
    """The answer's message, beside it (text, not an alert of its own)."""
    field_message(_key(item_id, name), _errors_for(item_id).get(name))


def _acknowledge(item_id: int) -> None:
    try:
        acknowledge(UnitOfWork(), actor, item_id, now=utcnow())
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
    else:
        st.session_state[NOTICE] = ("success", "Acknowledged. The clock has stopped; record "
                                               "the decision when you have made it.")


def _decision(item: InboxItem) -> object:
    i = item.escalation_id
    if item.kind is EscalationKind.SAFEGUARDING:
        made = st.session_state.get(_key(i, "external_report_made"))
        return SafeguardingDecision(
            external_report_made=None if made is None else made == "yes",
            reported_to=_value(i, "reported_to"),
            reported_at=st.session_state.get(_key(i, "reported_at")),
            reason=_value(i, "reason"))
    if item.kind is EscalationKind.OPERATIONS:
        return InformationPathway(
            where_entered=_value(i, "where_entered"),
            who_should_have_received=_value(i, "who_should_have_received"),
            failed_confirmation_step=_value(i, "failed_confirmation_step"),
            notes=_value(i, "notes"))
    if item.kind is EscalationKind.CLINICAL_REVIEW:
        return ClinicalReviewOutcome(how=st.session_state.get(_key(i, "how")),
                                     outcome=_value(i, "outcome"))
    return PersonSafeConfirmation(note=_value(i, "note"))


def _decide(item: InboxItem) -> None:
    errors = dict(st.session_state.get(ERRORS) or {})
    errors.pop(item.escalation_id, None)
    try:
        decide(UnitOfWork(), actor, item.escalation_id, _decision(item),
               now=utcnow(), rules=settings())
    except ValidationFailed as exc:
        # The form's own summary says so, beside the answers (one alert, not two).
        errors[item.escalation_id] = exc.errors
        st.session_state[REFUSALS] = st.session_state.get(REFUSALS, 0) + 1
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
    else:
        st.session_state[NOTICE] = ("success", f"Decision recorded for {item.reference}.")
    st.session_state[ERRORS] = errors


def _decision_form(item: InboxItem) -> None:
    i = item.escalation_id
    errors = _errors_for(i)
    if errors:
        answers_summary(_summary_key(i), "Not saved yet",
                        [LABELS.get(name, name) for name in errors])
    if item.kind is EscalationKind.SAFEGUARDING:
        st.radio(LABELS["external_report_made"], list(YES_NO), format_func=YES_NO.get,
                 index=None, key=_key(i, "external_report_made"), horizontal=True)
        _field_error(i, "external_report_made")
        st.text_input(LABELS["reported_to"], key=_key(i, "reported_to"))
        _field_error(i, "reported_to")
        st.datetime_input(LABELS["reported_at"], value=None, key=_key(i, "reported_at"),
                          format="DD/MM/YYYY", step=300)
        _field_error(i, "reported_at")
        st.text_area(LABELS["reason"], key=_key(i, "reason"))
        _field_error(i, "reason")
    elif item.kind is EscalationKind.OPERATIONS:
        st.text_input(LABELS["where_entered"], key=_key(i, "where_entered"))
        _field_error(i, "where_entered")
        st.text_input(LABELS["who_should_have_received"],
                      key=_key(i, "who_should_have_received"))
        _field_error(i, "who_should_have_received")
        st.text_area(LABELS["failed_confirmation_step"],
                     key=_key(i, "failed_confirmation_step"))
        _field_error(i, "failed_confirmation_step")
        st.text_area(LABELS["notes"], key=_key(i, "notes"))
        _field_error(i, "notes")
    elif item.kind is EscalationKind.CLINICAL_REVIEW:
        st.radio(LABELS["how"], CLINICAL_REVIEW_WAYS, index=None,
                 key=_key(i, "how"), horizontal=True)
        _field_error(i, "how")
        st.text_area(LABELS["outcome"], key=_key(i, "outcome"))
        _field_error(i, "outcome")
    else:
        st.text_area(LABELS["note"], key=_key(i, "note"))
        _field_error(i, "note")
    st.button("Record decision", key=_key(i, "decide"), type="primary", on_click=_decide,
              args=(item,))
    if errors:
        mark_invalid_fields([_key(i, name) for name in errors], summary_key=_summary_key(i),
                            attempt=str(st.session_state.get(REFUSALS, 0)))


def _item(item: InboxItem, event: EventClocks | None) -> None:
    with st.container(border=True):
        with st.container(horizontal=True, gap="small"):
            st.badge(item.state.capitalize(), color=ESCALATION_STATE_COLOURS[item.state])
            st.markdown(f"**{item.kind.label}**")
        st.page_link("pages/near_miss.py",
                     label=f"{item.reference} · {escape_label(item.type_name)}",
                     query_params={"ref": item.reference}, icon=":material/open_in_new:")
        st.caption(f"{escape_caption(item.service)} · {escape_caption(item.location)}  \n"
                   f"{escape_caption(item.reason)}")
        timing = f"Raised {local(item.raised_at)} · acknowledge by {local(item.due_at)}"
        if item.acknowledged_at:
            timing += f" · acknowledged {local(item.acknowledged_at)}"
        if item.decided_at:
            timing += f" · decided {local(item.decided_at)}"
        st.text(timing)
        if item.state == "overdue":
            st.error("Overdue: not acknowledged in time.", icon=":material/alarm:")
        regulator_ui.event_panel(actor, event, prefix=f"inbox.{item.escalation_id}")
        if item.decided_at:
            return
        if item.acknowledged_at is None:
            st.button("Acknowledge", key=_key(item.escalation_id, "ack"), type="primary",
                      on_click=_acknowledge, args=(item.escalation_id,),
                      icon=":material/done:")
        with st.expander("Record the decision",
                         expanded=bool(_errors_for(item.escalation_id))):
            _decision_form(item)


def _mark_all_read(ids: list[int]) -> None:
    mark_read(UnitOfWork(), actor, ids, now=utcnow())


st.title("Inbox")
with st.container(key="inbox_notice_slot"):  # fixed slot: open expanders stay open below it
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        (st.success if notice[0] == "success" else st.error)(escape_markdown(notice[1]))
    regulator_ui.show_notice()

show_decided = st.toggle("Show decided escalations too", key="inbox_show_decided")
now = utcnow()
page = inbox_page(actor, include_decided=show_decided, now=now, rules=settings())
items, notes, events = list(page.items), list(page.notifications), page.events

open_items = [i for i in items if not i.decided_at]
left, right = st.columns(2)
left.metric("Waiting for you", len(open_items))
right.metric("Overdue", sum(1 for i in open_items if i.overdue))

if not items:
    st.info("Nothing to act on. Escalations routed to your role will appear here at once.")
for item in items:
    _item(item, events.get(item.reference))

st.subheader("Notifications")
unread = [n.id for n in notes if not n.read]
if unread:
    st.button(f"Mark {len(unread)} as read", key="inbox_mark_read", on_click=_mark_all_read,
              args=(unread,))
if not notes:
    st.caption("No notifications.")
for note in notes:
    st.markdown(("**" if not note.read else "") + escape_markdown(note.title)
                + ("**" if not note.read else "")
                + f"  \n:gray[{local(note.created_at)}]")
