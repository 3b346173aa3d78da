"""Commissioner evidence: nothing identifying in any output, small counts hidden, formulas
escaped, the pack's sections present, every view and export logged."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
import time_machine
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from core.accounts.users import NewUser, add_user
from core.actions.service import ActionDraft, MeasureDraft, PlanDraft, create_plan
from core.audit.models import AuditEvent
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.commissioner import views as cv
from core.commissioner.deid import Status
from core.commissioner.period import Period
from core.config import settings
from core.db import read_session
from core.exports.pack import export_tables
from core.exports.pack_pdf import build_pack
from core.exports.spreadsheet import to_csv, to_xlsx_book
from core.filing.service import file_near_miss
from core.metrics.governance import Scope
from core.organisation import service as org_service
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
                                                  display_name=SECRET_PERSON[0], now=utcnow())
        uow.commit()
    add_user(UnitOfWork(engine), SYSTEM, NewUser(
        SECRET_REPORTER[0], SECRET_REPORTER[1], "x", ("reporter",), ("Maple House",)),
        password_hash=PASSWORD_HASH, now=utcnow(), rules=settings())
    from core.accounts.service import build_actor
    from core.auth.models import User

    with read_session(engine) as session:
        reporter = build_actor(session.scalar(select(User).where(
            User.username == SECRET_REPORTER[0])), rules=settings())
    references = []
    for days in range(1, 70, 2):
        references.append(file_near_miss(UnitOfWork(engine), reporter, draft(
            org, person_id=person, description=f"{SECRET_TEXT} ({days})",
            occurred_at=local_now() - timedelta(days=days)),
                                         now=utcnow(), rules=settings()).reference)
    references.append(file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
        org, service_id=org.oak, location_id=org.oak_lounge, type_key="transport",
        description=FORMULA), now=utcnow(), rules=settings()).reference)
    create_plan(UnitOfWork(engine), org.actor("quality"), PlanDraft(
        title=f"Plan naming {SECRET_PERSON[0]}", theme=SECRET_TEXT,
        report_references=references[:3], actions=[ActionDraft(
            title=f"Talk to {SECRET_REPORTER[1]}", kind="checklist",
            owner_id=org.actor("quality").user_id,
            deadline=local_now().date() + timedelta(days=5),
            review_date=local_now().date() + timedelta(days=9),
            evidence_checks=["Card in place"])],
        measure=MeasureDraft()), now=utcnow(), rules=settings())
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
        pdf = build_pack(session, commissioner, period(), "board",  # forced to commissioner
                         now=utcnow(), rules=settings())
        sheets = export_tables(session, commissioner, period(), "board", rules=settings(),
                               now=utcnow())
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
    # The commissioner lands on Home; the evidence page is where these checks look.
    at = sign_in(new_app(), "commissioner").switch_page("pages/commissioner.py").run()
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


def test_small_counts_are_hidden_with_a_complement_labelled_suppressed(engine, seeded):
    commissioner = seeded.actor("commissioner")
    with read_session(engine) as session:
        by_service = cv.breakdown(session, commissioner, Scope(period().start, period().end),
                                  "service", rules=settings())
    counts = dict(by_service.rows)
    # 1 transport near miss at Oak Lodge: a small count.
    assert counts["Oak Lodge"].status is Status.SMALL
    assert counts["Oak Lodge"].text == "fewer than 5"
    # Maple House's 35 are hidden only so the total cannot give Oak Lodge's away: not "fewer
    # than 5", which would be untrue.
    assert counts["Maple House"].status is Status.SUPPRESSED
    assert counts["Maple House"].text == "suppressed"
    assert by_service.total.text == "36"


def _previous_quarter_start():
    today = local_now().date()
    this_quarter = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
    before = this_quarter - timedelta(days=1)
    return before.replace(month=3 * ((before.month - 1) // 3) + 1, day=1)


def test_the_page_shows_suppressed_with_a_footnote(engine):
    org = build_org(engine)
    start = _previous_quarter_start()  # the period the page opens on
    _file(engine, org, start + timedelta(days=20), 12)
    _file(engine, org, start + timedelta(days=30), 2, type_key="transport", service_id=org.oak,
          location_id=org.oak_lounge)
    # The commissioner lands on Home; the evidence page is where these checks look.
    at = sign_in(new_app(), "commissioner").switch_page("pages/commissioner.py").run()
    at.segmented_control(key="evidence_dimension").set_value("service").run()
    assert_no_exception(at)
    # The breakdown's table (each chart now has its table beside it: the trend's comes first).
    shown = next(d.value for d in at.dataframe if "Service" in d.value.columns)
    cells = dict(zip(shown["Service"], shown["Near misses"], strict=True))
    assert cells == {"Maple House": "suppressed", "Oak Lodge": "fewer than 5"}
    captions = [c.value for c in at.caption]
    footnote = next(c for c in captions if c.startswith('"suppressed"'))
    assert "protect another figure" in footnote and "0 or large" in footnote
    assert any(c.startswith('"fewer than 5"') and "from 1 to 4" in c for c in captions)
    # The tables over time say at which level they are published, and why.
    assert any(c.startswith(("By week", "By month", "By quarter")) for c in captions)


def test_board_spreadsheets_escape_formulas(engine, seeded):
    with read_session(engine) as session:
        sheets = export_tables(session, seeded.actor("quality"), period(), "board",
                               rules=settings(), now=utcnow())
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
        pdf = build_pack(session, seeded.actor("quality"), period(), "board", now=utcnow(),
                         rules=settings())
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for section in ("Near-miss governance pack", "Signals that need a decision",
                    "Evidence per action", "Headline figures", "Trend (control chart)",
                    "Action register", "Escalation timeliness", "Reporting culture",
                    "What changed because you reported", "Appendix: clusters and what was done"):
        assert section in text
    assert len(reader.pages) >= 2
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 3  # the charts are images


def test_views_and_exports_are_in_the_audit_trail(engine, seeded):
    # The commissioner lands on Home; the evidence page is where these checks look.
    at = sign_in(new_app(), "commissioner").switch_page("pages/commissioner.py").run()
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
        uow.record(SYSTEM, "test.actions_dated", "action", None, at=utcnow())
        uow.commit()
    with read_session(engine) as session:
        register = cv.action_register(session, seeded.actor("quality"), start=chosen.start,
                                      end=chosen.end, rules=settings())
        everything = cv.action_register(session, seeded.actor("quality"), rules=settings())
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
        uow.record(SYSTEM, "test.controls_live", "action", None, at=utcnow())
        uow.commit()
    with read_session(engine) as session:
        trend = cv.trend(session, seeded.actor("commissioner"),
                         Scope(today - timedelta(days=90), today + timedelta(days=1)),
                         now=utcnow(), rules=settings())
    assert trend.controls_live == MARKED_CONTROLS + 8
    assert len(trend.go_lives) == MARKED_CONTROLS
    assert trend.go_lives == sorted(trend.go_lives)


# -- truthful figures: levels, charts, percentages, rates ---------------------------------------

def _file(engine, org, when, count, **changes):
    for _ in range(count):
        file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
            org, occurred_at=datetime.combine(when, time(10)), **changes),
                       now=utcnow(), rules=settings())


def _last_complete_month():
    first_of_this = local_now().date().replace(day=1)
    first = (first_of_this - timedelta(days=1)).replace(day=1)
    return first, first_of_this


def test_a_month_with_every_week_large_enough_is_weekly(engine):
    org = build_org(engine)
    start, end = _last_complete_month()
    day = start
    while day < end:  # 5 near falls every week of the month, on its first day in the month
        if day == start or day.weekday() == 0:
            _file(engine, org, day, 5)
        day += timedelta(days=1)
    with read_session(engine) as session:
        tables = cv.type_tables(session, org.actor("commissioner"), Scope(start, end),
                                rules=settings())
    assert tables.level.level == "week" and tables.level.fits
    assert tables.level.explanation().startswith("By week: 0%")


def test_weeks_too_small_to_show_are_published_by_month_and_the_note_says_why(engine):
    org = build_org(engine)
    start, end = _last_complete_month()
    quarter = Period((start - timedelta(days=40)).replace(day=1), end, "three months")
    month = quarter.start
    while month < end:  # 3 a week (hidden by week), 6 a month (shown by month)
        _file(engine, org, month + timedelta(days=1), 3)
        _file(engine, org, month + timedelta(days=15), 3)
        month = (month + timedelta(days=32)).replace(day=1)
    with read_session(engine) as session:
        tables = cv.type_tables(session, org.actor("commissioner"),
                                Scope(quarter.start, quarter.end), rules=settings())
    assert tables.level.level == "month"
    assert tables.over_time.columns == tuple(
        f"{m:%Y-%m}" for m in sorted({quarter.start, quarter.start + timedelta(days=32),
                                       start}))
    assert tables.over_time.tally()["shown"] == 3
    text = tables.level.explanation()
    assert text.startswith("By month, because by week 100% (and some weekly totals)")
    assert "by month 0% are" in text


def test_when_even_the_coarsest_level_hides_most_cells_the_table_says_so(engine):
    org = build_org(engine)
    start, end = _last_complete_month()
    _file(engine, org, start + timedelta(days=2), 2)
    _file(engine, org, start + timedelta(days=3), 9, type_key="transport")
    _file(engine, org, start + timedelta(days=3), 12, type_key="medication_discrepancy")
    with read_session(engine) as session:
        tables = cv.type_tables(session, org.actor("commissioner"), Scope(start, end),
                                rules=settings())
    assert not tables.level.fits
    assert "says little" in tables.level.explanation()
    texts = [cell.text for cell in tables.over_time.all_cells()]
    assert "fewer than 5" in texts and "suppressed" in texts


def test_a_trend_with_small_months_draws_no_chart_and_says_why(engine):
    """A control chart cannot have gaps: small points are not dropped silently."""
    org = build_org(engine)
    today = local_now().date()
    monday = today - timedelta(days=today.weekday())
    _file(engine, org, monday - timedelta(weeks=3), 2)
    with read_session(engine) as session:
        trend = cv.trend(session, org.actor("commissioner"),
                         Scope(monday - timedelta(weeks=12), monday),
                         now=utcnow(), rules=settings())
    assert trend.frame.empty
    assert trend.note.startswith("No chart: even some months had from 1 to 4")


def test_a_trend_with_small_weeks_goes_monthly_and_says_why(engine):
    org = build_org(engine)
    start, _ = _last_complete_month()
    monday = start + timedelta(days=(7 - start.weekday()) % 7)
    _file(engine, org, monday, 3)
    _file(engine, org, monday + timedelta(days=7), 3)
    with read_session(engine) as session:
        trend = cv.trend(session, org.actor("commissioner"),
                         Scope(monday - timedelta(weeks=8), monday + timedelta(weeks=2)),
                         now=utcnow(), rules=settings())
    assert trend.granularity == "month" and not trend.frame.empty
    assert "some weeks had from 1 to 4" in trend.note
    assert (trend.frame["value"] != 0).any()


def test_a_share_resting_on_a_few_anonymous_reports_is_suppressed(engine, seeded):
    for _ in range(2):
        file_near_miss(UnitOfWork(engine), seeded.actor("quality"), draft(
            seeded, anonymous=True, occurred_at=local_now() - timedelta(days=3)),
                       now=utcnow(), rules=settings())
    with read_session(engine) as session:
        culture = cv.culture(session, seeded.actor("commissioner"),
                             Scope(period().start, period().end), rules=settings())
    assert culture.reports.text == "38"
    assert culture.anonymous_share.text == "suppressed"  # 2 of 38 would read "5%"


def test_a_rate_resting_on_a_few_near_misses_is_suppressed_in_the_register(engine, seeded):
    from core.actions.models import Action, VerificationMeasure

    today = local_now().date()
    with UnitOfWork(engine) as uow:
        action = uow.session.scalars(select(Action)).one()
        measure = uow.session.scalars(select(VerificationMeasure)).one()
        # Go-live 14 days ago, a 4-day test: 2 of the seeded near misses fall in it.
        action.go_live_date, action.test_window_days = today - timedelta(days=14), 4
        measure.baseline_value, measure.observed_value = 2.33, 3.5
        uow.record(SYSTEM, "test.measure_set", "action", action.id, at=utcnow())
        uow.commit()
    with read_session(engine) as session:
        register = cv.action_register(session, seeded.actor("commissioner"),
                                      start=period().start, end=period().end, rules=settings())
        board = cv.action_register(session, seeded.actor("quality"), start=period().start,
                                   end=period().end, suppress=False, rules=settings())
    assert register["Before (rate)"].iloc[0] == 2.33  # 28 near misses in the 12 weeks before
    assert register["During test (rate)"].iloc[0] == "suppressed"
    assert board["During test (rate)"].iloc[0] == 3.5


def test_the_evidence_page_is_cached_until_a_write(engine, seeded, monkeypatch):
    """A rerun reads the evidence from the cache, and so does a run minutes later (only the
    regulator clocks are computed again); a report filed meanwhile is counted at the next run
    all the same (every write bumps the data version, the cache's key)."""
    import ui.evidence

    computed, clocks = [], []
    real, real_clocks = ui.evidence.evidence_figures, ui.evidence.regulator_clocks
    monkeypatch.setattr(ui.evidence, "evidence_figures",
                        lambda *a, **k: computed.append(a[1]) or real(*a, **k))
    monkeypatch.setattr(ui.evidence, "regulator_clocks",
                        lambda *a, **k: clocks.append(a[1]) or real_clocks(*a, **k))
    # From the start of a minute, so the regulator clocks' minute (also in the key) holds.
    with time_machine.travel(utcnow().replace(second=0, microsecond=0), tick=True) as clock:
        at = sign_in(new_app(), "commissioner").switch_page("pages/commissioner.py").run()
        at.selectbox(key="evidence_period").set_value(0).run()  # this quarter, so far

        def in_the_period() -> int:
            [metric] = [m for m in at.metric if m.label == "Near misses in the period"]
            return int(metric.value)

        before, runs = in_the_period(), len(computed)
        at.run()
        assert (in_the_period(), len(computed)) == (before, runs)  # from the cache
        clock_runs = len(clocks)
        clock.shift(timedelta(minutes=2))  # the same day (the midnight guard leaves five)
        at.run()
        assert (in_the_period(), len(computed)) == (before, runs)  # the figures: the day's
        assert len(clocks) == clock_runs + 1  # the clocks: the minute's
        file_near_miss(UnitOfWork(engine), seeded.actor("reporter"), draft(seeded),
                       now=utcnow(), rules=settings())
        at.run()
        assert in_the_period() == before + 1
        assert len(computed) == runs + 1
