"""Safe spreadsheet export, shared by every export in the portal.

Text in the portal is stored exactly as typed, so a description may start with `=`, `+`, `-`
or `@`. A spreadsheet opening an export would run such a cell as a formula (CSV injection:
`=HYPERLINK(...)` can leak data, `=cmd|...` can start programs). Every text cell is therefore
made inert on the way out, as OWASP recommends: prefixed with a single quote `'`. In the Excel
file, text cells are also written as plain strings, so nothing in it is ever a formula.

- `to_csv`: UTF-8 with a byte-order mark (so Excel shows accented text right), header from the
  first row's keys, dates as ISO 8601 (`2025-03-14`, `2025-03-14 09:30:00`), optional notes
  at the foot (after an empty line).
- `to_xlsx`: one sheet, bold frozen header, sensible column widths, dates as real dates.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

# What makes a spreadsheet treat a cell as a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@")
CONTROL_STARTS = ("\t", "\r")
XLSX_MAX_CELL_CHARS = 32_767  # Excel refuses (and "repairs") longer cells
MIN_WIDTH, MAX_WIDTH = 8, 60
_SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")
WRAP = Alignment(wrap_text=True, vertical="top")

Row = dict[str, object]


def escape_formula(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, made inert with a leading `'`.

    Text starting with =, +, -, @ (after leading whitespace), or with a tab or carriage return,
    is prefixed with a single quote. Other values pass through unchanged; None becomes "".
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    if value.startswith(CONTROL_STARTS) or value.lstrip().startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _header(rows: list[Row]) -> list[str]:
    return [str(key) for key in rows[0]] if rows else []


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return escape_formula(value)


def to_csv(rows: list[Row], notes: Sequence[str] = ()) -> bytes:
    """The rows as CSV bytes: UTF-8 with a BOM, header first, every cell escaped.

    `notes` go at the foot, after one empty line, under the heading "Notes", one per line in
    the first column: a spreadsheet shows them under the table as a printed footnote, while
    the header stays on the first line and a program reading the table stops at the empty
    line. (Lines starting with "#" would not do: spreadsheets show them as data.)
    """
    header = _header(rows)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    if header:
        writer.writerow([escape_formula(name) for name in header])
    for row in rows:
        writer.writerow([_csv_cell(row.get(name)) for name in header])
    if notes:
        writer.writerow([])
        writer.writerow(["Notes"])
        for note in notes:
            writer.writerow([escape_formula(note)])
    return buffer.getvalue().encode("utf-8-sig")


def _sheet_title(sheet: str) -> str:
    title = _SHEET_TITLE_BAD.sub(" ", sheet).strip().strip("'")[:31].strip()
    return title or "Sheet1"


def _xlsx_text(value: str) -> str:
    # Characters XML cannot hold (control characters other than tab and line ends) are dropped,
    # then the text is escaped (a leading carriage return counts), then line ends become "\n"
    # as Excel keeps them in a cell (XML would turn a bare "\r" into "\n" anyway).
    text = escape_formula(ILLEGAL_CHARACTERS_RE.sub("", value))
    return text.replace("\r\n", "\n").replace("\r", "\n")[:XLSX_MAX_CELL_CHARS]


def _write_cell(cell: Any, value: Any) -> int:
    """Write one value; returns its display width (for the column width)."""
    if value is None:
        cell.value = None
        return 0
    if isinstance(value, bool):
        cell.value = "yes" if value else "no"
        cell.data_type = "s"
        return 3
    if isinstance(value, datetime):
        cell.value = value.replace(tzinfo=None)
        cell.number_format = "yyyy-mm-dd hh:mm"
        return 16
    if isinstance(value, date):
        cell.value = value
        cell.number_format = "yyyy-mm-dd"
        return 10
    if isinstance(value, int | float | Decimal):
        cell.value = value
        return len(str(value))
    text = _xlsx_text(value if isinstance(value, str) else str(value))
    cell.value = text
    cell.data_type = "s"  # never a formula, whatever the text holds
    if len(text) > MAX_WIDTH:  # a long note stays readable in its column
        cell.alignment = WRAP
    return max((len(line) for line in text.splitlines()), default=0)


def _fill_sheet(worksheet: Any, rows: list[Row]) -> None:
    header = _header(rows)
    widths = [0] * len(header)
    bold = Font(bold=True)
    for column, name in enumerate(header, start=1):
        cell = worksheet.cell(row=1, column=column)
        widths[column - 1] = _write_cell(cell, name)
        cell.font = bold
    for row_number, row in enumerate(rows, start=2):
        for column, name in enumerate(header, start=1):
            width = _write_cell(worksheet.cell(row=row_number, column=column), row.get(name))
            widths[column - 1] = max(widths[column - 1], width)
    for column, width in enumerate(widths, start=1):
        worksheet.column_dimensions[get_column_letter(column)].width = \
            min(max(width + 2, MIN_WIDTH), MAX_WIDTH)
    if header:
        worksheet.freeze_panes = "A2"
        worksheet.auto_filter.ref = worksheet.dimensions


def to_xlsx(rows: list[Row], sheet: str = "Actions") -> bytes:
    """The rows as an Excel workbook: bold frozen header, dates as dates, no formulas."""
    return to_xlsx_book({sheet: rows})


def to_xlsx_book(sheets: dict[str, list[Row]]) -> bytes:
    """Several tables as the sheets of one workbook (same rules as to_xlsx)."""
    workbook = Workbook()
    first = True
    for title, rows in sheets.items():
        worksheet = workbook.active if first else workbook.create_sheet()
        first = False
        worksheet.title = _sheet_title(title)
        _fill_sheet(worksheet, rows)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
