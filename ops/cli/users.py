"""`nearmiss users`: create, list, disable and enable the people who sign in."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from core.errors import NotFound, ValidationFailed
from ops.cli.common import EXIT_FAILED, fail, guard, out, ready_engine, say, warn

app = typer.Typer(help="Create, list, disable and enable the people who sign in.",
                  no_args_is_help=True)

# Options shown in messages instead of the service's field names.
_USER_FIELD_OPTIONS = {
    "username": "USERNAME", "display_name": "--name", "roles": "--role",
    "services": "--service", "email": "--email", "staff_group": "--staff-group",
    "password": "password",
}


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            fail("password: nothing was read from standard input.")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("add")
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
    from core.accounts.users import NewUser, add_user
    from core.uow import UnitOfWork

    with guard():
        engine = ready_engine()
        password = _read_password(password_stdin)
        try:
            add_user(UnitOfWork(engine), SYSTEM, NewUser(
                username=username, display_name=name, password=password, roles=tuple(role),
                services=tuple(service or ()), email=email, staff_group=staff_group),
                now=utcnow(), rules=settings())
        except ValidationFailed as exc:
            warn(f"User {username!r} was not created:")
            for field_name, message in exc.errors.items():
                warn(f"  {_USER_FIELD_OPTIONS.get(field_name, field_name)}: {message}")
            raise typer.Exit(EXIT_FAILED) from None
        say(f"User {username.strip().lower()!r} created with role(s) {', '.join(role)}.")


def _services_text(roles: tuple[str, ...], services: tuple[str, ...],
                   org_wide: set[str]) -> str:
    if set(roles) & org_wide:
        return "all (by role)"
    return ", ".join(services) or "none"


@app.command("list")
def users_list() -> None:
    """Show every user with roles, services, staff group and whether they can sign in."""
    from core.accounts.users import list_users
    from core.db import read_session

    with guard():
        engine = ready_engine()
        with read_session(engine) as session:
            users = list_users(session, now=utcnow())
        if not users:
            say("No users yet. Create the first administrator with: "
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
        out().print(table)


def _set_active(username: str, active: bool) -> None:
    from core.accounts.users import set_user_active
    from core.uow import UnitOfWork

    with guard():
        engine = ready_engine()
        try:
            set_user_active(UnitOfWork(engine), SYSTEM, username, active, now=utcnow())
        except NotFound:
            fail(f"No user {username!r}. `nearmiss users list` shows who exists.")
        if active:
            say(f"User {username!r} enabled: they can sign in again.")
        else:
            say(f"User {username!r} disabled: they cannot sign in, and their open sessions "
                "were ended.")


@app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Stop a user signing in (their reports and history stay)."""
    _set_active(username, False)


@app.command("enable")
def users_enable(username: Annotated[str, typer.Argument()]) -> None:
    """Let a disabled user sign in again (also clears a lock-out)."""
    _set_active(username, True)
