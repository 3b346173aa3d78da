"""The cluster rule's properties, on pure functions and simulated counts (no database).

The figures in bench/RESULTS.md come from bench/cluster_alerts.py over many seeds; these are
small fixed-seed versions of the same checks.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from core.config import TriageRules
from core.triage.cluster_rule import (
    TypeDays,
    chance_alarms_per_year,
    has_grown,
    scan,
    series_budget,
    threshold,
    usual_per_window,
    watched_series,
)

RULES = TriageRules()
SERVICES, TYPES, DAYS = 6, 4, 730
REGIONS = {0: (0, 1, 2), 1: (3, 4, 5)}
BUDGET = series_budget(RULES, services=SERVICES,
                       series=watched_series(TYPES, SERVICES, len(REGIONS)))


def history(counts: np.ndarray | list[list[int]], regions=REGIONS) -> TypeDays:
    rows = [list(map(int, row)) for row in counts]
    return TypeDays({s: row for s, row in enumerate(rows)}, regions, len(rows[0]))


def quiet(rate_per_week: float = 0.0, days: int = 400) -> list[list[int]]:
    """Six services with this steady rate (0: none at all), deterministic."""
    rng = np.random.default_rng(1)
    return rng.poisson(rate_per_week / 7, (SERVICES, days)).tolist()


def test_on_steady_data_it_raises_at_most_half_a_false_episode_per_service_year():
    # Two years of steady Poisson reports, 0.1-1 a week per type and service, no bursts:
    # every episode in the second year is chance. The old rule raised about 3.5 a service.
    episodes = 0
    seeds = range(12)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        rates = rng.uniform(0.1, 1.0, (SERVICES, TYPES))
        counts = rng.poisson(rates[:, :, None] / 7, (SERVICES, TYPES, DAYS))
        for t in range(TYPES):
            episodes += sum(1 for e in scan(history(counts[:, t]), start=365, budget=BUDGET,
                                            rules=RULES) if e.opened_on >= 365)
    assert episodes / len(seeds) / SERVICES <= 0.5


def test_a_burst_of_six_in_nine_days_at_one_a_fortnight_is_found():
    found = 0
    seeds = range(150)
    for seed in seeds:
        rng = np.random.default_rng(10_000 + seed)
        rates = rng.uniform(0.1, 1.0, SERVICES)
        rates[0] = 0.5  # one a fortnight
        counts = rng.poisson(rates[:, None] / 7, (SERVICES, DAYS))
        first = int(rng.integers(400, 700))
        for day in rng.integers(first, first + 9, 6):
            counts[0, day] += 1
        last = first + 8 + RULES.cluster_window_days - 1
        found += any(0 in e.services and e.last_day >= first and e.opened_on <= last
                     for e in scan(history(counts), start=first - 30, end=last + 1,
                                   budget=BUDGET, rules=RULES))
    assert found / len(seeds) >= 0.95


def test_none_in_the_baseline_is_not_a_usual_rate_of_none():
    counts = quiet()
    for day in (380, 382, 384):  # three in five days where there were none
        counts[0][day] += 1
    assert scan(history(counts), start=300, budget=BUDGET, rules=RULES) == []
    # The floor (and borrowing) is what holds it: without them three fire at once.
    bare = RULES.model_copy(update={"cluster_usual_floor_per_week": 0.0,
                                    "cluster_borrow_days": 0})
    assert [e.scope for e in scan(history(counts), start=300, budget=BUDGET, rules=bare)] == [
        "service"]
    # Six in nine days is a cluster even so.
    for day in (385, 386, 388):
        counts[0][day] += 1
    [episode] = scan(history(counts), start=300, budget=BUDGET, rules=RULES)
    assert (episode.scope, episode.scope_id) == ("service", 0)


def test_borrowing_from_the_type_across_services_only_ever_raises_the_usual_count():
    quiet_service = usual_per_window(0, 182, scope_services=1, type_per_service_day=2 / 7,
                                     rules=RULES)
    busy_service = usual_per_window(182 * 3 // 7, 182, scope_services=1,
                                    type_per_service_day=0.1 / 7, rules=RULES)
    assert quiet_service > RULES.cluster_usual_floor_per_week / 7 * 10  # above the floor
    assert busy_service == pytest.approx(3 / 7 * 10, rel=0.01)  # its own rate, not lowered


def test_a_threshold_keeps_chance_crossings_within_the_series_budget():
    previous = 0
    for usual in (0.1, 0.5, 1.0, 2.0, 5.0, 20.0):
        k = threshold(usual, BUDGET, RULES)
        assert k >= RULES.cluster_min_reports and k >= previous  # more usual, more needed
        assert chance_alarms_per_year(k, usual, RULES.cluster_window_days) <= BUDGET
        assert chance_alarms_per_year(k - 1, usual, RULES.cluster_window_days) > BUDGET or \
            k == RULES.cluster_min_reports
        previous = k
    # Watching more series (more types, more regions) makes each threshold stricter.
    wider = series_budget(RULES, services=SERVICES, series=watched_series(11, SERVICES, 2))
    assert threshold(1.0, wider, RULES) >= threshold(1.0, BUDGET, RULES)


def test_one_ongoing_burst_is_one_episode_that_alerts_again_only_when_it_grows():
    counts = quiet()
    for day in range(360, 381):  # one a day for three weeks
        counts[0][day] += 1
    [episode] = scan(history(counts), start=300, budget=BUDGET, rules=RULES)
    assert episode.opened_on < 370 and episode.last_day >= 380
    assert episode.peak == RULES.cluster_window_days
    raised, *again = episode.alerts
    assert raised == (episode.opened_on, raised[1])
    seen = raised[1]
    for _day, peak in again:  # each re-alert is real growth past what was last seen
        assert has_grown(peak, seen)
        seen = peak
    # A steady burst that does not grow is raised once, and stays one episode for weeks
    # (until its own reports, entering the baseline, make it the new usual: a shift).
    flat = quiet()
    for day in range(360, 400, 2):  # one every other day for 40 days: 5 in every window
        flat[0][day] += 1
    [steady] = scan(history(flat), start=300, budget=BUDGET, rules=RULES)
    assert len(steady.alerts) == 1 and steady.last_day - steady.opened_on >= 21


def test_growth_means_a_quarter_more_and_at_least_two_reports():
    assert not has_grown(6, 6) and not has_grown(7, 6) and has_grown(8, 6)
    assert not has_grown(24, 20) and has_grown(25, 20)


def test_a_burst_in_one_service_is_the_service_s_not_also_its_region_s():
    counts = quiet(0.3)
    for day in (380, 381, 382, 384, 385, 386, 387):
        counts[1][day] += 1
    found = scan(history(counts), start=300, budget=BUDGET, rules=RULES)
    assert [(e.scope, e.scope_id) for e in found] == [("service", 1)]


def test_a_burst_across_a_region_s_services_is_one_region_episode():
    # Spread thin: no service alone is unusual, the region is.
    spread = quiet(0.1)
    for i, day in enumerate(range(380, 389)):
        spread[i % 3][day] += 1
    found = scan(history(spread), start=300, budget=BUDGET, rules=RULES)
    assert [(e.scope, e.scope_id) for e in found] == [("region", 0)]
    # Heavy in every service: each fires on its own, and the finding is still the region.
    heavy = quiet(0.1)
    for service in (0, 1, 2):
        for day in range(380, 387):
            heavy[service][day] += 1
    found = scan(history(heavy), start=300, budget=BUDGET, rules=RULES)
    assert [(e.scope, e.scope_id) for e in found] == [("region", 0)]
    assert found[0].services == (0, 1, 2)


def test_the_retired_cluster_settings_say_what_replaced_them():
    with pytest.raises(ValidationError, match="cluster_false_alarms_per_service_year"):
        TriageRules(cluster_p_value=0.01)
    with pytest.raises(ValidationError, match="retired"):
        TriageRules(cluster_baseline_factor=2.0)
