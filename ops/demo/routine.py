"""Routine plans: what a large provider's supervisors make week in, week out."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from core.actions.vocabulary import ActionStatus
from core.auth.roles import Role
from ops.demo.generator import _allocate
from ops.demo.plan_specs import _Calendar, _plan, _PlanSpec
from ops.demo.profiles import PROFILES
from ops.demo.provider import SERVICES

# Routine plans: what a large provider's supervisors make week in, week out. The hand-written
# plans above stay the story; these keep plans, actions and feedback in proportion to the
# reports (about one plan per `_REPORTS_PER_PLAN` reports), so a million-report demo has the
# action register and "what changed" history of a provider that size.
_REPORTS_PER_PLAN = 250
_ROUTINE_LINK_CAP = 8

# Per type: what the linked reports showed, then controls (title, description, kind, checks).
_ROUTINE_CONTROLS: dict[str, tuple[str, tuple[tuple[str, str, str, tuple[str, ...]], ...]]] = {
    "transfer_near_fall": (
        "Near falls during transfers, each caught by the worker steadying the person.",
        (("Pre-transfer equipment check card in every bathroom and bedroom",
          "Before a transfer: aid in reach, brakes on, floor clear, footwear on.",
          "checklist", ("Cards fixed in every room", "Two transfers observed per shift")),
         ("Grab rails fitted where people stand up",
          "Grab rails by the bed and toilet where the near falls happened.",
          "physical_change", ("Rails ordered", "Rails fitted and load-tested")),
         ("Two-person transfer flagged on the rota",
          "Shifts with a two-person transfer show it, so the second worker is free then.",
          "software", ("Rota flag switched on", "Two weeks of shifts checked")))),
    "medication_discrepancy": (
        "Medication prompts that did not match the record, each caught before the dose.",
        (("New prescriptions checked against the record by a second worker",
          "Any new or changed medicine is checked against the record by a second worker "
          "before the first prompt.", "double_check",
          ("Check added to the medication round", "Two weeks of changes audited")),
         ("One medication record per person, in one place",
          "Old printed charts withdrawn; the electronic record is the only one.",
          "simplify_standardise", ("Printed charts withdrawn", "Spot check of ten homes")),
         ("Pharmacy changes read back to the office",
          "The worker reads back each pharmacy change to the office, who updates the record.",
          "read_back", ("Read-back line on the visit record", "Two weeks of changes checked")))),
    "staffing_visit_continuity": (
        "Essential visits nearly missed, each saved by a coordinator or a worker nearby.",
        (("Backup worker named for every essential visit",
          "The scheduling board shows a named backup for each essential visit.",
          "software", ("Board shows the backup", "Coordinators trained")),
         ("Extra worker on the peak-time run",
          "An extra worker covers the busiest two hours of the run.",
          "staffing_workload", ("Extra shift on the rota", "Four weeks of runs checked")))),
    "skin_integrity_deterioration": (
        "Skin changes seen late or not handed over, each caught on a later check.",
        (("Skin check prompt at every personal-care visit",
          "The visit record asks about skin at every personal-care visit.",
          "standard_communication", ("Prompt in the visit record", "Two weeks of records")),
         ("Repositioning chart by the bed",
          "A chart by the bed shows when the person was last moved.",
          "checklist", ("Charts in every room that needs one", "Charts audited weekly")))),
    "interface_failure": (
        "Changes from clinics and other services that nearly did not reach the worker.",
        (("Clinic letters scanned to the record the same day",
          "Workers photograph new letters into the care app; the office updates the plan.",
          "simplify_standardise", ("Upload switched on", "Office procedure agreed")),
         ("Plan changes confirmed by the next worker",
          "The next worker confirms each plan change in the app before the visit.",
          "software", ("Confirmation step switched on", "Unconfirmed changes on the board")))),
    "late_shift_start": (
        "Shifts that nearly started uncovered, each filled at the last minute.",
        (("Rota locked 48 hours before the shift",
          "Changes inside 48 hours need a supervisor's sign-off and a named cover.",
          "forcing_function", ("Lock switched on", "Exception pathway agreed")),
         ("Cover confirmed by text the day before",
          "The scheduler texts the worker the start time and place the day before.",
          "read_back", ("Text template agreed", "Two weeks of texts checked")))),
    "safeguarding_rights": (
        "Boundary and rights concerns, each stopped before harm.",
        (("Money-handling checklist with receipts",
          "Cash counted in and out, receipts kept; no cards or PINs handled.",
          "checklist", ("Checklist in every home", "Receipts audit after four weeks")),
         ("Restrictions reviewed by the manager every week",
          "The manager reviews every restriction in place each week with the team.",
          "leadership", ("Weekly review booked", "Four reviews logged")))),
    "environment_equipment": (
        "Equipment faults and hazards found by chance rather than on a check.",
        (("Daily room and equipment check sheet",
          "A check sheet for each room and vehicle, done before people arrive.",
          "checklist", ("Sheets in every room", "Four weeks of sheets reviewed")),
         ("Charged spare for every hoist and powered aid",
          "A charged spare battery is kept, on a charging rota.",
          "redundancy", ("Spares bought", "Charging on the night checklist")),
         ("Faulty equipment tagged out of use at once",
          "Any fault: tag the equipment out of use and log it for repair the same day.",
          "simplify_standardise", ("Tags in every store", "Repair log checked")))),
    "transport": (
        "Journeys that nearly went wrong: clamps, seat belts, pick-ups and drop-offs.",
        (("Pre-journey vehicle and restraint check",
          "Before every journey: clamps locked, belts on, doors checked, route confirmed.",
          "checklist", ("Check card in every vehicle", "Two weeks of journeys checked")),
         ("Self-locking wheelchair clamps",
          "Manual clamps replaced with self-locking ones.",
          "physical_change", ("Clamps ordered", "Clamps fitted and tested")))),
    "community_safety": (
        "Risks on community outings the risk plan did not cover.",
        (("Venue risk check before each new outing",
          "A short risk check before taking anyone somewhere new.",
          "checklist", ("Check added to the outing plan", "Every new venue checked")),
         ("Outing buddy system",
          "Two workers stay together on outings with more than two people.",
          "redundancy", ("Pairs on the outing rota", "Four weeks of outings checked")))),
    "other": (
        "Assorted near misses the team grouped at its monthly review.",
        (("Monthly near-miss huddle with the manager",
          "The manager goes through the month's near misses with the team.",
          "leadership", ("Huddle booked", "Three huddles logged")),)),
}
_ROUTINE_COMPANIONS: tuple[tuple[str, str, str], ...] = (
    ("Team briefing on the change", "Every shift briefed on what changed and why.",
     "training"),
    ("Reminder in the team's weekly update", "A reminder of the new way of working.",
     "policy_memo"),
    ("Sign where the change applies", "A sign at the place the near misses happened.",
     "warning"),
)


def _routine_plans(c: _Calendar, reports: int, months: int, start: datetime, existing: int,
                   ) -> list[_PlanSpec | None]:
    """Plans about one type of near miss at one service, each linking a few of the reports
    before it; how many follows the demo's size, spread over services and types as the
    reports are, with statuses by age (old ones verified, stopped or not effective; recent
    ones in progress or in test; a few overdue)."""
    wanted = reports // _REPORTS_PER_PLAN - existing
    if wanted <= 0:
        return []
    rng = random.Random(f"demo-routine-plans-{reports}-{months}")
    S, today = ActionStatus, c.today
    first = c.local_day(start) + timedelta(days=42)
    span = (today - timedelta(days=2) - first).days
    if span < 14:
        return []
    pairs = [(service, key) for service in SERVICES for key in _ROUTINE_CONTROLS
             if key in PROFILES]
    totals = {key: sum(s.volume * PROFILES[key].kinds.get(s.kind, 1.0) for s in SERVICES)
              for key in _ROUTINE_CONTROLS if key in PROFILES}
    weights = [PROFILES[key].share * s.volume * PROFILES[key].kinds.get(s.kind, 1.0)
               / totals[key] for s, key in pairs]
    per_day = reports / max(1, (today - c.local_day(start)).days)
    plans: list[_PlanSpec | None] = []
    for (service, key), count, weight in zip(pairs, _allocate(wanted, weights, rng), weights,
                                             strict=True):
        if count == 0:
            continue
        theme, controls = _ROUTINE_CONTROLS[key]
        gap = span / count
        window = max(7, min(56, round(gap)))
        expected = max(1.0, window * per_day * weight * 0.9)  # the reviewed share links
        previous: date | None = None
        for n in range(count):
            created = first + timedelta(days=int(gap * (n + rng.random())))  # in its slot
            link_from = c.at(max(previous or created - timedelta(days=window),
                                 created - timedelta(days=window)), 0)
            previous = created
            title, description, kind, checks = controls[int(rng.random() * len(controls))]
            fate = rng.random()
            go_live = created + timedelta(days=rng.randint(7, 28))
            test_days = rng.choice((14, 21, 28))
            verdict = go_live + timedelta(days=test_days + rng.randint(1, 6))
            owner = "supervisor" if rng.random() < 0.8 else Role.QUALITY.value
            stopped = None
            if fate < 0.72:
                status, note = S.VERIFIED_EFFECTIVE, "Spot checks in the test window: the " \
                    "control was in use and the near misses it targets fell."
            elif fate < 0.82:
                status, note = S.NOT_EFFECTIVE, "The near misses carried on at the same " \
                    "rate: a stronger control is needed."
            elif fate < 0.87:
                status, note = S.STOPPED, ""
                stopped = created + timedelta(days=rng.randint(10, 40))
            elif (today - created).days < 120:  # stuck: overdue by now, most of them
                status, note = S.IN_PROGRESS, ""
            else:  # stuck for a while, then done late
                go_live += timedelta(days=rng.randint(30, 60))
                verdict += timedelta(days=rng.randint(30, 60))
                status, note = S.VERIFIED_EFFECTIVE, "Went live late (supplier delay); spot " \
                    "checks in the test window found it in use."
            deadline = go_live if status is not S.IN_PROGRESS else \
                created + timedelta(days=rng.randint(14, 45))
            lead = c.action(
                title, description, kind, owner, created=created, deadline=deadline,
                review=deadline + timedelta(days=test_days), status=status, checks=checks,
                done=1 if status is S.IN_PROGRESS else None, go_live=go_live, window=test_days,
                verdict=verdict, note=note, stopped=stopped,
                reason="Superseded by a stronger control for the same risk.")
            actions = [lead]
            if rng.random() < 0.45:
                extra_title, extra_description, extra_kind = _ROUTINE_COMPANIONS[
                    int(rng.random() * len(_ROUTINE_COMPANIONS))]
                extra_live = go_live + timedelta(days=3)
                actions.append(c.action(
                    extra_title, extra_description, extra_kind, "supervisor", created=created,
                    deadline=extra_live, review=extra_live + timedelta(days=14),
                    status=S.VERIFIED_EFFECTIVE if status is not S.IN_PROGRESS
                    else S.IN_PROGRESS, checks=("Done on every shift",),
                    go_live=extra_live, window=14,
                    verdict=extra_live + timedelta(days=16),
                    note="Every shift confirmed the briefing."))
            plans.append(_plan(
                c, f"routine_{service.name}_{key}_{n}", f"{title} ({service.name})", theme,
                created=created, created_by=owner, type_key=key, services=(service.name,),
                link_from=link_from, link_until=c.at(created, 0), link_cap=_ROUTINE_LINK_CAP,
                link_share=min(1.0, 1.5 * _ROUTINE_LINK_CAP / expected),
                outcome=("The control is in place and verified effective." if fate < 0.72
                         else "It did not reduce these near misses; the theme stays on the "
                              "watch list." if fate < 0.82
                         else "Superseded by a stronger control for the same risk."),
                validate_with=0, close_with=0, actions=actions))
    return plans
