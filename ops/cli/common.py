"""What every `nearmiss` command shares: output, exit codes, error handling, the database and
progress bars."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from core.config import environment
from core.errors import DomainError, StorageUnavailable
from core.yamlfile import ConfigFileError

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_STORAGE = 3


def out() -> Console:
    """A console on standard output."""
    # Made per call: the console must follow whatever sys.stdout is now (tests swap it).
    return Console(highlight=False)


def err() -> Console:
    """A console on standard error."""
    return Console(stderr=True, highlight=False)


def say(message: str) -> None:
    """Print plain text (never read as rich markup: it may hold user data)."""
    # soft_wrap: long lines are left to the terminal, so they can be copied and grepped whole.
    out().print(message, markup=False, soft_wrap=True)


def warn(message: str) -> None:
    """Print plain text on standard error (never read as markup)."""
    err().print(message, markup=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print `message` on standard error and exit with `code`."""
    warn(message)
    raise typer.Exit(code)


def safe_url(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as given; it has no password to hide
        return url


@contextmanager
def guard() -> Iterator[None]:
    """Turn the errors a user can act on into one clear line and an exit code."""
    try:
        yield
    except ConfigFileError as exc:
        fail(str(exc), EXIT_CONFIG)
    except StorageUnavailable as exc:
        fail(f"Database unavailable: {exc}", EXIT_STORAGE)
    except (OperationalError, InterfaceError) as exc:
        fail(_connection_message(exc), EXIT_STORAGE)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            fail(_connection_message(exc), EXIT_STORAGE)
        raise
    except DomainError as exc:
        fail(str(exc), EXIT_FAILED)


def _connection_message(exc: DBAPIError) -> str:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    url = safe_url(environment().database_url)
    return (f"Cannot use the database at {url}: {reason}. Check NEARMISS_DATABASE_URL and that "
            "the database server is running.")


def engine() -> Engine:
    """The configured database, every table mapped."""
    import core.models  # noqa: F401 - map every table before any service writes
    from core.db import get_engine

    return get_engine()


def ready_engine() -> Engine:
    """The configured database, refusing to go on unless its schema is current."""
    from core.migrate import schema_is_current

    current = engine()
    if not schema_is_current(current):
        fail("The database is not set up for this version of the portal. "
             "Run `nearmiss init` first.")
    return current


class Bar:
    """A rich progress bar that appears only once there is enough work to show."""

    def __init__(self, minimum: int = 0) -> None:
        self.minimum = minimum
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def update(self, phase: str, done: int, total: int) -> None:
        """Show `done` of `total` for `phase` (a bar per phase)."""
        if self._progress is None:
            if total <= self.minimum:
                return
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=err(), transient=False)
            self._progress.start()
        task = self._tasks.get(phase)
        if task is None:
            task = self._tasks[phase] = self._progress.add_task(phase, total=total)
        self._progress.update(task, completed=done, total=total)

    def close(self) -> None:
        """Stop drawing (the last state stays on screen)."""
        if self._progress is not None:
            self._progress.stop()


@contextmanager
def progress_bar(minimum: int = 0) -> Iterator[Bar]:
    """A progress bar for the block, shown once a phase has more than `minimum` steps."""
    bar = Bar(minimum)
    try:
        yield bar
    finally:
        bar.close()
