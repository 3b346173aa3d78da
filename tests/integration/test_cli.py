"""The `nearmiss` command line: init, users, audit verify, demo guards, and failure exit codes."""

from __future__ import annotations

import importlib.util
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from core.audit.models import AuditEvent
from core.auth.models import User
from core.config import settings
from core.db import dispose_engines, is_sqlite, read_session
from ops.cli import app
from tests.builders import build_org
from tests.conftest import ROOT, built_once

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "import_sample.csv"
# A Wednesday noon in the provider's zone: the demo of 300 reports (seed 3) then holds three
# regulator clocks.
DEMO_NOON = datetime(2026, 11, 18, 12, tzinfo=settings().zone)
STRONG_PASSWORD = "a-long-enough-passphrase"
# A wide terminal, so table cells are not folded across lines.
runner = CliRunner(env={"COLUMNS": "200"})


def run(*args: str | Path, stdin: str | None = None, env: dict[str, str] | None = None):
    return runner.invoke(app, [str(a) for a in args], input=stdin, env=env)


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def audit_count(engine: Engine) -> int:
    with read_session(engine) as session:
        return len(session.scalars(select(AuditEvent.seq)).all())


def is_active(engine: Engine, username: str) -> bool:
    with read_session(engine) as session:
        return session.scalar(select(User.active).where(User.username == username))


# --------------------------------------------------------------------------- users


def test_users_add_from_stdin_then_list_shows_roles_and_services(engine, org):
    added = run("users", "add", "pat", "--name", "Pat Example", "--role", "supervisor",
                "--role", "reporter", "--service", "Maple House", "--service", "Oak Lodge",
                "--email", "pat@example.org", "--staff-group", "Nurse", "--password-stdin",
                stdin=STRONG_PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "User 'pat' created" in added.output
    listing = run("users", "list")
    assert listing.exit_code == 0, listing.output
    line = next(ln for ln in listing.output.splitlines() if " pat " in ln)
    assert "Pat Example" in line and "reporter, supervisor" in line
    assert "Maple House, Oak Lodge" in line and "Nurse" in line
    with read_session(engine) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created")
                               .order_by(AuditEvent.seq.desc()).limit(1))
        assert event.actor == "system" and '"username":"pat"' in event.after_json


def test_users_add_prompts_twice_for_a_hidden_password(engine, org):
    result = run("users", "add", "kim", "--name", "Kim Lee", "--role", "reporter",
                 stdin=f"{STRONG_PASSWORD}\n{STRONG_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert STRONG_PASSWORD not in result.output
    with read_session(engine) as session:
        assert session.scalar(select(User.id).where(User.username == "kim")) is not None


def test_users_disable_and_enable(engine, org):
    disabled = run("users", "disable", "reporter")
    assert disabled.exit_code == 0, disabled.output
    assert not is_active(engine, "reporter")
    line = next(ln for ln in run("users", "list").output.splitlines() if " reporter " in ln)
    assert " no " in line.split("Maple House")[1]  # the active column
    assert run("users", "enable", "reporter").exit_code == 0
    assert is_active(engine, "reporter")
    missing = run("users", "disable", "nobody")
    assert missing.exit_code == 1 and "No user 'nobody'" in missing.output


def test_weak_password_and_unknown_role_give_field_messages(engine, org):
    before = audit_count(engine)
    result = run("users", "add", "sam2", "--name", "Sam Two", "--role", "wizard",
                 "--password-stdin", stdin="short\n")
    assert result.exit_code == 1
    assert "--role: unknown role 'wizard' (valid roles: reporter" in result.output
    assert "password: Use at least 12 characters." in result.output
    assert audit_count(engine) == before
    unknown_service = run("users", "add", "sam3", "--name", "Sam Three", "--role", "reporter",
                          "--service", "Birch Court", "--password-stdin",
                          stdin=STRONG_PASSWORD + "\n")
    assert unknown_service.exit_code == 1
    assert "--service: Unknown service 'Birch Court'." in unknown_service.output
    taken = run("users", "add", "admin", "--name", "Other", "--role", "admin",
                "--password-stdin", stdin=STRONG_PASSWORD + "\n")
    assert taken.exit_code == 1 and "USERNAME: The username 'admin' is taken." in taken.output


# --------------------------------------------------------------------------- init


def test_init_is_safe_to_repeat(engine):
    result = run("init")
    assert result.exit_code == 0, result.output
    assert "schema up to date" in result.output and "Taxonomy unchanged" in result.output


def test_init_on_a_malformed_taxonomy_exits_2_naming_line_and_key(engine, tmp_path,
                                                                  monkeypatch):
    source = (ROOT / "data" / "taxonomy.yaml").read_text(encoding="utf-8")
    lines = source.splitlines()
    broken_line = lines.index("    route_to: clinical") + 1
    broken = tmp_path / "taxonomy.yaml"
    broken.write_text(source.replace("    route_to: clinical", "    route_too: clinical"),
                      encoding="utf-8")
    monkeypatch.setenv("NEARMISS_TAXONOMY", str(broken))
    before = audit_count(engine)
    result = run("init")
    assert result.exit_code == 2
    assert f"line {broken_line}" in result.output
    assert "(skin_integrity_deterioration).route_too" in result.output
    assert "Traceback" not in result.output
    assert audit_count(engine) == before


def test_init_creates_a_fresh_database_and_demo_users_in_demo_mode(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("NEARMISS_DATABASE_URL", url)
    try:
        refused = run("users", "list")
        assert refused.exit_code == 1 and "Run `nearmiss init` first" in refused.output
        result = run("init", env={"NEARMISS_ENV": "demo"})
        assert result.exit_code == 0, result.output
        assert "Demo users created: reporter, supervisor" in result.output
        assert "11 types added" in result.output
        listing = run("users", "list")
        assert "Ada Admin (demo)" in listing.output
    finally:
        dispose_engines()


def test_a_broken_taxonomy_leaves_a_new_database_file_uncreated(tmp_path, monkeypatch):
    broken = tmp_path / "taxonomy.yaml"
    broken.write_text("types: []\ninterface_flags: nope\n", encoding="utf-8")
    monkeypatch.setenv("NEARMISS_TAXONOMY", str(broken))
    monkeypatch.setenv("NEARMISS_DATABASE_URL", f"sqlite:///{tmp_path / 'never.db'}")
    result = run("init")
    assert result.exit_code == 2
    assert str(broken) in result.output and "line 1" in result.output
    assert not (tmp_path / "never.db").exists()


# --------------------------------------------------------------------------- failures


def test_an_unreachable_database_is_one_line_and_exit_3(monkeypatch):
    monkeypatch.setenv("NEARMISS_DATABASE_URL",
                       "postgresql+psycopg://nearmiss:s3cret@127.0.0.1:1/nearmiss")
    try:
        for args in (("users", "list"), ("audit", "verify"), ("init",)):
            result = run(*args)
            assert result.exit_code == 3, result.output
            assert "Cannot use the database at postgresql+psycopg://nearmiss:***@127.0.0.1:1" in (
                result.output)
            assert "s3cret" not in result.output and "Traceback" not in result.output
            assert len(result.output.strip().splitlines()) == 1
    finally:
        dispose_engines()


# --------------------------------------------------------------------------- audit verify


def _tamper(engine: Engine, statement: str, **params: object) -> None:
    """Edit the audit table as a DBA could, past its append-only triggers."""
    with engine.begin() as conn:
        if is_sqlite(engine):
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
            conn.execute(text(statement), params)
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
            try:
                conn.execute(text(statement), params)
            finally:
                conn.execute(
                    text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))


def test_audit_verify_passes_after_imports_and_names_a_changed_event(engine, org):
    assert run("import", SAMPLE).exit_code == 0
    ok = run("audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert f"Audit chain OK: {audit_count(engine)} events" in ok.output
    with read_session(engine) as session:
        target = session.scalars(select(AuditEvent.seq).where(
            AuditEvent.action == "report.imported").order_by(AuditEvent.seq)).all()[1]
    _tamper(engine, "UPDATE audit_events SET after_json = replace(after_json, 'designed_control', "
                    "'staff_recovery') WHERE seq = :seq", seq=target)
    broken = run("audit", "verify")
    assert broken.exit_code == 1
    assert f"Audit chain BROKEN at event {target}" in broken.output
    assert "does not match its hash" in broken.output


def test_audit_verify_detects_the_last_event_deleted(engine, org):
    assert run("import", SAMPLE).exit_code == 0
    last = audit_count(engine)
    _tamper(engine, "DELETE FROM audit_events WHERE seq = :seq", seq=last)
    result = run("audit", "verify")
    assert result.exit_code == 1
    assert f"BROKEN at event {last}" in result.output
    assert "deleted from the end" in result.output


# --------------------------------------------------------------------------- demo


def test_demo_refuses_outside_demo_mode_and_respects_if_empty(engine, org):
    refused = run("demo", "--reports", "10")
    assert refused.exit_code == 1 and "NEARMISS_ENV" in refused.output
    assert run("import", SAMPLE).exit_code == 0
    skipped = run("demo", "--if-empty", env={"NEARMISS_ENV": "demo"})
    assert skipped.exit_code == 0, skipped.output
    assert "already holds 3 reports" in skipped.output


def test_demo_refuses_a_database_that_is_not_set_up(tmp_path, monkeypatch):
    monkeypatch.setenv("NEARMISS_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        result = run("demo", env={"NEARMISS_ENV": "demo"})
        assert result.exit_code == 1
        assert "Run `nearmiss init` first" in result.output
    finally:
        dispose_engines()


@pytest.mark.skipif(importlib.util.find_spec("ops.demo") is None,
                    reason="ops/demo is not written yet")
@time_machine.travel(DEMO_NOON, tick=False)
def test_demo_loads_reports_into_an_initialised_database(engine):
    # At a fixed moment, the clock stopped: the demo's draws follow the weekday and the time of
    # day, and 300 reports hold a handful of safeguarding decisions. At 23:10 on a Sunday in
    # New York none of 8 was reportable, so no regulator clock was there to count (2026-12-07).
    result = run("demo", "--reports", "300", "--seed", "3", "--months", "6",
                 env={"NEARMISS_ENV": "demo"})
    assert result.exit_code == 0, result.output
    assert "Demo data loaded: 300 reports" in result.output
    # The regulator clocks' history, recorded after the reports, is counted for the planner
    # too (SQLite never counts by itself; the board's list of running clocks is planned by it).
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            clocks = conn.exec_driver_sql("SELECT count(*) FROM regulator_clocks").scalar()
            assert clocks and conn.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE oid = 'regulator_clocks'::regclass"
            ).scalar() == clocks
        else:
            assert conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'regulator_clocks'").scalar()
    assert run("audit", "verify").exit_code == 0
    again = run("demo", "--if-empty", env={"NEARMISS_ENV": "demo"})
    assert again.exit_code == 0 and "already holds 300 reports" in again.output
