"""Regulator clocks on a page: an event's clocks and decision, the board's section, on-time
tables and charts.

Presentation only: who may decide, every check and every figure is core.regulator and
core.commissioner.regulator. Clock labels and the jurisdiction come from the settings file and
reasons are typed by people: all of it goes through ui.text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.auth.actor import Actor
from core.clock import utcnow
from core.commissioner.regulator import ClockTable, OnTime
from core.config import settings
from core.errors import DomainError, ValidationFailed
from core.metrics.findings import on_time_finding
from core.metrics.governance import Scope
from core.regulator.clocks import ClockState
from core.regulator.queries import ClockView, EventClocks, RegulatorBoard
from core.regulator.service import decide_reportable, record_clock_met
from core.uow import UnitOfWork
from core.views import governance as views
from ui import governance as gv
from ui.accessibility import answers_summary, field_message, mark_invalid_fields
from ui.charts import TITLED_MARGIN, chart_with_text, level_line
from ui.sections import section
from ui.text import (
    Badge,
    badge_line,
    chart_text,
    escape_caption,
    escape_label,
    escape_markdown,
    local,
    small_lines,
)

STATE_COLOURS: dict[ClockState, str] = {
    ClockState.RUNNING: "blue",
    ClockState.DUE_SOON: "orange",
    ClockState.OVERDUE: "red",
    ClockState.MET: "green",
    ClockState.MET_LATE: "orange",
    ClockState.WITHDRAWN: "gray",
}
NOTICE = "regulator_notice"
ERRORS = "regulator_errors"
REFUSALS = "regulator_refusals"  # refused forms so far: each one focuses the summary again
YES_NO = {"yes": "Reportable", "no": "Not reportable"}
# The forms' answers by the names core's checks use, as their fields and summaries name them.
DECISION_LABELS = {"reportable": "Must it be reported?",
                   "reason": "Why (the reasoning is part of the audit trail)"}
MET_LABELS = {"met_at": "When it was done", "note": "Note (optional)",
              "state_reference": "Reference (optional)"}
REFERENCE_NEEDED = "Reference the state gave"


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.regulator.{name}"


def clock_line(clock: ClockView) -> str:
    """"Reported to the state: due 14 Mar 2026 16:00 · 5 h left" (plain text)."""
    line = f"{clock.label}: due {local(clock.due_at)} · {clock.time_left}"
    if clock.met_at is not None:
        line += f" · done {local(clock.met_at)}"
        if clock.state_reference:
            line += f", state reference {clock.state_reference}"
    return line


def card_clocks(running: tuple[ClockView, ...]) -> list[Badge]:
    """The running clocks of a reportable event, as badges for a board card."""
    return [(f"{clock.label}: {clock.time_left}", STATE_COLOURS[clock.state],
             ":material/timer:") for clock in running]


def show_notice() -> None:
    """The outcome of the last regulator action on this page, once."""
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        (st.success if notice[0] == "success" else st.error)(escape_markdown(notice[1]))


def _errors(prefix: str) -> dict[str, str]:
    return (st.session_state.get(ERRORS) or {}).get(prefix, {})


def _field_error(prefix: str, name: str) -> None:
    """The answer's message, beside it (text, not an alert of its own)."""
    field_message(_key(prefix, name), _errors(prefix).get(name))


def _summary_key(prefix: str) -> str:
    return f"{prefix}.regulator.error_summary"


def _summary(prefix: str, labels: dict[str, str]) -> None:
    """A refused form's one alert, at its top, naming the answers to fix."""
    errors = _errors(prefix)
    if errors:
        answers_summary(_summary_key(prefix), "Not recorded yet",
                        [labels.get(name, name) for name in errors])


def _mark_invalid(prefix: str) -> None:
    """After a refused form's widgets: each answer to fix marked invalid, the summary
    focused."""
    errors = _errors(prefix)
    if errors:
        mark_invalid_fields([_key(prefix, name) for name in errors],
                            summary_key=_summary_key(prefix),
                            attempt=str(st.session_state.get(REFUSALS, 0)))


def _store_errors(prefix: str, errors: dict[str, str] | None) -> None:
    stored = dict(st.session_state.get(ERRORS) or {})
    stored.pop(prefix, None)
    if errors:
        stored[prefix] = errors
        st.session_state[REFUSALS] = st.session_state.get(REFUSALS, 0) + 1
    st.session_state[ERRORS] = stored


def _decide(actor: Actor, reference: str, prefix: str) -> None:
    answer = st.session_state.get(_key(prefix, "reportable"))
    try:
        decide_reportable(UnitOfWork(), actor, reference,
                          reportable=None if answer is None else answer == "yes",
                          reason=st.session_state.get(_key(prefix, "reason")) or "",
                          now=utcnow(), rules=settings())
    except ValidationFailed as exc:
        _store_errors(prefix, exc.errors)  # the form's own summary says so, beside them
        return
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
    else:
        st.session_state[NOTICE] = ("success", f"Recorded for {reference}: "
                                               + ("reportable, its clocks have started."
                                                  if answer == "yes" else "not reportable."))
    _store_errors(prefix, None)


def _met(actor: Actor, clock: ClockView, prefix: str) -> None:
    try:
        on_time = record_clock_met(
            UnitOfWork(), actor, clock.clock_id,
            met_at=st.session_state.get(_key(prefix, "met_at")),
            state_reference=st.session_state.get(_key(prefix, "state_reference")) or "",
            note=st.session_state.get(_key(prefix, "note")) or "", now=utcnow(), rules=settings())
    except ValidationFailed as exc:
        _store_errors(prefix, exc.errors)  # the form's own summary says so, beside them
        return
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
    else:
        st.session_state[NOTICE] = ("success", f"{clock.label}: recorded as done, "
                                               + ("on time." if on_time else "late."))
    _store_errors(prefix, None)


def _met_form(actor: Actor, clock: ClockView, prefix: str) -> None:
    labels = ({**MET_LABELS, "state_reference": REFERENCE_NEEDED} if clock.needs_reference
              else MET_LABELS)
    # Its fields are drawn only while it is open (ui.sections): an open regulator section on
    # the board drew every running clock's form, hidden in closed expanders.
    with section(f"Record as done: {clock.label}", key=_key(prefix, "met_form"),
                 expanded=bool(_errors(prefix))) as shown:
        if shown.open is False:
            return
        _summary(prefix, labels)
        st.datetime_input(MET_LABELS["met_at"], value=None, key=_key(prefix, "met_at"),
                          format="DD/MM/YYYY", step=300, persist_state="session")
        _field_error(prefix, "met_at")
        st.text_input(REFERENCE_NEEDED if clock.needs_reference
                      else MET_LABELS["state_reference"], key=_key(prefix, "state_reference"),
                      max_chars=120, persist_state="session")
        _field_error(prefix, "state_reference")
        st.text_input(MET_LABELS["note"], key=_key(prefix, "note"), persist_state="session")
        _field_error(prefix, "note")
        st.button("Record as done", key=_key(prefix, "met"), on_click=_met,
                  args=(actor, clock, prefix), type="primary")
        _mark_invalid(prefix)


def _decision_form(actor: Actor, event: EventClocks, prefix: str) -> None:
    title = ("Decide whether it must be reported to the regulator" if event.decision is None
             else "Revise the decision")
    with section(title, key=_key(prefix, "decision_form"),
                 expanded=bool(_errors(prefix))) as shown:
        if shown.open is False:  # its fields are drawn only while it is open
            return
        _summary(prefix, DECISION_LABELS)
        st.radio(DECISION_LABELS["reportable"], list(YES_NO), format_func=YES_NO.get,
                 index=None, key=_key(prefix, "reportable"), horizontal=True,
                 persist_state="session")
        _field_error(prefix, "reportable")
        st.text_area(DECISION_LABELS["reason"], key=_key(prefix, "reason"),
                     persist_state="session")
        _field_error(prefix, "reason")
        st.button("Record the decision", key=_key(prefix, "decide"), on_click=_decide,
                  args=(actor, event.reference, prefix), type="primary")
        _mark_invalid(prefix)


def event_panel(actor: Actor, event: EventClocks | None, *, prefix: str,
                lead: Sequence[str] = ()) -> None:
    """A possibly reportable event: the decision (who, when, why), each clock with its due
    time and time left, and for deciders the forms to decide and to record a deadline met.
    `lead`: plain lines shown first, small and grey (the board's "service · known when").
    What it says is one element (lines, decision and clocks were one each): the board draws
    a page of events at every run."""
    if event is None or (event.decision is None and not event.candidate_reasons):
        return
    decision = event.decision
    lines = list(lead)
    if decision is None:
        jurisdiction = settings().regulator.jurisdiction
        lines.append(f"Possibly reportable to {jurisdiction} "
                     f"({', '.join(event.candidate_reasons)}): not decided yet.")
        said = [small_lines(lines)]
    else:
        who = f" by {decision.decided_by}" if decision.decided_by else ""
        answer = "Reportable" if decision.reportable else "Not reportable"
        said = [small_lines(lines)] if lines else []
        said.append(escape_markdown(f"{answer} to {decision.jurisdiction}: decided{who} on "
                                    f"{local(decision.decided_at)}. Why: {decision.reason}"))
    # Each clock: its state's badge and its line.
    said += [badge_line([(clock.state.label, STATE_COLOURS[clock.state], None)]) + " "
             + escape_markdown(clock_line(clock)) for clock in event.clocks]
    st.markdown("  \n".join(said))
    if event.may_decide:
        for clock in event.clocks:
            if clock.running:
                _met_form(actor, clock, f"{prefix}.{clock.clock_id}")
        _decision_form(actor, event, prefix)


BOARD_PAGE_SIZE = 8  # events per list; a busy provider's list pages on
BOARD_SECTION = "board_regulator"  # the board's section: its key, and whether it was open


def board_page(which: str) -> int:
    """The page of the board's `which` list ("awaiting" or "running") being shown."""
    return int(st.session_state.get(f"board_regulator_{which}_page", 1) or 1)


def board_section(actor: Actor, read: Callable[[bool], RegulatorBoard]) -> None:
    """The board's expander: events awaiting a decision, then those with clocks running, a
    page of each. Its events are read (`read(True)`) and drawn only while it is open (it
    opens by itself when a clock is overdue): a closed section's forms were most of the
    board's run, sent to a browser that hid them. Closed, its title comes from the totals
    alone (`read(False)`); open since the last run, from the events' read."""
    was_open = bool(st.session_state.get(BOARD_SECTION))
    board = read(was_open)
    title = (f"Regulator clocks · {board.awaiting_total:d} to decide · "
             f"{board.running_total:d} running"
             + (f" · {board.overdue:d} overdue" if board.overdue else ""))
    with section(title, icon=":material/timer:", key=BOARD_SECTION,
                 expanded=bool(board.overdue)) as shown:
        if shown.open is False:
            return
        if not was_open:  # opened by a click or by itself: its events are read now
            board = read(True)
        show_notice()
        st.caption(escape_caption(
            f"Deadlines for reporting to {board.jurisdiction}. Possibly reportable events of "
            f"the last {board.window_days} days wait for a decision; a reportable one shows "
            "each deadline and the time left."))
        if not board.awaiting_total and not board.running_total:
            st.caption("Nothing to decide and no clock running in your services.")
        for which, events, total, shown in (
                ("awaiting", board.awaiting, board.awaiting_total, board.awaiting_page),
                ("running", board.running, board.running_total, board.running_page)):
            for event in events:
                with st.container(border=True):
                    st.page_link("pages/near_miss.py",
                                 label=f"{event.reference} · {escape_label(event.type_name)}",
                                 query_params={"ref": event.reference},
                                 icon=":material/open_in_new:")
                    event_panel(actor, event, prefix=f"board.{event.reference}",
                                lead=[f"{event.service} · known {local(event.known_at)}"])
            pages = math.ceil(total / BOARD_PAGE_SIZE)
            if pages > 1:
                st.caption(f"{total:d} {'to decide' if which == 'awaiting' else 'running'}: "
                           f"page {shown:d} of {pages:d}, "
                           + ("oldest first." if which == "awaiting"
                              else "soonest deadline first."))
                st.pagination(pages, key=f"board_regulator_{which}_page",
                              max_visible_pages=3, persist_state="session")


CLOCK_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star"]


# -- governance and commissioners ----------------------------------------------------------


@st.cache_data(ttl=gv.TTL_SECONDS, show_spinner=False, hash_funcs=gv.BY_LENS)
def cached_on_time(version: int, actor: Actor, scope: Scope) -> OnTime:
    return views.on_time(actor, scope, now=utcnow(), rules=settings())


def on_time_section(on_time: OnTime, *, key: str) -> None:
    """A line per clock of the share met on time each month, the target as a dashed line,
    and the counts in a small table."""
    frame = on_time.frame()
    counted = frame[frame["due"] > 0]
    if counted.empty:
        st.caption("No regulator deadline fell due in this period.")
        return
    # Each clock its own marker shape as well as its colour (WCAG 1.4.1), named in the legend.
    traces = [{"type": "scatter", "x": list(rows["month"]), "y": list(rows["share"] * 100),
               "name": chart_text(str(clock)), "mode": "lines+markers",
               "marker": {"symbol": symbol, "size": 9}}
              for (clock, rows), symbol in zip(counted.groupby("clock", sort=False),
                                               CLOCK_SYMBOLS * 4, strict=False)]
    line, label = level_line(on_time.target * 100, colour="#b3261e", dash="dash",
                             text=f"Target {on_time.target:.0%}")
    figure = go.Figure(data=traces, layout={
        "title": {"text": "Deadlines met on time, per month (%)"}, "height": 320,
        "yaxis": {"range": [0, 105], "ticksuffix": "%"},
        "margin": TITLED_MARGIN, "legend": {"orientation": "h", "y": -0.2},
        "shapes": [line], "annotations": label})
    below = counted["share"] < on_time.target
    table = counted.assign(share=counted["share"].map(lambda v: f"{v:.0%}"),
                           below=below.map(lambda b: "Below target" if b else "Met"),
                           month=counted["month"].map(lambda m: f"{pd.Timestamp(m):%b %Y}"))
    chart_with_text(on_time_finding(counted, on_time.target), figure, table.rename(columns={
        "clock": "Clock", "month": "Month", "due": "Fell due", "on_time": "On time",
        "late": "Late", "share": "On time %", "below": "Against the target"}),
        key=f"{key}_chart")
    st.caption(f"A deadline counts in the month it fell due, once met or passed. The target "
               f"is {on_time.target:.0%} (the CMS 2024 HCBS Access Rule's level for incident "
               "management).")


def commissioner_tables(target: float, tables: list[ClockTable]) -> None:
    """One de-identified table per clock: counts below the threshold hidden, and a share
    hidden whenever a count it rests on is."""
    st.caption(f"Deadlines the provider's jurisdiction sets for reporting and investigating "
               f"critical incidents, met on time each month, against the {target:.0%} the CMS "
               "2024 HCBS Access Rule sets for incident management. A share reads "
               "\"suppressed\" when a count it rests on is hidden.")
    for table in tables:
        st.markdown(f"**{escape_markdown(table.label)}**")
        st.dataframe(pd.DataFrame(table.records()), hide_index=True, width="stretch",
                     key=f"evidence_regulator_{table.key}")
