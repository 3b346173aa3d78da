"""Standard exports: near misses as FHIR R4 AdverseEvent resources or as an AHRQ-aligned CSV.

This module holds what both formats share: the mapping file (data/standards.yaml, or the file
NEARMISS_STANDARDS names), the events of a period read from the database, the AHRQ event type
rule, and `export_standard`, the one entry point the command line (or a page) calls. It checks
the actor's role, builds the file and records the export in the audit trail.

Nothing that identifies a person supported leaves unless `include_person` is given: by default
the person's reference and name are not even read. Free text (what happened) is never exported
in these formats: it may name people, and FHIR R4 AdverseEvent has no element for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.commissioner.access import record_access
from core.commissioner.period import Period
from core.config import PROJECT_ROOT, Settings
from core.db import read_session
from core.organisation.models import Location, PersonSupported, Service
from core.reports.models import NearMissReport
from core.reports.vocabulary import Barrier, ReportStatus
from core.taxonomy.models import NearMissType
from core.triage.vocabulary import Severity
from core.uow import UnitOfWork
from core.weeks import local_midnight_utc
from core.yamlfile import load_model

# The formats `export_standard` makes, with their media types.
STANDARD_FORMATS: dict[str, str] = {
    "fhir": "application/fhir+json",
    "ahrq-csv": "text/csv",
}
DEFAULT_STANDARDS_PATH = PROJECT_ROOT / "data" / "standards.yaml"


# --------------------------------------------------------------------------- the mapping file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TypeMapping(_Strict):
    """Where one near-miss type goes in the standards."""

    ahrq_category: str
    hl7_category: str | None = None
    # A report of this type naming no person supported is an AHRQ "unsafe condition".
    unsafe_condition: bool = False


class BarrierMapping(_Strict):
    ahrq: str
    display: str


class SeverityMapping(_Strict):
    seriousness: str
    seriousness_display: str
    severity: str
    severity_display: str


class HarmLevel(_Strict):
    display: str
    loinc: str | None = None


class StandardsMapping(_Strict):
    """data/standards.yaml, checked: every barrier and severity level is mapped, and every
    type's categories exist."""

    local_system: str = Field(pattern=r"^(https?|urn):\S+$")
    ahrq_categories: dict[str, str]
    hl7_categories: dict[str, str] = {}
    types: dict[str, TypeMapping]
    default_type: TypeMapping
    ahrq_event_types: dict[str, str]
    barriers: dict[str, BarrierMapping]
    severities: dict[str, SeverityMapping]
    harm_scale: dict[str, HarmLevel]

    @model_validator(mode="after")
    def _complete(self) -> StandardsMapping:
        for key, mapping in [*self.types.items(), ("default_type", self.default_type)]:
            if mapping.ahrq_category not in self.ahrq_categories:
                raise ValueError(f"type {key}: ahrq_category {mapping.ahrq_category!r} is not "
                                 "one of ahrq_categories")
            if mapping.hl7_category is not None and mapping.hl7_category not in \
                    self.hl7_categories:
                raise ValueError(f"type {key}: hl7_category {mapping.hl7_category!r} is not "
                                 "one of hl7_categories")
        for name, wanted, given in (
                ("barriers", {b.value for b in Barrier}, set(self.barriers)),
                ("severities", {s.value for s in Severity}, set(self.severities)),
                ("ahrq_event_types", set(EVENT_TYPES), set(self.ahrq_event_types)),
                ("harm_scale", {HARM_NOT_REACHED, HARM_INCIDENT}, set(self.harm_scale))):
            if not wanted <= given:
                raise ValueError(f"{name}: add {', '.join(sorted(wanted - given))}")
        return self

    def for_type(self, type_key: str) -> TypeMapping:
        """The mapping of a type; a type not listed gets `default_type`."""
        return self.types.get(type_key, self.default_type)

    def system(self, name: str) -> str:
        """The address of one of the portal's local code systems or identifier systems."""
        return f"{self.local_system.rstrip('/')}/{name}"


INCIDENT, NEAR_MISS, UNSAFE_CONDITION = "incident", "near_miss", "unsafe_condition"
EVENT_TYPES = (INCIDENT, NEAR_MISS, UNSAFE_CONDITION)
HARM_NOT_REACHED, HARM_INCIDENT = "not_applicable", "unknown"


def standards_path() -> Path:
    """The mapping file: NEARMISS_STANDARDS, or data/standards.yaml."""
    return Path(os.environ.get("NEARMISS_STANDARDS", DEFAULT_STANDARDS_PATH))


@lru_cache(maxsize=4)
def _mapping_at(path: str, mtime: float) -> StandardsMapping:
    return load_model(path, StandardsMapping)


def load_standards(path: Path | None = None) -> StandardsMapping:
    """Read and check the mapping file (re-read when it changes); ConfigFileError names the
    line of a mistake."""
    path = path or standards_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0  # load_model reports the missing file in words
    return _mapping_at(str(path), mtime)


# --------------------------------------------------------------------------- the events


@dataclass(frozen=True)
class PersonInfo:
    """A person supported, read only when the export may identify them."""

    id: int
    local_ref: str
    display_name: str | None


@dataclass(frozen=True)
class StandardEvent:
    """One report as the standard exports see it (times are naive UTC, as stored)."""

    reference: str
    type_key: str
    type_name: str
    occurred_at: datetime
    reported_at: datetime
    service_id: int
    service_name: str
    service_active: bool
    location_id: int
    location_name: str
    location_active: bool
    barrier: Barrier
    severity: Severity | None
    status: ReportStatus
    names_a_person: bool
    person: PersonInfo | None  # only with include_person

    @property
    def reached_the_person(self) -> bool:
        """Re-classified reports are incidents: harm reached the person after all."""
        return self.status is ReportStatus.RECLASSIFIED


def event_type(event: StandardEvent, mapping: StandardsMapping) -> str:
    """The AHRQ event type: incident, near miss or unsafe condition.

    An incident reached the person (the report was re-classified); an unsafe condition is a
    hazard of a type mapped so, with no person supported named; everything else is a near miss.
    """
    if event.reached_the_person:
        return INCIDENT
    if mapping.for_type(event.type_key).unsafe_condition and not event.names_a_person:
        return UNSAFE_CONDITION
    return NEAR_MISS


def harm_level(event: StandardEvent) -> str:
    """The AHRQ Harm Scale key: not applicable unless harm reached the person, then unknown
    (the incident process grades it)."""
    return HARM_INCIDENT if event.reached_the_person else HARM_NOT_REACHED


def gather_events(session: Session, actor: Actor, period: Period, *,
                  include_person: bool = False,
                  rules: Settings) -> list[StandardEvent]:
    """The reports that occurred in the period (provider's local days), in the actor's scope,
    oldest first."""
    start = local_midnight_utc(period.start, rules.zone)
    end = local_midnight_utc(period.end, rules.zone)
    columns = [NearMissReport.reference, NearMissReport.type_key, NearMissType.name,
               NearMissReport.occurred_at, NearMissReport.reported_at, Service.id, Service.name,
               Service.active, Location.id, Location.name, Location.active,
               NearMissReport.barrier, NearMissReport.severity, NearMissReport.status,
               NearMissReport.person_id]
    query = (select(*columns)
             .join(NearMissType, NearMissType.key == NearMissReport.type_key)
             .join(Service, Service.id == NearMissReport.service_id)
             .join(Location, Location.id == NearMissReport.location_id)
             .where(NearMissReport.occurred_at >= start, NearMissReport.occurred_at < end)
             .order_by(NearMissReport.occurred_at, NearMissReport.id))
    if actor.service_ids is not None:
        query = query.where(NearMissReport.service_id.in_(actor.service_ids))
    rows = session.execute(query).all()
    people: dict[int, PersonInfo] = {}
    if include_person:
        wanted = {row[-1] for row in rows if row[-1] is not None}
        if wanted:
            people = {p.id: PersonInfo(p.id, p.local_ref, p.display_name)
                      for p in session.scalars(select(PersonSupported)
                                               .where(PersonSupported.id.in_(wanted)))}
    return [StandardEvent(
        reference=r[0], type_key=r[1], type_name=r[2], occurred_at=r[3], reported_at=r[4],
        service_id=r[5], service_name=r[6], service_active=r[7], location_id=r[8],
        location_name=r[9], location_active=r[10], barrier=Barrier(r[11]),
        severity=Severity(r[12]) if r[12] else None, status=ReportStatus(r[13]),
        names_a_person=r[14] is not None,
        person=people.get(r[14]) if include_person and r[14] is not None else None,
    ) for r in rows]


# --------------------------------------------------------------------------- the entry point


@dataclass(frozen=True)
class StandardExport:
    """A finished export: the file's bytes and what it holds."""

    content: bytes
    media_type: str
    events: int
    include_person: bool


def export_standard(engine: Engine, actor: Actor, output_format: str, period: Period, *,
                    include_person: bool = False, file_name: str = "",
                    now: datetime, rules: Settings,
                    mapping: StandardsMapping | None = None) -> StandardExport:
    """Build a standard export of the period's near misses and record it in the audit trail.

    `output_format` is "fhir" (a FHIR R4 Bundle of AdverseEvent resources, JSON) or "ahrq-csv".
    Only roles with EXPORT_STANDARD may export; `include_person` adds the person supported's
    reference and name, and the audit event says so.
    """
    require(actor, Capability.EXPORT_STANDARD)
    if output_format not in STANDARD_FORMATS:
        raise ValueError(f"format must be one of {', '.join(STANDARD_FORMATS)}")
    mapping = mapping or load_standards()
    with read_session(engine) as session:
        events = gather_events(session, actor, period, include_person=include_person,
                               rules=rules)
    if output_format == "fhir":
        from core.exports.fhir import bundle_json

        content = bundle_json(events, mapping, period=period, rules=rules, now=now,
                              include_person=include_person)
    else:
        from core.exports.ahrq import ahrq_csv

        content = ahrq_csv(events, mapping, period=period, rules=rules,
                           include_person=include_person)
    record_access(UnitOfWork(engine), actor, f"standard:{output_format}:{period.label}",
                  exported=True, details={"format": output_format, "period": period.label,
                                          "events": len(events),
                                          "include_person": include_person,
                                          "file": file_name}, now=now)
    return StandardExport(content, STANDARD_FORMATS[output_format], len(events), include_person)
