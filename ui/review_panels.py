"""The review panels of a near miss: review form, gates, validation and closure, communication.

Widgets in, core calls, results out. Every rule (what is required, what blocks a move) is in
core.review; these panels only show its answers and pass on what people type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from core.attachments.checks import safe_name
from core.attachments.storage import DOWNLOAD_MIME
from core.auth.actor import Actor
from core.auth.policy import Capability, can
from core.clock import utcnow
from core.config import settings
from core.errors import DomainError, ValidationFailed
from core.filing.detail import ReportDetail
from core.reports.vocabulary import BARRIER_LABELS, Barrier, ReportStatus
from core.review.queries import ReviewView
from core.review.service import (
    CommunicationInput,
    ReviewInput,
    WorkflowBlocked,
    check_gate,
    close_report,
    finish_review,
    move_to_validating,
    record_communication,
    record_evidence,
    reopen_report,
    save_review,
)
from core.review.vocabulary import AUDIENCES, CONTROL_RELIABLE, WOULD_WORK_AGAIN
from core.taxonomy.schema import FieldSpec
from core.uow import UnitOfWork
from core.views.near_miss import evidence_file
from ui.accessibility import field_message, mark_invalid_fields
from ui.text import escape_caption, escape_label, escape_markdown, local

ERRORS = "review_errors"
NOTICE = "near_miss_notice"
REFUSALS = "review_refusals"  # refused saves so far: each one focuses the summary again
SUMMARY = "review_error_summary"
SHOWN = "review_errors_shown"  # this run's refused widgets, for `mark_refused`


def _key(reference: str, name: str) -> str:
    return f"review.{reference}.{name}"


def _error(name: str, widget: str) -> None:
    """The message for answer `name` (as core names it), beside its `widget`: text under the
    one summary alert, not an alert of its own."""
    message = (st.session_state.get(ERRORS) or {}).get(name)
    field_message(widget, message)
    if message:
        st.session_state[SHOWN] = [*st.session_state.get(SHOWN, []), widget]


def mark_refused() -> None:
    """At the end of the page: tie each refused answer shown to its message, and focus the
    summary."""
    shown = list(dict.fromkeys(st.session_state.pop(SHOWN, [])))
    if shown:
        mark_invalid_fields(shown, summary_key=SUMMARY,
                            attempt=str(st.session_state.get(REFUSALS, 0)))


def _notice(kind: str, message: str) -> None:
    st.session_state[NOTICE] = (kind, message)


def _run(action: Any, success: str) -> None:
    """Call a core use case from a button; put its errors beside fields or at the top."""
    st.session_state.pop(ERRORS, None)
    try:
        action()
    except ValidationFailed as exc:
        st.session_state[ERRORS] = exc.errors
        st.session_state[REFUSALS] = st.session_state.get(REFUSALS, 0) + 1
        _notice("error", "Not saved yet: check the answers marked below. Nothing you typed is "
                         "lost.")
    except WorkflowBlocked as exc:
        _notice("error", str(exc))
    except DomainError as exc:
        _notice("error", str(exc))
    else:
        _notice("success", success)


# -- the review form ------------------------------------------------------------------------

def _field_widget(reference: str, spec: FieldSpec, value: Any) -> None:
    key = _key(reference, f"field.{spec.key}")
    label = escape_label(spec.label)
    help_text = escape_markdown(spec.help) if spec.help else None
    if spec.kind == "longtext":
        st.text_area(label, value=value or "", key=key, help=help_text, height=80)
    elif spec.kind == "choice":
        options = list(spec.options)
        st.selectbox(label, options, index=options.index(value) if value in options else
                     None, key=key, help=help_text, placeholder="Choose")
    elif spec.kind == "datetime":
        parsed = datetime.fromisoformat(value) if isinstance(value, str) and value else None
        st.datetime_input(label, value=parsed, key=key, help=help_text,
                          format="DD/MM/YYYY", step=300)
    elif spec.kind == "yes_no":
        st.radio(label, ["yes", "no"], format_func=str.capitalize, horizontal=True,
                 index=None if value is None else (0 if value else 1), key=key, help=help_text)
    elif spec.kind == "number":
        st.number_input(label, value=value, key=key, help=help_text)
    else:
        st.text_input(label, value=value or "", key=key, help=help_text)
    _error(f"field.{spec.key}", key)


def _save_review(actor: Actor, reference: str, view: ReviewView) -> None:
    def value(name: str) -> Any:
        return st.session_state.get(_key(reference, name))

    data = ReviewInput(
        field_values={f.key: value(f"field.{f.key}") for f in view.template.fields
                      if f.source is None},
        what_stopped_harm=value("what_stopped_harm") or "",
        control_reliable=value("control_reliable"),
        would_work_again=value("would_work_again"),
        would_work_again_note=value("would_work_again_note") or "",
        contributing_factors=list(value("contributing_factors") or []),
        barrier_class=value("barrier_class"),
        findings=value("findings") or "",
    )
    _run(lambda: save_review(UnitOfWork(), actor, reference, data,
                             now=utcnow(), rules=settings()), "Review saved.")


def review_form(actor: Actor, detail: ReportDetail, view: ReviewView,
                factors: dict[str, str], editable: bool) -> None:
    reference = detail.reference
    if view.template_version != view.current_version:
        st.caption(f"Reviewed against version {view.template_version} of the "
                   f"{escape_caption(view.template.name.lower())} template (the current one is "
                   f"{view.current_version}); the review keeps its version.")
    from_report = {"location": f"{detail.service} · {detail.location}",
                   "occurred_at": local(detail.occurred_at), "person": detail.person or "—",
                   "route": detail.route or "—", "staff_group": detail.staff_group or "—",
                   "service": detail.service}
    for spec in view.template.fields:
        if spec.source is not None:
            st.text_input(escape_label(spec.label), value=from_report.get(spec.source, ""),
                          disabled=True,
                          key=_key(reference, f"source.{spec.key}"))
        elif editable:
            _field_widget(reference, spec, view.values.get(spec.key))
        else:
            st.markdown(f"**{escape_markdown(spec.label)}**")
            st.text(str(view.values.get(spec.key, "—")))
    st.markdown("**The questions leaders ask**")
    barriers = [b.value for b in Barrier]
    st.text_area("What stopped harm?", value=view.what_stopped_harm or "",
                 key=_key(reference, "what_stopped_harm"), disabled=not editable, height=70)
    st.radio("Which kind of barrier was it?", barriers,
             format_func=lambda v: BARRIER_LABELS[Barrier(v)],
             index=barriers.index(view.barrier_class) if view.barrier_class in barriers else None,
             key=_key(reference, "barrier_class"), disabled=not editable)
    _error("barrier_class", _key(reference, "barrier_class"))
    reliable = list(CONTROL_RELIABLE)
    st.radio("Was that control reliable?", reliable, format_func=CONTROL_RELIABLE.get,
             index=reliable.index(view.control_reliable) if view.control_reliable in reliable
             else None, key=_key(reference, "control_reliable"), disabled=not editable)
    _error("control_reliable", _key(reference, "control_reliable"))
    again = list(WOULD_WORK_AGAIN)
    st.radio("Would the same protection work with different staff, timing or pressure?", again,
             format_func=WOULD_WORK_AGAIN.get, horizontal=True,
             index=again.index(view.would_work_again) if view.would_work_again in again
             else None, key=_key(reference, "would_work_again"), disabled=not editable)
    _error("would_work_again", _key(reference, "would_work_again"))
    st.text_input("Why?", value=view.would_work_again_note or "",
                  key=_key(reference, "would_work_again_note"), disabled=not editable)
    st.multiselect("Contributing factors", list(factors), format_func=factors.get,
                   default=[f for f in view.contributing_factors if f in factors],
                   key=_key(reference, "contributing_factors"), disabled=not editable)
    _error("contributing_factors", _key(reference, "contributing_factors"))
    st.text_area("Findings: the system failure this near miss revealed",
                 value=view.findings or "", key=_key(reference, "findings"),
                 disabled=not editable)
    _error("findings", _key(reference, "findings"))
    if editable:
        st.button("Save review", key=_key(reference, "save"), type="primary",
                  on_click=_save_review, args=(actor, reference, view),
                  icon=":material/save:")
        if view.problems:
            st.caption("Still needed to finish the review: "
                       + escape_caption(" ".join(view.problems.values())))


# -- gates ------------------------------------------------------------------------------------

def gates_panel(actor: Actor, detail: ReportDetail, view: ReviewView, editable: bool) -> None:
    reference = detail.reference
    st.caption("Cannot proceed without: the report cannot move past review while any of these "
               "is open.")
    for status in view.gates:
        with st.container(border=True):
            gate = status.gate
            if status.state:
                icon = (":material/check_circle:" if status.state == "done"
                        else ":material/remove_circle_outline:")
                word = "Done" if status.state == "done" else "Not applicable"
                st.markdown(f"{icon} **{escape_markdown(gate.label)}**")
                st.caption(f"{word} · {escape_caption(status.by)} · {local(status.at)}")
                st.text(status.note or "")
                continue
            st.markdown(f":material/radio_button_unchecked: **{escape_markdown(gate.label)}**")
            if not editable:
                continue
            note_key = _key(reference, f"gate.{gate.key}")
            # A label per gate: screen readers (and tests) tell the notes apart.
            st.text_input(f"{escape_label(gate.label)}: what was done, or why it does not apply",
                          key=note_key, label_visibility="collapsed",
                          placeholder="What was done, or why it does not apply")
            _error(f"gate.{gate.key}", note_key)
            with st.container(horizontal=True):
                st.button("Done", key=note_key + ".done", on_click=_tick,
                          args=(actor, reference, gate.key, False))
                if gate.may_be_not_applicable:
                    st.button("Not applicable", key=note_key + ".na", on_click=_tick,
                              args=(actor, reference, gate.key, True))


def _tick(actor: Actor, reference: str, gate_key: str, not_applicable: bool) -> None:
    note = st.session_state.get(_key(reference, f"gate.{gate_key}")) or ""

    def action() -> None:
        try:
            check_gate(UnitOfWork(), actor, reference, gate_key, note=note,
                       not_applicable=not_applicable, now=utcnow())
        except ValidationFailed as exc:  # show it beside this gate
            raise ValidationFailed({f"gate.{gate_key}": " ".join(exc.errors.values())}) from exc

    _run(action, "Gate recorded.")


# -- validation and closure -------------------------------------------------------------------

def validation_panel(actor: Actor, detail: ReportDetail, view: ReviewView,
                     editable: bool) -> None:
    reference = detail.reference
    st.caption("Auditable validation: the report cannot close until every item has evidence "
               "(who, when, what).")
    for status in view.evidence:
        with st.container(border=True):
            item = status.item
            icon = ":material/check_circle:" if status.note else \
                ":material/radio_button_unchecked:"
            st.markdown(f"{icon} **{escape_markdown(item.label)}**")
            if status.note:
                st.caption(f"{escape_caption(status.by)} · {local(status.at)}"
                           + (f" · file: {escape_caption(status.attachment_name)}"
                              if status.attachment_name else ""))
                st.text(status.note)
            if status.attachment_id is not None:
                _download(actor, status.attachment_id, status.attachment_name or "evidence",
                          _key(reference, f"evidence.{item.key}.download"))
            if not editable:
                continue
            base = _key(reference, f"evidence.{item.key}")
            # Tracked open state: a rerun (a blur, another item's save) must not fold it shut.
            with st.expander("Add evidence" if not status.note else "Replace evidence",
                             key=base + ".panel", on_change="rerun",
                             expanded=bool((st.session_state.get(ERRORS) or {}).get(
                                 f"evidence.{item.key}"))):
                st.text_area(f"Evidence for “{escape_label(item.label)}”: what was checked, "
                             "seen or done", key=base + ".note", height=70)
                st.file_uploader(f"Attach a file to “{escape_label(item.label)}” (optional)",
                                 key=base + ".file",
                                 help="PDF, image, text or Office file; the size limit is in "
                                      "the provider's settings.")
                _error(f"evidence.{item.key}", base + ".note")
                st.button("Save evidence", key=base + ".save", on_click=_save_evidence,
                          args=(actor, reference, item.key))


def _download(actor: Actor, attachment_id: int, name: str, key: str) -> None:
    """An evidence file only ever as a download (read when clicked), never shown inline."""
    def data() -> bytes:
        return evidence_file(actor, attachment_id)

    st.download_button("Download the file", data=data, file_name=safe_name(name),
                       mime=DOWNLOAD_MIME, key=key, icon=":material/download:")


def _save_evidence(actor: Actor, reference: str, item_key: str) -> None:
    base = _key(reference, f"evidence.{item_key}")
    upload = st.session_state.get(base + ".file")
    file = (upload.name, upload.getvalue()) if upload is not None else None
    note = st.session_state.get(base + ".note") or ""

    def action() -> None:
        try:
            record_evidence(UnitOfWork(), actor, reference, item_key, note=note, file=file,
                            now=utcnow(), rules=settings())
        except ValidationFailed as exc:
            raise ValidationFailed({f"evidence.{item_key}": " ".join(exc.errors.values())}) \
                from exc

    _run(action, "Evidence recorded.")


def closure_panel(actor: Actor, detail: ReportDetail, view: ReviewView) -> None:
    reference = detail.reference
    if detail.status is ReportStatus.CLOSED:
        st.success(f"Closed by {escape_markdown(view.closed_by)} on {local(view.closed_at)}.")
        st.text(view.outcome or "")
        if can(actor, Capability.REOPEN):
            with st.expander("Reopen (quality lead)"):
                st.text_input("Reason for reopening", key=_key(reference, "reopen_reason"))
                _error("reason", _key(reference, "reopen_reason"))
                st.button("Reopen into review", key=_key(reference, "reopen"),
                          on_click=lambda: _run(lambda: reopen_report(
                              UnitOfWork(), actor, reference,
                              reason=st.session_state.get(_key(reference, "reopen_reason"))
                              or "", expected_version=detail.version,
                              now=utcnow(), rules=settings()), "Reopened into review."))
        return
    if detail.status is not ReportStatus.VALIDATING:
        return
    missing = view.missing_evidence_labels
    if missing:
        st.info("To close, add evidence for:\n"
                + "\n".join(f"- {escape_markdown(m)}" for m in missing))
    st.text_area("Outcome: what changed, and is the control reliable now?",
                 key=_key(reference, "outcome"))
    _error("outcome", _key(reference, "outcome"))
    st.button("Close the near miss", key=_key(reference, "close"), type="primary",
              on_click=lambda: _run(lambda: close_report(
                  UnitOfWork(), actor, reference,
                  outcome=st.session_state.get(_key(reference, "outcome")) or "",
                  expected_version=detail.version,
                  now=utcnow(), rules=settings()), "Closed. Thank you."))


def next_step_panel(actor: Actor, detail: ReportDetail, view: ReviewView) -> None:
    """The buttons that move the report on, with what still blocks them."""
    reference = detail.reference
    if detail.status is ReportStatus.IN_REVIEW:
        blockers = list(view.problems.values()) + [f"Cannot proceed without: {g}"
                                                   for g in view.open_gate_labels]
        if blockers:
            st.info("Before it can move on:\n"
                    + "\n".join(f"- {escape_markdown(b)}" for b in blockers))
        with st.container(horizontal=True):
            st.button("Review done: actions needed", key=_key(reference, "to_actions"),
                      on_click=lambda: _run(lambda: finish_review(
                          UnitOfWork(), actor, reference, next_step=ReportStatus.ACTIONS,
                          expected_version=detail.version,
                          now=utcnow(), rules=settings()), "Moved to actions."))
            st.button("Review done: validate now (no further action)",
                      key=_key(reference, "to_validating"),
                      on_click=lambda: _run(lambda: finish_review(
                          UnitOfWork(), actor, reference, next_step=ReportStatus.VALIDATING,
                          expected_version=detail.version,
                          now=utcnow(), rules=settings()), "Moved to validating."))
    elif detail.status is ReportStatus.ACTIONS:
        st.button("Actions in place: validate", key=_key(reference, "actions_done"),
                  on_click=lambda: _run(lambda: move_to_validating(
                      UnitOfWork(), actor, reference, expected_version=detail.version,
                                                                   now=utcnow(), rules=settings()),
                      "Moved to validating."))


# -- communication ----------------------------------------------------------------------------

def communication_panel(actor: Actor, detail: ReportDetail, view: ReviewView,
                        editable: bool) -> None:
    reference = detail.reference
    st.caption("Decisions about telling the family, a representative, the case manager or the "
               "funder: who decided, what was communicated, and when.")
    if view.communications:
        st.dataframe(pd.DataFrame({
            "Who it is about": [AUDIENCES.get(c.audience, c.audience)
                                for c in view.communications],
            "Communicated": ["Yes" if c.communicated else "No" for c in view.communications],
            "What / why not": [c.what for c in view.communications],
            "When": [local(c.communicated_at) for c in view.communications],
            "Decided by": [c.by for c in view.communications],
        }), hide_index=True, width="stretch")
    if not editable:
        return
    base = _key(reference, "comm")
    st.selectbox("About", list(AUDIENCES), format_func=AUDIENCES.get, index=None,
                 key=base + ".audience", placeholder="Choose")
    _error("audience", base + ".audience")
    st.radio("Communicated?", ["yes", "no"], format_func=lambda v: "Yes" if v == "yes" else
             "No, not needed", index=None, key=base + ".communicated", horizontal=True)
    _error("communicated", base + ".communicated")
    st.text_area("What was communicated (or why it was not needed)", key=base + ".what",
                 height=70)
    _error("what", base + ".what")
    st.datetime_input("When", value=None, key=base + ".at", format="DD/MM/YYYY", step=300)
    _error("communicated_at", base + ".at")

    def save() -> None:
        answer = st.session_state.get(base + ".communicated")
        data = CommunicationInput(
            audience=st.session_state.get(base + ".audience"),
            communicated=None if answer is None else answer == "yes",
            what=st.session_state.get(base + ".what") or "",
            communicated_at=st.session_state.get(base + ".at"))
        _run(lambda: record_communication(UnitOfWork(), actor, reference, data,
                                          now=utcnow(), rules=settings()),
             "Communication decision recorded.")

    st.button("Record decision", key=base + ".save", on_click=save)
