"""One action of a plan on the action plan page: its facts, evidence checks, status, test
window, verification and sustainment checks, with only the controls core would allow.

Widgets in, core calls out (core.actions holds every rule). People's free text is shown with
st.text, dataframes or widgets, never as Markdown; labels and notices that quote it are
escaped with ui.text. Refusals and notices go through ui.action_panels, shared with the plan
builder.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from core.actions.measures import PER_LABELS, Evaluation, MeasureFilters
from core.actions.queries import ActionView
from core.actions.service import complete_evidence_check, set_go_live, set_status
from core.actions.verdicts import confirm_sustainment, confirm_verdict
from core.actions.vocabulary import NEXT_STATUSES, ActionStatus, Strength
from core.auth.actor import Actor
from core.auth.policy import Capability, can
from core.clock import utcnow
from core.config import settings
from core.metrics.findings import measure_finding
from core.uow import UnitOfWork
from ui.action_panels import NOT_SAVED, error, has_error, notice, refused, run
from ui.charts import chart_with_text
from ui.measure_chart import describe_measure, weekly_chart, weekly_table
from ui.text import escape_caption, escape_label, escape_markdown, local

STATUS_COLOURS = {
    ActionStatus.PLANNED: "gray", ActionStatus.IN_PROGRESS: "blue",
    ActionStatus.IN_TEST: "violet", ActionStatus.VERIFIED_EFFECTIVE: "green",
    ActionStatus.NOT_EFFECTIVE: "red", ActionStatus.STOPPED: "gray",
}
STRENGTH_COLOURS = {Strength.STRONGER: "green", Strength.INTERMEDIATE: "blue",
                    Strength.WEAKER: "orange"}
DEADLINE_BADGES = {"overdue": ("Overdue", "red"), "due_soon": ("Due soon", "orange")}
VERDICT_LABELS = {"effective": "Effective", "not_effective": "Not effective",
                  "too_early": "Too early to tell", "insufficient_data": "Not enough data yet",
                  "running": "Test running"}
VERDICT_COLOURS = {"effective": "green", "not_effective": "red", "too_early": "orange",
                   "insufficient_data": "gray", "running": "violet"}
VERDICT_ICONS = {"effective": ":material/trending_down:", "not_effective": ":material/block:",
                 "too_early": ":material/hourglass_top:", "insufficient_data": ":material/help:",
                 "running": ":material/science:"}
OBSERVED_TITLES = {"running": "So far in the test", "window": "During the test window",
                   "sustainment": "Since go-live"}


class ActionCard:
    """One action of a plan: facts, evidence checks, status, test window, verdict, and
    sustainment checks; shows only the controls core would allow this actor."""

    def __init__(self, actor: Actor, view: ActionView, number: int, *, day: date,
                 names: dict[str, dict[Any, str]], series: dict[date, int] | None):
        self.actor, self.view, self.row = actor, view, view.row
        self.number, self.day, self.names, self.series = number, day, names, series
        self.manage = can(actor, Capability.MANAGE_ACTIONS)
        self.owner = self.row.owner_id == actor.user_id
        self.may_work = self.manage or self.owner
        self.key = f"action.{self.row.id}"

    def render(self) -> None:
        row = self.row
        with st.container(border=True, key=self.key):
            with st.container(horizontal=True, gap="small", vertical_alignment="center"):
                st.markdown(f"**Action {self.number}**")
                st.badge(row.status.label, color=STATUS_COLOURS[row.status])
                st.badge(f"{row.strength.label}: {row.kind}",
                         color=STRENGTH_COLOURS[row.strength])
                if row.deadline_state in DEADLINE_BADGES:
                    label, colour = DEADLINE_BADGES[row.deadline_state]
                    st.badge(label, color=colour, icon=":material/alarm:")
            st.text(row.title)
            if self.view.description:
                st.caption("How it works")
                st.text(self.view.description)
            self._facts()
            self._checks()
            self._status_controls()
            if self.view.measure is not None or row.go_live is not None:
                self._verification()
            if self.view.sustainment:
                self._sustainment()

    # -- facts

    def _facts(self) -> None:
        row = self.row
        facts = [("Owner", row.owner + (" (you)" if self.owner else "")),
                 ("Service", row.service or "several services"),
                 ("Deadline", f"{row.deadline:%d %b %Y}"),
                 ("Review", f"{row.review_date:%d %b %Y}"
                  + (" (this week)" if row.review_due_this_week else ""))]
        if row.go_live:
            facts.append(("Went live", f"{row.go_live:%d %b %Y}"))
            if row.window_end:
                facts.append(("Test window ends", f"{row.window_end:%d %b %Y}"))
        if row.sustainment_due:
            facts.append(("Still-in-place check", f"{row.sustainment_due:%d %b %Y}"))
        # Names and services are people's text: escaped before they meet Markdown.
        st.markdown(" · ".join(f"{label}: **{escape_markdown(value)}**"
                               for label, value in facts))

    # -- evidence checks

    def _checks(self) -> None:
        checks = self.view.checks
        done = sum(1 for c in checks if c.completed_at)
        st.markdown(f"**Evidence checks · {done}/{len(checks)}**")
        open_action = self.row.status.open
        for check in checks:
            with st.container(horizontal=True, gap="small", vertical_alignment="center"):
                st.markdown(":material/check_circle:" if check.completed_at
                            else ":material/radio_button_unchecked:")
                st.text(check.name)
            if check.completed_at:
                st.caption(f"Completed by {escape_caption(check.completed_by or '?')} · "
                           f"{local(check.completed_at)}")
                st.text(check.note or "")
                continue
            if not (self.may_work and open_action):
                continue
            base = f"check.{check.id}"
            # A tracked open state: a rerun (another check's save) must not fold it shut.
            with st.expander("Complete this check", key=base + ".panel", on_change="rerun",
                             expanded=has_error(base + ".note") or has_error(base + ".file")):
                st.text_area(f"Evidence for “{escape_label(check.name)}”: what was checked, "
                             "seen or done", key=base + ".note", height=70)
                error(base + ".note")
                st.file_uploader(f"Attach a file to “{escape_label(check.name)}” "
                                 "(optional)", key=base + ".file",
                                 help="PDF, image, text or Office file; the size limit is in "
                                      "the provider's settings.")
                error(base + ".file")
                st.button("Record evidence", key=base + ".save", type="primary",
                          on_click=self._complete_check, args=(check.id,))

    def _complete_check(self, check_id: int) -> None:
        base = f"check.{check_id}"
        upload = st.session_state.get(base + ".file")
        file = (upload.name, upload.getvalue()) if upload is not None else None
        note = st.session_state.get(base + ".note") or ""
        run(lambda: complete_evidence_check(UnitOfWork(), self.actor, check_id, note=note,
                                            file=file, now=utcnow(), rules=settings()),
            "Evidence recorded.", base)

    # -- status and go-live

    def _status_controls(self) -> None:
        row, key = self.row, self.key
        if not self.may_work:
            return
        nexts = NEXT_STATUSES[row.status]
        if not nexts:
            return
        if ActionStatus.IN_PROGRESS in nexts:
            label = ("Work on it again" if row.status is ActionStatus.NOT_EFFECTIVE
                     else "Start work")
            st.button(label, key=key + ".start", icon=":material/play_arrow:",
                      on_click=self._move, args=(ActionStatus.IN_PROGRESS,))
        error(key + ".status", "")
        if ActionStatus.IN_TEST in nexts:
            with st.container(horizontal=True, vertical_alignment="bottom"):
                st.date_input("It went live on", value=self.day, key=key + ".go_live",
                              format="DD/MM/YYYY", width=150)
                st.button("Start the test window", key=key + ".went_live",
                          icon=":material/rocket_launch:", on_click=self._went_live,
                          help="The control is in place: the portal compares the weeks after "
                               "this day with the weeks before it.")
            error(key + ".go_live")
        if ActionStatus.STOPPED in nexts:
            with st.expander("Stop this action", key=key + ".stop_panel", on_change="rerun",
                             expanded=has_error(key + ".note")):
                st.text_input("Why is it stopped?", key=key + ".stop_reason")
                error(key + ".note", key + ".stop_reason")
                st.button("Stop the action", key=key + ".stop", icon=":material/stop:",
                          on_click=self._move, args=(ActionStatus.STOPPED,))

    def _move(self, target: ActionStatus) -> None:
        row = self.row
        note = (st.session_state.get(self.key + ".stop_reason") or ""
                if target is ActionStatus.STOPPED else "")
        run(lambda: set_status(UnitOfWork(), self.actor, row.id, target, note=note,
                               expected_version=row.version, now=utcnow()),
            f"“{row.title}” is now {target.label.lower()}.", self.key)

    def _went_live(self) -> None:
        row = self.row
        day = st.session_state.get(self.key + ".go_live")
        if day is None:
            refused({self.key + ".go_live": "Set the day it went live."})
            notice("error", NOT_SAVED)  # the summary over the field's message
            return
        ends: dict[str, date] = {}

        def action() -> None:
            ends["end"] = set_go_live(UnitOfWork(), self.actor, row.id, day,
                                      expected_version=row.version, now=utcnow(), rules=settings())

        if run(action, "Test window started.", self.key):
            notice("success", f"Test window started: it runs until {ends['end']:%d %b %Y}; the "
                              "portal then shows whether the control worked.")

    # -- verification

    def _verification(self) -> None:
        row, view = self.row, self.view
        measure = view.measure
        st.markdown("**Verification**")
        if measure is not None:
            st.caption(escape_caption(describe_measure(
                MeasureFilters.from_json(measure.filters), measure.per, measure.direction,
                measure.target, self.names)))
        if row.go_live is None:
            if measure is not None:
                st.caption("The test window starts when the control goes live; the baseline "
                           f"is the {measure.baseline_weeks} weeks before it.")
            return
        evaluation = view.evaluation
        if evaluation is not None and measure is not None:
            self._numbers(evaluation, measure.per, measure.baseline_weeks,
                          measure.direction, measure.target)
        confirmed = measure.confirmed_verdict if measure is not None else None
        if confirmed and measure is not None:
            who = self.names.get("users", {}).get(measure.confirmed_by_id, "someone")
            (st.success if confirmed == "effective" else st.error)(
                f"Confirmed {VERDICT_LABELS.get(confirmed, confirmed).lower()} by "
                f"{escape_markdown(who)} on {local(measure.confirmed_at)}.")
            st.text(measure.confirmation_note or "")
            if measure.override_reason:
                proposed = VERDICT_LABELS.get(measure.proposed_verdict or "", "no proposal")
                st.caption(f"Confirmed effective although the numbers proposed “{proposed}”. "
                           "The reason given:")
                st.text(measure.override_reason)
        if row.status is not ActionStatus.IN_TEST:
            return
        window_end = row.window_end or row.go_live
        if self.day < window_end:
            st.info(f"The test window runs until {window_end:%d %b %Y}. After it, the verdict "
                    "is confirmed here.", icon=":material/hourglass_top:")
            return
        if not self.manage:
            st.caption("The test window is over: a lead confirms whether it worked.")
            return
        base = f"verdict.{row.id}"
        st.text_area("What you looked at to decide (the numbers, observations, audits)",
                     key=base + ".note", height=70)
        error(base + ".note")
        if evaluation is not None and evaluation.proposal.verdict != "effective":
            # The numbers do not show it worked: "effective" all the same needs a reason.
            st.text_input("Only to confirm it effective all the same: why, although the "
                          "numbers do not show it? (kept in the audit trail)",
                          key=base + ".override_reason")
            error(base + ".override_reason")
        with st.container(horizontal=True):
            st.button("Confirm effective", key=base + ".effective", type="primary",
                      icon=":material/verified:", on_click=self._verdict, args=(True,))
            st.button("Confirm not effective", key=base + ".not_effective",
                      icon=":material/block:", on_click=self._verdict, args=(False,))
        error(base + ".verdict", "")

    def _numbers(self, evaluation: Evaluation, per: str, baseline_weeks: int,
                 direction: str, target: float | None) -> None:
        unit = PER_LABELS.get(per, per)
        before, during, verdict = st.columns(3)

        def shown(value: float | None) -> str:
            return "—" if value is None else f"{value:.2f}"

        before.metric(f"Before ({int(baseline_weeks)} weeks)", shown(evaluation.baseline),
                      help=f"Near misses that count, {unit}, from "
                           f"{evaluation.baseline_start:%d %b %Y} to go-live.")
        delta = None
        if evaluation.baseline is not None and evaluation.observed is not None:
            delta = f"{evaluation.observed - evaluation.baseline:+.2f}"
        until = evaluation.evidence_end or min(evaluation.window_end, self.day)
        during.metric(OBSERVED_TITLES.get(evaluation.look, "During the test"),
                      shown(evaluation.observed), delta=delta,
                      delta_color="inverse" if direction == "decrease" else "normal",
                      help=f"{unit.capitalize()}, from go-live to {until:%d %b %Y}.")
        proposal = evaluation.proposal
        with verdict:
            st.markdown("The numbers suggest")
            st.badge(VERDICT_LABELS.get(proposal.verdict, proposal.verdict),
                     color=VERDICT_COLOURS.get(proposal.verdict, "gray"),
                     icon=VERDICT_ICONS.get(proposal.verdict))
        # The proposal's words are the portal's own (counts, dates, chance): no user text.
        st.caption(proposal.reason)
        if self.series is not None and self.row.go_live and self.row.window_end:
            go_live, window_end = self.row.go_live, self.row.window_end
            chart_with_text(
                measure_finding(self.series, go_live=go_live, window_end=window_end),
                weekly_chart(self.series, go_live=go_live, window_end=window_end,
                             baseline=evaluation.baseline, per=per, target=target,
                             end=self.day),
                weekly_table(self.series, go_live=go_live, window_end=window_end),
                key=f"{self.key}.chart", config={"displayModeBar": False})

    def _verdict(self, effective: bool) -> None:
        row = self.row
        base = f"verdict.{row.id}"
        note = st.session_state.get(base + ".note") or ""
        reason = (st.session_state.get(base + ".override_reason") or "") if effective else ""
        run(lambda: confirm_verdict(UnitOfWork(), self.actor, row.id, effective=effective,
                                    note=note, override_reason=reason,
                                    expected_version=row.version, now=utcnow(), rules=settings()),
            "Confirmed effective. A still-in-place check is scheduled." if effective
            else "Confirmed not effective: the action is open again for a stronger control.",
            base)

    # -- sustainment

    def _sustainment(self) -> None:
        st.markdown("**Is the control still in place?**")
        for item in self.view.sustainment:
            if item.confirmed_at:
                word = "still in place" if item.in_place else "no longer in place"
                (st.success if item.in_place else st.warning)(
                    f"Checked {local(item.confirmed_at, '%d %b %Y')} by "
                    f"{escape_markdown(item.confirmed_by or '?')}: {word}.")
                st.text(item.note or "")
                continue
            due = "due" if item.due_date >= self.day else "overdue since"
            st.caption(f"Supervisory check {due} {item.due_date:%d %b %Y}.")
            if not self.manage:
                continue
            base = f"sustain.{item.id}"
            st.radio("Still in place?", ["yes", "no"], index=None, horizontal=True,
                     format_func=lambda v: "Yes, still in place" if v == "yes"
                     else "No, it lapsed", key=base + ".in_place")
            error(base + ".in_place")
            st.text_area("Supervisory review note: what you observed", key=base + ".note",
                         height=70)
            error(base + ".note")
            st.button("Record the check", key=base + ".save", on_click=self._sustain,
                      args=(item.id,), icon=":material/fact_check:")

    def _sustain(self, check_id: int) -> None:
        base = f"sustain.{check_id}"
        answer = st.session_state.get(base + ".in_place")
        if answer is None:
            refused({base + ".in_place": "Answer: is it still in place?"})
            notice("error", NOT_SAVED)
            return
        in_place = answer == "yes"
        run(lambda: confirm_sustainment(UnitOfWork(), self.actor, check_id, in_place=in_place,
                                        note=st.session_state.get(base + ".note") or "",
                                        now=utcnow()),
            "Recorded: the control is still in place." if in_place
            else "Recorded: the control lapsed; the action is in progress again.", base)
