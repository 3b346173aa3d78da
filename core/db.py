"""Database engine, declarative base, and the unit of work every service writes through.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout; write
transactions start with BEGIN IMMEDIATE so two writers queue instead of dead-locking.
PostgreSQL (psycopg 3) is the production database; connections are pre-pinged so the app
survives a server restart.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Row,
    Select,
    create_engine,
    event,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session

from core.config import environment
from core.errors import StorageUnavailable
from core.i18n import N_

SQLITE_BUSY_TIMEOUT_MS = 5_000
# The widest integer an id column holds (INTEGER: 32 bits on PostgreSQL); a wider Python int
# cannot even be bound in a query, so it is treated as an id that does not exist.
ID_MIN, ID_MAX = -(2**31), 2**31 - 1


def storable_id(value: object) -> bool:
    """Whether `value` could be a row id (anything else is simply not found)."""
    return isinstance(value, int) and ID_MIN <= value <= ID_MAX

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base for every table; naming convention keeps Alembic diffs stable."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: DateTime(timezone=False),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


class _SQLiteCompilerWithIndexHints(SQLiteCompiler):
    """SQLite's compiler, writing a table's `with_hint(table, "INDEXED BY ix_…", "sqlite")`
    after the table's name, as SQLite's own syntax has it (the stock compiler drops hints).
    Used where the planner cannot know an index is better: a median walked to its middle row
    along an expression index (core.metrics.governance)."""

    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text


def _configure_sqlite(engine: Engine) -> None:
    engine.dialect.statement_compiler = _SQLiteCompilerWithIndexHints  # this engine's only

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """Create an engine for `url` with the portal's connection settings."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and not path.startswith(":memory:"):
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    # JIT compilation costs more than it saves on the portal's sub-second aggregates: at a
    # million reports it added 160 ms to the repeats query and 30 ms to the culture one.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                         connect_args={"options": "-c jit=off"})


def engine_for(url: str) -> Engine:
    """One engine (and pool) per database URL per process."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def get_engine() -> Engine:
    """The engine for the configured NEARMISS_DATABASE_URL."""
    return engine_for(environment().database_url)


def dispose_engines() -> None:
    """Close every pooled connection (tests and process shutdown).

    The engines stay, with the SQL they have compiled: the next use of a URL opens new
    connections (to whatever database is there now) without compiling every statement again.
    """
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def refresh_planner_statistics(engine: Engine, tables: tuple[str, ...] = ()) -> None:
    """Refresh the query planner's statistics after a bulk load (demo, restore), of `tables`
    or of every table.

    Without them PostgreSQL plans for an empty table until autovacuum catches up, e.g. a
    bitmap scan where a million rows match; VACUUM also marks pages all-visible so covering
    indexes give index-only scans. SQLite never gathers them by itself: without a count of
    the regulator clocks it sized a Bloom filter for every report (100k reports: 34 ms to
    list 58 running clocks, 1 ms with it).
    """
    quote = engine.dialect.identifier_preparer.quote
    if is_sqlite(engine):
        with engine.begin() as conn:
            for statement in [f"ANALYZE {quote(table)}" for table in tables] or ["ANALYZE"]:
                conn.exec_driver_sql(statement)
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(
            f"VACUUM (ANALYZE) {', '.join(quote(table) for table in tables)}".rstrip())


@contextmanager
def _storage_errors() -> Iterator[None]:
    """Unreachable or locked storage as the one error type pages can answer with "try
    again"."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise StorageUnavailable(N_("The database could not be reached. Try again in a moment; "
                                    "nothing you typed is lost.")) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StorageUnavailable(N_("The database connection was lost. Try again in a "
                                        "moment; nothing you typed is lost.")) from exc
        raise


@contextmanager
def read_session(engine: Engine | None = None) -> Iterator[Session]:
    """A session for queries only; nothing it does is committed.

    Closing (not rolling back) ends the transaction but leaves loaded objects readable, so a
    query function may return ORM rows to its caller.
    """
    session = Session(bind=engine or get_engine(), expire_on_commit=False)
    try:
        with _storage_errors():
            yield session
    finally:
        session.close()


@contextmanager
def read_connection(engine: Engine | None = None) -> Iterator[Connection]:
    """A connection for one small Core query, nothing committed: for reads made at every
    page run (the data version), where an ORM session's set-up cost more than the query."""
    with _storage_errors(), (engine or get_engine()).connect() as connection:
        yield connection


# SELECTs per statement in `union_rows`: a UNION ALL of one each (SQLite allows 500 terms).
UNION_TERMS_PER_STATEMENT = 100


def union_rows(session: Session, terms: Iterable[Select[Any]]) -> list[Row[Any]]:
    """The rows of every SELECT in `terms`, a hundred to a statement (UNION ALL): one round
    trip where a statement each took 350 at a million reports (the clusters' episodes), or
    3,138 (the commissioner register's windows). A union keeps no order: label each term."""
    selects = list(terms)
    found: list[Row[Any]] = []
    for first in range(0, len(selects), UNION_TERMS_PER_STATEMENT):
        found.extend(session.execute(
            union_all(*selects[first:first + UNION_TERMS_PER_STATEMENT])).all())
    return found
