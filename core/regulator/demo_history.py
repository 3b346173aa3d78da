"""The demo's regulator history: decisions and clock outcomes for its safeguarding escalations.

Called once the demo is loaded (`nearmiss demo`). For every decided safeguarding escalation
the safeguarding lead's decision on external reporting becomes the reportable decision (the
same person, time and reasoning); a reportable one gets the settings' clocks, each from its
start point: the report to the state is met when the escalation's decision says it was made,
with a reference from the state, and the other deadlines are mostly met in time (about 1 in
12 late). Deadlines that fall after now stay running. An escalation acknowledged but not yet
decided is found reportable at once, so its report to the state is still running; the one
nobody has acknowledged waits on the board for a decision.

The rows are written in bulk, like the rest of the demo, with one audit event summing them
up. Running it again adds nothing for events already decided.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from core.auth.actor import SYSTEM
from core.config import Settings
from core.escalation.models import Escalation
from core.regulator.clocks import IsHoliday, due_at, public_holidays
from core.regulator.models import RegulatorClock, RegulatorDecision
from core.regulator.service import rule_text
from core.reports.models import NearMissReport
from core.uow import UnitOfWork

ON_TIME_SHARE = 0.92  # deadlines other than the report itself met in time
_PENDING_REASON = ("Possible abuse or neglect of a person supported: reportable. The report "
                   "to the state is being prepared.")


@dataclass(frozen=True)
class DemoClockSummary:
    decisions: int
    reportable: int
    clocks: int
    met: int
    met_on_time: int
    running: int

    def line(self) -> str:
        """One line for the command's output."""
        return (f"Regulator clocks: {self.decisions} reportable-event decisions "
                f"({self.reportable} reportable), {self.clocks} clocks: {self.met} met "
                f"({self.met_on_time} on time), {self.running} still running.")


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def record_demo_clocks(engine: Engine, *, seed: int = 7, now: datetime,
                       rules: Settings) -> DemoClockSummary:
    """Record the demo's reportable decisions and clock outcomes (see the module docstring)."""
    rng = random.Random(seed * 7919 + 20)
    is_holiday = public_holidays(rules.regulator.country, rules.regulator.subdivision)
    counts = {"decisions": 0, "reportable": 0, "clocks": 0, "met": 0, "on_time": 0,
              "running": 0}
    serial = itertools.count(1)  # numbers the met clocks; a report's reference takes its own
    with UnitOfWork(engine) as uow:
        session = uow.session
        decided = select(RegulatorDecision.report_id)
        rows = session.execute(
            select(Escalation, NearMissReport)
            .join(NearMissReport, NearMissReport.id == Escalation.report_id)
            .where(Escalation.kind == "safeguarding", Escalation.acknowledged_at.is_not(None),
                   Escalation.report_id.not_in(decided))
            .order_by(Escalation.raised_at, Escalation.id)).all()
        seen: set[int] = set()
        for escalation, report in rows:
            if report.id in seen:
                continue
            seen.add(report.id)
            decision, told = _reportable_decision(escalation, report, now, rules)
            session.add(decision)
            session.flush()
            counts["decisions"] += 1
            if not decision.reportable:
                continue
            counts["reportable"] += 1
            for clock in _demo_clocks(decision, escalation, report, told, now=now, rules=rules,
                                      rng=rng, is_holiday=is_holiday, serial=serial):
                if clock.met_at is not None:
                    counts["met"] += 1
                    counts["on_time"] += int(clock.met_at <= clock.due_at)
                else:
                    counts["running"] += 1
                session.add(clock)
                counts["clocks"] += 1
        summary = DemoClockSummary(counts["decisions"], counts["reportable"], counts["clocks"],
                                   counts["met"], counts["on_time"], counts["running"])
        if counts["decisions"]:
            uow.record(SYSTEM, "regulator.demo_history_recorded", "regulator_decision", None,
                       at=now, after={"seed": seed, **counts})
        uow.commit()
    return summary


def _reportable_decision(escalation: Escalation, report: NearMissReport, now: datetime,
                         rules: Settings) -> tuple[RegulatorDecision, datetime | None]:
    """The reportable decision a safeguarding escalation leads to (the lead's decision on
    external reporting, or reportable at once while it awaits one), and when the state was
    told, if the decision says."""
    outcome = escalation.decision or {}
    if escalation.decided_at is not None:
        reportable = bool(outcome.get("external_report_made"))
        reason = str(outcome.get("reason") or "Decided with the safeguarding decision.")
        decided_at, decider = escalation.decided_at, escalation.decided_by_id
        told = _parse(outcome.get("reported_at"))
    else:
        assert escalation.acknowledged_at is not None
        reportable, reason, told = True, _PENDING_REASON, None
        decided_at = min(now, escalation.acknowledged_at + timedelta(minutes=10))
        decider = escalation.acknowledged_by_id
    decision = RegulatorDecision(report_id=report.id, reportable=reportable, reason=reason,
                                 jurisdiction=rules.regulator.jurisdiction,
                                 decided_at=decided_at, decided_by_id=decider, revision=1)
    return decision, told


def _demo_clocks(decision: RegulatorDecision, escalation: Escalation, report: NearMissReport,
                 told: datetime | None, *, now: datetime, rules: Settings, rng: random.Random,
                 is_holiday: IsHoliday, serial: Iterator[int],
                 ) -> list[RegulatorClock]:
    """The settings' clocks of a reportable decision, each from its start point: the report
    to the state met when the state was told, the others mostly in time (met only once the
    report is made, never before the clock before them, never after now)."""
    clocks = []
    decided_at, decider = decision.decided_at, decision.decided_by_id
    previous: datetime | None = None
    for rule in rules.regulator.clocks:
        start = {"occurred": report.occurred_at, "decided": decided_at}.get(
            rule.start, report.reported_at)
        due = due_at(start, rule, rules.zone, is_holiday)
        if rule.needs_reference:
            met = told
        elif due > now:
            met = None  # under way: its deadline has not come yet
        else:
            span = due - start
            share = (rng.uniform(0.15, 0.95) if rng.random() < ON_TIME_SHARE
                     else rng.uniform(1.03, 1.6))
            met = start + span * share
            if escalation.decided_at is None:
                met = None  # nothing is under way before the report is made
        if met is not None and previous is not None:
            met = max(met, previous)  # an investigation closes after it starts
        if met is not None and met > now:
            met = None
        clock = RegulatorClock(
            decision_id=decision.id, report_id=report.id, key=rule.key,
            label=rule.label, rule=rule_text(rule),
            needs_reference=rule.needs_reference,
            remind_before_hours=rule.remind_before_hours, started_at=start,
            due_at=due)
        if met is not None:
            number = next(serial)
            clock.met_at, clock.met_by_id = met, decider
            clock.recorded_at = min(now, met + timedelta(minutes=rng.randint(2, 90)))
            if rule.needs_reference:
                clock.state_reference = f"SIR-{met:%Y}-{10000 + number}"
        clocks.append(clock)
        previous = met
    return clocks
