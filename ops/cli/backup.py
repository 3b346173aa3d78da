"""`nearmiss backup` and `nearmiss restore`: the database and its evidence files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.config import environment
from ops.cli.common import engine as configured_engine
from ops.cli.common import guard, progress_bar, ready_engine, safe_url, say

# Tables with more rows than this show a progress bar while they are backed up or restored.
BACKUP_PROGRESS_MIN = 5000


def backup_command(
    file: Annotated[Path, typer.Argument(
        help="FILE.db (or .sqlite): a SQLite copy. Any other name, e.g. FILE.nmdump: a portable "
             "dump with the evidence files, restorable into SQLite or PostgreSQL.",
        dir_okay=False)],
) -> None:
    """Back up the database while the portal keeps running.

    A SQLite database is copied with SQLite's online backup; a dump is read in one consistent
    snapshot. The file appears only once the backup is complete.
    """
    from core.attachments.storage import attachments_dir
    from ops.backup import backup

    with guard():
        engine = ready_engine()
        with progress_bar(minimum=BACKUP_PROGRESS_MIN) as bar:
            summary = backup(engine, file, attachments_dir=attachments_dir(),
                             progress=lambda phase, done, total: bar.update(
                                 f"Backing up {phase}", done, total))
        say(f"Backed up {summary.total_rows:,} rows"
            + (f" and {summary.files} evidence files" if summary.files else "")
            + f" to {summary.path} ({summary.path.stat().st_size:,} bytes).")
        if summary.kind == "sqlite":
            say(f"Evidence files are not inside a .db copy: back up {attachments_dir()} as "
                "well, or make a dump (any other file name), which carries them.")


def restore_command(
    file: Annotated[Path, typer.Argument(help="A backup made by `nearmiss backup`.",
                                         exists=True, dir_okay=False)],
    force: Annotated[bool, typer.Option(
        "--force", help="Replace everything in a database that already holds data.")] = False,
) -> None:
    """Load a backup into the configured database (SQLite or PostgreSQL).

    Restore into a new, empty database: the schema is created from the backup's own version and
    then upgraded. A database that already holds data is refused unless --force is given.
    """
    from core.attachments.storage import attachments_dir
    from ops.backup import restore

    with guard():
        # Not ready_engine(): an empty database is what a restore expects.
        engine = configured_engine()
        with progress_bar(minimum=BACKUP_PROGRESS_MIN) as bar:
            summary = restore(engine, file, attachments_dir=attachments_dir(), force=force,
                              progress=lambda phase, done, total: bar.update(
                                  f"Restoring {phase}", done, total))
        say(f"Restored {summary.total_rows:,} rows"
            + (f" and {summary.files} evidence files" if summary.files else "")
            + f" from {file} into {safe_url(environment().database_url)}. "
            "Run `nearmiss audit verify` to check the audit trail.")
