"""The demo provider's shape (services, places, people, staff) as `data/demo/provider.yaml`
gives it, the names of the planted stories' landmarks, and when those stories happen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.auth.roles import Role
from ops.demo.data import ServiceData, StaffData, demo_data

DEMO_SOURCE = "demo"
DEFAULT_REPORTS = 2_500
DEFAULT_MONTHS = 18
CHUNK_SIZE = 5_000
DAYS_PER_MONTH = 365.25 / 12

# Kinds of service the generator treats differently (home care has day runs and an evening run).
RESIDENTIAL = "community residential"
HOME_CARE = "home care"
DAY_PROGRAMME = "day programme"
SUPPORTED_LIVING = "supported living"
# The staff group an anonymous report is counted under, by kind of service.
DSP, HCW = "Direct support professional", "Home care worker"


@dataclass(frozen=True)
class PlaceSpec:
    """A location as the demo plans it: its name, how a worker says it, what kind of place."""

    name: str
    phrase: str  # "at the bathroom doorway": how a reporter names it in a sentence
    tags: frozenset[str]


@dataclass(frozen=True)
class PersonSpec:
    """A person supported as the demo plans them (names are made up)."""

    ref: str
    name: str | None
    pronoun: str  # "he", "she" or "they"
    needs: float  # relative share of near misses involving them (higher support needs)
    run: int  # which day run of a home care branch visits them (from 0)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    region: str
    kind: str
    volume: float  # relative share of the provider's near misses
    places: tuple[PlaceSpec, ...]
    routes: tuple[str, ...]  # for home care: the day runs, then the evening run
    people: tuple[PersonSpec, ...]


@dataclass(frozen=True)
class StaffSpec:
    """A synthetic frontline worker or supervisor: an unusable password, never signs in."""

    username: str
    display_name: str
    group: str
    services: tuple[str, ...]
    keenness: float  # some people report far more than others


def _service(data: ServiceData) -> ServiceSpec:
    return ServiceSpec(
        data.name, data.region, data.kind, data.share,
        tuple(PlaceSpec(p.name, p.said, frozenset(p.kind.split())) for p in data.places),
        tuple(data.routes),
        tuple(PersonSpec(p.ref, p.name, p.pronoun, p.needs, p.day_run - 1) for p in data.people))


def _staff(data: StaffData) -> StaffSpec:
    return StaffSpec(data.name.lower().replace(" ", "."), data.name, data.group,
                     tuple(data.services), data.keenness)


_DATA = demo_data()
SERVICES: tuple[ServiceSpec, ...] = tuple(_service(s) for s in _DATA.provider.services)
STAFF_GROUPS: tuple[tuple[str, str], ...] = tuple(
    (g["name"], g["cue_guide"]) for g in _DATA.provider.staff_groups)
STAFF: tuple[StaffSpec, ...] = tuple(_staff(s) for s in _DATA.provider.staff)
SUPERVISORS: tuple[StaffSpec, ...] = tuple(_staff(s) for s in _DATA.provider.supervisors)
# The demo users of the service-scoped roles (scoping is visible when switching users).
DEMO_SERVICES_BY_ROLE: dict[Role, tuple[str, ...]] = {
    Role(role): tuple(user.services) for role, user in _DATA.provider.demo_users.items()}
# The demo reporter and supervisor file near misses too (the reporter's "My reports" is full).
DEMO_REPORTER_KEENNESS = {role: user.keenness for role, user in _DATA.provider.demo_users.items()}

# The planted stories' landmarks, by name, so tests and the README point at the same things.
LATE_START_REGION = _DATA.late_start_cluster.region
LATE_START_CLUSTER_DAYS = _DATA.late_start_cluster.days
BATHROOM_SERVICE = _DATA.doorway_falls.service
BATHROOM_LOCATION = _DATA.doorway_falls.place
REPEAT_FALLER_REF = _DATA.doorway_falls.person
FAMILY_NOTE_SOURCE = _DATA.family_notes.source


def demo_window(now: datetime, months: int = DEFAULT_MONTHS) -> tuple[datetime, datetime]:
    """The (start, end) of the demo's reports, naive UTC: `months` months up to `now`."""
    return now - timedelta(days=round(months * DAYS_PER_MONTH)), now


def late_start_cluster_window(now: datetime,
                              months: int = DEFAULT_MONTHS) -> tuple[datetime, datetime]:
    """The 3 weeks of the late-shift-start cluster in the North (about 5-6 months ago)."""
    start, end = demo_window(now, months)
    cluster_start = end - (end - start) * _DATA.late_start_cluster.starts_before_now
    return cluster_start, cluster_start + timedelta(days=LATE_START_CLUSTER_DAYS)


def medication_rise_start(now: datetime, months: int = DEFAULT_MONTHS) -> datetime:
    """When family-note medication mismatches start to rise (month 6 of 18)."""
    start, end = demo_window(now, months)
    return start + (end - start) * _DATA.family_notes.rise_starts


def medication_control_go_live(now: datetime, months: int = DEFAULT_MONTHS) -> datetime:
    """When the family-note check goes live (month 12 of 18: 6 months before `now`)."""
    start, end = demo_window(now, months)
    return start + (end - start) * _DATA.family_notes.control_goes_live


def planted_count(story: str, reports: int, months: int = DEFAULT_MONTHS) -> int:
    """How many reports a planted story gets (each capped at a tenth of the reports)."""
    cap = reports // 10
    if story == "late_start_cluster":
        found = _DATA.late_start_cluster
        return min(max(found.at_least, round(found.share_of_reports * reports)), cap)
    if story == "family_notes":
        notes = _DATA.family_notes
        return min(max(notes.at_least, round(notes.share_of_reports * reports)), cap)
    # The bathroom doorway: one visit every 2-3 weeks at least (about 1.8 a month).
    doorway = _DATA.doorway_falls
    return min(max(round(doorway.per_month_at_least * months),
                   round(doorway.share_of_reports * reports)), cap)
