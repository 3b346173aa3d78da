"""Rollups of the near misses, kept as reports are written: per local day, service, type and
barrier (the day counts), per local week, service, type, staff group and reporter (the
reporter weeks), per local week, service, type and place (the place weeks) and per local week,
service and person supported (the person weeks).

The weekly figures (trends, breakdowns by type, service, week, weekday or barrier, the barrier
mix, a verification measure's before and after counts, the cluster review's counts) read the
day counts, reporting culture's volumes and distinct reporters read the reporter weeks, and
the cluster review's repeats by place and by person read the place and person weeks, instead of
every report: their cost follows the days, services and reporters in the period,
not the reports in it.

- **Kept in each write's transaction.** A listener on every session's flush adds what a flush
  changed (reports added, deleted, or moved to another day, service, type or barrier) to the
  counts, in the same transaction: a report and its count commit or roll back together.
- **Built whole** by `rebuild` after bulk loads (demo data, CSV import, a restore) and by
  `nearmiss init` (`ensure_built`): until it is built, and whenever it was built for another
  time zone than the figures ask about, `day_counts_zone` says so and every reader counts the
  reports themselves (slower, never wrong).

Statements that change reports in bulk (`update(NearMissReport)`) bypass the listener; the two
in the code change only flags (in_cluster, is_repeat) that no count keeps.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Select,
    Table,
    TextClause,
    and_,
    bindparam,
    case,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, UOWTransaction

from core.clock import to_local, utcnow
from core.db import UNION_TERMS_PER_STATEMENT, union_rows
from core.reports.models import (
    LocationWeekCount,
    NearMissDayCount,
    NearMissReport,
    PersonWeekCount,
    ReporterWeekCount,
    RollupState,
)
from core.weeks import as_date, day_sql, week_start_of, week_start_sql

# What the rollups are keyed by, as the report holds it (occurred_at becomes the local day
# and week).
_KEY_FIELDS = ("occurred_at", "service_id", "type_key", "barrier", "staff_group_id",
               "reporter_id", "location_id", "person_id")
_TABLE = NearMissDayCount.__table__
_WEEKS = ReporterWeekCount.__table__
_PLACES = LocationWeekCount.__table__
_PEOPLE = PersonWeekCount.__table__
# A reporter week's key for "not recorded" (staff group) and "anonymous" (reporter).
NONE = 0
# What a median time to triage, to acknowledge or to first feedback reads: a report's times,
# what puts it in a scope and who filed it, and an escalation's times and report (escalations
# are named by table: that package sits above this one).
_REPORT_TIMINGS = ("triaged_at", "reported_at", "occurred_at", "service_id", "type_key",
                   "reporter_id")
_ESCALATION_TIMINGS = ("acknowledged_at", "raised_at", "due_at", "report_id")
# Every change to these moves the timings version too: the time to first feedback reads them
# (named by table: the feedback package sits above reports).
_FEEDBACK_TABLES = frozenset({"feedback_updates", "feedback_update_reports"})


def day_counts_zone(session: Session | Connection) -> str | None:
    """The time zone whose days the counts are built for; None when they are not built."""
    return session.execute(select(RollupState.zone).where(RollupState.id == 1)).scalar()


def usable(session: Session, zone: ZoneInfo) -> bool:
    """Whether the day counts may answer for local days in `zone`. Asked once per session (a
    page's figures ask for each of hundreds of actions); only a rebuild changes the answer,
    in a session of its own."""
    if "day_counts_zone" not in session.info:
        session.info["day_counts_zone"] = day_counts_zone(session)
    return session.info["day_counts_zone"] == zone.key


def _load_old_value(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
    return value


# A key field set on a report whose value was not loaded (expired) would leave no old value
# in its history, and the count it leaves would not be known: have SQLAlchemy load it first.
for _field in {*_KEY_FIELDS, *_REPORT_TIMINGS}:
    event.listen(getattr(NearMissReport, _field), "set", _load_old_value, active_history=True,
                 retval=True)


def _raw_key(report: NearMissReport, *, committed: bool) -> tuple[Any, ...]:
    """The report's key fields (_KEY_FIELDS): as last flushed, or as now."""
    if not committed:
        return tuple(getattr(report, name) for name in _KEY_FIELDS)
    state = inspect(report)
    values = []
    for name in _KEY_FIELDS:
        history = state.attrs[name].history
        values.append(history.deleted[0] if history.deleted
                      else history.unchanged[0] if history.unchanged else history.added[0])
    return tuple(values)


def _changes(session: Session) -> Counter[tuple[Any, ...]]:
    """What this flush does to the counts, by the report's key fields (_KEY_FIELDS)."""
    changes: Counter[tuple[Any, ...]] = Counter()
    for report in session.new:
        if isinstance(report, NearMissReport):
            changes[_raw_key(report, committed=False)] += 1
    for report in session.dirty:
        if isinstance(report, NearMissReport):
            state = inspect(report)
            if any(state.attrs[name].history.has_changes() for name in _KEY_FIELDS):
                changes[_raw_key(report, committed=True)] -= 1
                changes[_raw_key(report, committed=False)] += 1
    for report in session.deleted:
        if isinstance(report, NearMissReport):
            changes[_raw_key(report, committed=True)] -= 1
    return changes


def add_to_counts(connection: Connection, table: Table,
                  deltas: Mapping[tuple[Any, ...], int]) -> None:
    """Add each change to its count in `table` (keyed by its primary key's columns, in order),
    creating it if new: one upsert, safe against another transaction adding to the same
    count at the same time."""
    keys = [column.name for column in table.primary_key.columns]
    # In key order: two transactions adding to the same counts take their locks in one order.
    rows = [{**dict(zip(keys, key, strict=True)), "reports": change}
            for key, change in sorted(deltas.items()) if change]
    if not rows:
        return
    upsert = (postgresql_insert if connection.dialect.name == "postgresql"
              else sqlite_insert)(table)
    connection.execute(upsert.on_conflict_do_update(
        index_elements=keys, set_={"reports": table.c.reports + upsert.excluded.reports}), rows)


def _is_escalation(row: object) -> bool:
    return getattr(row, "__tablename__", None) == "escalations"


def _is_feedback(row: object) -> bool:
    return getattr(row, "__tablename__", None) in _FEEDBACK_TABLES


def _moves_timings(session: Session) -> bool:
    """Whether this flush can move a median time to triage, to acknowledge or to first
    feedback, or who was told."""
    if any(_is_feedback(row) for rows in (session.new, session.dirty, session.deleted)
           for row in rows):
        return True
    for row in session.new:
        if isinstance(row, NearMissReport) and row.triaged_at is not None:
            return True
        if _is_escalation(row) and getattr(row, "acknowledged_at", None) is not None:
            return True
    for row in session.deleted:
        if isinstance(row, NearMissReport) or _is_escalation(row):
            return True
    for row in session.dirty:
        fields = (_REPORT_TIMINGS if isinstance(row, NearMissReport) else _ESCALATION_TIMINGS
                  if _is_escalation(row) else ())
        if fields:
            state = inspect(row)
            if any(state.attrs[name].history.has_changes() for name in fields):
                return True
    return False


def new_timings_version() -> int:
    """A fresh timings version (random: see RollupState.timings_version)."""
    return secrets.randbits(62)


def timings_version(session: Session) -> int | None:
    """The timings version (RollupState.timings_version); None when the rollups are not
    built (then nothing keeps it, and nothing may be kept by it)."""
    return session.execute(select(RollupState.timings_version)
                           .where(RollupState.id == 1)).scalar()


@event.listens_for(Session, "after_flush")
def _keep_day_counts(session: Session, _flush: UOWTransaction) -> None:
    """Add a flush's report changes to the rollups and move the timings version, in the
    flush's own transaction."""
    if not any(isinstance(row, NearMissReport) or _is_escalation(row) or _is_feedback(row)
               for rows in (session.new, session.dirty, session.deleted) for row in rows):
        return
    if _moves_timings(session):
        session.connection().execute(
            RollupState.__table__.update().where(RollupState.id == 1)
            .values(timings_version=new_timings_version()))
    changes = {key: change for key, change in _changes(session).items() if change}
    if not changes:
        return
    connection = session.connection()
    zone_name = day_counts_zone(connection)
    if zone_name is None:
        return  # not built: `rebuild` will count these reports with the rest
    zone = ZoneInfo(zone_name)
    by_day: Counter[tuple[Any, ...]] = Counter()
    by_week: Counter[tuple[Any, ...]] = Counter()
    by_place: Counter[tuple[Any, ...]] = Counter()
    by_person: Counter[tuple[Any, ...]] = Counter()
    for (occurred_at, service_id, type_key, barrier, group_id, reporter_id, location_id,
         person_id), change in changes.items():
        day = to_local(occurred_at, zone).date()
        week = week_start_of(day)
        by_day[(day, service_id, type_key, barrier)] += change
        by_week[(week, service_id, type_key, group_id or NONE, reporter_id or NONE)] += change
        by_place[(week, service_id, type_key, location_id)] += change
        if person_id is not None:
            by_person[(week, service_id, person_id)] += change
    add_to_counts(connection, _TABLE, by_day)
    add_to_counts(connection, _WEEKS, by_week)
    add_to_counts(connection, _PLACES, by_place)
    add_to_counts(connection, _PEOPLE, by_person)


def _lock_reports(connection: Connection) -> None:
    """On PostgreSQL, hold off report writes while the counts are rebuilt (SQLite's write
    transaction already does)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("LOCK TABLE near_miss_reports IN SHARE MODE"))


def rebuild(engine: Engine, zone: ZoneInfo, *, now: datetime | None = None) -> int:
    """Count every report again into the rollups, for `zone`'s days, in one transaction;
    returns how many day counts there are. For after bulk loads, restores and zone changes."""
    with Session(engine) as session, session.begin():
        connection = session.connection()
        _lock_reports(connection)
        report = NearMissReport
        day = day_sql(session, report.occurred_at, zone)
        connection.execute(delete(_TABLE))
        connection.execute(insert(_TABLE).from_select(
            ["day", "service_id", "type_key", "barrier", "reports"],
            select(day, report.service_id, report.type_key, report.barrier, func.count())
            .group_by(day, report.service_id, report.type_key, report.barrier)))
        week = week_start_sql(session, report.occurred_at, zone)
        group = func.coalesce(report.staff_group_id, NONE)
        reporter = func.coalesce(report.reporter_id, NONE)
        connection.execute(delete(_WEEKS))
        connection.execute(insert(_WEEKS).from_select(
            ["week", "service_id", "type_key", "staff_group_id", "reporter_id", "reports"],
            select(week, report.service_id, report.type_key, group, reporter, func.count())
            .group_by(week, report.service_id, report.type_key, group, reporter)))
        connection.execute(delete(_PLACES))
        connection.execute(insert(_PLACES).from_select(
            ["week", "service_id", "type_key", "location_id", "reports"],
            select(week, report.service_id, report.type_key, report.location_id, func.count())
            .group_by(week, report.service_id, report.type_key, report.location_id)))
        connection.execute(delete(_PEOPLE))
        connection.execute(insert(_PEOPLE).from_select(
            ["week", "service_id", "person_id", "reports"],
            select(week, report.service_id, report.person_id, func.count())
            .where(report.person_id.is_not(None))
            .group_by(week, report.service_id, report.person_id)))
        state = RollupState.__table__
        connection.execute(delete(state))
        connection.execute(insert(state).values(
            id=1, zone=zone.key, built_at=now or utcnow(),
            timings_version=new_timings_version()))
        return connection.execute(select(func.count()).select_from(_TABLE)).scalar_one()


def ensure_built(engine: Engine, zone: ZoneInfo) -> bool:
    """Build the rollups unless they are built for `zone` already; True if it built them."""
    with engine.connect() as connection:
        if day_counts_zone(connection) == zone.key:
            return False
    rebuild(engine, zone)
    return True


def counted_days(session: Session) -> dict[tuple[date, int, str, str], int]:
    """Every non-zero day count (for checks that the counts equal the reports)."""
    rows = session.execute(select(_TABLE.c.day, _TABLE.c.service_id, _TABLE.c.type_key,
                                  _TABLE.c.barrier, _TABLE.c.reports)
                           .where(_TABLE.c.reports != 0))
    return {(as_date(d), s, t, b): n for d, s, t, b, n in rows}


def _non_zero(session: Session, table: Table) -> dict[tuple[Any, ...], int]:
    """A week rollup's non-zero rows, keyed by their week (as a date) and other keys."""
    return {(as_date(week), *keys): n for week, *keys, n in
            session.execute(select(table).where(table.c.reports != 0))}


def counted_weeks(session: Session) -> dict[tuple[date, int, str, int, int], int]:
    """Every non-zero reporter week (for checks that the counts equal the reports)."""
    return _non_zero(session, _WEEKS)  # type: ignore[return-value]


def counted_place_weeks(session: Session) -> dict[tuple[date, int, str, int], int]:
    """Every non-zero place week (for checks that the counts equal the reports)."""
    return _non_zero(session, _PLACES)  # type: ignore[return-value]


def counted_person_weeks(session: Session) -> dict[tuple[date, int, int], int]:
    """Every non-zero person week (for checks that the counts equal the reports)."""
    return _non_zero(session, _PEOPLE)  # type: ignore[return-value]


def _narrowed(query: Select, table: Table, service_sets: Iterable[tuple[int, ...] | None],
              type_keys: tuple[str, ...]) -> Select:
    """`query` on a rollup narrowed to each of `service_sets` that is not None, and to
    `type_keys` if any."""
    for services in service_sets:
        if services is not None:
            query = query.where(table.c.service_id.in_(services))
    if type_keys:
        query = query.where(table.c.type_key.in_(type_keys))
    return query


def by_week(day_counts: Iterable[tuple[date, int]]) -> dict[date, int]:
    """(day, count) rows summed by their week's Monday."""
    weeks: dict[date, int] = {}
    for day, n in day_counts:
        weeks[week_start_of(day)] = weeks.get(week_start_of(day), 0) + n
    return weeks


def reporter_week_rows(session: Session, *, start: date, end: date,
                       service_sets: Iterable[tuple[int, ...] | None] = (),
                       type_keys: tuple[str, ...] = ()) -> list[tuple[date, int, int, int]]:
    """(week, staff group, reporter, reports) over the weeks in [start, end) (both Mondays),
    summed over services and types; the staff group and reporter None where not recorded
    and anonymous. Narrowed as `day_count_rows` narrows."""
    group, reporter = _WEEKS.c.staff_group_id, _WEEKS.c.reporter_id
    query = _narrowed(select(_WEEKS.c.week, group, reporter, func.sum(_WEEKS.c.reports)).where(
        _WEEKS.c.week >= start, _WEEKS.c.week < end), _WEEKS, service_sets, type_keys)
    return [(week, group_id or None, reporter_id or None, n) for week, group_id, reporter_id, n
            in session.execute(query.group_by(_WEEKS.c.week, group, reporter)) if n]


def repeat_week_rows(session: Session, kind: str, *, start: date, end: date,
                     service_sets: Iterable[tuple[int, ...] | None] = (),
                     type_keys: tuple[str, ...] = ()) -> list[tuple[int, int]]:
    """(place or person, reports) over the weeks in [start, end) (both Mondays), from the
    place weeks (`kind` "location") or the person weeks ("person": not by type, so
    `type_keys` must be empty). Narrowed as `day_count_rows` narrows."""
    table, column = ((_PLACES, _PLACES.c.location_id) if kind == "location"
                     else (_PEOPLE, _PEOPLE.c.person_id))
    if type_keys and kind != "location":
        raise ValueError("the person weeks are not kept by type")
    query = _narrowed(select(column, func.sum(table.c.reports)).where(
        table.c.week >= start, table.c.week < end), table, service_sets, type_keys)
    return [(key, n) for key, n in session.execute(query.group_by(column)) if n]


def day_count_sums(session: Session,
                   spans: Sequence[tuple[date, date, tuple[int, ...] | None, tuple[str, ...]]],
                   ) -> list[int]:
    """Near misses on local days in [start, end) for each (start, end, services, types): the
    services None (or empty types) for all. A hundred spans to a statement
    (`core.db.union_rows`): the commissioner's register asked a statement per span, 3,138
    round trips at a million reports."""
    sums = {int(i): int(n or 0) for i, n in union_rows(session, (
        _narrowed(select(literal(i).label("span"), func.sum(_TABLE.c.reports))
                  .where(_TABLE.c.day >= start, _TABLE.c.day < end),
                  _TABLE, (services,), type_keys)
        for i, (start, end, services, type_keys) in enumerate(spans)))}
    return [sums.get(i, 0) for i in range(len(spans))]


def day_count_rows_by_key(session: Session,
                          spans: Mapping[tuple[str, int], tuple[date, date]],
                          ) -> list[tuple[str, int, date, int]]:
    """(type, service, day, near misses) for each (type, service) of `spans` on its own local
    days [start, end), a hundred keys to a statement (`core.db.union_rows`), each key a
    search of the (type, service, day) index. The evidence per action needs a type in a
    service or two around each go-live: read over every type and service from the first
    window to the last, the day counts gave twice the rows (14,897 against 7,572 at 100k
    reports)."""
    columns = (_TABLE.c.type_key, _TABLE.c.service_id, _TABLE.c.day)
    return [(type_key, service_id, day, n) for type_key, service_id, day, n in union_rows(
        session, (select(*columns, func.sum(_TABLE.c.reports))
                  .where(_TABLE.c.type_key == type_key, _TABLE.c.service_id == service_id,
                         _TABLE.c.day >= start, _TABLE.c.day < end)
                  .group_by(*columns)
                  for (type_key, service_id), (start, end) in spans.items())) if n]


def day_count_stretch_sums(session: Session,
                           edges: Mapping[tuple[str, int], Iterable[date]],
                           ) -> list[tuple[str, int, date, int]]:
    """(type, service, first day, near misses) for each (type, service) of `edges` and each
    stretch of local days [one edge, the next) between its edges in order; stretches with none
    are left out. Each stretch is a sum over the (type, service, day) index, a hundred to a
    statement. The evidence per action asks only for windows between such edges (a go-live
    and a window's ends): on SQLite its day rows, 7,572 at 100k reports, took longer to hand
    to Python than to find, and 420 sums answer. PostgreSQL plans each term: there the day
    rows are quicker (`core.actions.measures._day_counts_around`)."""
    stretches = [(type_key, service_id, start, end)
                 for (type_key, service_id), days in edges.items()
                 for start, end in pairwise(sorted(set(days)))]
    found: list[tuple[str, int, date, int]] = []
    for first in range(0, len(stretches), UNION_TERMS_PER_STATEMENT):
        batch = stretches[first:first + UNION_TERMS_PER_STATEMENT]
        asked = {f"{name}_{i}": value for i, stretch in enumerate(batch)
                 for name, value in zip(("type", "service", "start", "end"), stretch,
                                        strict=True)}
        for i, n in session.execute(_stretch_sums(len(batch)), asked):
            if n:
                type_key, service_id, start, _end = batch[i]
                found.append((type_key, service_id, start, int(n)))
    return found


@cache
def _stretch_sums(terms: int) -> TextClause:
    """The statement of `day_count_stretch_sums` for `terms` stretches, written once per
    size: built as SQLAlchemy selects, 420 stretches took about 40 ms to build, against 3 ms
    to run. Only numbers the code makes and the table's own names go into its text."""
    return text(" UNION ALL ".join(
        f"SELECT {i} AS stretch, sum(reports) FROM {_TABLE.name} WHERE type_key = :type_{i} "
        f"AND service_id = :service_{i} AND day >= :start_{i} AND day < :end_{i}"
        for i in range(terms))).bindparams(*(
            bindparam(f"{name}_{i}", type_=Date()) for i in range(terms)
            for name in ("start", "end")))


def service_sums(session: Session, type_key: str, services: Iterable[int],
                 spans: Sequence[tuple[date, date]]) -> dict[int, list[int]]:
    """Near misses of a type on local days in each [start, end) of `spans`, by service (a
    service with none in any is left out), in one statement: the cluster check of a filing
    asked a statement a span, four a filing at a million reports. The rows take the time, not
    the round trips: a year of one type's day counts in every service, 8,209 rows, 4.8 ms."""
    kept = [(start, end) for start, end in spans if start < end]
    if not kept:
        return {}
    day = _TABLE.c.day
    query = (select(_TABLE.c.service_id,
                    *(func.sum(case((and_(day >= start, day < end), _TABLE.c.reports), else_=0))
                      for start, end in spans))
             .where(_TABLE.c.type_key == type_key, _TABLE.c.service_id.in_(list(services)),
                    day >= min(start for start, _ in kept), day < max(end for _, end in kept))
             .group_by(_TABLE.c.service_id))
    return {service_id: [int(n or 0) for n in sums]
            for service_id, *sums in session.execute(query)}


def day_count_rows(session: Session, group_by: tuple[str, ...], *, start: date, end: date,
                   service_sets: Iterable[tuple[int, ...] | None] = (),
                   type_keys: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Near misses on local days in [start, end), summed by `group_by` (of day, service_id,
    type_key, barrier; each row those columns then the count). Each of `service_sets` that is
    not None narrows to its services (the viewer's, the slice's); `type_keys` to those types."""
    columns = [_TABLE.c[name] for name in group_by]
    query = _narrowed(select(*columns, func.sum(_TABLE.c.reports)).where(
        _TABLE.c.day >= start, _TABLE.c.day < end), _TABLE, service_sets, type_keys)
    # The day column is typed: either database gives dates, and the sums integers.
    return [tuple(row) for row in session.execute(query.group_by(*columns)) if row[-1]]
