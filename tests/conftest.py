"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is the local server at 127.0.0.1:5432 (override with NEARMISS_TEST_PG_ADMIN_URL).
Each test session gets its own PostgreSQL database, dropped at the end. Under CI=true an
unreachable PostgreSQL fails the run instead of skipping its half of the tests.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import TypeVar

import pytest
import time_machine
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_ADMIN_URL = os.environ.get("NEARMISS_TEST_PG_ADMIN_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TEST_COOKIE_KEY = "test-cookie-key-0123456789-abcdefghijklmnopqrstuvwxyz"
# The audit key every test signs with (there is no default key outside demo mode).
TEST_AUDIT_KEY = "test:test-audit-key-0123456789-abcdefghijklmnopqrstuvwxyz"

# Configure the process before any core module reads its environment.
os.environ["NEARMISS_SETTINGS"] = str(FIXTURES / "settings.yaml")
os.environ["NEARMISS_TAXONOMY"] = str(ROOT / "data" / "taxonomy.yaml")
os.environ["NEARMISS_COOKIE_KEY"] = TEST_COOKIE_KEY
os.environ["NEARMISS_AUDIT_KEY"] = TEST_AUDIT_KEY
os.environ.pop("NEARMISS_AUDIT_KEY_FILE", None)
os.environ.setdefault("NEARMISS_ENV", "production")
# Evidence files written by tests go to a temporary folder, not the project's data/.
os.environ["NEARMISS_DATA_DIR"] = tempfile.mkdtemp(prefix="nearmiss-test-data-")

from core.clock import utcnow  # noqa: E402
from core.db import Base, dispose_engines, engine_for  # noqa: E402
from core.metrics.governance import forget_timings  # noqa: E402
from core.models import AuditChainHead  # noqa: E402
from core.taxonomy.service import load_taxonomy_file, sync_taxonomy  # noqa: E402
from ops.bootstrap import initialise  # noqa: E402
from tests.streamlit_speedups import keep_component_scan  # noqa: E402

keep_component_scan()

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# Left out of `make test-fast` (kept in `make test`): whole processes, generated data and
# property sweeps, each test seconds long. Paths are relative to tests/.
SLOW_MODULES = frozenset({
    "integration/test_audit_completeness.py",  # every write service, one case each
    "integration/test_backup.py",  # dumps and restores through the CLI
    "integration/test_concurrency.py",  # sixteen writers
    "integration/test_demo.py",  # generates and loads the demo
    "integration/test_demo_stories.py",  # generates and loads the demo
    "integration/test_faults.py",  # killed processes, cut connections, held locks
    "integration/test_hostile_input.py",  # Hypothesis sweeps of every entry point
    "integration/test_migrations.py",  # every migration up and down
    "integration/test_workflow_property.py",  # Hypothesis walks of the services
    "integration/test_commissioner.py",  # opens the pages of every period (AppTest)
    "integration/test_permissions.py",  # opens every page as every role (AppTest)
    "integration/test_audit_key.py",  # builds the demo to sign and re-sign its chain
    "integration/test_sign_in_throttle.py",  # floods of hundreds of sign-in transactions
    "integration/test_pack_summary.py",  # renders PDFs
    "integration/test_text.py",  # renders a PDF of every script
    "integration/test_cli.py",  # runs the command line
})
TESTS = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what each test needs, so runs can pick them.

    - `postgresql`: the test needs the PostgreSQL server (its `db_url` half, or its own
      database); `make test-fast` leaves these out.
    - `slow`: a test of SLOW_MODULES; `make test-fast` leaves these out too.
    - `flaky(reruns=1)` on the browser tests: on a loaded 2-core machine a click can be
      swallowed by a rerun in flight (a different journey each run); a second failure is a
      real one.

    `make test` spreads tests with `--dist load`, not by groups: under pytest 9.2 xdist's
    `loadgroup` no longer groups at all (pytest-dev/pytest-xdist#1386), and the browser tests
    finish sooner on both workers than queued on one.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec else ()
        if "pg_database" in item.fixturenames or any(
                isinstance(value, str) and value == "postgresql" for value in params):
            item.add_marker(pytest.mark.postgresql)
        if item.path.resolve().relative_to(TESTS).as_posix() in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.flaky(reruns=1))


class _BrowserTestsSpread:
    """The order tests are handed out in (one at a time, to whichever worker is free): the
    browser tests spread through the first three quarters of the run, each followed by a
    stretch of the others, the slow modules first. A browser test leaves a core partly idle
    (it waits on a server and a browser), and two at once slow each other down: so while one
    worker runs a browser test the other mostly runs the CPU-bound rest, and no long test is
    left alone at the end. Each module's other tests stay together and in order. After every
    other plugin's reordering (pytest-playwright's)."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        browser = [item for item in items if item.get_closest_marker("browser")]
        others = sorted((item for item in items if not item.get_closest_marker("browser")),
                        key=lambda item: 0 if item.get_closest_marker("slow") else 1)
        if not browser:
            items[:] = others
            return
        stretch = max(1, len(others) * 3 // 4 // len(browser))
        ordered: list[pytest.Item] = []
        for n, item in enumerate(browser):
            ordered.append(item)
            ordered += others[n * stretch:(n + 1) * stretch]
        ordered += others[len(browser) * stretch:]
        items[:] = ordered


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_BrowserTestsSpread(), "nearmiss-browser-tests-spread")


_dropping: list[threading.Thread] = []


def drop_database_soon(name: str) -> None:
    """Drop a test's own PostgreSQL database on a thread of its own: a drop waits seconds for
    the server's checkpoint, which the next test need not wait for. The session waits for
    every drop before it ends (pytest_sessionfinish)."""
    def drop() -> None:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()

    thread = threading.Thread(target=drop, name=f"drop {name}")
    thread.start()
    _dropping.append(thread)


def pytest_sessionfinish() -> None:
    for thread in _dropping:
        thread.join()


RERUN_FAILURE_CHARS = 4000  # the end of a failure: its assertion or timeout and where


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Each rerun test's first failure, its end: the rerun plugin names the test and no more,
    so a flaky journey that passed on its rerun left nothing to look into."""
    for report in terminalreporter.stats.get("rerun", []):
        terminalreporter.write_sep("-", f"first failure of {report.nodeid} (then rerun)")
        terminalreporter.write_line(str(report.longrepr)[-RERUN_FAILURE_CHARS:])


def _pg_problem() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc.__class__.__name__}: {exc}"


# How near the provider's midnight a test runs on a moved clock: some look an hour or more ahead
# (a home page an hour on, a demo's last days), and on a Sunday night that is the next week.
CLEAR_OF_MIDNIGHT = timedelta(hours=2)
# A browser test's server keeps the real clock: it cannot be moved, only waited out.
BROWSER_CLEAR_OF_MIDNIGHT = timedelta(minutes=5)


@pytest.fixture(autouse=True)
def _clear_of_local_midnight(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run no test across the provider's midnight.

    Tests compare "today" taken at their start with times taken later, and some look hours
    ahead; a test near local midnight would see two dates. In the last two hours of the day
    the test's clock (in this process) is moved to noon of the same day and keeps ticking, so
    elapsed time still passes as it does for throttles and timeouts.

    A browser test's portal runs in a process of its own on the real clock, so its clock is
    not moved: a session cookie made at noon would have expired for the server (2026-12-07,
    nine browser tests signed out at 23:55 in New York). In the last five minutes of the day
    it waits for midnight to pass instead, at most once a worker.
    """
    import time as wall

    from core.config import settings

    zone = settings().zone
    now = datetime.now(zone)
    to_midnight = datetime.combine(now.date() + timedelta(days=1), dtime.min, zone) - now
    if request.node.get_closest_marker("browser"):
        if to_midnight < BROWSER_CLEAR_OF_MIDNIGHT:
            wall.sleep(to_midnight.total_seconds() + 1)
        yield
        return
    if to_midnight >= CLEAR_OF_MIDNIGHT:
        yield
        return
    with time_machine.travel(datetime.combine(now.date(), dtime(12), zone), tick=True):
        yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the taxonomy loaded, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    initialise(f"sqlite:///{path}")
    dispose_engines()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this test session's own, migrated to head."""
    problem = _pg_problem()
    if problem:
        if IN_CI:
            pytest.fail(problem + " (CI=true: PostgreSQL is required)")
        pytest.skip(problem)
    name = f"nearmiss_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # A commit need not wait for the disk: a test database is never recovered after a
        # crash, and what a transaction sees and locks is unchanged.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit TO off'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    initialise(url)
    yield url
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@functools.cache
def _taxonomy_spec():
    """The taxonomy file, parsed once per session (it is read-only; parsing costs ~60 ms)."""
    return load_taxonomy_file(os.environ["NEARMISS_TAXONOMY"])


SNAPSHOT_SCHEMA = "nearmiss_test_snapshot"
# What a snapshot holds: the tables with rows, and every sequence's (last_value, is_called).
Snapshot = tuple[list[str], dict[str, tuple[int, bool]]]
# Per database URL: the snapshot of a freshly reset database (None: the slow path only).
_snapshots: dict[str, Snapshot | None] = {}


def _reset_postgres_slowly(url: str) -> None:
    """Empty every table and reload the taxonomy, as on a fresh `nearmiss init`."""
    engine = engine_for(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(AuditChainHead.__table__.insert().values(id=1, last_seq=0, last_hash="0" * 64))
    from core.auth.actor import SYSTEM
    from core.uow import UnitOfWork

    sync_taxonomy(UnitOfWork(engine), _taxonomy_spec(), SYSTEM, now=utcnow())
    from core.config import settings
    from core.reports.rollup import ensure_built

    ensure_built(engine, settings().zone)


def _columns(table) -> str:
    return ", ".join(f'"{column.name}"' for column in table.columns)


def _take_snapshot(url: str, schema: str) -> Snapshot:
    """Copy every row of the database into `schema`, and note every sequence's position."""
    with engine_for(url).begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        filled = []
        for table in Base.metadata.sorted_tables:
            if conn.execute(text(f'SELECT EXISTS (SELECT 1 FROM "{table.name}")')).scalar():
                conn.execute(text(f'CREATE TABLE "{schema}"."{table.name}" AS '
                                  f'SELECT {_columns(table)} FROM "{table.name}"'))
                filled.append(table.name)
        sequences = {}
        for (name,) in conn.execute(text(
                "SELECT sequence_name FROM information_schema.sequences "
                "WHERE sequence_schema = 'public'")):
            last_value, is_called = conn.execute(
                text(f'SELECT last_value, is_called FROM "{name}"')).one()
            sequences[name] = (last_value, is_called)
    return filled, sequences


def _restore_snapshot(url: str, schema: str, snapshot: Snapshot) -> None:
    """In one transaction: delete every row, copy the snapshot's rows back and put every
    sequence back. The triggers are off meanwhile (the audit trail's append-only trigger and
    the foreign keys): the rows copied back are exactly the ones the snapshot was taken of."""
    filled, sequences = snapshot
    by_name = Base.metadata.tables
    with engine_for(url).begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f'DELETE FROM "{table.name}"'))
        for name in filled:
            columns = _columns(by_name[name])
            conn.execute(text(f'INSERT INTO "{name}" ({columns}) '
                              f'SELECT {columns} FROM "{schema}"."{name}"'))
        if sequences:
            conn.execute(text("SELECT " + ", ".join(
                f"setval('\"{name}\"', {value}, {'true' if called else 'false'})"
                for name, (value, called) in sequences.items())))


def reset_postgres(url: str) -> None:
    """Empty every table and reload the taxonomy, as on a fresh `nearmiss init`.

    The first reset of a database truncates it and syncs the taxonomy (~250 ms) and keeps a
    snapshot of the rows that leaves; every later reset restores that snapshot (~45 ms). The
    result is the same rows, ids and audit chain as the slow path, as the SQLite template
    copied per test is. Where the server does not let the tests switch the triggers off (not
    a superuser), every reset takes the slow path.
    """
    if url not in _snapshots:
        _reset_postgres_slowly(url)
        try:
            snapshot = _take_snapshot(url, SNAPSHOT_SCHEMA)
            with engine_for(url).begin() as conn:  # a superuser's setting (the local server's)
                conn.execute(text("SET LOCAL session_replication_role = replica"))
        except DBAPIError:
            snapshot = None
        _snapshots[url] = snapshot
        return
    snapshot = _snapshots[url]
    if snapshot is None:
        _reset_postgres_slowly(url)
    else:
        _restore_snapshot(url, SNAPSHOT_SCHEMA, snapshot)


_built: dict[tuple, tuple[object, Path | Snapshot | None]] = {}
_built_folder: list[Path] = []


def built_once(name: str, db_url: str, build: Callable[[Engine], T]) -> T:
    """Test data built once per session (per worker) and backend, then copied per test.

    The first test to ask runs `build(engine)` on its fresh database and keeps a copy of the
    database it leaves (SQLite: the file; PostgreSQL: every row and sequence, in a schema of
    its own); every later test on that backend gets that copy, with the same ids, and the
    value `build` returned. So a test still starts from exactly the data `build` makes and may
    write to it freely. The key includes the local date: data built relative to today is
    built again on a new day. Use it in a function-scoped fixture.
    """
    from core.config import settings

    engine = engine_for(db_url)
    dialect = engine.dialect.name
    key = (name, dialect, db_url if dialect == "postgresql" else "",
           datetime.now(settings().zone).date())
    if key in _built:
        value, stored = _built[key]
        if dialect == "sqlite":
            engine.dispose()  # no connection keeps the old file open
            path = Path(engine.url.database)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(stored, path)
        elif stored is not None:
            _restore_snapshot(db_url, f"nearmiss_built_{name}", stored)
        else:
            return build(engine)
        return copy.deepcopy(value)  # type: ignore[return-value]  # a test may change it
    value = build(engine)
    if dialect == "sqlite":
        engine.dispose()
        if not _built_folder:
            _built_folder.append(Path(tempfile.mkdtemp(prefix="nearmiss-test-built-")))
        stored = _built_folder[0] / f"{name}-{len(_built)}.db"
        with sqlite3.connect(engine.url.database) as source, sqlite3.connect(stored) as kept:
            source.backup(kept)
    elif _snapshots.get(db_url) is not None:
        stored = _take_snapshot(db_url, f"nearmiss_built_{name}")
    else:  # no snapshots on this server: build for every test
        stored = None
    _built[key] = (value, stored)
    return value


@pytest.fixture(scope="session")
def sqlite_test_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each test's SQLite database lies: one path per worker, so each test reuses the
    engine of the test before it (disposed, with a fresh copy of the template underneath) and
    the SQL it compiled, as the portal's one engine does, instead of compiling it again."""
    return tmp_path_factory.mktemp("sqlite") / "nearmiss.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, migrated database on each backend; NEARMISS_DATABASE_URL points at it."""
    if request.param == "sqlite":
        path = request.getfixturevalue("sqlite_test_path")
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)  # a new file: nothing still open sees it change
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        reset_postgres(url)
    monkeypatch.setenv("NEARMISS_DATABASE_URL", url)
    forget_timings()  # kept by the database's URL and timings version, which a copy repeats
    yield url
    dispose_engines()


@pytest.fixture
def engine(db_url: str) -> Engine:
    return engine_for(db_url)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailCollector:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted"


@pytest.fixture
def smtp_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailCollector]:
    """A real local SMTP server; the settings file points the portal's email at it."""
    from aiosmtpd.controller import Controller

    collector = MailCollector()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    settings_file = tmp_path / "settings-with-email.yaml"
    settings_file.write_text((FIXTURES / "settings.yaml").read_text() + (
        f"\nemail:\n  smtp_host: 127.0.0.1\n  smtp_port: {port}\n"
        "  sender: portal@test.example\n  portal_url: http://portal.test\n"))
    monkeypatch.setenv("NEARMISS_SETTINGS", str(settings_file))
    yield collector
    controller.stop()
