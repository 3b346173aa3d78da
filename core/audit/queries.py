"""Read-side queries over the audit trail."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditChainHead


def data_version(session: Session) -> int:
    """A number that changes with every write (the audit chain's length): a cache key that
    makes cached figures fresh again as soon as anything is written."""
    return session.scalar(select(AuditChainHead.last_seq).where(AuditChainHead.id == 1)) or 0
