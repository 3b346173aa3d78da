"""Import near misses from a CSV file (`nearmiss import FILE.csv`).

Use it to bring in reports kept elsewhere before the portal (a spreadsheet, an older system).
Every row goes through the same checks as the web form, and each imported report gets its own
reference number (e.g. NM-2025-00042) and an entry in the audit trail.

### The file

- Save it as UTF-8 ("CSV UTF-8" in Excel; a byte-order mark is fine). Cells are separated by
  commas; a file that uses semicolons throughout is read too.
- The first line is a header naming the columns. Column order does not matter and names are not
  case-sensitive. An unknown column is an error, so a typo cannot make data vanish silently.
  Blank lines are skipped.
- Problems are reported by line number in the file (the header is line 1).
- See `tests/fixtures/import_sample.csv` for an example.

### Required columns

- `reported_at`: when the near miss was reported, as an ISO 8601 date and time, e.g.
  `2025-03-14 09:30` or `2025-03-14T09:30:00`. Without a UTC offset it is the provider's local
  time (`timezone` in data/settings.yaml); with one (`2025-03-14T14:30:00Z`, `...+01:00`) it is
  converted. It must not be in the future, nor before the earliest date the portal accepts
  (`report.earliest_date` in data/settings.yaml, 2000-01-01 unless changed), which catches a
  mistyped year. The reference number's year is the local year of this date.
- `type`: the near-miss type, by key or by the name shown in the portal (any capitalisation):
  `transfer_near_fall` (Transfer / near fall), `medication_discrepancy`,
  `staffing_visit_continuity`, `skin_integrity_deterioration`, `interface_failure`,
  `late_shift_start`, `safeguarding_rights`, `environment_equipment`, `transport`,
  `community_safety`, `other` (the keys in data/taxonomy.yaml).
- `service`: the service's name as in the portal (capitalisation may differ).
- `location`: a location of that service, by name.
- `description`: what happened, 10 to 2,000 characters (`report.description_max_chars`).
- `barrier`: what stopped harm: `staff_recovery` (staff noticed and recovered it),
  `designed_control` (a checklist, alert or pre-transfer check caught it), `person_or_family`
  (the person or their family noticed) or `chance`.
- `still_at_risk`: is anyone still at risk: `yes` or `no` (also `true`/`false`, `1`/`0`).

### Optional columns (leave the cell empty when it does not apply)

- `occurred_at`: when it happened, same format as `reported_at`; empty means the same time as
  `reported_at`. It must not be after `reported_at`, nor before the earliest date.
- `person_ref`: the local reference of the person supported (e.g. `MH-01`); the person must
  belong to the row's service.
- `route`: a route or home care run of that service, by name.
- `staff_group`: the reporter's staff group, by name (e.g. `Direct support professional`).
- `interface_flag`: an interface involved: `shift_handover`, `clinic_follow_up`,
  `medication_reconciliation` or `scheduling_change` (or its label, e.g. `Shift handover`).
- `immediate_safeguards`: what was done at once to keep people safe (up to 2,000 characters).

The `line` and `error` columns that a rejects file adds are ignored, so a corrected rejects
file can be imported as it is.

### What happens

- By default an import is all or nothing: if any row has a problem, every problem is listed as
  `line N: column: reason` and nothing is imported (exit code 1).
- `--skip-invalid` imports the good rows and writes the rejected ones, with their `line` and
  `error`, to a rejects file: `FILE.rejects.csv` beside the input, or the path given with
  `--rejects`.
- A service, location, route, person or staff group the portal does not know is a row error.
  `--create-missing` creates it instead, in the same transaction (a new service has no region
  until an administrator sets one).
- Imported reports are new reports waiting for triage, with no reporter and source "import".
- An imported report raises the same escalations as one filed on the form, from the moment of
  the import: a row still at risk alerts the service's supervisors, a safeguarding type
  alerts the safeguarding lead, a stop-the-line type asks for a same-day clinical review and an
  interface flag or operations type asks operations to map the pathway, each with its
  notifications (and emails, when configured) and its acknowledgement clock.
  Importing the same file again does not duplicate anything: rows imported before are skipped
  and listed. Two identical rows in one file are refused.
- Text is stored exactly as typed, including text that starts with `=`, `+`, `-` or `@`;
  making such text safe for spreadsheets is done when exporting.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.auth.actor import SYSTEM
from core.config import Settings
from core.csvfile import ImportFileError, RowError, decode, read_file
from core.db import get_engine, read_session
from core.filing.import_rows import (
    IGNORED_COLUMNS,
    GoodRow,
    ReferenceData,
    RowChecker,
    column_name,
    csv_records,
    in_file_order,
    read_header,
    shape_errors,
)
from core.filing.service import (
    mark_type_signals,
    next_reference,
    raise_new_report_escalations,
    report_snapshot,
)
from core.organisation import service as org
from core.reports.models import NearMissReport
from core.reports.vocabulary import ReportStatus
from core.taxonomy.models import NearMissType
from core.taxonomy.schema import TaxonomySpec
from core.taxonomy.service import live_taxonomy
from core.uow import UnitOfWork

WRITE_BATCH = 200

ImportProgress = Callable[[str, int, int], None]
"""Progress callback: (phase, rows done, rows in total); phases "Checking" and "Importing"."""


@dataclass(frozen=True)
class RejectedRow:
    """A row that was not imported, with its cells as read (keyed by the file's header)."""

    line: int
    cells: dict[str, str]
    errors: tuple[RowError, ...]

    @property
    def error_text(self) -> str:
        return "; ".join(f"{e.column}: {e.reason}" for e in self.errors)


@dataclass(frozen=True)
class AlreadyImported:
    """A row skipped because an earlier import stored it already."""

    line: int
    reference: str


@dataclass
class ImportResult:
    """What an import did. Nothing was written unless `committed` is true."""

    source: str
    header: tuple[str, ...]
    rows: int = 0
    imported: int = 0
    references: list[str] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    already_imported: list[AlreadyImported] = field(default_factory=list)
    escalations: int = 0  # raised by the imported reports, as the form would have
    committed: bool = False

    @property
    def errors(self) -> list[RowError]:
        return [e for row in self.rejected for e in row.errors]


# --------------------------------------------------------------------------- the import


def _existing_keys(session: Session, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        found.update(session.execute(
            select(NearMissReport.submission_key, NearMissReport.reference)
            .where(NearMissReport.submission_key.in_(chunk))).all())
    return found


def import_csv(path: Path | str, *, engine: Engine | None = None, skip_invalid: bool = False,
               create_missing: bool = False, rules: Settings, now: datetime,
               progress: ImportProgress | None = None) -> ImportResult:
    """Import the reports in a CSV file (see the module docstring for the columns)."""
    data = read_file(path)
    return import_bytes(data, source=str(path), engine=engine, skip_invalid=skip_invalid,
                        create_missing=create_missing, rules=rules, now=now, progress=progress)


def import_bytes(data: bytes, *, source: str = "the file", engine: Engine | None = None,
                 skip_invalid: bool = False, create_missing: bool = False,
                 rules: Settings, now: datetime,
                 progress: ImportProgress | None = None) -> ImportResult:
    """Import CSV content. All or nothing unless `skip_invalid`; always one transaction.
    `rules` are the provider's settings, `now` the moment of the import (no row may be
    reported after it; escalations raised by the rows start their clocks then)."""
    engine = engine or get_engine()
    records = list(csv_records(decode(data, source), source))
    header = read_header(records[0] if records else None, source)
    rows = records[1:]
    if not rows:
        raise ImportFileError(f"{source} has a header but no rows to import.")
    result = ImportResult(source=source, header=header.original, rows=len(rows))

    # Check every row first, reading only, so the write lock is held just for the writing.
    good: list[GoodRow] = []
    first_line_of_key: dict[str, int] = {}
    with read_session(engine) as session:
        taxonomy = live_taxonomy(session)
        ref = ReferenceData(session, create_missing)
        checker = RowChecker(taxonomy, ref, rules, now)
        for done, record in enumerate(rows, start=1):
            cells = {name: value for name, value in zip(header.canonical, record.cells,
                                                        strict=False) if name}
            original = dict(zip(header.original, record.cells, strict=False))
            errors = shape_errors(record, header)
            if not errors:
                row, errors = checker.check(record.line, cells)
                if row is not None:
                    earlier = first_line_of_key.setdefault(row.submission_key, row.line)
                    if earlier != row.line:
                        errors = {"row": f"repeats line {earlier} exactly (a duplicate row)"}
                    else:
                        good.append(row)
            if errors:
                result.rejected.append(RejectedRow(record.line, original, tuple(
                    RowError(record.line, column, errors[column])
                    for column in in_file_order(errors, header))))
            if progress:
                progress("Checking", done, len(rows))
        existing = _existing_keys(session, [row.submission_key for row in good])

    for row in good:
        if row.submission_key in existing:
            result.already_imported.append(
                AlreadyImported(row.line, existing[row.submission_key]))
    good = [row for row in good if row.submission_key not in existing]
    if (result.rejected and not skip_invalid) or not good:
        return result
    _write(engine, good, ref, taxonomy, rules, now, result, progress)
    return result


def _write(engine: Engine, good: list[GoodRow], ref: ReferenceData, taxonomy: TaxonomySpec,
           rules: Settings, now: datetime, result: ImportResult,
           progress: ImportProgress | None) -> None:
    """Create what is missing and store the reports, all in one transaction, raising the
    escalations each needs exactly as the form does."""
    with UnitOfWork(engine) as uow:
        session = uow.session
        missing = _MissingReference(uow, ref, result, now=now)
        versions = dict(session.execute(
            select(NearMissType.key, NearMissType.current_version)).all())
        batch: list[NearMissReport] = []
        for done, row in enumerate(good, start=1):
            report = _new_report(session, row, versions, rules, missing.resolve)
            mark_type_signals(report, taxonomy.type(report.type_key))
            session.add(report)
            batch.append(report)
            if len(batch) >= WRITE_BATCH or done == len(good):
                session.flush()  # assigns ids for the audit events
                for stored in batch:
                    uow.record(SYSTEM, "report.imported", "near_miss_report", stored.id,
                               after=report_snapshot(stored), at=now)
                    result.escalations += len(raise_new_report_escalations(
                        uow, SYSTEM, stored, taxonomy.type(stored.type_key), now=now,
                        rules=rules))
                    result.references.append(stored.reference)
                batch.clear()
            if progress:
                progress("Importing", done, len(good))
        uow.commit()
    result.imported = len(good)
    result.committed = True


class _MissingReference:
    """Creates, the first time a row needs it, a service, location, route, person or staff
    group that --create-missing promised (a negative placeholder id), and lists it in
    `result.created`."""

    def __init__(self, uow: UnitOfWork, ref: ReferenceData, result: ImportResult, *,
                 now: datetime) -> None:
        self.uow = uow
        self.now = now
        self.ref = ref
        self.result = result
        self.real: dict[int, int] = {}

    def resolve(self, value: int | None) -> int | None:
        """The stored id for `value`: itself when it exists already, else the new row's."""
        if value is None or value > 0:
            return value
        if value not in self.real:
            self.real[value], label = self._create(value)
            self.result.created.append(label)
        return self.real[value]

    def _create(self, value: int) -> tuple[int, str]:
        uow = self.uow
        pending = self.ref.pending[value]
        service_id = self.resolve(pending.service_id)
        owner = self.ref.service_label(pending.service_id or 0)
        if pending.kind == "service":
            return (org.get_or_create_service(uow, SYSTEM, pending.name, now=self.now),
                    f"service {pending.name!r}")
        if pending.kind == "staff_group":
            return (org.get_or_create_staff_group(uow, SYSTEM, pending.name, now=self.now),
                    f"staff group {pending.name!r}")
        assert service_id is not None
        if pending.kind == "location":
            return (org.get_or_create_location(uow, SYSTEM, service_id, pending.name, now=self.now),
                    f"location {pending.name!r} in {owner}")
        if pending.kind == "route":
            return (org.get_or_create_route(uow, SYSTEM, service_id, pending.name, now=self.now),
                    f"route {pending.name!r} in {owner}")
        assert pending.kind == "person"
        return (org.get_or_create_person(uow, SYSTEM, service_id, pending.name, now=self.now),
                f"person {pending.name!r} in {owner}")


def _new_report(session: Session, row: GoodRow, versions: dict[str, int], rules: Settings,
                resolve: Callable[[int | None], int | None]) -> NearMissReport:
    """The report a checked row becomes: new, waiting for triage, source "import", no
    reporter, with the next reference number of its year."""
    draft = row.draft
    assert draft.type_key and draft.barrier and draft.still_at_risk is not None
    return NearMissReport(
        reference=next_reference(session, row.reference_year, rules.reference_prefix),
        type_key=draft.type_key,
        type_version=versions[draft.type_key],
        description=draft.description.strip(),
        occurred_at=row.occurred_utc,
        reported_at=row.reported_utc,
        service_id=resolve(draft.service_id),
        location_id=resolve(draft.location_id),
        barrier=draft.barrier,
        still_at_risk=draft.still_at_risk,
        immediate_safeguards=draft.immediate_safeguards.strip() or None,
        person_id=resolve(draft.person_id),
        route_id=resolve(draft.route_id),
        staff_group_id=resolve(draft.staff_group_id),
        interface_flag=draft.interface_flag or None,
        capture_fields=row.capture,
        reporter_id=None,
        status=ReportStatus.NEW.value,
        source="import",
        submission_key=row.submission_key,
    )


def write_rejects(result: ImportResult, path: Path | str) -> Path:
    """Write the rejected rows as CSV: the file's own columns plus `line` and `error`.

    Written as UTF-8 with a byte-order mark so Excel shows accented text correctly.
    """
    path = Path(path)
    # Unnamed columns are left out (a row with a value in one was rejected for it).
    columns = [c for c in result.header
               if column_name(c) and column_name(c) not in IGNORED_COLUMNS]
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*columns, "line", "error"])
        for row in result.rejected:
            writer.writerow([*(row.cells.get(c, "") for c in columns), row.line, row.error_text])
    return path
