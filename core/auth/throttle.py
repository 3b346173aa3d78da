"""Throttling repeated failures (sign-in, follow-up codes) with a growing delay, in the database.

A key (an account, a client address, a follow-up code) may fail a few times for free; after
that each failure makes the next attempt wait twice as long as the last, up to a cap. While
a key waits, attempts are refused without counting, so a flood cannot push the wait further
out than the cap after its last counted failure. A key with no failure for the forget period
starts afresh. Counts live in `attempt_throttles`, so they hold across browser sessions,
reloads and app servers.

Keys are stored as SHA-256 digests of scope and value: the table never holds a typed
username or code.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.auth.models import AttemptThrottle
from core.config import SignInRules

SIGN_IN_ACCOUNT = "sign_in_account"
SIGN_IN_SOURCE = "sign_in_source"
FOLLOW_UP_SOURCE = "follow_up_source"
FOLLOW_UP_CODE = "follow_up_code"


@dataclass(frozen=True)
class Delays:
    """How one scope grows its wait: free failures, then first, 2 x first, ... up to the cap."""

    free_failures: int
    first: timedelta
    cap: timedelta
    forget_after: timedelta

    def wait_after(self, failures: int) -> timedelta | None:
        """The wait before the next check once `failures` have been counted (None: no wait)."""
        beyond = failures - self.free_failures
        if beyond <= 0:
            return None
        # Doubling overflows nothing: past 40 doublings every sane cap has been reached.
        return min(self.cap, self.first * (2 ** min(beyond - 1, 40)))


def account_delays(rules: SignInRules) -> Delays:
    return Delays(rules.account_free_failures,
                  timedelta(seconds=rules.account_first_delay_seconds),
                  timedelta(seconds=rules.account_max_delay_seconds),
                  timedelta(minutes=rules.forget_failures_after_minutes))


def source_delays(rules: SignInRules) -> Delays:
    return Delays(rules.source_free_failures,
                  timedelta(seconds=rules.source_first_delay_seconds),
                  timedelta(seconds=rules.source_max_delay_seconds),
                  timedelta(minutes=rules.forget_failures_after_minutes))


def throttle_key(scope: str, value: str) -> str:
    """The stored form of what is counted (64 hex characters)."""
    return hashlib.sha256(f"{scope}\x00{value}".encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ThrottleState:
    """A key's count as it stands at one moment."""

    failures: int
    retry_at: datetime | None

    def waiting(self, now: datetime) -> bool:
        return self.retry_at is not None and self.retry_at > now


NO_FAILURES = ThrottleState(0, None)


def _row(session: Session, scope: str, key: str, *, lock: bool = False) -> AttemptThrottle | None:
    query = select(AttemptThrottle).where(AttemptThrottle.scope == scope,
                                          AttemptThrottle.key == key)
    return session.scalar(query.with_for_update() if lock else query)


def _live(row: AttemptThrottle | None, delays: Delays, now: datetime) -> bool:
    """Whether a row still counts (not forgotten after a quiet spell, nor still waiting)."""
    if row is None:
        return False
    return (row.retry_at is not None and row.retry_at > now) or \
        now - row.last_failure_at < delays.forget_after


def state_of(session: Session, scope: str, key: str, delays: Delays,
             now: datetime) -> ThrottleState:
    """The count for a key now (a forgotten count reads as none)."""
    row = _row(session, scope, key)
    if not _live(row, delays, now):
        return NO_FAILURES
    assert row is not None
    return ThrottleState(row.failures, row.retry_at)


def _row_for_update(session: Session, scope: str, key: str, now: datetime) -> AttemptThrottle:
    """The key's row, locked (PostgreSQL), created if missing (another writer may race us)."""
    row = _row(session, scope, key, lock=True)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = AttemptThrottle(scope=scope, key=key, failures=0, first_failure_at=now,
                                  last_failure_at=now, retry_at=None, notified_at=None)
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        row = _row(session, scope, key, lock=True)
        assert row is not None
        return row


def count_failure(session: Session, scope: str, key: str, delays: Delays,
                  now: datetime) -> tuple[ThrottleState, ThrottleState]:
    """Count one failure against a key; (state before, state after). Call inside a unit of
    work, which must also record the audit event."""
    row = _row_for_update(session, scope, key, now)
    if row.failures and not _live(row, delays, now):
        row.failures, row.first_failure_at, row.retry_at = 0, now, None
    before = ThrottleState(row.failures, row.retry_at)
    row.failures += 1
    row.last_failure_at = now
    wait = delays.wait_after(row.failures)
    row.retry_at = now + wait if wait is not None else None
    return before, ThrottleState(row.failures, row.retry_at)


def forget(session: Session, scope: str, key: str) -> None:
    """Clear a key's count (the account's owner has just signed in)."""
    session.execute(delete(AttemptThrottle).where(AttemptThrottle.scope == scope,
                                                  AttemptThrottle.key == key))


def may_notify(session: Session, scope: str, key: str, now: datetime, gap: timedelta) -> bool:
    """Whether a notice about this key may go out now (at most one per `gap`); if so, the
    time is noted. Call inside a unit of work."""
    row = _row_for_update(session, scope, key, now)
    if row.notified_at is not None and now - row.notified_at < gap:
        return False
    row.notified_at = now
    return True


def prune(session: Session, now: datetime, older_than: timedelta) -> None:
    """Drop counts nobody has added to for a long while (their keys would start afresh)."""
    session.execute(delete(AttemptThrottle).where(
        AttemptThrottle.last_failure_at < now - older_than,
        (AttemptThrottle.retry_at.is_(None)) | (AttemptThrottle.retry_at < now)))


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted_proxies: Iterable[str]) -> str | None:
    """The address to count a request's failures against, or None when it cannot be told.

    `peer` is the direct peer of the connection (Streamlit gives None for loopback).
    X-Forwarded-For is believed only when the peer is a trusted proxy: its entries are read
    from the right, skipping trusted proxies, and the first other address is the client's.
    A loopback peer that is not a trusted proxy is a proxy nobody configured (or a developer's
    own browser): everyone would share its address, so there is no address to count by.
    """
    networks = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            return ipaddress.ip_address(text.strip().strip("[]"))
        except ValueError:
            return None

    def trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in networks)

    direct = parse(peer) if peer else ipaddress.ip_address("127.0.0.1")
    if direct is None:
        return None
    if not trusted(direct):
        return None if direct.is_loopback else str(direct)
    for entry in reversed((forwarded_for or "").split(",")):
        hop = parse(entry)
        if hop is None:
            return None  # a garbled header: believe none of it
        if not trusted(hop):
            return str(hop)
    return None
