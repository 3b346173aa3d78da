"""Checking an import's rows (core.filing.importer): reading the CSV file, finding the
services, locations, routes, people and staff groups its names point at, and turning each row
into a draft the web form's rules accept, or into errors by column. Nothing here writes; the
columns and what each accepts are described in core.filing.importer.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import to_local, to_utc
from core.config import Settings
from core.csvfile import ImportFileError
from core.organisation.models import Location, PersonSupported, Route, Service, StaffGroup
from core.organisation.queries import PlaceLookup
from core.reports.drafts import NearMissDraft, before_earliest, validate_draft
from core.reports.vocabulary import Barrier
from core.taxonomy.schema import TaxonomySpec

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

# Draft error keys (the web form's field names) and the CSV column each one is about.
_DRAFT_KEY_COLUMN = {
    "description": "description", "type_key": "type", "occurred_at": "occurred_at",
    "service_id": "service", "location_id": "location", "barrier": "barrier",
    "still_at_risk": "still_at_risk", "immediate_safeguards": "immediate_safeguards",
    "person_id": "person_ref", "route_id": "route", "staff_group_id": "staff_group",
    "interface_flag": "interface_flag",
}



# --------------------------------------------------------------------------- reading the file


def _norm(text: str) -> str:
    """Compare names the way a person would: ignore case and repeated spaces."""
    return " ".join(text.split()).casefold()


def column_name(text: str) -> str:
    """A header cell as a column name: case, spaces and dashes as `reported_at` has them."""
    return _norm(text).replace(" ", "_").replace("-", "_")


def _delimiter(first_line: str) -> str:
    # Spreadsheets in many European locales write semicolons; accept a file that uses them
    # throughout, judged by the header line.
    if first_line.count(",") == 0 and first_line.count(";") > 0:
        return ";"
    return ","


@dataclass(frozen=True)
class Record:
    """One non-blank CSV record and the line of the file it starts on."""

    line: int
    cells: list[str]


def csv_records(text: str, source: str) -> Iterator[Record]:
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
        yield Record(start, cells)


@dataclass(frozen=True)
class Header:
    """The header row: the names as typed, and as column names ("" for an unnamed one)."""

    line: int
    original: tuple[str, ...]
    canonical: tuple[str, ...]  # "" for an unnamed column


def read_header(record: Record | None, source: str) -> Header:
    """The first record as the header; ImportFileError when it is missing, names an unknown
    column or the same one twice, or lacks a required one."""
    if record is None:
        raise ImportFileError(f"{source} is empty: there is no header row and no reports.")
    canonical = tuple(column_name(c) for c in record.cells)
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
    return Header(record.line, tuple(record.cells), canonical)


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
class Pending:
    """Reference data to create (--create-missing); `id` is a negative placeholder."""

    id: int
    kind: str  # service | location | route | person | staff_group
    name: str
    service_id: int | None = None  # real id, or a pending service's placeholder


class ReferenceData:
    """Everything a row's names can point at, plus what --create-missing would add."""

    def __init__(self, session: Session, create_missing: bool) -> None:
        self.create_missing = create_missing
        self.services: _NameIndex[_Known | Pending] = _NameIndex()
        self.service_names: dict[int, str] = {}
        self.locations: dict[int, _NameIndex[_Known | Pending]] = {}
        self.routes: dict[int, _NameIndex[_Known | Pending]] = {}
        self.people: _NameIndex[_Known | Pending] = _NameIndex()
        self.groups: _NameIndex[_Known | Pending] = _NameIndex()
        self.pending: dict[int, Pending] = {}
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

    def _new(self, kind: str, name: str, service_id: int | None = None) -> Pending:
        pending = Pending(-(len(self.pending) + 1), kind, name, service_id)
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
class GoodRow:
    """A row that passed every check: its draft, its moments in UTC, the year its reference
    number takes, its fingerprint (so it is not imported twice) and the type's fields."""

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


class RowChecker:
    """Turns one row into a valid draft, or into errors by column."""

    def __init__(self, taxonomy: TaxonomySpec, ref: ReferenceData, rules: Settings,
                 now: datetime) -> None:
        self.taxonomy = taxonomy
        self.ref = ref
        self.rules = rules
        self.zone = rules.zone
        self.now = now
        self.now_local = to_local(now, rules.zone)
        self.tolerance = timedelta(minutes=rules.report.future_tolerance_minutes)
        self.earliest = datetime.combine(rules.report.earliest_date, time.min)

    def check(self, line: int, cells: dict[str, str]) -> tuple[GoodRow | None, dict[str, str]]:
        """The row as a draft ready to store, or (None, its errors by column)."""
        errors: dict[str, str] = {}

        def cell(column: str) -> str:
            return (cells.get(column) or "").strip()

        reported, occurred = self._moments(cell, errors)
        type_key = _match_type(cell("type"), self.taxonomy, errors)
        service_id, location_id, route_id, person_id, group_id = self._places(cell, errors)
        barrier, still_at_risk = _barrier_and_risk(cell, errors)
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
        capture = self._form_rules(draft, cell, errors)
        if errors:
            return None, errors
        assert reported is not None and occurred is not None
        key = _submission_key([
            reported.isoformat(), occurred.replace(second=0).isoformat(), type_key,
            _norm(cell("service")), _norm(cell("location")), draft.description.strip(), barrier,
            still_at_risk, _norm(cell("person_ref")), _norm(cell("route")),
            _norm(cell("staff_group")), flag, draft.immediate_safeguards.strip(),
        ])
        return GoodRow(line, cells, draft, reported, occurred.replace(second=0),
                       to_local(reported, self.zone).year, key, capture), {}

    def _moments(self, cell: Callable[[str], str],
                 errors: dict[str, str]) -> tuple[datetime | None, datetime | None]:
        """When it was reported (not in the future, not before the earliest date) and when it
        happened (not after it was reported; empty means when it was reported), in UTC."""
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
        return reported, occurred

    def _places(self, cell: Callable[[str], str], errors: dict[str, str],
                ) -> tuple[int | None, int | None, int | None, int | None, int | None]:
        """The ids (or placeholders for --create-missing) of the row's service, location,
        route, person supported and staff group; a location, route or person is looked up in
        the row's service."""
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
        return service_id, location_id, route_id, person_id, group_id

    def _form_rules(self, draft: NearMissDraft, cell: Callable[[str], str],
                    errors: dict[str, str]) -> dict[str, Any]:
        """The web form's rules on the draft, each error put on the row's column; returns the
        type's captured fields. The ids the draft names are known to belong where they were
        found."""
        service_id, location_id = draft.service_id, draft.location_id
        route_id, person_id = draft.route_id, draft.person_id
        places = PlaceLookup(
            services=frozenset({service_id} if service_id is not None else ()),
            location_service={location_id: service_id} if location_id and service_id else {},
            route_service={route_id: service_id} if route_id and service_id else {},
            person_service={person_id: service_id} if person_id and service_id else {},
            staff_groups=frozenset({draft.staff_group_id}
                                   if draft.staff_group_id is not None else ()),
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
        return capture


def _barrier_and_risk(cell: Callable[[str], str],
                      errors: dict[str, str]) -> tuple[str | None, bool | None]:
    """What stopped harm (one of the barriers) and whether anyone is still at risk (yes/no)."""
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
    return barrier, still_at_risk


def shape_errors(record: Record, header: Header) -> dict[str, str]:
    """A row whose cells do not line up with the header's columns (a stray comma, a missing
    quote, a value under an unnamed column): {"row": why}, else nothing."""
    width = len(header.canonical)
    if len(record.cells) != width:
        return {"row": f"has {len(record.cells)} cells but the header has {width} "
                       "columns (check for a stray comma or a missing quote)"}
    extra = [i + 1 for i, name in enumerate(header.canonical)
             if not name and record.cells[i].strip()]
    if extra:
        return {"row": f"has a value in column {extra[0]}, which has no name in the header"}
    return {}


def in_file_order(errors: dict[str, str], header: Header) -> list[str]:
    """Error columns in the file's column order (then anything else)."""
    order = {name: i for i, name in enumerate(header.canonical)}
    return sorted(errors, key=lambda column: order.get(column, len(order)))
