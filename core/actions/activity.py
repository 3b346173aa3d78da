"""Weekly visits and shifts per service: the denominators of "per 100 visits/shifts" measures.

Import them from a CSV file with `nearmiss activity import FILE.csv`.

### The file

- UTF-8 (Excel: "CSV UTF-8"; a byte-order mark is fine), comma-separated (a file using
  semicolons throughout is read too), a header row first. Column names are not case-sensitive;
  an unknown column is an error. Blank lines are skipped; problems are named by line number
  (the header is line 1).
- `service`: the service's name as in the portal (capitalisation and spacing may differ).
- `week_start`: the Monday the week starts on, as an ISO date (`2025-03-10`). A week that has
  not started yet is refused.
- `visits`, `shifts`: whole numbers, 0 or more, delivered that week. Either may be empty
  (a home care branch counts visits, a residence counts shifts), not both. At least one of the
  two columns must be in the header.

### What happens

- All or nothing: if any line has a problem, every problem is listed as
  `line N: column: reason` and nothing is stored.
- A week already stored for a service is updated with the values the file gives; an empty cell
  leaves the stored value as it was. The same service and week twice in one file is refused.
- An unknown service is an error; `--create-missing` creates it instead (with no region).
- One audit event records the import with its counts.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.actions.models import ActivityCount
from core.auth.actor import SYSTEM
from core.clock import to_local
from core.config import Settings
from core.csvfile import ImportFileError, RowError, decode, read_file
from core.db import read_session
from core.organisation import service as org
from core.organisation.models import Service
from core.uow import UnitOfWork
from core.weeks import week_start_of

COLUMNS = ("service", "week_start", "visits", "shifts")
# More than this many visits or shifts in one week by one service is taken for a typo.
MAX_WEEKLY = 1_000_000
SERVICE_NAME_MAX = 120


@dataclass
class ImportResult:
    """What an activity import did. Nothing was written unless `committed` is true."""

    source: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    created: list[str] = field(default_factory=list)  # services created (--create-missing)
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False


@dataclass(frozen=True)
class _Row:
    line: int
    service_name: str
    service_id: int | None  # None: to be created
    week_start: date
    visits: int | None
    shifts: int | None


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _records(text: str, source: str) -> list[tuple[int, list[str]]]:
    """Non-blank CSV records with the line each starts on."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = ";" if first.count(",") == 0 and first.count(";") > 0 else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records, previous_end = [], 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return records
        except csv.Error as exc:
            raise ImportFileError(f"{source}, line {previous_end + 1}: the CSV is malformed "
                                  f"({exc}); check the quotes on this line.") from exc
        start, previous_end = previous_end + 1, reader.line_num
        if any(cell.strip() for cell in cells):
            records.append((start, cells))


def _header(line: int, cells: list[str], source: str) -> list[str]:
    names = [_norm(c).replace(" ", "_").replace("-", "_") for c in cells]
    unknown = [orig for orig, name in zip(cells, names, strict=True)
               if name and name not in COLUMNS]
    if unknown:
        raise ImportFileError(f"{source}, line {line}: unknown column"
                              f"{'s' if len(unknown) > 1 else ''} "
                              f"{', '.join(repr(u) for u in unknown)}. Allowed columns: "
                              f"{', '.join(COLUMNS)}.")
    for name in names:
        if name and names.count(name) > 1:
            raise ImportFileError(f"{source}, line {line}: the column {name!r} appears twice.")
    missing = [c for c in ("service", "week_start") if c not in names]
    if missing:
        raise ImportFileError(f"{source}, line {line}: missing required column"
                              f"{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                              f"(the columns are {', '.join(COLUMNS)}).")
    if "visits" not in names and "shifts" not in names:
        raise ImportFileError(f"{source}, line {line}: give a visits column, a shifts column "
                              "or both.")
    return names


def _count(text: str, column: str, errors: dict[str, str]) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        errors[column] = f"{text!r} is not a whole number"
        return None
    if value < 0:
        errors[column] = f"{value} is negative; give the number delivered (0 or more)"
    elif value > MAX_WEEKLY:
        errors[column] = f"{value} is more than {MAX_WEEKLY:,} in one week; check for a typo"
    return value


def _service_of(cell: dict[str, str], services: dict[str, list[tuple[int, str]]],
                create_missing: bool, errors: dict[str, str]) -> tuple[str, int | None]:
    """The row's service name as typed (spaces tidied) and its id, None for one to create
    (or a refused row: the reason goes into `errors`)."""
    service_name = " ".join(cell.get("service", "").split())
    service_id = None
    if not service_name:
        errors["service"] = "is required"
    else:
        found = services.get(_norm(service_name), [])
        exact = [sid for sid, name in found if name == service_name]
        if len(found) == 1 or exact:
            service_id = exact[0] if exact else found[0][0]
        elif found:
            errors["service"] = f"{service_name!r} matches more than one service"
        elif not create_missing:
            errors["service"] = (f"unknown service {service_name!r}; check the "
                                 "spelling, or use --create-missing to create it")
        elif len(service_name) > SERVICE_NAME_MAX:
            errors["service"] = f"a service name is at most {SERVICE_NAME_MAX} characters"
    return service_name, service_id


def _week_of(cell: dict[str, str], this_week: date, errors: dict[str, str]) -> date | None:
    """The row's week: a Monday, not in a week still to come (else the reason in `errors`)."""
    week_text = cell.get("week_start", "").strip()
    week = None
    if not week_text:
        errors["week_start"] = "is required (the Monday the week starts, YYYY-MM-DD)"
    else:
        try:
            week = date.fromisoformat(week_text)
        except ValueError:
            errors["week_start"] = f"{week_text!r} is not a date like 2025-03-10"
        else:
            if week.weekday() != 0:
                monday = week - timedelta(days=week.weekday())
                errors["week_start"] = (f"{week:%Y-%m-%d} is a {week:%A}; a week starts "
                                        f"on a Monday (that week: {monday:%Y-%m-%d})")
            elif week > this_week:
                errors["week_start"] = f"{week:%Y-%m-%d} is a week still to come"
    return week


def import_activity(engine: Engine | None, path: Path | str, *, create_missing: bool = False,
                    now: datetime, rules: Settings) -> ImportResult:
    """Import weekly visits and shifts from a CSV file (see the module docstring)."""
    data = read_file(path)
    return import_activity_bytes(engine, data, source=str(path), create_missing=create_missing,
                                 now=now, rules=rules)


def import_activity_bytes(engine: Engine | None, data: bytes, *, source: str = "the file",
                          create_missing: bool = False, now: datetime,
                          rules: Settings) -> ImportResult:
    """Import CSV content: all or nothing, in one transaction."""
    this_week = week_start_of(to_local(now, rules.zone).date())
    records = _records(decode(data, source), source)
    if not records:
        raise ImportFileError(f"{source} is empty: there is no header row and no weeks.")
    header_line, header_cells = records[0]
    names = _header(header_line, header_cells, source)
    if len(records) == 1:
        raise ImportFileError(f"{source} has a header but no weeks to import.")
    result = ImportResult(source=source, rows=len(records) - 1)

    good: list[_Row] = []
    seen: dict[tuple[str, date], int] = {}
    with read_session(engine) as session:
        services: dict[str, list[tuple[int, str]]] = {}
        for service_id, name in session.execute(select(Service.id, Service.name)):
            services.setdefault(_norm(name), []).append((service_id, name))
        for line, cells in records[1:]:
            errors: dict[str, str] = {}
            if len(cells) != len(names):
                result.errors.append(RowError(line, "row", (
                    f"has {len(cells)} cells but the header has {len(names)} columns (check "
                    "for a stray comma or a missing quote)")))
                continue
            cell = {name: value for name, value in zip(names, cells, strict=True) if name}
            service_name, service_id = _service_of(cell, services, create_missing, errors)
            week = _week_of(cell, this_week, errors)
            visits = _count(cell.get("visits", ""), "visits", errors)
            shifts = _count(cell.get("shifts", ""), "shifts", errors)
            if not cell.get("visits", "").strip() and not cell.get("shifts", "").strip():
                errors["visits"] = "give visits, shifts or both"
            if not errors and week is not None:
                key = (_norm(service_name), week)
                earlier = seen.setdefault(key, line)
                if earlier != line:
                    errors["row"] = (f"repeats the week {week:%Y-%m-%d} of {service_name!r} "
                                     f"from line {earlier}")
            if errors:
                order = ("row", *COLUMNS)
                result.errors.extend(RowError(line, column, errors[column])
                                     for column in sorted(errors, key=order.index))
                continue
            assert week is not None
            good.append(_Row(line, service_name, service_id, week, visits, shifts))
    if result.errors:
        return result
    _write(engine, good, result, now=now)
    return result


def _write(engine: Engine | None, good: list[_Row], result: ImportResult, *, now: datetime) -> None:
    with UnitOfWork(engine) as uow:
        session = uow.session
        created: dict[str, int] = {}
        for row in good:
            if row.service_id is None and _norm(row.service_name) not in created:
                created[_norm(row.service_name)] = org.get_or_create_service(
                    uow, SYSTEM, row.service_name, now=now)
                result.created.append(f"service {row.service_name!r}")
        rows = [(r.service_id or created[_norm(r.service_name)], r) for r in good]
        existing = {(c.service_id, c.week_start): c for c in session.scalars(
            select(ActivityCount).where(ActivityCount.service_id.in_({sid for sid, _ in rows}),
                                        ActivityCount.week_start.in_({r.week_start
                                                                      for _, r in rows})))}
        for service_id, row in rows:
            stored = existing.get((service_id, row.week_start))
            if stored is None:
                session.add(ActivityCount(service_id=service_id, week_start=row.week_start,
                                          visits=row.visits, shifts=row.shifts))
                result.inserted += 1
                continue
            visits = row.visits if row.visits is not None else stored.visits
            shifts = row.shifts if row.shifts is not None else stored.shifts
            if (visits, shifts) == (stored.visits, stored.shifts):
                result.unchanged += 1
            else:
                stored.visits, stored.shifts = visits, shifts
                result.updated += 1
        weeks = sorted({r.week_start for r in good})
        uow.record(SYSTEM, "activity.imported", "activity_count", None, after={
            "source": Path(result.source).name, "rows": result.rows,
            "inserted": result.inserted, "updated": result.updated,
            "unchanged": result.unchanged, "services": sorted({sid for sid, _ in rows}),
            "services_created": result.created,
            "weeks": [weeks[0], weeks[-1]] if weeks else []}, at=now)
        uow.commit()
    result.committed = True


@dataclass(frozen=True)
class ActivityWeek:
    """Visits and shifts of one week, summed over the chosen services (None: none given)."""

    week_start: date
    visits: int | None
    shifts: int | None
    services_reporting: int  # how many of the services have a count for the week


def activity_weeks(session: Session, service_ids: tuple[int, ...] | list[int] | set[int],
                   start: date, end: date) -> list[ActivityWeek]:
    """Every week from the one holding `start` to the one holding `end`, oldest first, with
    its visits and shifts (no services given: all services). Weeks with no data are kept, as
    gaps, so a page can show what is missing."""
    first, last = week_start_of(start), week_start_of(end)
    query = (select(ActivityCount.week_start, func.sum(ActivityCount.visits),
                    func.sum(ActivityCount.shifts), func.count())
             .where(ActivityCount.week_start >= first, ActivityCount.week_start <= last)
             .group_by(ActivityCount.week_start))
    if service_ids:
        query = query.where(ActivityCount.service_id.in_(tuple(service_ids)))
    found = {week: (visits, shifts, n) for week, visits, shifts, n in session.execute(query)}
    weeks = []
    monday = first
    while monday <= last:
        visits, shifts, n = found.get(monday, (None, None, 0))
        weeks.append(ActivityWeek(monday, None if visits is None else int(visits),
                                  None if shifts is None else int(shifts), n))
        monday += timedelta(days=7)
    return weeks
