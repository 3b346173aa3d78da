"""The `nearmiss` command line: set up the database, load demo data, manage users, import
reports and verify the audit trail.

Every command uses the configured database (NEARMISS_DATABASE_URL) and acts as the system
user; every change it makes is audited by the services it calls.

Exit codes: 0 done, 1 refused or failed (the message says why), 2 a configuration file is
malformed (or the command line is wrong), 3 the database could not be reached.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from core.auth.actor import SYSTEM
from core.config import environment, settings
from core.errors import DomainError, NotFound, StorageUnavailable, ValidationFailed
from core.yamlfile import ConfigFileError

if TYPE_CHECKING:
    from core.reports.importer import AlreadyImported

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_STORAGE = 3
# Files with more rows than this get a progress bar while they are checked and imported.
PROGRESS_MIN_ROWS = 200
# Tables with more rows than this show a progress bar while they are backed up or restored.
BACKUP_PROGRESS_MIN = 5000

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
users_app = typer.Typer(help="Create, list, disable and enable the people who sign in.",
                        no_args_is_help=True)
audit_app = typer.Typer(help="Check the audit trail.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")

# Options shown in messages instead of the service's field names.
_USER_FIELD_OPTIONS = {
    "username": "USERNAME", "display_name": "--name", "roles": "--role",
    "services": "--service", "email": "--email", "staff_group": "--staff-group",
    "password": "password",
}


# --------------------------------------------------------------------------- output helpers


def _out() -> Console:
    # Made per call: the console must follow whatever sys.stdout is now (tests swap it).
    return Console(highlight=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _say(message: str) -> None:
    """Print plain text (never read as rich markup: it may hold user data)."""
    # soft_wrap: long lines are left to the terminal, so they can be copied and grepped whole.
    _out().print(message, markup=False, soft_wrap=True)


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    _err().print(message, markup=False, soft_wrap=True)
    raise typer.Exit(code)


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as given; it has no password to hide
        return url


@contextmanager
def _guard() -> Iterator[None]:
    """Turn the errors a user can act on into one clear line and an exit code."""
    try:
        yield
    except ConfigFileError as exc:
        _fail(str(exc), EXIT_CONFIG)
    except StorageUnavailable as exc:
        _fail(f"Database unavailable: {exc}", EXIT_STORAGE)
    except (OperationalError, InterfaceError) as exc:
        _fail(_connection_message(exc), EXIT_STORAGE)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            _fail(_connection_message(exc), EXIT_STORAGE)
        raise
    except DomainError as exc:
        _fail(str(exc), EXIT_FAILED)


def _connection_message(exc: DBAPIError) -> str:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    url = _safe_url(environment().database_url)
    return (f"Cannot use the database at {url}: {reason}. Check NEARMISS_DATABASE_URL and that "
            "the database server is running.")


def _engine() -> Engine:
    import core.models  # noqa: F401 - map every table before any service writes
    from core.db import get_engine

    return get_engine()


def _ready_engine() -> Engine:
    """The configured database, refusing to go on unless its schema is current."""
    from core.migrate import schema_is_current

    engine = _engine()
    if not schema_is_current(engine):
        _fail("The database is not set up for this version of the portal. "
              "Run `nearmiss init` first.")
    return engine


class _Bar:
    """A rich progress bar that appears only once there is enough work to show."""

    def __init__(self, minimum: int = 0) -> None:
        self.minimum = minimum
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def update(self, phase: str, done: int, total: int) -> None:
        if self._progress is None:
            if total <= self.minimum:
                return
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=_err(), transient=False)
            self._progress.start()
        task = self._tasks.get(phase)
        if task is None:
            task = self._tasks[phase] = self._progress.add_task(phase, total=total)
        self._progress.update(task, completed=done, total=total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


@contextmanager
def _progress_bar(minimum: int = 0) -> Iterator[_Bar]:
    bar = _Bar(minimum)
    try:
        yield bar
    finally:
        bar.close()


# --------------------------------------------------------------------------- init and demo


@app.command()
def init() -> None:
    """Create or upgrade the database schema and load data/taxonomy.yaml into it.

    Safe to run again after every upgrade or taxonomy edit. With NEARMISS_ENV=demo it also
    creates one demo user per role.
    """
    from core.bootstrap import initialise

    env = environment()
    with _guard():
        # initialise() reads the taxonomy file before it touches the database.
        result = initialise()
        _say(f"Database ready at {_safe_url(result.database_url)} (schema up to date).")
        if result.sealed is not None:
            _say(f"Audit trail sealed: its {result.sealed.events_before} events (last signed "
                 f"with {result.sealed.previous_key_id!r}) are now followed by an event signed "
                 f"with the audit key {result.sealed.key_id!r}.")
        sync = result.taxonomy
        if sync.changed:
            parts = []
            if sync.added:
                parts.append(f"{len(sync.added)} types added")
            if sync.new_versions:
                parts.append("new versions: " + ", ".join(sync.new_versions))
            if sync.lists_changed:
                parts.append("lists updated: " + ", ".join(sync.lists_changed))
            _say(f"Taxonomy loaded from {env.taxonomy_path}: " + "; ".join(parts) + ".")
        else:
            _say(f"Taxonomy unchanged ({env.taxonomy_path}).")
        if env.is_demo:
            from core.auth.service import DEMO_PASSWORD, ensure_demo_users
            from core.db import engine_for
            from core.uow import UnitOfWork

            engine = engine_for(result.database_url)
            created = ensure_demo_users(lambda: UnitOfWork(engine))
            if created:
                _say(f"Demo users created: {', '.join(created)} "
                     f"(password: {DEMO_PASSWORD}).")
            else:
                _say("Demo users already exist.")


@app.command()
def demo(
    reports: Annotated[int, typer.Option(min=1, help="How many near misses to generate.")] = 2500,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 7,
    months: Annotated[int, typer.Option(min=1, help="Spread the reports over this many "
                                                    "months up to today.")] = 18,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing when the database "
                                           "already holds reports.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Load demo data even though "
                                        "NEARMISS_ENV is not demo.")] = False,
) -> None:
    """Fill the database with a fictional provider and its near misses (for trying it out)."""
    with _guard():
        engine = _ready_engine()
        if not environment().is_demo and not force:
            # Fictional reports in a live database cannot be removed (the audit trail keeps
            # them), so this needs saying twice.
            _fail("This is not a demo installation (NEARMISS_ENV is not 'demo'). Demo data "
                  "would mix with real reports for good. Set NEARMISS_ENV=demo, or pass "
                  "--force if you are sure.")
        from core.db import read_session
        from core.reports.queries import count_reports

        if if_empty:
            with read_session(engine) as session:
                existing = count_reports(session)
            if existing:
                _say(f"The database already holds {existing} reports: no demo data loaded "
                     "(--if-empty).")
                return
        from ops.demo import load_demo

        with _progress_bar() as bar:
            def progress(done: int, total: int) -> None:
                bar.update("Generating demo data", done, total)

            summary = load_demo(engine, reports=reports, seed=seed, months=months,
                                progress=progress)
        span = ""
        if summary.first_occurred and summary.last_occurred:
            span = (f", {summary.first_occurred:%Y-%m-%d} to {summary.last_occurred:%Y-%m-%d}")
        _say(f"Demo data loaded: {summary.reports} reports across {summary.services} "
             f"services{span}: {summary.triaged} triaged, {summary.reviewed} reviewed, "
             f"{summary.closed} closed, {summary.escalations} escalations, "
             f"{summary.action_plans} action plans with {summary.actions} actions, "
             f"{summary.feedback_updates} \"what changed\" updates.")
        if summary.users_created:
            _say(f"Demo users created: {', '.join(summary.users_created)}.")


# --------------------------------------------------------------------------- users


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            _fail("password: nothing was read from standard input.")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Sign-in name: lower-case letters, digits, "
                                            "dots, dashes or underscores.")],
    name: Annotated[str, typer.Option("--name", help="The person's full name.")],
    role: Annotated[list[str], typer.Option("--role", help="A role (repeat for more): reporter, "
                    "supervisor, safeguarding, clinical, operations, quality, governance, "
                    "commissioner, admin.")],
    service: Annotated[list[str] | None, typer.Option("--service", help="A service the person "
                       "works in, by name (repeat for more).")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    staff_group: Annotated[str | None, typer.Option("--staff-group",
                           help="Staff group by name, e.g. 'Direct support professional'.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password "
                              "from the first line of standard input (for scripts).")] = False,
) -> None:
    """Create a user. The password is asked for twice (hidden) unless --password-stdin."""
    from core.auth.service import NewUser, add_user
    from core.uow import UnitOfWork

    with _guard():
        engine = _ready_engine()
        password = _read_password(password_stdin)
        try:
            add_user(UnitOfWork(engine), SYSTEM, NewUser(
                username=username, display_name=name, password=password, roles=tuple(role),
                services=tuple(service or ()), email=email, staff_group=staff_group))
        except ValidationFailed as exc:
            console = _err()
            console.print(f"User {username!r} was not created:", markup=False, soft_wrap=True)
            for field_name, message in exc.errors.items():
                console.print(f"  {_USER_FIELD_OPTIONS.get(field_name, field_name)}: {message}",
                              markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_FAILED) from None
        _say(f"User {username.strip().lower()!r} created with role(s) {', '.join(role)}.")


def _services_text(roles: tuple[str, ...], services: tuple[str, ...],
                   org_wide: set[str]) -> str:
    if set(roles) & org_wide:
        return "all (by role)"
    return ", ".join(services) or "none"


@users_app.command("list")
def users_list() -> None:
    """Show every user with roles, services, staff group and whether they can sign in."""
    from core.auth.service import list_users
    from core.db import read_session

    with _guard():
        engine = _ready_engine()
        with read_session(engine) as session:
            users = list_users(session)
        if not users:
            _say("No users yet. Create the first administrator with: "
                 "nearmiss users add admin --name 'Your Name' --role admin")
            return
        org_wide = set(settings().scopes.org_wide_roles)
        table = Table(title=f"{len(users)} users", title_justify="left")
        for heading in ("username", "name", "roles", "services", "staff group", "active",
                        "sign-in paused"):
            table.add_column(heading, overflow="fold")
        for user in users:
            table.add_row(
                escape(user.username), escape(user.display_name), escape(", ".join(user.roles)),
                escape(_services_text(user.roles, user.services, org_wide)),
                escape(user.staff_group or ""), "yes" if user.active else "no",
                "yes" if user.sign_in_paused else "no",
            )
        _out().print(table)


def _set_active(username: str, active: bool) -> None:
    from core.auth.service import set_user_active
    from core.uow import UnitOfWork

    with _guard():
        engine = _ready_engine()
        try:
            set_user_active(UnitOfWork(engine), SYSTEM, username, active)
        except NotFound:
            _fail(f"No user {username!r}. `nearmiss users list` shows who exists.")
        if active:
            _say(f"User {username!r} enabled: they can sign in again.")
        else:
            _say(f"User {username!r} disabled: they cannot sign in, and their open sessions "
                 "were ended.")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Stop a user signing in (their reports and history stay)."""
    _set_active(username, False)


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument()]) -> None:
    """Let a disabled user sign in again (also clears a lock-out)."""
    _set_active(username, True)


# --------------------------------------------------------------------------- import


@app.command("import")
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
    from core.reports.importer import import_csv, write_rejects

    if rejects is not None and rejects.resolve() == file.resolve():
        _fail("--rejects must name another file than the one being imported.")
    with _guard():
        engine = _ready_engine()
        with _progress_bar(PROGRESS_MIN_ROWS) as bar:
            result = import_csv(file, engine=engine, skip_invalid=skip_invalid,
                                create_missing=create_missing, progress=bar.update)
        for row_error in result.errors:
            _err().print(str(row_error), markup=False, soft_wrap=True)
        rejects_path = rejects
        if rejects_path is None and skip_invalid:
            rejects_path = file.with_name(file.name.removesuffix(file.suffix) + ".rejects.csv")
        if result.rejected and rejects_path is not None:
            try:
                write_rejects(result, rejects_path)
            except OSError as exc:
                _fail(f"Cannot write the rejects file {rejects_path} ({exc.strerror}). "
                      + ("The good rows were imported." if result.committed else
                         "Nothing was imported."))
        _report_already_imported(result.already_imported)

        bad = len(result.rejected)
        if bad and not skip_invalid:
            good = result.rows - bad - len(result.already_imported)
            where = f" The rows with problems are in {rejects_path}." if rejects_path else ""
            hint = (f", or use --skip-invalid to import the {good} good "
                    f"row{'s' if good != 1 else ''} now" if good else "")
            _fail(f"{bad} of {result.rows} rows have problems, so nothing was imported.{where} "
                  f"Correct them and import again{hint}.")
        if result.created:
            _say("Created: " + "; ".join(result.created) + ".")
        if result.imported:
            refs = result.references
            span = refs[0] if len(refs) == 1 else f"{refs[0]} to {refs[-1]}"
            _say(f"Imported {result.imported} report{'s' if result.imported != 1 else ''} "
                 f"({span}) from {file}.")
            _recompute_clusters(engine, refs)
            if result.escalations:
                _say(f"Raised {result.escalations} escalation"
                     f"{'s' if result.escalations != 1 else ''} as the form would have (still "
                     "at risk, safeguarding, clinical review, operations): see the inbox.")
        else:
            _say(f"No new reports imported from {file}.")
        if bad:
            _say(f"Rejected {bad} row{'s' if bad != 1 else ''}: written to {rejects_path}.")
            if not result.imported:
                raise typer.Exit(EXIT_FAILED)


def _report_already_imported(skipped: list[AlreadyImported], shown: int = 10) -> None:
    if not skipped:
        return
    lines = ", ".join(f"line {s.line} ({s.reference})" for s in skipped[:shown])
    more = f", and {len(skipped) - shown} more" if len(skipped) > shown else ""
    _say(f"Skipped {len(skipped)} row{'s' if len(skipped) != 1 else ''} imported before: "
         f"{lines}{more}.")


# --------------------------------------------------------------------------- audit


@audit_app.command("verify")
def audit_verify(
    chain_only: Annotated[bool, typer.Option("--chain-only", help="Check the signed chain "
                          "only, not the reports, escalations and actions against it.")] = False,
    show: Annotated[int, typer.Option(min=1, help="Show at most this many rows that differ "
                                      "from the audit trail.")] = 50,
) -> None:
    """Check every audit event's signature, its links and the signed chain end; then that every
    report, escalation, action and plan holds what the trail last recorded for it.

    Exit 1 names the first bad event, or each row edited outside the portal (table, row id,
    field, the value in the database and the last audited one).
    """
    from core.audit.chain import verify_chain
    from core.audit.keys import LEGACY_KEY_ID
    from core.audit.state import verify_state
    from core.db import read_session

    with _guard():
        engine = _ready_engine()
        with read_session(engine) as session:
            report = verify_chain(session)
        if report.ok:
            signed = report.events_checked - report.legacy_events
            keys = ", ".join(repr(k) for k in report.key_ids) or "none"
            legacy = (f"; {report.legacy_events} legacy events ({LEGACY_KEY_ID}, written before "
                      "the audit key) sealed by the first signed one" if report.legacy_events
                      else "")
            _say(f"Audit chain OK: {report.events_checked} events ({signed} signed with key "
                 f"{keys}{legacy}).")
        else:
            where = f" at event {report.first_bad_seq}" if report.first_bad_seq is not None else ""
            _err().print(f"Audit chain BROKEN{where}: {report.reason}. "
                         f"{report.events_checked} events before it verified.",
                         markup=False, soft_wrap=True)
        state_ok = True
        if not chain_only:
            state = verify_state(engine, limit=show)
            state_ok = state.ok
            tables = ", ".join(f"{count:,} {table}" for table, count in state.compared.items())
            bulk = ", ".join(f"{count:,} {table}" for table, count in state.bulk.items() if count)
            if state.ok:
                _say(f"Current state matches the audit trail: {tables} compared.")
            else:
                console = _err()
                console.print(f"Current state does NOT match the audit trail in "
                              f"{state.total_mismatches} places (edited outside the portal):",
                              markup=False, soft_wrap=True)
                for mismatch in state.mismatches:
                    console.print(f"  {mismatch.describe()}", markup=False, soft_wrap=True)
                if state.total_mismatches > len(state.mismatches):
                    console.print(f"  and {state.total_mismatches - len(state.mismatches)} "
                                  "more (--show N lists more).", markup=False, soft_wrap=True)
                _say(f"Compared: {tables}.")
            if bulk:
                _say(f"Loaded in bulk by the demo, with no event of their own (not compared): "
                     f"{bulk}.")
        if not report.ok or not state_ok:
            raise typer.Exit(EXIT_FAILED)


@audit_app.command("seal")
def audit_seal(
    trust_unsigned: Annotated[bool, typer.Option(
        "--trust-unsigned", help="Also sign an end that is not signed at all (only for a "
        "database upgraded by other means than `nearmiss init`, after checking its trail).")
    ] = False,
) -> None:
    """Sign the end of the audit trail with the current key now (after a key rotation).

    `nearmiss init` does this itself; every write signs with the current key anyway.
    """
    from core.audit.seal import seal_trail

    with _guard():
        engine = _ready_engine()
        sealed = seal_trail(engine, trust_unsigned=trust_unsigned)
        if sealed is None:
            _say("The audit trail's end is already signed with the current key.")
        else:
            _say(f"Audit trail sealed: its {sealed.events_before} events, last signed with "
                 f"{sealed.previous_key_id!r}, are now followed by an event signed with "
                 f"{sealed.key_id!r}.")


@audit_app.command("new-key")
def audit_new_key(
    key_id: Annotated[str | None, typer.Option("--id", help="The new key's id (default: one "
                                               "more than the highest numeric id on the "
                                               "keyring, or 1).")] = None,
) -> None:
    """Print a new random audit key line (ID:SECRET) to add as the last line of the key file."""
    import secrets

    from core.audit.keys import KEY_ID_PATTERN, AuditKeyProblem, load_keyring

    if key_id is None:
        try:
            numbers = [int(k.key_id) for k in load_keyring().keys if k.key_id.isdigit()]
        except AuditKeyProblem:
            numbers = []
        key_id = str(max(numbers, default=0) + 1)
    if not KEY_ID_PATTERN.match(key_id):
        _fail("--id: use letters, digits, dots, dashes or underscores (up to 32).", code=2)
    typer.echo(f"{key_id}:{secrets.token_urlsafe(48)}")


# --------------------------------------------------------------------------- action reminders


_REMINDER_REASONS = {"overdue": "overdue", "due_soon": "due soon",
                     "verdict_due": "verdict due", "sustainment_due": "sustainment check due"}


@app.command("reminders")
def reminders(
    today: Annotated[datetime | None, typer.Option(
        "--today", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="Act as if today were this date (default: today in the provider's time "
             "zone).")] = None,
) -> None:
    """Remind action owners of overdue, due-soon, verdict-due and sustainment-due actions.

    Run it once a day (a systemd timer or a cron line such as `30 7 * * * nearmiss
    reminders`). Each owner gets an in-app notification per action, and an email when email
    is configured; an action is reminded at most once a day, so running it again the same
    day sends nothing.
    """
    from core.actions.reminders import send_action_reminders

    with _guard():
        engine = _ready_engine()
        result = send_action_reminders(engine, today=today.date() if today else None)
        day = f"{result.today:%Y-%m-%d}"
        if not result.sent:
            extra = (f" ({result.already_reminded} already reminded today)"
                     if result.already_reminded else "")
            _say(f"No reminders to send for {day}{extra}.")
            return
        count = len(result.sent)
        _say(f"Sent {count} reminder{'s' if count != 1 else ''} for {day}:")
        for reminder in result.sent:
            _say(f"  {reminder.owner} ({_REMINDER_REASONS[reminder.reason]}): "
                 f"{reminder.title}")
        if result.already_reminded:
            _say(f"{result.already_reminded} more already reminded today.")
        if result.emails is not None:
            sent, failed = len(result.emails.sent), len(result.emails.failed)
            _say(f"Emails: {sent} sent" + (f", {failed} not sent (they stay queued and are "
                                           "retried)" if failed else "") + ".")


def _recompute_clusters(engine: Engine, references: list[str]) -> None:
    """Imported reports skip the filing's cluster scan: scan from the earliest of them."""
    from core.triage.episodes import earliest_day, recompute_episodes
    from core.uow import UnitOfWork

    since = earliest_day(engine, references)
    done = recompute_episodes(UnitOfWork(engine), SYSTEM, since=since)
    if done.opened or done.reopened:
        _say(f"Clusters: {done.opened} new, {done.reopened} opened again by the import.")


clusters_app = typer.Typer(help="Cluster episodes (the cluster rule's findings).",
                           no_args_is_help=True)
app.add_typer(clusters_app, name="clusters")


@clusters_app.command("recompute")
def clusters_recompute(
    since: Annotated[str | None, typer.Option(help="Scan from this local day (YYYY-MM-DD); "
                                              "default: the whole history.")] = None,
) -> None:
    """Find the cluster episodes in the stored reports (after a bulk load or a change to the
    cluster rule's settings); stored episodes keep their status."""
    from core.triage.episodes import recompute_episodes
    from core.uow import UnitOfWork

    try:
        day = date.fromisoformat(since) if since else None
    except ValueError:
        _fail(f"--since: {since!r} is not a date (YYYY-MM-DD).", EXIT_CONFIG)
    with _guard():
        engine = _ready_engine()
        done = recompute_episodes(UnitOfWork(engine), SYSTEM, since=day)
        _say(f"Cluster episodes: {done.episodes} found, {done.opened} new, {done.extended} "
             f"extended, {done.reopened} opened again.")


# --------------------------------------------------------------------------- activity counts


activity_app = typer.Typer(help="Weekly visits and shifts per service (the denominators of "
                                "'per 100 visits/shifts' measures).", no_args_is_help=True)
app.add_typer(activity_app, name="activity")


@activity_app.command("import")
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

    with _guard():
        engine = _ready_engine()
        result = import_activity(engine, file, create_missing=create_missing)
        if result.errors:
            for row_error in result.errors:
                _err().print(str(row_error), markup=False, soft_wrap=True)
            bad = len({e.line for e in result.errors})
            _fail(f"{bad} of {result.rows} rows have problems, so nothing was imported. "
                  "Correct them and import again.")
        if result.created:
            _say("Created: " + "; ".join(result.created) + ".")
        _say(f"Imported {result.rows} week{'s' if result.rows != 1 else ''} of activity from "
             f"{file}: {result.inserted} added, {result.updated} updated, "
             f"{result.unchanged} unchanged.")


# --------------------------------------------------------------------------- weekly digest


@app.command("digest")
def digest_command(
    start: Annotated[datetime, typer.Option(
        "--from", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="First day of the period (the provider's local time).")],
    end: Annotated[datetime, typer.Option(
        "--to", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="Last day of the period (inclusive).")],
    output_format: Annotated[str, typer.Option(
        "--format", help="json (for another system) or md (for an email).")] = "json",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write to this file instead of the screen.", dir_okay=False)] = None,
) -> None:
    """The facts of a period for a quality lead: totals by type and service, clusters found
    (with their reports' references), control-chart signals, escalations and their
    acknowledgement times, actions overdue and verified. The JSON keys are in the README."""
    import json

    from core.db import read_session
    from core.metrics.digest import digest, digest_markdown

    if output_format not in ("json", "md"):
        _fail("--format must be json or md.", code=2)
    if end < start:
        _fail("--to is before --from.", code=2)
    with _guard():
        engine = _ready_engine()
        with read_session(engine) as session:
            facts = digest(session, SYSTEM, start.date(), end.date())
        text = (json.dumps(facts, indent=2, ensure_ascii=False) + "\n"
                if output_format == "json" else digest_markdown(facts))
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            _say(f"Digest for {start:%Y-%m-%d} to {end:%Y-%m-%d} written to {out}.")


# --------------------------------------------------------------------------- governance pack


@app.command("export")
def export_command(
    output_format: Annotated[str, typer.Option(
        "--format", help="pdf (the governance pack), xlsx (reports and actions) or csv.")],
    period: Annotated[str, typer.Option(
        "--period", help="2026-Q3, 2026-07, 2026, or 2026-07-01..2026-09-30.")],
    out: Annotated[Path, typer.Option("--out", help="The file to write.", dir_okay=False)],
    audience: Annotated[str, typer.Option(
        "--audience", help="commissioner (de-identified, small counts hidden) or board.")
    ] = "commissioner",
    table: Annotated[str, typer.Option(
        "--table", help="For csv: which table (one per file).")] = "",
) -> None:
    """Export the evidence of a period: the governance pack as PDF, or its tables.

    For a commissioner the spreadsheets hold counts (small ones hidden, with complements; over
    time at the level the counts allow), the de-identified action register and notes on the
    labels (a Notes sheet; at the foot of each CSV); for a board, the reports themselves.
    Spreadsheet formulas are always escaped. Every export is recorded in the audit trail.
    """
    from core.commissioner.access import record_access
    from core.commissioner.period import parse_period
    from core.db import read_session
    from core.exports.pack import AUDIENCES, build_pack, export_tables, note_lines
    from core.exports.spreadsheet import to_csv, to_xlsx_book
    from core.uow import UnitOfWork

    if output_format not in ("pdf", "xlsx", "csv"):
        _fail("--format must be pdf, xlsx or csv.", code=2)
    if audience not in AUDIENCES:
        _fail(f"--audience must be one of {', '.join(AUDIENCES)}.", code=2)
    try:
        chosen = parse_period(period)
    except ValueError as exc:
        _fail(str(exc), code=2)
    with _guard():
        engine = _ready_engine()
        with read_session(engine) as session:
            if output_format == "pdf":
                with _progress_bar() as bar:
                    content = build_pack(session, SYSTEM, chosen, audience,
                                         progress=lambda share, _what: bar.update(
                                             "Building the pack", int(share * 100), 100))
            else:
                sheets = export_tables(session, SYSTEM, chosen, audience)
                if output_format == "xlsx":
                    content = to_xlsx_book(sheets)
                else:
                    names = {name.lower().replace(" ", "_"): name for name in sheets}
                    wanted = table or next(iter(names))
                    if wanted == "by_week_and_type" and "by_time_and_type" in names:
                        wanted = "by_time_and_type"  # its name before the level was chosen
                    if wanted not in names:
                        _fail(f"--table must be one of {', '.join(names)}.", code=2)
                    # Every table carries the notes on its labels at its foot.
                    notes = note_lines(sheets) if names[wanted] != "Notes" else []
                    content = to_csv(sheets[names[wanted]], notes=notes)
        out.write_bytes(content)
        record_access(UnitOfWork(engine), SYSTEM, f"pack:{chosen.label}", exported=True,
                      details={"format": output_format, "audience": audience,
                               "period": chosen.label, "file": out.name})
        _say(f"Wrote the {audience} {output_format.upper()} for {chosen.label} to {out} "
             f"({len(content):,} bytes).")


# --------------------------------------------------------------------------- backup and restore


@app.command("backup")
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
    from core.backup import backup
    from core.review.service import attachments_dir

    with _guard():
        engine = _ready_engine()
        with _progress_bar(minimum=BACKUP_PROGRESS_MIN) as bar:
            summary = backup(engine, file, attachments_dir=attachments_dir(),
                             progress=lambda phase, done, total: bar.update(
                                 f"Backing up {phase}", done, total))
        _say(f"Backed up {summary.total_rows:,} rows"
             + (f" and {summary.files} evidence files" if summary.files else "")
             + f" to {summary.path} ({summary.path.stat().st_size:,} bytes).")
        if summary.kind == "sqlite":
            _say(f"Evidence files are not inside a .db copy: back up {attachments_dir()} as "
                 "well, or make a dump (any other file name), which carries them.")


@app.command("restore")
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
    from core.backup import restore
    from core.review.service import attachments_dir

    with _guard():
        engine = _engine()
        with _progress_bar(minimum=BACKUP_PROGRESS_MIN) as bar:
            summary = restore(engine, file, attachments_dir=attachments_dir(), force=force,
                              progress=lambda phase, done, total: bar.update(
                                  f"Restoring {phase}", done, total))
        _say(f"Restored {summary.total_rows:,} rows"
             + (f" and {summary.files} evidence files" if summary.files else "")
             + f" from {file} into {_safe_url(environment().database_url)}. "
             "Run `nearmiss audit verify` to check the audit trail.")


def main() -> None:
    """Entry point of the `nearmiss` console script."""
    app()


# Let `python -m core.cli` work as well as the installed script.
if __name__ == "__main__":
    main()

