"""Filing near misses (the form and the CSV import) and a filed report with all that followed.

Filing reaches into triage (clusters, recurrence), escalation and feedback (the follow-up code),
so it sits above them; `core/reports/` below holds the report itself.
"""
