"""`nearmiss activity`: weekly visits and shifts per service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.clock import utcnow
from core.config import settings
from ops.cli.common import fail, guard, ready_engine, say, warn

app = typer.Typer(help="Weekly visits and shifts per service (the denominators of "
                       "'per 100 visits/shifts' measures).", no_args_is_help=True)


@app.command("import")
def activity_import(
    file: Annotated[Path, typer.Argument(help="The CSV file (UTF-8, header row first).",
                                         exists=True, dir_okay=False, readable=True)],
    create_missing: Annotated[bool, typer.Option("--create-missing", help="Create services "
                              "the portal does not know yet.")] = False,
) -> None:
    """Import weekly visits and shifts from a CSV file (all or nothing).

    Columns: service (its name in the portal), week_start (the Monday, YYYY-MM-DD), visits,
    shifts (whole numbers; either may be empty, not both). A week already stored for a
    service is updated; an empty cell keeps the stored value. Every bad line is listed and
    nothing is stored.
    """
    from core.actions.activity import import_activity

    with guard():
        engine = ready_engine()
        result = import_activity(engine, file, create_missing=create_missing,
                                 now=utcnow(), rules=settings())
        if result.errors:
            for row_error in result.errors:
                warn(str(row_error))
            bad = len({e.line for e in result.errors})
            fail(f"{bad} of {result.rows} rows have problems, so nothing was imported. "
                 "Correct them and import again.")
        if result.created:
            say("Created: " + "; ".join(result.created) + ".")
        say(f"Imported {result.rows} week{'s' if result.rows != 1 else ''} of activity from "
            f"{file}: {result.inserted} added, {result.updated} updated, "
            f"{result.unchanged} unchanged.")
