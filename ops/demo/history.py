"""After filing: flags, triage and escalations, as a provider that triages promptly.

Every report older than the triage backlog (provider.yaml, `habits.triage.backlog_days`) is
triaged, most within hours, some within a day or two, urgent ones at once; of the last few
days' reports most still wait (the board's "New" column). Each triage has its TriageRecord (the
four questions, the severity x recurrence matrix, the route as the triage proposal gives it)
and a new -> triaged transition; the workflow (`ops.demo.workflow`) takes it on from there.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any

from core.auth.roles import Role
from core.clock import to_local, to_utc
from core.config import Settings
from core.escalation.rules import EscalationKind, needs_for_new_report
from core.reports.vocabulary import ReportStatus
from core.taxonomy.schema import NearMissTypeSpec, TaxonomySpec
from core.triage.matrix import review_level
from core.triage.vocabulary import Recurrence, ReviewLevel, Severity
from core.triage.vocabulary import Route as TriageRoute
from ops.demo.data import demo_data
from ops.demo.escalations import Escalations
from ops.demo.places import DemoPlaces, DemoService
from ops.demo.plan_specs import PlanSpec
from ops.demo.profiles import PROFILES
from ops.demo.provider import HOME_CARE
from ops.demo.records import DemoRecord, Slot
from ops.demo.sampling import cum
from ops.demo.workflow import Workflow

_DATA = demo_data()
_HABITS = _DATA.provider.habits.triage
_AFTER = _DATA.everyday.after_filing
TRIAGE_BACKLOG_DAYS = _HABITS.backlog_days  # older reports are all triaged
_SEVERITIES = (Severity.HIGH, Severity.MEDIUM, Severity.LOW)  # the order of the mixes
# A planted story's own severity mix and triage notes, where it has them.
_STORY_SEVERITY = {"doorway_falls": _DATA.doorway_falls.severity.mix(),
                   "late_start_cluster": _DATA.late_start_cluster.severity.mix(),
                   "family_notes": _DATA.family_notes.severity.mix()}
_TRIAGE_NOTES = {**_AFTER.triage_notes, "cluster": _DATA.late_start_cluster.triage_notes}


@lru_cache(maxsize=64)
def _severity_weights(mix: tuple[float, float, float]) -> list[float]:
    return cum(mix)


class History:
    """Decides what happened to each report after filing (its own seeded Random).

    Reports come in reporting order; the planner remembers the latest report per (type,
    person) and (type, location) to find repeats, which keeps memory flat.
    """

    def __init__(self, places: DemoPlaces, taxonomy: TaxonomySpec, *, seed: int, now: datetime,
                 rules: Settings, plans: Sequence[PlanSpec] = ()):
        # A separate stream: the history never changes the reports a seed gives.
        self.rng = random.Random(f"demo-history-{seed}")
        self.flow = Workflow(places, taxonomy, seed=seed, now=now, rules=rules, plans=plans)
        self.escalations = Escalations(self.rng, now, rules, places.leads)
        self.now, self.rules = now, rules
        self.specs = {t.key: t for t in taxonomy.types}
        self.signal_keys = [s.key for s in taxonomy.safeguarding_signals]
        self.services = {s.id: s for s in places.services}
        self.places = {p.id: p.spec.name for s in places.services for p in s.places}
        # "Person's home: kitchen" is every client's kitchen: sharing it is no repeat theme.
        self.generic_places = {p.id for s in places.services if s.spec.kind == HOME_CARE
                               for p in s.places if p.spec.tags & {"home", "community"}}
        self.leads = places.leads
        self.window = timedelta(days=rules.triage.recurrence_window_days)
        self.levels = {(severity, recurrence): review_level(severity, recurrence, rules.triage)
                       for severity in Severity for recurrence in Recurrence}
        self.latest: dict[tuple[str, str, int], tuple[datetime, Slot]] = {}
        self.cluster: list[tuple[datetime, Slot]] = []  # the latest planted cluster members
        self.seq = 0

    # -- flags at filing ------------------------------------------------------------------

    def recurrence(self, row: dict[str, Any], slot: Slot,
                   planted: str | None) -> tuple[Recurrence, tuple[Slot, ...]]:
        """Repeat when an earlier report of the type shares the person or the place within the
        recurrence window (a cheap form of propose_recurrence); the planted cluster is one."""
        occurred, type_key = row["occurred_at"], row["type_key"]
        keys: list[tuple[str, str, int]] = []
        if row["location_id"] not in self.generic_places:
            keys.append(("location", type_key, row["location_id"]))
        if row["person_id"] is not None:
            keys.append(("person", type_key, row["person_id"]))
        related: list[Slot] = []
        for key in keys:
            seen = self.latest.get(key)
            if seen is not None and occurred - self.window <= seen[0] <= occurred \
                    and all(s is not seen[1] for s in related):
                related.append(seen[1])
            if seen is None or seen[0] <= occurred:
                self.latest[key] = (occurred, slot)
        if planted == "late_start_cluster":
            # Reporting order is not occurrence order: link only members that happened before.
            earlier = tuple(s for at, s in self.cluster if at <= occurred)[-2:]
            self.cluster = [*self.cluster[-3:], (occurred, slot)]
            return Recurrence.CLUSTER, earlier
        if related or planted == "doorway_falls":  # the doorway has been a problem all along
            return Recurrence.REPEAT, tuple(related)
        return Recurrence.SINGLE, ()

    # -- the record -----------------------------------------------------------------------

    def plan(self, row: dict[str, Any], planted: str | None) -> DemoRecord:
        """Everything that happened to one report up to `now`."""
        spec = self.specs[row["type_key"]]
        slot = Slot(self.seq)
        self.seq += 1
        recurrence, related = self.recurrence(row, slot, planted)
        row.update(stop_the_line=spec.stop_the_line, safeguarding=spec.safeguarding_signal,
                   is_repeat=recurrence is not Recurrence.SINGLE,
                   in_cluster=recurrence is Recurrence.CLUSTER,
                   status_changed_at=row["reported_at"], severity=None, review_level=None,
                   routed_to=None, triaged_at=None)
        record = DemoRecord(row, slot, related=related)
        service = self.services[row["service_id"]]
        signals, external = self.signals(row, spec)
        triaged_at = None if planted == "overdue_concern" else self.triage_time(row)
        if planted == "recent_case":  # triaged at once, as the story tells it
            triaged_at = min(row["reported_at"] + timedelta(minutes=self.rng.uniform(15, 45)),
                             self.now).replace(microsecond=0)
        if triaged_at is not None:
            triager = self.triager(service, self.route(row, spec, signals))
            if triager is not None:
                self.triage(record, spec, recurrence, signals, external, triager, triaged_at,
                            planted)
                self.flow.advance(record, planted, service)
        self.escalate(record, spec, service, planted, signals, external)
        return record

    def escalate(self, record: DemoRecord, spec: NearMissTypeSpec, service: DemoService,
                 planted: str | None, signals: list[str], external: bool) -> None:
        """The escalations filing raised, and the one a triage safeguarding answer raised."""
        row = record.report
        where = f"{service.spec.name}, {self.places.get(row['location_id'], '?')}"
        new = row["status"] == ReportStatus.NEW.value
        states = _DATA.recent_cases[spec.key].escalations if planted == "recent_case" else {}
        for need in needs_for_new_report(spec, still_at_risk=row["still_at_risk"],
                                         interface_flag=row["interface_flag"]):
            state = states.get(need.kind.value)
            if planted == "overdue_concern" and need.kind is EscalationKind.SAFEGUARDING:
                state = "waiting"
            record.escalations.append(self.escalations.raise_one(
                need.kind, need.reason, row["reported_at"], row["reporter_id"], service, where,
                new=new, signals=signals, external=external, state=state))
        if record.triage is not None and signals and not spec.safeguarding_signal:
            # The triage answer raised it (core.triage.service.triage_report).
            record.escalations.append(self.escalations.raise_one(
                EscalationKind.SAFEGUARDING, _AFTER.safeguarding.reason_at_triage,
                record.triage["triaged_at"], record.triage["triaged_by_id"], service, where,
                new=False, signals=signals, external=external))

    def signals(self, row: dict[str, Any], spec: NearMissTypeSpec) -> tuple[list[str], bool]:
        """The safeguarding signals the triager records, and whether it is reported outside."""
        r = self.rng
        found: set[str] = set()
        if spec.safeguarding_signal:
            text = row["description"]
            for cue, keys in _AFTER.safeguarding.cues.items():
                if cue in text:
                    found.update(keys)
            found = found or {"abuse_or_neglect_concern"}
        else:
            chance, signal = PROFILES[spec.key].signal if spec.key in PROFILES else (0.0, "")
            if chance and r.random() < chance:
                found = {signal}
        if not found:
            return [], False
        usable = sorted(k for k in found if k in self.signal_keys)
        if not usable and self.signal_keys:
            usable = [self.signal_keys[0]]
        shares = _AFTER.safeguarding.external_share
        share = max((shares.get(k, 0.3) for k in usable), default=0.3)
        if not spec.safeguarding_signal:
            share /= 2  # found at triage: usually handled within the service
        return usable, r.random() < share

    def route(self, row: dict[str, Any], spec: NearMissTypeSpec,
              signals: list[str]) -> TriageRoute:
        """As core.triage.proposal.proposed_route, on the report as triage leaves it."""
        if spec.safeguarding_signal or signals:
            return TriageRoute.SAFEGUARDING
        if row["interface_flag"] and spec.route_to == "supervisor":
            return TriageRoute.OPERATIONS
        return TriageRoute(spec.route_to)

    def _delay(self, urgent: bool) -> float:
        """Minutes from reporting to triage: urgent ones at once, most within hours."""
        r = self.rng
        band = r.random()
        if urgent:  # the on-call supervisor triages these at once, day or night
            return r.uniform(10, 120) if band < 0.85 else r.uniform(120, 480)
        if band < 0.55:
            return r.uniform(30, 6 * 60)
        if band < 0.8:
            return r.uniform(6 * 60, 24 * 60)
        if band < 0.95:
            return r.uniform(24 * 60, 48 * 60)
        return r.uniform(48 * 60, 66 * 60)

    def triage_time(self, row: dict[str, Any]) -> datetime | None:
        """When the report was triaged, or None while it is still waiting (the backlog)."""
        r, reported = self.rng, row["reported_at"]
        spec = self.specs[row["type_key"]]
        urgent = row["still_at_risk"] or spec.stop_the_line or spec.safeguarding_signal
        at = reported + timedelta(minutes=self._delay(urgent))
        if not urgent:
            local = to_local(at, self.rules.zone)
            if local.hour >= 22 or local.hour < 7:  # nobody triages routine reports at night
                morning = local.date() + timedelta(days=1 if local.hour >= 22 else 0)
                at = to_utc(datetime.combine(morning, time(7, 30))
                            + timedelta(minutes=r.randint(0, 150)), self.rules.zone)
            at = min(at, reported + timedelta(hours=_HABITS.slowest_hours))
        age = self.now - reported
        if age < timedelta(days=TRIAGE_BACKLOG_DAYS):
            by_age = _HABITS.still_new_by_age
            still_new = by_age[min(int(age / timedelta(days=1)), len(by_age) - 1)]
            if r.random() < (still_new / 2 if urgent else still_new):
                return None
            if at > self.now:  # triaged, so some time between reporting and now
                at = reported + (self.now - reported) * r.uniform(0.2, 0.9)
        return at.replace(microsecond=0)

    def triager(self, service: DemoService, route: TriageRoute) -> int | None:
        """A lead for the reports routed to them, else a supervisor of the service or quality."""
        r = self.rng
        leads = self.leads.get(route.value, ())
        if leads and r.random() < _HABITS.by_lead.get(route.value, 0.0):
            return leads[0]
        quality = self.leads.get(Role.QUALITY.value, ())
        if service.supervisors and (not quality or r.random() >= _HABITS.by_quality_lead):
            return r.choice(service.supervisors)
        if quality:
            return quality[0]
        return next((ids[0] for ids in self.leads.values() if ids), None)

    def triage(self, record: DemoRecord, spec: NearMissTypeSpec, recurrence: Recurrence,
               signals: list[str], external: bool, triager: int, at: datetime,
               planted: str | None) -> None:
        """The four questions answered, the matrix applied and the report moved to triaged."""
        r, row = self.rng, record.report
        mix = _STORY_SEVERITY.get(planted or "") or (
            PROFILES[spec.key].severity if spec.key in PROFILES else (0.2, 0.5, 0.3))
        if row["still_at_risk"]:  # someone still at risk: never low potential
            mix = (mix[0] + 0.5 * mix[2], mix[1] + 0.5 * mix[2], 0.0)
        severity = r.choices(_SEVERITIES, cum_weights=_severity_weights(mix))[0]
        level = self.levels[severity, recurrence]  # core.triage.matrix.review_level
        investigation = level
        if level is not ReviewLevel.ROOT_CAUSE_ANALYSIS and \
                r.random() < _HABITS.deeper_investigation:
            investigation = list(ReviewLevel)[level.depth + 1]
        route = self.route(row, spec, signals)
        notes = r.choice(_TRIAGE_NOTES[recurrence.value]) \
            if r.random() < _HABITS.with_a_note else None
        record.triage = {
            "at_risk_now": row["still_at_risk"],
            "immediate_safeguards": row["immediate_safeguards"] if row["still_at_risk"] else None,
            "safeguarding_trigger": bool(signals), "safeguarding_signals": signals,
            "external_reporting": external, "recurrence": recurrence.value,
            "severity": severity.value, "matrix_level": level.value,
            "investigation": investigation.value, "route": route.value, "notes": notes,
            "triaged_by_id": triager, "triaged_at": at,
        }
        row.update(status=ReportStatus.TRIAGED.value, status_changed_at=at,
                   severity=severity.value, review_level=investigation.value,
                   routed_to=route.value, triaged_at=at, safeguarding=row["safeguarding"]
                   or bool(signals), version_id=row["version_id"] + 1)
        record.transitions.append({
            "from_status": ReportStatus.NEW.value, "to_status": ReportStatus.TRIAGED.value,
            "at": at, "actor_id": triager, "reason": f"Triaged: {level.label} by the matrix"})
