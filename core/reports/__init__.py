"""Near-miss reports: the table, the draft and its checks, the workflow (states and legal moves),
the helpers every use case that changes a report shares, and the reporter's own list."""

# Every session that writes reports keeps the day counts in step (core/reports/rollup.py):
# registered here, so that any import of the reports' tables brings the listener with it.
from core.reports import rollup as _rollup  # noqa: F401
