"""The demo's reports day by day: the everyday background and the planted stories on top,
yielded in reporting order with flat memory."""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.clock import to_local, to_utc
from core.taxonomy.schema import TaxonomySpec
from ops.demo.data import demo_data
from ops.demo.generator import Generator, Planted
from ops.demo.places import DemoPlaces
from ops.demo.profiles import PROFILES
from ops.demo.provider import (
    BATHROOM_LOCATION,
    BATHROOM_SERVICE,
    LATE_START_REGION,
    demo_window,
    late_start_cluster_window,
    medication_control_go_live,
    medication_rise_start,
    planted_count,
)
from ops.demo.sampling import allocate, cum, noise, pick

_DATA = demo_data()
_WEEKDAY = tuple(_DATA.provider.reporting.weekday.values())


@dataclass
class _Calendar:
    """The demo's local days, oldest first, and how much of today has gone."""

    days: list[date]
    today: date
    elapsed_today: float  # share of today up to now

    def today_share(self, day: date) -> float:
        return self.elapsed_today if day == self.today else 1.0

    def index(self, first: date, last: date) -> list[int]:
        """Indices of the days in [first, last)."""
        return [i for i, d in enumerate(self.days) if first <= d < last]


def _calendar(now: datetime, months: int, zone: ZoneInfo) -> _Calendar:
    start, _ = demo_window(now, months)
    now_local = to_local(now, zone)
    first_day = to_local(start, zone).date() + timedelta(days=1)
    days = [first_day + timedelta(days=i) for i in range((now_local.date() - first_day).days + 1)]
    elapsed = (now_local - datetime.combine(now_local.date(), time())) / timedelta(days=1)
    return _Calendar(days, now_local.date(), elapsed)


def _doorway(cal: _Calendar, reports: int, rng: random.Random) -> list[int]:
    """Near falls at the bathroom doorway by day: a visit every 2-3 weeks, more per visit at
    large scale."""
    story = _DATA.doorway_falls
    slots: list[int] = []
    slot = rng.randint(0, story.first_within_days)
    while slot < len(cal.days):
        slots.append(slot)
        slot += rng.randint(*story.every_days)
    total = min(max(len(slots), round(story.share_of_reports * reports)), reports // 10)
    counts = [0] * len(cal.days)
    for slot, count in zip(slots, allocate(total, [1.0] * len(slots), rng), strict=True):
        for _ in range(count):
            spread = 0 if count <= 3 else rng.randint(0, 3)
            counts[min(slot + spread, len(cal.days) - 1)] += 1
    return counts


def _late_cluster(cal: _Calendar, total: int, now: datetime, months: int, zone: ZoneInfo,
                  rng: random.Random) -> list[int]:
    """The late-start cluster by day: a 3-week bulge, busiest mid-window."""
    story = _DATA.late_start_cluster
    start, end = late_start_cluster_window(now, months)
    inside = cal.index(to_local(start, zone).date(), to_local(end, zone).date())
    counts = [0] * len(cal.days)
    if not inside:
        return counts
    weights = [(math.sin(math.pi * (k + 0.5) / len(inside)) + 0.3)
               * (1.0 if cal.days[i].weekday() < 5 else story.weekends) * noise(rng, 0.3)
               for k, i in enumerate(inside)]
    for i, count in zip(inside, allocate(total, weights, rng), strict=True):
        counts[i] = count
    return counts


def _family_notes(cal: _Calendar, total: int, now: datetime, months: int, zone: ZoneInfo,
                  rng: random.Random) -> list[int]:
    """Family-note mismatches by day: flat, a steady rise, then a fall once the check is live."""
    story = _DATA.family_notes
    rise_start = medication_rise_start(now, months)
    go_live = medication_control_go_live(now, months)

    def rate(day: date) -> float:
        moment = to_utc(datetime.combine(day, time(12)), zone)
        if moment < rise_start:
            return 1.0
        if moment < go_live:
            return 1.0 + (story.rises_to - 1.0) * ((moment - rise_start) / (go_live - rise_start))
        settled = (moment - go_live) / timedelta(days=story.settles_in_days)
        return story.rises_to - (story.rises_to - story.falls_to) * min(1.0, settled)

    return allocate(total, [rate(d) * (1.0 if d.weekday() < 5 else story.weekends)
                            * noise(rng, 0.25) * cal.today_share(d) for d in cal.days], rng)


def _background(gen: Generator, cal: _Calendar, total: int,
                rng: random.Random) -> dict[tuple[str, int], list[int]]:
    """Everyday reports by type, service and day: weekdays busier, a reporting culture that
    grows, day-to-day variation. Each type's reports at each service are spread over the days
    evenly for their rate (not drawn at random), so chance alone never bunches them into what
    the cluster rule would call a cluster: the clusters are the planted stories'."""
    reporting = _DATA.provider.reporting
    low, high = reporting.growth
    last = max(1, len(cal.days) - 1)
    base = [_WEEKDAY[d.weekday()] * (low + (high - low) * i / last) * cal.today_share(d)
            for i, d in enumerate(cal.days)]
    services = gen.places.services
    series, weights = [], []
    for key in gen.tables.types:
        profile = PROFILES[key]
        volumes = [s.spec.volume * profile.kinds.get(s.spec.kind, 1.0) for s in services]
        for index, volume in enumerate(volumes):
            series.append((key, index))
            weights.append(profile.share * volume / sum(volumes))
    counts: dict[tuple[str, int], list[int]] = {}
    noisy: dict[str, list[float]] = {}  # one day-to-day variation per type
    for (key, index), count in zip(series, allocate(total, weights, rng), strict=True):
        if count:
            if key not in noisy:
                noisy[key] = [b * noise(rng, reporting.day_to_day) for b in base]
            counts[key, index] = allocate(count, noisy[key], rng)
    return counts

@dataclass
class _Plan:
    """How many reports of each planted story and the background fall on each day."""

    doorway: list[int]
    late: list[int]
    notes: list[int]
    background: dict[tuple[str, int], list[int]]  # by (type, service index)
    overdue: datetime | None  # the overdue concern's local time
    recent: list[tuple[datetime, int, str]]  # (local time, service index, type) of recent cases
    maple: int
    north: list[int]
    north_cum: list[float]


def _plan(gen: Generator, cal: _Calendar, reports: int, months: int,
          safeguarding_minutes: int) -> _Plan:
    rng, now, zone, services = gen.rng, gen.now, gen.zone, gen.places.services
    types = set(gen.tables.types)
    north = [i for i, s in enumerate(services) if s.region == LATE_START_REGION] or \
        list(range(len(services)))
    maple = next((i for i, s in enumerate(services) if s.spec.name == BATHROOM_SERVICE
                  and any(p.spec.name == BATHROOM_LOCATION for p in s.places)), None)
    n_late = planted_count("late_start_cluster", reports) if "late_shift_start" in types else 0
    n_med = planted_count("family_notes", reports) if "medication_discrepancy" in types else 0
    overdue: datetime | None = None
    if _DATA.everyday.overdue_concern.type in types and reports // 10 >= 1:
        overdue = to_local(now, zone).replace(second=0) - timedelta(
            minutes=safeguarding_minutes + rng.randint(
                *_DATA.everyday.overdue_concern.minutes_past_due))
    doorway = _doorway(cal, reports, rng) if maple is not None and \
        "transfer_near_fall" in types else [0] * len(cal.days)
    late = _late_cluster(cal, n_late, now, months, zone, rng)
    notes = _family_notes(cal, n_med, now, months, zone, rng)
    recent = _recent_cases(gen, cal, reports, types)
    rest = reports - sum(late) - n_med - sum(doorway) - (overdue is not None) - len(recent)
    profile = PROFILES["late_shift_start"]
    return _Plan(doorway, late, notes, _background(gen, cal, rest, rng), overdue, recent,
                 maple or 0, north,
                 cum([services[i].spec.volume * profile.kinds.get(services[i].spec.kind, 1.0)
                      for i in north]))


def _recent_cases(gen: Generator, cal: _Calendar, reports: int,
                  types: set[str]) -> list[tuple[datetime, int, str]]:
    """The stories' recent cases that fit: a service of the demo, inside the demo's days."""
    now_local = to_local(gen.now, gen.zone).replace(second=0, microsecond=0)
    names = {s.spec.name: i for i, s in enumerate(gen.places.services)}
    found = []
    for key, case in _DATA.recent_cases.items():
        local = now_local - timedelta(hours=case.hours_ago)
        if key in types and case.service in names and reports >= 100 \
                and local.date() >= cal.days[0]:
            found.append((local, names[case.service], key))
    return sorted(found)


def _made_on(gen: Generator, plan: _Plan, index: int,
             day: date) -> list[tuple[dict[str, Any], str | None]]:
    """Every report that happened on one day, planted first."""
    rng, tables = gen.rng, gen.tables
    made: list[tuple[dict[str, Any], str | None]] = []
    for _ in range(plan.doorway[index]):
        made.append((gen.row("transfer_near_fall", day, Planted("doorway_falls", plan.maple)),
                     "doorway_falls"))
    for _ in range(plan.late[index]):
        service = plan.north[pick(rng, plan.north_cum)]
        made.append((gen.row("late_shift_start", day, Planted("late_start_cluster", service)),
                     "late_start_cluster"))
    for _ in range(plan.notes[index]):
        service = pick(rng, tables.service_cum["medication_discrepancy"])
        made.append((gen.row("medication_discrepancy", day, Planted("family_notes", service)),
                     "family_notes"))
    if plan.overdue is not None and day == plan.overdue.date():
        concern = _DATA.everyday.overdue_concern.type
        service = pick(rng, tables.service_cum[concern])
        made.append((gen.row(concern, day, Planted("overdue_concern", service, plan.overdue)),
                     "overdue_concern"))
    for local, service, key in plan.recent:
        if local.date() == day:
            made.append((gen.row(key, day, Planted("recent_case", service, local)),
                         "recent_case"))
    for (key, service), counts in plan.background.items():
        for _ in range(counts[index]):
            made.append((gen.row(key, day, service_index=service), None))
    return made


def report_rows(places: DemoPlaces, taxonomy: TaxonomySpec, *, reports: int, seed: int,
                months: int, now: datetime, zone: ZoneInfo,
                safeguarding_minutes: int = 60) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Yield (report row as filed, planted story or None) in order of reported_at.

    `safeguarding_minutes`: how soon a safeguarding escalation must be acknowledged (the
    overdue concern is reported long enough ago to be overdue). Memory stays flat: the rows
    are made day by day and held only until no later row can be reported before them.
    """
    if reports <= 0:
        return
    rng = random.Random(seed)
    gen = Generator(places, taxonomy, rng, zone, now, medication_control_go_live(now, months))
    cal = _calendar(now, months, zone)
    plan = _plan(gen, cal, reports, months, safeguarding_minutes)
    pending: list[tuple[datetime, int, dict[str, Any], str | None]] = []
    sequence = 0
    for index, day in enumerate(cal.days):
        for row, story in _made_on(gen, plan, index, day):
            heapq.heappush(pending, (row["reported_at"], sequence, row, story))
            sequence += 1
        # Rows made later happen on later days, so anything reported before tomorrow is final.
        boundary = to_utc(datetime.combine(day + timedelta(days=1), time()), zone)
        while pending and pending[0][0] < boundary:
            _at, _seq, row, story = heapq.heappop(pending)
            yield row, story
    while pending:
        _at, _seq, row, story = heapq.heappop(pending)
        yield row, story
