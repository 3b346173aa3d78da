"""Commissioner evidence: nothing identifying in any output, small counts hidden, formulas
escaped, the pack's sections present, every view and export logged."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from core.actions.service import ActionDraft, MeasureDraft, PlanDraft, create_plan
from core.audit.models import AuditEvent
from core.auth.actor import SYSTEM
from core.auth.service import NewUser, add_user
from core.commissioner import views as cv
from core.commissioner.period import Period
from core.db import read_session
from core.exports.pack import build_pack, export_tables
from core.exports.spreadsheet import to_csv, to_xlsx_book
from core.metrics.governance import Scope
from core.organisation import service as org_service
from core.reports.service import file_near_miss
from core.uow import UnitOfWork
from tests.apptest_helpers import assert_no_exception, new_app, shown, sign_in
from tests.builders import PASSWORD_HASH, build_org, draft, local_now

SECRET_PERSON = ("Zebedee Quillfeather", "ZQ-7781")
SECRET_REPORTER = ("wilhelmina.x", "Wilhelmina Xanthippe")
SECRET_TEXT = "Marker-description-omega: the flat at 14 Larkspur Row"
FORMULA = "=HYPERLINK(\"http://evil.example\",\"click\")"


@pytest.fixture
def seeded(engine):
    org = build_org(engine)
    with UnitOfWork(engine) as uow:
        person = org_service.get_or_create_person(uow, SYSTEM, org.maple, SECRET_PERSON[1],
                                                  display_name=SECRET_PERSON[0])
        uow.commit()
    add_user(UnitOfWork(engine), SYSTEM, NewUser(
        SECRET_REPORTER[0], SECRET_REPORTER[1], "x", ("reporter",), ("Maple House",)),
        password_hash=PASSWORD_HASH)
    from core.auth.models import User
    from core.auth.service import build_actor

    with read_session(engine) as session:
        reporter = build_actor(session.scalar(select(User).where(
            User.username == SECRET_REPORTER[0])))
    references = []
    for days in range(1, 70, 2):
        references.append(file_near_miss(UnitOfWork(engine), reporter, draft(
            org, person_id=person, description=f"{SECRET_TEXT} ({days})",
            occurred_at=local_now() - timedelta(days=days))).reference)
    references.append(file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
        org, service_id=org.oak, location_id=org.oak_lounge, type_key="transport",
        description=FORMULA)).reference)
    create_plan(UnitOfWork(engine), org.actor("quality"), PlanDraft(
        title=f"Plan naming {SECRET_PERSON[0]}", theme=SECRET_TEXT,
        report_references=references[:3], actions=[ActionDraft(
            title=f"Talk to {SECRET_REPORTER[1]}", kind="checklist",
            owner_id=org.actor("quality").user_id,
            deadline=local_now().date() + timedelta(days=5),
            review_date=local_now().date() + timedelta(days=9),
            evidence_checks=["Card in place"])],
        measure=MeasureDraft()))
    return org


def period() -> Period:
    today = local_now().date()
    return Period(today - timedelta(days=90), today + timedelta(days=1), "the last 90 days")


SECRETS = [*SECRET_PERSON, *SECRET_REPORTER, "Marker-description-omega", "Larkspur",
           "Alex Example", "MH-01", "Jordan Sample", "OL-07"]


def assert_clean(text: str, where: str) -> None:
    found = [secret for secret in SECRETS if secret in text]
    assert not found, f"{where} leaks {found}"


def test_no_commissioner_export_identifies_anyone(engine, seeded):
    commissioner = seeded.actor("commissioner")
    with read_session(engine) as session:
        pdf = build_pack(session, commissioner, period(), "board")  # forced to commissioner
        sheets = export_tables(session, commissioner, period(), "board")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert_clean(text, "the PDF pack")
    workbook = load_workbook(io.BytesIO(to_xlsx_book(sheets)))
    cells = " ".join(str(cell.value) for sheet in workbook for row in sheet.iter_rows()
                     for cell in row if cell.value is not None)
    assert_clean(cells, "the XLSX")
    for name, rows in sheets.items():
        assert_clean(to_csv(rows).decode("utf-8-sig"), f"the CSV {name}")
    assert "Reports" not in sheets  # counts only, never the reports themselves


def test_no_commissioner_page_identifies_anyone(engine, seeded):
    at = sign_in(new_app(), "commissioner")
    assert_no_exception(at)
    seen = []
    for dimension in cv.DIMENSIONS:
        at.segmented_control(key="evidence_dimension").set_value(dimension).run()
        assert_no_exception(at)
        seen.append(_everything_shown(at))
    at.switch_page("pages/governance_pack.py").run()
    at.button(key="pack_build").click().run()
    assert_no_exception(at)
    seen.append(_everything_shown(at))
    assert_clean("\n".join(seen), "the commissioner's pages")


def _everything_shown(at) -> str:
    parts = []
    for kind in ("title", "caption", "markdown", "text", "metric", "success", "info",
                 "error", "warning"):
        parts += [shown(str(getattr(e, "value", "")) + str(getattr(e, "label", "")))
                  for e in getattr(at, kind)]
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    for chart in at.get("plotly_chart"):
        parts.append(chart.proto.spec)
    return "\n".join(parts)


def test_small_counts_are_hidden_with_a_complement(engine, seeded):
    commissioner = seeded.actor("commissioner")
    with read_session(engine) as session:
        by_service = cv.breakdown(session, commissioner, Scope(period().start, period().end),
                                  "service")
    counts = dict(by_service.rows)
    assert counts["Oak Lodge"] is None  # 1 transport near miss at Oak Lodge: hidden
    assert counts["Maple House"] is None  # its complement: else the total would reveal Oak's
    assert by_service.total == 36


def test_board_spreadsheets_escape_formulas(engine, seeded):
    with read_session(engine) as session:
        sheets = export_tables(session, seeded.actor("quality"), period(), "board")
    workbook = load_workbook(io.BytesIO(to_xlsx_book(sheets)))
    sheet = workbook["Reports"]
    header = [c.value for c in sheet[1]]
    column = header.index("What happened") + 1
    cells = [sheet.cell(row=r, column=column) for r in range(2, sheet.max_row + 1)]
    formula_cell = next(c for c in cells if "HYPERLINK" in str(c.value))
    assert formula_cell.value.startswith("'=") and formula_cell.data_type == "s"
    rows = list(csv.DictReader(io.StringIO(to_csv(sheets["Reports"]).decode("utf-8-sig"))))
    assert any(r["What happened"].startswith("'=HYPERLINK") for r in rows)


def test_the_pdf_has_its_sections_and_pages(engine, seeded):
    with read_session(engine) as session:
        pdf = build_pack(session, seeded.actor("quality"), period(), "board")
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for section in ("Near-miss governance pack", "Headline figures", "Trend (control chart)",
                    "Clusters and what was done", "Action register", "Escalation timeliness",
                    "Reporting culture", "What changed because you reported"):
        assert section in text
    assert len(reader.pages) >= 2
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 3  # the charts are images


def test_views_and_exports_are_in_the_audit_trail(engine, seeded):
    at = sign_in(new_app(), "commissioner")
    at.run()  # a rerun of the same view is not logged again
    at.switch_page("pages/governance_pack.py").run()
    at.button(key="pack_build").click().run()
    at.download_button(key="pack_pdf").click().run()
    with read_session(engine) as session:
        actions = dict(session.execute(select(AuditEvent.action, func.count()).where(
            AuditEvent.action.like("commissioner.%")).group_by(AuditEvent.action)).all())
    assert actions == {"commissioner.viewed": 1, "commissioner.exported": 1}


def test_the_register_holds_the_actions_live_in_the_period(engine, seeded):
    """A quarter's evidence lists the actions in hand or decided in it, not every action the
    provider ever had; a verdict recorded by status counts as one."""
    from core.actions.models import Action
    from core.actions.vocabulary import ActionStatus
    from core.clock import to_utc
    from core.config import settings as live_settings

    zone = live_settings().zone
    chosen = period()
    before = to_utc(datetime.combine(chosen.start - timedelta(days=30), time(10)), zone)
    inside = to_utc(datetime.combine(chosen.start + timedelta(days=10), time(10)), zone)
    with UnitOfWork(engine) as uow:
        (action,) = uow.session.scalars(select(Action)).all()
        template = {c.key: getattr(action, c.key) for c in Action.__table__.columns
                    if c.key not in ("id", "version_id")}

        def copy(title: str, status: ActionStatus, created, updated) -> None:
            uow.session.add(Action(**{**template, "title": title, "status": status.value,
                                      "created_at": created, "updated_at": updated}))

        copy("decided before", ActionStatus.VERIFIED_EFFECTIVE, before - timedelta(days=60),
             before)
        copy("decided inside", ActionStatus.VERIFIED_EFFECTIVE, before, inside)
        copy("stopped inside", ActionStatus.STOPPED, before, inside)
        copy("in hand since before", ActionStatus.IN_PROGRESS, before - timedelta(days=60),
             before)
        copy("not yet made", ActionStatus.PLANNED, inside + timedelta(days=200),
             inside + timedelta(days=200))
        uow.record(SYSTEM, "test.actions_dated", "action", None)
        uow.commit()
    with read_session(engine) as session:
        register = cv.action_register(session, seeded.actor("quality"), start=chosen.start,
                                      end=chosen.end)
        everything = cv.action_register(session, seeded.actor("quality"))
        titles = dict(session.execute(select(Action.id, Action.title)).all())
    shown = sorted(titles[i] for i in register.index)
    assert shown == sorted(["Talk to Wilhelmina Xanthippe", "decided inside", "stopped inside",
                            "in hand since before"])
    assert len(everything) == 6
    verdicts = dict(zip((titles[i] for i in register.index), register["Verdict"], strict=True))
    assert verdicts["decided inside"] == "effective"
    assert verdicts["in hand since before"] == ""


def test_the_trend_marks_at_most_twelve_controls(engine, seeded):
    """Hundreds of controls a quarter would bury the chart: the best evidenced are marked,
    and the trend says how many went live in all."""
    from core.actions.models import Action
    from core.metrics.governance import MARKED_CONTROLS

    today = local_now().date()
    with UnitOfWork(engine) as uow:
        (action,) = uow.session.scalars(select(Action)).all()
        template = {c.key: getattr(action, c.key) for c in Action.__table__.columns
                    if c.key not in ("id", "version_id")}
        for n in range(MARKED_CONTROLS + 8):
            uow.session.add(Action(**{**template, "status": "in_test",
                                      "go_live_date": today - timedelta(days=n + 1)}))
        uow.record(SYSTEM, "test.controls_live", "action", None)
        uow.commit()
    with read_session(engine) as session:
        trend = cv.trend(session, seeded.actor("commissioner"),
                         Scope(today - timedelta(days=90), today + timedelta(days=1)))
    assert trend.controls_live == MARKED_CONTROLS + 8
    assert len(trend.go_lives) == MARKED_CONTROLS
    assert trend.go_lives == sorted(trend.go_lives)
