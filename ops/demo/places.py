"""The demo provider as stored: the ids the generator needs, as plain values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ops.demo.provider import PersonSpec, PlaceSpec, ServiceSpec


@dataclass(frozen=True)
class DemoPlace:
    id: int
    spec: PlaceSpec


@dataclass(frozen=True)
class DemoPerson:
    id: int
    spec: PersonSpec


@dataclass(frozen=True)
class DemoReporter:
    user_id: int
    staff_group_id: int | None
    group: str | None
    keenness: float


@dataclass(frozen=True)
class DemoService:
    """A demo service as stored: ids of its places, routes, people and reporting staff."""

    id: int
    spec: ServiceSpec
    region: str | None
    places: tuple[DemoPlace, ...]
    routes: tuple[int, ...]  # in the plan's order (home care: day runs, then the evening run)
    people: tuple[DemoPerson, ...]
    reporters: tuple[DemoReporter, ...]
    supervisors: tuple[int, ...] = ()  # users with the supervisor role covering the service


@dataclass(frozen=True)
class DemoPlaces:
    """Everything the generator needs from the database, as plain values."""

    services: tuple[DemoService, ...]
    staff_groups: Mapping[str, int]
    type_versions: Mapping[str, int]
    # Org-wide leads by role id (safeguarding, clinical, operations, quality): user ids, the
    # role's demo user first.
    leads: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
