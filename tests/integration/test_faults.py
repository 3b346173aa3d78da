"""Faults: the database gone at submit, a file locked past the timeout, a server restart, and a
process killed in the middle of a write. Nothing typed is lost, nothing is stored twice, nothing
is stored by halves."""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

import core.db
import core.uow
from core.audit.models import AuditEvent
from core.audit.queries import data_version
from core.clock import utcnow
from core.config import settings
from core.db import dispose_engines, engine_for, read_connection, read_session
from core.errors import StorageUnavailable
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.uow import UnitOfWork
from ops.cli import app as cli
from tests.app.test_app_report import DESCRIPTION, fill_required, submit
from tests.apptest_helpers import assert_no_exception, new_app, sign_in, texts
from tests.builders import Org, build_org, draft, local_now
from tests.conftest import ROOT, reset_postgres
from tests.faults import PostgresProxy


def _counts(engine: Engine) -> tuple[int, int]:
    with read_session(engine) as session:
        return (session.scalar(select(func.count()).select_from(NearMissReport)),
                session.scalar(select(func.count()).select_from(AuditEvent)))


def _form_is_as_typed(at, org: Org) -> None:
    assert at.text_area(key="report.description").value == DESCRIPTION
    assert at.selectbox(key="report.type_key").value == "transfer_near_fall"
    assert at.selectbox(key="report.location_id").value == org.maple_bathroom
    assert at.radio(key="report.barrier").value == "staff_recovery"
    assert at.radio(key="report.still_at_risk").value == "no"


# -- PostgreSQL stops and comes back ---------------------------------------------------------


@pytest.fixture
def pg_behind_proxy(pg_database: str, monkeypatch: pytest.MonkeyPatch
                    ) -> Iterator[tuple[PostgresProxy, Engine, Engine]]:
    """The app's database URL goes through a proxy the test can cut; the test's own engine
    goes straight to the server."""
    reset_postgres(pg_database)
    proxy = PostgresProxy()
    through_proxy = proxy.url_for(pg_database)
    monkeypatch.setenv("NEARMISS_DATABASE_URL", through_proxy)
    yield proxy, engine_for(through_proxy), engine_for(pg_database)
    proxy.cut()
    dispose_engines()


def test_postgresql_stopping_at_submit_keeps_the_form_and_a_retry_files_once(pg_behind_proxy):
    proxy, _app_engine, direct = pg_behind_proxy
    org = build_org(direct)
    at = sign_in(new_app(), "reporter")
    at = fill_required(at, org)
    reports_before, events_before = _counts(direct)

    proxy.cut()  # the server stops while the worker is typing
    at = submit(at)
    assert_no_exception(at)
    assert any("Not saved yet" in e for e in texts(at, "error"))
    assert any("cannot be reached" in w for w in texts(at, "warning"))
    _form_is_as_typed(at, org)
    at = submit(at)  # trying again while it is still down changes nothing
    assert any("Not saved yet" in e for e in texts(at, "error"))
    _form_is_as_typed(at, org)
    assert _counts(direct) == (reports_before, events_before)

    proxy.restore()  # back on the same address: the pool reconnects on its own
    at = submit(at)
    assert_no_exception(at)
    assert any(f"NM-{local_now().year}-00001" in s for s in texts(at, "success"))
    at.run()  # a page re-run after filing files nothing more
    assert _counts(direct)[0] == reports_before + 1


def test_the_pool_reconnects_after_a_postgresql_restart(pg_behind_proxy):
    proxy, app_engine, _direct = pg_behind_proxy
    org = build_org(app_engine)
    file_near_miss(UnitOfWork(app_engine), org.actor("reporter"), draft(org),
                   now=utcnow(), rules=settings())
    proxy.cut()
    with pytest.raises(StorageUnavailable), read_session(app_engine) as session:
        session.scalar(select(func.count()).select_from(NearMissReport))
    # The data version every page run reads (through a bare connection) says the same.
    with pytest.raises(StorageUnavailable), read_connection(app_engine) as connection:
        data_version(connection)
    with pytest.raises(StorageUnavailable):
        file_near_miss(UnitOfWork(app_engine), org.actor("reporter"), draft(org),
                       now=utcnow(), rules=settings())
    proxy.restore()
    filed = file_near_miss(UnitOfWork(app_engine), org.actor("reporter"), draft(org),
                           now=utcnow(), rules=settings())
    assert filed.reference.endswith("-00002")  # the failed attempt used no number
    with read_connection(app_engine) as connection:
        assert data_version(connection) > 0


# -- SQLite locked by another process ----------------------------------------------------------


@pytest.fixture
def sqlite_file(sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[Path]:
    """A fresh SQLite database with a short busy timeout, so a held lock is felt at once."""
    path = tmp_path / "nearmiss.db"
    shutil.copyfile(sqlite_template, path)
    monkeypatch.setattr(core.db, "SQLITE_BUSY_TIMEOUT_MS", 150)
    monkeypatch.setattr(core.uow, "SQLITE_LOCK_ATTEMPTS", 2)
    monkeypatch.setenv("NEARMISS_DATABASE_URL", f"sqlite:///{path}")
    dispose_engines()
    yield path
    dispose_engines()


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's long write
    return holder


def test_sqlite_locked_past_the_timeout_keeps_the_form_and_a_retry_files_once(sqlite_file):
    engine = engine_for(f"sqlite:///{sqlite_file}")
    org = build_org(engine)
    at = fill_required(sign_in(new_app(), "reporter"), org)
    holder = _hold_write_lock(sqlite_file)
    try:
        at = submit(at)
        assert_no_exception(at)
        assert any("Not saved yet" in e for e in texts(at, "error"))
        _form_is_as_typed(at, org)
        assert _counts(engine)[0] == 0
    finally:
        holder.rollback()
        holder.close()
    at = submit(at)
    assert any(f"NM-{local_now().year}-00001" in s for s in texts(at, "success"))
    assert _counts(engine)[0] == 1


def test_a_write_that_meets_a_lock_is_retried_and_lands_once(sqlite_file, monkeypatch):
    engine = engine_for(f"sqlite:///{sqlite_file}")
    org = build_org(engine)
    holder = _hold_write_lock(sqlite_file)
    pauses: list[float] = []

    def pause_then_release(seconds: float) -> None:
        pauses.append(seconds)
        holder.rollback()  # the other writer finishes while this one waits

    monkeypatch.setattr(core.uow.time, "sleep", pause_then_release)
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                           now=utcnow(), rules=settings())
    holder.close()
    assert len(pauses) == 1
    assert filed.reference.endswith("-00001")
    assert _counts(engine)[0] == 1


# -- a process killed in the middle of a write -------------------------------------------------

_KILLED_WRITER = """
import os, pickle, signal, sys
sys.path.insert(0, {root!r})
from core.clock import utcnow
from core.config import settings
from core.filing.service import file_near_miss
from core.uow import UnitOfWork

actor, near_miss = pickle.loads(open({payload!r}, "rb").read())

def flush_then_die(self):
    self.session.flush()  # the report row is written in the open transaction...
    self._append_audit_events()  # ...and so is its audit event
    self.session.flush()
    os.kill(os.getpid(), signal.SIGKILL)  # ...then the process dies before COMMIT

UnitOfWork.commit = flush_then_die
file_near_miss(UnitOfWork(), actor, near_miss, now=utcnow(), rules=settings())
"""


def test_a_process_killed_mid_write_leaves_no_half_report_or_orphan_audit_event(
        engine, db_url, tmp_path):
    org = build_org(engine)
    before = _counts(engine)
    payload = tmp_path / "payload.pickle"
    payload.write_bytes(pickle.dumps((org.actor("reporter"), draft(org))))
    script = _KILLED_WRITER.format(root=str(ROOT), payload=str(payload))
    dispose_engines()  # the child must not share this process's connections
    child = subprocess.run([sys.executable, "-c", script], env={**os.environ},
                           capture_output=True, text=True, timeout=120, check=False)
    assert child.returncode == -9, child.stderr
    engine = engine_for(db_url)
    assert _counts(engine) == before
    result = CliRunner().invoke(cli, ["audit", "verify"], env={"NEARMISS_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    # The next report gets the number the killed one never used.
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                           now=utcnow(), rules=settings())
    assert filed.reference.endswith("-00001")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM near_miss_reports")).scalar() == 1
