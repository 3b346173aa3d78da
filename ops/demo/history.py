"""After filing: triage, escalations and notifications, as a provider that triages
promptly."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from core.auth.roles import Role
from core.clock import to_local, to_utc
from core.config import Settings, settings
from core.escalation.rules import EscalationKind, needs_for_new_report
from core.escalation.rules import due_at as escalation_due
from core.escalation.service import CLINICAL_REVIEW_WAYS
from core.reports.vocabulary import ReportStatus
from core.taxonomy.schema import NearMissTypeSpec, TaxonomySpec
from core.triage.matrix import review_level
from core.triage.vocabulary import Recurrence, ReviewLevel, Severity
from core.triage.vocabulary import Route as TriageRoute
from ops.demo.generator import DemoPlaces, DemoService, _cum, _report_rows
from ops.demo.plan_specs import _PlanSpec
from ops.demo.plans import _demo_plans
from ops.demo.provider import DEFAULT_MONTHS, DEFAULT_REPORTS, HOME_CARE
from ops.demo.records import DemoEscalation, DemoNotice, DemoRecord, _Slot
from ops.demo.review_text import (
    _CLINICAL_OUTCOMES,
    _PATHWAY_ENTERED,
    _PATHWAY_FAILED,
    _PATHWAY_NOTES,
    _PATHWAY_RECEIVER,
    _PERSON_SAFE_NOTES,
    _SAFEGUARDING_REASONS,
)
from ops.demo.workflow import _Workflow

# ---------------------------------------------------------------------------------------------
# After filing: triage, escalations and notifications, as a provider that triages promptly
# ---------------------------------------------------------------------------------------------

TRIAGE_BACKLOG_DAYS = 3  # every report older than this is triaged; younger ones may wait
_SLOWEST_TRIAGE = timedelta(hours=70)  # "a few slower": still inside the backlog window
# Share of the reports of the last few days still waiting for triage, by age in whole days:
# the board's "New" column (10-30 cards with the default 2,500 reports).
_STILL_NEW = (0.95, 0.8, 0.55)
NOTIFY_DAYS = 14  # notifications only for recent escalations: older ones would be noise
_WAITING_HOURS = 48  # an escalation of a still-new report this recent may still be waiting
_LATE_ACKNOWLEDGEMENTS = 0.07  # share acknowledged after the allowed time

# Severity potential (high, medium, low) by type: deterioration and safeguarding concerns are
# mostly high, unsafe conditions and transport mostly low or medium.
_SEVERITY_MIX: dict[str, tuple[float, float, float]] = {
    "transfer_near_fall": (0.25, 0.5, 0.25),
    "medication_discrepancy": (0.3, 0.5, 0.2),
    "staffing_visit_continuity": (0.15, 0.5, 0.35),
    "skin_integrity_deterioration": (0.6, 0.35, 0.05),
    "interface_failure": (0.25, 0.55, 0.2),
    "late_shift_start": (0.1, 0.5, 0.4),
    "safeguarding_rights": (0.55, 0.4, 0.05),
    "environment_equipment": (0.15, 0.45, 0.4),
    "transport": (0.1, 0.45, 0.45),
    "community_safety": (0.2, 0.5, 0.3),
    "other": (0.05, 0.35, 0.6),
}
_PLANTED_SEVERITY: dict[str, tuple[float, float, float]] = {
    "bathroom": (0.4, 0.5, 0.1),  # the same person nearly falls again and again
    "late_cluster": (0.2, 0.6, 0.2),
    "family_note": (0.35, 0.5, 0.15),
}
_SEVERITIES = (Severity.HIGH, Severity.MEDIUM, Severity.LOW)  # the order of the mixes
_DEEPER_INVESTIGATION = 0.08  # the triager asks for more than the matrix's minimum


@lru_cache(maxsize=64)
def _severity_weights(mix: tuple[float, float, float]) -> list[float]:
    return _cum(mix)

# Types where the triager sometimes finds a safeguarding signal the reporter did not flag.
_TRIAGE_SIGNALS: dict[str, tuple[float, str]] = {
    "community_safety": (0.05, "abuse_or_neglect_concern"),
    "staffing_visit_continuity": (0.02, "abuse_or_neglect_concern"),
    "transport": (0.02, "rights_restriction"),
    "transfer_near_fall": (0.01, "restraint_related"),
    "medication_discrepancy": (0.01, "abuse_or_neglect_concern"),
    "other": (0.03, "boundary_issue"),
}
# The signals a safeguarding concern's own words point at (see _CONCERNS).
_SIGNAL_CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PIN", ("financial_exploitation",)),
    ("lend money", ("boundary_issue", "financial_exploitation")),
    ("bank card", ("boundary_issue", "financial_exploitation")),
    ("locked from the outside", ("rights_restriction",)),
    ("Bed rails", ("restraint_related",)),
    ("lap belt", ("restraint_related", "rights_restriction")),
    ("shouted", ("abuse_or_neglect_concern",)),
    ("punishment", ("rights_restriction",)),
)
_TRIAGE_SAFEGUARDING_REASON = ("Triage found a safeguarding or rights signal: decide on "
                               "safeguarding and external reporting.")  # as core.triage.service

# Which lead triages a report routed to them (else a supervisor of the service, or quality).
_LEAD_TRIAGES: dict[str, float] = {"safeguarding": 0.6, "clinical": 0.3, "operations": 0.25}
_QUALITY_TRIAGES = 0.15

_TRIAGE_NOTES: dict[str, tuple[str, ...]] = {
    "single": ("Checked the details with the reporter.",
               "Supervisor to follow up at the next team meeting.",
               "Reporter thanked; nothing similar in the last three months."),
    "repeat": ("Seen before here: look at what the earlier reports changed.",
               "Same person or place as earlier reports; check the control is still in place.",
               "Repeat theme: bring to the weekly cluster review."),
    "cluster": ("Part of the late-start cluster in the North: how is cover confirmed after a "
                "rota change?",
                "Cluster across the region's services: for the quality lead's review."),
}

# Minutes from acknowledging to deciding, by escalation kind (low, high).
_DECIDE_MINUTES: dict[str, tuple[int, int]] = {
    "safeguarding": (20, 20 * 60), "supervisor_alert": (5, 3 * 60),
    "clinical_review": (60, 8 * 60), "operations": (4 * 60, 5 * 24 * 60),
}
_EXTERNAL_SHARE: dict[str, float] = {
    "financial_exploitation": 0.45, "boundary_issue": 0.3, "rights_restriction": 0.4,
    "restraint_related": 0.35, "abuse_or_neglect_concern": 0.5,
}
_REPORTED_TO = ("Adult protective services", "Adult protective services and the police "
                "non-emergency line", "The person's case manager and adult protective services",
                "State licensing agency")



class _History:
    """Decides what happened to each report after filing (its own seeded Random).

    Reports come in reporting order; the planner remembers the latest report per (type,
    person) and (type, location) to find repeats, which keeps memory flat.
    """

    def __init__(self, places: DemoPlaces, taxonomy: TaxonomySpec, *, seed: int, now: datetime,
                 rules: Settings, plans: Sequence[_PlanSpec] = ()):
        # A separate stream: the history never changes the reports a seed gives.
        self.rng = random.Random(f"demo-history-{seed}")
        self.flow = _Workflow(places, taxonomy, seed=seed, now=now, rules=rules, plans=plans)
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
        self.latest: dict[tuple[str, str, int], tuple[datetime, _Slot]] = {}
        self.cluster: list[tuple[datetime, _Slot]] = []  # the latest planted cluster members
        self.seq = 0

    # -- flags at filing ------------------------------------------------------------------

    def recurrence(self, row: dict[str, Any], slot: _Slot,
                   planted: str | None) -> tuple[Recurrence, tuple[_Slot, ...]]:
        """Repeat when an earlier report of the type shares the person or the place within the
        recurrence window (a cheap form of propose_recurrence); the planted cluster is one."""
        occurred, type_key = row["occurred_at"], row["type_key"]
        keys: list[tuple[str, str, int]] = []
        if row["location_id"] not in self.generic_places:
            keys.append(("location", type_key, row["location_id"]))
        if row["person_id"] is not None:
            keys.append(("person", type_key, row["person_id"]))
        related: list[_Slot] = []
        for key in keys:
            seen = self.latest.get(key)
            if seen is not None and occurred - self.window <= seen[0] <= occurred \
                    and all(s is not seen[1] for s in related):
                related.append(seen[1])
            if seen is None or seen[0] <= occurred:
                self.latest[key] = (occurred, slot)
        if planted == "late_cluster":
            # Reporting order is not occurrence order: link only members that happened before.
            earlier = tuple(s for at, s in self.cluster if at <= occurred)[-2:]
            self.cluster = [*self.cluster[-3:], (occurred, slot)]
            return Recurrence.CLUSTER, earlier
        if related or planted == "bathroom":  # the doorway has been a problem all along
            return Recurrence.REPEAT, tuple(related)
        return Recurrence.SINGLE, ()

    # -- the record -----------------------------------------------------------------------

    def plan(self, row: dict[str, Any], planted: str | None) -> DemoRecord:
        spec = self.specs[row["type_key"]]
        slot = _Slot(self.seq)
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
        triaged_at = None if planted == "open_safeguarding" else self.triage_time(row)
        if triaged_at is not None:
            triager = self.triager(service, self.route(row, spec, signals))
            if triager is not None:
                self.triage(record, spec, recurrence, signals, external, triager, triaged_at,
                            planted)
                self.flow.advance(record, planted, service)
        where = f"{service.spec.name}, {self.places.get(row['location_id'], '?')}"
        new = row["status"] == ReportStatus.NEW.value
        for need in needs_for_new_report(spec, still_at_risk=row["still_at_risk"],
                                         interface_flag=row["interface_flag"]):
            waiting = planted == "open_safeguarding" and need.kind is EscalationKind.SAFEGUARDING
            record.escalations.append(self.escalation(
                need.kind, need.reason, row["reported_at"], row["reporter_id"], service, where,
                new=new, waiting=waiting, signals=signals, external=external))
        if record.triage is not None and signals and not spec.safeguarding_signal:
            # The triage answer raised it (core.triage.service.triage_report).
            record.escalations.append(self.escalation(
                EscalationKind.SAFEGUARDING, _TRIAGE_SAFEGUARDING_REASON,
                record.triage["triaged_at"], record.triage["triaged_by_id"], service, where,
                new=False, waiting=False, signals=signals, external=external))
        return record

    def signals(self, row: dict[str, Any], spec: NearMissTypeSpec) -> tuple[list[str], bool]:
        """The safeguarding signals the triager records, and whether it is reported outside."""
        r = self.rng
        found: set[str] = set()
        if spec.safeguarding_signal:
            text = row["description"]
            for cue, keys in _SIGNAL_CUES:
                if cue in text:
                    found.update(keys)
            found = found or {"abuse_or_neglect_concern"}
        else:
            chance, signal = _TRIAGE_SIGNALS.get(spec.key, (0.0, ""))
            if chance and r.random() < chance:
                found = {signal}
        if not found:
            return [], False
        usable = sorted(k for k in found if k in self.signal_keys)
        if not usable and self.signal_keys:
            usable = [self.signal_keys[0]]
        share = max((_EXTERNAL_SHARE.get(k, 0.3) for k in usable), default=0.3)
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

    def triage_time(self, row: dict[str, Any]) -> datetime | None:
        """When the report was triaged, or None while it is still waiting (the backlog)."""
        r, reported = self.rng, row["reported_at"]
        urgent = row["still_at_risk"] or self.specs[row["type_key"]].stop_the_line \
            or self.specs[row["type_key"]].safeguarding_signal
        band = r.random()
        if urgent:  # the on-call supervisor triages these at once, day or night
            minutes = r.uniform(10, 120) if band < 0.85 else r.uniform(120, 480)
        elif band < 0.55:
            minutes = r.uniform(30, 6 * 60)
        elif band < 0.8:
            minutes = r.uniform(6 * 60, 24 * 60)
        elif band < 0.95:
            minutes = r.uniform(24 * 60, 48 * 60)
        else:
            minutes = r.uniform(48 * 60, 66 * 60)
        at = reported + timedelta(minutes=minutes)
        if not urgent:
            local = to_local(at, self.rules.zone)
            if local.hour >= 22 or local.hour < 7:  # nobody triages routine reports at night
                morning = local.date() + timedelta(days=1 if local.hour >= 22 else 0)
                at = to_utc(datetime.combine(morning, time(7, 30))
                            + timedelta(minutes=r.randint(0, 150)), self.rules.zone)
            at = min(at, reported + _SLOWEST_TRIAGE)
        age = self.now - reported
        if age < timedelta(days=TRIAGE_BACKLOG_DAYS):
            still_new = _STILL_NEW[min(int(age / timedelta(days=1)), len(_STILL_NEW) - 1)]
            if r.random() < (still_new / 2 if urgent else still_new):
                return None
            if at > self.now:  # triaged, so some time between reporting and now
                at = reported + (self.now - reported) * r.uniform(0.2, 0.9)
        return at.replace(microsecond=0)

    def triager(self, service: DemoService, route: TriageRoute) -> int | None:
        """A lead for the reports routed to them, else a supervisor of the service or quality."""
        r = self.rng
        leads = self.leads.get(route.value, ())
        if leads and r.random() < _LEAD_TRIAGES.get(route.value, 0.0):
            return leads[0]
        quality = self.leads.get(Role.QUALITY.value, ())
        if service.supervisors and (not quality or r.random() >= _QUALITY_TRIAGES):
            return r.choice(service.supervisors)
        if quality:
            return quality[0]
        return next((ids[0] for ids in self.leads.values() if ids), None)

    def triage(self, record: DemoRecord, spec: NearMissTypeSpec, recurrence: Recurrence,
               signals: list[str], external: bool, triager: int, at: datetime,
               planted: str | None) -> None:
        """The four questions answered, the matrix applied and the report moved to triaged."""
        r, row = self.rng, record.report
        mix = _PLANTED_SEVERITY.get(planted or "", _SEVERITY_MIX.get(spec.key, (0.2, 0.5, 0.3)))
        if row["still_at_risk"]:  # someone still at risk: never low potential
            mix = (mix[0] + 0.5 * mix[2], mix[1] + 0.5 * mix[2], 0.0)
        severity = r.choices(_SEVERITIES, cum_weights=_severity_weights(mix))[0]
        level = self.levels[severity, recurrence]  # core.triage.matrix.review_level
        investigation = level
        if level is not ReviewLevel.ROOT_CAUSE_ANALYSIS and r.random() < _DEEPER_INVESTIGATION:
            investigation = list(ReviewLevel)[level.depth + 1]
        route = self.route(row, spec, signals)
        notes = r.choice(_TRIAGE_NOTES[recurrence.value]) if r.random() < 0.3 else None
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

    # -- escalations ----------------------------------------------------------------------

    def escalation(self, kind: EscalationKind, reason: str, raised_at: datetime,
                   raised_by: int | None, service: DemoService, where: str, *, new: bool,
                   waiting: bool, signals: list[str], external: bool) -> DemoEscalation:
        """Raised, acknowledged (mostly in time) and decided, as far as `now` allows."""
        r, now = self.rng, self.now
        allowed = self.rules.escalation.acknowledge_within_minutes[kind.value]
        row: dict[str, Any] = {
            "kind": kind.value, "reason": reason, "raised_at": raised_at,
            "raised_by_id": raised_by, "due_at": escalation_due(kind, raised_at,
                                                                self.rules.escalation),
            "acknowledged_at": None, "acknowledged_by_id": None, "decided_at": None,
            "decided_by_id": None,
        }
        recipients = (service.supervisors if kind is EscalationKind.SUPERVISOR_ALERT
                      else self.leads.get(kind.recipient_role.value, ()))
        late = r.random() < _LATE_ACKNOWLEDGEMENTS
        acknowledged = raised_at + timedelta(
            minutes=allowed * (r.uniform(1.1, 3.0) if late else r.uniform(0.1, 0.95)))
        decided = acknowledged + timedelta(minutes=r.uniform(*_DECIDE_MINUTES[kind.value]))
        # A new report's recent escalation may still be waiting: the inbox has work in it.
        waiting = waiting or (new and now - raised_at < timedelta(hours=_WAITING_HOURS)
                              and r.random() < 0.3)
        actor = None
        if recipients and not waiting and acknowledged <= now:
            actor = recipients[0] if kind is not EscalationKind.SUPERVISOR_ALERT \
                else r.choice(recipients)
            row.update(acknowledged_at=acknowledged.replace(microsecond=0),
                       acknowledged_by_id=actor)
            if decided <= now:
                row.update(decided_at=decided.replace(microsecond=0), decided_by_id=actor,
                           decision=self.decision(kind, acknowledged, decided, signals,
                                                  external))
        notices: tuple[DemoNotice, ...] = ()
        if raised_at >= now - timedelta(days=NOTIFY_DAYS):
            notices = tuple(DemoNotice(user, self.read_at(user, actor, row["acknowledged_at"]))
                            for user in recipients)
        return DemoEscalation(row, where, notices)

    def read_at(self, user: int, actor: int | None,
                acknowledged: datetime | None) -> datetime | None:
        """Read when acknowledged by them; others who were told read it a little later."""
        if acknowledged is None:
            return None
        if user == actor:
            return acknowledged
        seen = acknowledged + timedelta(minutes=self.rng.randint(5, 8 * 60))
        return seen if seen <= self.now else None

    def decision(self, kind: EscalationKind, acknowledged: datetime, decided: datetime,
                 signals: list[str], external: bool) -> dict[str, Any]:
        """A decision in the shape core.escalation.service stores for the kind."""
        r = self.rng
        if kind is EscalationKind.SAFEGUARDING:
            fallback = _SAFEGUARDING_REASONS["abuse_or_neglect_concern"]
            made, kept = _SAFEGUARDING_REASONS.get(signals[0], fallback) if signals else fallback
            told = acknowledged + (decided - acknowledged) * r.uniform(0.2, 0.9)
            return {"external_report_made": external,
                    "reported_to": r.choice(_REPORTED_TO) if external else None,
                    "reported_at": told.isoformat(timespec="minutes") if external else None,
                    "reason": made if external else kept}
        if kind is EscalationKind.OPERATIONS:
            return {"where_entered": r.choice(_PATHWAY_ENTERED),
                    "who_should_have_received": r.choice(_PATHWAY_RECEIVER),
                    "failed_confirmation_step": r.choice(_PATHWAY_FAILED),
                    "notes": r.choice(_PATHWAY_NOTES)}
        if kind is EscalationKind.CLINICAL_REVIEW:
            return {"how": r.choice(CLINICAL_REVIEW_WAYS), "outcome": r.choice(_CLINICAL_OUTCOMES)}
        return {"note": r.choice(_PERSON_SAFE_NOTES)}


def generate_demo(places: DemoPlaces, taxonomy: TaxonomySpec, *,
                  reports: int = DEFAULT_REPORTS, seed: int = 7, months: int = DEFAULT_MONTHS,
                  now: datetime, zone: ZoneInfo, rules: Settings | None = None,
                  plans: Sequence[_PlanSpec] | None = None) -> Iterator[DemoRecord]:
    """Yield `reports` demo near misses with their history up to `now`, in reporting order.

    Pure and deterministic: the same arguments give the same records (no reference numbers or
    ids yet). `rules` gives the triage matrix, escalation times and action rules (default: the
    settings); `plans` the action plans that link reports (default: `_demo_plans`).
    """
    rules = rules or settings()
    if plans is None:
        plans = _demo_plans(now, months=months, reports=reports, rules=rules)
    history = _History(places, taxonomy, seed=seed, now=now, rules=rules, plans=plans)
    for row, planted in _report_rows(
            places, taxonomy, reports=reports, seed=seed, months=months, now=now, zone=zone,
            safeguarding_minutes=rules.escalation.acknowledge_within_minutes["safeguarding"]):
        yield history.plan(row, planted)


def generate_demo_rows(places: DemoPlaces, taxonomy: TaxonomySpec, *,
                       reports: int = DEFAULT_REPORTS, seed: int = 7,
                       months: int = DEFAULT_MONTHS, now: datetime, zone: ZoneInfo,
                       rules: Settings | None = None) -> Iterator[dict[str, Any]]:
    """Yield `reports` demo near-miss rows in order of reported_at (no reference numbers yet).

    The rows as they stand at `now` (flags, triage outcome, status); see `generate_demo`.
    """
    for record in generate_demo(places, taxonomy, reports=reports, seed=seed, months=months,
                                now=now, zone=zone, rules=rules):
        yield record.report
