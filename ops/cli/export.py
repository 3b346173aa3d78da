"""`nearmiss export`: the governance pack as PDF, or its tables as spreadsheets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from ops.cli.common import fail, guard, progress_bar, ready_engine, say

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.commissioner.period import Period


def export_command(
    output_format: Annotated[str, typer.Option(
        "--format", help="pdf (the governance pack), xlsx (reports and actions), csv, fhir "
                         "(FHIR R4 AdverseEvent bundle) or ahrq-csv (AHRQ Common Formats).")],
    period: Annotated[str, typer.Option(
        "--period", help="2026-Q3, 2026-07, 2026, or 2026-07-01..2026-09-30.")],
    out: Annotated[Path, typer.Option("--out", help="The file to write.", dir_okay=False)],
    audience: Annotated[str, typer.Option(
        "--audience", help="commissioner (de-identified, small counts hidden) or board.")
    ] = "commissioner",
    table: Annotated[str, typer.Option(
        "--table", help="For csv: which table (one per file).")] = "",
    include_person: Annotated[bool, typer.Option(
        "--include-person", help="For fhir and ahrq-csv: name the person supported "
                                 "(default: nobody is identified).")] = False,
) -> None:
    """Export the evidence of a period: the governance pack as PDF, or its tables.

    For a commissioner the spreadsheets hold counts (small ones hidden, with complements; over
    time at the level the counts allow), the de-identified action register and notes on the
    labels (a Notes sheet; at the foot of each CSV); for a board, the reports themselves.
    Spreadsheet formulas are always escaped. Every export is recorded in the audit trail.
    fhir and ahrq-csv export the period's reports in standard formats (docs/STANDARDS.md).
    """
    from core.commissioner.access import record_access
    from core.commissioner.period import parse_period
    from core.config import settings
    from core.db import read_session
    from core.exports.pack import AUDIENCES
    from core.exports.pack_pdf import build_pack
    from core.exports.standards import STANDARD_FORMATS, export_standard
    from core.uow import UnitOfWork

    if output_format not in ("pdf", "xlsx", "csv", *STANDARD_FORMATS):
        fail("--format must be pdf, xlsx, csv, fhir or ahrq-csv.", code=2)
    if audience not in AUDIENCES:
        fail(f"--audience must be one of {', '.join(AUDIENCES)}.", code=2)
    try:
        chosen = parse_period(period)
    except ValueError as exc:
        fail(str(exc), code=2)
    if output_format in STANDARD_FORMATS:
        with guard():
            done = export_standard(ready_engine(), SYSTEM, output_format, chosen,
                                   include_person=include_person, file_name=out.name,
                                   rules=settings(), now=utcnow())
            out.write_bytes(done.content)
            say(f"Wrote {done.events} reports for {chosen.label} as {output_format} to {out} "
                f"({len(done.content):,} bytes" + (", naming people supported)."
                                                   if include_person else ")."))
        return
    with guard():
        engine = ready_engine()
        with read_session(engine) as session:
            if output_format == "pdf":
                with progress_bar() as bar:
                    content = build_pack(session, SYSTEM, chosen, audience, now=utcnow(),
                                         rules=settings(),
                                         progress=lambda share, _what: bar.update(
                                             "Building the pack", int(share * 100), 100))
            else:
                content = _tables(session, chosen, audience, output_format, table)
        out.write_bytes(content)
        record_access(UnitOfWork(engine), SYSTEM, f"pack:{chosen.label}", exported=True,
                      details={"format": output_format, "audience": audience,
                               "period": chosen.label, "file": out.name}, now=utcnow())
        say(f"Wrote the {audience} {output_format.upper()} for {chosen.label} to {out} "
            f"({len(content):,} bytes).")


def _tables(session: Session, chosen: Period, audience: str, output_format: str,
            table: str) -> bytes:
    """The pack's tables as one workbook (xlsx) or the one table asked for (csv)."""
    from core.exports.pack import export_tables, note_lines
    from core.exports.spreadsheet import to_csv, to_xlsx_book

    sheets = export_tables(session, SYSTEM, chosen, audience, rules=settings(), now=utcnow())
    if output_format == "xlsx":
        return to_xlsx_book(sheets)
    names = {name.lower().replace(" ", "_"): name for name in sheets}
    wanted = table or next(iter(names))
    if wanted == "by_week_and_type" and "by_time_and_type" in names:
        wanted = "by_time_and_type"  # its name before the level was chosen
    if wanted not in names:
        fail(f"--table must be one of {', '.join(names)}.", code=2)
    # Every table carries the notes on its labels at its foot.
    notes = note_lines(sheets) if names[wanted] != "Notes" else []
    return to_csv(sheets[names[wanted]], notes=notes)
