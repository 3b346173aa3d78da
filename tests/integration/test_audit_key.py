"""The audit trail resists someone with full database access.

The chain is signed with a key kept outside the database, so rewriting rows and recomputing
the old unkeyed hash is caught, and so is a wrong key; rotating the key keeps old events
verifying; a database from before the key keeps its legacy events, sealed against forgery; and
`nearmiss audit verify` names each report, action and escalation edited straight in the
database. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, func, insert, select, text, update
from typer.testing import CliRunner

from core.accounts.service import build_actor
from core.actions.models import Action
from core.actions.service import ActionDraft, PlanDraft, create_plan, set_status
from core.actions.vocabulary import ActionStatus
from core.audit.chain import AuditTrailUnsigned, event_hash, verify_chain
from core.audit.keys import AuditKeyProblem, parse_keys
from core.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from core.auth.actor import SYSTEM
from core.auth.models import User
from core.clock import utcnow
from core.config import settings
from core.db import dispose_engines, engine_for, is_sqlite, read_session
from core.escalation.models import Escalation
from core.escalation.service import SafeguardingDecision, decide
from core.filing.service import file_near_miss
from core.integrity.seal import seal_trail
from core.integrity.state import CHECKS, verify_state
from core.organisation import service as organisation
from core.reports.models import NearMissReport
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from ops.backup import backup, restore
from ops.bootstrap import initialise
from ops.cli import app
from ops.demo import load_demo
from tests.apptest_helpers import new_app, texts
from tests.builders import Org, build_org, draft, local_now
from tests.conftest import PG_ADMIN_URL, TEST_AUDIT_KEY, _pg_problem, drop_database_soon

runner = CliRunner(env={"COLUMNS": "250"})
OTHER_SECRET = "someone-elses-audit-key-0123456789-abcdefghij"
NEW_KEY = "k2:a-brand-new-audit-key-0123456789-abcdefghij"


def verify(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", *args])
    return result.exit_code, result.output


def _chain(engine: Engine):
    with read_session(engine) as session:
        return verify_chain(session)


def _file_three(engine: Engine) -> Org:
    org = build_org(engine)
    for description in ("Walker out of reach at the doorway; staff steadied her.",
                        "Bath mat curled at the edge; caught before she tripped.",
                        "Wheelchair brake left off on the ramp; staff stopped it."):
        file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                       draft(org, description=description), now=utcnow(), rules=settings())
    return org


def _events(engine: Engine, action: str) -> list[int]:
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent.seq).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.seq)))


def _without_triggers(engine: Engine, *statements: tuple[str, dict]) -> None:
    """Edit the audit table as someone with full database access can: triggers off."""
    with engine.begin() as conn:
        if is_sqlite(engine):
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        for statement, params in statements:
            conn.execute(text(statement), params)
        if not is_sqlite(engine):
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))


def _rehash_from(engine: Engine, first: int, *, as_legacy: bool = False) -> None:
    """Recompute the unkeyed SHA-256 chain from event `first` on and move the head with it,
    as the old scheme allowed anyone to (optionally also relabelling the events legacy)."""
    with read_session(engine) as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.seq >= first)
                                      .order_by(AuditEvent.seq)))
        prev = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == first - 1))
    statements = []
    for event in events:
        event.prev_hash = prev or GENESIS_HASH
        if as_legacy:
            event.key_id = None
        event.hash = prev = event_hash(event)
        statements.append(("UPDATE audit_events SET prev_hash = :p, hash = :h, key_id = :k "
                           "WHERE seq = :s", {"p": event.prev_hash, "h": event.hash,
                                              "k": event.key_id, "s": event.seq}))
    statements.append(("UPDATE audit_chain_head SET last_hash = :h", {"h": prev}))
    _without_triggers(engine, *statements)


# --------------------------------------------------------------------------- keyed chain


def test_a_row_rewritten_with_its_unkeyed_hash_recomputed_is_caught(engine):
    _file_three(engine)
    target = _events(engine, "report.filed")[1]
    assert verify()[0] == 0
    _without_triggers(engine, ("UPDATE audit_events SET after_json = replace(after_json, "
                               "'Bath mat', 'Bath rug') WHERE seq = :s", {"s": target}))
    _rehash_from(engine, target)  # links and head consistent again, as the old scheme allowed
    code, output = verify("--chain-only")
    assert code == 1
    assert f"Audit chain BROKEN at event {target}: its content does not match its hash" in output


def test_a_rewritten_tail_passed_off_as_legacy_is_caught(engine):
    _file_three(engine)
    target = _events(engine, "report.filed")[1]
    _without_triggers(engine, ("UPDATE audit_events SET after_json = replace(after_json, "
                               "'Bath mat', 'Bath rug') WHERE seq = :s", {"s": target}))
    _rehash_from(engine, target, as_legacy=True)
    code, output = verify("--chain-only")
    assert code == 1
    assert f"BROKEN at event {target}: it carries the legacy unkeyed hash, but the legacy " \
           "segment was sealed at event 0" in output


def test_events_deleted_from_the_end_with_the_head_moved_back_are_caught(engine):
    org = _file_three(engine)
    last = _events(engine, "report.filed")[-1]
    with read_session(engine) as session:
        earlier = session.get(AuditEvent, last - 1)
        assert earlier is not None
    _without_triggers(
        engine, ("DELETE FROM audit_events WHERE seq = :s", {"s": last}),
        ("UPDATE audit_chain_head SET last_seq = :n, last_hash = :h",
         {"n": earlier.seq, "h": earlier.hash}))
    report = _chain(engine)
    assert not report.ok and "chain head's signature does not match" in report.reason
    # Writing on top of the moved end does not hide it: the next event signs what it found.
    file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                   now=utcnow(), rules=settings())
    report = _chain(engine)
    assert not report.ok and report.first_bad_seq == last


def test_a_wrong_key_is_refused(engine, monkeypatch):
    _file_three(engine)
    assert _chain(engine).ok
    monkeypatch.setenv("NEARMISS_AUDIT_KEY", f"test:{OTHER_SECRET}")
    code, output = verify("--chain-only")
    assert code == 1
    assert "BROKEN at event 1: its content does not match its hash" in output
    monkeypatch.setenv("NEARMISS_AUDIT_KEY", f"other:{OTHER_SECRET}")
    code, output = verify("--chain-only")
    assert code == 1 and "signed with the audit key 'test', which is not on the keyring" in output


def test_key_rotation_keeps_old_events_verifying(engine, monkeypatch, tmp_path):
    org = _file_three(engine)
    before = _chain(engine).events_checked
    key_file = tmp_path / "audit-keys"
    key_file.write_text(f"# retired 2026-11, kept to verify\n{TEST_AUDIT_KEY}\n{NEW_KEY}\n")
    key_file.chmod(0o600)
    monkeypatch.delenv("NEARMISS_AUDIT_KEY")
    monkeypatch.setenv("NEARMISS_AUDIT_KEY_FILE", str(key_file))

    sealed = seal_trail(engine, now=utcnow())
    assert sealed is not None and (sealed.previous_key_id, sealed.key_id) == ("test", "k2")
    file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                   now=utcnow(), rules=settings())
    with read_session(engine) as session:
        keys = dict(session.execute(select(AuditEvent.key_id, func.count())
                                    .group_by(AuditEvent.key_id)).all())
    assert keys == {"test": before, "k2": 2}  # history is never re-signed
    code, output = verify()
    assert code == 0, output
    assert f"Audit chain OK: {before + 2} events ({before + 2} signed with key 'test', 'k2')" \
           in output

    # Dropping the old key from the keyring leaves its events unverifiable.
    key_file.write_text(f"{NEW_KEY}\n")
    code, output = verify("--chain-only")
    assert code == 1 and "BROKEN at event 1" in output and "'test'" in output


def test_new_key_prints_the_next_key_line(monkeypatch):
    monkeypatch.setenv("NEARMISS_AUDIT_KEY", f"1:{OTHER_SECRET},7:{'s' * 40}")
    result = runner.invoke(app, ["audit", "new-key"])
    assert result.exit_code == 0
    [line] = result.output.split()
    key_id, secret = line.split(":", 1)
    assert key_id == "8" and len(secret) >= 60
    assert parse_keys(line, setting="test", allow_bare=False)[0].key_id == "8"


def test_a_key_file_others_can_read_is_refused(engine, monkeypatch, tmp_path):
    key_file = tmp_path / "audit-keys"
    key_file.write_text(f"{TEST_AUDIT_KEY}\n")
    key_file.chmod(0o644)
    monkeypatch.delenv("NEARMISS_AUDIT_KEY")
    monkeypatch.setenv("NEARMISS_AUDIT_KEY_FILE", str(key_file))
    with pytest.raises(AuditKeyProblem, match="chmod 600"):
        build_org(engine)
    code, output = verify()
    assert code == 1 and f"chmod 600 {key_file}" in output
    key_file.chmod(0o600)
    build_org(engine)
    assert verify()[0] == 0


def test_no_key_outside_demo_mode_refuses_init_writes_and_the_app(engine, monkeypatch, tmp_path):
    org = build_org(engine)
    monkeypatch.delenv("NEARMISS_AUDIT_KEY")
    with pytest.raises(AuditKeyProblem, match="NEARMISS_AUDIT_KEY_FILE"):
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                       now=utcnow(), rules=settings())
    code, output = verify()
    assert code == 1 and "No audit key is set" in output
    fresh = tmp_path / "fresh.db"
    monkeypatch.setenv("NEARMISS_DATABASE_URL", f"sqlite:///{fresh}")
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 1 and "NEARMISS_AUDIT_KEY_FILE" in result.output
    assert not fresh.exists()  # refused before touching the database
    at = new_app().run()
    assert any("No audit key is set" in e for e in texts(at, "error"))
    assert not at.text_input  # no sign-in form


# --------------------------------------------------------------------------- legacy trails


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database of the test's own (no schema yet)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        monkeypatch.setenv("NEARMISS_DATABASE_URL", url)
        yield url
        dispose_engines()
        return
    problem = _pg_problem()
    if problem:
        pytest.skip(problem)
    name = f"nearmiss_legacy_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv("NEARMISS_DATABASE_URL", url)
    yield url
    dispose_engines()
    admin.dispose()
    drop_database_soon(name)


def test_demo_mode_signs_with_the_public_demo_key_which_production_does_not_trust(
        blank_url, monkeypatch):
    monkeypatch.delenv("NEARMISS_AUDIT_KEY")
    monkeypatch.setenv("NEARMISS_ENV", "demo")
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    code, output = verify()
    assert code == 0 and "signed with key 'demo'" in output
    monkeypatch.setenv("NEARMISS_ENV", "production")
    monkeypatch.setenv("NEARMISS_AUDIT_KEY", TEST_AUDIT_KEY)
    code, output = verify("--chain-only")
    assert code == 1 and "the public demo key, which is not trusted outside demo mode" in output


def _legacy_database(url: str, events: int = 4) -> list[str]:
    """A database at the schema before the audit key, with a trail written the old way (the
    unkeyed SHA-256 chain); returns the hashes."""
    from core.migrate import alembic_config

    command.upgrade(alembic_config(url), "0008")
    engine = create_engine(url)
    hashes: list[str] = []
    prev = GENESIS_HASH
    start = local_now() - timedelta(days=30)
    with engine.begin() as conn:
        for seq in range(1, events + 1):
            event = AuditEvent(seq=seq, occurred_at=start + timedelta(hours=seq), actor_id=None,
                               actor="system", action="region.created", entity_type="region",
                               entity_id=str(seq), before_json=None,
                               after_json=json.dumps({"name": f"Region {seq}"}),
                               prev_hash=prev, key_id=None)
            event.hash = prev = event_hash(event)
            hashes.append(prev)
            conn.execute(text(
                "INSERT INTO audit_events (seq, occurred_at, actor_id, actor, action, entity_type,"
                " entity_id, before_json, after_json, prev_hash, hash) VALUES (:seq, :at, NULL, "
                "'system', 'region.created', 'region', :eid, NULL, :after, :prev, :hash)"),
                {"seq": seq, "at": event.occurred_at, "eid": str(seq), "after": event.after_json,
                 "prev": event.prev_hash, "hash": event.hash})
        conn.execute(text("UPDATE audit_chain_head SET last_seq = :n, last_hash = :h"),
                     {"n": events, "h": prev})
    engine.dispose()
    return hashes


def test_a_legacy_trail_is_sealed_on_upgrade_and_keeps_verifying(blank_url):
    _legacy_database(blank_url)
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert "Audit trail sealed: its 4 events (last signed with 'legacy-sha256')" in result.output
    engine = engine_for(blank_url)
    with read_session(engine) as session:
        head = session.get(AuditChainHead, 1)
        assert head is not None and head.legacy_last_seq == 4 and head.key_id == "test"
        seal = session.get(AuditEvent, 5)
        assert seal is not None and seal.action == "audit.sealed" and seal.key_id == "test"
    with UnitOfWork(engine) as uow:
        organisation.get_or_create_region(uow, SYSTEM, "West", now=utcnow())
        uow.commit()
    code, output = verify()
    assert code == 0, output
    assert "4 legacy events (legacy-sha256, written before the audit key) sealed" in output
    assert _chain(engine).legacy_events == 4
    # A second init has nothing more to seal.
    again = runner.invoke(app, ["init"])
    assert again.exit_code == 0 and "Audit trail sealed" not in again.output


def test_a_sealed_legacy_segment_cannot_be_rewritten_or_extended(blank_url):
    _legacy_database(blank_url)
    initialise(blank_url)
    engine = engine_for(blank_url)
    last = _chain(engine).events_checked
    # Appending a new event that claims the old unkeyed hash, the head moved to match.
    with read_session(engine) as session:
        tail = session.get(AuditEvent, last)
        assert tail is not None
    forged = AuditEvent(seq=last + 1, occurred_at=local_now(), actor_id=None, actor="system",
                        action="region.created", entity_type="region", entity_id="99",
                        before_json=None, after_json='{"name":"Forged"}', prev_hash=tail.hash,
                        key_id=None)
    forged.hash = event_hash(forged)
    _without_triggers(
        engine, ("INSERT INTO audit_events (seq, occurred_at, actor, action, entity_type, "
                 "entity_id, after_json, prev_hash, hash) VALUES (:s, :at, 'system', "
                 "'region.created', 'region', '99', :after, :prev, :hash)",
                 {"s": forged.seq, "at": forged.occurred_at, "after": forged.after_json,
                  "prev": forged.prev_hash, "hash": forged.hash}),
        ("UPDATE audit_chain_head SET last_seq = :n, last_hash = :h",
         {"n": forged.seq, "h": forged.hash}))
    report = _chain(engine)
    assert not report.ok and report.first_bad_seq == last + 1
    assert "legacy segment was sealed at event 4" in report.reason
    _without_triggers(engine, ("DELETE FROM audit_events WHERE seq = :s", {"s": last + 1}),
                      ("UPDATE audit_chain_head SET last_seq = :n, last_hash = :h",
                       {"n": last, "h": tail.hash}))
    assert _chain(engine).ok
    # Rewriting a legacy event and recomputing the legacy hashes breaks the seal's link.
    _without_triggers(engine, ("UPDATE audit_events SET after_json = '{\"name\":\"Moved\"}' "
                               "WHERE seq = 2", {}))
    with read_session(engine) as session:
        legacy = list(session.scalars(select(AuditEvent).where(AuditEvent.seq.between(2, 4))
                                      .order_by(AuditEvent.seq)))
        prev = session.get(AuditEvent, 1).hash
    statements = []
    for event in legacy:
        event.prev_hash = prev
        event.hash = prev = event_hash(event)
        statements.append(("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s",
                           {"p": event.prev_hash, "h": event.hash, "s": event.seq}))
    _without_triggers(engine, *statements)
    report = _chain(engine)
    assert not report.ok and report.first_bad_seq == 5
    assert "link to the previous event does not match" in report.reason


def test_an_unsigned_end_is_not_built_on_unless_trusted(blank_url):
    """Upgraded by other means than `nearmiss init`: no write signs over the unsigned end."""
    from core.migrate import alembic_config

    _legacy_database(blank_url)
    command.upgrade(alembic_config(blank_url), "head")
    engine = engine_for(blank_url)
    report = _chain(engine)
    assert not report.ok and "is not signed with the audit key" in report.reason
    with pytest.raises(AuditTrailUnsigned), UnitOfWork(engine) as uow:
        organisation.get_or_create_region(uow, SYSTEM, "West", now=utcnow())
        uow.commit()
    refused = runner.invoke(app, ["init"])
    assert refused.exit_code == 1 and "--trust-unsigned" in refused.output
    sealed = runner.invoke(app, ["audit", "seal", "--trust-unsigned"])
    assert sealed.exit_code == 0, sealed.output
    assert _chain(engine).ok


def test_a_backup_from_before_the_key_restores_sealed(blank_url, tmp_path):
    _legacy_database(blank_url)
    dump = tmp_path / "before-the-key.nmdump"
    backup(engine_for(blank_url), dump)
    target = tmp_path / "restored.db"
    restored = engine_for(f"sqlite:///{target}")
    restore(restored, dump)
    report = _chain(restored)
    assert report.ok, report.reason
    assert (report.events_checked, report.legacy_events) == (5, 4)


# --------------------------------------------------------------------------- current state


TRIAGE = TriageAnswers(at_risk_now=False, safeguarding_trigger=False, recurrence="single",
                       severity="low", investigation="none", route="supervisor")


def _world(engine: Engine) -> tuple[str, int, int, int]:
    """A triaged report, an action, a decided safeguarding escalation: (reference, report id,
    action id, escalation id)."""
    org = build_org(engine)
    quality = org.actor("quality")
    reference = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                               now=utcnow(), rules=settings()).reference
    triage_report(UnitOfWork(engine), quality, reference, TRIAGE, expected_version=1,
                  now=utcnow(), rules=settings())
    today = local_now().date()
    plan = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Safer transfers", theme="Near falls at the doorway",
        report_references=[reference], measure=None, actions=[ActionDraft(
            title="Transfer card", kind="checklist", owner_id=quality.user_id,
            deadline=today + timedelta(days=5), review_date=today + timedelta(days=9),
            evidence_checks=["Card on the door"], verify_with_measure=False)]),
                       now=utcnow(), rules=settings())
    file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, type_key="safeguarding_rights",
        description="A visitor asked for her bank PIN; staff refused."),
                   now=utcnow(), rules=settings())
    with read_session(engine) as session:
        report_id = session.scalar(select(NearMissReport.id).where(
            NearMissReport.reference == reference))
        escalation_id = session.scalar(select(Escalation.id).where(
            Escalation.kind == "safeguarding"))
    decide(UnitOfWork(engine), org.actor("safeguarding"), escalation_id, SafeguardingDecision(
        external_report_made=False, reason="Refused at once; no loss"),
           now=utcnow(), rules=settings())
    return reference, report_id, plan.action_ids[0], escalation_id


def test_rows_edited_straight_in_the_database_are_named(engine):
    reference, report_id, action_id, escalation_id = _world(engine)
    code, output = verify()
    assert code == 0, output
    assert "Current state matches the audit trail" in output

    # The triggers guard only the audit table: these UPDATEs go straight through.
    with engine.begin() as conn:
        conn.execute(update(NearMissReport).where(NearMissReport.id == report_id)
                     .values(status="closed"))
        conn.execute(update(Action).where(Action.id == action_id)
                     .values(status="verified_effective"))
        conn.execute(update(Escalation).where(Escalation.id == escalation_id)
                     .values(decision={"external_report_made": True, "reason": "Reported"}))
    code, output = verify()
    assert code == 1
    assert "Audit chain OK" in output  # the trail itself is intact
    assert "Current state does NOT match the audit trail in 3 places" in output
    moved = _events(engine, "report.moved")[0]
    assert (f"near_miss_reports row {report_id} ({reference}): status is 'closed' in the "
            f"database, 'triaged' in the audit trail (event {moved})") in output
    created = _events(engine, "action.created")[0]
    assert (f"actions row {action_id} (Transfer card): status is 'verified_effective' in the "
            f"database, 'planned' in the audit trail (event {created})") in output
    decided = _events(engine, "escalation.decided")[0]
    assert f"escalations row {escalation_id} (safeguarding): decision is " in output
    assert f"in the audit trail (event {decided})" in output


def test_rows_added_or_removed_behind_the_portal_are_named(engine):
    _reference, _report_id, action_id, escalation_id = _world(engine)
    with read_session(engine) as session:
        action = session.get(Action, action_id)
        assert action is not None
        copied = {c.name: getattr(action, c.key) for c in Action.__table__.columns
                  if c.name != "id"}
    with engine.begin() as conn:
        injected = conn.execute(insert(Action).values(**{**copied, "title": "Injected"})
                                .returning(Action.id)).scalar_one()
        conn.execute(text("DELETE FROM notifications WHERE escalation_id = :e"),
                     {"e": escalation_id})
        conn.execute(text("DELETE FROM escalations WHERE id = :e"), {"e": escalation_id})
    code, output = verify()
    assert code == 1
    assert (f"actions row {injected} (Injected): (row) is present in the database, not "
            "recorded by any event of its own in the audit trail") in output
    assert f"escalations row {escalation_id}: (row) is missing in the database" in output


def test_a_clean_demo_verifies_with_no_false_alarms(engine):
    load_demo(engine, reports=400, seed=5)
    code, output = verify()
    assert code == 0, output
    assert "Current state matches the audit trail" in output
    assert "Loaded in bulk by the demo, with no event of their own (not compared): 400 " \
           "near_miss_reports" in output
    # Demo rows changed through the services afterwards are compared from then on.
    with read_session(engine) as session:
        quality = build_actor(session.scalars(select(User).where(User.username == "quality"))
                              .one(), rules=settings())
        new = session.scalars(select(NearMissReport).where(NearMissReport.status == "new")
                              .limit(1)).one()
        action_id = session.scalar(select(Action.id).where(Action.status == "in_progress")
                                   .order_by(Action.id).limit(1))
    triage_report(UnitOfWork(engine), quality, new.reference, TRIAGE,
                  expected_version=new.version_id, now=utcnow(), rules=settings())
    set_status(UnitOfWork(engine), quality, action_id, ActionStatus.STOPPED,
               note="Replaced by the new rota", now=utcnow())
    state = verify_state(engine)
    assert state.ok, [m.describe() for m in state.mismatches]
    assert state.compared["near_miss_reports"] == 1 and state.compared["actions"] >= 1
    assert state.bulk["near_miss_reports"] == 399
    with engine.begin() as conn:
        conn.execute(update(Action).where(Action.id == action_id).values(status="in_progress"))
        conn.execute(update(NearMissReport).where(NearMissReport.id == new.id)
                     .values(severity="high"))
    code, output = verify()
    assert code == 1
    assert f"actions row {action_id} " in output and "status is 'in_progress'" in output
    assert f"near_miss_reports row {new.id} ({new.reference}): severity is 'high'" in output


def test_verify_reads_each_table_once_whatever_its_size(engine):
    """One query per table and one for its events (and a look for a demo load), not one per
    row: the same statements for one report as for six."""
    from sqlalchemy import event as sa_event

    org = build_org(engine)
    file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                   now=utcnow(), rules=settings())
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        assert verify_state(engine).compared["near_miss_reports"] == 1
        one = list(statements)
        for _ in range(5):
            file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                           now=utcnow(), rules=settings())
        statements.clear()
        assert verify_state(engine).compared["near_miss_reports"] == 6
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert statements == one
    selects = [s for s in one if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3 * len(CHECKS)


def test_the_state_check_needs_no_key_but_the_chain_does(engine, monkeypatch):
    _world(engine)
    monkeypatch.delenv("NEARMISS_AUDIT_KEY")
    assert verify_state(engine).ok
    with pytest.raises(AuditKeyProblem):
        _chain(engine)
