"""The unit of work: one transaction per use case, committed together with its audit events.

A service opens `with UnitOfWork() as uow:`, changes rows through `uow.session`, calls
`uow.record(...)` for each change and `uow.commit()`. Committing a write with no audit event is
a programming error and is refused, so no write can escape the audit trail.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Self

from sqlalchemy import Engine, event, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from core.audit.chain import canonical_json, refuse_unsigned_end, sign_and_append
from core.audit.keys import signing_key
from core.audit.models import AuditChainHead, AuditEvent
from core.auth.actor import Actor
from core.db import get_engine, is_sqlite
from core.errors import StorageUnavailable
from core.i18n import N_

ANONYMOUS_REPORTER = "anonymous reporter"
# Tries at taking SQLite's write lock, each waiting up to the busy timeout.
SQLITE_LOCK_ATTEMPTS = 3
_UNAVAILABLE = N_("The database could not be reached, or stayed busy. Nothing was saved: "
                  "try again in a moment.")


# Tables no page's figures read: a transaction that wrote only these (and its audit events)
# leaves the data version as it was (AuditChainHead.quiet_events). Any other table, or a
# statement whose table is not known, counts as a change to the figures.
QUIET_TABLES = frozenset({"user_sessions", "attempt_throttles", "notifications"})


class UnauditedWrite(RuntimeError):
    """A transaction changed rows but recorded no audit event."""


@dataclass
class _PendingEvent:
    actor_id: int | None
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    before: Any
    after: Any
    at: datetime


def _is_unavailable(exc: BaseException) -> bool:
    """Database unreachable or locked past the timeout (as opposed to a bug or bad data)."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class UnitOfWork:
    """One write transaction with its audit events."""

    # The repositories each transaction opens on its session, by attribute (`uow.reports`).
    # The packages that own the tables register them (core/reports/repository.py): this module
    # sits below those packages and may not import them (.importlinter).
    repositories: ClassVar[dict[str, Callable[[Session], Any]]] = {}
    reports: Any  # a core.reports.repository.ReportRepository, once entered

    def __init__(self, engine: Engine | None = None, *, seal_unsigned: bool = False):
        self._engine = engine
        # Only a seal (core/integrity/seal.py) may sign a chain whose end is not signed yet.
        self._seal_unsigned = seal_unsigned
        self.session: Session
        self._pending: list[_PendingEvent] = []
        self._wrote = False
        self._figures_written = False
        self._done = False

    def __enter__(self) -> Self:
        engine = self._engine or get_engine()
        if is_sqlite(engine):
            self.session = self._begin_sqlite_write(engine)
        else:
            self.session = Session(bind=engine, expire_on_commit=False)
        event.listen(self.session, "before_flush", self._note_flush)
        event.listen(self.session, "do_orm_execute", self._note_execute)
        for name, repository in self.repositories.items():
            setattr(self, name, repository(self.session))
        return self

    @staticmethod
    def _begin_sqlite_write(engine: Engine) -> Session:
        """Take SQLite's write lock now (BEGIN IMMEDIATE), retrying while another writer holds it.

        Once the lock is held nothing else in the transaction waits on other writers, so this
        is the one place "database is locked" can arise; each attempt already waits the busy
        timeout, and a short pause between attempts lets a burst of writers drain.
        """
        bind = engine.execution_options(sqlite_begin="IMMEDIATE")
        for attempt in range(1, SQLITE_LOCK_ATTEMPTS + 1):
            session = Session(bind=bind, expire_on_commit=False)
            try:
                session.connection()  # emits BEGIN IMMEDIATE
                return session
            except OperationalError as exc:
                session.close()
                if "locked" not in str(exc.orig) or attempt == SQLITE_LOCK_ATTEMPTS:
                    raise StorageUnavailable(_UNAVAILABLE) from exc
                time.sleep(random.uniform(0.05, 0.25) * attempt)
        raise AssertionError("unreachable")

    def _note_flush(self, session: Session, _ctx: Any, _instances: Any) -> None:
        for written in (*session.new, *session.dirty, *session.deleted):
            if not isinstance(written, (AuditEvent, AuditChainHead)):
                self._wrote = True
                if getattr(written, "__tablename__", None) not in QUIET_TABLES:
                    self._figures_written = True

    def _note_execute(self, state: Any) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            self._wrote = True
            table = getattr(state.statement, "table", None)
            if getattr(table, "name", None) not in QUIET_TABLES:
                self._figures_written = True

    def record(
        self,
        actor: Actor | None,
        action: str,
        entity_type: str,
        entity_id: str | int | None,
        *,
        before: Any = None,
        after: Any = None,
        at: datetime,
    ) -> None:
        """Queue an audit event, dated `at`; it is chained and written when the transaction
        commits.

        `actor=None` records an anonymous reporter: their identity is never stored.
        """
        self._pending.append(
            _PendingEvent(
                actor_id=actor.user_id if actor else None,
                actor=actor.username if actor else ANONYMOUS_REPORTER,
                action=action,
                entity_type=entity_type,
                entity_id=None if entity_id is None else str(entity_id),
                before=before,
                after=after,
                at=at,
            )
        )

    def _append_audit_events(self) -> None:
        if not self._pending:
            return
        key = signing_key()  # no key outside demo mode: refused, and nothing is written
        # Lock the chain head: events are numbered and linked one transaction at a time.
        head = self.session.execute(
            select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
        ).scalar_one()
        if not self._seal_unsigned:
            refuse_unsigned_end(head)
        for pending in self._pending:
            audit_event = AuditEvent(
                occurred_at=pending.at,
                actor_id=pending.actor_id,
                actor=pending.actor[:120],
                action=pending.action,
                entity_type=pending.entity_type,
                entity_id=pending.entity_id,
                before_json=canonical_json(pending.before),
                after_json=canonical_json(pending.after),
            )
            sign_and_append(head, audit_event, key)
            self.session.add(audit_event)
        if not self._figures_written:
            head.quiet_events = (head.quiet_events or 0) + len(self._pending)
        self._pending.clear()

    def commit(self) -> None:
        """Write the queued audit events and commit; refuse an unaudited write."""
        self.session.flush()
        if self._wrote and not self._pending:
            raise UnauditedWrite("this transaction changed data but recorded no audit event")
        self._append_audit_events()
        self.session.commit()
        self._done = True

    def rollback(self) -> None:
        self.session.rollback()
        self._pending.clear()
        self._done = True

    def __exit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> None:
        try:
            if not self._done:
                self.session.rollback()
        except Exception:
            pass
        finally:
            self.session.close()
        if exc is not None and _is_unavailable(exc):
            raise StorageUnavailable(_UNAVAILABLE) from exc
