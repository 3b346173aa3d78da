"""Backup and restore: every row and evidence file survives a round trip, between SQLite and
PostgreSQL in both directions; the audit chain verifies after it; a restore never replaces data
unless forced, and a damaged backup changes nothing."""

from __future__ import annotations

import gzip
import json
import stat
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, create_engine, func, select, text
from typer.testing import CliRunner

from core.attachments.storage import store_file
from core.audit.chain import verify_chain
from core.clock import utcnow
from core.config import settings
from core.db import dispose_engines, engine_for, read_session
from core.models import AuditEvent, NearMissReport
from core.reports.rollup import counted_days
from ops.backup import BackupError, backup, restore
from ops.cli import app
from ops.demo import load_demo
from tests.conftest import IN_CI, PG_ADMIN_URL, _pg_problem, drop_database_soon
from tests.evidence_files import png
from tests.integration.test_day_counts import counted_afresh

runner = CliRunner(env={"COLUMNS": "200"})
NOW = datetime(2026, 11, 20, 12, 0)


def _other_kind(url: str) -> str:
    return "postgresql" if url.startswith("sqlite") else "sqlite"


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[callable]:
    """Make new, completely empty databases (no schema) of either kind."""
    created: list[str] = []
    admin: Engine | None = None

    def make(kind: str) -> str:
        nonlocal admin
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / f'restored-{uuid.uuid4().hex[:6]}.db'}"
        problem = _pg_problem()
        if problem:
            if IN_CI:
                pytest.fail(problem)
            pytest.skip(problem)
        admin = admin or create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"nearmiss_restore_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    yield make
    dispose_engines()
    if admin is not None:
        admin.dispose()
        for name in created:
            drop_database_soon(name)


@pytest.fixture
def populated(engine: Engine, tmp_path: Path) -> Path:
    """Four months of a demo provider (reports, triage, reviews, actions) and one evidence file."""
    load_demo(engine, reports=200, seed=3, months=4, now=NOW)
    evidence = tmp_path / "evidence-source"
    store_file("photo of the new rail.png", png(40, 30),
               settings().attachments, evidence)
    return evidence


def _table_contents(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in key order, with values made comparable across databases."""
    metadata = MetaData()
    with engine.connect() as conn:
        metadata.reflect(bind=conn)
        contents = {}
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            keys = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(select(table).order_by(*keys)).all()
            contents[table.name] = [tuple(_comparable(v) for v in row) for row in rows]
    return contents


def _comparable(value):
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def _without_restore_event(contents: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """The restore appends one audit event (and moves the chain head); compare the rest."""
    trimmed = dict(contents)
    trimmed["audit_events"] = [r for r in contents["audit_events"] if "database.restored" not in r]
    trimmed.pop("audit_chain_head")
    return trimmed


def _chain_ok(engine: Engine) -> int:
    with read_session(engine) as session:
        report = verify_chain(session)
    assert report.ok, report.reason
    return report.events_checked


def _report_count(engine: Engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(NearMissReport))


def test_dump_round_trip_to_the_other_database_keeps_every_row_and_file(
        db_url, engine, populated, empty_database, tmp_path):
    before = _table_contents(engine)
    assert len(before["near_miss_reports"]) == 200
    dump = tmp_path / "provider.nmdump"
    summary = backup(engine, dump, attachments_dir=populated)
    assert summary.rows["near_miss_reports"] == 200 and summary.files == 1

    target = engine_for(empty_database(_other_kind(db_url)))
    restored_files = tmp_path / "evidence-restored"
    loaded = restore(target, dump, attachments_dir=restored_files)

    assert loaded.total_rows == summary.total_rows
    with read_session(target) as session:  # the day counts came with their reports
        assert counted_days(session) == counted_afresh(target, settings().zone)
    after = _table_contents(target)
    assert _without_restore_event(after) == _without_restore_event(before)
    events = _chain_ok(target)
    assert events == len(before["audit_events"]) + 1
    with read_session(target) as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert last.action == "database.restored" and last.actor == "system"
    original = next(p for p in populated.rglob("*") if p.is_file())
    copy = restored_files / original.relative_to(populated)
    assert copy.read_bytes() == original.read_bytes()
    # Restored evidence is as private as uploaded evidence.
    assert [stat.S_IMODE(p.stat().st_mode) for p in (copy, copy.parent, restored_files)] == [
        0o600, 0o700, 0o700]


def test_restored_database_accepts_new_reports_after_the_restored_ones(
        db_url, engine, populated, empty_database, tmp_path):
    from core.auth.actor import SYSTEM
    from core.uow import UnitOfWork

    dump = tmp_path / "provider.nmdump"
    backup(engine, dump)
    target = engine_for(empty_database(_other_kind(db_url)))
    restore(target, dump)
    # A new row gets a fresh id (PostgreSQL sequences continue above the restored ids) and
    # the chain continues.
    with UnitOfWork(target) as uow:
        uow.record(SYSTEM, "test.after_restore", "near_miss_report", None, at=utcnow())
        uow.commit()
    _chain_ok(target)
    with target.begin() as conn:
        highest = conn.execute(text("SELECT MAX(id) FROM services")).scalar()
        conn.execute(text("INSERT INTO regions (name) VALUES ('After restore')"))
        new_id = conn.execute(text("SELECT id FROM regions WHERE name = 'After restore'")).scalar()
        others = conn.execute(text("SELECT MAX(id) FROM regions WHERE name <> 'After restore'"))
        assert new_id > others.scalar()
    assert highest is not None


def test_sqlite_copy_restores_into_postgresql_and_back(
        db_url, engine, populated, empty_database, tmp_path):
    before = _table_contents(engine)
    copy = tmp_path / "provider.db"
    summary = backup(engine, copy)
    assert summary.kind == "sqlite" and copy.read_bytes()[:15] == b"SQLite format 3"
    assert summary.rows["near_miss_reports"] == 200

    target = engine_for(empty_database(_other_kind(db_url)))
    restore(target, copy)
    assert _without_restore_event(_table_contents(target)) == _without_restore_event(before)
    _chain_ok(target)


def test_restore_refuses_a_database_with_data_unless_forced(db_url, engine, populated, tmp_path):
    dump = tmp_path / "provider.nmdump"
    backup(engine, dump)
    with pytest.raises(BackupError, match=r"already holds data.*--force"):
        restore(engine, dump)
    assert _report_count(engine) == 200

    # Forced: everything in the database is replaced by the backup's contents.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM feedback_update_reports"))
    restore(engine, dump, force=True)
    assert _report_count(engine) == 200
    _chain_ok(engine)


def test_a_damaged_dump_changes_nothing_even_when_forced(db_url, engine, populated, tmp_path):
    dump = tmp_path / "provider.nmdump"
    backup(engine, dump)
    before = _table_contents(engine)
    lines = gzip.decompress(dump.read_bytes()).splitlines(keepends=True)
    cut = tmp_path / "cut.nmdump"
    cut.write_bytes(gzip.compress(b"".join(lines[: len(lines) // 2])))
    with pytest.raises(BackupError, match="cut short"):
        restore(engine, cut, force=True)
    garbage = tmp_path / "garbage.nmdump"
    garbage.write_bytes(b"this is not a backup")
    with pytest.raises(BackupError, match="not a portal backup"):
        restore(engine, garbage, force=True)
    assert _table_contents(engine) == before


def test_a_dump_naming_a_file_outside_the_evidence_folder_is_refused(
        db_url, engine, populated, tmp_path, empty_database):
    dump = tmp_path / "provider.nmdump"
    backup(engine, dump, attachments_dir=populated)
    lines = gzip.decompress(dump.read_bytes()).splitlines(keepends=True)
    evil = json.dumps({"file": "../../outside.txt", "content": "aGk="}).encode() + b"\n"
    hostile = tmp_path / "hostile.nmdump"
    hostile.write_bytes(gzip.compress(b"".join([*lines[:-1], evil, lines[-1]])))
    target = engine_for(empty_database("sqlite"))
    evidence = tmp_path / "deep" / "er" / "evidence"
    with pytest.raises(BackupError, match="outside the evidence folder"):
        restore(target, hostile, attachments_dir=evidence)
    assert not (tmp_path / "deep" / "outside.txt").exists()


def test_backup_never_overwrites_an_existing_file(db_url, engine, tmp_path):
    existing = tmp_path / "keep.nmdump"
    existing.write_text("an older backup")
    with pytest.raises(BackupError, match="already exists"):
        backup(engine, existing)
    assert existing.read_text() == "an older backup"


def test_backup_and_restore_commands(db_url, engine, populated, empty_database, tmp_path,
                                     monkeypatch):
    dump = tmp_path / "cli.nmdump"
    made = runner.invoke(app, ["backup", str(dump)])
    assert made.exit_code == 0, made.output
    assert "Backed up" in made.output and dump.exists()

    refused = runner.invoke(app, ["restore", str(dump)])
    assert refused.exit_code == 1 and "--force" in refused.output

    target_url = empty_database(_other_kind(db_url))
    monkeypatch.setenv("NEARMISS_DATABASE_URL", target_url)
    loaded = runner.invoke(app, ["restore", str(dump)])
    assert loaded.exit_code == 0, loaded.output
    assert "Restored" in loaded.output
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and "Audit chain OK" in verified.output
    assert _report_count(engine_for(target_url)) == 200
