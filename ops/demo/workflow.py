"""After triage: review, gates, validation evidence and closure."""

from __future__ import annotations

import random
from bisect import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

from core.auth.roles import Role
from core.clock import to_local
from core.config import Settings
from core.taxonomy.schema import NearMissTypeSpec, TaxonomySpec
from ops.demo.generator import DemoPlaces, DemoService, _cum
from ops.demo.plan_specs import _PlanSpec
from ops.demo.profiles import _CHANCE, _DESIGNED, _PRONOUN_WORDS, _iso
from ops.demo.records import DemoRecord
from ops.demo.review_text import (
    _CHOICE_WEIGHTS,
    _CHOICE_WHEN_DONE,
    _COMMUNICATIONS,
    _CONTROLS,
    _DATETIME_MINUTES,
    _EVIDENCE_NOTES,
    _FACTORS,
    _FINDINGS,
    _GATE_NOTES,
    _LEAD_REVIEWS,
    _NOT_APPLICABLE,
    _NOT_APPLICABLE_TEXTS,
    _OUTCOME_TAILS,
    _OUTCOMES,
    _PLANTED_FINDINGS,
    _QUALITY_CLOSES,
    _QUALITY_REVIEWS,
    _RECLASSIFIED,
    _RELIABLE,
    _REVIEW_HOURS,
    _REVIEW_TEXT,
    _STALLED_IN_REVIEW,
    _STALLED_VALIDATING,
    _START_HOURS,
    _VALIDATE_HOURS,
    _WHAT_STOPPED_HARM,
    _WORK_AGAIN,
    _WORK_AGAIN_NOTES,
    _span,
)
from ops.demo.writers import _prompt_time


def _first_sentence(text: str, limit: int) -> str:
    end = min((i for i in (text.find(". "), text.find("; ")) if i > 0), default=len(text))
    return text[:min(end + 1, limit)].strip().rstrip(";")


@dataclass(frozen=True)
class _Timeline:
    """When a report's review started and when it finishes, validates and closes (these may
    lie after `now`; None: not on its way there, stalled or waiting on its plan)."""

    started: datetime
    finished: datetime | None
    validating: datetime | None
    closed: datetime | None
    stall: str | None = None  # "in_review" or "validating"


_PRONOUN_KEYS = ("he", "she", "they")


def _by_pronoun(pool: Sequence[str], **extra: str) -> dict[str, tuple[str, ...]]:
    """Each text of a pool written out once for each pronoun (the generator only picks)."""
    return {key: tuple(text.format(**_PRONOUN_WORDS[key], **extra) for text in pool)
            for key in _PRONOUN_KEYS}


def _literal(text: str) -> str:
    """A label kept as it is when the pool it joins is formatted."""
    return text.replace("{", "{{").replace("}", "}}")


def _seconds(span: timedelta, share: float) -> timedelta:
    """A share of a span, to the whole second (stored times carry no microseconds)."""
    return timedelta(seconds=int(span.total_seconds() * share))


@dataclass(frozen=True)
class _Kit:
    """What the workflow writes for one near-miss type, prepared once."""

    fields: tuple[tuple[str, str, Any], ...]  # (key, how the value is made, its data)
    gates: tuple[tuple[str, bool, dict[str, tuple[str, ...]]], ...]  # key, may be n/a, notes
    items: tuple[tuple[str, dict[str, tuple[str, ...]]], ...]  # validation item key, notes
    factors: tuple[tuple[str, ...], ...]  # contributing factor sets to pick from
    stopped: dict[str, dict[str, tuple[str, ...]]]  # what stopped harm, by barrier class
    findings: dict[str, tuple[str, ...]]
    outcome: str
    communications: dict[str, tuple[str, dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]]


def _kit(spec: NearMissTypeSpec, factors: Sequence[str], limits: Any) -> _Kit:
    fields: list[tuple[str, str, Any]] = []
    for wanted in spec.fields:
        if wanted.source is not None:
            continue
        key = (spec.key, wanted.key)
        if wanted.kind == "choice":
            weights = _CHOICE_WEIGHTS.get(key, {})
            choice = (wanted.options, _cum([weights.get(o, 1.0) for o in wanted.options]))
            settled = tuple(o for o in _CHOICE_WHEN_DONE.get(key, ()) if o in wanted.options)
            fields.append((wanted.key, "choice", (choice, settled)))
        elif wanted.kind == "yes_no":
            fields.append((wanted.key, "external" if wanted.key == "external_report" else "yes",
                           None))
        elif wanted.kind == "number":
            fields.append((wanted.key, "number", None))
        elif wanted.kind == "datetime":
            how = ("prompt" if wanted.key == "medication_prompt_time" else "quarter"
                   if wanted.key in ("scheduled_visit_time", "scheduled_start") else "after")
            fields.append((wanted.key, how, _DATETIME_MINUTES.get(wanted.key, (0, 60))))
        else:
            limit = limits.short_text_max_chars if wanted.kind == "text" \
                else limits.description_max_chars
            pool = _REVIEW_TEXT.get(key)
            if pool:
                fields.append((wanted.key, "pool", {k: tuple(t[:limit] for t in v)
                                                    for k, v in _by_pronoun(pool).items()}))
            else:
                fields.append((wanted.key, "sentence", limit))
    control = _CONTROLS.get(spec.key, "designed check")
    findings = {f"{planted}:{after}": pool
                for (planted, after), pool in _PLANTED_FINDINGS.items()}
    likely = tuple(k for k in _FACTORS.get(spec.key, ()) if k in factors)[:3] \
        or tuple(factors[:3])
    # One, two or (now and then) three of the likeliest factors.
    sets = [(k,) for k in likely] * 3 + [tuple(sorted(pair)) for pair in combinations(likely, 2)] \
        * 7 + [tuple(sorted(likely))] * 4
    communications = {}
    for gate in spec.gates:
        found = _COMMUNICATIONS.get(gate.key)
        if found is not None:
            audience, told, not_told = found
            communications[gate.key] = (audience, _by_pronoun((told,)), _by_pronoun((not_told,)))
    return _Kit(
        tuple(fields),
        tuple((g.key, g.may_be_not_applicable,
               _by_pronoun(_GATE_NOTES.get(g.key, (f"Done: {_literal(g.label)}.",))))
              for g in spec.gates),
        tuple((v.key, _by_pronoun(_EVIDENCE_NOTES.get(v.key, (f"Seen and recorded: "
                                                                f"{_literal(v.label)}.",))))
              for v in spec.validation),
        tuple(sets),
        {barrier: _by_pronoun(pool, control=control)
         for barrier, pool in _WHAT_STOPPED_HARM.items()},
        {"": _by_pronoun(_FINDINGS.get(spec.key, ("Reviewed with the team; see the gates.",))),
         **{key: _by_pronoun(pool) for key, pool in findings.items()}},
        _OUTCOMES.get(spec.key, "Every validation item has evidence."),
        communications)


class _Workflow:
    """Review, gates, validation evidence and closure after triage, and which reports the
    action plans link (its own seeded Random: the triage history a seed gives stays the same).

    Old reports are closed with every gate checked and every validation item evidenced; recent
    ones sit in review or validation; reports a plan links wait in "actions" until its control
    goes live, then validate and close once it is verified (see `_demo_plans`). Written for
    speed: texts are prepared per type and pronoun, times are whole seconds.
    """

    def __init__(self, places: DemoPlaces, taxonomy: TaxonomySpec, *, seed: int,
                 now: datetime, rules: Settings, plans: Sequence[_PlanSpec]):
        self.rng = random.Random(f"demo-workflow-{seed}")
        self.now, self.rules = now, rules
        self.zone = rules.zone
        self.offset = to_local(now, rules.zone) - now  # for office hours, near enough
        factors = [f.key for f in taxonomy.contributing_factors]
        self.kits = {t.key: _kit(t, factors, rules.report) for t in taxonomy.types}
        self.pronouns = {p.id: p.spec.pronoun for s in places.services for p in s.people}
        self.service_names = {s.id: s.spec.name for s in places.services}
        self.leads = places.leads
        self.quality = places.leads.get(Role.QUALITY.value, ())
        # Routine plans (one type at one service, windows that do not overlap) are found by
        # (type, service) and date; a million reports cannot each scan thousands of plans.
        self.plans = tuple(p for p in plans if not p.key.startswith("routine_"))
        self.routine: dict[tuple[str, str], tuple[list[datetime], list[_PlanSpec]]] = {}
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
                 triaged: datetime) -> _PlanSpec | None:
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

    def timeline(self, level: str, triaged: datetime, plan: _PlanSpec | None) -> _Timeline:
        r, now = self.rng, self.now
        started = self.daytime(triaged + _span(r, _START_HOURS[level]))
        finished = self.daytime(started + _span(r, _REVIEW_HOURS[level]))
        if plan is None:
            chance = r.random()
            if chance < _STALLED_IN_REVIEW:
                return _Timeline(started, None, None, None, "in_review")
            if chance < _STALLED_IN_REVIEW + _STALLED_VALIDATING:
                return _Timeline(started, finished, finished, None, "validating")
            return _Timeline(started, finished, finished,
                             self.daytime(finished + _span(r, _VALIDATE_HOURS[level])))
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
        if leads and r.random() < _LEAD_REVIEWS.get(route, 0.0):
            return leads[0]
        supervisors = service.supervisors
        if supervisors and (not self.quality or r.random() >= _QUALITY_REVIEWS):
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
        closer = self.quality[0] if self.quality and r.random() < _QUALITY_CLOSES else reviewer
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

    def review(self, kit: _Kit, row: dict[str, Any], triage: dict[str, Any],
               planted: str | None, reviewer: int, times: _Timeline, progress: float,
               pronoun: str, closer: int | None, plan: _PlanSpec | None) -> dict[str, Any]:
        """A reviews row (without report_id): the type's fields and the leaders' questions;
        `closer` when it is closed."""
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
                    values[key] = _iso(_prompt_time(local))
                elif how == "quarter":
                    values[key] = _iso(local.replace(minute=local.minute // 15 * 15))
                else:
                    values[key] = _iso(local + timedelta(minutes=r.randint(*data)))
        barrier = row["barrier"]
        reliable = would = note = findings = stopped = None
        factors: list[str] = []
        barrier_class = barrier  # the review starts from what the reporter said
        if done or rand() < progress - 0.2:
            if rand() < 0.1:
                barrier_class = _RECLASSIFIED.get(barrier, barrier)
            answers, cum = _RELIABLE.get(barrier_class, _RELIABLE[_CHANCE])
            reliable = answers[bisect(cum, rand())] if len(answers) > 1 else answers[0]
            answers, cum = _WORK_AGAIN.get(barrier_class, _WORK_AGAIN[_CHANCE])
            would = answers[bisect(cum, rand())] if len(answers) > 1 else answers[0]
            if rand() < 0.3:
                notes = _WORK_AGAIN_NOTES[would]
                note = notes[int(rand() * len(notes))]
            pool = (kit.stopped.get(barrier_class) or kit.stopped[_CHANCE])[pronoun]
            stopped = pool[int(rand() * len(pool))]
            if kit.factors:
                factors = list(kit.factors[int(rand() * len(kit.factors))])
            if done or rand() < progress:
                after = planted == "family_note" and barrier == _DESIGNED
                pool = (kit.findings.get(f"{planted}:{after}") or kit.findings[""])[pronoun]
                findings = pool[int(rand() * len(pool))]
        outcome = None
        if closer is not None:
            if plan is not None:
                outcome = f"Closed with the plan “{plan.title}” in place. {plan.outcome}".strip()
            else:
                outcome = kit.outcome + _OUTCOME_TAILS.get(reliable or "", "")
        started = times.started
        updated = times.finished if done and times.finished else \
            started + _seconds(self.now - started, 0.8)
        return {
            "template_version": row["type_version"], "field_values": values,
            "what_stopped_harm": stopped, "control_reliable": reliable, "would_work_again": would,
            "would_work_again_note": note, "contributing_factors": factors,
            "barrier_class": barrier_class, "findings": findings, "reviewer_id": reviewer,
            "started_at": started, "updated_at": updated,
            "closed_at": times.closed if closer is not None else None,
            "closed_by_id": closer, "outcome": outcome,
        }

    def gates(self, kit: _Kit, start: datetime, end: datetime, reviewer: int,
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
            if may_be_not_applicable and rand() < _NOT_APPLICABLE:
                state, pool = "not_applicable", _NOT_APPLICABLE_TEXTS[pronoun]
            else:
                state, pool = "done", notes[pronoun]
            rows.append({"gate_key": key, "state": state, "note": pool[int(rand() * len(pool))],
                         "checked_by_id": by, "checked_at": at})
        return rows

    def evidence(self, kit: _Kit, start: datetime, end: datetime, reviewer: int, closer: int,
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

    def communications(self, kit: _Kit, row: dict[str, Any], gates: list[dict[str, Any]],
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
