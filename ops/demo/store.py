"""Storing the demo: the provider's reference data, users and the report chunks."""

from __future__ import annotations

import json
import random
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Date, DateTime, Engine, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.auth.actor import SYSTEM
from core.auth.models import User, UserRole, UserService
from core.auth.passwords import hash_password
from core.auth.roles import Role
from core.auth.service import (
    DEMO_ACCOUNTS,
    NewUser,
    add_user,
    ensure_demo_users,
    update_user_access,
)
from core.clock import to_local
from core.config import Settings, settings
from core.db import read_session
from core.escalation.models import Escalation, Notification
from core.escalation.rules import EscalationKind
from core.metrics.weeks import week_start_of
from core.organisation import service as org
from core.organisation.models import Location, PersonSupported, Region, Route, Service, StaffGroup
from core.reports.models import NearMissReport, ReferenceCounter
from core.review.models import (
    CommunicationDecision,
    GateCheck,
    Review,
    ValidationEvidence,
)
from core.taxonomy.models import NearMissType
from core.triage.models import ReportTransition, TriageRecord
from core.uow import UnitOfWork
from ops.demo.generator import DemoPerson, DemoPlace, DemoPlaces, DemoReporter, DemoService
from ops.demo.provider import (
    _DEMO_REPORTER_KEENNESS,
    DAY_PROGRAMME,
    DEMO_SERVICES_BY_ROLE,
    HOME_CARE,
    RESIDENTIAL,
    SERVICES,
    STAFF,
    STAFF_GROUPS,
    SUPERVISORS,
    SUPPORTED_LIVING,
    demo_window,
)
from ops.demo.records import DemoEscalation, DemoRecord

# ---------------------------------------------------------------------------------------------
# Storing it
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSummary:
    """What `load_demo` did."""

    reports: int  # reports created by this call
    services: int  # services in the database afterwards
    users_created: list[str]  # usernames created by this call (demo role users + staff)
    first_occurred: datetime | None  # naive UTC
    last_occurred: datetime | None
    triaged: int = 0  # reports triaged (the rest are still new)
    escalations: int = 0  # escalations raised for them
    reviewed: int = 0  # reports whose review has started
    closed: int = 0  # reports closed after review and validation
    action_plans: int = 0  # action plans created (with their actions)
    actions: int = 0
    feedback_updates: int = 0  # "what changed because you reported" updates published


def prepare_demo_provider(engine: Engine) -> list[str]:
    """Create the demo provider's reference data and users (idempotent); returns new usernames."""
    with UnitOfWork(engine) as uow:
        for name, cue_guide in STAFF_GROUPS:
            org.get_or_create_staff_group(uow, SYSTEM, name, cue_guide=cue_guide)
        for region in sorted({s.region for s in SERVICES}):
            org.get_or_create_region(uow, SYSTEM, region)
        for spec in SERVICES:
            service_id = org.get_or_create_service(uow, SYSTEM, spec.name, region=spec.region,
                                                   kind=spec.kind)
            for place in spec.places:
                org.get_or_create_location(uow, SYSTEM, service_id, place.name)
            for route in spec.routes:
                org.get_or_create_route(uow, SYSTEM, service_id, route)
            for person in spec.people:
                org.get_or_create_person(uow, SYSTEM, service_id, person.ref,
                                         display_name=person.name)
        uow.commit()
    created = ensure_demo_users(lambda: UnitOfWork(engine), services=DEMO_SERVICES_BY_ROLE)
    _complete_demo_accounts(engine)
    with read_session(engine) as session:
        existing = set(session.scalars(select(User.username)))
    missing = [(s, Role.REPORTER) for s in STAFF if s.username not in existing]
    missing += [(s, Role.SUPERVISOR) for s in SUPERVISORS if s.username not in existing]
    if missing:
        # Synthetic staff never sign in: the hash of a random token nobody knows, hashed once
        # (at the configured cost, so a wrong password for them takes as long as any other).
        unusable = hash_password(secrets.token_hex(32), rounds=settings().sign_in.bcrypt_rounds)
        for staff, role in missing:
            add_user(UnitOfWork(engine), SYSTEM, NewUser(
                username=staff.username, display_name=staff.display_name, password="",
                roles=(role.value,), services=staff.services,
                email=f"{staff.username}@demo.nearmiss.invalid", staff_group=staff.group,
            ), password_hash=unusable)
            created.append(staff.username)
    return created


def _complete_demo_accounts(engine: Engine) -> None:
    """Give demo accounts made before the services existed their services and staff group.

    `nearmiss init` creates the demo users on an empty database, so the reporter and the
    supervisor start with no services and no staff group. Only what is still empty is filled
    in: an administrator's later changes are left alone.
    """
    with read_session(engine) as session:
        groups = dict(session.execute(select(StaffGroup.name, StaffGroup.id)).all())
        accounts = {u.username: (u.id, u.staff_group_id, bool(u.services),
                                 tuple(sorted(r.role for r in u.roles)))
                    for u in session.scalars(select(User).where(
                        User.username.in_([role.value for role in DEMO_ACCOUNTS])))}
    for role, services in DEMO_SERVICES_BY_ROLE.items():
        account = accounts.get(role.value)
        if account is not None and not account[2]:
            update_user_access(UnitOfWork(engine), SYSTEM, role.value, roles=account[3],
                               services=services)
    missing_group = [(role, accounts[role.value][0], groups[group])
                     for role, (_name, group) in DEMO_ACCOUNTS.items()
                     if role.value in accounts and accounts[role.value][1] is None
                     and group in groups]
    if missing_group:
        with UnitOfWork(engine) as uow:
            for role, user_id, group_id in missing_group:
                user = uow.session.get(User, user_id)
                assert user is not None
                user.staff_group_id = group_id
                uow.record(SYSTEM, "user.staff_group_set", "user", user_id,
                           before={"staff_group_id": None},
                           after={"staff_group_id": group_id, "username": role.value})
            uow.commit()


def _users_by_role(session: Session) -> tuple[dict[str, tuple[int, ...]], dict[int, set[int]]]:
    """Active users of the roles that triage or handle escalations, and supervisors' services.

    Each role's demo user (username = role id) comes first: it is the one who acts.
    """
    roles = [r.value for r in (Role.SUPERVISOR, Role.SAFEGUARDING, Role.CLINICAL,
                               Role.OPERATIONS, Role.QUALITY)]
    holders: dict[str, list[tuple[bool, str, int]]] = {role: [] for role in roles}
    for user_id, username, role in session.execute(
            select(User.id, User.username, UserRole.role)
            .join(UserRole, UserRole.user_id == User.id)
            .where(User.active.is_(True), UserRole.role.in_(roles))):
        holders[role].append((username != role, username, user_id))
    leads = {role: tuple(user_id for *_key, user_id in sorted(found))
             for role, found in holders.items()}
    covered: dict[int, set[int]] = {}
    for user_id, service_id in session.execute(
            select(UserService.user_id, UserService.service_id)
            .where(UserService.user_id.in_(leads[Role.SUPERVISOR.value] or (-1,)))):
        covered.setdefault(service_id, set()).add(user_id)
    return leads, covered


def demo_places(session: Session) -> DemoPlaces:
    """Read the ids of the demo provider's services, places, people, staff and leads."""
    groups = dict(session.execute(select(StaffGroup.name, StaffGroup.id)).all())
    group_names = {v: k for k, v in groups.items()}
    keenness = ({s.username: s.keenness for s in (*STAFF, *SUPERVISORS)}
                | _DEMO_REPORTER_KEENNESS)
    leads, supervisors_of = _users_by_role(session)
    users = session.execute(
        select(User.id, User.username, User.staff_group_id, UserService.service_id)
        .join(UserService, UserService.user_id == User.id)
        .where(User.username.in_(keenness), User.active.is_(True))
        .order_by(User.username)
    ).all()
    service_rows = {name: (service_id, region) for service_id, name, region in session.execute(
        select(Service.id, Service.name, Region.name)
        .outerjoin(Region, Region.id == Service.region_id).where(Service.active.is_(True)))}
    services = []
    for spec in SERVICES:
        if spec.name not in service_rows:
            continue
        service_id, region = service_rows[spec.name]
        locations = dict(session.execute(select(Location.name, Location.id).where(
            Location.service_id == service_id, Location.active.is_(True))).all())
        routes = dict(session.execute(select(Route.name, Route.id).where(
            Route.service_id == service_id, Route.active.is_(True))).all())
        # By service too: a reference held by another service is not this service's person.
        people = dict(session.execute(select(PersonSupported.local_ref, PersonSupported.id).where(
            PersonSupported.service_id == service_id, PersonSupported.active.is_(True))).all())
        places = tuple(DemoPlace(locations[p.name], p) for p in spec.places if p.name in locations)
        if not places:
            continue
        services.append(DemoService(
            id=service_id, spec=spec, region=region, places=places,
            routes=tuple(routes[name] for name in spec.routes if name in routes),
            people=tuple(DemoPerson(people[p.ref], p) for p in spec.people if p.ref in people),
            reporters=tuple(
                DemoReporter(user_id, group_id, group_names.get(group_id), keenness[username])
                for user_id, username, group_id, user_service in users
                if user_service == service_id),
            supervisors=tuple(u for u in leads[Role.SUPERVISOR.value]
                              if u in supervisors_of.get(service_id, ())),
        ))
    versions = dict(session.execute(
        select(NearMissType.key, NearMissType.current_version)
        .where(NearMissType.active.is_(True))).all())
    return DemoPlaces(tuple(services), groups, versions,
                      {role: ids for role, ids in leads.items() if role != Role.SUPERVISOR})


def _reserve_numbers(session: Session, year: int, count: int) -> int:
    """Take `count` reference numbers of `year` at once; returns the first one."""
    dialect = session.get_bind().dialect.name
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        upsert(ReferenceCounter)
        .values(year=year, last_value=count)
        .on_conflict_do_update(index_elements=[ReferenceCounter.year],
                               set_={"last_value": ReferenceCounter.last_value + count})
        .returning(ReferenceCounter.last_value)
    )
    return session.execute(statement).scalar_one() - count + 1


def _notification_text(kind: EscalationKind, reference: str, escalation: DemoEscalation,
                       rules: Settings) -> tuple[str, str]:
    """The title and body core.escalation.service.raise_escalation writes."""
    due_local = to_local(escalation.row["due_at"], rules.zone).strftime("%d %b %H:%M")
    body = (f"{kind.label} for near miss {reference} at {escalation.where}.\n"
            f"{escalation.row['reason']}\nAcknowledge by {due_local} in the portal: "
            f"{rules.email.portal_url}")
    return f"{kind.label}: {reference}"[:200], body


def _insert_reports(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert report rows (a plain executemany, the fast path); their new ids in row order."""
    table = NearMissReport.__table__
    # Ids only grow, so this transaction's rows are above the highest id seen before them;
    # matching on the reference leaves out anything another writer added meanwhile.
    before = session.scalar(select(func.max(table.c.id))) or 0
    _insert_many(session, table, rows)
    ids = {reference: report_id for reference, report_id in session.execute(
        select(table.c.reference, table.c.id).where(table.c.id > before))}
    return [ids[row["reference"]] for row in rows]


def _sqlite_value(column: Any) -> Callable[[Any], Any] | None:
    """How SQLAlchemy stores a value of this column on SQLite (None: as it is)."""
    kind = column.type
    if isinstance(kind, DateTime):
        return lambda v: v if v is None else v.isoformat(" ", "microseconds")
    if isinstance(kind, Date):
        return lambda v: v if v is None else v.isoformat()
    if isinstance(kind, JSON):
        return lambda v: v if v is None else json.dumps(v)
    return None


@lru_cache(maxsize=32)
def _sqlite_insert(table: Any, names: tuple[str, ...],
                   ) -> tuple[str, Callable[[dict[str, Any]], Any],
                              tuple[tuple[int, Callable[[Any], Any]], ...]] | None:
    """A plain INSERT for the driver, a getter of a row's values and the conversions they
    need (by position); None when a column left out has a default SQLAlchemy would fill in
    (then SQLAlchemy inserts)."""
    left_out = [c for c in table.c if c.name not in names and not c.primary_key]
    if len(names) < 2 or any(c.default is not None or c.server_default is not None
                             for c in left_out):
        return None
    statement = (f"INSERT INTO {table.name} ({', '.join(names)}) "
                 f"VALUES ({', '.join('?' for _ in names)})")
    conversions = tuple((index, convert) for index, name in enumerate(names)
                        if (convert := _sqlite_value(table.c[name])) is not None)
    return statement, itemgetter(*names), conversions


def _insert_many(session: Session, table: Any, rows: list[dict[str, Any]], *,
                 ids: bool = False) -> list[int]:
    """Insert many rows at once; with `ids`, their new ids in row order (slower: RETURNING).

    On SQLite the rows go straight to the driver, stored exactly as SQLAlchemy would store
    them: its per-row bind processing would otherwise dominate a large load.
    """
    if not rows:
        return []
    if not ids:
        names = tuple(rows[0])
        plain = _sqlite_insert(table, names) if session.get_bind().dialect.name == "sqlite" \
            else None
        if plain is None:
            session.execute(insert(table), rows)
            return []
        statement, values_of, conversions = plain
        values = []
        for row in rows:
            value = list(values_of(row))
            for index, convert in conversions:
                value[index] = convert(value[index])
            values.append(tuple(value))
        session.connection().exec_driver_sql(statement, values)
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.execute(statement, rows).scalars())


def _store_chunk(engine: Engine, records: list[DemoRecord], *, rules: Settings) -> Counter[str]:
    """Number and insert one chunk of reports and their history in one audited transaction."""
    rows = [record.report for record in records]
    years = [to_local(row["reported_at"], rules.zone).year for row in rows]
    counts: Counter[str] = Counter()
    with UnitOfWork(engine) as uow:
        session = uow.session
        # Continue each year's counter where it stands (the form may have filed some), in the
        # same transaction as the rows, so a failed chunk leaves no gap.
        next_number = {year: _reserve_numbers(session, year, count)
                       for year, count in sorted(Counter(years).items())}
        for row, year in zip(rows, years, strict=True):
            row["reference"] = f"{rules.reference_prefix}-{year}-{next_number[year]:05d}"
            next_number[year] += 1
        for record, report_id in zip(records, _insert_reports(session, rows), strict=True):
            record.slot.id = report_id

        triage_rows, transition_rows = [], []
        review_rows, gate_rows, evidence_rows, communication_rows = [], [], [], []
        # Grouped by (decided, notified): an undecided escalation leaves `decision` out, so it is
        # SQL NULL as the service leaves it, and only notified ones need their ids back.
        escalations: dict[tuple[bool, bool], list[tuple[DemoRecord, DemoEscalation]]] = {
            (decided, notified): [] for decided in (True, False) for notified in (True, False)}
        for record in records:
            report_id = record.slot.id
            if record.triage is not None:
                linked = sorted({s.id for s in record.related if s.id is not None})
                triage_rows.append({**record.triage, "report_id": report_id,
                                    "related_report_ids": linked})
            transition_rows.extend({**t, "report_id": report_id} for t in record.transitions)
            if record.review is not None:
                review_rows.append({**record.review, "report_id": report_id})
                counts["closed"] += record.review["closed_at"] is not None
                gate_rows.extend({**g, "report_id": report_id} for g in record.gate_checks)
                evidence_rows.extend({**e, "report_id": report_id} for e in record.evidence)
                communication_rows.extend({**c, "report_id": report_id}
                                          for c in record.communications)
            for escalation in record.escalations:
                counts["escalations"] += 1
                counts["acknowledged"] += escalation.row["acknowledged_at"] is not None
                counts["decided"] += escalation.row["decided_at"] is not None
                escalations["decision" in escalation.row, bool(escalation.notices)].append(
                    (record, escalation))
        _insert_many(session, TriageRecord.__table__, triage_rows)
        _insert_many(session, ReportTransition.__table__, transition_rows)
        _insert_many(session, Review.__table__, review_rows)
        _insert_many(session, GateCheck.__table__, gate_rows)
        _insert_many(session, ValidationEvidence.__table__, evidence_rows)
        _insert_many(session, CommunicationDecision.__table__, communication_rows)
        notification_rows = []
        for (_decided, notified), group in escalations.items():
            escalation_rows = [{**e.row, "report_id": record.slot.id} for record, e in group]
            if not notified:
                _insert_many(session, Escalation.__table__, escalation_rows)
                continue
            escalation_ids = _insert_many(session, Escalation.__table__, escalation_rows,
                                          ids=True)
            for (record, escalation), escalation_id in zip(group, escalation_ids, strict=True):
                kind = EscalationKind(escalation.row["kind"])
                title, body = _notification_text(kind, record.report["reference"], escalation,
                                                 rules)
                notification_rows.extend({
                    "user_id": notice.user_id, "report_id": record.slot.id,
                    "escalation_id": escalation_id, "kind": f"escalation.{kind.value}",
                    "title": title, "body": body, "created_at": escalation.row["raised_at"],
                    "read_at": notice.read_at, "email_to": None, "email_status": "not_needed",
                    "email_attempts": 0, "email_error": None, "email_sent_at": None,
                } for notice in escalation.notices)
        _insert_many(session, Notification.__table__, notification_rows)
        # Each triage moved its report once (new -> triaged); the rest are later moves.
        counts.update(reports=len(rows), triaged=len(triage_rows), transitions=len(triage_rows),
                      review_transitions=len(transition_rows) - len(triage_rows),
                      reviews=len(review_rows), gate_checks=len(gate_rows),
                      evidence=len(evidence_rows), communications=len(communication_rows),
                      notifications=len(notification_rows))
        references = {"first_reference": rows[0]["reference"],
                      "last_reference": rows[-1]["reference"]}
        uow.record(SYSTEM, "demo.reports_loaded", "near_miss_report", None,
                   after={"count": len(rows), **references})
        uow.record(SYSTEM, "demo.triage_loaded", "near_miss_report", None, after={
            **{key: counts[key] for key in ("triaged", "transitions", "escalations",
                                            "acknowledged", "decided", "notifications")},
            **references})
        uow.record(SYSTEM, "demo.reviews_loaded", "near_miss_report", None, after={
            "reviews": counts["reviews"], "closed": counts["closed"],
            "transitions": counts["review_transitions"], "gate_checks": counts["gate_checks"],
            "evidence": counts["evidence"], "communications": counts["communications"],
            **references})
        uow.commit()
    return counts


# Weekly activity by kind of service: (visits per person supported, shifts per person).
_ACTIVITY: dict[str, tuple[float | None, float | None]] = {
    HOME_CARE: (19.5, None),  # about three visits a day each
    RESIDENTIAL: (None, 8.0),  # early, late and night shifts, two or three staff each
    DAY_PROGRAMME: (4.2, 2.2),  # attendances, and staff days
    SUPPORTED_LIVING: (None, 5.5),
}


def _activity_rows(places: DemoPlaces, *, now: datetime, months: int, zone: ZoneInfo,
                   seed: int) -> list[dict[str, Any]]:
    """Visits and shifts per service and week over the demo's period (the denominators of
    "per 100 visits/shifts"): growing a little, dipping at Christmas, never exact."""
    rng = random.Random(f"demo-activity-{seed}")
    start, _ = demo_window(now, months)
    first = week_start_of(to_local(start, zone).date())
    last = week_start_of(to_local(now, zone).date())
    weeks = (last - first).days // 7 + 1
    rows = []
    for service in places.services:
        per_visit, per_shift = _ACTIVITY.get(service.spec.kind, (None, 6.0))
        people = max(1, len(service.spec.people))
        for index in range(weeks):
            week = first + timedelta(weeks=index)
            scale = (0.92 + 0.1 * index / max(1, weeks - 1)) * rng.uniform(0.95, 1.05)
            if (week.month, week.day) >= (12, 20) or (week.month, week.day) <= (1, 3):
                scale *= 0.85 if service.spec.kind in (HOME_CARE, DAY_PROGRAMME) else 1.0
            rows.append({
                "service_id": service.id, "week_start": week,
                "visits": round(people * per_visit * scale) if per_visit else None,
                "shifts": round(people * per_shift * scale) if per_shift else None})
    return rows
