"""One near miss: what was reported, its escalations and history, and the triage form."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.auth.policy import Capability, can
from core.clock import utcnow
from core.config import Settings, settings
from core.errors import DomainError, NotFound, ValidationFailed
from core.filing.detail import ReportDetail
from core.reports.vocabulary import ReportStatus
from core.reports.workflow import is_open
from core.review.service import start_review
from core.triage.matrix import matrix_cells, review_level
from core.triage.proposal import TriageProposal, investigation_options
from core.triage.service import (
    TriageAnswers,
    reclassify_as_incident,
    triage_report,
)
from core.triage.vocabulary import Recurrence, ReviewLevel, Route, Severity
from core.uow import UnitOfWork
from core.views.near_miss import near_miss_page
from ui import read_alike
from ui import review_panels as panels
from ui.accessibility import answers_summary, error_summary, field_message, mark_invalid_fields
from ui.badges import FLAG_COLOURS
from ui.learning_responses import response_links
from ui.mail import send_emails_soon
from ui.session import current_actor
from ui.text import escape_caption, escape_label, escape_markdown, local

ERRORS = "near_miss_errors"  # the triage form's answers to fix
REFUSALS = "near_miss_refusals"  # refused saves so far: each one focuses the summary again
RECLASSIFY_ERRORS = "near_miss_reclassify_errors"
NOTICE = "near_miss_notice"
TRIAGE_SUMMARY = "triage_error_summary"
RECLASSIFY_SUMMARY = "reclassify_error_summary"
# The triage answers by the names core's checks use, as the summary names them.
TRIAGE_LABELS = {
    "at_risk_now": "Is anyone still at risk right now?",
    "immediate_safeguards": "Immediate safeguards taken (before anything else)",
    "safeguarding_trigger": "Does it trigger safeguarding or external reporting?",
    "safeguarding_signals": "Safeguarding or rights signals",
    "recurrence": "Recurrence",
    "severity": "Severity potential: how bad could it have been?",
    "investigation": "Minimum investigation",
    "route": "Route to",
    "notes": "Notes for the reviewer (optional)",
}
INCIDENT_REASON = "What harm reached the person, and why this is now an incident"
YES_NO = {"yes": "Yes", "no": "No"}
FLAG_TITLES = {"still_at_risk": "Still at risk", "safeguarding": "Safeguarding",
               "stop_the_line": "Stop the line", "cluster": "Cluster", "repeat": "Repeat",
               "interface": "Interface"}

actor = current_actor()
reference = str(st.query_params.get("ref", "")).strip().upper()
if not reference:
    st.title("Near miss")
    st.info("Open a near miss from the triage board or your inbox.")
    st.page_link("pages/triage_board.py", label="Go to the triage board",
                 icon=":material/view_kanban:")
    st.stop()


def _key(name: str) -> str:
    return f"triage.{reference}.{name}"


def _value(name: str) -> Any:
    return st.session_state.get(_key(name))


def _field_error(name: str) -> None:
    """The triage answer's message, beside it (text, not an alert of its own)."""
    field_message(_key(name), (st.session_state.get(ERRORS) or {}).get(name))


def _refused() -> None:
    st.session_state[REFUSALS] = st.session_state.get(REFUSALS, 0) + 1


def _yes(name: str) -> bool | None:
    value = _value(name)
    return None if value is None else value == "yes"


def _submit_triage(version: int) -> None:
    st.session_state.pop(ERRORS, None)
    answers = TriageAnswers(
        at_risk_now=_yes("at_risk_now"),
        immediate_safeguards=_value("immediate_safeguards") or "",
        safeguarding_trigger=_yes("safeguarding_trigger"),
        safeguarding_signals=list(_value("safeguarding_signals") or []),
        external_reporting=bool(_value("external_reporting")),
        recurrence=_value("recurrence"),
        related_report_ids=list(st.session_state.get(_key("related_ids"), [])),
        severity=_value("severity"),
        investigation=_value("investigation"),
        route=_value("route"),
        notes=_value("notes") or "",
    )
    try:
        outcome = triage_report(UnitOfWork(), actor, reference, answers, expected_version=version,
                                now=utcnow(), rules=settings())
    except ValidationFailed as exc:
        st.session_state[ERRORS] = exc.errors
        _refused()
        return
    except DomainError as exc:  # conflict, illegal move, storage
        st.session_state[NOTICE] = ("error", str(exc))
        return
    raised = ", ".join(outcome.escalations_raised)
    st.session_state[NOTICE] = ("success", f"Triaged: {outcome.investigation.label}, routed to "
                                f"the {outcome.route.label.lower()}."
                                + (f" Escalated at once: {raised}." if raised else ""))
    send_emails_soon()


def _start_review(version: int) -> None:
    try:
        start_review(UnitOfWork(), actor, reference, expected_version=version,
                     now=utcnow(), rules=settings())
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
    else:
        st.session_state[NOTICE] = ("success", "Review started.")


def _reclassify(version: int) -> None:
    st.session_state.pop(RECLASSIFY_ERRORS, None)
    try:
        reclassify_as_incident(UnitOfWork(), actor, reference,
                               reason=_value("incident_reason") or "",
                               incident_reference=_value("incident_reference") or "",
                               expected_version=version, now=utcnow(), rules=settings())
    except ValidationFailed as exc:
        st.session_state[RECLASSIFY_ERRORS] = exc.errors
        _refused()
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
    else:
        st.session_state[NOTICE] = ("success", "Re-classified as an incident and handed to the "
                                    "incident process. Its history stays here.")


def _facts(detail: ReportDetail) -> None:
    st.subheader("What was reported")
    st.text(detail.description)  # free text: shown as text, never Markdown or HTML
    facts = {
        "When it happened": local(detail.occurred_at),
        "Reported": f"{local(detail.reported_at)} by {detail.reporter}",
        "Where": f"{detail.service} · {detail.location}"
                 + (f" ({detail.region} region)" if detail.region else ""),
        "Person supported": detail.person or "Not recorded",
        "Route": detail.route or "—",
        "Staff group": detail.staff_group or "—",
        "Interface": detail.interface_flag or "—",
        "What stopped harm": detail.barrier,
        "Still at risk when reported": "Yes" if detail.still_at_risk else "No",
    }
    if detail.immediate_safeguards:
        facts["Immediate safeguards"] = detail.immediate_safeguards
    facts.update(dict(detail.capture))
    st.dataframe(pd.DataFrame({"Detail": list(facts), "As reported": list(facts.values())}),
                 hide_index=True, width="stretch")


def _escalations(detail: ReportDetail) -> None:
    if not detail.escalations:
        return
    st.subheader("Escalations")
    for item in detail.escalations:
        state = ("decided" if item.decided_at else "acknowledged" if item.acknowledged_at
                 else "overdue" if item.overdue else "waiting")
        with st.container(border=True):
            st.markdown(f"**{item.kind.label}**")
            st.caption(escape_caption(item.reason))
            timeline = [f"Raised {local(item.raised_at)}", f"due {local(item.due_at)}"]
            if item.acknowledged_at:
                timeline.append(f"acknowledged {local(item.acknowledged_at)} by "
                                f"{item.acknowledged_by}")
            if item.decided_at:
                timeline.append(f"decided {local(item.decided_at)} by {item.decided_by}")
            st.text(" · ".join(timeline))
            if state == "overdue":
                st.error("Not acknowledged in time.", icon=":material/alarm:")
            if item.decision:
                st.dataframe(pd.DataFrame({"Decision": list(item.decision),
                                           "": [str(v) for v in item.decision.values()]}),
                             hide_index=True)


def _matrix_table(severity: str | None, recurrence: str | None) -> None:
    chosen = (Severity(severity), Recurrence(recurrence)) if severity and recurrence else None
    rows = matrix_cells(settings().triage, chosen)
    frame = pd.DataFrame(
        [[cell.level.label for cell in row] for row in rows],
        index=[f"{row[0].severity.label} potential" for row in rows],
        columns=[r.label for r in Recurrence],
    )
    marks = pd.DataFrame(
        [["background-color: #0b6e4f; color: white; font-weight: bold" if cell.chosen else ""
          for cell in row] for row in rows], index=frame.index, columns=frame.columns)
    st.dataframe(frame.style.apply(lambda _: marks, axis=None), width="stretch")


def _triage_form(detail: ReportDetail, proposal: TriageProposal, signals: dict[str, str],
                 ) -> None:
    """The four triage questions in order, with the portal's proposed answers, then where the
    report goes next."""
    rules = settings()
    st.subheader("Triage")
    st.caption("Answer in a minute. The portal proposes answers from what it already knows.")
    errors = st.session_state.get(ERRORS) or {}
    if errors:
        answers_summary(TRIAGE_SUMMARY, "Not saved yet",
                        [TRIAGE_LABELS.get(name, name) for name in errors])

    _at_risk_question(detail, proposal)
    _safeguarding_question(proposal, signals)
    _repeat_question(proposal, rules)
    _investigation_question(rules)

    routes = [r.value for r in Route]
    st.radio("Route to", routes, format_func=lambda v: Route(v).label,
             index=routes.index(proposal.route.value), key=_key("route"), horizontal=True)
    _field_error("route")
    st.text_area("Notes for the reviewer (optional)", key=_key("notes"), height=70)
    _field_error("notes")
    st.button("Save triage", type="primary", key="triage_submit", icon=":material/check:",
              on_click=_submit_triage, args=(detail.version,))
    if errors:
        mark_invalid_fields([_key(name) for name in errors], summary_key=TRIAGE_SUMMARY,
                            attempt=str(st.session_state.get(REFUSALS, 0)))


def _at_risk_question(detail: ReportDetail, proposal: TriageProposal) -> None:
    """Question 1, and the safeguards taken at once when someone is still at risk."""
    st.markdown("**1. Is anyone still at risk right now?**")
    st.radio("Is anyone still at risk right now?", list(YES_NO), format_func=YES_NO.get,
             index=0 if proposal.at_risk_now else None, key=_key("at_risk_now"),
             horizontal=True, label_visibility="collapsed")
    _field_error("at_risk_now")
    if _value("at_risk_now") == "yes":
        st.text_area("Immediate safeguards taken (before anything else)",
                     value=detail.immediate_safeguards or "", key=_key("immediate_safeguards"))
        _field_error("immediate_safeguards")


def _safeguarding_question(proposal: TriageProposal, signals: dict[str, str]) -> None:
    """Question 2, and which signals and whether external reporting is required."""
    st.markdown("**2. Does it trigger safeguarding or external reporting?**")
    st.radio("Does it trigger safeguarding or external reporting?", list(YES_NO),
             format_func=YES_NO.get, index=0 if proposal.safeguarding_trigger else None,
             key=_key("safeguarding_trigger"), horizontal=True, label_visibility="collapsed")
    _field_error("safeguarding_trigger")
    if _value("safeguarding_trigger") == "yes":
        st.multiselect("Safeguarding or rights signals", list(signals),
                       format_func=signals.get, key=_key("safeguarding_signals"))
        _field_error("safeguarding_signals")
        st.checkbox("External reporting is required", key=_key("external_reporting"))
        st.caption("The safeguarding lead is told at once and records the decision and its "
                   "timeline.")


def _repeat_question(proposal: TriageProposal, rules: Settings) -> None:
    """Question 3: the cluster rule's finding and the earlier related reports the portal
    found, the recurrence it proposes, the severity potential, and the matrix they point to."""
    st.markdown("**3. Is it a repeat theme?**")
    if proposal.cluster is not None:
        st.warning(f"Cluster rule: {escape_markdown(proposal.cluster.description)}.",
                   icon=":material/hub:")
    if proposal.related:
        st.caption(f"Earlier reports within {rules.triage.recurrence_window_days} days that "
                   "share the person, location, route, or type in this service:")
        st.dataframe(pd.DataFrame({
            "Reference": [r.reference for r in proposal.related],
            "When": [local(r.occurred_at) for r in proposal.related],
            "Type": [r.type_name for r in proposal.related],
            "Location": [r.location for r in proposal.related],
            "Shares": [", ".join(r.matches) for r in proposal.related],
        }), hide_index=True, width="stretch")
        st.session_state[_key("related_ids")] = [r.id for r in proposal.related]
    else:
        st.caption(f"No earlier related reports within {rules.triage.recurrence_window_days} "
                   "days.")
    recurrences = [r.value for r in Recurrence]
    st.radio("Recurrence", recurrences, format_func=lambda v: Recurrence(v).label,
             index=recurrences.index(proposal.recurrence.value), key=_key("recurrence"),
             horizontal=True)
    _field_error("recurrence")

    severities = [s.value for s in reversed(Severity)]
    st.radio("Severity potential: how bad could it have been?", severities,
             format_func=lambda v: Severity(v).label, index=None, key=_key("severity"),
             horizontal=True)
    _field_error("severity")
    _matrix_table(_value("severity"), _value("recurrence"))


def _investigation_question(rules: Settings) -> None:
    """Question 4: the investigations the matrix allows for the answers given (core's rule),
    the minimum one chosen first."""
    st.markdown("**4. The minimum investigation that will reveal the system failure**")
    level = (review_level(Severity(_value("severity")), Recurrence(_value("recurrence")),
                          rules.triage) if _value("severity") and _value("recurrence") else None)
    choices = [lvl.value for lvl in investigation_options(level)]
    if _value("investigation") not in choices:
        st.session_state.pop(_key("investigation"), None)
    st.radio("Minimum investigation", choices, format_func=lambda v: ReviewLevel(v).label,
             index=0 if level else None, key=_key("investigation"), horizontal=True,
             label_visibility="collapsed")
    if level is not None and level.depth >= 2:
        st.caption("High potential or clustered near misses get deeper review even though no "
                   "harm occurred.")
    _field_error("investigation")


PLAN_STATUSES = (ReportStatus.IN_REVIEW, ReportStatus.ACTIONS, ReportStatus.VALIDATING,
                 ReportStatus.CLOSED)


def _action_plans(detail: ReportDetail, plans: list[tuple[int, str]]) -> None:
    """Links to the plans serving this report, and to build one (quality leads, reviewers)."""
    may_build = detail.status in PLAN_STATUSES and can(actor, Capability.MANAGE_ACTIONS)
    if not plans and not may_build:
        return
    st.markdown("**Action plans**")
    for plan_id, title in plans:
        st.page_link("pages/action_plan.py", label=f"Plan #{plan_id}: {escape_label(title)}",
                     query_params={"plan": str(plan_id)}, icon=":material/assignment:")
    if may_build:
        st.page_link("pages/action_plan.py", label="Create an action plan",
                     query_params={"from": "report", "ref": detail.reference},
                     icon=":material/add_task:")


try:
    page = near_miss_page(actor, reference, now=utcnow(), rules=settings())
except NotFound as exc:
    st.title("Near miss")
    st.error(escape_markdown(str(exc)))
    st.stop()

detail, proposal, review = page.detail, page.proposal, page.review
signals, factors, plans = page.signals, page.factors, list(page.plans)

st.title(f"{detail.reference} · {escape_markdown(detail.type_spec.name)}")
with st.container(horizontal=True, gap="small"):
    st.badge(detail.status.label, color="gray")
    for flag, on in detail.flags.items():
        if on:
            st.badge(FLAG_TITLES[flag], color=FLAG_COLOURS[flag])
    if detail.review_level:
        st.badge(ReviewLevel(detail.review_level).label, color="blue")

# A fixed slot: a notice appearing or not must not shift the elements below it (that resets
# the open tab and expanders in the browser).
with st.container(key="near_miss_notice_slot"):
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        kind, message = notice
        if kind == "success":
            st.success(escape_markdown(message))
        elif st.session_state.get(panels.ERRORS):  # the review's one alert, focused
            error_summary(panels.SUMMARY, escape_markdown(message))
        else:
            st.error(escape_markdown(message))
        if kind == "success":
            st.session_state.pop(panels.ERRORS, None)

left, right = st.columns([3, 2], gap="large")
with left:
    _facts(detail)
    _escalations(detail)
    read_alike.panel(actor, page.read_alike)
with right:
    if detail.status is ReportStatus.NEW and proposal is not None:
        _triage_form(detail, proposal, signals)
    elif detail.status is ReportStatus.TRIAGED:
        st.subheader("Next step")
        st.markdown(f"Routed to the **{Route(detail.routed_to or 'supervisor').label.lower()}** "
                    f"for **{ReviewLevel(detail.review_level or 'none').label.lower()}**.")
        st.button("Start review", type="primary", key="start_review", on_click=_start_review,
                  args=(detail.version,))
    elif review is not None:
        st.subheader("Next step")
        panels.next_step_panel(actor, detail, review)
        panels.closure_panel(actor, detail, review)
        if review.similar_elsewhere:
            st.warning(f"{len(review.similar_elsewhere)} similar near misses elsewhere in the "
                       "last 90 days: " + ", ".join(review.similar_elsewhere[:6])
                       + ". A root cause analysis can group them.", icon=":material/hub:")
            st.page_link("pages/rca.py", label="Open a root cause analysis",
                         query_params={"reports": ",".join([detail.reference,
                                                            *review.similar_elsewhere])},
                         icon=":material/account_tree:")
    _action_plans(detail, plans)
    response_links(detail, page.responses, page.responses_error)
    if is_open(detail.status):
        refused = st.session_state.get(RECLASSIFY_ERRORS) or {}
        with st.expander("Harm reached the person? Re-classify as an incident",
                         expanded=bool(refused)):
            if refused:
                answers_summary(RECLASSIFY_SUMMARY, "Not re-classified yet",
                                [INCIDENT_REASON])
            st.text_area(INCIDENT_REASON, key=_key("incident_reason"))
            field_message(_key("incident_reason"), refused.get("reason"))
            st.text_input("Incident reference (optional)", key=_key("incident_reference"))
            st.button("Re-classify as an incident", key="reclassify", on_click=_reclassify,
                      args=(detail.version,))
            if refused:
                mark_invalid_fields([_key("incident_reason")], summary_key=RECLASSIFY_SUMMARY,
                                    attempt=str(st.session_state.get(REFUSALS, 0)))

history_tab = None
if review is not None:
    editable = detail.status in (ReportStatus.IN_REVIEW, ReportStatus.ACTIONS,
                                 ReportStatus.VALIDATING)
    done_gates = len(review.gates) - len(review.open_gate_labels)
    evidenced = len(review.evidence) - len(review.missing_evidence_labels)
    to_do = "complete" if not review.problems else f"{len(review.problems)} to do"
    st.markdown(f"**Review:** {to_do} · **Gates:** {done_gates}/{len(review.gates)}"
                f" · **Validation:** {evidenced}/{len(review.evidence)}")
    # Stable labels and a tracked key keep the chosen tab open across the reruns each tick
    # causes.
    review_tab, gates_tab, validation_tab, comms_tab, history_tab = st.tabs(
        ["Review", "Gates", "Validation", "Communication", "History"],
        key=f"review_tabs.{detail.reference}", on_change="rerun")
    with review_tab:
        panels.review_form(actor, detail, review, factors,
                           editable and detail.status is ReportStatus.IN_REVIEW)
    with gates_tab:
        panels.gates_panel(actor, detail, review, editable)
    with validation_tab:
        panels.validation_panel(actor, detail, review, editable)
    with comms_tab:
        panels.communication_panel(actor, detail, review, editable)

with history_tab if history_tab is not None else st.container():
    st.subheader("History")
    st.dataframe(pd.DataFrame({
        "When": [local(h.at) for h in detail.history],
        "Who": [h.who for h in detail.history],
        "What": [h.what for h in detail.history],
        "Detail": [h.detail for h in detail.history],
    }), hide_index=True, width="stretch")
panels.mark_refused()  # after the review's answers: tie each refused one to its message
