"""Triage: the workflow state machine, the severity x recurrence matrix, recurrence and clusters."""
