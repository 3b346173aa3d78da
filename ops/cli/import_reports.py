"""`nearmiss import`: near misses from a CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import Engine

from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from ops.cli.common import EXIT_FAILED, fail, guard, progress_bar, ready_engine, say, warn

if TYPE_CHECKING:
    from core.filing.importer import AlreadyImported

# Files with more rows than this get a progress bar while they are checked and imported.
PROGRESS_MIN_ROWS = 200


def import_reports(
    file: Annotated[Path, typer.Argument(help="The CSV file (UTF-8, header row first).",
                                         exists=True, dir_okay=False, readable=True)],
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Import the good rows "
                            "and write the bad ones to a rejects file.")] = False,
    rejects: Annotated[Path | None, typer.Option("--rejects", help="Where to write rejected "
                       "rows (default with --skip-invalid: FILE.rejects.csv).",
                       dir_okay=False)] = None,
    create_missing: Annotated[bool, typer.Option("--create-missing", help="Create services, "
                              "locations, routes, people and staff groups the portal does not "
                              "know yet.")] = False,
) -> None:
    """Import near misses from a CSV file (all or nothing unless --skip-invalid).

    Columns: reported_at, type, service, location, description, barrier, still_at_risk
    (required); occurred_at, person_ref, route, staff_group, interface_flag,
    immediate_safeguards (optional).
    """
    from core.filing.importer import import_csv, write_rejects

    if rejects is not None and rejects.resolve() == file.resolve():
        fail("--rejects must name another file than the one being imported.")
    with guard():
        engine = ready_engine()
        with progress_bar(PROGRESS_MIN_ROWS) as bar:
            result = import_csv(file, engine=engine, skip_invalid=skip_invalid,
                                create_missing=create_missing, rules=settings(), now=utcnow(),
                                progress=bar.update)
        for row_error in result.errors:
            warn(str(row_error))
        rejects_path = rejects
        if rejects_path is None and skip_invalid:
            rejects_path = file.with_name(file.name.removesuffix(file.suffix) + ".rejects.csv")
        if result.rejected and rejects_path is not None:
            try:
                write_rejects(result, rejects_path)
            except OSError as exc:
                fail(f"Cannot write the rejects file {rejects_path} ({exc.strerror}). "
                     + ("The good rows were imported." if result.committed else
                        "Nothing was imported."))
        _report_already_imported(result.already_imported)

        bad = len(result.rejected)
        if bad and not skip_invalid:
            good = result.rows - bad - len(result.already_imported)
            where = f" The rows with problems are in {rejects_path}." if rejects_path else ""
            hint = (f", or use --skip-invalid to import the {good} good "
                    f"row{'s' if good != 1 else ''} now" if good else "")
            fail(f"{bad} of {result.rows} rows have problems, so nothing was imported.{where} "
                 f"Correct them and import again{hint}.")
        if result.created:
            say("Created: " + "; ".join(result.created) + ".")
        if result.imported:
            refs = result.references
            span = refs[0] if len(refs) == 1 else f"{refs[0]} to {refs[-1]}"
            say(f"Imported {result.imported} report{'s' if result.imported != 1 else ''} "
                f"({span}) from {file}.")
            _recompute_clusters(engine, refs)
            if result.escalations:
                say(f"Raised {result.escalations} escalation"
                    f"{'s' if result.escalations != 1 else ''} as the form would have (still "
                    "at risk, safeguarding, clinical review, operations): see the inbox.")
        else:
            say(f"No new reports imported from {file}.")
        if bad:
            say(f"Rejected {bad} row{'s' if bad != 1 else ''}: written to {rejects_path}.")
            if not result.imported:
                raise typer.Exit(EXIT_FAILED)


def _report_already_imported(skipped: list[AlreadyImported], shown: int = 10) -> None:
    if not skipped:
        return
    lines = ", ".join(f"line {s.line} ({s.reference})" for s in skipped[:shown])
    more = f", and {len(skipped) - shown} more" if len(skipped) > shown else ""
    say(f"Skipped {len(skipped)} row{'s' if len(skipped) != 1 else ''} imported before: "
        f"{lines}{more}.")


def _recompute_clusters(engine: Engine, references: list[str]) -> None:
    """Imported reports skip the filing's cluster scan: scan from the earliest of them."""
    from core.actions.episodes import serving_plan
    from core.triage.episodes import earliest_day, recompute_episodes
    from core.uow import UnitOfWork

    since = earliest_day(engine, references, rules=settings())
    done = recompute_episodes(UnitOfWork(engine), SYSTEM, since=since,
                              now=utcnow(), rules=settings(), serving_plan=serving_plan)
    if done.opened or done.reopened:
        say(f"Clusters: {done.opened} new, {done.reopened} opened again by the import.")
