"""Action plans: the planted stories' controls, then the others."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.actions.vocabulary import ActionStatus
from core.auth.roles import Role
from core.config import Settings
from ops.demo.other_plans import _other_plans
from ops.demo.plan_specs import _Calendar, _MeasureSpec, _plan, _PlanSpec
from ops.demo.provider import (
    BATHROOM_LOCATION,
    FAMILY_NOTE_SOURCE,
    LATE_START_REGION,
    _planted_count,
    demo_window,
    late_start_cluster_window,
    medication_control_go_live,
)
from ops.demo.routine import _routine_plans


def _demo_plans(now: datetime, *, months: int, reports: int, rules: Settings,
                ) -> tuple[_PlanSpec, ...]:
    """The action plans of the demo, dated so that each fits what the reports show.

    a. the late-start cluster: a coverage lock live two weeks after it, verified effective
       at the still-in-place check's look at the evidence (two weeks were too few to tell);
    b. the bathroom doorway: a memo that did not work (not effective), then a pre-transfer
       equipment check in its test window now, with refresher training alongside;
    c. the family-note mismatches: a root cause analysis, then the family-note check that goes
       live at `medication_control_go_live`, verified effective (at the second look, too)
       and sustained;
    and a handful of others across services and owners (overdue, due soon, stopped, in
    progress, in test, verified), more of them for larger demos (at most 14).
    """
    c = _Calendar(now, rules.zone, rules)
    start, _end = demo_window(now, months)
    plans: list[_PlanSpec | None] = []
    S = ActionStatus

    # c. The family-note check (the root cause analysis's plan).
    go_live = c.local_day(medication_control_go_live(now, months))
    created = go_live - timedelta(days=21)
    n_med = _planted_count("family_note", reports, months)
    plans.append(_plan(
        c, "family_note", "Family-note check at every medication visit",
        "Care plan and family note disagree about a medicine: the change reached the family "
        "before the record, at several services. Workers caught it each time, by vigilance.",
        created=created, created_by=Role.QUALITY.value, source="rca", rca=True,
        planted="family_note", link_from=c.at(created) - timedelta(weeks=12),
        link_until=c.at(created), link_cap=40, link_share=min(1.0, 30 / max(1, 0.33 * n_med)),
        outcome="The family-note check is live and verified effective.",
        validate_with=0, close_with=0, actions=[
            c.action("Family-note check at every medication visit",
                     "Before every prompt the worker checks the family note against the care "
                     "plan; a difference stops the prompt until the office confirms.",
                     "checklist", Role.QUALITY.value, created=created, deadline=go_live,
                     review=go_live + timedelta(days=14), status=S.VERIFIED_EFFECTIVE,
                     checks=("Check card in every medication folder",
                             "Workers briefed at team meetings (sign-in sheets)",
                             "Family-note step added to the visit record",
                             "Spot check of 20 medication visits"),
                     # Two weeks of a few reports a week are too few to tell (issue 17): the
                     # verdict waits for the second look, every week since go-live.
                     go_live=go_live, window=14,
                     verdict=go_live + timedelta(days=14 + rules.actions.sustainment_after_days
                                                 + 2),
                     note="Two weeks were too few to tell; by the still-in-place check "
                          "family-note mismatches had fallen well below the twelve weeks "
                          "before, and the check (not staff vigilance) now catches them.",
                     measure=_MeasureSpec(("medication_discrepancy",), "all",
                                          capture=(("source_of_discrepancy",
                                                    FAMILY_NOTE_SOURCE),))),
            c.action("Office updates the care record the same day a family note changes a "
                     "medicine",
                     "Families send changes to the office; the office updates the record and "
                     "tells every worker on the run the same day.",
                     "standard_communication", Role.CLINICAL.value, created=created,
                     deadline=go_live + timedelta(days=7), review=go_live + timedelta(days=21),
                     status=S.VERIFIED_EFFECTIVE,
                     checks=("Families told where to send changes",
                             "Same-day update logged for a month"),
                     go_live=go_live + timedelta(days=3), window=14,
                     verdict=go_live + timedelta(days=20),
                     note="Audit: 23 of 24 changes in the record the same day."),
        ]))

    # a. The late-start cluster in the North: a coverage lock.
    cluster_start, cluster_end = late_start_cluster_window(now, months)
    created = c.local_day(cluster_start) + timedelta(days=15)
    go_live = c.local_day(cluster_end) + timedelta(days=14)
    n_late = _planted_count("late_cluster", reports, months)
    plans.append(_plan(
        c, "late_cluster", "Late shift starts in the North: coverage lock",
        "A cluster of late shift starts across the North region's services: last-minute rota "
        "changes and unclear handover on who confirmed cover (weekly cluster review, barrier "
        "review with supervisors and schedulers).",
        created=created, created_by=Role.QUALITY.value, source="cluster",
        planted="late_cluster", cluster_region=LATE_START_REGION,
        link_from=cluster_start - timedelta(days=1), link_until=c.at(created), link_cap=30,
        link_share=min(1.0, 24 / max(1, 0.6 * n_late)),
        outcome="Coverage lock live and verified effective; late starts back to background.",
        validate_with=0, close_with=0, actions=[
            c.action("Coverage lock: rota closes 48 h before the shift; exceptions need "
                     "supervisor sign-off",
                     "The rota cannot change within 48 hours of a shift unless a supervisor "
                     "signs off the exception and names who confirmed cover.",
                     "forcing_function", Role.OPERATIONS.value, created=created,
                     deadline=go_live, review=go_live + timedelta(days=14),
                     status=S.VERIFIED_EFFECTIVE,
                     checks=("Rota system locks changes inside 48 hours",
                             "Exception pathway agreed with the supervisors",
                             "Schedulers briefed"),
                     # A background of about one a fortnight: two weeks cannot tell (issue
                     # 17), the still-in-place check's look at every week since go-live can.
                     go_live=go_live, window=14,
                     verdict=go_live + timedelta(days=14 + rules.actions.sustainment_after_days
                                                 + 3),
                     note="No late-start cluster since the lock; coverage confirmed on 96% of "
                          "shifts in the eight weeks since go-live.",
                     measure=_MeasureSpec(("late_shift_start",), "north")),
            c.action("Handover names who confirmed cover for each shift",
                     "The shift lead names who confirmed cover for the next shift at every "
                     "handover.", "standard_communication", Role.QUALITY.value,
                     created=created, deadline=go_live - timedelta(days=3),
                     review=go_live + timedelta(days=14), status=S.VERIFIED_EFFECTIVE,
                     checks=("Handover sheet has a 'cover confirmed by' line",),
                     go_live=go_live - timedelta(days=4), window=14,
                     verdict=go_live + timedelta(days=17),
                     note="Spot checks: the line filled in on 28 of 30 handovers."),
        ]))

    # b. The bathroom doorway: a memo that did not work, then a designed check.
    n_bathroom = _planted_count("bathroom", reports, months)
    memo_created = c.day(130)
    memo_live = c.day(120)
    plans.append(_plan(
        c, "bathroom_memo", "Near falls at the Maple House bathroom doorway",
        "Repeated near falls at the bathroom doorway, most with the same person; staff steady "
        "them each time.", created=memo_created, created_by="supervisor", planted="bathroom",
        link_from=c.at(memo_created) - timedelta(weeks=16), link_until=c.at(memo_created),
        link_cap=8, link_share=min(1.0, 6 / max(1, 0.2 * n_bathroom)),
        outcome="Memo issued; the doorway stays on the repeat-theme watch list.",
        validate_with=0, close_after=c.at(memo_live + timedelta(days=10)), actions=[
            c.action("Memo: keep the walker within reach at the bathroom door",
                     "A memo to every shift: park the walker by the door before the bathroom "
                     "routine.", "policy_memo", "supervisor", created=memo_created,
                     deadline=memo_live, review=memo_live + timedelta(days=28),
                     status=S.NOT_EFFECTIVE, checks=("Memo read and signed by every shift",),
                     go_live=memo_live, window=28, verdict=memo_live + timedelta(days=31),
                     note="Near falls at the doorway carried on after the memo: it relies on "
                          "memory. A stronger control is needed.",
                     measure=_MeasureSpec(("transfer_near_fall",), "linked",
                                          location=BATHROOM_LOCATION, target=0.0)),
        ]))
    check_created = c.day(35)
    check_live = c.day(10)
    plans.append(_plan(
        c, "bathroom_check", "Bathroom doorway: pre-transfer equipment check",
        "The memo did not stop the near falls at the bathroom doorway: equipment positioning "
        "varies with who sets up the routine, and the space is tight.",
        created=check_created, created_by=Role.QUALITY.value, planted="bathroom",
        link_from=c.at(memo_created), link_until=c.at(check_created), link_cap=8,
        link_share=min(1.0, 6 / max(1, 0.17 * n_bathroom)),
        outcome="Pre-transfer equipment check verified.", validate_with=0, close_with=0,
        actions=[
            c.action("Pre-transfer equipment check at the bathroom door",
                     "Before every bathroom transfer: walker by the door, floor dry, mat flat, "
                     "grab rail free. A card at the door lists the four checks.",
                     "checklist", "supervisor", created=check_created,
                     deadline=check_live, review=check_live + timedelta(days=14),
                     status=S.IN_TEST,
                     checks=("Check card fixed at the bathroom door",
                             "Every shift shown the check", "Two routines observed"),
                     done=2, go_live=check_live, window=14,
                     measure=_MeasureSpec(("transfer_near_fall",), "linked",
                                          location=BATHROOM_LOCATION, per="100_shifts")),
            c.action("Refresher training on safe transfers",
                     "A refresher on safe transfers for the Maple House team.", "training",
                     "supervisor", created=check_created, deadline=c.day(-4),
                     review=c.day(-10), status=S.IN_PROGRESS,
                     checks=("Session booked", "Attendance recorded"), done=1),
            c.action("Walker parking spot marked by the bathroom door",
                     "A floor marking and a wall hook at the door, so the walker has one "
                     "place.", "physical_change", "supervisor", created=check_created,
                     deadline=c.day(-21), review=c.day(-28), status=S.PLANNED,
                     checks=("Maintenance request raised", "Marking in place")),
        ]))

    plans.extend(_other_plans(c, reports))
    kept = [p for p in plans if p is not None and p.link_until > start]
    kept.extend(p for p in _routine_plans(c, reports, months, start, len(kept))
                if p is not None and p.link_until > start)
    return tuple(kept)
