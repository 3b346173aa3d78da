"""Shared pieces of the commissioner's evidence and the governance pack pages."""

from __future__ import annotations

from datetime import date, datetime

import streamlit as st

from core.auth.actor import Actor
from core.clock import utcnow
from core.commissioner.access import record_access
from core.commissioner.period import Period, parse_period
from core.config import settings
from core.uow import UnitOfWork
from core.views.commissioner import (
    EvidencePage,
    RegulatorClocks,
    evidence_figures,
    regulator_clocks,
    with_clocks,
)
from ui.governance import BY_LENS, TTL_SECONDS, today, version


def quarters(count: int = 6) -> list[Period]:
    """This quarter (so far) and the quarters before it, newest first."""
    now = today()
    year, quarter = now.year, (now.month - 1) // 3 + 1
    periods = []
    for _ in range(count):
        periods.append(parse_period(f"{year}-Q{quarter}"))
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    return periods


def period_picker(key: str) -> Period:
    options = quarters()
    chosen = st.selectbox("Period", range(len(options)), index=1 if len(options) > 1 else 0,
                          format_func=lambda i: options[i].label + (" (so far)" if i == 0
                                                                     else ""), key=key)
    return options[chosen or 0]


def log_view(actor: Actor, what: str) -> None:
    """Record a view in the audit trail once per browser session (not on every rerun)."""
    seen = st.session_state.setdefault("evidence_views_logged", set())
    if what not in seen:
        record_access(UnitOfWork(), actor, what, now=utcnow())
        seen.add(what)


def evidence_for(actor: Actor, period: Period) -> EvidencePage:
    """The evidence page: its figures computed once per data version and day, its regulator
    clocks once per data version and minute (they count down). A rerun (a tab, a breakdown)
    reads both from the cache, and any write, which moves the version, shows at once."""
    now = utcnow().replace(second=0, microsecond=0)
    return with_clocks(_cached_figures(version(), actor, period, today(), now),
                       _cached_clocks(version(), actor, period, now))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, hash_funcs=BY_LENS, max_entries=64)
def _cached_figures(version: int, actor: Actor, period: Period, day: date,
                    _now: datetime) -> EvidencePage:
    return evidence_figures(actor, period, now=_now, rules=settings())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, hash_funcs=BY_LENS, max_entries=64)
def _cached_clocks(version: int, actor: Actor, period: Period,
                   now: datetime) -> RegulatorClocks:
    return regulator_clocks(actor, period, now=now, rules=settings())
