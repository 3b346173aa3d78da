"""The cluster rule, pure functions shared by filing, the episode store and governance.

A cluster is unusually many near misses of one type in one service or region within
`cluster_window_days`. "Unusually" is decided against a false-alarm budget, not a fixed count:

- The usual count per window comes from the `cluster_baseline_days` before the window. A
  service with none of a type in that time is not taken as "never": its rate is borrowed in
  part from the type's rate across all services (`cluster_borrow_days` of their experience,
  which can only raise it) and is never below `cluster_usual_floor_per_week`. Otherwise any
  three reports would fire.
- The provider accepts `cluster_false_alarms_per_service_year` alerts a year per service that
  are chance alone, spread evenly over every series it watches (each type in each service and
  each region). A series' threshold is the smallest count whose expected number of chance
  crossings a year, at its usual rate, fits its share (a sliding window reaches k when a
  report arrives while k - 1 are already in it: `chance_alarms_per_year`).
- One burst is one episode: firing windows that overlap are one episode, which stays open while
  the burst continues and alerts again only when it grows (`has_grown`).
- A burst is reported once, at the narrowest scope that explains it: a region episode only when
  it spans services (it still fires without its busiest service), and then instead of the
  service episodes inside it; otherwise the service episodes.

`bench/cluster_alerts.py` measures the operating characteristic (false episodes per
service-year on stationary data, detection by burst size and usual rate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from core.config import TriageRules

DAYS_PER_YEAR = 365.0
# An acknowledged or dismissed episode alerts again once its peak has grown by this share of
# the peak last seen, and by at least this many reports (one more report is not news).
GROWTH_SHARE = 0.25
GROWTH_MIN = 2


def chance_exactly(count: int, usual: float) -> float:
    """P(X = count) for a Poisson count with mean `usual`."""
    if count < 0:
        return 0.0
    if usual <= 0:
        return 1.0 if count == 0 else 0.0
    return math.exp(-usual + count * math.log(usual) - math.lgamma(count + 1))


def chance_at_least(count: int, usual: float) -> float:
    """P(X >= count) for a Poisson count with mean `usual`."""
    if count <= 0:
        return 1.0
    if usual <= 0:
        return 0.0
    below = sum(chance_exactly(k, usual) for k in range(count))
    return max(0.0, 1.0 - below)


def chance_alarms_per_year(threshold: int, usual: float, window_days: int) -> float:
    """Expected times a year that chance alone brings a sliding window's count up to
    `threshold`, for Poisson reports averaging `usual` per window.

    The count reaches k when a report arrives (rate usual / window_days a day) while k - 1
    are already in the window; overlapping crossings are one episode, so this is an upper
    bound on the episodes chance raises.
    """
    if threshold <= 0:
        return math.inf
    return DAYS_PER_YEAR / window_days * usual * chance_exactly(threshold - 1, usual)


def series_budget(rules: TriageRules, *, services: int, series: int) -> float:
    """Chance alerts a year each watched series may raise: the provider's budget
    (`cluster_false_alarms_per_service_year` times its services) shared by every series."""
    if services <= 0 or series <= 0:
        return 0.0
    return rules.cluster_false_alarms_per_service_year * services / series


def watched_series(types: int, services: int, regions: int) -> int:
    """How many series the rule watches: each type in each service and in each region."""
    return types * (services + regions)


@lru_cache(maxsize=65536)
def _threshold(usual: float, budget: float, window_days: int, min_reports: int) -> int:
    # Above the usual count, the chance of reaching one more falls with every step; the
    # Poisson terms are stepped (P(k) = P(k - 1) * usual / k) rather than recomputed.
    if usual <= 0:
        return min_reports
    k = max(min_reports, math.floor(usual) + 1)
    per_year = DAYS_PER_YEAR / window_days * usual
    term = chance_exactly(k - 1, usual)
    while per_year * term > budget:
        term *= usual / k
        k += 1
    return k


def threshold(usual: float, budget: float, rules: TriageRules) -> int:
    """The fewest reports in one window that make a cluster, at `usual` per window."""
    return _threshold(round(usual, 9), budget, rules.cluster_window_days,
                      rules.cluster_min_reports)


def usual_per_window(baseline_count: int, baseline_days: int, *, scope_services: int,
                     type_per_service_day: float, rules: TriageRules) -> float:
    """The usual count per window for a series: its own baseline rate, raised (never lowered)
    by mixing in `cluster_borrow_days` of the type's rate across services, and at least the
    floor; the type's rate and the floor are scaled to the services in the scope.

    Borrowing only ever raises it, so a quiet service is not taken as "never" when the type is
    common elsewhere, and a busy one is not taken as quieter than it is (which would alarm).
    """
    own = baseline_count / baseline_days if baseline_days > 0 else 0.0
    borrowed = rules.cluster_borrow_days * type_per_service_day * scope_services
    days = baseline_days + rules.cluster_borrow_days
    mixed = (baseline_count + borrowed) / days if days > 0 else 0.0
    floor = rules.cluster_usual_floor_per_week / 7 * scope_services
    return max(own, mixed, floor) * rules.cluster_window_days


def is_cluster(count: int, usual: float, budget: float, rules: TriageRules) -> bool:
    """Whether `count` reports in one window (`usual` per window before) is a cluster."""
    return count >= threshold(usual, budget, rules)


def has_grown(peak: int, seen_peak: int) -> bool:
    """Whether an episode last seen at `seen_peak` has grown enough to alert again."""
    return peak >= seen_peak + max(GROWTH_MIN, math.ceil(seen_peak * GROWTH_SHARE))


# -- the scan over daily counts ------------------------------------------------------------


@dataclass(frozen=True)
class TypeDays:
    """Daily counts of one near-miss type for every service watched (zeros included), day 0
    first; `regions` maps each region to its services. `first_day`: the first day the provider
    has any report (no baseline is read before it). `type_per_service_day`: the type's rate
    across all services, when the counts cover only some of them (else read from the counts,
    each window's baseline its own)."""

    by_service: Mapping[int, Sequence[int]]
    regions: Mapping[int, tuple[int, ...]]
    days: int
    first_day: int = 0
    type_per_service_day: float | None = None


@dataclass(frozen=True)
class Firing:
    day: int  # the last day of the window
    count: int
    usual: float
    threshold: int


@dataclass
class Episode:
    """One burst of one type in one scope, in day numbers of its TypeDays."""

    scope: str  # "service" | "region"
    scope_id: int
    services: tuple[int, ...]
    first_day: int  # the first day of the first window that fired
    opened_on: int  # the day it first fired
    last_day: int  # the last day it fired
    peak: int
    peak_day: int
    usual: float  # the usual count per window when it opened
    threshold: int  # the count that made it a cluster when it opened
    alerts: list[tuple[int, int]] = field(default_factory=list)  # (day, peak): raised, grew

    def overlaps(self, other: Episode) -> bool:
        return self.first_day <= other.last_day and other.first_day <= self.last_day


def _prefix(counts: Sequence[int]) -> list[int]:
    prefix = [0]
    for value in counts:
        prefix.append(prefix[-1] + value)
    return prefix


def _firings(prefix: list[int], type_prefix: list[int], *, services: int, scope_services: int,
             start: int, end: int, first_day: int, budget: float, rules: TriageRules,
             type_rate: float | None = None) -> list[Firing]:
    window, baseline = rules.cluster_window_days, rules.cluster_baseline_days
    fired = []
    for day in range(max(start, window - 1), end):
        count = prefix[day + 1] - prefix[day - window + 1]
        if count < rules.cluster_min_reports:
            continue
        base_end = day - window + 1  # exclusive: the window's own days are not "usual"
        base_start = max(base_end - baseline, first_day, 0)
        base_days = max(0, base_end - base_start)
        own = prefix[base_end] - prefix[base_start] if base_days else 0
        if type_rate is None:
            rate = ((type_prefix[base_end] - type_prefix[base_start]) / (base_days * services)
                    if base_days and services else 0.0)
        else:
            rate = type_rate
        usual = usual_per_window(own, base_days, scope_services=scope_services,
                                 type_per_service_day=rate, rules=rules)
        limit = threshold(usual, budget, rules)
        if count >= limit:
            fired.append(Firing(day, count, usual, limit))
    return fired


def _merge(fired: list[Firing], scope: str, scope_id: int, services: tuple[int, ...],
           window: int) -> list[Episode]:
    """Firing windows that overlap are one episode; it alerts again when it grows."""
    episodes: list[Episode] = []
    for firing in fired:
        window_start = firing.day - window + 1
        current = episodes[-1] if episodes else None
        if current is not None and window_start <= current.last_day:
            current.last_day = firing.day
            if firing.count > current.peak:
                current.peak, current.peak_day = firing.count, firing.day
                if has_grown(firing.count, current.alerts[-1][1]):
                    current.alerts.append((firing.day, firing.count))
            continue
        episodes.append(Episode(scope, scope_id, services, window_start, firing.day, firing.day,
                                firing.count, firing.day, firing.usual, firing.threshold,
                                [(firing.day, firing.count)]))
    return episodes


def scan(history: TypeDays, *, start: int, budget: float, rules: TriageRules,
         end: int | None = None) -> list[Episode]:
    """Cluster episodes of one type that fire on a day in [start, end), each at the narrowest
    scope that explains it (see the module docstring)."""
    end = history.days if end is None else min(end, history.days)
    services = len(history.by_service)
    prefixes = {sid: _prefix(counts) for sid, counts in history.by_service.items()}
    zero = [0] * (history.days + 1)
    type_prefix = [sum(col) for col in zip(*prefixes.values(), strict=True)] if prefixes \
        else zero
    window = rules.cluster_window_days

    def run(prefix: list[int], scope_services: int, lo: int = start,
            hi: int = end) -> list[Firing]:
        return _firings(prefix, type_prefix, services=services, scope_services=scope_services,
                        start=lo, end=hi, first_day=history.first_day, budget=budget,
                        rules=rules, type_rate=history.type_per_service_day)

    by_service = {sid: _merge(run(prefix, 1), "service", sid, (sid,), window)
                  for sid, prefix in prefixes.items()}
    kept: list[Episode] = []
    absorbed: set[int] = set()  # id() of service episodes a region episode replaces
    for region_id, members in history.regions.items():
        members = tuple(m for m in members if m in prefixes)
        if len(members) < 2:  # a region of one service says nothing the service does not
            continue
        region_prefix = [sum(prefixes[m][i] for m in members) for i in range(history.days + 1)]
        for episode in _merge(run(region_prefix, len(members)), "region", region_id, members,
                              window):
            inside = [e for m in members for e in by_service[m] if e.overlaps(episode)]
            if inside and not _spans_services(episode, members, prefixes, run):
                continue  # one service explains it: its own episode is the finding
            absorbed.update(id(e) for e in inside)
            kept.append(episode)
    for episodes in by_service.values():
        kept.extend(e for e in episodes if id(e) not in absorbed)
    return sorted(kept, key=lambda e: (e.opened_on, e.scope, e.scope_id))


def _spans_services(episode: Episode, members: tuple[int, ...], prefixes: dict[int, list[int]],
                    run: Callable[..., list[Firing]]) -> bool:
    """Whether the region still fires within the episode without its busiest service."""
    def in_episode(sid: int) -> int:
        prefix = prefixes[sid]
        return prefix[episode.last_day + 1] - prefix[episode.first_day]

    busiest = max(members, key=in_episode)
    rest = [m for m in members if m != busiest]
    rest_prefix = [sum(prefixes[m][i] for m in rest) for i in range(len(prefixes[busiest]))]
    return bool(run(rest_prefix, len(rest), episode.opened_on, episode.last_day + 1))
