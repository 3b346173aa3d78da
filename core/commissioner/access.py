"""The access log: each commissioner view and export is recorded in the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.auth.actor import Actor
from core.uow import UnitOfWork


def record_access(uow: UnitOfWork, actor: Actor, what: str, *, exported: bool = False,
                  details: dict[str, Any] | None = None, now: datetime) -> None:
    """Append "commissioner.viewed" or "commissioner.exported" to the audit trail."""
    with uow:
        uow.record(actor, "commissioner.exported" if exported else "commissioner.viewed",
                   "evidence", what, after={"roles": sorted(r.value for r in actor.roles),
                                            **(details or {})}, at=now)
        uow.commit()
