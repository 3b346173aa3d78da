"""The demo provider in the database: its reference data and users (idempotent), and the ids
the generator needs, read back as plain values."""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.accounts.users import (
    DEMO_ACCOUNTS,
    NewUser,
    add_user,
    ensure_demo_users,
    update_user_access,
)
from core.auth.actor import SYSTEM
from core.auth.models import User, UserRole, UserService
from core.auth.passwords import hash_password
from core.auth.roles import Role
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.organisation import service as org
from core.organisation.models import Location, PersonSupported, Region, Route, Service, StaffGroup
from core.taxonomy.models import NearMissType
from core.uow import UnitOfWork
from ops.demo.places import DemoPerson, DemoPlace, DemoPlaces, DemoReporter, DemoService
from ops.demo.provider import (
    DEMO_REPORTER_KEENNESS,
    DEMO_SERVICES_BY_ROLE,
    SERVICES,
    STAFF,
    STAFF_GROUPS,
    SUPERVISORS,
)


def prepare_demo_provider(engine: Engine) -> list[str]:
    """Create the demo provider's reference data and users (idempotent); returns new usernames."""
    with UnitOfWork(engine) as uow:
        for name, cue_guide in STAFF_GROUPS:
            org.get_or_create_staff_group(uow, SYSTEM, name, cue_guide=cue_guide, now=utcnow())
        for region in sorted({s.region for s in SERVICES}):
            org.get_or_create_region(uow, SYSTEM, region, now=utcnow())
        for spec in SERVICES:
            service_id = org.get_or_create_service(uow, SYSTEM, spec.name, region=spec.region,
                                                   kind=spec.kind, now=utcnow())
            for place in spec.places:
                org.get_or_create_location(uow, SYSTEM, service_id, place.name, now=utcnow())
            for route in spec.routes:
                org.get_or_create_route(uow, SYSTEM, service_id, route, now=utcnow())
            for person in spec.people:
                org.get_or_create_person(uow, SYSTEM, service_id, person.ref,
                                         display_name=person.name, now=utcnow())
        uow.commit()
    created = ensure_demo_users(lambda: UnitOfWork(engine), services=DEMO_SERVICES_BY_ROLE,
                                now=utcnow(), rules=settings())
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
            ), password_hash=unusable, now=utcnow(), rules=settings())
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
                               services=services, now=utcnow())
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
                           after={"staff_group_id": group_id, "username": role.value}, at=utcnow())
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
                | DEMO_REPORTER_KEENNESS)
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
