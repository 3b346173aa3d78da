"""History lines: who did what, when, to which reports. A review record (a root cause
analysis, a learning response) reads its audit events through `record_history`; the near
miss's own history (core/filing/detail.py) builds the same `HistoryEntry` from its workflow
records. One shape and one name lookup for all three panels."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEvent
from core.auth.models import User


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a history panel (a near miss, an analysis or a learning response)."""

    at: datetime
    who: str
    what: str
    detail: str


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Display names of the given user ids (missing and None ids left out)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict(session.execute(
        select(User.id, User.display_name).where(User.id.in_(wanted))).all())


def record_history(session: Session, entity_type: str, entity_id: int, *,
                   labels: Mapping[str, str],
                   detail: Callable[[str, dict[str, Any]], str]) -> list[HistoryEntry]:
    """The record's audit events, oldest first: when, by whom (their display name, else the
    name the event kept), the action's label and `detail(action, after)`."""
    events = list(session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
        .order_by(AuditEvent.seq)))
    names = user_names(session, (e.actor_id for e in events))
    return [HistoryEntry(event.occurred_at, names.get(event.actor_id or 0, event.actor),
                         labels.get(event.action, event.action),
                         detail(event.action,
                                json.loads(event.after_json) if event.after_json else {}))
            for event in events]
