"""The weekly digest: the facts of a period for a quality lead's inbox or another system.

`digest(...)` returns plain JSON-ready data; `digest_markdown(...)` renders the same facts.
The keys are documented in the README ("Weekly digest").
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actions.evidence import chance_in_words
from core.actions.models import Action, ActionPlan, VerificationMeasure
from core.actions.vocabulary import ActionStatus
from core.auth.actor import Actor
from core.auth.models import User
from core.auth.policy import Capability, require
from core.clock import to_local
from core.config import Settings
from core.escalation.models import Escalation
from core.escalation.rules import EscalationKind
from core.metrics.clusters import clusters_in_period
from core.metrics.governance import Scope, breakdown, weekly_series
from core.reports.models import NearMissReport
from core.spc import SpcRules, xmr
from core.taxonomy.models import NearMissType
from core.weeks import local_midnight_utc, week_start_of

SPC_HISTORY_WEEKS = 52
SPC_MIN_TOTAL = 12  # a type with fewer reports a year gives no meaningful chart


def _spc_signals(session: Session, actor: Actor, start: date, end: date,
                 rules: Settings) -> list[dict[str, Any]]:
    # Complete weeks only: a week still under way would look like a sudden fall.
    complete_end = week_start_of(end)
    history = Scope(start=complete_end - timedelta(weeks=SPC_HISTORY_WEEKS), end=complete_end)
    series_list: list[tuple[str, list[str]]] = [("All near misses", [])]
    for key, name in session.execute(select(NearMissType.key, NearMissType.name)
                                     .order_by(NearMissType.position)):
        series_list.append((name, [key]))
    signals = []
    spc_rules = SpcRules(**rules.spc.model_dump())
    for name, types in series_list:
        scope = Scope(start=history.start, end=history.end, type_keys=tuple(types))
        series = weekly_series(session, actor, scope, rules=rules)
        if len(series) < 2 or series.sum() < SPC_MIN_TOTAL:
            continue
        frame = xmr(series, rules=spc_rules)
        for week, row in frame.iterrows():
            day = week.date()
            if start <= day + timedelta(days=6) and day < end and row["special_cause"]:
                signals.append({
                    "series": name, "week": day.isoformat(), "value": int(row["value"]),
                    "mean": round(float(row["mean"]), 2), "rule": row["rule"],
                    "side": "higher" if row["value"] > row["mean"] else "lower",
                    "provisional": bool(row["provisional"])})
    return signals


def _escalations(session: Session, actor: Actor, start: date, end: date,
                 rules: Settings, now: datetime) -> dict[str, Any]:
    query = (select(Escalation, NearMissReport.reference)
             .join(NearMissReport, NearMissReport.id == Escalation.report_id)
             .where(Escalation.raised_at >= local_midnight_utc(start, rules.zone),
                    Escalation.raised_at < local_midnight_utc(end, rules.zone))
             .order_by(Escalation.raised_at))
    if actor.service_ids is not None:
        query = query.where(NearMissReport.service_id.in_(actor.service_ids))
    items = []
    minutes = []
    for escalation, reference in session.execute(query):
        waited = None
        if escalation.acknowledged_at:
            waited = round((escalation.acknowledged_at - escalation.raised_at).total_seconds()
                           / 60, 1)
            minutes.append(waited)
        items.append({
            "reference": reference, "kind": escalation.kind,
            "kind_label": EscalationKind(escalation.kind).label,
            "raised_at": escalation.raised_at.isoformat(timespec="minutes"),
            "acknowledged_at": escalation.acknowledged_at.isoformat(timespec="minutes")
            if escalation.acknowledged_at else None,
            "minutes_to_acknowledge": waited,
            "late": (escalation.acknowledged_at or now) > escalation.due_at,
            "decided": escalation.decided_at is not None})
    return {"raised": len(items), "acknowledged": len(minutes),
            "median_minutes_to_acknowledge": round(median(minutes), 1) if minutes else None,
            "late": sum(1 for i in items if i["late"]), "items": items}


def _actions(session: Session, actor: Actor, start: date, end: date,
             rules: Settings) -> dict[str, Any]:
    visible = (Action.service_id.in_(actor.service_ids) | Action.service_id.is_(None)
               if actor.service_ids is not None else Action.id.is_not(None))
    overdue = [{
        "action": title, "plan": plan, "owner": owner, "deadline": deadline.isoformat(),
        "days_overdue": (end - deadline).days}
        for title, plan, owner, deadline in session.execute(
            select(Action.title, ActionPlan.title, User.display_name, Action.deadline)
            .join(ActionPlan, ActionPlan.id == Action.plan_id)
            .join(User, User.id == Action.owner_id)
            .where(visible, Action.deadline < end, Action.status.in_(
                (ActionStatus.PLANNED.value, ActionStatus.IN_PROGRESS.value)))
            .order_by(Action.deadline))]
    verified = [{
        "action": title, "plan": plan, "verdict": verdict,
        "confirmed_at": confirmed.isoformat(timespec="minutes"),
        "baseline": baseline, "observed": observed,
        # The evidence as proposed then: counts, the chance of such a change with no real
        # change, and whether "effective" was confirmed against the numbers (with a reason).
        "proposed": proposed, "baseline_count": baseline_count,
        "observed_count": observed_count, "p_value": p_value,
        "against_proposal": verdict == "effective" and proposed != "effective"}
        for (title, plan, verdict, confirmed, baseline, observed, proposed, baseline_count,
             observed_count, p_value) in session.execute(
            select(Action.title, ActionPlan.title, VerificationMeasure.confirmed_verdict,
                   VerificationMeasure.confirmed_at, VerificationMeasure.baseline_value,
                   VerificationMeasure.observed_value, VerificationMeasure.proposed_verdict,
                   VerificationMeasure.baseline_count, VerificationMeasure.observed_count,
                   VerificationMeasure.p_value)
            .join(ActionPlan, ActionPlan.id == Action.plan_id)
            .join(VerificationMeasure, VerificationMeasure.action_id == Action.id)
            .where(visible, VerificationMeasure.confirmed_at >= local_midnight_utc(
                start, rules.zone), VerificationMeasure.confirmed_at < local_midnight_utc(
                end, rules.zone))
            .order_by(VerificationMeasure.confirmed_at))]
    return {"overdue": overdue, "verified": verified}


def digest(session: Session, actor: Actor, start: date, end: date, *,
           rules: Settings, now: datetime) -> dict[str, Any]:
    """The period's facts: totals, clusters, SPC signals, escalations, actions.

    `end` is inclusive (a digest "from Monday to Sunday").
    """
    require(actor, Capability.VIEW_GOVERNANCE)
    if end < start:
        raise ValueError("the period ends before it starts")
    stop = end + timedelta(days=1)
    scope = Scope(start=start, end=stop)
    by_type = breakdown(session, actor, scope, "type", rules=rules)
    by_service = breakdown(session, actor, scope, "service", rules=rules)
    clusters = clusters_in_period(session, actor, start, stop, rules=rules, now=now)
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat(),
                   "timezone": rules.timezone},
        "generated_at": to_local(now, rules.zone).isoformat(timespec="minutes"),
        "provider": rules.provider_name,
        "totals": {
            "near_misses": int(by_type["count"].sum()) if not by_type.empty else 0,
            "by_type": {k: int(v) for k, v in zip(by_type["key"], by_type["count"],
                                                  strict=True)},
            "by_service": {k: int(v) for k, v in zip(by_service["key"], by_service["count"],
                                                     strict=True)},
        },
        "clusters": [{
            "episode": c.episode_id, "status": c.status.value,
            "type": c.type_name, "type_key": c.type_key, "scope": c.scope,
            "where": c.scope_name, "from": c.start.isoformat(), "to": c.end.isoformat(),
            "opened_on": c.opened_on.isoformat(), "ongoing": c.ongoing,
            "window_days": c.window_days, "peak_in_window": c.peak,
            "usual_per_window": c.usual, "threshold": c.threshold,
            "references": list(c.references), "action_status": c.action_status}
            for c in clusters],
        "spc_signals": _spc_signals(session, actor, start, stop, rules),
        "escalations": _escalations(session, actor, start, stop, rules, now),
        "actions": _actions(session, actor, start, stop, rules),
    }


def _evidence(verified: dict[str, Any]) -> str:
    """' (3 before, 0 during; chance about 1 time in 40)' for a digest line."""
    if verified.get("baseline_count") is None:
        return ""
    words = f"{verified['baseline_count']} before, {verified['observed_count']} during"
    if verified.get("p_value") is not None:
        words += f"; by chance {chance_in_words(verified['p_value'])}"
    if verified.get("against_proposal"):
        proposed = (verified.get("proposed") or "none").replace("_", " ")
        words += f"; confirmed against the proposal “{proposed}”, with a reason"
    return f" ({words})"


def digest_markdown(facts: dict[str, Any]) -> str:
    """The digest as Markdown for an email (the names and references only, no free text)."""
    period = facts["period"]
    lines = [f"# Near-miss digest: {period['from']} to {period['to']}",
             f"{facts['provider']} · generated {facts['generated_at']} ({period['timezone']})",
             "", f"**{facts['totals']['near_misses']} near misses** reported in the period.", ""]
    if facts["totals"]["by_type"]:
        lines += ["## By type", "", "| Type | Near misses |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in facts["totals"]["by_type"].items()]
        lines += ["", "## By service", "", "| Service | Near misses |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in facts["totals"]["by_service"].items()]
    lines += ["", "## Clusters (open first)", ""]
    lines += ([f"- {c['status'].upper()}: **{c['type']}** in {c['where']} ({c['scope']}), "
               f"{c['from']} to {c['to']}{' (ongoing)' if c['ongoing'] else ''}: "
               f"{c['peak_in_window']} in {c['window_days']} days where "
               f"{c['usual_per_window']} is usual. Reports: {', '.join(c['references'])}. "
               f"Action: {c['action_status'] or 'none yet'}." for c in facts["clusters"]]
              or ["No clusters in the period."])
    lines += ["", "## Control chart signals", ""]
    lines += ([f"- {s['series']}, week of {s['week']}: {s['value']} ({s['side']} than the mean "
               f"{s['mean']}): {s['rule']}" + (" (provisional limits)" if s["provisional"]
                                               else "") for s in facts["spc_signals"]]
              or ["No special-cause variation in the period."])
    escalations = facts["escalations"]
    lines += ["", "## Escalations", "",
              f"{escalations['raised']} raised, {escalations['acknowledged']} acknowledged, "
              f"median {escalations['median_minutes_to_acknowledge'] or '—'} minutes to "
              f"acknowledge, {escalations['late']} late.", ""]
    lines += [f"- {i['reference']} · {i['kind_label']} · raised {i['raised_at']} · "
              + (f"acknowledged after {i['minutes_to_acknowledge']} min"
                 if i["acknowledged_at"] else "NOT acknowledged")
              + (" · late" if i["late"] else "") for i in escalations["items"]]
    actions = facts["actions"]
    lines += ["", "## Actions", "", f"**Overdue ({len(actions['overdue'])})**", ""]
    lines += ([f"- {a['action']} ({a['plan']}), owner {a['owner']}, due {a['deadline']} "
               f"({a['days_overdue']} days overdue)" for a in actions["overdue"]]
              or ["None."])
    lines += ["", f"**Verified in the period ({len(actions['verified'])})**", ""]
    lines += ([f"- {a['action']} ({a['plan']}): {a['verdict'].replace('_', ' ')} on "
               f"{a['confirmed_at']}{_evidence(a)}" for a in actions["verified"]] or ["None."])
    return "\n".join(lines) + "\n"
