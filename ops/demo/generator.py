"""One near-miss report row at a time: where, when, who, what the reporter wrote."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from core.clock import to_local, to_utc
from core.reports.vocabulary import ReportStatus
from core.taxonomy.schema import NearMissTypeSpec, TaxonomySpec
from ops.demo.data import demo_data
from ops.demo.places import DemoPerson, DemoPlace, DemoPlaces, DemoReporter, DemoService
from ops.demo.profiles import BARRIERS, GROUP_AFFINITY, PROFILES, Scene, TypeProfile
from ops.demo.provider import DEMO_SOURCE, DSP, HCW, HOME_CARE, PlaceSpec
from ops.demo.sampling import cum, pick
from ops.demo.writers import WRITERS, still_at_risk_safeguards

Hours = tuple[tuple[float, float, float], ...]
_DATA = demo_data()
_GENERIC_SAFEGUARDS = tuple(_DATA.everyday.after_filing.still_at_risk_safeguards)
# A recent case keeps every capture field its story file gives.
_RECENT_FIELDS = tuple({key for case in _DATA.recent_cases.values() for key in case.capture})


@dataclass
class Tables:
    """Cumulative weights for fast weighted choices, built once per generation."""

    types: list[str]
    type_cum: list[float]
    service_cum: dict[str, list[float]]
    place_cum: dict[tuple[int, str], list[float]]
    reporter_cum: dict[tuple[int, str], list[float]]
    person_cum: dict[int, list[float]]


@lru_cache(maxsize=64)
def _hour_weights(hours: Hours) -> list[float]:
    return cum([weight for _centre, _spread, weight in hours])


@lru_cache(maxsize=64)
def _barrier_weights(weights: tuple[float, float, float, float]) -> list[float]:
    return cum(weights)


def build_tables(places: DemoPlaces, taxonomy: TaxonomySpec) -> Tables:
    """The weighted choices of types, services, places, reporters and people."""
    types = [t.key for t in taxonomy.types
             if t.active and t.key in PROFILES and t.key in places.type_versions]
    if not types or not places.services:
        raise ValueError("the demo needs its services and the taxonomy loaded (run nearmiss init)")
    tables = Tables(types, cum([PROFILES[k].share for k in types]), {}, {}, {}, {})
    for key in types:
        profile = PROFILES[key]
        tables.service_cum[key] = cum(
            [s.spec.volume * profile.kinds.get(s.spec.kind, 1.0) for s in places.services])
        for index, service in enumerate(places.services):
            weights = [sum(profile.tags.get(tag, 0) for tag in p.spec.tags)
                       for p in service.places]
            tables.place_cum[index, key] = cum(weights if any(weights) else
                                               [1.0] * len(service.places))
            if service.reporters:
                tables.reporter_cum[index, key] = cum(
                    [r.keenness * GROUP_AFFINITY.get(r.group or "", {}).get(key, 1.0)
                     for r in service.reporters])
    for index, service in enumerate(places.services):
        if service.people:
            tables.person_cum[index] = cum([p.spec.needs for p in service.people])
    return tables


@dataclass(frozen=True)
class Planted:
    """One report of a planted story: what is fixed about it."""

    story: str  # "doorway_falls", "family_notes", "late_start_cluster", "overdue_concern",
    #             "recent_case"
    service_index: int
    local: datetime | None = None  # a fixed local time ("overdue_concern", "recent_case")


@dataclass(frozen=True)
class _Where:
    index: int  # of the service in DemoPlaces.services
    service: DemoService
    place: DemoPlace
    person: DemoPerson | None
    hours: Hours


class Generator:
    """Builds one report row at a time (all randomness from one seeded Random)."""

    def __init__(self, places: DemoPlaces, taxonomy: TaxonomySpec, rng: random.Random,
                 zone: ZoneInfo, now: datetime, go_live: datetime):
        self.places, self.rng, self.zone, self.now = places, rng, zone, now
        self.now_local = to_local(now, zone)
        self.go_live = go_live
        self.tables = build_tables(places, taxonomy)
        self.specs: dict[str, NearMissTypeSpec] = {t.key: t for t in taxonomy.types}
        self.flag_keys = {f.key for f in taxonomy.interface_flags}
        self.default_group = {s.spec.kind: places.staff_groups.get(
            HCW if s.spec.kind == HOME_CARE else DSP) for s in places.services}

    # -- when -------------------------------------------------------------------------------

    def local_time(self, day: date, hours: Hours) -> datetime:
        """A local time on `day` drawn from the type's daily rhythm (never after now)."""
        r = self.rng
        midnight = datetime.combine(day, time())
        is_today = day == self.now_local.date()
        for _ in range(25):
            centre, spread, _weight = r.choices(hours, cum_weights=_hour_weights(hours))[0]
            minutes = int((r.gauss(centre, spread) % 24) * 60)
            moment = midnight + timedelta(minutes=minutes)
            if not is_today or moment < self.now_local - timedelta(minutes=1):
                return moment
        elapsed = max(1, int((self.now_local - midnight).total_seconds() // 60) - 1)
        return midnight + timedelta(minutes=r.randrange(elapsed))

    def barrier(self, weights: tuple[float, float, float, float]) -> str:
        return self.rng.choices(BARRIERS, cum_weights=_barrier_weights(weights))[0]

    def reported_at(self, occurred: datetime) -> datetime:
        """Minutes to a day after it happened: most reports the same shift."""
        r = self.rng
        band = r.random()
        if band < 0.6:
            seconds = r.randint(10 * 60, 2 * 3600)
        elif band < 0.9:
            seconds = r.randint(2 * 3600, 12 * 3600)
        else:
            seconds = r.randint(12 * 3600, 24 * 3600)
        return min(self.now, occurred + timedelta(seconds=seconds))

    # -- who and where ----------------------------------------------------------------------

    def where(self, type_key: str, planted: Planted | None,
              service_index: int | None = None) -> _Where:
        """The service, place, person and daily rhythm of one near miss."""
        r, tables = self.rng, self.tables
        index = planted.service_index if planted else service_index
        if index is None:
            index = pick(r, tables.service_cum[type_key])
        service = self.places.services[index]
        if planted is not None and planted.story == "recent_case":
            case = _DATA.recent_cases[type_key]
            place = next((p for p in service.places if p.spec.name == case.place),
                         service.places[0])
            person = next((p for p in service.people if p.spec.ref == case.person), None)
            return _Where(index, service, place, person, PROFILES[type_key].hours)
        if planted is not None and planted.story == "doorway_falls":
            doorway = _DATA.doorway_falls
            place = next(p for p in service.places if p.spec.name == doorway.place)
            person = next((p for p in service.people if p.spec.ref == doorway.person), None)
            if person is None or (r.random() < doorway.someone_else and len(service.people) > 1):
                person = service.people[pick(r, tables.person_cum[index])]
            return _Where(index, service, place, person, tuple(doorway.times_of_day))
        place = service.places[pick(r, tables.place_cum[index, type_key])]
        person = None
        if service.people and r.random() < PROFILES[type_key].person:
            person = service.people[pick(r, tables.person_cum[index])]
        return _Where(index, service, place, person, PROFILES[type_key].hours)

    def choose_route(self, service: DemoService, place: PlaceSpec, person: DemoPerson | None,
                     type_key: str, local: datetime) -> int | None:
        r = self.rng
        if not service.routes:
            return None
        if service.spec.kind == HOME_CARE:
            if r.random() < 0.08:
                return None
            day_runs = service.routes[:-1] or service.routes
            if not 6 <= local.hour < 17:
                return service.routes[-1]
            if person is not None:
                return day_runs[person.spec.run % len(day_runs)]
            return r.choice(day_runs)
        if "vehicle" in place.tags or type_key == "transport" or (
                type_key == "community_safety" and r.random() < 0.5):
            return r.choice(service.routes)
        return None

    def reporter(self, type_key: str, where: _Where,
                 profile: TypeProfile) -> DemoReporter | None:
        """Who reported it (None: anonymous)."""
        r, reporters = self.rng, where.service.reporters
        if r.random() < profile.anonymous or not reporters:
            return None
        return reporters[pick(r, self.tables.reporter_cum[where.index, type_key])]

    # -- what ---------------------------------------------------------------------------------

    def what_stopped_it(self, type_key: str, profile: TypeProfile, story: str | None,
                        after_control: bool) -> str:
        if story == "doorway_falls":
            return self.barrier(_DATA.doorway_falls.what_stopped_it.weights())
        if story == "late_start_cluster":
            return self.barrier(_DATA.late_start_cluster.what_stopped_it.weights())
        if story == "family_notes":
            found = _DATA.family_notes.what_stopped_it
            return self.barrier((found.after if after_control else found.before).weights())
        if story == "recent_case":
            return _DATA.recent_cases[type_key].what_stopped_it
        return self.barrier(profile.barriers)

    def safeguards(self, type_key: str, scene: Scene) -> str | None:
        """What the reporter did for someone still at risk."""
        r = self.rng
        template = still_at_risk_safeguards(type_key) if r.random() < 0.6 else None
        return (template or r.choice(_GENERIC_SAFEGUARDS)).format(**scene.words())

    def flag(self, profile: TypeProfile, story: str | None) -> str | None:
        """The interface flag the reporter ticked, if any."""
        r = self.rng
        if story == "recent_case":
            return None  # as the seed tells it
        if story == "family_notes":
            chance, flags = _DATA.family_notes.interface_flag, {"medication_reconciliation": 1.0}
        else:
            chance, flags = profile.flag, profile.flags
        if not flags or r.random() >= chance:
            return None
        usable = [(k, w) for k, w in flags.items() if k in self.flag_keys]
        return r.choices([k for k, _ in usable], [w for _, w in usable])[0] if usable else None

    def words(self, type_key: str, scene: Scene,
              story: str | None) -> tuple[str, dict[str, Any], bool]:
        """The reporter's description and capture fields, and whether someone is still at
        risk (a recent case is as its story file tells it)."""
        description, capture = WRITERS[type_key](scene)
        if story != "recent_case":
            return description, capture, self.rng.random() < PROFILES[type_key].at_risk
        case = _DATA.recent_cases[type_key]
        words = scene.words()
        capture.update({key: value.format(**words) if isinstance(value, str) else value
                        for key, value in case.capture.items()})
        return case.description.format(**words), capture, case.still_at_risk

    def row(self, type_key: str, day: date, planted: Planted | None = None,
            service_index: int | None = None) -> dict[str, Any]:
        """One near-miss report row (every column but the reference number)."""
        r, profile = self.rng, PROFILES[type_key]
        story = planted.story if planted else None
        where = self.where(type_key, planted, service_index)
        local = planted.local if planted and planted.local else self.local_time(day, where.hours)
        occurred = to_utc(local, self.zone)
        after_control = story == "family_notes" and occurred >= self.go_live
        barrier = self.what_stopped_it(type_key, profile, story, after_control)
        scene = Scene(r, where.place.spec, where.person.spec if where.person else None, local,
                      barrier, where.service.spec.kind, planted=story,
                      after_control=after_control)
        description, capture, still_at_risk = self.words(type_key, scene, story)
        safeguards = self.safeguards(type_key, scene) if still_at_risk else None
        flag = self.flag(profile, story)
        reporter = self.reporter(type_key, where, profile)
        reported_soon = story in ("overdue_concern", "recent_case")
        return {
            "type_key": type_key,
            "type_version": self.places.type_versions[type_key],
            "description": description,
            "occurred_at": occurred,
            # The overdue concern is reported at once, so its hour has run out by now.
            "reported_at": (occurred + timedelta(minutes=r.randint(10, 40))
                            if reported_soon else self.reported_at(occurred)),
            "service_id": where.service.id,
            "location_id": where.place.id,
            "barrier": barrier,
            "still_at_risk": still_at_risk,
            "immediate_safeguards": safeguards,
            "person_id": where.person.id if where.person else None,
            "route_id": self.choose_route(where.service, where.place.spec, where.person,
                                          type_key, local),
            "staff_group_id": (reporter.staff_group_id if reporter is not None
                               else self.default_group.get(where.service.spec.kind)),
            "interface_flag": flag,
            "capture_fields": self.capture(type_key, capture,
                                           keep=story in ("family_notes", "recent_case")),
            "reporter_id": reporter.user_id if reporter else None,
            "status": ReportStatus.NEW.value,
            "source": DEMO_SOURCE,
            "submission_key": None,
            "version_id": 1,
        }

    def capture(self, type_key: str, values: dict[str, Any], *, keep: bool) -> dict[str, Any]:
        """The optional quick-form fields a reporter filled in, valid for the live template
        (`keep`: a planted story's, with the field that marks it, or every field)."""
        r = self.rng
        fill = keep or r.random() < PROFILES[type_key].capture
        spec = self.specs.get(type_key)
        if spec is None or not fill:
            return {}
        kept: dict[str, Any] = {}
        for wanted in spec.capture_fields:
            if wanted.key not in values:
                continue
            forced = keep and wanted.key in ("source_of_discrepancy", *_RECENT_FIELDS)
            if not forced and r.random() >= 0.8:
                continue  # people skip some optional fields
            value = values[wanted.key]
            if wanted.kind == "choice" and value not in wanted.options:
                continue
            if wanted.kind == "yes_no" and not isinstance(value, bool):
                continue
            kept[wanted.key] = value
        return kept
