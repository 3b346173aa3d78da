"""The demo's action plans: each story's own (always), the themes supervisors and leads
found (by rank, more for larger demos), and routine plans in proportion to large demos.

The story plans are dated so that each fits what the reports show: the coverage lock live two
weeks after the late-start cluster, verified at the still-in-place check; the doorway memo not
effective, then a pre-transfer check in its test window now; the family-note check live at
`medication_control_go_live` after a root cause analysis, verified and sustained.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta

from core.actions.vocabulary import ActionStatus
from core.auth.roles import Role
from core.config import Settings
from ops.demo.data import Control, demo_data
from ops.demo.plan_specs import ActionSpec, Calendar, PlanSpec, build_plan, make_plan
from ops.demo.profiles import PROFILES
from ops.demo.provider import (
    DEFAULT_REPORTS,
    SERVICES,
    ServiceSpec,
    demo_window,
    late_start_cluster_window,
    medication_control_go_live,
    planted_count,
)
from ops.demo.sampling import allocate

_DATA = demo_data()
_AFTER = _DATA.everyday.after_filing
_TEXTS = _AFTER.routine_texts
_PER_PLAN = _DATA.provider.habits.plans.reports_per_routine_plan
_LINK_CAP = _DATA.provider.habits.plans.routine_link_cap
# How routine plans turn out: verified, not effective, stopped, else stuck (or done late).
_VERIFIED, _NOT_EFFECTIVE, _STOPPED = 0.66, 0.8, 0.86


def calendar(now: datetime, months: int, rules: Settings) -> Calendar:
    """The plans' calendar, with the stories' dates as anchors."""
    c = Calendar(now, rules.zone, rules)
    cluster_start, cluster_end = late_start_cluster_window(now, months)
    c.anchors.update(control_go_live=c.local_day(medication_control_go_live(now, months)),
                     cluster_start=c.local_day(cluster_start),
                     cluster_end=c.local_day(cluster_end))
    return c


def demo_plans(now: datetime, *, months: int, reports: int,
               rules: Settings) -> tuple[PlanSpec, ...]:
    """The action plans of the demo, dated from `now`: the stories' plans, then the ranked
    others (eight at 2,500 reports, 3 to 14 by size), then routine plans for large demos."""
    c = calendar(now, months, rules)
    start, _end = demo_window(now, months)
    counts = {story: planted_count(story, reports, months)
              for story in ("doorway_falls", "family_notes", "late_start_cluster")}
    wanted = max(3, min(14, round(8 + 2 * math.log2(max(reports, 1) / DEFAULT_REPORTS))))
    ranked = sorted((p for p in _DATA.plans if p.rank is not None), key=lambda p: p.rank or 0)
    chosen = [p for p in _DATA.plans if p.rank is None] + ranked[:wanted]
    made = [make_plan(p, c, counts) for p in chosen]
    kept = [p for p in made if p is not None and p.link_until > start]
    kept.extend(p for p in routine_plans(c, reports, months, start, len(kept))
                if p is not None and p.link_until > start)
    return tuple(kept)


# -- routine plans ----------------------------------------------------------------------------

def _pairs(reports: int) -> tuple[list[tuple[ServiceSpec, str]], list[float]]:
    """Every (service, type) with routine controls, weighted as its reports are."""
    keys = [k for k, t in _DATA.types.items() if t.routine_plans and k in PROFILES]
    pairs = [(service, key) for service in SERVICES for key in keys]
    totals = {key: sum(s.volume * PROFILES[key].kinds.get(s.kind, 1.0) for s in SERVICES)
              for key in keys}
    return pairs, [PROFILES[key].share * s.volume * PROFILES[key].kinds.get(s.kind, 1.0)
                   / totals[key] for s, key in pairs]


def _fate(rng: random.Random, c: Calendar, fate: float, created: date, go_live: date,
          verdict: date) -> tuple[ActionStatus, str, date | None, date, date]:
    """How a routine plan turned out: old ones verified, stopped or not effective; recent
    ones in progress (some overdue by now); a few went live late."""
    if fate < _VERIFIED:
        return ActionStatus.VERIFIED_EFFECTIVE, _TEXTS["verified"], None, go_live, verdict
    if fate < _NOT_EFFECTIVE:
        return ActionStatus.NOT_EFFECTIVE, _TEXTS["not_effective"], None, go_live, verdict
    if fate < _STOPPED:
        stopped = created + timedelta(days=rng.randint(10, 40))
        return ActionStatus.STOPPED, "", stopped, go_live, verdict
    if (c.today - created).days < 120:  # stuck: overdue by now, most of them
        return ActionStatus.IN_PROGRESS, "", None, go_live, verdict
    go_live += timedelta(days=rng.randint(30, 60))  # stuck for a while, then done late
    verdict += timedelta(days=rng.randint(30, 60))
    return ActionStatus.VERIFIED_EFFECTIVE, _TEXTS["went_live_late"], None, go_live, verdict


def _routine_actions(rng: random.Random, c: Calendar, control: Control,
                     created: date) -> tuple[list[ActionSpec | None], float, str]:
    """The plan's control, and now and then a companion (a briefing, a reminder, a sign);
    how it turned out, and who owns it."""
    fate = rng.random()
    go_live = created + timedelta(days=rng.randint(7, 28))
    test_days = rng.choice((14, 21, 28))
    verdict = go_live + timedelta(days=test_days + rng.randint(1, 6))
    owner = "supervisor" if rng.random() < 0.8 else Role.QUALITY.value
    status, note, stopped, go_live, verdict = _fate(rng, c, fate, created, go_live, verdict)
    deadline = go_live if status is not ActionStatus.IN_PROGRESS else \
        created + timedelta(days=rng.randint(14, 45))
    actions = [c.action(
        control.title, control.description, control.kind, owner, created=created,
        deadline=deadline, review=deadline + timedelta(days=test_days), status=status,
        checks=tuple(control.checks), done=1 if status is ActionStatus.IN_PROGRESS else None,
        go_live=go_live, window=test_days, verdict=verdict, note=note, stopped=stopped,
        reason=_TEXTS["superseded"])]
    if rng.random() < 0.45:
        companion = _AFTER.routine_companions[int(rng.random() * len(_AFTER.routine_companions))]
        live = go_live + timedelta(days=3)
        actions.append(c.action(
            companion["title"], companion["description"], companion["kind"], "supervisor",
            created=created, deadline=live, review=live + timedelta(days=14),
            status=ActionStatus.VERIFIED_EFFECTIVE if status is not ActionStatus.IN_PROGRESS
            else ActionStatus.IN_PROGRESS, checks=(_TEXTS["companion_checks"],), go_live=live,
            window=14, verdict=live + timedelta(days=16), note=_TEXTS["companion_verified"]))
    return actions, fate, owner


def routine_plans(c: Calendar, reports: int, months: int, start: datetime, existing: int,
                  ) -> list[PlanSpec | None]:
    """Plans about one type of near miss at one service, each linking a few of the reports
    before it; how many follows the demo's size, spread over services and types as the
    reports are, in windows that do not overlap."""
    wanted = reports // _PER_PLAN - existing
    if wanted <= 0:
        return []
    rng = random.Random(f"demo-routine-plans-{reports}-{months}")
    first = c.local_day(start) + timedelta(days=42)
    span = (c.today - timedelta(days=2) - first).days
    if span < 14:
        return []
    pairs, weights = _pairs(reports)
    per_day = reports / max(1, (c.today - c.local_day(start)).days)
    plans: list[PlanSpec | None] = []
    for (service, key), count, weight in zip(pairs, allocate(wanted, weights, rng), weights,
                                             strict=True):
        routine = _DATA.types[key].routine_plans
        assert routine is not None
        gap = span / max(1, count)
        window = max(7, min(56, round(gap)))
        expected = max(1.0, window * per_day * weight * 0.9)  # the reviewed share links
        previous: date | None = None
        for n in range(count):
            created = first + timedelta(days=int(gap * (n + rng.random())))  # in its slot
            link_from = c.at(max(previous or created - timedelta(days=window),
                                 created - timedelta(days=window)), 0)
            previous = created
            control = routine.controls[int(rng.random() * len(routine.controls))]
            actions, fate, owner = _routine_actions(rng, c, control, created)
            plans.append(build_plan(
                c, f"routine_{service.name}_{key}_{n}", f"{control.title} ({service.name})",
                routine.theme, created=created, created_by=owner, type_key=key,
                services=(service.name,), link_from=link_from, link_until=c.at(created, 0),
                link_cap=_LINK_CAP, link_share=min(1.0, 1.5 * _LINK_CAP / expected),
                outcome=(_TEXTS["outcome_verified"] if fate < _VERIFIED else
                         _TEXTS["outcome_not_effective"] if fate < _NOT_EFFECTIVE else
                         _TEXTS["superseded"]),
                validate_with=0, close_with=0, actions=actions))
    return plans
