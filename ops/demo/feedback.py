"""A published "what changed because you reported" update for every control that went live,
from the person who led the plan, linked to the plan's reports and the action."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta

from sqlalchemy import Engine, insert, select

from core.actions.models import Action, ActionPlan, ActionPlanReport
from core.actions.vocabulary import ActionStatus
from core.auth.actor import SYSTEM
from core.clock import to_utc, utcnow
from core.config import Settings
from core.feedback.models import (
    FeedbackUpdate,
    FeedbackUpdateAction,
    FeedbackUpdateReport,
    FeedbackUpdateRevision,
    FeedbackUpdateService,
)
from core.reports.models import NearMissReport
from core.uow import UnitOfWork
from ops.demo.data import demo_data

_WHY = demo_data().everyday.after_filing.feedback_why


def store_feedback(engine: Engine, *, now: datetime, rules: Settings) -> Counter[str]:
    """A published "what changed because you reported" update for every control that went
    live, linked to the plan's reports and the action, from the person who led the plan.

    Updates already there (a second load) are left alone; reporters are not notified (the
    demo's history is in the past)."""
    counts: Counter[str] = Counter()
    zone = rules.zone
    with UnitOfWork(engine) as uow:
        session = uow.session
        answered = set(session.scalars(select(FeedbackUpdateAction.action_id)))
        live = session.execute(
            select(Action.id, Action.title, Action.description, Action.go_live_date,
                   Action.plan_id, ActionPlan.theme, ActionPlan.created_by_id)
            .join(ActionPlan, ActionPlan.id == Action.plan_id)
            .where(Action.go_live_date.is_not(None),
                   Action.status.in_([ActionStatus.IN_TEST.value,
                                      ActionStatus.VERIFIED_EFFECTIVE.value]))
            .order_by(Action.id)).all()
        for action_id, title, description, go_live, plan_id, theme, author in live:
            if action_id in answered:
                continue
            published = to_utc(datetime.combine(go_live + timedelta(days=1), time(10)), zone)
            if published > now:
                continue
            reports = session.execute(
                select(NearMissReport.id, NearMissReport.service_id)
                .join(ActionPlanReport, ActionPlanReport.report_id == NearMissReport.id)
                .where(ActionPlanReport.plan_id == plan_id)).all()
            if not reports:
                continue
            why = _WHY.format(count=len(reports), es="" if len(reports) == 1 else "es",
                                       theme=theme.lower())
            update = FeedbackUpdate(
                title=title[:200], what_changed=description or title, why=why,
                status="published", published_at=published, published_by_id=author,
                created_by_id=author, created_at=published - timedelta(hours=2),
                updated_at=published, revision=1)
            session.add(update)
            session.flush()
            session.add(FeedbackUpdateRevision(
                update_id=update.id, revision=1, title=update.title,
                what_changed=update.what_changed, why=why, edited_by_id=author,
                edited_at=update.created_at))
            session.execute(insert(FeedbackUpdateReport.__table__), [
                {"update_id": update.id, "report_id": report_id} for report_id, _ in reports])
            session.add(FeedbackUpdateAction(update_id=update.id, action_id=action_id))
            session.execute(insert(FeedbackUpdateService.__table__), [
                {"update_id": update.id, "service_id": service_id}
                for service_id in sorted({service for _, service in reports})])
            counts["feedback_updates"] += 1
            counts["feedback_linked_reports"] += len(reports)
        uow.record(SYSTEM, "demo.feedback_loaded", "feedback_update", None,
                   after={"updates": counts["feedback_updates"],
                          "linked_reports": counts["feedback_linked_reports"]}, at=utcnow())
        uow.commit()
    return counts
