"""Escalations as filing and triage raise them: acknowledged (mostly in time) by someone
holding the role, decided in the shape core.escalation.service stores, notified when recent."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from core.config import Settings
from core.escalation.rules import EscalationKind
from core.escalation.rules import due_at as escalation_due
from core.escalation.service import CLINICAL_REVIEW_WAYS
from ops.demo.data import demo_data
from ops.demo.places import DemoService
from ops.demo.records import DemoEscalation, DemoNotice

_DATA = demo_data()
_HABITS = _DATA.provider.habits.escalations
_SAFEGUARDING = _DATA.everyday.after_filing.safeguarding
NOTIFY_DAYS = _HABITS.notify_days  # notifications only for recent escalations


class Escalations:
    """Raises, acknowledges and decides escalations as far as `now` allows."""

    def __init__(self, rng: random.Random, now: datetime, rules: Settings,
                 leads: Mapping[str, tuple[int, ...]]):
        self.rng, self.now, self.rules, self.leads = rng, now, rules, leads

    def raise_one(self, kind: EscalationKind, reason: str, raised_at: datetime,
                  raised_by: int | None, service: DemoService, where: str, *, new: bool,
                  signals: list[str], external: bool,
                  state: str | None = None) -> DemoEscalation:
        """One escalation, as far as `now` allows; `state` ("waiting", "acknowledged" or
        "decided") says how far a planted one has got by now."""
        r, now = self.rng, self.now
        allowed = self.rules.escalation.acknowledge_within_minutes[kind.value]
        row: dict[str, Any] = {
            "kind": kind.value, "reason": reason, "raised_at": raised_at,
            "raised_by_id": raised_by,
            "due_at": escalation_due(kind, raised_at, self.rules.escalation),
            "acknowledged_at": None, "acknowledged_by_id": None, "decided_at": None,
            "decided_by_id": None,
        }
        recipients = (service.supervisors if kind is EscalationKind.SUPERVISOR_ALERT
                      else self.leads.get(kind.recipient_role.value, ()))
        late = r.random() < _HABITS.acknowledged_late
        acknowledged = raised_at + timedelta(
            minutes=allowed * (r.uniform(1.1, 3.0) if late else r.uniform(0.1, 0.95)))
        decided = acknowledged + timedelta(minutes=r.uniform(*_HABITS.decide_minutes[kind.value]))
        if state in ("acknowledged", "decided"):  # by now, whatever the usual pace
            acknowledged = min(acknowledged, raised_at + (now - raised_at) / 3)
            decided = min(decided, raised_at + (now - raised_at) * 2 / 3)
        # A new report's recent escalation may still be waiting: the inbox has work in it.
        waiting = state == "waiting" or (
            state is None and new and now - raised_at < timedelta(hours=_HABITS.may_wait_hours)
            and r.random() < _HABITS.waiting)
        actor = None
        if recipients and not waiting and acknowledged <= now:
            actor = recipients[0] if kind is not EscalationKind.SUPERVISOR_ALERT \
                else r.choice(recipients)
            row.update(acknowledged_at=acknowledged.replace(microsecond=0),
                       acknowledged_by_id=actor)
            if decided <= now and state != "acknowledged":
                row.update(decided_at=decided.replace(microsecond=0), decided_by_id=actor,
                           decision=self.decision(kind, acknowledged, decided, signals,
                                                  external))
        notices: tuple[DemoNotice, ...] = ()
        if raised_at >= now - timedelta(days=NOTIFY_DAYS):
            notices = tuple(DemoNotice(user, self.read_at(user, actor, row["acknowledged_at"]))
                            for user in recipients)
        return DemoEscalation(row, where, notices)

    def read_at(self, user: int, actor: int | None,
                acknowledged: datetime | None) -> datetime | None:
        """Read when acknowledged by them; others who were told read it a little later."""
        if acknowledged is None:
            return None
        if user == actor:
            return acknowledged
        seen = acknowledged + timedelta(minutes=self.rng.randint(5, 8 * 60))
        return seen if seen <= self.now else None

    def decision(self, kind: EscalationKind, acknowledged: datetime, decided: datetime,
                 signals: list[str], external: bool) -> dict[str, Any]:
        """A decision in the shape core.escalation.service stores for the kind."""
        r = self.rng
        if kind is EscalationKind.SAFEGUARDING:
            reasons = _SAFEGUARDING.reasons
            found = reasons.get(signals[0]) if signals else None
            found = found or reasons["abuse_or_neglect_concern"]
            told = acknowledged + (decided - acknowledged) * r.uniform(0.2, 0.9)
            return {"external_report_made": external,
                    "reported_to": r.choice(_SAFEGUARDING.reported_to) if external else None,
                    "reported_at": told.isoformat(timespec="minutes") if external else None,
                    "reason": found["reported" if external else "not_reported"]}
        if kind is EscalationKind.OPERATIONS:
            pathway = _DATA.pathway
            return {"where_entered": r.choice(pathway.where_entered),
                    "who_should_have_received": r.choice(pathway.who_should_have_received),
                    "failed_confirmation_step": r.choice(pathway.failed_confirmation_step),
                    "notes": r.choice(pathway.notes)}
        if kind is EscalationKind.CLINICAL_REVIEW:
            return {"how": r.choice(CLINICAL_REVIEW_WAYS),
                    "outcome": r.choice(_DATA.clinical_review_outcomes)}
        return {"note": r.choice(_DATA.everyday.after_filing.supervisor_alert_notes)}
