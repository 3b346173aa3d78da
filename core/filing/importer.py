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
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.auth.actor import SYSTEM
from core.clock import to_local, to_utc, utcnow
from core.config import Settings, settings
from core.csvfile import ImportFileError, RowError, decode, read_file
from core.db import get_engine, read_session
from core.filing.service import (
    mark_type_signals,
    next_reference,
    raise_new_report_escalations,
    report_snapshot,
)
from core.organisation import service as org
from core.organisation.models import Location, PersonSupported, Route, Service, StaffGroup
from core.organisation.queries import PlaceLookup
from core.reports.drafts import NearMissDraft, before_earliest, validate_draft
from core.reports.models import NearMissReport
from core.reports.vocabulary import Barrier, ReportStatus
from core.taxonomy.models import NearMissType
from core.taxonomy.schema import TaxonomySpec
from core.taxonomy.service import live_taxonomy
from core.uow import UnitOfWork

REQUIRED_COLUMNS = ("reported_at", "type", "service", "location", "description", "barrier",
                    "still_at_risk")
OPTIONAL_COLUMNS = ("occurred_at", "person_ref", "route", "staff_group", "interface_flag",
                    "immediate_safeguards")
# Added by a rejects file; ignored so a corrected rejects file imports as it is.
IGNORED_COLUMNS = ("line", "error")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS + IGNORED_COLUMNS

YES = frozenset({"yes", "y", "true", "1"})
NO = frozenset({"no", "n", "false", "0"})
# Longest names the tables hold (only matters when --create-missing creates them).
NAME_LIMITS = {"service": 120, "location": 160, "route": 120, "staff_group": 120,
               "person_ref": 60}
SUBMISSION_KEY_PREFIX = "import:"
WRITE_BATCH = 200

# Draft error keys (the web form's field names) and the CSV column each one is about.
_DRAFT_KEY_COLUMN = {
    "description": "description", "type_key": "type", "occurred_at": "occurred_at",
    "service_id": "service", "location_id": "location", "barrier": "barrier",
    "still_at_risk": "still_at_risk", "immediate_safeguards": "immediate_safeguards",
    "person_id": "person_ref", "route_id": "route", "staff_group_id": "staff_group",
    "interface_flag": "interface_flag",
}

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


# --------------------------------------------------------------------------- reading the file


def _norm(text: str) -> str:
    """Compare names the way a person would: ignore case and repeated spaces."""
    return " ".join(text.split()).casefold()


def _column_name(text: str) -> str:
    return _norm(text).replace(" ", "_").replace("-", "_")


def _delimiter(first_line: str) -> str:
    # Spreadsheets in many European locales write semicolons; accept a file that uses them
    # throughout, judged by the header line.
    if first_line.count(",") == 0 and first_line.count(";") > 0:
        return ";"
    return ","


@dataclass(frozen=True)
class _Record:
    line: int
    cells: list[str]


def _records(text: str, source: str) -> Iterator[_Record]:
    """Non-blank CSV records with the physical line each starts on."""
    first_line = next((ln for ln in text.splitlines() if ln.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line),
                        strict=True)
    previous_end = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # An unclosed quote runs on to the end of the file: name where the record began.
            raise ImportFileError(
                f"{source}, line {previous_end + 1}: the CSV is malformed ({exc}); check the "
                "quotes on this line.") from exc
        start = previous_end + 1
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or one with only empty cells
        # A quoted cell may span lines: a record is numbered by the line it starts on.
        yield _Record(start, cells)


@dataclass(frozen=True)
class _Header:
    line: int
    original: tuple[str, ...]
    canonical: tuple[str, ...]  # "" for an unnamed column


def _read_header(record: _Record | None, source: str) -> _Header:
    if record is None:
        raise ImportFileError(f"{source} is empty: there is no header row and no reports.")
    canonical = tuple(_column_name(c) for c in record.cells)
    if not set(canonical) & set(KNOWN_COLUMNS):
        shown = ",".join(record.cells)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise ImportFileError(
            f"{source}, line {record.line} must be the header row naming the columns "
            f"({', '.join(REQUIRED_COLUMNS)}, ...), but it reads: {shown}")
    unknown = [orig for orig, canon in zip(record.cells, canonical, strict=True)
               if canon and canon not in KNOWN_COLUMNS]
    if unknown:
        raise ImportFileError(
            f"{source}, line {record.line}: unknown column{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)}. Allowed columns: "
            f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}.")
    seen: set[str] = set()
    for canon in canonical:
        if canon and canon in seen:
            raise ImportFileError(
                f"{source}, line {record.line}: the column {canon!r} appears twice.")
        seen.add(canon)
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        raise ImportFileError(
            f"{source}, line {record.line}: missing required "
            f"column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}.")
    return _Header(record.line, tuple(record.cells), canonical)


# --------------------------------------------------------------------------- reference data


T = TypeVar("T")


class _NameIndex(Generic[T]):
    """Names to values: an exact match wins, else a unique case/space-insensitive one."""

    def __init__(self) -> None:
        self._exact: dict[str, T] = {}
        self._loose: dict[str, list[T]] = {}

    def add(self, name: str, value: T) -> None:
        self._exact[name] = value
        self._loose.setdefault(_norm(name), []).append(value)

    def find(self, name: str) -> T | None:
        if name in self._exact:
            return self._exact[name]
        matches = self._loose.get(_norm(name), [])
        return matches[0] if len(matches) == 1 else None


@dataclass(frozen=True)
class _Known:
    id: int
    name: str
    active: bool = True
    service_id: int | None = None  # owner of a location, route or person


@dataclass
class _Pending:
    """Reference data to create (--create-missing); `id` is a negative placeholder."""

    id: int
    kind: str  # service | location | route | person | staff_group
    name: str
    service_id: int | None = None  # real id, or a pending service's placeholder


class _Reference:
    """Everything a row's names can point at, plus what --create-missing would add."""

    def __init__(self, session: Session, create_missing: bool) -> None:
        self.create_missing = create_missing
        self.services: _NameIndex[_Known | _Pending] = _NameIndex()
        self.service_names: dict[int, str] = {}
        self.locations: dict[int, _NameIndex[_Known | _Pending]] = {}
        self.routes: dict[int, _NameIndex[_Known | _Pending]] = {}
        self.people: _NameIndex[_Known | _Pending] = _NameIndex()
        self.groups: _NameIndex[_Known | _Pending] = _NameIndex()
        self.pending: dict[int, _Pending] = {}
        for sid, name, active in session.execute(
                select(Service.id, Service.name, Service.active)):
            self.services.add(name, _Known(sid, name, active))
            self.service_names[sid] = name
        for model, target in ((Location, self.locations), (Route, self.routes)):
            for rid, sid, name, active in session.execute(
                    select(model.id, model.service_id, model.name, model.active)):
                target.setdefault(sid, _NameIndex()).add(name, _Known(rid, name, active, sid))
        for pid, sid, ref, active in session.execute(
                select(PersonSupported.id, PersonSupported.service_id, PersonSupported.local_ref,
                       PersonSupported.active)):
            self.people.add(ref, _Known(pid, ref, active, sid))
        for gid, name in session.execute(select(StaffGroup.id, StaffGroup.name)):
            self.groups.add(name, _Known(gid, name))

    def _new(self, kind: str, name: str, service_id: int | None = None) -> _Pending:
        pending = _Pending(-(len(self.pending) + 1), kind, name, service_id)
        self.pending[pending.id] = pending
        return pending

    def service_label(self, service_id: int) -> str:
        if service_id < 0:
            return self.pending[service_id].name
        return self.service_names.get(service_id, f"service {service_id}")

    def resolve(self, kind: str, name: str, service_id: int | None,
                errors: dict[str, str]) -> int | None:
        """The id (or placeholder) for `name`; records an error for `kind` when it cannot."""
        if kind == "service":
            index = self.services
        elif kind == "location":
            assert service_id is not None
            index = self.locations.setdefault(service_id, _NameIndex())
        elif kind == "route":
            assert service_id is not None
            index = self.routes.setdefault(service_id, _NameIndex())
        elif kind == "person_ref":
            index = self.people
        else:
            index = self.groups
        found = index.find(name)
        where = f" in {self.service_label(service_id)}" if kind in ("location", "route") else ""
        what = {"person_ref": "person", "staff_group": "staff group"}.get(kind, kind)
        if found is None:
            if not self.create_missing:
                errors[kind] = (f"unknown {what} {name!r}{where}; check the spelling, or use "
                                "--create-missing to create it")
                return None
            limit = NAME_LIMITS[kind]
            if len(name) > limit:
                errors[kind] = f"is {len(name)} characters; a new {what} name has at most {limit}"
                return None
            found = self._new("person" if kind == "person_ref" else kind, name, service_id)
            index.add(name, found)
            return found.id
        if isinstance(found, _Known) and not found.active:
            errors[kind] = (f"{what} {found.name!r}{where} is inactive; re-activate it before "
                            "importing reports for it")
            return None
        if kind == "person_ref" and service_id is not None and found.service_id != service_id:
            errors[kind] = (f"person {found.name!r} belongs to "
                            f"{self.service_label(found.service_id or 0)}, not "
                            f"{self.service_label(service_id)}")
            return None
        return found.id


# --------------------------------------------------------------------------- checking rows


@dataclass
class _GoodRow:
    line: int
    cells: dict[str, str]
    draft: NearMissDraft
    reported_utc: datetime
    occurred_utc: datetime
    reference_year: int
    submission_key: str
    capture: dict[str, Any]


def parse_moment(value: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    """An ISO 8601 date-time as naive UTC; naive input is local time in `zone`."""
    text = value.strip()
    if not text:
        return None, "is required"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None, (f"{text!r} is not an ISO 8601 date and time; use e.g. 2025-03-14 09:30 "
                      "or 2025-03-14T09:30:00+01:00")
    if len(text) <= 10:
        # A bare date would silently become midnight; the time matters for triage.
        return None, f"{text!r} has no time of day; give a date and time, e.g. 2025-03-14 09:30"
    try:
        moment = to_utc(moment, zone).replace(microsecond=0)
        to_local(moment, zone)  # the row is shown and checked in local time too
    except OverflowError:
        return None, f"{text!r} is too far in the past or future"
    return moment, None


def _yes_no(value: str) -> bool | None:
    lowered = value.strip().casefold()
    if lowered in YES:
        return True
    if lowered in NO:
        return False
    return None


def _match_type(value: str, taxonomy: TaxonomySpec, errors: dict[str, str]) -> str | None:
    text = value.strip()
    if not text:
        errors["type"] = "is required"
        return None
    wanted = _norm(text)
    for spec in taxonomy.types:
        if wanted in (spec.key.casefold(), _norm(spec.name)):
            if not spec.active:
                errors["type"] = f"the type {spec.key!r} is retired and takes no new reports"
                return None
            return spec.key
    keys = ", ".join(t.key for t in taxonomy.types if t.active)
    errors["type"] = f"unknown type {text!r}; use one of {keys} (or the type's name)"
    return None


def _match_flag(value: str, taxonomy: TaxonomySpec, errors: dict[str, str]) -> str | None:
    text = value.strip()
    if not text:
        return None
    wanted = _norm(text)
    for option in taxonomy.interface_flags:
        if wanted in (option.key.casefold(), _norm(option.label)):
            return option.key
    keys = ", ".join(o.key for o in taxonomy.interface_flags)
    errors["interface_flag"] = f"unknown interface flag {text!r}; use one of {keys}"
    return None


def _submission_key(values: Iterable[Any]) -> str:
    """A fingerprint of a row's meaning, so the same row imported again is recognised."""
    digest = hashlib.sha256(json.dumps(list(values), default=str, ensure_ascii=False)
                            .encode("utf-8")).hexdigest()
    return SUBMISSION_KEY_PREFIX + digest[:56]


class _Checker:
    """Turns one row into a valid draft, or into errors by column."""

    def __init__(self, taxonomy: TaxonomySpec, ref: _Reference, rules: Settings,
                 now: datetime) -> None:
        self.taxonomy = taxonomy
        self.ref = ref
        self.rules = rules
        self.zone = rules.zone
        self.now = now
        self.now_local = to_local(now, rules.zone)
        self.tolerance = timedelta(minutes=rules.report.future_tolerance_minutes)
        self.earliest = datetime.combine(rules.report.earliest_date, time.min)

    def check(self, line: int, cells: dict[str, str]) -> tuple[_GoodRow | None, dict[str, str]]:
        errors: dict[str, str] = {}

        def cell(column: str) -> str:
            return (cells.get(column) or "").strip()

        reported, problem = parse_moment(cell("reported_at"), self.zone)
        if problem:
            errors["reported_at"] = problem
        elif reported is not None and reported > self.now + self.tolerance:
            errors["reported_at"] = "is in the future"
        elif reported is not None and to_local(reported, self.zone) < self.earliest:
            errors["reported_at"] = before_earliest(self.rules.report)
        occurred = reported
        if cell("occurred_at"):
            occurred, problem = parse_moment(cell("occurred_at"), self.zone)
            if problem:
                errors["occurred_at"] = problem
            elif (occurred is not None and reported is not None
                  and occurred - self.tolerance > reported):
                errors["occurred_at"] = "is after reported_at; a near miss is reported after it"

        type_key = _match_type(cell("type"), self.taxonomy, errors)

        service_id = location_id = route_id = person_id = group_id = None
        if not cell("service"):
            errors["service"] = "is required"
        else:
            service_id = self.ref.resolve("service", cell("service"), None, errors)
        if not cell("location"):
            errors["location"] = "is required"
        elif service_id is not None:
            location_id = self.ref.resolve("location", cell("location"), service_id, errors)
        if cell("route") and service_id is not None:
            route_id = self.ref.resolve("route", cell("route"), service_id, errors)
        if cell("person_ref") and service_id is not None:
            person_id = self.ref.resolve("person_ref", cell("person_ref"), service_id, errors)
        if cell("staff_group"):
            group_id = self.ref.resolve("staff_group", cell("staff_group"), None, errors)

        barrier = cell("barrier").casefold() or None
        valid_barriers = ", ".join(b.value for b in Barrier)
        if barrier is None:
            errors["barrier"] = f"is required: one of {valid_barriers}"
        elif barrier not in Barrier._value2member_map_:
            errors["barrier"] = f"{cell('barrier')!r} is not one of {valid_barriers}"
            barrier = None

        still_at_risk = _yes_no(cell("still_at_risk"))
        if not cell("still_at_risk"):
            errors["still_at_risk"] = "is required: yes or no"
        elif still_at_risk is None:
            errors["still_at_risk"] = f"{cell('still_at_risk')!r} is not yes or no"

        flag = _match_flag(cell("interface_flag"), self.taxonomy, errors)

        draft = NearMissDraft(
            description=cells.get("description") or "",
            type_key=type_key,
            occurred_at=to_local(occurred, self.zone) if occurred else None,
            service_id=service_id,
            location_id=location_id,
            barrier=barrier,
            still_at_risk=still_at_risk,
            immediate_safeguards=cells.get("immediate_safeguards") or "",
            person_id=person_id,
            route_id=route_id,
            staff_group_id=group_id,
            interface_flag=flag,
        )
        # The web form's rules, with ids the draft names known to belong where they were found.
        places = PlaceLookup(
            services=frozenset({service_id} if service_id is not None else ()),
            location_service={location_id: service_id} if location_id and service_id else {},
            route_service={route_id: service_id} if route_id and service_id else {},
            person_service={person_id: service_id} if person_id and service_id else {},
            staff_groups=frozenset({group_id} if group_id is not None else ()),
        )
        draft_errors, capture = validate_draft(
            draft, taxonomy=self.taxonomy, places=places, limits=self.rules.report,
            now_local=self.now_local, allow_old=True)
        for key, message in draft_errors.items():
            column = _DRAFT_KEY_COLUMN.get(key, key)
            if "service" in errors and column in ("location", "route", "person_ref"):
                continue  # these cannot be checked without the service; its error says why
            if column == "occurred_at" and not cell("occurred_at"):
                column = "reported_at"  # occurred_at was taken from reported_at
            errors.setdefault(column, message)
        if errors:
            return None, errors
        assert reported is not None and occurred is not None
        key = _submission_key([
            reported.isoformat(), occurred.replace(second=0).isoformat(), type_key,
            _norm(cell("service")), _norm(cell("location")), draft.description.strip(), barrier,
            still_at_risk, _norm(cell("person_ref")), _norm(cell("route")),
            _norm(cell("staff_group")), flag, draft.immediate_safeguards.strip(),
        ])
        return _GoodRow(line, cells, draft, reported, occurred.replace(second=0),
                        to_local(reported, self.zone).year, key, capture), {}


# --------------------------------------------------------------------------- the import


def _order(errors: dict[str, str], header: _Header) -> list[str]:
    """Error columns in the file's column order (then anything else)."""
    order = {name: i for i, name in enumerate(header.canonical)}
    return sorted(errors, key=lambda column: order.get(column, len(order)))


def _existing_keys(session: Session, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        found.update(session.execute(
            select(NearMissReport.submission_key, NearMissReport.reference)
            .where(NearMissReport.submission_key.in_(chunk))).all())
    return found


def import_csv(path: Path | str, *, engine: Engine | None = None, skip_invalid: bool = False,
               create_missing: bool = False, rules: Settings | None = None,
               now: datetime | None = None,
               progress: ImportProgress | None = None) -> ImportResult:
    """Import the reports in a CSV file (see the module docstring for the columns)."""
    data = read_file(path)
    return import_bytes(data, source=str(path), engine=engine, skip_invalid=skip_invalid,
                        create_missing=create_missing, rules=rules, now=now, progress=progress)


def import_bytes(data: bytes, *, source: str = "the file", engine: Engine | None = None,
                 skip_invalid: bool = False, create_missing: bool = False,
                 rules: Settings | None = None, now: datetime | None = None,
                 progress: ImportProgress | None = None) -> ImportResult:
    """Import CSV content. All or nothing unless `skip_invalid`; always one transaction."""
    rules = rules or settings()
    now = now or utcnow()
    engine = engine or get_engine()
    records = list(_records(decode(data, source), source))
    header = _read_header(records[0] if records else None, source)
    rows = records[1:]
    if not rows:
        raise ImportFileError(f"{source} has a header but no rows to import.")
    result = ImportResult(source=source, header=header.original, rows=len(rows))

    # Check every row first, reading only, so the write lock is held just for the writing.
    good: list[_GoodRow] = []
    first_line_of_key: dict[str, int] = {}
    with read_session(engine) as session:
        taxonomy = live_taxonomy(session)
        ref = _Reference(session, create_missing)
        checker = _Checker(taxonomy, ref, rules, now)
        width = len(header.canonical)
        for done, record in enumerate(rows, start=1):
            cells = {name: value for name, value in zip(header.canonical, record.cells,
                                                        strict=False) if name}
            original = dict(zip(header.original, record.cells, strict=False))
            errors: dict[str, str] = {}
            if len(record.cells) != width:
                errors["row"] = (f"has {len(record.cells)} cells but the header has {width} "
                                 "columns (check for a stray comma or a missing quote)")
            else:
                extra = [i + 1 for i, name in enumerate(header.canonical)
                         if not name and record.cells[i].strip()]
                if extra:
                    errors["row"] = (f"has a value in column {extra[0]}, which has no name in "
                                     "the header")
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
                    for column in _order(errors, header))))
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


def _write(engine: Engine, good: list[_GoodRow], ref: _Reference, taxonomy: TaxonomySpec,
           rules: Settings, now: datetime, result: ImportResult,
           progress: ImportProgress | None) -> None:
    """Create what is missing and store the reports, all in one transaction, raising the
    escalations each needs exactly as the form does."""
    with UnitOfWork(engine) as uow:
        session = uow.session
        real: dict[int, int] = {}

        def resolve(value: int | None) -> int | None:
            if value is None or value > 0:
                return value
            if value not in real:
                pending = ref.pending[value]
                service_id = resolve(pending.service_id)
                owner = ref.service_label(pending.service_id or 0)
                if pending.kind == "service":
                    real[value] = org.get_or_create_service(uow, SYSTEM, pending.name, now=now)
                    label = f"service {pending.name!r}"
                elif pending.kind == "location":
                    assert service_id is not None
                    real[value] = org.get_or_create_location(uow, SYSTEM, service_id, pending.name,
                                                             now=now)
                    label = f"location {pending.name!r} in {owner}"
                elif pending.kind == "route":
                    assert service_id is not None
                    real[value] = org.get_or_create_route(uow, SYSTEM, service_id, pending.name,
                                                          now=now)
                    label = f"route {pending.name!r} in {owner}"
                elif pending.kind == "person":
                    assert service_id is not None
                    real[value] = org.get_or_create_person(uow, SYSTEM, service_id, pending.name,
                                                           now=now)
                    label = f"person {pending.name!r} in {owner}"
                else:
                    real[value] = org.get_or_create_staff_group(uow, SYSTEM, pending.name,
                                                                now=now)
                    label = f"staff group {pending.name!r}"
                result.created.append(label)
            return real[value]

        versions = dict(session.execute(
            select(NearMissType.key, NearMissType.current_version)).all())
        batch: list[NearMissReport] = []
        for done, row in enumerate(good, start=1):
            draft = row.draft
            assert draft.type_key and draft.barrier and draft.still_at_risk is not None
            report = NearMissReport(
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
            mark_type_signals(report, taxonomy.type(draft.type_key))
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


def write_rejects(result: ImportResult, path: Path | str) -> Path:
    """Write the rejected rows as CSV: the file's own columns plus `line` and `error`.

    Written as UTF-8 with a byte-order mark so Excel shows accented text correctly.
    """
    path = Path(path)
    # Unnamed columns are left out (a row with a value in one was rejected for it).
    columns = [c for c in result.header
               if _column_name(c) and _column_name(c) not in IGNORED_COLUMNS]
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*columns, "line", "error"])
        for row in result.rejected:
            writer.writerow([*(row.cells.get(c, "") for c in columns), row.line, row.error_text])
    return path
