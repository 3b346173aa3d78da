"""`nearmiss reminders`: the daily reminders to action owners."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from core.clock import utcnow
from core.config import settings
from ops.cli.common import guard, ready_engine, say

_REMINDER_REASONS = {"overdue": "overdue", "due_soon": "due soon",
                     "verdict_due": "verdict due", "sustainment_due": "sustainment check due"}


def reminders(
    today: Annotated[datetime | None, typer.Option(
        "--today", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="Act as if today were this date (default: today in the provider's time "
             "zone).")] = None,
) -> None:
    """Remind action owners of overdue, due-soon, verdict-due and sustainment-due actions.

    Run it once a day (a systemd timer or a cron line such as `30 7 * * * nearmiss
    reminders`). Each owner gets an in-app notification per action, and an email when email
    is configured; an action is reminded at most once a day, so running it again the same
    day sends nothing.
    """
    from core.actions.reminders import send_action_reminders

    with guard():
        engine = ready_engine()
        result = send_action_reminders(engine, today=today.date() if today else None,
                                       now=utcnow(), rules=settings())
        day = f"{result.today:%Y-%m-%d}"
        for clock in result.clocks:  # regulator deadlines: before they pass, and after
            say(f"  Regulator clock ({clock.reason.replace('_', ' ')}): {clock.title}")
        if not result.sent:
            extra = (f" ({result.already_reminded} already reminded today)"
                     if result.already_reminded else "")
            say(f"No reminders to send for {day}{extra}.")
            return
        count = len(result.sent)
        say(f"Sent {count} reminder{'s' if count != 1 else ''} for {day}:")
        for reminder in result.sent:
            say(f"  {reminder.owner} ({_REMINDER_REASONS[reminder.reason]}): {reminder.title}")
        if result.already_reminded:
            say(f"{result.already_reminded} more already reminded today.")
        if result.emails is not None:
            sent, failed = len(result.emails.sent), len(result.emails.failed)
            say(f"Emails: {sent} sent" + (f", {failed} not sent (they stay queued and are "
                                          "retried)" if failed else "") + ".")
