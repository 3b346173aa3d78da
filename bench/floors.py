"""Honest floors for the scale bench: the SQL each governance, commissioner and board page needs.

Each function here issues hand-written SQL (`text()`, one text per dialect where they differ)
and returns the figures its page shows, for the same actor scope (the services the actor may
see), period and filters, as plain numbers: the same numbers, not the same Python objects.
bench/scale.py times a page against its floor; tests/integration/test_bench_floors.py checks on
SQLite and PostgreSQL that each floor returns what the page's view functions return, so a floor
cannot quietly do less work than the page.

Where a page computes a figure in Python from rows (control limits from weekly counts, the
suppression of small counts, a pseudonym's HMAC, the best of some action statuses), the floor
returns the rows that computation needs and says so in a comment: the pure function is the
same either way and costs microseconds.

Local time: timestamps are stored as naive UTC. PostgreSQL converts them with the zone's rules;
SQLite shifts each by the offset in force at that moment (the zone's daylight-saving changes
as a CASE, as core.weeks does), since it knows no zones.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime, bindparam, text
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.clock import to_local
from core.config import Settings
from core.weeks import local_midnight_utc, offset_changes, week_start_of

# The board's columns (core.reports.workflow.BOARD_COLUMNS), its page size
# (pages/triage_board.py PAGE_SIZE) and the references it names per cluster
# (core.views.triage_board.BOARD_CLUSTER_REFERENCES).
BOARD_STATUSES = ("new", "triaged", "in_review", "actions", "validating")
BOARD_PAGE_SIZE = 8
BOARD_CLUSTER_REFERENCES = 6
BOARD_REGULATOR_PAGE_SIZE = 8  # ui/regulator.py BOARD_PAGE_SIZE
OPEN_ACTION = ("planned", "in_progress", "in_test")


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _rows(session: Session, sql: str, **params: Any) -> list[Any]:
    """Run hand-written SQL; datetimes, dates and tuples get their bind types (a tuple is an
    IN list) so both drivers store and compare them as the ORM does."""
    binds = []
    for name, value in params.items():
        if isinstance(value, tuple):
            binds.append(bindparam(name, expanding=True))
        elif isinstance(value, datetime):
            binds.append(bindparam(name, type_=DateTime()))
        elif isinstance(value, date):
            binds.append(bindparam(name, type_=Date()))
    return list(session.execute(text(sql).bindparams(*binds), params).all())


def local(session: Session, column: str, zone: ZoneInfo) -> str:
    """SQL text for a stored (naive UTC) timestamp column as naive local time."""
    if _dialect(session) == "postgresql":
        return f"timezone('{zone.key}', timezone('UTC', {column}))"
    changes = offset_changes(zone, datetime.now(UTC).year + 2)
    if len(changes) == 1:
        return f"datetime({column}, '{changes[0][1]:+d} minutes')"
    whens = " ".join(f"WHEN {column} >= '{start:%Y-%m-%d %H:%M:%S}' THEN '{minutes:+d} minutes'"
                     for start, minutes in reversed(changes[1:]))
    return f"datetime({column}, CASE {whens} ELSE '{changes[0][1]:+d} minutes' END)"


def local_week(session: Session, column: str, zone: ZoneInfo) -> str:
    """SQL text for the local Monday of a stored timestamp."""
    if _dialect(session) == "postgresql":
        return f"CAST(date_trunc('week', {local(session, column, zone)}) AS date)"
    return f"date({local(session, column, zone)}, 'weekday 0', '-6 days')"


def local_day(session: Session, column: str, zone: ZoneInfo) -> str:
    if _dialect(session) == "postgresql":
        return f"CAST({local(session, column, zone)} AS date)"
    return f"date({local(session, column, zone)})"


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _at(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _hours(session: Session, start: str, end: str) -> str:
    if _dialect(session) == "postgresql":
        return f"date_part('epoch', {end} - {start}) / 3600.0"  # a double, not a numeric
    return f"(julianday({end}) - julianday({start})) * 24.0"


def scope_where(actor: Actor | None, start: date, end: date, zone: ZoneInfo, *,
                service_ids: tuple[int, ...] = (), type_keys: tuple[str, ...] = (),
                alias: str = "r") -> tuple[str, dict[str, Any]]:
    """The WHERE of a governance scope: the local period, the actor's services (None: the
    provider's own view, as a commissioner's figures are), the chosen services and types."""
    sql = f"{alias}.occurred_at >= :start AND {alias}.occurred_at < :end"
    params: dict[str, Any] = {"start": local_midnight_utc(start, zone),
                              "end": local_midnight_utc(end, zone)}
    if actor is not None and actor.service_ids is not None:
        sql += f" AND {alias}.service_id IN :actor_services"
        params["actor_services"] = tuple(actor.service_ids) or (-1,)
    if service_ids:
        sql += f" AND {alias}.service_id IN :scope_services"
        params["scope_services"] = tuple(service_ids)
    if type_keys:
        sql += f" AND {alias}.type_key IN :scope_types"
        params["scope_types"] = tuple(type_keys)
    return sql, params


# -- the triage board ------------------------------------------------------------------------


def triage_board(session: Session, actor: Actor, *, now: datetime, rules: Settings,
                 interface_types: tuple[str, ...] = ("interface_failure",),
                 page_size: int = BOARD_PAGE_SIZE,
                 regulator_open: bool | None = None,
                 clusters_open: bool = False) -> dict[str, Any]:
    """pages/triage_board.py for `actor`, filters at their defaults: the columns (counts and
    the first page of cards, most urgent first), each card's regulator clocks, the regulator
    section and the cluster section (the episodes of the last six weeks). The regulator
    section shows its events only when open (`regulator_open`; None: as the page opens, by
    itself only when a clock is overdue), its totals always; the cluster section its
    episodes only when open (`clusters_open`; it opens closed), how many are open and how
    many in all always."""
    columns = board_columns(session, actor, now=now, interface_types=interface_types,
                            page_size=page_size)
    shown = [reference for cards in columns["cards"].values() for reference, *_ in cards]
    today = to_local(now, rules.zone).date()
    regulator = regulator_section(session, actor, now=now, rules=rules,
                                  limit=BOARD_REGULATOR_PAGE_SIZE, details=bool(regulator_open))
    if regulator_open is None and regulator["overdue"]:
        regulator = regulator_section(session, actor, now=now, rules=rules,
                                      limit=BOARD_REGULATOR_PAGE_SIZE)
    return {**columns, "card_clocks": running_clocks(session, actor, shown),
            "regulator": regulator,
            "cluster_totals": cluster_totals(session, actor, today - timedelta(days=42)),
            "clusters": clusters(session, actor, today - timedelta(days=42),
                                 today + timedelta(days=1), rules.zone,
                                 latest=BOARD_CLUSTER_REFERENCES) if clusters_open else []}


def cluster_totals(session: Session, actor: Actor, start: date) -> tuple[int, int]:
    """The board's cluster section title: of the episodes that fired since `start` among the
    actor's services (a region's when the actor sees one of its services), how many are
    open, and how many in all."""
    params: dict[str, Any] = {"start": start}
    seen = ""
    if actor.service_ids is not None:
        seen = "AND s.id IN :actor_services"
        params["actor_services"] = tuple(actor.service_ids) or (-1,)
    [(waiting, total)] = _rows(session, f"""
        SELECT COALESCE(SUM(CASE WHEN e.status = 'open' THEN 1 ELSE 0 END), 0), COUNT(*)
        FROM cluster_episodes e
        WHERE e.part_of_id IS NULL AND e.last_day >= :start AND EXISTS (
            SELECT 1 FROM services s
            WHERE ((e.scope = 'region' AND s.region_id = e.region_id)
                   OR (e.scope <> 'region' AND s.id = e.service_id)) {seen})""", **params)
    return int(waiting), int(total)


def board_columns(session: Session, actor: Actor, *, now: datetime,
                  interface_types: tuple[str, ...] = ("interface_failure",),
                  page_size: int = BOARD_PAGE_SIZE) -> dict[str, Any]:
    """The board's columns: counts per column and the first page of cards, most urgent
    first, in one pass with window functions: each card as the page draws it (reference,
    urgency, flags, type, service, place, when reported, severity, language)."""
    where = "r.status IN :statuses"
    params: dict[str, Any] = {"statuses": BOARD_STATUSES, "now": now,
                              "interface_types": interface_types or ("",),
                              "page_size": page_size}
    if actor.service_ids is not None:
        where += " AND r.service_id IN :actor_services"
        params["actor_services"] = tuple(actor.service_ids) or (-1,)
    overdue = ("EXISTS (SELECT 1 FROM escalations e WHERE e.report_id = r.id "
               "AND e.acknowledged_at IS NULL AND e.due_at < :now)")
    # The names are joined for the page's cards alone, after ranking (as the page does).
    sql = f"""
        WITH flagged AS (
            SELECT r.id, r.status, r.reported_at, r.severity,
                   {overdue} AS escalation_overdue,
                   r.still_at_risk, r.safeguarding, r.stop_the_line,
                   r.in_cluster AS cluster, r.is_repeat AS repeat
            FROM near_miss_reports r
            WHERE {where}),
        ranked AS (
            SELECT f.*,
                   CASE WHEN f.escalation_overdue OR (f.still_at_risk AND f.status = 'new')
                          THEN 0
                        WHEN f.safeguarding OR f.stop_the_line THEN 1
                        WHEN f.severity = 'high' OR f.cluster THEN 2
                        WHEN f.repeat OR f.severity = 'medium' THEN 3
                        ELSE 4 END AS urgency
            FROM flagged f),
        ordered AS (
            SELECT ranked.*,
                   ROW_NUMBER() OVER (PARTITION BY status
                                      ORDER BY urgency, reported_at, id) AS place,
                   COUNT(*) OVER (PARTITION BY status) AS in_column
            FROM ranked)
        SELECT o.status, o.in_column, r.reference, o.urgency, o.escalation_overdue,
               o.still_at_risk, o.safeguarding, o.stop_the_line,
               (r.interface_flag IS NOT NULL OR r.type_key IN :interface_types) AS interface,
               o.cluster, o.repeat,
               t.name AS type_name, s.name AS service, l.name AS location, o.reported_at,
               o.severity, r.language
        FROM ordered o
        JOIN near_miss_reports r ON r.id = o.id
        JOIN near_miss_types t ON t.key = r.type_key
        JOIN services s ON s.id = r.service_id
        JOIN locations l ON l.id = r.location_id
        WHERE o.place <= :page_size
        ORDER BY o.status, o.place"""
    counts = dict.fromkeys(BOARD_STATUSES, 0)
    cards: dict[str, list[tuple[Any, ...]]] = {s: [] for s in BOARD_STATUSES}
    names = ("escalation_overdue", "still_at_risk", "safeguarding", "stop_the_line",
             "interface", "cluster", "repeat")
    for row in _rows(session, sql, **params):
        counts[row[0]] = int(row[1])
        flags = tuple(name for name, on in zip(names, row[4:11], strict=True) if on)
        type_name, service, location, reported, severity, language = row[11:]
        cards[row[0]].append((row[2], int(row[3]), flags, type_name, service, location,
                              _at(reported), severity, language))
    return {"counts": counts, "cards": cards}



def running_clocks(session: Session, actor: Actor,
                   references: list[str]) -> dict[str, tuple[tuple[str, datetime], ...]]:
    """The board cards' running regulator clocks, by reference (a card with none left out):
    ((clock key, due), ...) in the order they were started. The page words each clock's state
    and time left from these and the minute (core.regulator.clocks, pure)."""
    if not references:
        return {}
    where = "r.reference IN :references AND c.met_at IS NULL AND c.withdrawn_at IS NULL"
    params: dict[str, Any] = {"references": tuple(references)}
    if actor.service_ids is not None:
        where += " AND r.service_id IN :actor_services"
        params["actor_services"] = tuple(actor.service_ids) or (-1,)
    found: dict[str, list[tuple[str, datetime]]] = {}
    for reference, key, due in _rows(session, f"""
            SELECT r.reference, c.key, c.due_at
            FROM regulator_clocks c JOIN near_miss_reports r ON r.id = c.report_id
            WHERE {where} ORDER BY c.id""", **params):
        found.setdefault(reference, []).append((key, _at(due)))
    return {reference: tuple(clocks) for reference, clocks in found.items()}


def regulator_clocks(session: Session, actor: Actor, references: list[str], *,
                     now: datetime) -> dict[str, tuple[Any, ...]]:
    """Each report's decision on reporting to the regulator and its clocks, by reference:
    (reportable or None, ((clock key, due, met, withdrawn), ...)). The page words each
    clock's state and time left from these and `now` (core.regulator.clocks, pure)."""
    if not references:
        return {}
    where = "r.reference IN :references"
    params: dict[str, Any] = {"references": tuple(references)}
    if actor.service_ids is not None:
        where += " AND r.service_id IN :actor_services"
        params["actor_services"] = tuple(actor.service_ids) or (-1,)
    found: dict[str, tuple[Any, list[tuple[Any, ...]]]] = {}
    for reference, reportable, key, due, met, withdrawn in _rows(session, f"""
            SELECT r.reference, d.reportable, c.key, c.due_at, c.met_at, c.withdrawn_at
            FROM near_miss_reports r
            LEFT JOIN regulator_decisions d ON d.report_id = r.id
            LEFT JOIN regulator_clocks c ON c.report_id = r.id
            WHERE {where} ORDER BY r.reference, c.id""", **params):
        decision = None if reportable is None else bool(reportable)
        clocks = found.setdefault(reference, (decision, []))[1]
        if key is not None:
            clocks.append((key, _at(due), met and _at(met), withdrawn and _at(withdrawn)))
    return {ref: (decision, tuple(clocks)) for ref, (decision, clocks) in found.items()}


def regulator_section(session: Session, actor: Actor, *, now: datetime, rules: Settings,
                      limit: int = 50, details: bool = True) -> dict[str, Any]:
    """The board's regulator section: candidates of the last `window_days` with no decision
    (oldest first) and events with a clock running (soonest deadline first), the first
    `limit` of each with how many in all and the running clocks overdue; each with its
    type, service, escalation kinds and clocks (the reasons it is a candidate and the
    clocks' wording follow from these in Python, core.regulator.candidates/clocks). Without
    `details` (a closed section), the totals only."""
    wanted = rules.regulator.candidates
    reasons, params = [], {"since": now - timedelta(days=wanted.window_days), "limit": limit}
    if wanted.escalation_kinds:
        reasons.append("EXISTS (SELECT 1 FROM escalations e WHERE e.report_id = r.id "
                       "AND e.kind IN :kinds)")
        params["kinds"] = tuple(wanted.escalation_kinds)
    if wanted.type_keys:
        reasons.append("r.type_key IN :types")
        params["types"] = tuple(wanted.type_keys)
    if wanted.harm_reached:
        reasons.append("r.status = 'reclassified'")
    if wanted.still_at_risk:
        reasons.append("r.still_at_risk")
    seen = ""
    if actor.service_ids is not None:
        seen = "AND r.service_id IN :actor_services"
        params["actor_services"] = tuple(actor.service_ids) or (-1,)
    # The first page of each list, and how many there are in all (COUNT(*) OVER ()).
    awaiting_rows = _rows(session, f"""
        SELECT r.reference, COUNT(*) OVER () FROM near_miss_reports r
        WHERE ({' OR '.join(reasons) or '1 = 0'}) {seen}
          AND NOT EXISTS (SELECT 1 FROM regulator_decisions d WHERE d.report_id = r.id)
          AND r.reported_at >= :since
        ORDER BY r.reported_at, r.id LIMIT :limit""", **params)
    params.pop("since")
    for unused in ("kinds", "types"):
        params.pop(unused, None)
    running_rows = _rows(session, f"""
        SELECT r.reference, COUNT(*) OVER () FROM regulator_clocks c
        JOIN near_miss_reports r ON r.id = c.report_id
        WHERE c.met_at IS NULL AND c.withdrawn_at IS NULL {seen}
        GROUP BY r.id, r.reference ORDER BY MIN(c.due_at), r.id LIMIT :limit""", **params)
    overdue = _rows(session, f"""
        SELECT COUNT(*) FROM regulator_clocks c JOIN near_miss_reports r ON r.id = c.report_id
        WHERE c.met_at IS NULL AND c.withdrawn_at IS NULL AND c.due_at < :now {seen}""",
                    now=now, **{k: v for k, v in params.items() if k != "limit"})[0][0]
    awaiting = [ref for ref, _ in awaiting_rows] if details else []
    running = [ref for ref, _ in running_rows] if details else []
    facts = {}
    wanted_refs = tuple(dict.fromkeys(awaiting + running))
    if wanted_refs:
        aggregate = ("STRING_AGG(DISTINCT e.kind, ',')" if _dialect(session) == "postgresql"
                     else "GROUP_CONCAT(DISTINCT e.kind)")
        facts = {ref: (type_name, service, frozenset((kinds or "").split(",")) - {""})
                   for ref, type_name, service, kinds in _rows(session, f"""
            SELECT r.reference, t.name, s.name,
                   (SELECT {aggregate} FROM escalations e WHERE e.report_id = r.id)
            FROM near_miss_reports r JOIN near_miss_types t ON t.key = r.type_key
            JOIN services s ON s.id = r.service_id
            WHERE r.reference IN :refs""", refs=wanted_refs)}
    clocks = regulator_clocks(session, actor, list(wanted_refs), now=now)
    return {"awaiting": [(ref, *facts[ref], clocks[ref]) for ref in awaiting],
            "running": [(ref, *facts[ref], clocks[ref]) for ref in running],
            "awaiting_total": awaiting_rows[0][1] if awaiting_rows else 0,
            "running_total": running_rows[0][1] if running_rows else 0,
            "overdue": overdue}

# -- governance pages ------------------------------------------------------------------------


def weekly_counts(session: Session, actor: Actor | None, start: date, end: date,
                  zone: ZoneInfo, **narrow: Any) -> dict[date, int]:
    """Near misses per local week of [start, end), every week present. The zero weeks are
    filled in Python from the period (the page's series does the same)."""
    where, params = scope_where(actor, start, end, zone, **narrow)
    week = local_week(session, "r.occurred_at", zone)
    found = {_day(w): int(n) for w, n in _rows(
        session, f"SELECT {week} AS week, COUNT(*) FROM near_miss_reports r "
                 f"WHERE {where} GROUP BY week", **params)}
    weeks, monday = {}, week_start_of(start)
    while monday < end:
        weeks[monday] = found.get(monday, 0)
        monday += timedelta(days=7)
    return weeks


def control_rows(session: Session, start: date, end: date, service_ids: tuple[int, ...] | None,
                 *, scope_services: tuple[int, ...] = (), type_keys: tuple[str, ...] = (),
                 limit: int | None = 12) -> tuple[list[tuple[date, str, str, str, int]], int]:
    """Actions that went live in [start, end) relevant to the slice, best evidenced first
    (most linked reports, then the later go-live), at most `limit`, and how many in all."""
    where = "a.go_live_date IS NOT NULL AND a.go_live_date >= :start AND a.go_live_date < :end"
    params: dict[str, Any] = {"start": start, "end": end}
    for name, services in (("viewer", service_ids), ("chosen", scope_services or None)):
        if services is not None:
            where += f" AND (a.service_id IN :{name} OR a.service_id IS NULL)"
            params[name] = tuple(services) or (-1,)
    if type_keys:
        where += (" AND (EXISTS (SELECT 1 FROM action_plan_reports x JOIN near_miss_reports r "
                  "ON r.id = x.report_id WHERE x.plan_id = a.plan_id AND r.type_key IN :types)"
                  " OR p.cluster_type_key IN :types)")
        params["types"] = tuple(type_keys)
    rows = _rows(session, f"""
        SELECT a.go_live_date, a.title, p.title, a.strength_category,
               COALESCE(linked.reports, 0) AS reports, COUNT(*) OVER () AS total
        FROM actions a JOIN action_plans p ON p.id = a.plan_id
        LEFT JOIN (SELECT plan_id, COUNT(*) AS reports FROM action_plan_reports
                   GROUP BY plan_id) linked ON linked.plan_id = a.plan_id
        WHERE {where}
        ORDER BY reports DESC, a.go_live_date DESC
        {'' if limit is None else f'LIMIT {int(limit)}'}""", **params)
    total = int(rows[0][5]) if rows else 0
    return [(_day(d), t, p, k, int(n)) for d, t, p, k, n, _ in rows], total


def trends(session: Session, actor: Actor, start: date, end: date, zone: ZoneInfo,
           **narrow: Any) -> dict[str, Any]:
    """pages/governance.py: the weekly series (its SPC limits are computed from it in Python,
    core.spc, by the page and the bench alike) and the controls marked on the chart."""
    marks, total = control_rows(session, start, end, actor.service_ids,
                                scope_services=narrow.get("service_ids", ()),
                                type_keys=narrow.get("type_keys", ()))
    return {"weekly": weekly_counts(session, actor, start, end, zone, **narrow),
            "go_lives": sorted((d, f"{t} ({p})") for d, t, p, _k, _n in marks),
            "controls_live": total}


def breakdown_by_type(session: Session, actor: Actor, start: date, end: date,
                      zone: ZoneInfo, **narrow: Any) -> dict[str, int]:
    """pages/governance_breakdowns.py by type: near misses per type name."""
    where, params = scope_where(actor, start, end, zone, **narrow)
    return {name: int(n) for name, n in _rows(session, f"""
        SELECT t.name, COUNT(*) FROM near_miss_reports r
        JOIN near_miss_types t ON t.key = r.type_key
        WHERE {where} GROUP BY t.name ORDER BY COUNT(*) DESC""", **params)}


def repeats(session: Session, actor: Actor, start: date, end: date, zone: ZoneInfo, *,
            minimum: int = 3, limit: int = 20, **narrow: Any) -> list[tuple[Any, ...]]:
    """pages/governance_clusters.py's repeats: (kind, key or label, count, last, statuses).

    A person's key is their id: the page shows an HMAC pseudonym of it and the best of the
    action statuses, both pure functions applied in Python by the bench and the test."""
    where, params = scope_where(actor, start, end, zone, **narrow)
    params.update(minimum=minimum, limit=limit)
    groups = {
        "person": ("CAST(r.person_id AS TEXT)", "", "r.person_id"),
        "location": ("s.name || ' · ' || l.name",
                     "JOIN locations l ON l.id = r.location_id JOIN services s ON "
                     "s.id = l.service_id", "r.location_id"),
        "type": ("t.name", "JOIN near_miss_types t ON t.key = r.type_key", "r.type_key")}
    aggregate = ("STRING_AGG(DISTINCT a.status, ',')" if _dialect(session) == "postgresql"
                 else "GROUP_CONCAT(DISTINCT a.status)")
    found: list[tuple[Any, ...]] = []
    for kind, (label, join, column) in groups.items():
        # The action statuses only for the few groups shown: a correlated subquery on every
        # group before the LIMIT read the period's reports once per group.
        rows = _rows(session, f"""
            WITH top AS (
                SELECT {column} AS k, {label} AS label, COUNT(*) AS reports,
                       MAX(r.occurred_at) AS last
                FROM near_miss_reports r {join}
                WHERE {where} AND {column} IS NOT NULL
                GROUP BY {column}, {label}
                HAVING COUNT(*) >= :minimum ORDER BY COUNT(*) DESC, {column} LIMIT :limit)
            SELECT top.label, top.reports, top.last,
                   (SELECT {aggregate}
                    FROM near_miss_reports r2
                    JOIN action_plan_reports x ON x.report_id = r2.id
                    JOIN actions a ON a.plan_id = x.plan_id
                    WHERE {where.replace('r.', 'r2.')}
                      AND r2.{column.split('.')[1]} = top.k) AS statuses
            FROM top ORDER BY top.reports DESC, top.k""", **params)
        found += [(kind, label, int(n), _at(last),
                   frozenset((statuses or "").split(",")) - {""})
                  for label, n, last, statuses in rows]
    return found


def clusters(session: Session, actor: Actor | None, start: date, end: date,
             zone: ZoneInfo, *, latest: int = 0) -> list[tuple[Any, ...]]:
    """pages/governance_clusters.py's cluster review: episodes that fired in [start, end)
    among the actor's services (a region's counts the region's services the actor sees),
    open ones first, each the latest first: (episode id, status, type name, place name,
    scope, first day, last day, peak, usual, reports, action statuses). The page shows the
    best of the statuses (a pure function) and the usual count to one decimal. With `latest`
    (the triage board names a few), the references of the newest `latest` reports, newest
    first, follow."""
    params: dict[str, Any] = {"start": start, "end": end}
    seen = ""
    if actor is not None and actor.service_ids is not None:
        seen = "AND s.id IN :actor_services"
        params["actor_services"] = tuple(actor.service_ids) or (-1,)
    day = local_day(session, "r.occurred_at", zone)
    postgresql = _dialect(session) == "postgresql"
    # A day either side of the episode's local days, in stored time, lets the index narrow
    # the reports; the local date decides. CROSS JOIN keeps SQLite from putting the reports
    # outermost (it scanned all of them: 470 ms at 100k); PostgreSQL plans it as a join.
    near = ("r.occurred_at >= e.first_day - 1 AND r.occurred_at < e.last_day + 2"
            if postgresql else
            "r.occurred_at >= date(e.first_day, '-1 day') "
            "AND r.occurred_at < date(e.last_day, '+2 days')")
    statuses = ("STRING_AGG(DISTINCT status, ',')" if postgresql
                else "GROUP_CONCAT(DISTINCT status)")
    newest = ("STRING_AGG(CASE WHEN nth <= :latest THEN reference END, ',' ORDER BY nth)"
              if postgresql else  # SQLite concatenates in the order its subquery gives
              "GROUP_CONCAT(CASE WHEN nth <= :latest THEN reference END)")
    params["latest"] = latest
    listed = (f"SELECT episode_id, COUNT(*) AS n, {newest} AS refs FROM ("
              "SELECT episode_id, reference, ROW_NUMBER() OVER (PARTITION BY episode_id "
              "ORDER BY occurred_at DESC, id DESC) AS nth FROM hits ORDER BY episode_id, nth) "
              "AS ranked GROUP BY episode_id")
    rows = _rows(session, f"""
        WITH episodes AS (
            SELECT * FROM cluster_episodes
            WHERE part_of_id IS NULL AND last_day >= :start AND opened_on < :end),
        members AS (
            SELECT e.id AS episode_id, s.id AS service_id
            FROM episodes e JOIN services s
              ON (e.scope = 'region' AND s.region_id = e.region_id)
              OR (e.scope <> 'region' AND s.id = e.service_id)
            WHERE 1 = 1 {seen}),
        hits AS (
            SELECT m.episode_id, r.id, r.reference, r.occurred_at
            FROM members m JOIN episodes e ON e.id = m.episode_id
            CROSS JOIN near_miss_reports r
            WHERE r.service_id = m.service_id AND r.type_key = e.type_key AND {near}
              AND {day} >= e.first_day AND {day} <= e.last_day),
        statuses AS (
            SELECT h.episode_id, a.status FROM hits h
            JOIN action_plan_reports x ON x.report_id = h.id
            JOIN actions a ON a.plan_id = x.plan_id
            UNION
            SELECT e.id, a.status FROM episodes e JOIN actions a ON a.plan_id = e.plan_id),
        listed AS ({listed}),
        summed AS (SELECT episode_id, {statuses} AS statuses FROM statuses
                   GROUP BY episode_id)
        SELECT e.id, e.status, t.name,
               CASE WHEN e.scope = 'region' THEN g.name ELSE sv.name END,
               e.scope, e.first_day, e.last_day, e.peak, e.usual, listed.n, summed.statuses,
               listed.refs
        FROM episodes e JOIN near_miss_types t ON t.key = e.type_key
        LEFT JOIN regions g ON g.id = e.region_id LEFT JOIN services sv ON sv.id = e.service_id
        LEFT JOIN listed ON listed.episode_id = e.id
        LEFT JOIN summed ON summed.episode_id = e.id
        WHERE e.id IN (SELECT episode_id FROM members)
        ORDER BY CASE e.status WHEN 'open' THEN 0 WHEN 'acknowledged' THEN 1
                               WHEN 'linked' THEN 2 ELSE 3 END,
                 e.last_day DESC, e.peak DESC""", **params)
    return [(int(i), status, name, place, scope, _day(first), _day(last), int(peak),
             round(float(usual), 1), int(n or 0),
             frozenset((statuses or "").split(",")) - {""},
             *((tuple(x for x in (refs or "").split(",") if x),) if latest else ()))
            for i, status, name, place, scope, first, last, peak, usual, n, statuses, refs
            in rows]


def _median_sql(session: Session, value: str, from_where: str, params: dict[str, Any],
                ) -> tuple[float | None, int]:
    """The median of `value` over `from_where` and the row count: percentile_cont on
    PostgreSQL, the middle rows by ROW_NUMBER on SQLite."""
    if _dialect(session) == "postgresql":
        median, count = _rows(session, f"SELECT percentile_cont(0.5) WITHIN GROUP "
                                       f"(ORDER BY {value}), COUNT(*) {from_where}",
                              **params)[0]
        return (None if median is None else float(median)), int(count or 0)
    median, count = _rows(session, f"""
        SELECT AVG(v), MAX(n) FROM (
            SELECT v, ROW_NUMBER() OVER (ORDER BY v) AS k, COUNT(*) OVER () AS n
            FROM (SELECT {value} AS v {from_where}))
        WHERE k IN ((n + 1) / 2, (n + 2) / 2)""", **params)[0]
    return (None if median is None else float(median)), int(count or 0)


def culture(session: Session, actor: Actor | None, start: date, end: date, zone: ZoneInfo,
            **narrow: Any) -> dict[str, Any]:
    """pages/governance_culture.py: reports, reporters, anonymous share, median hours to
    triage, median minutes to acknowledge an escalation and the late share, reports and
    reporters by staff group and by week."""
    where, params = scope_where(actor, start, end, zone, **narrow)
    reports, reporters, anonymous = _rows(session, f"""
        SELECT COUNT(*), COUNT(DISTINCT r.reporter_id),
               COALESCE(SUM(CASE WHEN r.reporter_id IS NULL THEN 1 ELSE 0 END), 0)
        FROM near_miss_reports r WHERE {where}""", **params)[0]
    triage, _ = _median_sql(session, _hours(session, "r.reported_at", "r.triaged_at"),
                            f"FROM near_miss_reports r WHERE {where} "
                            "AND r.triaged_at IS NOT NULL", params)
    joined = (f"FROM near_miss_reports r JOIN escalations e ON e.report_id = r.id "
              f"WHERE {where} AND e.acknowledged_at IS NOT NULL")
    ack, acknowledged = _median_sql(session, _hours(session, "e.raised_at", "e.acknowledged_at"),
                                    joined, params)
    late = _rows(session, f"SELECT COUNT(*) {joined} AND e.acknowledged_at > e.due_at",
                 **params)[0][0]
    groups = {name: (int(n), int(k)) for name, n, k in _rows(session, f"""
        SELECT COALESCE(g.name, 'Not recorded'), COUNT(*), COUNT(DISTINCT r.reporter_id)
        FROM near_miss_reports r LEFT JOIN staff_groups g ON g.id = r.staff_group_id
        WHERE {where} GROUP BY COALESCE(g.name, 'Not recorded')""", **params)}
    week = local_week(session, "r.occurred_at", zone)
    weekly = {_day(w): (int(n), int(k)) for w, n, k in _rows(session, f"""
        SELECT {week} AS week, COUNT(*), COUNT(DISTINCT r.reporter_id)
        FROM near_miss_reports r WHERE {where} GROUP BY week""", **params)}
    reports = int(reports)
    return {"reports": reports, "reporters": int(reporters),
            "anonymous_share": int(anonymous) / reports if reports else 0.0,
            "median_hours_to_triage": triage,
            "median_minutes_to_acknowledge": None if ack is None else ack * 60,
            "acknowledged_late_share": int(late) / acknowledged if acknowledged else None,
            "by_staff_group": groups, "weekly": weekly}



def feedback_measures(session: Session, actor: Actor, start: date, end: date, zone: ZoneInfo,
                      **narrow: Any) -> dict[str, Any]:
    """pages/governance_culture.py's feedback loop: median hours from filing to the first
    update a report heard of, reporters and named reports told, updates published per local
    month (the months with none are filled in Python from the period, as the page's are)."""
    where, params = scope_where(actor, start, end, zone, **narrow)
    # A report linked to an update already published heard at the update's last edit.
    first = """(SELECT x.report_id, MIN(CASE WHEN u.published_at >= r.reported_at
                                           THEN u.published_at ELSE u.updated_at END) AS first_at
                 FROM feedback_update_reports x
                 JOIN feedback_updates u ON u.id = x.update_id
                 JOIN near_miss_reports r ON r.id = x.report_id
                 WHERE u.status = 'published' GROUP BY x.report_id) heard"""
    hours, with_feedback = _median_sql(
        session, _hours(session, "r.reported_at", "heard.first_at"),
        f"FROM near_miss_reports r JOIN {first} ON heard.report_id = r.id WHERE {where}",
        params)
    reporters, reporters_told, reports, reports_told = _rows(session, f"""
        SELECT COUNT(*), COALESCE(SUM(CASE WHEN told > 0 THEN 1 ELSE 0 END), 0),
               COALESCE(SUM(filed), 0), COALESCE(SUM(told), 0) FROM (
            SELECT r.reporter_id, COUNT(*) AS filed, COUNT(heard.report_id) AS told
            FROM near_miss_reports r LEFT JOIN {first} ON heard.report_id = r.id
            WHERE {where} AND r.reporter_id IS NOT NULL GROUP BY r.reporter_id) per_reporter
        """, **params)[0]
    aimed, aimed_params = "", {}
    services = narrow.get("service_ids") or (
        None if actor.service_ids is None else tuple(actor.service_ids))
    if services is not None:
        aimed = ("AND (u.id NOT IN (SELECT update_id FROM feedback_update_services) OR u.id IN "
                 "(SELECT update_id FROM feedback_update_services WHERE service_id IN :aimed))")
        aimed_params["aimed"] = tuple(services) or (-1,)
    if _dialect(session) == "postgresql":
        month = f"CAST(date_trunc('month', {local(session, 'u.published_at', zone)}) AS date)"
    else:
        month = f"strftime('%Y-%m-01', {local(session, 'u.published_at', zone)})"
    published = {_day(m): int(n) for m, n in _rows(session, f"""
        SELECT {month} AS month, COUNT(*) FROM feedback_updates u
        WHERE u.status = 'published' AND u.published_at >= :start AND u.published_at < :end
        {aimed} GROUP BY month""", start=params["start"], end=params["end"], **aimed_params)}
    monthly, month_start = {}, date(start.year, start.month, 1)
    while month_start < end:
        monthly[month_start] = published.get(month_start, 0)
        month_start = date(month_start.year + (month_start.month == 12),
                           month_start.month % 12 + 1, 1)
    return {"median_hours_to_feedback": hours, "reports_with_feedback": with_feedback,
            "named_reporters": int(reporters), "reporters_told": int(reporters_told),
            "named_reports": int(reports), "named_reports_told": int(reports_told),
            "updates_published": sum(published.values()), "monthly": monthly}

def barrier_mix(session: Session, actor: Actor, start: date, end: date, zone: ZoneInfo,
                **narrow: Any) -> dict[tuple[date, str], int]:
    """pages/governance_controls.py's mix: near misses per local month and barrier (the page
    shows each barrier's label, a fixed mapping)."""
    where, params = scope_where(actor, start, end, zone, **narrow)
    if _dialect(session) == "postgresql":
        month = f"CAST(date_trunc('month', {local(session, 'r.occurred_at', zone)}) AS date)"
    else:
        month = f"strftime('%Y-%m-01', {local(session, 'r.occurred_at', zone)})"
    return {(_day(m), b): int(n) for m, b, n in _rows(session, f"""
        SELECT {month} AS month, r.barrier, COUNT(*) FROM near_miss_reports r
        WHERE {where} GROUP BY month, r.barrier""", **params)}


def control_strength(session: Session, actor: Actor, *, today: date) -> dict[str, Any]:
    """pages/governance_controls.py's control strength: actions by strength, verdicts, the
    effective ones, overdue and open actions, in one pass over the actions the actor sees."""
    where, params = "1 = 1", {"today": today, "open": OPEN_ACTION}
    if actor.service_ids is not None:
        where = "(a.service_id IN :actor_services OR a.service_id IS NULL)"
        params["actor_services"] = tuple(actor.service_ids) or (-1,)
    rows = _rows(session, f"""
        SELECT a.strength, COUNT(*),
               SUM(CASE WHEN a.status = 'verified_effective' THEN 1 ELSE 0 END),
               SUM(CASE WHEN a.status IN ('verified_effective', 'not_effective')
                        THEN 1 ELSE 0 END),
               SUM(CASE WHEN a.deadline < :today AND a.status IN ('planned', 'in_progress')
                        THEN 1 ELSE 0 END),
               SUM(CASE WHEN a.status IN :open THEN 1 ELSE 0 END)
        FROM actions a WHERE {where} GROUP BY a.strength""", **params)
    return {"actions_by_strength": {s: int(n) for s, n, *_ in rows},
            "verified_effective": sum(int(r[2]) for r in rows),
            "verdicts": sum(int(r[3]) for r in rows),
            "overdue": sum(int(r[4]) for r in rows),
            "open_actions": sum(int(r[5]) for r in rows)}


# -- the commissioner's evidence page --------------------------------------------------------


def evidence(session: Session, start: date, end: date, rules: Settings, *, now: datetime,
             lead_weeks: int = 26) -> dict[str, Any]:
    """core/views/commissioner.py evidence_page for [start, end), before suppression: the
    trend's whole weeks, counts by type and service, by barrier and interface, clusters, the
    register's actions live in the period, escalations by kind, culture, feedback and the
    regulator clocks met on time per month.

    Commissioners see the whole provider, de-identified: the page hides small counts with
    core.commissioner.deid (pure functions over these same counts), and draws the trend's
    limits with core.spc; the bench applies neither, the test compares with suppress=False.
    The evidence per action is its counts either side of go-live (`action_windows`); not
    here: a measured action's evaluation in test, nor the counts behind the register's rate
    suppression.
    """
    zone = rules.zone
    today = to_local(now, zone).date()
    trend_start = start - timedelta(weeks=lead_weeks)
    first = trend_start if trend_start.weekday() == 0 else (
        week_start_of(trend_start) + timedelta(days=7))
    complete_end = max(first, min(week_start_of(end), week_start_of(today)))
    marks, controls = control_rows(session, trend_start, end, None, limit=None)
    where, params = scope_where(None, start, end, zone)
    by_type_service = {(t, s): int(n) for t, s, n in _rows(session, f"""
        SELECT t.name, s.name, COUNT(*) FROM near_miss_reports r
        JOIN near_miss_types t ON t.key = r.type_key JOIN services s ON s.id = r.service_id
        WHERE {where} GROUP BY t.name, s.name""", **params)}
    barriers = {b: int(n) for b, n in _rows(
        session, f"SELECT r.barrier, COUNT(*) FROM near_miss_reports r WHERE {where} "
                 "GROUP BY r.barrier", **params)}
    interfaces = {i: int(n) for i, n in _rows(
        session, f"SELECT COALESCE(r.interface_flag, 'none') AS flag, COUNT(*) "
                 f"FROM near_miss_reports r WHERE {where} GROUP BY flag", **params)}
    # The register: each action live in the period with its theme (the types of the reports
    # its plan links, or of the cluster it answers), service, measure and last sustainment
    # check. The page words these (kind, strength, weeks) with fixed mappings; its rates are
    # the measure's values (their suppression counts the measure's near misses, which this
    # floor leaves out).
    themes = ("SELECT t.name FROM action_plan_reports x JOIN near_miss_reports r "
              "ON r.id = x.report_id JOIN near_miss_types t ON t.key = r.type_key "
              "WHERE x.plan_id = a.plan_id UNION SELECT t.name FROM action_plans p "
              "JOIN near_miss_types t ON t.key = p.cluster_type_key WHERE p.id = a.plan_id")
    names = ("STRING_AGG(name, '|')" if _dialect(session) == "postgresql"
             else "GROUP_CONCAT(name, '|')")
    register = _rows(session, f"""
        SELECT a.id, a.status, a.strength, a.strength_category, a.deadline, a.go_live_date,
               COALESCE(s.name, 'Provider-wide'), m.confirmed_verdict, m.baseline_value,
               m.observed_value,
               (SELECT c.in_place FROM sustainment_checks c
                WHERE c.action_id = a.id AND c.confirmed_at IS NOT NULL
                ORDER BY c.id DESC LIMIT 1),
               (SELECT {names} FROM ({themes}) named)
        FROM actions a LEFT JOIN services s ON s.id = a.service_id
        LEFT JOIN verification_measures m ON m.action_id = a.id
        WHERE a.created_at < :end AND (a.status IN :in_hand OR a.updated_at >= :start)
        ORDER BY a.deadline, a.id""", start=params["start"], end=params["end"],
        in_hand=OPEN_ACTION)
    week = local_week(session, "r.occurred_at", zone)
    by_type_week = {(t, _day(w)): int(n) for t, w, n in _rows(session, f"""
        SELECT t.name, {week} AS week, COUNT(*) FROM near_miss_reports r
        JOIN near_miss_types t ON t.key = r.type_key
        WHERE {where} GROUP BY t.name, week""", **params)}
    escalations = _escalations(session, params["start"], params["end"])
    feedback = {}
    month = ("to_char(u.published_at, 'YYYY-MM')" if _dialect(session) == "postgresql"
             else "strftime('%Y-%m', u.published_at)")
    for m, updates, linked in _rows(session, f"""
            SELECT {month} AS month, COUNT(*), SUM(linked) FROM (
                SELECT u.id, u.published_at, COUNT(x.report_id) AS linked
                FROM feedback_updates u
                LEFT JOIN feedback_update_reports x ON x.update_id = u.id
                WHERE u.status = 'published' AND u.published_at >= :start
                  AND u.published_at < :end
                GROUP BY u.id, u.published_at) u
            GROUP BY month ORDER BY month""", start=params["start"], end=params["end"]):
        feedback[m] = (int(updates), int(linked or 0))
    return {
        "trend": weekly_counts(session, None, first, complete_end, zone),
        "controls_live": controls, "go_live_days": sorted(d for d, *_ in marks),
        "by_type_service": by_type_service, "barriers": barriers, "interfaces": interfaces,
        "clusters": clusters(session, None, start, end, zone),
        "by_type_week": by_type_week,
        "register": [(int(i), status, strength, kind, _day(deadline),
                      None if go is None else _day(go), service, verdict, before, during,
                      None if kept is None else bool(kept),
                      tuple(sorted(set((theme or "").split("|")) - {""})))
                     for i, status, strength, kind, deadline, go, service, verdict, before,
                     during, kept, theme in register],
        "on_time": _on_time(session, params["start"], params["end"], zone, now=now),
        "per_action": action_windows(
            session, start, end, zone, today=today,
            sustainment_after_days=rules.actions.sustainment_after_days),
        "escalations": escalations,
        "culture": culture(session, None, start, end, zone),
        "feedback": feedback}


def _escalations(session: Session, start: datetime, end: datetime,
                 ) -> dict[str, tuple[int, float | None, int]]:
    """Escalations raised in the period by kind: (raised, median minutes to acknowledge,
    acknowledged by their due time)."""
    minutes = ("date_part('epoch', e.acknowledged_at - e.raised_at) / 60.0"
               if _dialect(session) == "postgresql"
               else "(julianday(e.acknowledged_at) - julianday(e.raised_at)) * 1440.0")
    counted = {kind: (int(n), int(on_time or 0)) for kind, n, on_time in _rows(session, """
        SELECT e.kind, COUNT(*), SUM(CASE WHEN e.acknowledged_at <= e.due_at THEN 1 ELSE 0 END)
        FROM escalations e WHERE e.raised_at >= :start AND e.raised_at < :end
        GROUP BY e.kind""", start=start, end=end)}
    medians: dict[str, float] = {}
    if _dialect(session) == "postgresql":
        rows = _rows(session, f"""
            SELECT e.kind, percentile_cont(0.5) WITHIN GROUP (ORDER BY {minutes})
            FROM escalations e WHERE e.raised_at >= :start AND e.raised_at < :end
              AND e.acknowledged_at IS NOT NULL GROUP BY e.kind""", start=start, end=end)
    else:
        rows = _rows(session, f"""
            SELECT kind, AVG(v) FROM (
                SELECT e.kind, {minutes} AS v,
                       ROW_NUMBER() OVER (PARTITION BY e.kind ORDER BY {minutes}) AS k,
                       COUNT(*) OVER (PARTITION BY e.kind) AS n
                FROM escalations e WHERE e.raised_at >= :start AND e.raised_at < :end
                  AND e.acknowledged_at IS NOT NULL)
            WHERE k IN ((n + 1) / 2, (n + 2) / 2) GROUP BY kind""", start=start, end=end)
    medians = {kind: float(m) for kind, m in rows if m is not None}
    return {kind: (n, medians.get(kind), on_time) for kind, (n, on_time) in counted.items()}


def _on_time(session: Session, start: datetime, end: datetime, zone: ZoneInfo, *,
             now: datetime) -> dict[tuple[str, str], tuple[int, int]]:
    """Regulator clocks whose outcome is known, by clock and the local month they fell due:
    (fell due, met on time). Months with none are listed by the page from the period."""
    if _dialect(session) == "postgresql":
        month = f"to_char({local(session, 'c.due_at', zone)}, 'YYYY-MM')"
    else:
        month = f"strftime('%Y-%m', {local(session, 'c.due_at', zone)})"
    return {(key, m): (int(due), int(on_time)) for key, m, due, on_time in _rows(session, f"""
        SELECT c.key, {month} AS month, COUNT(*),
               SUM(CASE WHEN c.met_at IS NOT NULL AND c.met_at <= c.due_at THEN 1 ELSE 0 END)
        FROM regulator_clocks c
        WHERE c.withdrawn_at IS NULL AND c.due_at >= :start AND c.due_at < :end
          AND (c.met_at IS NOT NULL OR c.due_at < :now)
        GROUP BY c.key, month""", start=start, end=end, now=now)}


def action_windows(session: Session, start: date, end: date, zone: ZoneInfo, *,
                   today: date, sustainment_after_days: int) -> list[tuple[Any, ...]]:
    """The evidence per action's counts: each action gone live and live in [start, end),
    latest go-live first, with (action id, go-live, each window's days, near misses in the
    window before go-live, in the window from it). The near misses counted are its measure's
    (types, services, places, routes, staff groups, interface flags, capture values), else
    its plan's types in its service; the windows are as the verdict looks today (a pure
    rule, core.commissioner.action_evidence._windows, restated here). The page's verdict
    for a measured action in test is core.actions.measures.evaluate, left out here."""
    bounds = {"start": local_midnight_utc(start, zone), "end": local_midnight_utc(end, zone),
              "in_hand": OPEN_ACTION}
    names = ("STRING_AGG(type_key, ',')" if _dialect(session) == "postgresql"
             else "GROUP_CONCAT(type_key)")
    plan_types = ("SELECT r.type_key FROM action_plan_reports x JOIN near_miss_reports r "
                  "ON r.id = x.report_id WHERE x.plan_id = a.plan_id UNION SELECT "
                  "p.cluster_type_key FROM action_plans p WHERE p.id = a.plan_id "
                  "AND p.cluster_type_key IS NOT NULL")
    actions = _rows(session, f"""
        SELECT a.id, a.go_live_date, a.test_window_days, a.service_id, m.id, m.filters,
               (SELECT {names} FROM ({plan_types}) typed)
        FROM actions a LEFT JOIN verification_measures m ON m.action_id = a.id
        WHERE a.go_live_date IS NOT NULL AND a.created_at < :end
          AND (a.status IN :in_hand OR a.updated_at >= :start)
        ORDER BY a.go_live_date DESC, a.id""", **bounds)
    counts, params, found = [], {}, []
    for n, (action_id, go_live, test_days, service_id, measure, filters, types) in \
            enumerate(actions):
        go_live, test_days = _day(go_live), test_days or 0
        second = go_live + timedelta(days=test_days + sustainment_after_days)
        days = (0 if today <= go_live else (today - go_live).days
                if today < go_live + timedelta(days=test_days) else test_days
                if today < second else (second - go_live).days)
        found.append((int(action_id), go_live, days))
        if measure is not None:
            chosen = filters if isinstance(filters, dict) else json.loads(filters or "{}")
        elif types:
            chosen = {"type_keys": sorted(set(types.split(","))),
                      "service_ids": [service_id] if service_id else []}
        else:
            continue  # no theme: nothing to count
        if days <= 0:
            continue
        where = [f"r.occurred_at >= :from{n}", f"r.occurred_at < :to{n}"]
        params.update({f"from{n}": local_midnight_utc(go_live - timedelta(days=days), zone),
                       f"live{n}": local_midnight_utc(go_live, zone),
                       f"to{n}": local_midnight_utc(go_live + timedelta(days=days), zone)})
        for column, key in (("type_key", "type_keys"), ("service_id", "service_ids"),
                            ("location_id", "location_ids"), ("route_id", "route_ids"),
                            ("staff_group_id", "staff_group_ids"),
                            ("interface_flag", "interface_flags")):
            if chosen.get(key):
                where.append(f"r.{column} IN :{key}{n}")
                params[f"{key}{n}"] = tuple(chosen[key])
        for c, (field_key, value) in enumerate(sorted(chosen.get("capture", {}).items())):
            path = json.dumps(field_key)  # a quoted JSON path step, as SQLAlchemy writes it
            field = (f"r.capture_fields ->> :field{n}_{c}" if _dialect(session) == "postgresql"
                     else f"json_extract(r.capture_fields, '$.' || :field{n}_{c})")
            where.append(f"{field} = :value{n}_{c}")
            params[f"field{n}_{c}"] = field_key if _dialect(session) == "postgresql" else path
            params[f"value{n}_{c}"] = value
        counts.append(f"""SELECT {int(action_id)} AS action_id,
               SUM(CASE WHEN r.occurred_at < :live{n} THEN 1 ELSE 0 END) AS n_before,
               SUM(CASE WHEN r.occurred_at >= :live{n} THEN 1 ELSE 0 END) AS n_after
            FROM near_miss_reports r WHERE {' AND '.join(where)}""")
    counted = {int(i): (int(b or 0), int(a or 0)) for i, b, a in (
        _rows(session, " UNION ALL ".join(counts), **params) if counts else [])}
    return [(i, go_live, days, *counted.get(i, (None, None))) for i, go_live, days in found]
