"""Exports the portal hands out as files (CSV and Excel), made safe to open in a spreadsheet."""

from core.exports.spreadsheet import escape_formula, to_csv, to_xlsx

__all__ = ["escape_formula", "to_csv", "to_xlsx"]
