"""Read-side queries over the audit trail."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from core.audit.models import AuditChainHead

# Built once: it is read at every page run, and building the statement cost twice what
# running it did (0.17 ms against 0.08 ms on SQLite).
_DATA_VERSION = (select(AuditChainHead.last_seq - AuditChainHead.quiet_events)
                 .where(AuditChainHead.id == 1))


def data_version(session: Session | Connection) -> int:
    """A number that changes with every write a figure can read (the audit chain's length
    less the events of quiet transactions, core/uow.py): a cache key that makes cached figures
    fresh again as soon as such a write commits, and leaves them be on a sign-in or a view."""
    return session.scalar(_DATA_VERSION) or 0
