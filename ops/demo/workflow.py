"""After triage: review, gates, validation evidence and closure, and which reports the
action plans link.

Old reports are closed with every gate checked and every validation item evidenced; recent
ones sit in review or validation; reports a plan links wait in "actions" until its control goes
live, then validate and close once it is verified. How soon each step comes is in
provider.yaml (`habits.review`); what reviewers write is in each type's `review`.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.auth.roles import Role
from core.clock import to_local
from core.config import Settings
from core.taxonomy.schema import TaxonomySpec
from ops.demo.data import demo_data
from ops.demo.places import DemoPlaces, DemoService
from ops.demo.plan_specs import PlanSpec
from ops.demo.profiles import CHANCE, DESIGNED, iso
from ops.demo.records import DemoRecord
from ops.demo.review_kit import RELIABLE, WORK_AGAIN, Kit, by_pronoun, make_kit
from ops.demo.writers import prompt_time

_DATA = demo_data()
_HABITS = _DATA.provider.habits.review
_AFTER = _DATA.everyday.after_filing
_NOT_APPLICABLE_TEXTS = by_pronoun(_AFTER.not_applicable_notes)


def _span(rng: random.Random, bounds: tuple[float, float]) -> timedelta:
    """Hours between `bounds`, most near the low end, to the whole second."""
    low, high = bounds
    return timedelta(seconds=int(3600 * (low + (high - low) * rng.random() ** 1.6)))


def _first_sentence(text: str, limit: int) -> str:
    end = min((i for i in (text.find(". "), text.find("; ")) if i > 0), default=len(text))
    return text[:min(end + 1, limit)].strip().rstrip(";")


def _seconds(span: timedelta, share: float) -> timedelta:
    """A share of a span, to the whole second (stored times carry no microseconds)."""
    return timedelta(seconds=int(span.total_seconds() * share))


@dataclass(frozen=True)
class _Timeline:
    """When a report's review started and when it finishes, validates and closes (these may
    lie after `now`; None: not on its way there, stalled or waiting on its plan)."""

    started: datetime
    finished: datetime | None
    validating: datetime | None
    closed: datetime | None
    stall: str | None = None  # "in_review" or "validating"


class Workflow:
    """Review, gates, validation evidence and closure after triage, and which reports the
    action plans link (its own seeded Random: the triage history a seed gives stays the same).
    Written for speed: texts are prepared per type and pronoun, times are whole seconds.
    """

    def __init__(self, places: DemoPlaces, taxonomy: TaxonomySpec, *, seed: int,
                 now: datetime, rules: Settings, plans: Sequence[PlanSpec]):
        self.rng = random.Random(f"demo-workflow-{seed}")
        self.now, self.rules = now, rules
        self.zone = rules.zone
        self.offset = to_local(now, rules.zone) - now  # for office hours, near enough
        factors = [f.key for f in taxonomy.contributing_factors]
        self.kits = {t.key: make_kit(t, factors, rules.report) for t in taxonomy.types}
        self.pronouns = {p.id: p.spec.pronoun for s in places.services for p in s.people}
        self.service_names = {s.id: s.spec.name for s in places.services}
        self.leads = places.leads
        self.quality = places.leads.get(Role.QUALITY.value, ())
        # Routine plans (one type at one service, windows that do not overlap) are found by
        # (type, service) and date; a million reports cannot each scan thousands of plans.
        self.plans = tuple(p for p in plans if not p.key.startswith("routine_"))
        self.routine: dict[tuple[str, str], tuple[list[datetime], list[PlanSpec]]] = {}
        for plan in sorted((p for p in plans if p.key.startswith("routine_")),
                           key=lambda p: p.link_from):
            assert plan.type_key is not None and len(plan.services) == 1
            starts, found = self.routine.setdefault((plan.type_key, plan.services[0]), ([], []))
            starts.append(plan.link_from)
            found.append(plan)
        self.linked: Counter[str] = Counter()

    # -- when -----------------------------------------------------------------------------

    def daytime(self, at: datetime) -> datetime:
        """The next moment in office hours (08:00-19:00 local) from `at`."""
        local = at + self.offset
        hour = local.hour + local.minute / 60
        if 8 <= hour < 19:
            return at
        wait = (8 - hour if hour < 8 else 32 - hour) + self.rng.uniform(0.1, 3.0)
        return at + timedelta(seconds=int(wait * 3600))

    def plan_for(self, row: dict[str, Any], planted: str | None,
                 triaged: datetime) -> PlanSpec | None:
        """The action plan that links this report, if any (each plan links a few)."""
        if triaged > self.now - timedelta(hours=3):
            return None
        for plan in self.plans:
            if plan.planted is not None:
                if planted != plan.planted:
                    continue
            elif planted is not None or row["type_key"] != plan.type_key or (
                    plan.services and self.service_names[row["service_id"]] not in plan.services):
                continue
            if not plan.link_from <= row["reported_at"] < plan.link_until \
                    or self.linked[plan.key] >= plan.link_cap:
                continue
            if self.rng.random() < plan.link_share:
                self.linked[plan.key] += 1
                return plan
        if planted is None and self.routine:
            starts, found = self.routine.get(
                (row["type_key"], self.service_names[row["service_id"]]), ((), ()))
            index = bisect(starts, row["reported_at"]) - 1
            if index >= 0:
                plan = found[index]
                if row["reported_at"] < plan.link_until \
                        and self.linked[plan.key] < plan.link_cap \
                        and self.rng.random() < plan.link_share:
                    self.linked[plan.key] += 1
                    return plan
        return None

    def timeline(self, level: str, triaged: datetime, plan: PlanSpec | None) -> _Timeline:
        r, now = self.rng, self.now
        started = self.daytime(triaged + _span(r, _HABITS.start_hours[level]))
        finished = self.daytime(started + _span(r, _HABITS.review_hours[level]))
        if plan is None:
            chance = r.random()
            if chance < _HABITS.stalled_in_review:
                return _Timeline(started, None, None, None, "in_review")
            if chance < _HABITS.stalled_in_review + _HABITS.stalled_validating:
                return _Timeline(started, finished, finished, None, "validating")
            return _Timeline(started, finished, finished,
                             self.daytime(finished + _span(r, _HABITS.validate_hours[level])))
        # Linked to a plan: the review is done by soon after the plan links it; the report
        # validates once the plan's control is live and closes once it is verified.
        latest = min(plan.created_at + timedelta(seconds=r.randint(2 * 3600, 48 * 3600)),
                     now - timedelta(hours=1))
        if finished > latest:
            finished = max(latest, triaged + timedelta(seconds=r.randint(2400, 7200)))
            started = triaged + _seconds(finished - triaged, r.uniform(0.2, 0.7))
        validating = closed = None
        if plan.validate_at is not None:
            validating = max(plan.validate_at + timedelta(seconds=r.randint(0, 30 * 3600)),
                             finished + timedelta(hours=1))
            if plan.close_after is not None:
                closed = self.daytime(max(plan.close_after, validating) + _span(r, (2, 120)))
        return _Timeline(started, finished, validating, closed)

    # -- who ------------------------------------------------------------------------------

    def reviewer(self, service: DemoService, route: str) -> int | None:
        """A lead for reports routed to them, else a supervisor of the service (or quality)."""
        r = self.rng
        leads = self.leads.get(route, ())
        if leads and r.random() < _HABITS.by_lead.get(route, 0.0):
            return leads[0]
        supervisors = service.supervisors
        if supervisors and (not self.quality or r.random() >= _HABITS.by_quality_lead):
            return supervisors[int(r.random() * len(supervisors))]
        return self.quality[0] if self.quality else (leads[0] if leads else None)

    # -- the record -----------------------------------------------------------------------

    def advance(self, record: DemoRecord, planted: str | None, service: DemoService) -> None:
        """Review, validate and close a triaged report as far as `now` allows."""
        row, triage = record.report, record.triage
        assert triage is not None
        kit = self.kits.get(row["type_key"])
        reviewer = self.reviewer(service, row["routed_to"])
        if kit is None or reviewer is None:
            return
        r, now = self.rng, self.now
        plan = self.plan_for(row, planted, triage["triaged_at"])
        times = self.timeline(row["review_level"], triage["triaged_at"], plan)
        started = times.started
        if started > now:
            return  # still waiting for its review: the board's "Triaged" column
        closer = self.quality[0] if self.quality and \
            r.random() < _HABITS.closed_by_quality_lead else reviewer
        record.plan = plan.key if plan is not None else None
        finished = times.finished
        done = finished is not None and finished <= now
        validating = times.validating if times.validating and times.validating <= now else None
        closed = times.closed if times.closed and times.closed <= now else None

        version = row["version_id"]
        moves = record.transitions
        moves.append({"from_status": "triaged", "to_status": "in_review", "at": started,
                      "actor_id": reviewer, "reason": "Review started"})
        status, at = "in_review", started
        if done:
            assert finished is not None
            after_review = "actions" if plan is not None else "validating"
            moves.append({"from_status": "in_review", "to_status": after_review, "at": finished,
                          "actor_id": reviewer, "reason": "Review complete"})
            status, at = after_review, finished
            if plan is not None and validating is not None:
                moves.append({"from_status": "actions", "to_status": "validating",
                              "at": validating, "actor_id": reviewer,
                              "reason": "Actions in place; validating"})
                status, at = "validating", validating
            if closed is not None:
                moves.append({"from_status": "validating", "to_status": "closed", "at": closed,
                              "actor_id": closer, "reason": "Closed"})
                status, at = "closed", closed
        row.update(status=status, status_changed_at=at, version_id=version + len(moves) - 1)

        # How far the review got: done, or a share of the way (a stalled one nearly all).
        if done:
            progress = 1.0
        elif finished is None:
            progress = r.uniform(0.8, 1.0)
        else:
            progress = min(0.95, (now - started) / (finished - started))
        review_end = finished or started + _seconds(now - started, 0.6)
        pronoun = self.pronouns.get(row["person_id"], "they")
        record.gate_checks = gates = self.gates(kit, started, review_end, reviewer, service,
                                                pronoun, stalled=finished is None)
        record.review = self.review(kit, row, triage, planted, reviewer, times, progress,
                                    pronoun, closer if closed else None, plan)
        if kit.communications and gates:
            record.communications = self.communications(kit, row, gates, started, reviewer,
                                                        pronoun)
        if done and validating is not None:
            # Stalled, or in its plan's test window: the last item waits (follow-up checks).
            end = times.closed or validating + _seconds(now - validating, r.uniform(0.3, 0.9))
            record.evidence = self.evidence(kit, validating, end, reviewer, closer, pronoun,
                                            keep_open=0 if times.closed else 1)

    def field_values(self, kit: Kit, row: dict[str, Any], triage: dict[str, Any],
                     progress: float, pronoun: str) -> dict[str, Any]:
        """The type's review fields, as far as the review has got (capture fields first)."""
        r = self.rng
        rand = r.random
        done = progress >= 1.0
        capture = row["capture_fields"]
        values: dict[str, Any] = {}
        local: datetime | None = None
        for key, how, data in kit.fields:
            if key in capture:
                values[key] = capture[key]  # where the review starts from
                continue
            if not done and rand() >= progress:
                continue
            if how == "pool":
                pool = data[pronoun]
                values[key] = pool[int(rand() * len(pool))]
            elif how == "choice":
                (options, cum), settled = data
                values[key] = settled[int(rand() * len(settled))] if done and settled \
                    else options[min(bisect(cum, rand() * cum[-1]), len(options) - 1)]
            elif how == "sentence":
                values[key] = _first_sentence(row["description"], data) or "Recorded at review."
            elif how == "yes":
                values[key] = rand() < 0.65
            elif how == "external":
                values[key] = bool(triage["external_reporting"])
            elif how == "number":
                values[key] = float(r.randint(1, 5))
            else:  # a datetime, as the form stores it: local time to the minute
                if local is None:
                    local = to_local(row["occurred_at"], self.zone).replace(second=0)
                if how == "prompt":
                    values[key] = iso(prompt_time(local))
                elif how == "quarter":
                    values[key] = iso(local.replace(minute=local.minute // 15 * 15))
                else:
                    values[key] = iso(local + timedelta(minutes=r.randint(*data)))
        return values

    def answers(self, kit: Kit, barrier: str, planted: str | None, progress: float,
                pronoun: str) -> dict[str, Any]:
        """The leaders' questions (what stopped harm, is the control reliable, would it work
        again), the contributing factors and the findings, as far as the review has got."""
        rand = self.rng.random
        done = progress >= 1.0
        found: dict[str, Any] = dict.fromkeys(
            ("what_stopped_harm", "control_reliable", "would_work_again",
             "would_work_again_note", "findings"))
        found.update(contributing_factors=[], barrier_class=barrier)  # as the reporter said
        if not (done or rand() < progress - 0.2):
            return found
        barrier_class = barrier
        if rand() < 0.1:
            barrier_class = _AFTER.reviewer_reclassifies.get(barrier, barrier)
        answers, cum = RELIABLE.get(barrier_class, RELIABLE[CHANCE])
        reliable = answers[bisect(cum, rand())] if len(answers) > 1 else answers[0]
        answers, cum = WORK_AGAIN.get(barrier_class, WORK_AGAIN[CHANCE])
        would = answers[bisect(cum, rand())] if len(answers) > 1 else answers[0]
        found.update(barrier_class=barrier_class, control_reliable=reliable,
                     would_work_again=would)
        if rand() < 0.3:
            notes = _AFTER.would_work_again_notes[would]
            found["would_work_again_note"] = notes[int(rand() * len(notes))]
        pool = (kit.stopped.get(barrier_class) or kit.stopped[CHANCE])[pronoun]
        found["what_stopped_harm"] = pool[int(rand() * len(pool))]
        if kit.factors:
            found["contributing_factors"] = list(kit.factors[int(rand() * len(kit.factors))])
        if done or rand() < progress:
            after = planted == "family_notes" and barrier == DESIGNED
            pool = (kit.findings.get(f"{planted}:{after}") or kit.findings[""])[pronoun]
            found["findings"] = pool[int(rand() * len(pool))]
        return found

    def review(self, kit: Kit, row: dict[str, Any], triage: dict[str, Any],
               planted: str | None, reviewer: int, times: _Timeline, progress: float,
               pronoun: str, closer: int | None, plan: PlanSpec | None) -> dict[str, Any]:
        """A reviews row (without report_id): the type's fields and the leaders' questions;
        `closer` when it is closed."""
        values = self.field_values(kit, row, triage, progress, pronoun)
        found = self.answers(kit, row["barrier"], planted, progress, pronoun)
        outcome = None
        if closer is not None:
            if plan is not None:
                outcome = f"Closed with the plan “{plan.title}” in place. {plan.outcome}".strip()
            else:
                outcome = kit.outcome + _AFTER.outcome_tails.get(
                    found["control_reliable"] or "", "")
        started = times.started
        updated = times.finished if progress >= 1.0 and times.finished else \
            started + _seconds(self.now - started, 0.8)
        return {
            "template_version": row["type_version"], "field_values": values, **found,
            "reviewer_id": reviewer, "started_at": started, "updated_at": updated,
            "closed_at": times.closed if closer is not None else None,
            "closed_by_id": closer, "outcome": outcome,
        }

    def gates(self, kit: Kit, start: datetime, end: datetime, reviewer: int,
              service: DemoService, pronoun: str, *, stalled: bool) -> list[dict[str, Any]]:
        """The "cannot proceed without" items ticked one after another between `start` and
        `end` (a stalled review leaves one open)."""
        rand, now = self.rng.random, self.now
        count = len(kit.gates)
        if not count:
            return []
        span = (end - start).total_seconds() / count
        left_open = int(rand() * count) if stalled else -1
        others = service.supervisors
        rows = []
        for index, (key, may_be_not_applicable, notes) in enumerate(kit.gates):
            at = start + timedelta(seconds=int(span * (index + rand())))
            if at > now:
                break
            if index == left_open:
                continue
            by = reviewer if rand() < 0.85 or not others else others[int(rand() * len(others))]
            if may_be_not_applicable and rand() < _HABITS.not_applicable:
                state, pool = "not_applicable", _NOT_APPLICABLE_TEXTS[pronoun]
            else:
                state, pool = "done", notes[pronoun]
            rows.append({"gate_key": key, "state": state, "note": pool[int(rand() * len(pool))],
                         "checked_by_id": by, "checked_at": at})
        return rows

    def evidence(self, kit: Kit, start: datetime, end: datetime, reviewer: int, closer: int,
                 pronoun: str, keep_open: int) -> list[dict[str, Any]]:
        """Evidence for the validation items, recorded one after another from `start` to
        `end` (leaving the last `keep_open` for later)."""
        rand, now = self.rng.random, self.now
        items = kit.items[:len(kit.items) - keep_open] if keep_open else kit.items
        if not items:
            return []
        span = (end - start).total_seconds() / len(items)
        rows = []
        for index, (key, notes) in enumerate(items):
            at = start + timedelta(seconds=int(span * (index + rand())))
            if at > now:
                break
            pool = notes[pronoun]
            rows.append({"item_key": key, "note": pool[int(rand() * len(pool))],
                         "recorded_by_id": closer if rand() < 0.2 else reviewer,
                         "recorded_at": at})
        return rows

    def communications(self, kit: Kit, row: dict[str, Any], gates: list[dict[str, Any]],
                       start: datetime, reviewer: int, pronoun: str) -> list[dict[str, Any]]:
        """Now and then a decision about telling the family, representative or case manager,
        where a gate asks for one."""
        r = self.rng
        rows = []
        for gate in gates:
            found = kit.communications.get(gate["gate_key"])
            if found is None or r.random() >= (0.8 if row["is_repeat"] else 0.35):
                continue
            audience, told, not_told = found
            communicated = gate["state"] == "done" and (row["is_repeat"] or r.random() < 0.6)
            at = max(gate["checked_at"] - timedelta(minutes=r.randint(5, 240)), start)
            rows.append({"audience": audience, "communicated": communicated,
                         "what": (told if communicated else not_told)[pronoun][0],
                         "communicated_at": at - timedelta(minutes=r.randint(0, 30))
                         if communicated else None,
                         "decided_by_id": reviewer, "recorded_at": at})
        return rows
