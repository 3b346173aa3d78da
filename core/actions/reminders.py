"""Daily reminders to action owners (`nearmiss reminders`, run once a day by a timer).

An owner is told, at most once a day per action, when the action:

- is planned or in progress and overdue ("Overdue: ..."), or due within
  `actions.due_soon_days` ("Due in N days: ...");
- is in test and its test window has ended, so the verdict is due ("Verify: ..."), with what
  the numbers suggest; when they cannot tell yet, the test runs on and the verdict is due at
  the still-in-place check's date instead, when the evidence is looked at again;
- has a sustainment check due today or earlier that nobody has confirmed ("Still in place? ...").

Each reminder is an in-app notification (kind "action.reminder") and, when email is
configured, an email sent through the normal outbox. The message names the action, its plan,
the dates and the portal's address; it never quotes a report or the plan's theme, so it holds
no personal details of the people supported. One audit event records each run that sent
something. Running it twice on one day sends nothing the second time.

The same run sends the regulator-clock reminders (core/regulator/reminders.py: before a
reporting deadline and when it has passed, each once); as those deadlines are often counted in
hours, run it hourly where a jurisdiction's clocks are short: action owners still hear at most
once a day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from core.actions.measures import Evaluation, MeasureFilters, evaluate
from core.actions.models import Action, ActionPlan, SustainmentCheck, VerificationMeasure
from core.actions.queries import deadline_state
from core.actions.vocabulary import ActionStatus
from core.auth.actor import SYSTEM
from core.auth.models import User
from core.clock import to_local
from core.config import Settings
from core.escalation.email import DispatchResult, send_pending_emails
from core.escalation.service import notify
from core.regulator.reminders import ClockReminder, remind_clocks
from core.uow import UnitOfWork

REMINDER_KIND = "action.reminder"


@dataclass(frozen=True)
class Reminder:
    """One reminder sent: which action, to whom, why."""

    action_id: int
    owner_id: int
    owner: str  # display name
    reason: str  # overdue | due_soon | verdict_due | sustainment_due
    title: str
    notification_id: int


@dataclass
class ReminderResult:
    today: date
    sent: list[Reminder] = field(default_factory=list)
    already_reminded: int = 0  # due a reminder, but already reminded today
    emails: DispatchResult | None = None
    clocks: list[ClockReminder] = field(default_factory=list)  # regulator deadlines


def _day(d: date) -> str:
    return f"{d:%d %b %Y}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _evaluation(session: Session, action: Action, measure: VerificationMeasure | None,
                today: date, rules: Settings) -> Evaluation | None:
    if (measure is None or action.go_live_date is None
            or action.go_live_date + timedelta(days=action.test_window_days or 0) > today):
        return None
    return evaluate(session, MeasureFilters.from_json(measure.filters), per=measure.per,
                    direction=measure.direction, target=measure.target,
                    go_live=action.go_live_date, window_days=action.test_window_days or 0,
                    baseline_weeks=measure.baseline_weeks, today=today, rules=rules)


def _reason(action: Action, sustainment_due: date | None, today: date,
            rules: Settings, evaluation: Evaluation | None = None) -> str | None:
    status = ActionStatus(action.status)
    state = deadline_state(action.deadline, status, today, rules.actions.due_soon_days)
    if state is not None:
        return state
    if (status is ActionStatus.IN_TEST and action.go_live_date is not None
            and action.go_live_date + timedelta(days=action.test_window_days or 0) <= today):
        if (evaluation is not None and evaluation.look == "window"
                and evaluation.proposal.verdict == "too_early"):
            return None  # the test runs on to the second look: nothing to decide yet
        return "verdict_due"
    if (sustainment_due is not None and sustainment_due <= today
            and status is not ActionStatus.STOPPED):
        return "sustainment_due"
    return None


def _message(action: Action, plan_title: str, reason: str, sustainment_due: date | None,
             today: date, rules: Settings,
             evaluation: Evaluation | None = None) -> tuple[str, str]:
    """Title and body. Only the action's and plan's titles and dates: no report text."""
    lines = [f"Action: {action.title}", f"Plan: {plan_title}"]
    if reason == "overdue":
        late = (today - action.deadline).days
        title = f"Overdue: {action.title}"
        lines += [f"Deadline: {_day(action.deadline)} ({_plural(late, 'day')} ago)",
                  f"Review date: {_day(action.review_date)}",
                  "Finish it, record its evidence checks, or agree a new plan with your lead."]
    elif reason == "due_soon":
        days = (action.deadline - today).days
        when = {0: "Due today", 1: "Due tomorrow"}.get(days, f"Due in {days} days")
        title = f"{when}: {action.title}"
        lines += [f"Deadline: {_day(action.deadline)}",
                  f"Review date: {_day(action.review_date)}"]
    elif reason == "verdict_due":
        assert action.go_live_date is not None
        window_end = action.go_live_date + timedelta(days=action.test_window_days or 0)
        title = f"Verify: {action.title}"
        lines += [f"Went live: {_day(action.go_live_date)}",
                  f"Test window ended: {_day(window_end)}"]
        if evaluation is not None:  # counts and chance only: no report text
            lines.append(f"The numbers suggest: {evaluation.proposal.reason}")
        lines.append("Look at the measure and record whether the control worked.")
    else:
        assert sustainment_due is not None
        title = f"Still in place? {action.title}"
        lines += [f"Sustainment check due: {_day(sustainment_due)}",
                  "Check that the control is still in place and record what you saw."]
    lines.append(f"Open the action register in the portal: {rules.email.portal_url}")
    return title, "\n".join(lines)


def _candidates(session: Session, today: date, rules: Settings):
    """Actions that may need a reminder today, with plan title and pending sustainment date."""
    pending = (select(SustainmentCheck.action_id, func.min(SustainmentCheck.due_date).label("due"))
               .where(SustainmentCheck.confirmed_at.is_(None))
               .group_by(SustainmentCheck.action_id).subquery())
    open_statuses = (ActionStatus.PLANNED.value, ActionStatus.IN_PROGRESS.value)
    query = (
        select(Action, ActionPlan.title, pending.c.due, User, VerificationMeasure)
        .join(ActionPlan, ActionPlan.id == Action.plan_id)
        .join(User, User.id == Action.owner_id)
        .outerjoin(pending, pending.c.action_id == Action.id)
        .outerjoin(VerificationMeasure, VerificationMeasure.action_id == Action.id)
        .where(or_(
            Action.status.in_(open_statuses)
            & (Action.deadline <= today + timedelta(days=rules.actions.due_soon_days)),
            (Action.status == ActionStatus.IN_TEST.value) & Action.go_live_date.is_not(None)
            & (Action.go_live_date <= today),
            pending.c.due <= today))
        .order_by(Action.deadline, Action.id))
    return session.execute(query).all()


def send_action_reminders(engine: Engine | None = None, *, today: date | None = None,
                          rules: Settings, now: datetime) -> ReminderResult:
    """Remind owners of late, due-soon, verdict-due and sustainment-due actions (once a day)
    and deciders of regulator deadlines due soon or passed; then send queued emails.
    `today` defaults to `now`'s local day."""
    today = today or to_local(now, rules.zone).date()
    result = ReminderResult(today=today)
    with UnitOfWork(engine) as uow:
        session = uow.session
        for action, plan_title, sustainment_due, owner, measure in _candidates(session, today,
                                                                                rules):
            evaluation = (_evaluation(session, action, measure, today, rules)
                          if action.status == ActionStatus.IN_TEST.value else None)
            reason = _reason(action, sustainment_due, today, rules, evaluation)
            if reason is None or not owner.active:
                continue
            if action.last_reminded_on == today:
                result.already_reminded += 1
                continue
            # Claim the action for today; a concurrent run that got there first wins. A plain
            # UPDATE, so the action's version (optimistic locking) is not bumped.
            claimed = session.execute(
                update(Action)
                .where(Action.id == action.id, or_(Action.last_reminded_on.is_(None),
                                                   Action.last_reminded_on != today))
                .values(last_reminded_on=today)
                .execution_options(synchronize_session=False))
            if claimed.rowcount != 1:
                result.already_reminded += 1
                continue
            title, body = _message(action, plan_title, reason, sustainment_due, today, rules,
                                   evaluation)
            [note_id] = notify(uow, [owner], kind=REMINDER_KIND, title=title, body=body,
                               report_id=None, escalation_id=None, now=now, rules=rules)
            result.sent.append(Reminder(action.id, owner.id, owner.display_name, reason,
                                        title[:200], note_id))
        if result.sent:
            uow.record(SYSTEM, "action.reminders_sent", "action", None, at=now, after={
                "today": today,
                "reminders": [{"action_id": r.action_id, "owner_id": r.owner_id,
                               "reason": r.reason, "notification_id": r.notification_id}
                              for r in result.sent]})
        result.clocks = remind_clocks(uow, now=now, rules=rules)
        uow.commit()
    if result.sent or result.clocks:
        result.emails = send_pending_emails(engine, now=now, rules=rules)
    return result
