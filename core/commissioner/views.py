"""The commissioner's evidence: provider-wide aggregates, de-identified.

No free text, no names, no person references, no staff or reporter identity; dates coarsened
to the week; counts below the threshold suppressed everywhere, with complementary suppression.
Aggregates are computed provider-wide (a commissioner sees the whole provider) and then
de-identified here, so nothing identifying ever reaches a page or an export.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from statistics import median
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.actions.episodes import EpisodeSpan, EpisodeView, linked_actions
from core.actions.measures import MeasureFilters, count_between_each
from core.actions.models import (
    Action,
    SustainmentCheck,
    VerificationMeasure,
)
from core.actions.queries import plan_types
from core.actions.vocabulary import KINDS_BY_KEY, ActionStatus, Strength
from core.auth.actor import SYSTEM, Actor
from core.auth.policy import Capability, require
from core.clock import to_local
from core.commissioner import deid
from core.commissioner.deid import Cell, LevelChoice, SuppressedTable, iso_week
from core.config import Settings
from core.escalation.models import Escalation
from core.escalation.rules import EscalationKind
from core.feedback.models import FeedbackUpdate, FeedbackUpdateReport
from core.metrics import governance as gov
from core.metrics.clusters import clusters_in_period
from core.organisation.models import Service
from core.reports.models import NearMissReport
from core.spc import SpcRules, xmr
from core.taxonomy.models import NearMissType
from core.taxonomy.service import live_taxonomy
from core.weeks import as_date, day_sql, local_midnight_utc, week_start_of

# Dimensions a commissioner may see: none of them names a place, a person or a worker.
DIMENSIONS = {"type": "Type", "service": "Service", "barrier": "What stopped harm",
              "interface": "Interface"}


def threshold(*, rules: Settings) -> int:
    """The smallest count a commissioner is shown (smaller ones are suppressed)."""
    return rules.commissioner.suppress_below


def _limit(rules: Settings, suppress: bool) -> int:
    """The suppression threshold; 1 (nothing hidden) for a board, which sees exact counts."""
    return threshold(rules=rules) if suppress else 1


@dataclass(frozen=True)
class Trend:
    """A control chart of provider-wide near misses, weekly (monthly if weeks are small)."""

    frame: pd.DataFrame  # xmr output, indexed by period start (empty: no chart can be drawn)
    granularity: str  # week | month
    go_lives: list[tuple[date, str]]  # (period start, the control's kind; no free text)
    controls_live: int = 0  # how many went live in all (go_lives marks the best evidenced)
    note: str = ""  # which level was chosen, and why


def _check(actor: Actor) -> None:
    require(actor, Capability.VIEW_COMMISSIONER_EVIDENCE)


def trend(session: Session, actor: Actor, scope: gov.Scope, *,
          rules: Settings, suppress: bool = True, now: datetime) -> Trend:
    """Near misses per week, or per month when some week has from 1 to threshold-1.

    A control chart cannot have gaps (they would join periods that are not neighbours), so a
    point is never hidden: the chart goes monthly instead, and when even a month has from 1 to
    threshold-1 no chart is drawn. The note says which, and why.
    """
    _check(actor)
    limit = _limit(rules, suppress)
    # Whole weeks only: a part-week at either end of the period would look like a fall.
    first = scope.start if scope.start.weekday() == 0 else (
        week_start_of(scope.start) + timedelta(days=7))
    complete_end = min(week_start_of(scope.end), week_start_of(to_local(now, rules.zone).date()))
    weekly = gov.weekly_series(session, SYSTEM, gov.Scope(
        start=first, end=max(first, complete_end), service_ids=scope.service_ids,
        type_keys=scope.type_keys), rules=rules)
    monthly = weekly.groupby(weekly.index.to_period("M")).sum()
    monthly.index = monthly.index.to_timestamp()
    small = f"from 1 to {limit - 1}"
    series, granularity = weekly, "week"
    note = "Near misses per week (whole weeks)."
    if any(deid.is_small(v, limit) for v in weekly):
        series, granularity = monthly, "month"
        note = (f"Near misses per month (whole weeks, by the month they start in): some weeks "
                f"had {small}, which would be hidden, and a control chart cannot have gaps.")
    if any(deid.is_small(v, limit) for v in series):
        series = series.iloc[0:0]
        note = (f"No chart: even some months had {small} near misses, which would be hidden, "
                "and a control chart with gaps would mislead.")
    marks = []
    controls = gov.control_rows(session, scope, None)
    for day, _title, _plan, kind, _linked in controls:
        label = KINDS_BY_KEY[kind].label if kind in KINDS_BY_KEY else "Control"
        start = week_start_of(day) if granularity == "week" else day.replace(day=1)
        marks.append((start, label))
    frame = xmr(series.astype(float), rules=SpcRules(**rules.spc.model_dump()))
    frame.attrs = {}
    return Trend(frame, granularity, gov.marks_of(marks).marks, len(controls), note)


@dataclass(frozen=True)
class Breakdown:
    rows: list[tuple[str, Cell]]  # label, count as published
    total: Cell


@dataclass(frozen=True)
class TypeTables:
    """Near misses by type and service for the period, and by type over time, published
    together: they share the totals by type, so a total hidden in one is hidden in both."""

    by_service: SuppressedTable
    over_time: SuppressedTable  # columns: weeks ("2026-W27"), months ("2026-07") or quarters
    level: LevelChoice  # the level of over_time, and why
    service_fit: LevelChoice  # whether by_service says much (one level: the whole period)

    @property
    def service_note(self) -> str:
        """The caption of by_service: how much it hides."""
        return self.service_fit.explanation() if self.by_service.rows else NONE_IN_PERIOD

    @property
    def time_note(self) -> str:
        """The caption of over_time: the level chosen and why."""
        if not self.over_time.rows:
            return NONE_IN_PERIOD
        weeks = (" Weeks are ISO weeks (Monday to Sunday); the first and last may be "
                 "part-weeks." if self.level.level == "week" else "")
        return self.level.explanation() + weeks


NONE_IN_PERIOD = "No near misses in the period."


@lru_cache(maxsize=4096)  # a quarter's tables ask for the same hundred days 24,000 times
def _bucket(level: str, day: date) -> tuple[date, str]:
    """The period of `day` at a level: (its first day, for ordering; its label)."""
    if level == "week":
        monday = week_start_of(day)
        return monday, iso_week(monday)
    if level == "month":
        return day.replace(day=1), f"{day:%Y-%m}"
    quarter = (day.month - 1) // 3
    return date(day.year, 3 * quarter + 1, 1), f"{day.year} Q{quarter + 1}"


def _counts(session: Session, scope: gov.Scope, rules: Settings,
            ) -> list[tuple[date, str, str, int]]:
    """(local day, type name, service name, near misses) for the period: from the day counts
    when they are built for the zone, else counted from the reports."""
    counted = scope.day_counts(session, SYSTEM, rules.zone, ("day", "type_key", "service_id"))
    if counted is not None:
        types = dict(session.execute(select(NearMissType.key, NearMissType.name)).all())
        services = dict(session.execute(select(Service.id, Service.name)).all())
        by_name: dict[tuple[date, str, str], int] = {}
        for day_, type_key, service_id, n in counted:
            key = (day_, types.get(type_key, type_key), services.get(service_id, "?"))
            by_name[key] = by_name.get(key, 0) + n
        return [(d, t, s, n) for (d, t, s), n in by_name.items()]
    day = day_sql(session, NearMissReport.occurred_at, rules.zone)
    rows = session.execute(
        select(day, NearMissType.name, Service.name, func.count())
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .join(Service, Service.id == NearMissReport.service_id)
        .where(*scope.conditions(SYSTEM, rules.zone))
        .group_by(day, NearMissType.name, Service.name)).all()
    return [(as_date(d), t, s, int(n)) for d, t, s, n in rows]


def _cross(rows: list[tuple[date, str, str, int]], column: Any,
           ) -> tuple[dict[str, dict[str, int]], list[str], list[str]]:
    table: dict[str, dict[str, int]] = {}
    order: dict[str, Any] = {}
    for day, type_name, service_name, n in rows:
        key, label = column(day, service_name)
        table.setdefault(type_name, {})
        table[type_name][label] = table[type_name].get(label, 0) + n
        order[label] = key
    types = sorted(table, key=lambda t: (-sum(table[t].values()), t))
    return table, types, sorted(order, key=lambda label: (order[label], label))


def type_tables(session: Session, actor: Actor, scope: gov.Scope, *,
                rules: Settings, suppress: bool = True,
                period_name: str | None = None) -> TypeTables:
    """Near misses by type and service, and by type over time, small counts hidden.

    The table over time is weekly, else monthly, else quarterly: the finest level at which at
    most `commissioner.max_hidden_share` of the cells that are not 0 are hidden, and whose
    totals over time are all shown (the trend chart publishes them). When no level manages
    that, the one hiding least is used and its explanation says the table says little.
    """
    _check(actor)
    limit = _limit(rules, suppress)
    most = rules.commissioner.max_hidden_share
    rows = _counts(session, scope, rules)
    by_service, types, services = _cross(rows, lambda _day, service: (service, service))
    # Over time, the services are summed first: each level crosses a row per type and day
    # (a few hundred), not per type, day and service (5,109 in a quarter at 100k reports).
    by_type_day: dict[tuple[date, str], int] = {}
    for day, type_name, _service, n in rows:
        by_type_day[(day, type_name)] = by_type_day.get((day, type_name), 0) + n
    per_day = [(day, type_name, "", n) for (day, type_name), n in by_type_day.items()]
    label = period_name or period_label(scope.start, scope.end)
    linked: frozenset[str] = frozenset()
    candidates: list[tuple[str, SuppressedTable]] = []
    crossed: dict[str, tuple[dict[str, dict[str, int]], list[str]]] = {}
    seen_columns: list[str] | None = None
    for level in deid.LEVELS:
        over, _, buckets = _cross(per_day, lambda day, _service, lv=level: _bucket(lv, day))
        crossed[level] = over, buckets
        if seen_columns is not None and len(buckets) == len(seen_columns):
            continue  # as coarse as the level before: nothing to gain
        seen_columns = buckets
        candidates.append((level, deid.suppress_table(over, limit, rows=types,
                                                      columns=buckets)))
    choice = deid.choose_level(
        [(lv, t.hidden_share) for lv, t in candidates], most,
        totals_hidden=frozenset(lv for lv, t in candidates
                                if any(c.hidden for c in t.column_totals)))
    over_counts, buckets = crossed[choice.level]
    while True:  # the totals by type are published twice: hide in both what either hides
        service_table = deid.suppress_table(by_service, limit, rows=types, columns=services,
                                            hide_row_totals=linked)
        time_table = deid.suppress_table(over_counts, limit, rows=types, columns=buckets,
                                         hide_row_totals=linked)
        hidden = frozenset(name for table in (service_table, time_table)
                           for name, cell in zip(table.rows, table.row_totals, strict=True)
                           if cell.hidden)
        if hidden <= linked:
            break
        linked |= hidden
    return TypeTables(service_table, time_table, choice,
                      deid.choose_level([(label, service_table.hidden_share)], most))


def breakdowns(session: Session, actor: Actor, scope: gov.Scope, *,
               rules: Settings, suppress: bool = True,
               tables: TypeTables | None = None) -> dict[str, Breakdown]:
    """Near misses by each safe dimension, small counts hidden so totals cannot reveal them.

    By type and by service are the totals of `type_tables`, so the page and the spreadsheets
    hide the same figures; by barrier and by interface are lists published with the total.
    """
    _check(actor)
    tables = tables or type_tables(session, actor, scope, rules=rules, suppress=suppress)
    by_service = tables.by_service
    result = {
        "type": Breakdown(list(zip(by_service.rows, by_service.row_totals, strict=True)),
                          by_service.total),
        "service": Breakdown(sorted(zip(by_service.columns, by_service.column_totals,
                                        strict=True), key=_largest_first), by_service.total)}
    for dimension in ("barrier", "interface"):
        frame = gov.breakdown(session, SYSTEM, scope, dimension, rules=rules,
                              interface_labels=_interface_labels(session))
        cells, total = deid.suppress_series(list(frame["count"]), _limit(rules, suppress),
                                            hide_total=by_service.total.hidden)
        result[dimension] = Breakdown(list(zip(frame["key"].astype(str), cells, strict=True)),
                                      total)
    return result


def total(session: Session, actor: Actor, scope: gov.Scope, *,
          rules: Settings, suppress: bool = True) -> Cell:
    """Near misses in the period, as published (the grand total of `type_tables`)."""
    _check(actor)
    counted = session.scalar(select(func.count()).select_from(NearMissReport).where(
        *scope.conditions(SYSTEM, rules.zone))) or 0
    return deid.count(counted, _limit(rules, suppress))


def _largest_first(row: tuple[str, Cell]) -> tuple[int, float, str]:
    label, cell = row
    return (cell.hidden, -(cell.value or 0), label)


def breakdown(session: Session, actor: Actor, scope: gov.Scope, dimension: str, *,
              rules: Settings, suppress: bool = True) -> Breakdown:
    """Near misses by one safe dimension (see `breakdowns`)."""
    _check(actor)
    if dimension not in DIMENSIONS:
        raise ValueError(f"{dimension!r} is not a dimension commissioners see")
    return breakdowns(session, actor, scope, rules=rules, suppress=suppress)[dimension]


def _interface_labels(session: Session) -> dict[str, str]:
    return {f.key: f.label for f in live_taxonomy(session).interface_flags}


@dataclass(frozen=True)
class ClusterEvidence:
    type_name: str
    where: str
    from_week: str
    to_week: str
    reports: Cell
    actions: list[str]  # "Checklist (intermediate): verified effective"


def _action_summaries(session: Session, clusters: Sequence[EpisodeView], zone: Any,
                      ) -> list[list[str]]:
    """Per cluster, the actions serving its reports: kind, strength and status, in words."""
    linked = linked_actions(session, {i: EpisodeSpan.of(
        c.type_key, c.services, c.start, c.end, zone) for i, c in enumerate(clusters)},
        "strength_category", "strength", "status")
    return [_summaries(linked.get(i, set())) for i in range(len(clusters))]


def _summaries(rows: Iterable[tuple[Any, ...]]) -> list[str]:
    summaries = []
    for kind, strength, status in rows:
        label = KINDS_BY_KEY[kind].label if kind in KINDS_BY_KEY else kind
        summaries.append(f"{label} ({Strength(strength).label.lower()}): "
                         f"{ActionStatus(status).label.lower()}")
    return sorted(summaries)


def clusters(session: Session, actor: Actor, scope: gov.Scope, *,
             rules: Settings, suppress: bool = True,
             now: datetime) -> list[ClusterEvidence]:
    """Clusters found in the period and what was done about them (no references)."""
    _check(actor)
    limit = _limit(rules, suppress)
    episodes = clusters_in_period(session, SYSTEM, scope.start, scope.end, rules=rules,
                                  now=now, with_references=False)
    return [ClusterEvidence(
        type_name=cluster.type_name, where=f"{cluster.scope_name} ({cluster.scope})",
        from_week=iso_week(cluster.start), to_week=iso_week(cluster.end),
        reports=deid.count(cluster.report_count, limit), actions=actions)
        for cluster, actions in zip(episodes, _action_summaries(session, episodes, rules.zone),
                                    strict=True)]


RATE_COLUMNS = ("Before (rate)", "During test (rate)")


def register_as_text(register: pd.DataFrame) -> pd.DataFrame:
    """The register with its rates as text ("2.17", "suppressed" or ""), for a table on
    screen: a column mixing numbers and labels cannot be shown as numbers."""
    shown = register.copy()
    for column in RATE_COLUMNS:
        if column in shown:
            shown[column] = [value if isinstance(value, str) else
                             "" if value is None or pd.isna(value) else f"{value:g}"
                             for value in shown[column]]
    return shown


def live_in_period(start: date | None, end: date | None,
                   rules: Settings) -> list[ColumnElement[bool]]:
    """SQL conditions for the actions live in [start, end): created before its end, and still
    in hand (planned, in progress, in test) or last changed (a verdict, a stop, a sustainment
    check) on or after its start. No bound: no condition."""
    in_period: list[ColumnElement[bool]] = []
    if end is not None:
        in_period.append(Action.created_at < local_midnight_utc(end, rules.zone))
    if start is not None:
        in_hand = (ActionStatus.PLANNED, ActionStatus.IN_PROGRESS, ActionStatus.IN_TEST)
        in_period.append(Action.status.in_([s.value for s in in_hand])
                         | (Action.updated_at >= local_midnight_utc(start, rules.zone)))
    return in_period


_STATUS_VERDICTS = {ActionStatus.VERIFIED_EFFECTIVE.value: "effective",
                    ActionStatus.NOT_EFFECTIVE.value: "not_effective"}


def action_register(session: Session, actor: Actor, *, start: date | None = None,
                    end: date | None = None, rules: Settings,
                    suppress: bool = True) -> pd.DataFrame:
    """Actions with their kind and strength, theme, dates as weeks, status and verification,
    indexed by action id. With `start`/`end`, those live in the period: created before its
    end, and still in hand (planned, in progress, in test) or last changed (a verdict, a
    stop, a sustainment check) on or after its start.

    Titles and descriptions are free text written by staff, so they are not shown: the kind
    on the action hierarchy says what sort of control it is. A rate before or during the test
    resting on a count from 1 to threshold-1 reads "suppressed" (a rate per week times the
    weeks is the count).
    """
    _check(actor)
    limit = _limit(rules, suppress)
    in_period = live_in_period(start, end, rules)
    type_names = dict(session.execute(select(NearMissType.key, NearMissType.name)).all())
    themes = {plan_id: {type_names[key] for key in keys if key in type_names}
              for plan_id, keys in plan_types(session).items()}
    services = dict(session.execute(select(Service.id, Service.name)).all())
    sustained = {action_id: in_place for action_id, in_place in session.execute(
        select(SustainmentCheck.action_id, SustainmentCheck.in_place)
        .where(SustainmentCheck.confirmed_at.is_not(None)))}
    found = session.execute(
        select(Action, VerificationMeasure)
        .outerjoin(VerificationMeasure, VerificationMeasure.action_id == Action.id)
        .where(*in_period).order_by(Action.deadline, Action.id)).all()
    # Each published rate rests on a count of near misses in its window: all counted together
    # (a statement each was 3,138 round trips at a million reports).
    rates = [_rate(action, measure, limit, before=before) for action, measure in found
             for before in (True, False)]
    counts = iter(count_between_each(session, [(rate.filters, rate.start, rate.end)
                                               for rate in rates
                                               if isinstance(rate, _RateWindow)], rules=rules))
    published = iter(rate.publish(next(counts), limit) if isinstance(rate, _RateWindow)
                     else rate for rate in rates)
    rows, ids = [], []
    for action, measure in found:
        ids.append(action.id)
        kind = KINDS_BY_KEY.get(action.strength_category)
        rows.append({
            "Theme": ", ".join(sorted(themes.get(action.plan_id, set()))) or "—",
            "Service": services.get(action.service_id, "Provider-wide"),
            "Kind of action": kind.label if kind else action.strength_category,
            "Strength": Strength(action.strength).label,
            "Status": ActionStatus(action.status).label,
            "Deadline (week)": iso_week(action.deadline),
            "Went live (week)": iso_week(action.go_live_date) if action.go_live_date else "",
            # A verdict confirmed on a measure, else the one the status records.
            "Verdict": ((measure.confirmed_verdict if measure else None)
                        or _STATUS_VERDICTS.get(action.status, "")).replace("_", " "),
            "Before (rate)": next(published),
            "During test (rate)": next(published),
            "Still in place": {True: "yes", False: "no"}.get(sustained.get(action.id), ""),
        })
    return pd.DataFrame(rows, index=pd.Index(ids, name="action_id"))


class _RateWindow(NamedTuple):
    """A published rate that rests on the near misses counted in [start, end)."""

    filters: MeasureFilters
    start: date
    end: date
    value: float

    def publish(self, counted: int, limit: int) -> float | str | None:
        """The rate as published: "suppressed" when `counted` is from 1 to limit-1."""
        return deid.derived(round(self.value, 2), [counted], limit).export()


def _rate(action: Action, measure: VerificationMeasure | None, limit: int, *,
          before: bool) -> float | str | _RateWindow | None:
    """A measure's rate before go-live or during the test, as published (a number, or
    "suppressed" when the near misses it counts are from 1 to limit-1); a `_RateWindow` when
    that rests on a count yet to be made."""
    value = (measure.baseline_value if before else measure.observed_value) if measure else None
    if measure is None or value is None:
        return None
    if limit <= 1:
        return round(value, 2)
    go_live = action.go_live_date
    if go_live is None:  # no window to count in: the count behind it is unknown
        return deid.Cell(None, deid.Status.SUPPRESSED, limit).export()
    filters = MeasureFilters.from_json(measure.filters)
    if before:
        return _RateWindow(filters, go_live - timedelta(weeks=measure.baseline_weeks), go_live,
                           value)
    return _RateWindow(filters, go_live, go_live + timedelta(days=action.test_window_days or 0),
                       value)


@dataclass(frozen=True)
class EscalationTimeliness:
    kind: str
    raised: Cell
    median_minutes: Cell  # suppressed when raised is a small count
    within_time: Cell  # a percentage: suppressed when the on-time or the late count is small


def escalations(session: Session, actor: Actor, scope: gov.Scope, *,
                rules: Settings, suppress: bool = True) -> list[EscalationTimeliness]:
    """How fast escalations were acknowledged, by kind (hidden where there are few)."""
    _check(actor)
    limit = _limit(rules, suppress)
    raised = (Escalation.raised_at >= local_midnight_utc(scope.start, rules.zone),
              Escalation.raised_at < local_midnight_utc(scope.end, rules.zone))
    # Per kind: raised, acknowledged, the median minutes to acknowledge, acknowledged in time.
    found: dict[str, tuple[int, int, float | None, int]] = {}
    if session.get_bind().dialect.name == "postgresql":  # one query, the medians in it
        minutes = func.date_part("epoch",  # a double (EXTRACT: a slower numeric)
                                 Escalation.acknowledged_at - Escalation.raised_at) / 60.0
        in_time = func.count().filter(Escalation.acknowledged_at <= Escalation.due_at)
        for kind, count, acknowledged, wait, on_time in session.execute(
                select(Escalation.kind, func.count(), func.count(Escalation.acknowledged_at),
                       func.percentile_cont(0.5).within_group(minutes),  # NULLs left out
                       in_time).where(*raised).group_by(Escalation.kind)):
            found[kind] = (count, acknowledged, None if wait is None else float(wait), on_time)
    else:  # SQLite has no ordered-set aggregate: the medians in Python, from one read
        waits: dict[str, list[float]] = {}
        counted: dict[str, tuple[int, int]] = {}
        for kind, raised_at, acknowledged_at, due_at in session.execute(select(
                Escalation.kind, Escalation.raised_at, Escalation.acknowledged_at,
                Escalation.due_at).where(*raised)):
            count, on_time = counted.get(kind, (0, 0))
            waits.setdefault(kind, [])
            if acknowledged_at is not None:
                waits[kind].append((acknowledged_at - raised_at).total_seconds() / 60)
            counted[kind] = (count + 1, on_time + (acknowledged_at is not None
                                                   and acknowledged_at <= due_at))
        found = {kind: (count, len(waits[kind]),
                        median(waits[kind]) if waits[kind] else None, on_time)
                 for kind, (count, on_time) in counted.items()}
    result = []
    for kind in EscalationKind:
        if kind.value not in found:
            continue
        count, acknowledged, wait, on_time = found[kind.value]
        result.append(EscalationTimeliness(
            kind.label, deid.count(count, limit),
            deid.derived(round(wait, 0) if wait is not None else None, [count, acknowledged],
                         limit),
            deid.share(on_time, count, limit)))
    return result


@dataclass(frozen=True)
class CultureEvidence:
    reports: Cell
    reporters: Cell
    anonymous_share: Cell  # suppressed when the anonymous or the named reports are few
    median_hours_to_triage: Cell  # suppressed when the reports are few


def culture(session: Session, actor: Actor, scope: gov.Scope, *,
            rules: Settings, suppress: bool = True) -> CultureEvidence:
    _check(actor)
    limit = _limit(rules, suppress)
    measured = gov.reporting_culture(session, SYSTEM, scope, rules=rules)
    anonymous = round(measured.anonymous_share * measured.reports)
    triage = measured.median_hours_to_triage
    return CultureEvidence(
        reports=deid.count(measured.reports, limit),
        reporters=deid.count(measured.distinct_reporters, limit),
        anonymous_share=deid.share(anonymous, measured.reports, limit),
        median_hours_to_triage=deid.derived(round(triage, 1) if triage is not None else None,
                                            [measured.reports], limit))


@dataclass(frozen=True)
class FeedbackEvidence:
    month: str
    updates: int  # updates are the provider's own notices, not people: counted exactly
    reports_behind_them: Cell


def feedback(session: Session, actor: Actor, scope: gov.Scope, *,
             rules: Settings, suppress: bool = True) -> list[FeedbackEvidence]:
    """"What changed because you reported": updates published per month (counts only)."""
    _check(actor)
    limit = _limit(rules, suppress)
    published = session.execute(
        select(FeedbackUpdate.id, FeedbackUpdate.published_at,
               func.count(FeedbackUpdateReport.report_id))
        .outerjoin(FeedbackUpdateReport, FeedbackUpdateReport.update_id == FeedbackUpdate.id)
        .where(FeedbackUpdate.status == "published",
               FeedbackUpdate.published_at >= local_midnight_utc(scope.start, rules.zone),
               FeedbackUpdate.published_at < local_midnight_utc(scope.end, rules.zone))
        .group_by(FeedbackUpdate.id, FeedbackUpdate.published_at)).all()
    months: dict[str, list[int]] = {}
    for _, when, linked in published:
        months.setdefault(f"{when:%Y-%m}", []).append(linked)
    return [FeedbackEvidence(month, len(links), deid.count(sum(links), limit))
            for month, links in sorted(months.items())]


def period_label(start: date, end: date) -> str:
    return f"{start:%d %b %Y} to {(end - timedelta(days=1)):%d %b %Y}"

