"""The pure generator of near-miss report rows, day by day, with the planted stories."""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from core.clock import to_local, to_utc
from core.reports.vocabulary import ReportStatus
from core.taxonomy.schema import NearMissTypeSpec, TaxonomySpec
from ops.demo.profiles import _BARRIERS, GROUP_AFFINITY, PROFILES, _Scene
from ops.demo.provider import (
    BATHROOM_LOCATION,
    BATHROOM_SERVICE,
    DAY_PROGRAMME,
    DEMO_SOURCE,
    DSP,
    FAMILY_NOTE_SETTLE_DAYS,
    HCW,
    HOME_CARE,
    LATE_START_REGION,
    REPEAT_FALLER_REF,
    RESIDENTIAL,
    SUPPORTED_LIVING,
    PersonSpec,
    PlaceSpec,
    ServiceSpec,
    _planted_count,
    demo_window,
    late_start_cluster_window,
    medication_control_go_live,
    medication_rise_start,
)
from ops.demo.writers import _GENERIC_SAFEGUARDS, _SAFEGUARDS, WRITERS

# ---------------------------------------------------------------------------------------------
# The pure generator
# ---------------------------------------------------------------------------------------------


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


def _allocate(total: int, weights: Sequence[float], rng: random.Random) -> list[int]:
    """Share `total` out over `weights`: the exact total, each share within one of its due."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    offset = rng.random()
    counts: list[int] = []
    cumulative, previous = 0.0, 0
    for weight in weights:
        cumulative += weight * total / weight_sum
        reached = min(total, math.floor(cumulative + offset))
        counts.append(max(0, reached - previous))
        previous += counts[-1]
    # Floating point can leave the last unit unplaced; give it to the heaviest day.
    if previous != total:
        counts[max(range(len(weights)), key=lambda i: weights[i])] += total - previous
    return counts


def _noise(rng: random.Random, sigma: float) -> float:
    """Day-to-day variation, so trend lines look like real ones rather than rulers."""
    return rng.lognormvariate(0.0, sigma)


_WEEKDAY = (1.1, 1.05, 1.0, 1.0, 0.95, 0.75, 0.7)


@dataclass
class _Tables:
    """Cumulative weights for fast weighted choices, built once per generation."""

    types: list[str]
    type_cum: list[float]
    service_cum: dict[str, list[float]]
    place_cum: dict[tuple[int, str], list[float]]
    reporter_cum: dict[tuple[int, str], list[float]]
    person_cum: dict[int, list[float]]


def _cum(weights: Sequence[float]) -> list[float]:
    return list(accumulate(weights))


def _pick(rng: random.Random, cum: list[float]) -> int:
    return min(bisect(cum, rng.random() * cum[-1]), len(cum) - 1)


@lru_cache(maxsize=64)
def _hour_weights(hours: tuple[tuple[float, float, float], ...]) -> list[float]:
    return _cum([weight for _centre, _spread, weight in hours])


@lru_cache(maxsize=64)
def _barrier_weights(weights: tuple[float, float, float, float]) -> list[float]:
    return _cum(weights)


def _build_tables(places: DemoPlaces, taxonomy: TaxonomySpec) -> _Tables:
    known = {t.key for t in taxonomy.types if t.active} & set(places.type_versions)
    types = [key for key in PROFILES if key in known]
    if not types or not places.services:
        raise ValueError("the demo needs its services and the taxonomy loaded (run nearmiss init)")
    tables = _Tables(types, _cum([PROFILES[k].share for k in types]), {}, {}, {}, {})
    for key in types:
        profile = PROFILES[key]
        tables.service_cum[key] = _cum(
            [s.spec.volume * profile.kinds.get(s.spec.kind, 1.0) for s in places.services])
        for index, service in enumerate(places.services):
            weights = [sum(profile.tags.get(tag, 0) for tag in p.spec.tags)
                       for p in service.places]
            tables.place_cum[index, key] = _cum(weights if any(weights) else
                                                [1.0] * len(service.places))
            if service.reporters:
                tables.reporter_cum[index, key] = _cum(
                    [r.keenness * GROUP_AFFINITY.get(r.group or "", {}).get(key, 1.0)
                     for r in service.reporters])
    for index, service in enumerate(places.services):
        if service.people:
            tables.person_cum[index] = _cum([p.spec.needs for p in service.people])
    return tables


@dataclass(frozen=True)
class _Planted:
    """One report of a planted pattern: what is fixed about it."""

    kind: str  # "late_cluster", "bathroom", "family_note" or "open_safeguarding"
    service_index: int
    local: datetime | None = None  # a fixed local time ("open_safeguarding")


class _Generator:
    """Builds one report row at a time (all randomness from one seeded Random)."""

    def __init__(self, places: DemoPlaces, taxonomy: TaxonomySpec, rng: random.Random,
                 zone: ZoneInfo, now: datetime, go_live: datetime):
        self.places, self.rng, self.zone, self.now = places, rng, zone, now
        self.now_local = to_local(now, zone)
        self.go_live = go_live
        self.tables = _build_tables(places, taxonomy)
        self.specs: dict[str, NearMissTypeSpec] = {t.key: t for t in taxonomy.types}
        self.flag_keys = {f.key for f in taxonomy.interface_flags}
        self.default_group = {
            kind: places.staff_groups.get(HCW if kind == HOME_CARE else DSP)
            for kind in (RESIDENTIAL, HOME_CARE, DAY_PROGRAMME, SUPPORTED_LIVING)}

    # -- when -------------------------------------------------------------------------------

    def local_time(self, day: date, hours: tuple[tuple[float, float, float], ...]) -> datetime:
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
        return self.rng.choices(_BARRIERS, cum_weights=_barrier_weights(weights))[0]

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

    def row(self, type_key: str, day: date, planted: _Planted | None = None) -> dict[str, Any]:
        """One near-miss report row (every column but the reference number)."""
        r, tables, profile = self.rng, self.tables, PROFILES[type_key]
        kind = planted.kind if planted else None
        if planted is not None:
            service_index = planted.service_index
        else:
            service_index = _pick(r, tables.service_cum[type_key])
        service = self.places.services[service_index]

        place: DemoPlace
        person: DemoPerson | None = None
        if kind == "bathroom":
            place = next(p for p in service.places if p.spec.name == BATHROOM_LOCATION)
            person = next((p for p in service.people if p.spec.ref == REPEAT_FALLER_REF), None)
            if person is None or (r.random() < 0.2 and len(service.people) > 1):
                person = service.people[_pick(r, tables.person_cum[service_index])]
            hours: tuple[tuple[float, float, float], ...] = ((7.5, 0.75, 1.0), (20.5, 1.0, 3.0))
        else:
            place = service.places[_pick(r, tables.place_cum[service_index, type_key])]
            if service.people and r.random() < profile.person:
                person = service.people[_pick(r, tables.person_cum[service_index])]
            hours = profile.hours
        local = planted.local if planted and planted.local else self.local_time(day, hours)
        occurred = to_utc(local, self.zone)
        after_control = kind == "family_note" and occurred >= self.go_live

        if kind == "bathroom":
            barrier = self.barrier((0.82, 0.0, 0.1, 0.08))
        elif kind == "late_cluster":
            barrier = self.barrier((0.6, 0.05, 0.1, 0.25))
        elif kind == "family_note":
            weights = (0.25, 0.7, 0.05, 0.0) if after_control else (0.75, 0.0, 0.15, 0.1)
            barrier = self.barrier(weights)
        else:
            barrier = self.barrier(profile.barriers)

        scene = _Scene(r, place.spec, person.spec if person else None, local, barrier,
                       service.spec.kind, planted=kind is not None, after_control=after_control)
        description, capture = WRITERS[type_key](scene)

        still_at_risk = r.random() < profile.at_risk
        safeguards = None
        if still_at_risk:
            template = _SAFEGUARDS.get(type_key) if r.random() < 0.6 else None
            safeguards = (template or r.choice(_GENERIC_SAFEGUARDS)).format(**scene.words())

        flag = None
        flag_chance = 0.3 if kind == "family_note" else profile.flag
        flags = {"medication_reconciliation": 1.0} if kind == "family_note" else profile.flags
        if flags and r.random() < flag_chance:
            usable = [(k, w) for k, w in flags.items() if k in self.flag_keys]
            if usable:
                flag = r.choices([k for k, _ in usable], [w for _, w in usable])[0]

        reporter: DemoReporter | None = None
        if r.random() >= profile.anonymous and service.reporters:
            reporter = service.reporters[_pick(r, tables.reporter_cum[service_index, type_key])]
        staff_group_id = (reporter.staff_group_id if reporter is not None
                          else self.default_group.get(service.spec.kind))

        return {
            "type_key": type_key,
            "type_version": self.places.type_versions[type_key],
            "description": description,
            "occurred_at": occurred,
            # The open safeguarding concern is reported at once, so its hour has run out by now.
            "reported_at": (occurred + timedelta(minutes=r.randint(10, 40))
                            if kind == "open_safeguarding" else self.reported_at(occurred)),
            "service_id": service.id,
            "location_id": place.id,
            "barrier": barrier,
            "still_at_risk": still_at_risk,
            "immediate_safeguards": safeguards,
            "person_id": person.id if person else None,
            "route_id": self.choose_route(service, place.spec, person, type_key, local),
            "staff_group_id": staff_group_id,
            "interface_flag": flag,
            "capture_fields": self.capture(type_key, capture, keep_source=kind == "family_note"),
            "reporter_id": reporter.user_id if reporter else None,
            "status": ReportStatus.NEW.value,
            "source": DEMO_SOURCE,
            "submission_key": None,
            "version_id": 1,
        }

    def capture(self, type_key: str, values: dict[str, Any], *,
                keep_source: bool) -> dict[str, Any]:
        """The optional quick-form fields a reporter filled in, valid for the live template."""
        r = self.rng
        fill = keep_source or r.random() < PROFILES[type_key].capture
        spec = self.specs.get(type_key)
        if spec is None or not fill:
            return {}
        kept: dict[str, Any] = {}
        for wanted in spec.capture_fields:
            if wanted.key not in values:
                continue
            forced = keep_source and wanted.key == "source_of_discrepancy"
            if not forced and r.random() >= 0.8:
                continue  # people skip some optional fields
            value = values[wanted.key]
            if wanted.kind == "choice" and value not in wanted.options:
                continue
            if wanted.kind == "yes_no" and not isinstance(value, bool):
                continue
            kept[wanted.key] = value
        return kept


def _report_rows(places: DemoPlaces, taxonomy: TaxonomySpec, *, reports: int, seed: int,
                 months: int, now: datetime, zone: ZoneInfo,
                 safeguarding_minutes: int = 60) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Yield (report row as filed, planted pattern or None) in order of reported_at.

    `safeguarding_minutes`: how soon a safeguarding escalation must be acknowledged (the open
    concern is reported long enough ago to be overdue). Memory stays flat: the rows are made
    day by day and held only until no later row can be reported before them.
    """
    if reports <= 0:
        return
    rng = random.Random(seed)
    start, _ = demo_window(now, months)
    go_live = medication_control_go_live(now, months)
    generator = _Generator(places, taxonomy, rng, zone, now, go_live)
    now_local = to_local(now, zone)
    first_day = to_local(start, zone).date() + timedelta(days=1)
    days = [first_day + timedelta(days=i) for i in range((now_local.date() - first_day).days + 1)]
    elapsed_today = (now_local - datetime.combine(now_local.date(), time())) / timedelta(days=1)

    def day_weight(index: int, day: date) -> float:
        fraction = index / max(1, len(days) - 1)
        weight = _WEEKDAY[day.weekday()] * (0.8 + 0.4 * fraction)  # reporting culture grows
        return weight * (elapsed_today if day == now_local.date() else 1.0)

    # Planted counts scale with the reports asked for, each capped at a tenth of them.
    cap = reports // 10
    services = places.services
    north = [i for i, s in enumerate(services) if s.region == LATE_START_REGION] or \
        list(range(len(services)))
    maple = next((i for i, s in enumerate(services) if s.spec.name == BATHROOM_SERVICE
                  and any(p.spec.name == BATHROOM_LOCATION for p in s.places)), None)
    types = set(generator.tables.types)
    n_late = _planted_count("late_cluster", reports) if "late_shift_start" in types else 0
    n_med = _planted_count("family_note", reports) if "medication_discrepancy" in types else 0
    # d. One safeguarding concern reported a few hours ago that nobody has acknowledged yet
    #    (it is reported at most 40 minutes after it happened: overdue by an hour or more).
    open_local: datetime | None = None
    if "safeguarding_rights" in types and cap >= 1:
        open_local = now_local.replace(second=0) - timedelta(
            minutes=safeguarding_minutes + rng.randint(90, 300))
    n_open = 1 if open_local is not None else 0

    # b. The bathroom doorway: a near fall every 2-3 weeks, more per visit at large scale.
    slots: list[int] = []
    if maple is not None and "transfer_near_fall" in types:
        slot = rng.randint(0, 10)
        while slot < len(days):
            slots.append(slot)
            slot += rng.randint(14, 21)
    n_bathroom = min(max(len(slots), round(0.012 * reports)), cap) if slots else 0
    bathroom = [0] * len(days)
    for slot, count in zip(slots, _allocate(n_bathroom, [1.0] * len(slots), rng), strict=True):
        for _ in range(count):
            spread = 0 if count <= 3 else rng.randint(0, 3)
            bathroom[min(slot + spread, len(days) - 1)] += 1

    # a. The late-start cluster: a 3-week bulge in the North, busiest mid-window.
    cluster_start, cluster_end = late_start_cluster_window(now, months)
    first_cluster_day = to_local(cluster_start, zone).date()
    last_cluster_day = to_local(cluster_end, zone).date()
    in_cluster = [i for i, d in enumerate(days) if first_cluster_day <= d < last_cluster_day]
    late = [0] * len(days)
    if in_cluster:
        weights = [(math.sin(math.pi * (k + 0.5) / len(in_cluster)) + 0.3)
                   * (1.0 if days[i].weekday() < 5 else 0.6) * _noise(rng, 0.3)
                   for k, i in enumerate(in_cluster)]
        for i, count in zip(in_cluster, _allocate(n_late, weights, rng), strict=True):
            late[i] = count
    else:
        n_late = 0

    # c. Family-note mismatches: flat, a steady rise, then a fall once the control is live.
    rise_start = medication_rise_start(now, months)
    rise_length = go_live - rise_start

    def family_note_rate(day: date) -> float:
        moment = to_utc(datetime.combine(day, time(12)), zone)
        if moment < rise_start:
            return 1.0
        if moment < go_live:
            return 1.0 + 5.0 * ((moment - rise_start) / rise_length)
        settled = (moment - go_live) / timedelta(days=FAMILY_NOTE_SETTLE_DAYS)
        return 6.0 - 5.4 * min(1.0, settled)

    family_note = _allocate(n_med, [
        family_note_rate(d) * (1.0 if d.weekday() < 5 else 0.8) * _noise(rng, 0.25)
        * (elapsed_today if d == now_local.date() else 1.0) for d in days], rng)

    background = _allocate(reports - n_late - n_med - n_bathroom - n_open,
                           [day_weight(i, d) * _noise(rng, 0.25) for i, d in enumerate(days)],
                           rng)
    med_services = generator.tables.service_cum.get("medication_discrepancy")
    north_cum = _cum([services[i].spec.volume
                      * PROFILES["late_shift_start"].kinds.get(services[i].spec.kind, 1.0)
                      for i in north])

    pending: list[tuple[datetime, int, dict[str, Any], str | None]] = []
    sequence = 0
    for index, day in enumerate(days):
        made: list[tuple[dict[str, Any], str | None]] = []
        for _ in range(bathroom[index]):
            made.append((generator.row("transfer_near_fall", day,
                                       _Planted("bathroom", maple or 0)), "bathroom"))
        for _ in range(late[index]):
            service_index = north[_pick(rng, north_cum)]
            made.append((generator.row("late_shift_start", day,
                                       _Planted("late_cluster", service_index)), "late_cluster"))
        for _ in range(family_note[index]):
            assert med_services is not None
            made.append((generator.row("medication_discrepancy", day,
                                       _Planted("family_note", _pick(rng, med_services))),
                         "family_note"))
        if open_local is not None and day == open_local.date():
            service_index = _pick(rng, generator.tables.service_cum["safeguarding_rights"])
            made.append((generator.row("safeguarding_rights", day, _Planted(
                "open_safeguarding", service_index, open_local)), "open_safeguarding"))
        for _ in range(background[index]):
            type_key = generator.tables.types[_pick(rng, generator.tables.type_cum)]
            made.append((generator.row(type_key, day), None))
        for row, kind in made:
            heapq.heappush(pending, (row["reported_at"], sequence, row, kind))
            sequence += 1
        # Rows made later happen on later days, so anything reported before tomorrow is final.
        boundary = to_utc(datetime.combine(day + timedelta(days=1), time()), zone)
        while pending and pending[0][0] < boundary:
            _at, _seq, row, kind = heapq.heappop(pending)
            yield row, kind
    while pending:
        _at, _seq, row, kind = heapq.heappop(pending)
        yield row, kind
