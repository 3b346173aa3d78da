"""The `nearmiss` command line: set up the database, load demo data, manage users, import
reports and activity, verify the audit trail, export, back up and restore.

Every command uses the configured database (NEARMISS_DATABASE_URL) and acts as the system
user; every change it makes is audited by the services it calls. One module per command or
command group; this one puts them together.

Exit codes: 0 done, 1 refused or failed (the message says why), 2 a configuration file is
malformed (or the command line is wrong), 3 the database could not be reached.
"""

from __future__ import annotations

import typer

from ops.cli import activity, audit, clusters, users
from ops.cli.backup import backup_command, restore_command
from ops.cli.demo import demo
from ops.cli.digest import digest_command
from ops.cli.export import export_command
from ops.cli.import_reports import import_reports
from ops.cli.init import init
from ops.cli.reminders import reminders

app = typer.Typer(
    name="nearmiss",
    help="Near Miss Portal administration: database set-up, users, CSV import, audit checks.",
    epilog="Exit codes: 0 done, 1 refused or failed, 2 malformed configuration file, "
           "3 database unreachable.",
    no_args_is_help=True,
    add_completion=False,
    # Never print local variables in a traceback: they can hold passwords.
    pretty_exceptions_show_locals=False,
)
# In the order `nearmiss --help` lists them: single commands, then the groups.
app.command("init")(init)
app.command("demo")(demo)
app.command("import")(import_reports)
app.command("reminders")(reminders)
app.command("digest")(digest_command)
app.command("export")(export_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(clusters.app, name="clusters")
app.add_typer(activity.app, name="activity")


def main() -> None:
    """Entry point of the `nearmiss` console script."""
    app()
