"""Near misses as a CSV aligned with the AHRQ Common Formats (one row per report).

The columns answer the Common Formats' questions in their words: what is being reported
(incident, near miss or unsafe condition), the event category, what stopped the event reaching
the person, and the extent of harm on the AHRQ Harm Scale (with its LOINC answer code), plus
the date, type, service and place. docs/STANDARDS.md maps every column. Cells are written by
core.exports.spreadsheet.to_csv, so text a spreadsheet would run as a formula is made inert.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from core.commissioner.period import Period
from core.config import Settings
from core.exports.spreadsheet import to_csv
from core.exports.standards import (
    StandardEvent,
    StandardsMapping,
    event_type,
    harm_level,
)

# The columns, in order ("Person supported" only when the export may identify people).
COLUMNS = (
    "Reference", "Event date", "Event time", "Report date", "Event type (AHRQ)",
    "Event category (AHRQ)", "Near-miss type", "Service", "Location",
    "What stopped the event reaching the person", "Barrier code", "Harm scale (AHRQ)",
    "Harm scale LOINC answer", "Severity potential", "Status",
)
PERSON_COLUMNS = ("Person supported (local reference)", "Person supported (name)")


def _local(moment: datetime, rules: Settings) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(rules.zone).replace(tzinfo=None)


def ahrq_rows(events: Iterable[StandardEvent], mapping: StandardsMapping, *,
              rules: Settings, include_person: bool = False) -> list[dict[str, Any]]:
    """One row per event, keyed by COLUMNS (and PERSON_COLUMNS with include_person)."""
    rows: list[dict[str, Any]] = []
    for event in events:
        occurred = _local(event.occurred_at, rules)
        type_map = mapping.for_type(event.type_key)
        harm = mapping.harm_scale[harm_level(event)]
        row: dict[str, Any] = {
            "Reference": event.reference,
            "Event date": occurred.date(),
            "Event time": occurred.strftime("%H:%M"),
            "Report date": _local(event.reported_at, rules).date(),
            "Event type (AHRQ)": mapping.ahrq_event_types[event_type(event, mapping)],
            "Event category (AHRQ)": mapping.ahrq_categories[type_map.ahrq_category],
            "Near-miss type": event.type_name,
            "Service": event.service_name,
            "Location": event.location_name,
            "What stopped the event reaching the person":
                mapping.barriers[event.barrier.value].ahrq,
            "Barrier code": event.barrier.value,
            "Harm scale (AHRQ)": harm.display,
            "Harm scale LOINC answer": harm.loinc or "",
            "Severity potential": event.severity.label if event.severity else "Not triaged",
            "Status": event.status.label,
        }
        if include_person:
            person = event.person
            row[PERSON_COLUMNS[0]] = person.local_ref if person else ""
            row[PERSON_COLUMNS[1]] = (person.display_name or "") if person else ""
        rows.append(row)
    return rows


def ahrq_csv(events: Iterable[StandardEvent], mapping: StandardsMapping, *, period: Period,
             rules: Settings, include_person: bool = False) -> bytes:
    """The CSV file: header, one row per event, then notes on the columns at the foot."""
    rows = ahrq_rows(events, mapping, rules=rules, include_person=include_person)
    if not rows:  # an empty period still gets its header
        rows_for_header: list[dict[str, Any]] = [dict.fromkeys(
            COLUMNS + (PERSON_COLUMNS if include_person else ()))]
        content = to_csv(rows_for_header, notes=_notes(period, include_person))
        # Drop the one empty data line: the header alone says the period had no reports.
        lines = content.split(b"\r\n")
        return b"\r\n".join(lines[:1] + lines[2:])
    return to_csv(rows, notes=_notes(period, include_person))


def _notes(period: Period, include_person: bool) -> list[str]:
    who = ("Names the people supported (exported with --include-person)." if include_person
           else "No person supported, worker or reporter is identified; free text is not "
                "exported.")
    return [
        f"Period: {period.label} (the day each event occurred, provider's local time). {who}",
        "Event type (AHRQ): incident = reached the person (re-classified); near miss = did not "
        "reach the person; unsafe condition = a hazard found with no person involved.",
        "Harm scale (AHRQ): the AHRQ Harm Scale grades incidents only; the incident process "
        "grades the harm of a re-classified report (Unknown here).",
        "Severity potential: how bad it could have been, from triage (not the AHRQ scale).",
        "Field mappings: docs/STANDARDS.md.",
    ]
