"""Read-side queries over the audit trail."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditChainHead


def data_version(session: Session) -> int:
    """A number that changes with every write a figure can read (the audit chain's length
    less the events of quiet transactions, core/uow.py): a cache key that makes cached figures
    fresh again as soon as such a write commits, and leaves them be on a sign-in or a view."""
    return session.scalar(select(AuditChainHead.last_seq - AuditChainHead.quiet_events)
                          .where(AuditChainHead.id == 1)) or 0
