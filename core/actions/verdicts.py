"""Verdicts on actions: after its test window the portal proposes a verdict from the
near-miss data and a person confirms it (never "effective" while an evidence check is open);
weeks later a supervisor confirms the control stayed in place (seed 2, example 3)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actions.measures import (
    MeasureFilters,
    evaluate,
    sustainment_date,
)
from core.actions.models import (
    Action,
    ActionEvidenceCheck,
    SustainmentCheck,
    VerificationMeasure,
)
from core.actions.service import action_for, check_action_version
from core.actions.vocabulary import ActionStatus
from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.clock import to_local
from core.config import Settings
from core.db import storable_id
from core.errors import (
    NUL_MESSAGE,
    NotFound,
    ValidationFailed,
    has_nul,
)
from core.uow import UnitOfWork

VERDICT_WORDS = {"effective": "effective", "not_effective": "not effective",
                 "too_early": "too early to tell", "insufficient_data": "not enough data yet"}


def _check_verdict_text(note: str, override_reason: str) -> None:
    """The verdict's note is required; neither text may hold a NUL character."""
    if not note.strip():
        raise ValidationFailed({"note": "Say what you looked at to decide."})
    if has_nul(note):
        raise ValidationFailed({"note": NUL_MESSAGE})
    if has_nul(override_reason):
        raise ValidationFailed({"override_reason": NUL_MESSAGE})


def _check_verifiable(session: Session, action: Action, *, effective: bool,
                      today: date) -> None:
    """Only an action in test, past its window, is verified; "effective" only with every
    evidence check done."""
    if action.status != ActionStatus.IN_TEST.value or action.go_live_date is None:
        raise ValidationFailed({"verdict": "Only an action in its test window can be "
                                           "verified."})
    window_end = action.go_live_date + timedelta(days=action.test_window_days or 0)
    if today < window_end:
        raise ValidationFailed({"verdict": f"The test window runs until "
                                           f"{window_end:%d %b %Y}; verify after it."})
    open_checks = list(session.scalars(select(ActionEvidenceCheck.name).where(
        ActionEvidenceCheck.action_id == action.id,
        ActionEvidenceCheck.completed_at.is_(None))))
    if effective and open_checks:
        raise ValidationFailed({"verdict": "It cannot be verified effective while evidence "
                                           "checks are open: " + "; ".join(open_checks)})


def _weigh_measure(session: Session, actor: Actor, action: Action,
                   measure: VerificationMeasure, *, effective: bool, note: str, reason: str,
                   today: date, now: datetime, rules: Settings) -> dict[str, object]:
    """Make the measure's proposal again from the data of the day and keep it with the
    confirmed verdict; "effective" against another proposal needs a reason. Returns the
    evidence the audit event keeps."""
    assert action.go_live_date is not None  # checked by _check_verifiable
    evaluation = evaluate(
        session, MeasureFilters.from_json(measure.filters), per=measure.per,
        direction=measure.direction, target=measure.target,
        go_live=action.go_live_date, window_days=action.test_window_days or 0,
        baseline_weeks=measure.baseline_weeks, today=today, rules=rules)
    proposal = evaluation.proposal
    if effective and proposal.verdict != "effective" and not reason:
        raise ValidationFailed({"override_reason": (
            f"The numbers propose “{VERDICT_WORDS.get(proposal.verdict, '?')}”, not "
            "effective. To confirm it effective all the same, say why (the reason is "
            "kept in the audit trail); or wait for the still-in-place check, when the "
            "evidence is looked at again.")})
    counts = proposal.counts
    measure.baseline_value, measure.observed_value = (evaluation.baseline,
                                                      evaluation.observed)
    measure.baseline_count = counts.baseline if counts else None
    measure.observed_count = counts.observed if counts else None
    measure.p_value = proposal.p_value
    measure.proposed_verdict = proposal.verdict
    measure.confirmed_verdict = "effective" if effective else "not_effective"
    measure.confirmed_by_id, measure.confirmed_at = actor.user_id, now
    measure.confirmation_note = note.strip()
    against = effective and proposal.verdict != "effective"
    measure.override_reason = reason if against else None
    return {"look": evaluation.look, "evidence_until": evaluation.evidence_end,
            "baseline_count": measure.baseline_count,
            "observed_count": measure.observed_count,
            "p_value": measure.p_value, "proposal": proposal.reason,
            "override_reason": measure.override_reason}


def _schedule_sustainment(session: Session, action: Action, *, today: date,
                          rules: Settings) -> None:
    """An effective control is checked again later: the still-in-place check."""
    assert action.go_live_date is not None  # checked by _check_verifiable
    due = sustainment_date(action.go_live_date, action.test_window_days or 0, rules.actions)
    if due <= today:  # verified at the second look: the control is checked again later
        due = today + timedelta(days=rules.actions.sustainment_after_days)
    action.sustainment_check_date = due
    session.add(SustainmentCheck(action_id=action.id, due_date=due))


def confirm_verdict(uow: UnitOfWork, actor: Actor, action_id: int, *, effective: bool,
                    note: str, override_reason: str = "", expected_version: int | None = None,
                    now: datetime, rules: Settings) -> None:
    """A person confirms, after the test window, whether the control worked.

    The measure's proposal is made again from the data of the day (at the end of the window,
    or from the still-in-place check's date on every week since go-live) and kept with the
    verdict. "Effective" against a proposal that is not "effective" (too early to tell, not
    effective, no data) needs a reason, which the audit trail keeps.
    """
    require(actor, Capability.MANAGE_ACTIONS)
    today = to_local(now, rules.zone).date()
    _check_verdict_text(note, override_reason)
    with uow:
        session = uow.session
        action = action_for(session, actor, action_id, owner_may=False)
        check_action_version(action, expected_version)
        _check_verifiable(session, action, effective=effective, today=today)
        measure = session.scalar(select(VerificationMeasure).where(
            VerificationMeasure.action_id == action.id))
        evidence: dict[str, object] = {}
        if measure is not None:
            evidence = _weigh_measure(session, actor, action, measure, effective=effective,
                                      note=note, reason=override_reason.strip(), today=today,
                                      now=now, rules=rules)
        target = ActionStatus.VERIFIED_EFFECTIVE if effective else ActionStatus.NOT_EFFECTIVE
        action.status, action.updated_at = target.value, now
        if effective:
            _schedule_sustainment(session, action, today=today, rules=rules)
        uow.record(actor, "action.verified", "action", action.id, at=now,
                   before={"status": ActionStatus.IN_TEST.value},
                   after={"status": target.value, "note": note.strip(),
                          "baseline": measure.baseline_value if measure else None,
                          "observed": measure.observed_value if measure else None,
                          "proposed": measure.proposed_verdict if measure else None,
                          **evidence})
        uow.commit()


def confirm_sustainment(uow: UnitOfWork, actor: Actor, check_id: int, *, in_place: bool,
                        note: str, now: datetime) -> None:
    """A supervisor confirms the control stayed in place (or it lapsed: the action reopens)."""
    require(actor, Capability.MANAGE_ACTIONS)
    if not note.strip():
        raise ValidationFailed({"note": "Record what you observed (supervisory review note)."})
    with uow:
        session = uow.session
        check = session.get(SustainmentCheck, check_id) if storable_id(check_id) else None
        if check is None:
            raise NotFound("No such sustainment check.")
        action = action_for(session, actor, check.action_id, owner_may=False)
        if check.confirmed_at is not None:
            raise ValidationFailed({"note": "This check is already recorded."})
        check.confirmed_at, check.confirmed_by_id = now, actor.user_id
        check.in_place, check.note = in_place, note.strip()
        before = {"status": action.status}
        if not in_place:
            action.status = ActionStatus.IN_PROGRESS.value  # the control lapsed: act again
        action.updated_at = now
        uow.record(actor, "action.sustainment_checked", "action", action.id, at=now,
                   before=before, after={"in_place": in_place, "note": check.note,
                                         "status": action.status})
        uow.commit()
