"""The words of review: the leaders' questions and the communication audiences."""

from __future__ import annotations

CONTROL_RELIABLE = {"yes": "Yes, reliable", "partly": "Partly", "no": "No: it relied on luck or "
                    "on someone's vigilance"}
WOULD_WORK_AGAIN = {"yes": "Yes", "unsure": "Not sure", "no": "No"}
AUDIENCES = {
    "family": "Family",
    "representative": "Representative",
    "case_manager": "Case manager",
    "funder": "Funder / commissioner",
}
