"""The action register as export rows (for `core.exports.to_csv` / `to_xlsx`).

Role scoping is done by `core.actions.queries.register`: the caller passes the rows the actor
may see, so an export never holds more than the register page shows.
"""

from __future__ import annotations

from core.actions.queries import RegisterRow

DEADLINE_STATE_LABELS = {"overdue": "Overdue", "due_soon": "Due soon"}

COLUMNS = ("Action", "Plan", "Owner", "Service", "Kind", "Strength", "Status", "Deadline",
           "Review date", "Go-live", "Test window ends", "Evidence checks", "Deadline state",
           "Sustainment check due")


def register_rows(rows: list[RegisterRow]) -> list[dict[str, object]]:
    """One export row per action, in the register's order, with the columns in COLUMNS.

    Dates stay dates (the spreadsheet writer formats them); evidence checks read "2 of 3"
    (a CSV cell "2/3" would be turned into a date by Excel).
    """
    return [{
        "Action": row.title,
        "Plan": row.plan_title,
        "Owner": row.owner,
        "Service": row.service or "",
        "Kind": row.kind,
        "Strength": row.strength.label,
        "Status": row.status.label,
        "Deadline": row.deadline,
        "Review date": row.review_date,
        "Go-live": row.go_live,
        "Test window ends": row.window_end,
        "Evidence checks": f"{row.checks_done} of {row.checks_total}",
        "Deadline state": DEADLINE_STATE_LABELS.get(row.deadline_state or "", ""),
        "Sustainment check due": row.sustainment_due,
    } for row in rows]
