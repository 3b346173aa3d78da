"""Backup and restore: a SQLite online copy, and a portable dump that moves between databases.

Two formats:

* **SQLite copy** (`FILE.db`, `.sqlite`, `.sqlite3`): from a SQLite database, SQLite's online
  backup (consistent while the portal keeps running); from PostgreSQL, a new SQLite file with the
  same schema and every row.
* **Portable dump** (any other name, e.g. `FILE.nmdump`): gzip-compressed JSON lines holding the
  schema revision, every table's rows and the evidence files, read in one consistent snapshot.
  It restores into SQLite or PostgreSQL alike, so it also moves a provider between the two.

Restore reads either format and refuses a database that already holds data unless forced; the
audit chain is carried over as it was and a `database.restored` event is appended to it, so
`nearmiss audit verify` passes after a round trip (with the keys that signed the backup's events
on the keyring). A backup taken before the audit key existed is sealed by that event.
"""

from __future__ import annotations

import base64
import gzip
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Table,
    Time,
    func,
    inspect,
    select,
    text,
)

from core.attachments.storage import write_private
from core.clock import utcnow
from core.config import settings
from core.db import refresh_planner_statistics
from core.errors import DomainError
from core.reports.rollup import ensure_built as ensure_day_counts

DUMP_FORMAT = "nearmiss-dump"
DUMP_VERSION = 1
SQLITE_SUFFIXES = {".db", ".sqlite", ".sqlite3"}
SQLITE_MAGIC = b"SQLite format 3\x00"
BATCH_ROWS = 2000
# Alembic's own bookkeeping travels as the dump header, not as a table.
_SKIPPED_TABLES = {"alembic_version"}

Progress = Callable[[str, int, int], None]


class BackupError(DomainError):
    """A backup or restore cannot go ahead; the message says why and what to do."""


@dataclass
class BackupSummary:
    """What a backup wrote or a restore loaded."""

    path: Path
    kind: str  # "sqlite" or "dump"
    schema_revision: str
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _no_progress(_phase: str, _done: int, _total: int) -> None:
    return None


def is_sqlite_path(path: Path) -> bool:
    return path.suffix.lower() in SQLITE_SUFFIXES


def _looks_like_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _reflect(conn: Connection) -> list[Table]:
    """The database's own tables in foreign-key order (parents first)."""
    metadata = MetaData()
    metadata.reflect(bind=conn)
    return [t for t in metadata.sorted_tables if t.name not in _SKIPPED_TABLES]


def _order_by(table: Table) -> list[Any]:
    keys = list(table.primary_key.columns)
    return keys or list(table.columns)


# --------------------------------------------------------------------------- reading


@dataclass
class _TableStart:
    name: str
    columns: list[str]
    total: int


@dataclass
class _Rows:
    table: str
    rows: list[list[Any]]


@dataclass
class _File:
    relative_path: str
    content: bytes


@dataclass
class _Header:
    schema_revision: str
    source: str
    total_rows: int = 0


def _snapshot(engine: Engine) -> Connection:
    """A connection whose reads all see one moment of the database."""
    if engine.dialect.name == "postgresql":
        return engine.connect().execution_options(isolation_level="REPEATABLE READ")
    return engine.connect()


def _read_database(engine: Engine, attachments_dir: Path | None) -> Iterator[Any]:
    """Every row of every table (and the evidence files), as one consistent snapshot."""
    with _snapshot(engine) as conn, conn.begin():
        revision = _revision(conn)
        if revision is None:
            raise BackupError("That database has no portal schema: nothing to back up.")
        tables = _reflect(conn)
        totals = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in tables}
        yield _Header(revision, engine.dialect.name, sum(totals.values()))
        for table in tables:
            names = [c.name for c in table.columns]
            yield _TableStart(table.name, names, totals[table.name])
            result = conn.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
                select(table).order_by(*_order_by(table)))
            for partition in result.partitions(BATCH_ROWS):
                yield _Rows(table.name, [list(row) for row in partition])
        if attachments_dir is not None and attachments_dir.is_dir():
            for path in sorted(p for p in attachments_dir.rglob("*") if p.is_file()):
                yield _File(path.relative_to(attachments_dir).as_posix(), path.read_bytes())


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _write_dump(events: Iterator[Any], out: TextIO, progress: Progress) -> BackupSummary:
    summary = BackupSummary(Path(), "dump", "")
    total = done = 0
    for item in events:
        if isinstance(item, _Header):
            summary.schema_revision = item.schema_revision
            total = item.total_rows
            line: Any = {"format": DUMP_FORMAT, "version": DUMP_VERSION,
                         "schema_revision": item.schema_revision, "source": item.source,
                         "total_rows": item.total_rows,
                         "created_at": datetime.now().astimezone().isoformat()}
        elif isinstance(item, _TableStart):
            summary.rows[item.name] = 0
            line = {"table": item.name, "columns": item.columns, "rows": item.total}
        elif isinstance(item, _Rows):
            for row in item.rows:
                out.write(json.dumps([_encode(v) for v in row], ensure_ascii=False))
                out.write("\n")
            summary.rows[item.table] += len(item.rows)
            done += len(item.rows)
            progress("rows", done, total)
            continue
        else:
            summary.files += 1
            line = {"file": item.relative_path,
                    "content": base64.b64encode(item.content).decode("ascii")}
        out.write(json.dumps(line, ensure_ascii=False))
        out.write("\n")
    # The trailer lets restore tell a complete dump from one cut short.
    out.write(json.dumps({"end": True, "rows": summary.rows, "files": summary.files}))
    out.write("\n")
    return summary


def _read_dump(path: Path) -> Iterator[Any]:
    """The events of a dump file, checking its header and that it was not cut short."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        try:
            header = json.loads(handle.readline())
        except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BackupError(f"{path} is not a portal backup (neither a SQLite file nor a "
                              "dump).") from exc
        if not isinstance(header, dict) or header.get("format") != DUMP_FORMAT:
            raise BackupError(f"{path} is not a portal backup.")
        if header.get("version") != DUMP_VERSION:
            raise BackupError(f"{path} is a dump of format version {header.get('version')}; "
                              f"this portal reads version {DUMP_VERSION}.")
        yield _Header(str(header["schema_revision"]), str(header.get("source", "")),
                      int(header.get("total_rows", 0)))
        table: str | None = None
        batch: list[list[Any]] = []
        ended = False
        try:
            for raw in handle:
                record = json.loads(raw)
                if isinstance(record, list):
                    if table is None:
                        raise BackupError(f"{path} is damaged: a row comes before its table.")
                    batch.append(record)
                    if len(batch) >= BATCH_ROWS:
                        yield _Rows(table, batch)
                        batch = []
                    continue
                if batch and table is not None:
                    yield _Rows(table, batch)
                    batch = []
                if "table" in record:
                    table = record["table"]
                    yield _TableStart(record["table"], record["columns"], int(record["rows"]))
                elif "file" in record:
                    yield _File(record["file"], base64.b64decode(record["content"]))
                elif record.get("end"):
                    ended = True
        except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError, KeyError,
                TypeError, ValueError) as exc:
            raise BackupError(f"{path} is damaged or cut short ({exc}); nothing was "
                              "committed from it.") from exc
        if not ended:
            raise BackupError(f"{path} is cut short (no end marker); nothing was committed "
                              "from it.")


# --------------------------------------------------------------------------- backup


def backup(engine: Engine, path: Path, *, attachments_dir: Path | None = None,
           progress: Progress = _no_progress) -> BackupSummary:
    """Write a backup of the database behind `engine` to `path` (format chosen by its suffix)."""
    path = Path(path)
    if path.exists():
        raise BackupError(f"{path} already exists; choose a new file name so no backup is "
                          "overwritten.")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        if is_sqlite_path(path):
            summary = _backup_to_sqlite(engine, partial, progress)
        else:
            with gzip.open(partial, "wt", encoding="utf-8", compresslevel=6) as out:
                summary = _write_dump(_read_database(engine, attachments_dir), out, progress)
        partial.replace(path)  # only a finished backup ever carries the name asked for
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    summary.path = path
    return summary


def _backup_to_sqlite(engine: Engine, target: Path, progress: Progress) -> BackupSummary:
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            destination = sqlite3.connect(target)
            try:
                def step(_status: int, remaining: int, total: int) -> None:
                    progress("database pages", total - remaining, total)

                raw.driver_connection.backup(destination, pages=256,  # type: ignore[union-attr]
                                             progress=step)
            finally:
                destination.close()
        finally:
            raw.close()
        from core.db import make_engine

        copy = make_engine(f"sqlite:///{target}")
        try:
            with copy.connect() as conn:
                revision = _revision(conn) or ""
                rows = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                        for t in _reflect(conn)}
        finally:
            copy.dispose()
        return BackupSummary(target, "sqlite", revision, rows)
    # PostgreSQL into a new SQLite file: the same loader a restore uses.
    from core.db import make_engine

    copy = make_engine(f"sqlite:///{target}")
    try:
        summary = _load(copy, _read_database(engine, None), attachments_dir=None,
                        progress=progress, force=False)
    finally:
        copy.dispose()
    summary.kind = "sqlite"
    return summary


# --------------------------------------------------------------------------- restore


def database_holds_data(conn: Connection) -> bool:
    """Whether any table holds rows (an untouched audit chain head does not count)."""
    names = set(inspect(conn).get_table_names()) - _SKIPPED_TABLES
    for name in sorted(names):
        if name == "audit_chain_head":
            if conn.execute(text("SELECT MAX(last_seq) FROM audit_chain_head")).scalar():
                return True
            continue
        if conn.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None:
            return True
    return False


def _drop_everything(conn: Connection) -> None:
    metadata = MetaData()
    metadata.reflect(bind=conn)
    metadata.drop_all(bind=conn)
    if conn.dialect.name == "postgresql":
        # The audit table's append-only guard is a function, which outlives the tables.
        conn.execute(text("DROP FUNCTION IF EXISTS audit_events_append_only()"))
    conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _converter(column_type: Any) -> Callable[[Any], Any]:
    """Turn a dumped value (text for dates and bytes) back into the column's Python type."""
    if isinstance(column_type, DateTime):
        return lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v
    if isinstance(column_type, Date):
        return lambda v: date.fromisoformat(v) if isinstance(v, str) else v
    if isinstance(column_type, Time):
        return lambda v: time.fromisoformat(v) if isinstance(v, str) else v
    if isinstance(column_type, LargeBinary):
        return lambda v: base64.b64decode(v) if isinstance(v, str) else v
    if isinstance(column_type, Float | Numeric):
        return lambda v: None if v is None else float(v)
    return lambda v: v


def _safe_file_path(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if root.resolve() not in target.parents:
        raise BackupError(f"The backup names a file outside the evidence folder ({relative!r}); "
                          "refusing to restore it.")
    return target


def _reset_sequences(conn: Connection, tables: list[Table]) -> None:
    """After explicit ids are loaded, PostgreSQL's sequences must continue above them."""
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                {"t": table.name, "c": keys[0].name}).scalar()
        if sequence:
            conn.execute(text(
                f'SELECT setval(:s, COALESCE((SELECT MAX("{keys[0].name}") FROM "{table.name}"), '
                f"0) + 1, false)"), {"s": sequence})


def _load(engine: Engine, events: Iterator[Any], *, attachments_dir: Path | None,
          progress: Progress, force: bool, origin: Path | None = None) -> BackupSummary:
    """Load a backup's events into `engine` in one transaction: all of it, or nothing.

    `origin` (the backup file), if given, is recorded in the audit trail.
    """
    from core.migrate import head_revision, upgrade_in

    events = iter(events)
    header = next(events)
    assert isinstance(header, _Header)
    if header.schema_revision not in _known_revisions():
        raise BackupError(f"The backup's schema ({header.schema_revision}) is newer than this "
                          "portal knows; restore it with the portal version that made it.")
    summary = BackupSummary(origin or Path(), "dump", header.schema_revision)
    files: list[_File] = []
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # As in the migrations: tables are rebuilt while loading, so foreign keys are
            # checked once at the end instead (set outside the transaction to take effect).
            conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if database_holds_data(conn):
                    if not force:
                        raise BackupError(
                            "The target database already holds data. Restore into a new, empty "
                            "database, or add --force to replace everything in it.")
                    _drop_everything(conn)
                # The schema the backup was taken with; upgraded after the rows are in.
                upgrade_in(conn, header.schema_revision)
                # A backup from before the audit key: its trail is sealed by the restore event.
                unkeyed = "key_id" not in {c["name"] for c in
                                           inspect(conn).get_columns("audit_events")}
                tables = _load_rows(conn, events, header, summary, files,
                                    keep_files=attachments_dir is not None, progress=progress)
                if not sqlite:
                    _reset_sequences(conn, tables)
                if header.schema_revision != head_revision():
                    upgrade_in(conn, head_revision())
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise BackupError(f"The backup's rows break foreign keys: {broken[:3]}; "
                                          "nothing was restored.")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA foreign_keys=ON")
    if attachments_dir is not None:
        for stored in files:
            target = _safe_file_path(attachments_dir, stored.relative_path)
            # Private like every evidence file: 0600 in folders 0700.
            write_private(attachments_dir.resolve(),
                          target.relative_to(attachments_dir.resolve()), stored.content)
            summary.files += 1
    if origin is not None:
        _record_restore(engine, header, summary, seal_unsigned=unkeyed)
    return summary


def _load_rows(conn: Connection, events: Iterator[Any], header: _Header,
               summary: BackupSummary, files: list[_File], *, keep_files: bool,
               progress: Progress) -> list[Table]:
    metadata = MetaData()
    metadata.reflect(bind=conn)
    tables: list[Table] = []
    current: Table | None = None
    columns: list[str] = []
    converters: list[Callable[[Any], Any]] = []
    done = 0
    for item in events:
        if isinstance(item, _TableStart):
            current = metadata.tables.get(item.name)
            if current is None:
                raise BackupError(f"The backup holds a table ({item.name}) this schema "
                                  "does not have.")
            missing = [c for c in item.columns if c not in current.columns]
            if missing:
                raise BackupError(f"The backup's {item.name} has columns this schema does "
                                  f"not: {', '.join(missing)}.")
            tables.append(current)
            columns = item.columns
            converters = [_converter(current.columns[c].type) for c in columns]
            summary.rows[item.name] = 0
            if item.name == "audit_chain_head":
                conn.execute(current.delete())  # the migration's empty head is replaced
        elif isinstance(item, _Rows):
            assert current is not None
            conn.execute(current.insert(), [
                {name: convert(value)
                 for name, convert, value in zip(columns, converters, row, strict=True)}
                for row in item.rows])
            summary.rows[item.table] += len(item.rows)
            done += len(item.rows)
            progress("rows", done, header.total_rows)
        elif isinstance(item, _File) and keep_files:
            files.append(item)
    return tables


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from core.migrate import alembic_config

    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _record_restore(engine: Engine, header: _Header, summary: BackupSummary, *,
                    seal_unsigned: bool) -> None:
    from core.auth.actor import SYSTEM
    from core.uow import UnitOfWork

    # Signed with the current key; after a backup from before the audit key, this event seals
    # the backup's legacy trail (it links to the last legacy hash).
    with UnitOfWork(engine, seal_unsigned=seal_unsigned) as uow:
        uow.record(SYSTEM, "database.restored", "database", None,
                   after={"from": str(summary.path), "source_database": header.source,
                          "schema_revision": header.schema_revision,
                          "rows": summary.total_rows, "files": summary.files}, at=utcnow())
        uow.commit()


def restore(engine: Engine, path: Path, *, attachments_dir: Path | None = None,
            force: bool = False, progress: Progress = _no_progress) -> BackupSummary:
    """Load a backup (SQLite copy or dump) into the database behind `engine`."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} does not exist.")
    if _looks_like_sqlite(path):
        from sqlalchemy import create_engine

        # Read-only, and without the portal's connection set-up: a backup is never changed.
        source = create_engine(f"sqlite:///file:{path.resolve()}?mode=ro&uri=true")
        try:
            summary = _load(engine, _read_database(source, None), attachments_dir=None,
                            progress=progress, force=force, origin=path)
        finally:
            source.dispose()
        summary.kind = "sqlite"
    else:
        # Read it through once first: a damaged dump must fail before anything is replaced.
        for _event in _read_dump(path):
            pass
        summary = _load(engine, _read_dump(path), attachments_dir=attachments_dir,
                        progress=progress, force=force, origin=path)
    summary.path = path
    # A backup's day counts came with its reports; count again if they were for another zone
    # or the backup predates them.
    ensure_day_counts(engine, settings().zone)
    refresh_planner_statistics(engine)
    return summary
