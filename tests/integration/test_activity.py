"""Weekly visits and shifts: the CSV import (all or nothing), the weeks read back, the CLI."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.actions.activity import activity_weeks, import_activity
from core.actions.models import ActivityCount
from core.audit.models import AuditEvent
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import DomainError
from ops.cli import app
from tests.builders import build_org
from tests.conftest import built_once
from tests.integration.test_reminders import local_today, make_action

runner = CliRunner(env={"COLUMNS": "200"})

GOOD = """\ufeffService,Week_Start,Visits,Shifts
Maple House,2025-03-03,120,42
maple  house,2025-03-10,,40
Eastside Home Care,2025-03-03,310,
"""

BAD = """service,week_start,visits,shifts
Maple House,2025-03-10,100,40
Maple House,2025-03-12,100,40
Birch Court,2025-03-10,10,
Oak Lodge,2025-03-10,-5,30
Oak Lodge,2025-03-17,,
Oak Lodge,10/03/2025,twelve,
"""


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def write(tmp_path: Path, text: str, name: str = "activity.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def stored(engine) -> dict[tuple[int, date], tuple[int | None, int | None]]:
    with read_session(engine) as session:
        return {(c.service_id, c.week_start): (c.visits, c.shifts)
                for c in session.scalars(select(ActivityCount))}


def import_events(engine) -> list[AuditEvent]:
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == "activity.imported").order_by(AuditEvent.seq)))


def test_a_good_file_inserts_then_updates_and_an_empty_cell_keeps_the_value(engine, org,
                                                                             tmp_path):
    result = import_activity(engine, write(tmp_path, GOOD), now=utcnow(), rules=settings())
    assert result.committed and not result.errors
    assert (result.rows, result.inserted, result.updated) == (3, 3, 0)
    assert stored(engine) == {
        (org.maple, date(2025, 3, 3)): (120, 42),
        (org.maple, date(2025, 3, 10)): (None, 40),
        (org.east, date(2025, 3, 3)): (310, None),
    }
    again = import_activity(engine, write(tmp_path, "service,week_start,visits\n"
                                                    "Maple House,2025-03-03,125\n"
                                                    "Maple House,2025-03-10,118\n"
                                                    "Eastside Home Care,2025-03-03,310\n"),
                            now=utcnow(), rules=settings())
    assert (again.inserted, again.updated, again.unchanged) == (0, 2, 1)
    assert stored(engine)[(org.maple, date(2025, 3, 3))] == (125, 42)  # shifts kept
    assert stored(engine)[(org.maple, date(2025, 3, 10))] == (118, 40)
    first, second = import_events(engine)
    assert first.actor == "system" and '"inserted":3' in first.after_json
    assert '"updated":2' in second.after_json and '"unchanged":1' in second.after_json

    with read_session(engine) as session:
        weeks = activity_weeks(session, [org.maple], date(2025, 3, 5), date(2025, 3, 20))
        everywhere = activity_weeks(session, (), date(2025, 3, 3), date(2025, 3, 3))
    assert [(w.week_start, w.visits, w.shifts, w.services_reporting) for w in weeks] == [
        (date(2025, 3, 3), 125, 42, 1), (date(2025, 3, 10), 118, 40, 1),
        (date(2025, 3, 17), None, None, 0)]
    assert [(w.visits, w.shifts, w.services_reporting) for w in everywhere] == [(435, 42, 2)]


def test_bad_lines_are_all_named_and_nothing_is_written(engine, org, tmp_path):
    result = import_activity(engine, write(tmp_path, BAD), now=utcnow(), rules=settings())
    assert not result.committed
    messages = [str(e) for e in result.errors]
    assert [e.line for e in result.errors] == [3, 4, 5, 6, 7, 7]
    assert messages[0] == ("line 3: week_start: 2025-03-12 is a Wednesday; a week starts on "
                           "a Monday (that week: 2025-03-10)")
    assert messages[1].startswith("line 4: service: unknown service 'Birch Court'")
    assert messages[2].startswith("line 5: visits: -5 is negative")
    assert messages[3] == "line 6: visits: give visits, shifts or both"
    assert messages[4] == "line 7: week_start: '10/03/2025' is not a date like 2025-03-10"
    assert messages[5] == "line 7: visits: 'twelve' is not a whole number"
    assert stored(engine) == {} and import_events(engine) == []


def test_a_repeated_week_and_a_week_to_come_are_refused(engine, org, tmp_path):
    result = import_activity(engine, write(tmp_path, "service,week_start,visits\n"
                                                     "Oak Lodge,2025-03-10,5\n"
                                                     "oak lodge,2025-03-10,6\n"
                                                     "Oak Lodge,2999-01-07,6\n"),
                             now=utcnow(), rules=settings())
    assert [str(e) for e in result.errors] == [
        "line 3: row: repeats the week 2025-03-10 of 'oak lodge' from line 2",
        "line 4: week_start: 2999-01-07 is a week still to come"]
    assert stored(engine) == {}


def test_create_missing_creates_the_service(engine, org, tmp_path):
    result = import_activity(engine, write(tmp_path, "service,week_start,shifts\n"
                                                     "Birch Court,2025-03-10,21\n"),
                             create_missing=True, now=utcnow(), rules=settings())
    assert result.committed and result.created == ["service 'Birch Court'"]
    assert list(stored(engine).values()) == [(None, 21)]


def test_a_file_without_the_columns_is_refused(engine, org, tmp_path):
    with pytest.raises(DomainError, match="line 1: missing required column week_start"):
        import_activity(engine, write(tmp_path, "service,visits\nMaple House,3\n"),
                        now=utcnow(), rules=settings())
    with pytest.raises(DomainError, match="unknown column 'hours'"):
        import_activity(engine, write(tmp_path, "service,week_start,hours\nMaple House,"
                                                "2025-03-10,3\n"), now=utcnow(), rules=settings())


# --------------------------------------------------------------------------- the CLI


def test_cli_activity_import(engine, org, tmp_path):
    good = runner.invoke(app, ["activity", "import", str(write(tmp_path, GOOD))])
    assert good.exit_code == 0, good.output
    assert "Imported 3 weeks of activity" in good.output and "3 added" in good.output

    bad = runner.invoke(app, ["activity", "import", str(write(tmp_path, BAD, "bad.csv"))])
    assert bad.exit_code == 1
    for line in (3, 4, 5, 6, 7):
        assert f"line {line}: " in bad.output
    assert "5 of 6 rows have problems, so nothing was imported" in bad.output
    assert len(stored(engine)) == 3


def test_cli_reminders(engine, org):
    make_action(engine, org, deadline_in=10)
    day = local_today().toordinal() + 12
    today = date.fromordinal(day).isoformat()
    sent = runner.invoke(app, ["reminders", "--today", today])
    assert sent.exit_code == 0, sent.output
    assert f"Sent 1 reminder for {today}:" in sent.output
    assert "Supervisor (overdue): Overdue: Fit a grab rail at the bathroom door" in sent.output
    again = runner.invoke(app, ["reminders", "--today", today])
    assert again.exit_code == 0
    assert f"No reminders to send for {today} (1 already reminded today)." in again.output
    wrong = runner.invoke(app, ["reminders", "--today", "13/03/2025"])
    assert wrong.exit_code == 2


def test_cli_help_documents_both_commands():
    assert "cron" in runner.invoke(app, ["reminders", "--help"]).output
    help_text = runner.invoke(app, ["activity", "import", "--help"]).output
    assert "week_start" in help_text and "Monday" in help_text
