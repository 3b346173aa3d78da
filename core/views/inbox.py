"""The inbox: escalations routed to the actor's role, their regulator clocks, notifications."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core.auth.actor import Actor
from core.config import Settings
from core.db import read_session
from core.escalation.queries import InboxItem, NotificationItem, inbox, notifications_for
from core.regulator.queries import EventClocks, events_for

NOTIFICATIONS_SHOWN = 30


@dataclass(frozen=True, slots=True)
class InboxPage:
    """Escalations (overdue first; decided ones too if asked), each one's regulator clocks
    by reference, and the actor's latest notifications."""

    items: tuple[InboxItem, ...]
    notifications: tuple[NotificationItem, ...]
    events: Mapping[str, EventClocks]


def inbox_page(actor: Actor, *, include_decided: bool, now: datetime,
               rules: Settings) -> InboxPage:
    with read_session() as session:
        items = inbox(session, actor, now=now, include_decided=include_decided)
        return InboxPage(
            items=tuple(items),
            notifications=tuple(notifications_for(session, actor, limit=NOTIFICATIONS_SHOWN)),
            events=events_for(session, actor, [i.reference for i in items], now=now,
                              rules=rules))
