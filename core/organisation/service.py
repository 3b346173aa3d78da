"""Use cases that create the provider's reference data (admin, demo seeding, CSV import).

The `get_or_create_*` helpers run inside a unit of work that the caller has opened, so an
import can create a missing location in the same transaction as the reports that use it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.auth.actor import Actor
from core.organisation.models import Location, PersonSupported, Region, Route, Service, StaffGroup
from core.uow import UnitOfWork

_Row = Region | Service | Location | Route | StaffGroup | PersonSupported


def _get_or_create(uow: UnitOfWork, actor: Actor, model: type[_Row], match: dict[str, Any], *,
                   event: str, entity: str, fields: Callable[[], dict[str, Any]],
                   after: dict[str, Any], now: datetime) -> int:
    """The id of the `model` row matching `match`; when there is none, one is created from
    `match` and `fields()` and audited as `event` with `after`."""
    found = uow.session.scalar(select(model.id).filter_by(**match))
    if found is not None:
        return found
    # fields() is called only now: what a new row needs (a service's region) is made for it alone.
    row = model(**match, **fields())
    uow.session.add(row)
    uow.session.flush()
    uow.record(actor, event, entity, row.id, after=after, at=now)
    return row.id


def get_or_create_region(uow: UnitOfWork, actor: Actor, name: str, *, now: datetime) -> int:
    """The id of region `name`, creating it (audited) if it is new. Call inside `with uow:`."""
    return _get_or_create(uow, actor, Region, {"name": name}, event="region.created",
                          entity="region", fields=dict, after={"name": name}, now=now)


def get_or_create_service(uow: UnitOfWork, actor: Actor, name: str, *,
                          region: str | None = None, kind: str = "home care",
                          now: datetime) -> int:
    """The id of service `name`, creating it (audited) if it is new. Call inside `with uow:`."""
    def fields() -> dict[str, Any]:
        region_id = get_or_create_region(uow, actor, region, now=now) if region else None
        return {"region_id": region_id, "kind": kind, "active": True}

    return _get_or_create(uow, actor, Service, {"name": name}, event="service.created",
                          entity="service", fields=fields,
                          after={"name": name, "region": region, "kind": kind}, now=now)


def get_or_create_location(uow: UnitOfWork, actor: Actor, service_id: int, name: str, *,
                           now: datetime) -> int:
    """The id of location `name` in a service, creating it if new. Call inside `with uow:`."""
    return _get_or_create(uow, actor, Location, {"service_id": service_id, "name": name},
                          event="location.created", entity="location",
                          fields=lambda: {"active": True},
                          after={"service_id": service_id, "name": name}, now=now)


def get_or_create_route(uow: UnitOfWork, actor: Actor, service_id: int, name: str, *,
                        now: datetime) -> int:
    """The id of route `name` in a service, creating it if new. Call inside `with uow:`."""
    return _get_or_create(uow, actor, Route, {"service_id": service_id, "name": name},
                          event="route.created", entity="route",
                          fields=lambda: {"active": True},
                          after={"service_id": service_id, "name": name}, now=now)


def get_or_create_staff_group(uow: UnitOfWork, actor: Actor, name: str, *,
                              cue_guide: str = "care_worker", now: datetime) -> int:
    """The id of staff group `name`, creating it if new. Call inside `with uow:`."""
    return _get_or_create(uow, actor, StaffGroup, {"name": name}, event="staff_group.created",
                          entity="staff_group", fields=lambda: {"cue_guide": cue_guide},
                          after={"name": name, "cue_guide": cue_guide}, now=now)


def get_or_create_person(uow: UnitOfWork, actor: Actor, service_id: int, local_ref: str, *,
                         display_name: str | None = None, now: datetime) -> int:
    """The id of the person with `local_ref`, creating them if new. Call inside `with uow:`."""
    # Matched on the reference alone: it is unique across the provider, not per service.
    return _get_or_create(uow, actor, PersonSupported, {"local_ref": local_ref},
                          event="person.created", entity="person_supported",
                          fields=lambda: {"service_id": service_id,
                                          "display_name": display_name, "active": True},
                          after={"service_id": service_id, "local_ref": local_ref,
                                 "has_name": display_name is not None}, now=now)
