"""Near misses as FHIR R4 AdverseEvent resources in a Bundle of type "collection".

Built and validated with the `fhir.resources` package's R4B models: AdverseEvent, Location,
Organization, Group and Patient are the same on the wire in R4 (4.0.1) and R4B (4.3.0), so the
JSON is valid R4. docs/STANDARDS.md maps every element.

The bundle holds, besides one AdverseEvent per report:
- a Location per place named on the reports, managed by an Organization per service, itself
  part of an Organization for the provider (names only: never a person's home address);
- for the person affected, a de-identified Group ("people supported", not a list of anyone)
  that every AdverseEvent.subject points at, since R4 requires a subject (1..1). Only with
  `include_person` does a report naming a person point at a Patient with their local reference
  and name instead.

Resource ids are stable (UUID version 5 of what they stand for), so a receiving system sees the
same report, place or service under the same id in every export.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from core.commissioner.period import Period
from core.config import Settings
from core.exports.standards import (
    INCIDENT,
    StandardEvent,
    StandardsMapping,
    event_type,
)

HL7_CATEGORY = "http://terminology.hl7.org/CodeSystem/adverse-event-category"
HL7_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
HL7_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
ACTUALITY = ("actual", "potential")  # the required binding of AdverseEvent.actuality
FHIR_VERSION = "4.0.1"

# Local code and identifier systems, under the mapping file's `local_system`.
TYPE_SYSTEM = "CodeSystem/near-miss-type"
AHRQ_CATEGORY_SYSTEM = "CodeSystem/ahrq-event-category"
AHRQ_EVENT_TYPE_SYSTEM = "CodeSystem/ahrq-event-type"
BARRIER_SYSTEM = "CodeSystem/near-miss-barrier"
BARRIER_EXTENSION = "StructureDefinition/near-miss-barrier"
REFERENCE_SYSTEM = "identifier/near-miss-reference"
SERVICE_SYSTEM = "identifier/service"
PERSON_SYSTEM = "identifier/person-supported"


def _id(mapping: StandardsMapping, *parts: object) -> str:
    """A stable resource id: UUID 5 of the local system and what the resource stands for."""
    name = "|".join([mapping.local_system, *(str(p) for p in parts)])
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _ref(resource_id: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource_id}"}


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _local_time(moment: datetime, rules: Settings) -> str:
    """A stored naive-UTC moment as a FHIR dateTime with the provider's offset."""
    return moment.replace(tzinfo=UTC).astimezone(rules.zone).isoformat(timespec="seconds")


class _Entries:
    """The bundle's entries, each resource once, in the order first needed."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def add(self, resource_id: str, resource: dict[str, Any]) -> str:
        if resource_id not in self.items:
            self.items[resource_id] = {"fullUrl": f"urn:uuid:{resource_id}", "resource": {
                "resourceType": resource["resourceType"], "id": resource_id, **resource}}
        return resource_id


def _provider(entries: _Entries, mapping: StandardsMapping, rules: Settings) -> str:
    return entries.add(_id(mapping, "provider"), {
        "resourceType": "Organization", "active": True, "name": rules.provider_name})


def _service(entries: _Entries, mapping: StandardsMapping, event: StandardEvent,
             provider: str) -> str:
    return entries.add(_id(mapping, "service", event.service_id), {
        "resourceType": "Organization", "active": event.service_active,
        "identifier": [{"system": mapping.system(SERVICE_SYSTEM),
                        "value": str(event.service_id)}],
        "name": event.service_name, "partOf": _ref(provider)})


def _location(entries: _Entries, mapping: StandardsMapping, event: StandardEvent,
              service: str) -> str:
    # The place's name as the provider set it up (a room, "Client home", a vehicle), with the
    # service that manages it: no address of anyone's home.
    return entries.add(_id(mapping, "location", event.location_id), {
        "resourceType": "Location", "mode": "instance",
        "status": "active" if event.location_active else "inactive",
        "name": event.location_name, "managingOrganization": _ref(service)})


def _people_group(entries: _Entries, mapping: StandardsMapping, rules: Settings) -> str:
    # A definitional group (actual = false): "the people this provider supports", naming nobody.
    return entries.add(_id(mapping, "people-supported"), {
        "resourceType": "Group", "type": "person", "actual": False,
        "name": f"People supported by {rules.provider_name} (not identified)"})


def _patient(entries: _Entries, mapping: StandardsMapping, event: StandardEvent) -> str:
    person = event.person
    assert person is not None
    resource: dict[str, Any] = {
        "resourceType": "Patient", "active": True,
        "identifier": [{"system": mapping.system(PERSON_SYSTEM), "value": person.local_ref}]}
    if person.display_name:
        resource["name"] = [{"text": person.display_name}]
    return entries.add(_id(mapping, "person", person.id), resource)


def adverse_event(event: StandardEvent, mapping: StandardsMapping, rules: Settings, *,
                  subject: str, location: str) -> dict[str, Any]:
    """One report's AdverseEvent elements (the caller adds resourceType and id)."""
    kind = event_type(event, mapping)
    type_map = mapping.for_type(event.type_key)
    categories = [
        {"coding": [_coding(mapping.system(AHRQ_EVENT_TYPE_SYSTEM), kind,
                            mapping.ahrq_event_types[kind])]},
        {"coding": [_coding(mapping.system(AHRQ_CATEGORY_SYSTEM), type_map.ahrq_category,
                            mapping.ahrq_categories[type_map.ahrq_category])]},
    ]
    if type_map.hl7_category:
        categories.append({"coding": [_coding(HL7_CATEGORY, type_map.hl7_category,
                                              mapping.hl7_categories[type_map.hl7_category])]})
    barrier = mapping.barriers[event.barrier.value]
    resource: dict[str, Any] = {
        "identifier": {"system": mapping.system(REFERENCE_SYSTEM), "value": event.reference},
        # A near miss (or unsafe condition) did not reach the person: a potential event.
        "actuality": "actual" if kind == INCIDENT else "potential",
        "category": categories,
        "event": {"coding": [_coding(mapping.system(TYPE_SYSTEM), event.type_key,
                                     event.type_name)],
                  "text": event.type_name},
        "subject": _ref(subject),
        "date": _local_time(event.occurred_at, rules),
        "recordedDate": _local_time(event.reported_at, rules),
        "location": _ref(location),
        "extension": [{"url": mapping.system(BARRIER_EXTENSION),
                       "valueCodeableConcept": {
                           "coding": [_coding(mapping.system(BARRIER_SYSTEM),
                                              event.barrier.value, barrier.display)],
                           "text": barrier.ahrq}}],
    }
    if event.severity is not None:  # triage sets the severity potential
        level = mapping.severities[event.severity.value]
        resource["seriousness"] = {"coding": [_coding(HL7_SERIOUSNESS, level.seriousness,
                                                      level.seriousness_display)]}
        resource["severity"] = {"coding": [_coding(HL7_SEVERITY, level.severity,
                                                   level.severity_display)]}
    return resource


def bundle_data(events: Iterable[StandardEvent], mapping: StandardsMapping, *,
                period: Period, rules: Settings, now: datetime,
                include_person: bool = False) -> dict[str, Any]:
    """The events as a FHIR Bundle (type collection) in plain JSON data, not yet validated."""
    entries = _Entries()
    adverse: list[dict[str, Any]] = []
    provider = _provider(entries, mapping, rules)
    for event in events:
        service = _service(entries, mapping, event, provider)
        location = _location(entries, mapping, event, service)
        if include_person and event.person is not None:
            subject = _patient(entries, mapping, event)
        else:
            subject = _people_group(entries, mapping, rules)
        resource_id = _id(mapping, "report", event.reference)
        adverse.append({"fullUrl": f"urn:uuid:{resource_id}", "resource": {
            "resourceType": "AdverseEvent", "id": resource_id,
            **adverse_event(event, mapping, rules, subject=subject, location=location)}})
    bundle_id = _id(mapping, "bundle", period.label, now.isoformat(), include_person)
    return {
        "resourceType": "Bundle", "id": bundle_id,
        "meta": {"tag": [_coding(mapping.system("CodeSystem/export"),
                                 "identified" if include_person else "de-identified",
                                 "Names people supported" if include_person
                                 else "No person supported identified")]},
        "identifier": {"system": mapping.system("identifier/export"), "value": bundle_id},
        "type": "collection",
        "timestamp": _local_time(now, rules),
        # The AdverseEvents first, then what they point at.
        "entry": [*adverse, *entries.items.values()],
    }


def build_bundle(events: Iterable[StandardEvent], mapping: StandardsMapping, *,
                 period: Period, rules: Settings, now: datetime,
                 include_person: bool = False) -> Bundle:
    """The events as a fhir.resources Bundle; raises pydantic's ValidationError if any
    resource breaks the FHIR model."""
    return Bundle.model_validate(bundle_data(events, mapping, period=period, rules=rules,
                                             now=now, include_person=include_person))


def bundle_json(events: Iterable[StandardEvent], mapping: StandardsMapping, *, period: Period,
                rules: Settings, now: datetime,
                include_person: bool = False) -> bytes:
    """The bundle as FHIR JSON (UTF-8, indented), validated with fhir.resources first."""
    data = bundle_data(events, mapping, period=period, rules=rules, now=now,
                       include_person=include_person)
    Bundle.model_validate(data)  # refuses anything that breaks the FHIR model
    # The validated data is written as it is: fhir.resources' own serialiser takes about
    # 3 ms a resource (2500 reports: 7 s of a 10 s export), and the tests parse the written
    # file back with fhir.resources.
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class BundleCheck:
    """What a parsed bundle holds (for tests, the docs' sample and a receiving system)."""

    bundle: Bundle
    counts: Counter[str]

    def summary(self) -> str:
        """E.g. "collection, 9 entries: AdverseEvent 5, Location 2, Organization 1, Group 1"."""
        parts = ", ".join(f"{name} {count}" for name, count in self.counts.most_common())
        return f"{self.bundle.type}, {sum(self.counts.values())} entries: {parts}"


def check_bundle(data: bytes | str) -> BundleCheck:
    """Parse FHIR JSON with fhir.resources and check what the model alone does not.

    Raises ValueError (pydantic's ValidationError is one) when: the JSON breaks the FHIR model;
    the bundle is not a collection; an AdverseEvent's actuality is outside its required value
    set; or a reference points at nothing in the bundle.
    """
    bundle = Bundle.model_validate_json(data)
    if bundle.type != "collection":
        raise ValueError(f"bundle type is {bundle.type!r}, not 'collection'")
    entries = bundle.entry or []
    urls = {entry.fullUrl for entry in entries}
    counts: Counter[str] = Counter()
    for entry in entries:
        resource = entry.resource
        name = resource.get_resource_type()
        counts[name] += 1
        if name == "AdverseEvent":
            if resource.actuality not in ACTUALITY:
                raise ValueError(f"{entry.fullUrl}: actuality {resource.actuality!r}")
            for reference in (resource.subject, resource.location):
                if reference is not None and reference.reference not in urls:
                    raise ValueError(f"{entry.fullUrl}: {reference.reference} is not in the "
                                     "bundle")
    return BundleCheck(bundle, counts)
