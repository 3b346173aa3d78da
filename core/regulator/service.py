"""Use cases of regulator clocks: decide whether an event is reportable, and record a deadline met.

Deciding is a recorded decision (who, when, why) either way: "not reportable" needs its reason
as much as "reportable" does. A reportable event starts one clock per deadline in the settings
(`regulator.clocks`), each from its own start point; revising the answer to "not reportable"
withdraws the clocks still running (met ones stay as they were), and back to "reportable"
reinstates them. Only the roles in `regulator.deciders` who cover the event's service decide
and record deadlines met.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.auth.actor import Actor
from core.clock import to_utc
from core.config import ClockRule, Settings
from core.db import storable_id
from core.errors import NUL_MESSAGE, NotFound, PermissionDenied, ValidationFailed, has_nul
from core.regulator.clocks import due_at, public_holidays
from core.regulator.models import RegulatorClock, RegulatorDecision
from core.reports.models import NearMissReport
from core.uow import UnitOfWork

REFERENCE_MAX_CHARS = 120
_UNITS = {"hours": "hours", "days": "days", "business_days": "business days"}
_STARTS = {"known": "it became known", "occurred": "it happened",
           "decided": "it was found reportable"}


def rule_text(clock: ClockRule) -> str:
    """The rule in words, e.g. "within 1 business day of it becoming known"."""
    unit = _UNITS[clock.unit]
    if clock.within == 1:
        unit = unit.removesuffix("s")
    end = ", by the end of that day" if clock.end_of_day else ""
    return f"within {clock.within} {unit} of when {_STARTS[clock.start]}{end}"


def may_decide(actor: Actor, service_id: int | None, *, rules: Settings) -> bool:
    """Whether the actor decides reportability (and records deadlines met) for this service."""
    deciding = {role.value for role in actor.roles} & set(rules.regulator.deciders)
    return bool(deciding) and actor.covers_service(service_id)


def _require(actor: Actor, service_id: int, rules: Settings) -> None:
    if not may_decide(actor, service_id, rules=rules):
        raise PermissionDenied("Only a supervisor, quality lead or safeguarding lead covering "
                               "this service can decide on reporting to the regulator.")


def _report(uow: UnitOfWork, reference: str) -> NearMissReport:
    report = uow.session.scalar(select(NearMissReport).where(
        NearMissReport.reference == reference)) if isinstance(reference, str) else None
    if report is None:
        raise NotFound("No such near miss.")
    return report


def _text(value: Any, name: str, limit: int, errors: dict[str, str], *,
          required: str | None = None) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if has_nul(text):
        errors[name] = NUL_MESSAGE
    elif required and not text:
        errors[name] = required
    elif len(text) > limit:
        errors[name] = f"Keep it to {limit} characters."
    return text


def _start_of(clock: ClockRule, report: NearMissReport, now: datetime) -> datetime:
    if clock.start == "occurred":
        return report.occurred_at
    if clock.start == "decided":
        return now
    return report.reported_at


def _start_clocks(uow: UnitOfWork, decision: RegulatorDecision, report: NearMissReport,
                  now: datetime, rules: Settings) -> list[RegulatorClock]:
    """Start each configured clock not already there; reinstate withdrawn ones."""
    existing = {c.key: c for c in uow.session.scalars(select(RegulatorClock).where(
        RegulatorClock.decision_id == decision.id))}
    is_holiday = public_holidays(rules.regulator.country, rules.regulator.subdivision)
    clocks = []
    for rule in rules.regulator.clocks:
        clock = existing.get(rule.key)
        if clock is not None:
            clock.withdrawn_at = None
        else:
            start = _start_of(rule, report, now)
            clock = RegulatorClock(
                decision_id=decision.id, report_id=report.id, key=rule.key, label=rule.label,
                rule=rule_text(rule), needs_reference=rule.needs_reference,
                remind_before_hours=rule.remind_before_hours, started_at=start,
                due_at=due_at(start, rule, rules.zone, is_holiday))
            uow.session.add(clock)
        clocks.append(clock)
    uow.session.flush()
    return clocks


def decide_reportable(uow: UnitOfWork, actor: Actor, reference: str, *,
                      reportable: bool | None, reason: str, now: datetime,
                      rules: Settings) -> int:
    """Record whether the event must be reported to the regulator, and why; returns the
    decision's id. A second call with the other answer revises it (with its own reason)."""
    with uow:
        report = _report(uow, reference)
        _require(actor, report.service_id, rules)
        errors: dict[str, str] = {}
        if not isinstance(reportable, bool):
            errors["reportable"] = "Say whether it must be reported."
        why = _text(reason, "reason", rules.report.description_max_chars, errors,
                    required="Record why: the reasoning is part of the audit trail.")
        decision = uow.session.scalar(select(RegulatorDecision).where(
            RegulatorDecision.report_id == report.id))
        if decision is not None and decision.reportable == reportable:
            errors["reportable"] = ("It is already recorded as "
                                    + ("reportable." if reportable else "not reportable."))
        if errors:
            raise ValidationFailed(errors)
        assert isinstance(reportable, bool)
        before = None
        if decision is None:
            decision = RegulatorDecision(report_id=report.id, reportable=reportable, reason=why,
                                         jurisdiction=rules.regulator.jurisdiction,
                                         decided_at=now, decided_by_id=actor.user_id, revision=1)
            uow.session.add(decision)
        else:
            before = {"reportable": decision.reportable, "reason": decision.reason,
                      "decided_at": decision.decided_at,
                      "decided_by_id": decision.decided_by_id, "revision": decision.revision}
            decision.reportable, decision.reason = reportable, why
            decision.decided_at, decision.decided_by_id = now, actor.user_id
            decision.revision += 1
            decision.jurisdiction = rules.regulator.jurisdiction
        uow.session.flush()
        started: list[dict[str, Any]] = []
        withdrawn: list[int] = []
        if reportable:
            started = [{"clock_id": c.id, "key": c.key, "started_at": c.started_at,
                        "due_at": c.due_at}
                       for c in _start_clocks(uow, decision, report, now, rules)]
        else:
            for clock in uow.session.scalars(select(RegulatorClock).where(
                    RegulatorClock.decision_id == decision.id, RegulatorClock.met_at.is_(None),
                    RegulatorClock.withdrawn_at.is_(None))):
                clock.withdrawn_at = now
                withdrawn.append(clock.id)
        uow.record(actor, "regulator.decided", "regulator_decision", decision.id, at=now,
                   before=before, after={
                       "report": report.reference, "reportable": reportable, "reason": why,
                       "jurisdiction": decision.jurisdiction, "decided_at": now,
                       "revision": decision.revision, "clocks": started,
                       "withdrawn_clock_ids": withdrawn})
        uow.commit()
        return decision.id


def record_clock_met(uow: UnitOfWork, actor: Actor, clock_id: int, *,
                     met_at: datetime | None, state_reference: str = "", note: str = "",
                     now: datetime, rules: Settings) -> bool:
    """Record that a deadline was met: when (naive local time, as entered) and, where the
    rule asks, the reference the state gave. Returns whether it was met on time."""
    with uow:
        clock = uow.session.get(RegulatorClock, clock_id) if storable_id(clock_id) else None
        if clock is None:
            raise NotFound("No such regulator clock.")
        report = uow.session.get(NearMissReport, clock.report_id)
        assert report is not None
        _require(actor, report.service_id, rules)
        errors: dict[str, str] = {}
        if clock.met_at is not None:
            raise ValidationFailed({"met_at": "This deadline is already recorded as met."})
        if clock.withdrawn_at is not None:
            raise ValidationFailed({"met_at": "This clock was withdrawn: the event was found "
                                              "not reportable."})
        met = None
        if met_at is None:
            errors["met_at"] = "Say when it was done."
        else:
            met = to_utc(met_at, rules.zone)
            if met > now:
                errors["met_at"] = "That time is in the future."
            elif met < report.occurred_at:
                errors["met_at"] = "That is before the event happened."
        reference = _text(state_reference, "state_reference", REFERENCE_MAX_CHARS, errors,
                          required=("Give the reference the state gave."
                                    if clock.needs_reference else None))
        remark = _text(note, "note", rules.report.description_max_chars, errors)
        if errors:
            raise ValidationFailed(errors)
        assert met is not None
        clock.met_at, clock.met_by_id, clock.recorded_at = met, actor.user_id, now
        clock.state_reference, clock.note = reference or None, remark or None
        on_time = met <= clock.due_at
        uow.record(actor, "regulator.clock_met", "regulator_clock", clock.id, at=now,
                   before={"met_at": None, "state_reference": None},
                   after={"report": report.reference, "key": clock.key, "met_at": met,
                          "due_at": clock.due_at, "on_time": on_time,
                          "state_reference": clock.state_reference, "note": clock.note})
        uow.commit()
        return on_time
