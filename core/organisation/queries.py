"""Read-side queries over the provider's reference data, scoped to the actor's services."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.db import storable_id
from core.organisation.models import Location, PersonSupported, Region, Route, Service, StaffGroup


@dataclass(frozen=True)
class PlaceLookup:
    """Which locations, routes and people belong to which service (ids)."""

    services: frozenset[int]
    location_service: Mapping[int, int]
    route_service: Mapping[int, int]
    person_service: Mapping[int, int]
    staff_groups: frozenset[int]


@dataclass(frozen=True)
class Choice:
    """An option in a list: the id stored and the label a person reads."""

    id: int
    label: str


@dataclass(frozen=True)
class ReportingOptions:
    """Everything the report form offers this actor, keyed by service where it belongs."""

    services: list[Choice]
    locations: dict[int, list[Choice]]
    routes: dict[int, list[Choice]]
    people: dict[int, list[Choice]]
    staff_groups: list[Choice]


def _service_filter(actor: Actor):
    if actor.service_ids is None:
        return Service.active.is_(True)
    return Service.active.is_(True) & Service.id.in_(actor.service_ids)


def service_choices(session: Session, actor: Actor) -> list[Choice]:
    """The active services the actor may report on, by name (what a filter by service
    offers, without the places, routes and people of `reporting_options`)."""
    return [Choice(i, n) for i, n in session.execute(
        select(Service.id, Service.name).where(_service_filter(actor)).order_by(Service.name))]


def reporting_options(session: Session, actor: Actor) -> ReportingOptions:
    """The services, locations, routes, people and staff groups the actor may report on."""
    services = service_choices(session, actor)
    ids = [s.id for s in services]
    locations: dict[int, list[Choice]] = defaultdict(list)
    for loc_id, service_id, name in session.execute(
        select(Location.id, Location.service_id, Location.name)
        .where(Location.service_id.in_(ids), Location.active.is_(True)).order_by(Location.name)
    ):
        locations[service_id].append(Choice(loc_id, name))
    routes: dict[int, list[Choice]] = defaultdict(list)
    for route_id, service_id, name in session.execute(
        select(Route.id, Route.service_id, Route.name)
        .where(Route.service_id.in_(ids), Route.active.is_(True)).order_by(Route.name)
    ):
        routes[service_id].append(Choice(route_id, name))
    people: dict[int, list[Choice]] = defaultdict(list)
    for person_id, service_id, ref, name in session.execute(
        select(PersonSupported.id, PersonSupported.service_id, PersonSupported.local_ref,
               PersonSupported.display_name)
        .where(PersonSupported.service_id.in_(ids), PersonSupported.active.is_(True))
        .order_by(PersonSupported.local_ref)
    ):
        people[service_id].append(Choice(person_id, f"{ref} · {name}" if name else ref))
    groups = [Choice(i, n) for i, n in session.execute(
        select(StaffGroup.id, StaffGroup.name).order_by(StaffGroup.name))]
    return ReportingOptions(services, dict(locations), dict(routes), dict(people), groups)


def place_lookup(session: Session, actor: Actor, *, location_ids: set[int] | None = None,
                 route_ids: set[int] | None = None,
                 person_ids: set[int] | None = None) -> PlaceLookup:
    """Ownership maps used to validate drafts; pass the ids a draft names to load only those."""

    def owners(model: type[Location] | type[Route] | type[PersonSupported],
               wanted: set[int] | None) -> dict[int, int]:
        query = select(model.id, model.service_id).where(model.active.is_(True))
        if wanted is not None:
            wanted = {i for i in wanted if storable_id(i)}
            if not wanted:
                return {}
            query = query.where(model.id.in_(wanted))
        return dict(session.execute(query).all())

    return PlaceLookup(
        services=frozenset(session.scalars(select(Service.id).where(_service_filter(actor)))),
        location_service=owners(Location, location_ids),
        route_service=owners(Route, route_ids),
        person_service=owners(PersonSupported, person_ids),
        staff_groups=frozenset(session.scalars(select(StaffGroup.id))),
    )


def service_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Service.id, Service.name)).all())


def region_of_services(session: Session) -> dict[int, str | None]:
    """Each service's region name (None when it has none)."""
    rows = session.execute(
        select(Service.id, Region.name).outerjoin(Region, Region.id == Service.region_id))
    return dict(rows.all())


def staff_group_names(session: Session) -> list[str]:
    return list(session.scalars(select(StaffGroup.name).order_by(StaffGroup.name)))
