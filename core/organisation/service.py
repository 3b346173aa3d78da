"""Use cases that create the provider's reference data (admin, demo seeding, CSV import).

The `get_or_create_*` helpers run inside a unit of work that the caller has opened, so an
import can create a missing location in the same transaction as the reports that use it.
"""

from __future__ import annotations

from sqlalchemy import select

from core.auth.actor import Actor
from core.organisation.models import Location, PersonSupported, Region, Route, Service, StaffGroup
from core.uow import UnitOfWork


def get_or_create_region(uow: UnitOfWork, actor: Actor, name: str) -> int:
    """The id of region `name`, creating it (audited) if it is new. Call inside `with uow:`."""
    region_id = uow.session.scalar(select(Region.id).where(Region.name == name))
    if region_id is None:
        region = Region(name=name)
        uow.session.add(region)
        uow.session.flush()
        uow.record(actor, "region.created", "region", region.id, after={"name": name})
        region_id = region.id
    return region_id


def get_or_create_service(uow: UnitOfWork, actor: Actor, name: str, *,
                          region: str | None = None, kind: str = "home care") -> int:
    """The id of service `name`, creating it (audited) if it is new. Call inside `with uow:`."""
    service_id = uow.session.scalar(select(Service.id).where(Service.name == name))
    if service_id is None:
        region_id = get_or_create_region(uow, actor, region) if region else None
        service = Service(name=name, region_id=region_id, kind=kind, active=True)
        uow.session.add(service)
        uow.session.flush()
        uow.record(actor, "service.created", "service", service.id,
                   after={"name": name, "region": region, "kind": kind})
        service_id = service.id
    return service_id


def get_or_create_location(uow: UnitOfWork, actor: Actor, service_id: int, name: str) -> int:
    """The id of location `name` in a service, creating it if new. Call inside `with uow:`."""
    location_id = uow.session.scalar(
        select(Location.id).where(Location.service_id == service_id, Location.name == name))
    if location_id is None:
        location = Location(service_id=service_id, name=name, active=True)
        uow.session.add(location)
        uow.session.flush()
        uow.record(actor, "location.created", "location", location.id,
                   after={"service_id": service_id, "name": name})
        location_id = location.id
    return location_id


def get_or_create_route(uow: UnitOfWork, actor: Actor, service_id: int, name: str) -> int:
    """The id of route `name` in a service, creating it if new. Call inside `with uow:`."""
    route_id = uow.session.scalar(
        select(Route.id).where(Route.service_id == service_id, Route.name == name))
    if route_id is None:
        route = Route(service_id=service_id, name=name, active=True)
        uow.session.add(route)
        uow.session.flush()
        uow.record(actor, "route.created", "route", route.id,
                   after={"service_id": service_id, "name": name})
        route_id = route.id
    return route_id


def get_or_create_staff_group(uow: UnitOfWork, actor: Actor, name: str, *,
                              cue_guide: str = "care_worker") -> int:
    """The id of staff group `name`, creating it if new. Call inside `with uow:`."""
    group_id = uow.session.scalar(select(StaffGroup.id).where(StaffGroup.name == name))
    if group_id is None:
        group = StaffGroup(name=name, cue_guide=cue_guide)
        uow.session.add(group)
        uow.session.flush()
        uow.record(actor, "staff_group.created", "staff_group", group.id,
                   after={"name": name, "cue_guide": cue_guide})
        group_id = group.id
    return group_id


def get_or_create_person(uow: UnitOfWork, actor: Actor, service_id: int, local_ref: str, *,
                         display_name: str | None = None) -> int:
    """The id of the person with `local_ref`, creating them if new. Call inside `with uow:`."""
    person_id = uow.session.scalar(
        select(PersonSupported.id).where(PersonSupported.local_ref == local_ref))
    if person_id is None:
        person = PersonSupported(service_id=service_id, local_ref=local_ref,
                                 display_name=display_name, active=True)
        uow.session.add(person)
        uow.session.flush()
        uow.record(actor, "person.created", "person_supported", person.id,
                   after={"service_id": service_id, "local_ref": local_ref,
                          "has_name": display_name is not None})
        person_id = person.id
    return person_id
