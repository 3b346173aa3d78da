"""CSV import: `nearmiss import` as an administrator uses it, plus the importer's file handling."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from core.audit.models import AuditEvent
from core.clock import utcnow
from core.config import settings
from core.csvfile import ImportFileError
from core.db import read_session
from core.filing import importer
from core.filing.importer import import_bytes, import_csv
from core.organisation.models import Location, Service
from core.reports.models import NearMissReport
from ops.cli import app
from tests.builders import build_org
from tests.conftest import built_once

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLE = FIXTURES / "import_sample.csv"
HEADER = ["reported_at", "type", "service", "location", "description", "barrier",
          "still_at_risk"]
runner = CliRunner()


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


_minute = itertools.count()


def row(**changes: str) -> dict[str, str]:
    """A valid near fall at Maple House, a minute after the last one; override any column.

    (Each row differs: the importer refuses a row that repeats an earlier one exactly.)
    """
    minute = next(_minute) % (24 * 60)
    values = {
        "reported_at": f"2026-03-10 {minute // 60:02d}:{minute % 60:02d}",
        "type": "transfer_near_fall",
        "service": "Maple House",
        "location": "Bathroom doorway",
        "description": "Walker out of reach at the bathroom doorway; staff steadied her.",
        "barrier": "staff_recovery",
        "still_at_risk": "no",
    }
    values.update(changes)
    return values


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or list(dict.fromkeys(k for r in rows for k in r)) or HEADER
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def reports(engine) -> list[NearMissReport]:
    with read_session(engine) as session:
        found = list(session.scalars(select(NearMissReport).order_by(NearMissReport.id)))
        session.expunge_all()  # keep the loaded values readable after the session ends
        return found


def events(engine, action: str | None = None) -> list[AuditEvent]:
    with read_session(engine) as session:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action:
            query = query.where(AuditEvent.action == action)
        found = list(session.scalars(query))
        session.expunge_all()
        return found


def test_a_good_file_imports_every_row_with_references_and_one_audit_event_each(engine, org):
    result = run("import", SAMPLE)
    assert result.exit_code == 0, result.output
    assert "Imported 3 reports (NM-2025-00001 to NM-2025-00003)" in result.output
    stored = reports(engine)
    assert [r.reference for r in stored] == ["NM-2025-00001", "NM-2025-00002", "NM-2025-00003"]
    assert {(r.source, r.status, r.reporter_id, r.type_version) for r in stored} == {
        ("import", "new", None, 1)}
    first, second, third = stored
    # Naive times are New York local time (EDT in March), stored as naive UTC.
    assert first.reported_at == datetime(2025, 3, 14, 13, 30)
    assert first.occurred_at == datetime(2025, 3, 14, 12, 55)
    assert first.person_id == org.maple_person and first.staff_group_id == org.dsp_group
    assert first.immediate_safeguards == "Walker moved back within reach."
    # A time with an offset is converted; an empty occurred_at means "when reported".
    assert second.type_key == "medication_discrepancy"  # given by its display name
    assert second.reported_at == second.occurred_at == datetime(2025, 3, 15, 20, 10)
    assert second.still_at_risk is True
    assert second.interface_flag == "medication_reconciliation"
    assert (third.service_id, third.location_id, third.route_id) == (
        org.oak, org.oak_lounge, org.oak_route)
    imported = events(engine, "report.imported")
    assert [e.entity_id for e in imported] == [str(r.id) for r in stored]
    assert {e.actor for e in imported} == {"system"}
    assert json.loads(imported[0].after_json)["reference"] == "NM-2025-00001"


def test_two_bad_rows_import_nothing_and_name_both_lines(engine, org, tmp_path):
    path = write_csv(tmp_path / "reports.csv", [
        row(), row(barrier="luck"), row(), row(still_at_risk="maybe"), row()])
    before = len(events(engine))
    result = run("import", path)
    assert result.exit_code == 1
    assert "line 3: barrier: 'luck' is not one of staff_recovery" in result.output
    assert "line 5: still_at_risk: 'maybe' is not yes or no" in result.output
    assert "2 of 5 rows have problems, so nothing was imported" in result.output
    assert reports(engine) == []
    assert len(events(engine)) == before
    assert not (tmp_path / "reports.rejects.csv").exists()
    # --rejects without --skip-invalid: still nothing imported, but the bad rows are saved.
    listed = run("import", path, "--rejects", tmp_path / "bad.csv")
    assert listed.exit_code == 1 and "The rows with problems are in" in listed.output
    lines = (tmp_path / "bad.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 3 and lines[0].endswith(",line,error")
    assert reports(engine) == []


def test_skip_invalid_imports_the_good_rows_and_writes_exactly_the_bad_ones(engine, org,
                                                                             tmp_path):
    rows = [row(), row(type="no_such_type", description="Type typo row here."), row(),
            row(location="Attic"), row()]
    path = write_csv(tmp_path / "reports.csv", rows)
    result = run("import", path, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "Imported 3 reports" in result.output
    assert len(reports(engine)) == 3
    assert len(events(engine, "report.imported")) == 3
    with (tmp_path / "reports.rejects.csv").open(encoding="utf-8-sig", newline="") as handle:
        rejected = list(csv.DictReader(handle))
    assert [r["line"] for r in rejected] == ["3", "5"]
    assert rejected[0]["error"].startswith("type: unknown type 'no_such_type'")
    assert rejected[1]["error"].startswith("location: unknown location 'Attic' in Maple House")
    assert rejected[0]["description"] == "Type typo row here."
    assert list(rejected[0]) == [*HEADER, "line", "error"]


def test_a_corrected_rejects_file_imports_as_it_is(engine, org, tmp_path):
    path = write_csv(tmp_path / "in.csv", [row(), row(barrier="luck")])
    custom = tmp_path / "bad rows.csv"
    assert run("import", path, "--skip-invalid", "--rejects", custom).exit_code == 0
    text = custom.read_text(encoding="utf-8-sig").replace(",luck,", ",chance,")
    custom.write_text(text, encoding="utf-8")
    result = run("import", custom)
    assert result.exit_code == 0, result.output
    assert [r.barrier for r in reports(engine)] == ["staff_recovery", "chance"]


def test_unknown_location_is_a_row_error_unless_create_missing(engine, org, tmp_path):
    path = write_csv(tmp_path / "reports.csv", [row(location="Garden path", route="Maple walks")])
    refused = run("import", path)
    assert refused.exit_code == 1
    assert "line 2: location: unknown location 'Garden path' in Maple House" in refused.output
    assert "--create-missing" in refused.output

    created = run("import", path, "--create-missing")
    assert created.exit_code == 0, created.output
    assert "location 'Garden path' in Maple House" in created.output
    with read_session(engine) as session:
        location_id, service_id = session.execute(
            select(Location.id, Location.service_id).where(Location.name == "Garden path")).one()
    assert service_id == org.maple
    assert reports(engine)[0].location_id == location_id
    assert [json.loads(e.after_json)["name"] for e in events(engine, "location.created")][-1] == (
        "Garden path")
    assert len(events(engine, "route.created")) == 3  # build_org's two, and 'Maple walks'


def test_create_missing_makes_a_new_service_without_region(engine, org, tmp_path):
    path = write_csv(tmp_path / "r.csv", [row(service="Elm Court", location="Hall",
                                              person_ref="EC-1", staff_group="Night staff")])
    result = run("import", path, "--create-missing")
    assert result.exit_code == 0, result.output
    with read_session(engine) as session:
        elm_id, region_id = session.execute(
            select(Service.id, Service.region_id).where(Service.name == "Elm Court")).one()
    assert region_id is None
    report = reports(engine)[0]
    assert report.service_id == elm_id and report.person_id is not None
    assert report.staff_group_id is not None


def test_rejected_rows_create_nothing_even_with_create_missing(engine, org, tmp_path):
    path = write_csv(tmp_path / "r.csv", [row(), row(location="Loft", barrier="luck")])
    result = run("import", path, "--create-missing", "--skip-invalid")
    assert result.exit_code == 0, result.output
    with read_session(engine) as session:
        assert session.scalar(select(Location).where(Location.name == "Loft")) is None
    assert len(reports(engine)) == 1


def test_a_failure_while_writing_leaves_nothing_behind(engine, org, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "r.csv", [row(location="Porch"), row(), row()])
    calls = {"n": 0}
    real = importer.next_reference

    def failing(session, year, prefix):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(session, year, prefix)

    monkeypatch.setattr(importer, "next_reference", failing)
    with pytest.raises(RuntimeError):
        import_csv(path, engine=engine, create_missing=True, rules=settings(), now=utcnow())
    assert reports(engine) == []
    with read_session(engine) as session:
        assert session.scalar(select(Location).where(Location.name == "Porch")) is None


def test_importing_the_same_file_twice_imports_each_row_once(engine, org):
    assert run("import", SAMPLE).exit_code == 0
    again = run("import", SAMPLE)
    assert again.exit_code == 0, again.output
    assert "Skipped 3 rows imported before: line 2 (NM-2025-00001)" in again.output
    assert "No new reports imported" in again.output
    assert len(reports(engine)) == 3


def test_an_identical_row_twice_in_one_file_is_refused(engine, org, tmp_path):
    same = row()
    path = write_csv(tmp_path / "r.csv", [same, row(), same])
    result = run("import", path)
    assert result.exit_code == 1
    assert "line 4: row: repeats line 2 exactly" in result.output


def test_person_of_another_service_and_times_in_the_wrong_order_are_row_errors(engine, org,
                                                                                tmp_path):
    path = write_csv(tmp_path / "r.csv", [
        row(person_ref="OL-07"),
        row(occurred_at="2026-03-10 11:00"),
        row(reported_at="2099-01-01 10:00"),
        row(reported_at="10/03/2026"),
        row(reported_at="2026-03-10"),
    ])
    result = run("import", path)
    assert result.exit_code == 1
    out = result.output
    assert "line 2: person_ref: person 'OL-07' belongs to Oak Lodge, not Maple House" in out
    assert "line 3: occurred_at: is after reported_at" in out
    assert "line 4: reported_at: is in the future" in out
    assert "line 5: reported_at: '10/03/2026' is not an ISO 8601 date and time" in out
    assert "line 6: reported_at: '2026-03-10' has no time of day" in out


def test_form_rules_apply_to_text_limits(engine, org, tmp_path):
    path = write_csv(tmp_path / "r.csv", [
        row(description="x" * 2001), row(description="short"), row(description=""),
        row(immediate_safeguards="y" * 2001)])
    result = run("import", path)
    assert result.exit_code == 1
    assert "line 2: description: Keep this to 2000 characters (it has 2001)" in result.output
    assert "line 3: description: Add a few more words" in result.output
    assert "line 4: description: Say briefly what happened." in result.output
    assert "line 5: immediate_safeguards: Keep this to 2000 characters" in result.output


def test_values_are_read_leniently_and_formula_text_is_stored_as_typed(engine, org, tmp_path):
    path = write_csv(tmp_path / "r.csv", [
        row(type="TRANSFER / NEAR FALL", service="maple  house", location="bathroom doorway",
            barrier="Designed_Control", still_at_risk="TRUE", interface_flag="Shift handover",
            description='=HYPERLINK("http://evil.example","click") staff steadied her',
            immediate_safeguards="+1 worker on shift"),
    ], header=[*HEADER, "interface_flag", "immediate_safeguards"])
    result = run("import", path)
    assert result.exit_code == 0, result.output
    report = reports(engine)[0]
    assert (report.type_key, report.service_id, report.location_id) == (
        "transfer_near_fall", org.maple, org.maple_bathroom)
    assert report.barrier == "designed_control" and report.still_at_risk is True
    assert report.interface_flag == "shift_handover"
    assert report.description.startswith('=HYPERLINK("http://evil.example"')
    assert report.immediate_safeguards == "+1 worker on shift"


def test_bom_blank_lines_and_multiline_cells_keep_physical_line_numbers(engine, org, tmp_path):
    text = ("\ufeffreported_at,type,service,location,description,barrier,still_at_risk\r\n"
            "\r\n"
            '2026-03-10 10:00,transfer_near_fall,Maple House,Kitchen,"First line\r\n'
            'second line of what happened",chance,no\r\n'
            ",,,,,,\r\n"
            "2026-03-10 11:00,transfer_near_fall,Maple House,Kitchen,Too short,chance,no\r\n")
    path = tmp_path / "r.csv"
    path.write_bytes(text.encode("utf-8"))
    result = run("import", path)
    assert result.exit_code == 1
    assert "line 6: description: Add a few more words" in result.output
    assert "line 3" not in result.output


def test_rows_with_too_many_or_too_few_cells_are_row_errors(engine, org, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        ",".join(HEADER) + "\n"
        "2026-03-10 10:00,transfer_near_fall,Maple House,Kitchen,Walker out of reach today,"
        "chance,no,extra\n"
        "2026-03-10 10:00,transfer_near_fall,Maple House,Kitchen\n", encoding="utf-8")
    result = run("import", path)
    assert result.exit_code == 1
    assert "line 2: row: has 8 cells but the header has 7 columns" in result.output
    assert "line 3: row: has 4 cells but the header has 7 columns" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (",".join(HEADER).encode() + b"\n", "has a header but no rows"),
        (b"2026-03-10 10:00,transfer_near_fall,Maple House,Kitchen,Walker,chance,no\n",
         "line 1 must be the header row"),
        (",".join([*HEADER, "colour", "Reporter"]).encode() + b"\n",
         "unknown columns 'colour', 'Reporter'"),
        (b"reported_at,type,service,location\n", "missing required columns description, "
                                                 "barrier, still_at_risk"),
        (",".join(HEADER).encode() + "\n2026-03-10 10:00,other,Maple House,Caf\xe9,"
         "x,chance,no\n".encode("cp1252"), "is not UTF-8 text (line 2"),
        (",".join(HEADER).encode("utf-16"), "UTF-16"),
        (",".join(HEADER).encode() + b'\n2026-03-10 10:00,other,Maple House,Kitchen,"unclosed'
         b' quote,chance,no\n', "the CSV is malformed"),
    ],
)
def test_files_that_cannot_be_imported_say_why(engine, org, tmp_path, content, message):
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    result = run("import", path)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    with pytest.raises(ImportFileError):
        import_bytes(content, engine=engine, rules=settings(), now=utcnow())


def test_semicolon_separated_files_are_read(engine, org, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(";".join(HEADER) + "\n2026-03-10 10:00;other;Maple House;Kitchen;"
                    "A pan handle stuck out over the edge, turned in;chance;no\n",
                    encoding="utf-8")
    result = run("import", path)
    assert result.exit_code == 0, result.output
    assert reports(engine)[0].type_key == "other"


def test_a_large_file_reports_progress_and_imports_in_one_go(engine, org, tmp_path):
    rows = [row(reported_at=f"2026-01-{1 + i % 28:02d} {8 + i % 12:02d}:{i % 60:02d}",
                description=f"Near fall number {i} at the doorway, caught in time.")
            for i in range(250)]
    path = write_csv(tmp_path / "big.csv", rows)
    seen: list[tuple[str, int, int]] = []
    result = import_csv(path, engine=engine, rules=settings(), now=utcnow(),
                        progress=lambda *a: seen.append(a))
    assert result.imported == 250 and result.committed
    assert seen[-1] == ("Importing", 250, 250)
    assert ("Checking", 250, 250) in seen
    assert result.references[-1] == "NM-2026-00250"
    # The command line shows a bar for a file this size; the import is the same.
    more = write_csv(tmp_path / "more.csv", [
        row(reported_at=f"2026-02-{1 + i % 28:02d} {8 + i % 12:02d}:{i % 60:02d}",
            description=f"Second batch near fall {i}, caught in time.") for i in range(250)])
    result = run("import", more)
    assert result.exit_code == 0, result.output
    assert "Imported 250 reports (NM-2026-00251 to NM-2026-00500)" in result.output
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(NearMissReport)) == 500
    assert run("audit", "verify").exit_code == 0


# -- as safe as the form: escalations, and dates that cannot be right ------------------------

ESCALATING = {
    # case: (CSV columns, the same report as a form draft's fields)
    "still at risk": ({"still_at_risk": "yes", "immediate_safeguards": "Stayed with her."},
                      {"still_at_risk": True, "immediate_safeguards": "Stayed with her."}),
    "safeguarding": ({"type": "safeguarding_rights",
                      "description": "Visitor asked Mrs K for her bank card PIN."},
                     {"type_key": "safeguarding_rights",
                      "description": "Visitor asked Mrs K for her bank card PIN."}),
    "stop the line": ({"type": "skin_integrity_deterioration",
                       "description": "Red area on his heel that did not fade; not handed over."},
                      {"type_key": "skin_integrity_deterioration",
                       "description": "Red area on his heel that did not fade; not handed over."}),
    "interface": ({"interface_flag": "clinic_follow_up"}, {"interface_flag": "clinic_follow_up"}),
}


def _escalations_of(engine, report_id):
    """(kind, reason, minutes to acknowledge, who was notified) of a report's escalations, and
    its flags from the type."""
    from core.auth.models import User
    from core.escalation.models import Escalation, Notification

    with read_session(engine) as session:
        report = session.get(NearMissReport, report_id)
        found = []
        for escalation in session.scalars(select(Escalation).where(
                Escalation.report_id == report_id).order_by(Escalation.kind)):
            notified = sorted(session.scalars(
                select(User.username).join(Notification, Notification.user_id == User.id)
                .where(Notification.escalation_id == escalation.id)))
            found.append((escalation.kind, escalation.reason,
                          (escalation.due_at - escalation.raised_at).total_seconds() / 60,
                          notified, escalation.raised_at))
        return found, (report.stop_the_line, report.safeguarding)


@pytest.mark.parametrize("case", sorted(ESCALATING))
def test_an_imported_row_raises_the_escalations_the_form_raises(engine, org, case):
    from core.filing.service import file_near_miss
    from core.uow import UnitOfWork
    from tests.builders import draft

    columns, fields = ESCALATING[case]
    now = utcnow().replace(microsecond=0)
    typed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, **fields),
                           now=now, rules=settings())
    result = import_bytes(_csv_bytes([row(**columns)]), engine=engine, rules=settings(),
                          now=now)
    assert result.committed and result.escalations > 0
    [imported] = [r for r in reports(engine) if r.source == "import"]
    by_form, form_flags = _escalations_of(engine, typed.id)
    by_import, import_flags = _escalations_of(engine, imported.id)
    assert by_form, "the form raised nothing: the case is not an escalating one"
    # Same kinds, reasons, clocks and people told; the clock starts when the portal hears.
    assert [e[:4] for e in by_import] == [e[:4] for e in by_form]
    assert all(e[4] == now for e in by_import)
    assert import_flags == form_flags
    raised = events(engine, "escalation.raised")
    assert {e.actor for e in raised if json.loads(e.after_json)["report"] ==
            imported.reference} == {"system"}


def test_a_quiet_row_raises_nothing(engine, org):
    from core.escalation.models import Escalation

    result = import_bytes(_csv_bytes([row()]), engine=engine, rules=settings(), now=utcnow())
    assert result.committed and result.escalations == 0
    with read_session(engine) as session:
        assert session.scalars(select(Escalation)).all() == []


def _csv_bytes(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def test_dates_before_the_earliest_or_in_the_future_are_row_errors(engine, org, tmp_path):
    path = write_csv(tmp_path / "r.csv", [
        row(reported_at="1900-03-10 10:00"),
        row(reported_at="2026-03-10 10:00", occurred_at="1999-12-31 23:59"),
        row(reported_at="2099-01-01 10:00"),
        row(reported_at="2026-03-10 10:00", occurred_at="2099-01-01 10:00"),
        row(reported_at="2000-01-01 00:00"),  # the earliest day itself is fine
    ])
    result = run("import", path)
    assert result.exit_code == 1
    out = result.output
    assert "line 2: reported_at: That is before 01 Jan 2000, the earliest date" in out
    assert "line 3: occurred_at: That is before 01 Jan 2000" in out
    assert "line 4: reported_at: is in the future" in out
    assert "line 5: occurred_at:" in out
    assert "line 6:" not in out
    assert reports(engine) == []


def test_the_earliest_date_is_a_setting(engine, org):
    from datetime import date

    from core.config import ReportLimits, settings

    rules = settings().model_copy(update={"report": ReportLimits(earliest_date=date(2026, 3, 1))})
    result = import_bytes(_csv_bytes([row(reported_at="2026-02-28 10:00"),
                                      row(reported_at="2026-03-01 10:00")]), engine=engine,
                          rules=rules, now=utcnow(), skip_invalid=True)
    assert [r.line for r in result.rejected] == [2] and result.imported == 1
    assert "before 01 Mar 2026" in result.rejected[0].error_text


def test_the_form_refuses_a_date_before_the_earliest_too(engine, org):
    from datetime import date

    from core.config import ReportLimits, settings
    from core.errors import ValidationFailed
    from core.filing.service import file_near_miss
    from core.uow import UnitOfWork
    from tests.builders import draft, local_now

    # Even where the form's age limit would allow it (a provider with a long oldest_days).
    rules = settings().model_copy(update={"report": ReportLimits(
        oldest_days=3650, earliest_date=date(local_now().year, 1, 1))})
    old = local_now().replace(year=local_now().year - 1)
    with pytest.raises(ValidationFailed) as refused:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, occurred_at=old),
                       rules=rules, now=utcnow())
    assert "the earliest date the portal accepts" in refused.value.errors["occurred_at"]
    with pytest.raises(ValidationFailed) as refused:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                       draft(org, occurred_at=old.replace(year=1900)),
                       now=utcnow(), rules=settings())
    assert "before 01 Jan 2000" in refused.value.errors["occurred_at"]
