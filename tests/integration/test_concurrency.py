"""Sixteen writers at a shift change, on SQLite and PostgreSQL: every report accepted is stored
exactly once with its audit event, nothing else is lost, and the audit chain verifies."""

from __future__ import annotations

from typer.testing import CliRunner

from ops.cli import app
from tests.builders import build_org
from tests.concurrency_workload import run_shift, what_was_stored

WRITERS = 16
SECONDS = 4.0


def test_sixteen_writers_lose_nothing_and_double_nothing(engine):
    org = build_org(engine)
    before = what_was_stored(engine)

    tally = run_shift(engine, org, writers=WRITERS, seconds=SECONDS)

    assert tally.errors == []
    stored = what_was_stored(engine)
    accepted = set(tally.filed.values())
    assert len(accepted) == len(tally.filed) > WRITERS  # every submission its own reference
    assert stored.reports == before.reports + len(accepted)
    assert stored.distinct_references == stored.reports
    # Reference numbers have no gaps and no repeats: no write half-happened.
    assert stored.reference_numbers == list(range(1, stored.reports + 1))
    # Each report filed has exactly one "filed" event; double clicks added none.
    assert tally.double_clicks > 0
    assert sum(stored.filed_events.values()) == stored.reports
    assert set(stored.filed_events.values()) == {1}
    assert stored.events_by_action["report.triaged"] == len(tally.triaged) > 0
    assert stored.events_by_action["action_plan.created"] == len(tally.plans) > 0
    assert stored.events_by_action["action.status_changed"] == tally.status_changes
    assert stored.chain_ok
    verified = CliRunner().invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and f"{stored.chain_events} events" in verified.output
    print(f"\n{engine.dialect.name}: {WRITERS} writers x {SECONDS:g} s: {tally.operations} "
          f"operations, {len(accepted)} reports, {len(tally.triaged)} triaged, "
          f"{len(tally.plans)} plans; retries {dict(tally.retries)}")
