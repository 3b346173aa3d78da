"""Use case: file a near miss (one transaction: the report, its reference, its audit event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.actions.episodes import serving_plan
from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.clock import to_local, to_utc
from core.config import Settings
from core.db import read_session
from core.errors import ValidationFailed, has_nul
from core.escalation.models import Escalation
from core.escalation.rules import needs_for_new_report
from core.escalation.service import raise_escalation
from core.feedback.followup import hash_code, new_follow_up_code
from core.organisation.queries import place_lookup
from core.reports.drafts import NearMissDraft, validate_draft
from core.reports.models import NearMissReport, ReferenceCounter
from core.reports.vocabulary import ReportStatus
from core.taxonomy.models import NearMissType
from core.taxonomy.schema import NearMissTypeSpec
from core.taxonomy.service import live_taxonomy
from core.triage.episodes import FilingClusters, assess_at_filing
from core.triage.recurrence import propose_recurrence, related_reports
from core.triage.vocabulary import Recurrence
from core.uow import UnitOfWork


@dataclass(frozen=True)
class FiledReport:
    """What the reporter is told at once."""

    id: int
    reference: str
    type_name: str
    still_at_risk: bool
    stop_the_line: bool
    duplicate: bool = False
    # Reported without a name: the private follow-up code, shown once and never stored.
    follow_up_code: str | None = None


def next_reference(session: Session, year: int, prefix: str) -> str:
    """Issue the next reference number of `year` (safe under concurrent filing)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(ReferenceCounter)
        .values(year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=[ReferenceCounter.year],
            set_={"last_value": ReferenceCounter.last_value + 1},
        )
        .returning(ReferenceCounter.last_value)
    )
    number = session.execute(statement).scalar_one()
    return f"{prefix}-{year}-{number:05d}"


def report_snapshot(report: NearMissReport) -> dict[str, Any]:
    """The audited state of a report (no reporter identity when reported without a name)."""
    return {
        "reference": report.reference,
        "type_key": report.type_key,
        "type_version": report.type_version,
        "description": report.description,
        "occurred_at": report.occurred_at,
        "reported_at": report.reported_at,
        "service_id": report.service_id,
        "location_id": report.location_id,
        "barrier": report.barrier,
        "still_at_risk": report.still_at_risk,
        "immediate_safeguards": report.immediate_safeguards,
        "person_id": report.person_id,
        "route_id": report.route_id,
        "staff_group_id": report.staff_group_id,
        "interface_flag": report.interface_flag,
        "capture_fields": report.capture_fields,
        "reporter_id": report.reporter_id,
        "status": report.status,
        "source": report.source,
    }


def mark_type_signals(report: NearMissReport, type_spec: NearMissTypeSpec) -> None:
    """The flags a new report takes from its type. Set them before the insert: set after it,
    they would count as a second version of the report."""
    report.stop_the_line = type_spec.stop_the_line
    report.safeguarding = type_spec.safeguarding_signal


def raise_new_report_escalations(uow: UnitOfWork, who: Actor | None, report: NearMissReport,
                                 type_spec: NearMissTypeSpec, *, now: datetime,
                                 rules: Settings) -> list[Escalation]:
    """Raise what a new report needs at once (safeguarding, a supervisor alert when someone is
    still at risk, a same-day clinical review, the operations pathway), with its notifications
    and its acknowledgement clock from `now`. The form and the CSV import both file through
    this, so an imported report is escalated exactly as a typed one. Call inside `with uow:`
    after the report is flushed."""
    return [raise_escalation(uow, who, report, need.kind, need.reason, now=now, rules=rules)
            for need in needs_for_new_report(type_spec, still_at_risk=report.still_at_risk,
                                             interface_flag=report.interface_flag)]


def _existing_submission(session: Session, key: str) -> FiledReport | None:
    row = session.execute(
        select(NearMissReport, NearMissType.name)
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .where(NearMissReport.submission_key == key)
    ).first()
    if row is None:
        return None
    report, type_name = row
    return FiledReport(report.id, report.reference, type_name, report.still_at_risk,
                       stop_the_line=False, duplicate=True)


def _assess_recurrence(uow: UnitOfWork, who: Actor | None, report: NearMissReport,
                       now: datetime, rules: Settings) -> FilingClusters:
    """Flag a report about to be filed as a repeat or part of a cluster (the board shows both
    at once), keeping the cluster episodes current (core.triage.episodes)."""
    related = related_reports(uow.session, report,
                              window_days=rules.triage.recurrence_window_days, limit=5)
    clusters = assess_at_filing(uow, who, report, now=now, rules=rules,
                                serving_plan=serving_plan)
    report.in_cluster = clusters.in_cluster
    report.is_repeat = clusters.in_cluster or propose_recurrence(
        related, None) is not Recurrence.SINGLE
    return clusters


def _check_submission_key(key: str | None) -> None:
    """The form's submission key is made by the form, never typed: a bad one is a broken
    client, refused before any query."""
    if key and (not isinstance(key, str) or len(key) > 64 or has_nul(key)):
        raise ValidationFailed({"submission_key": "This form is out of date: reload the page "
                                                  "and submit again."})


def _new_report(session: Session, actor: Actor, draft: NearMissDraft,
                capture: dict[str, Any], *, now: datetime, rules: Settings) -> NearMissReport:
    """The report row of a validated draft, numbered in the provider's local year, filed
    under the type's current version."""
    assert draft.type_key and draft.occurred_at
    zone = rules.zone
    type_row = session.get(NearMissType, draft.type_key)
    assert type_row is not None
    return NearMissReport(
        reference=next_reference(session, to_local(now, zone).year, rules.reference_prefix),
        type_key=draft.type_key,
        type_version=type_row.current_version,
        description=draft.description.strip(),
        occurred_at=to_utc(draft.occurred_at, zone).replace(second=0, microsecond=0),
        reported_at=now,
        service_id=draft.service_id,
        location_id=draft.location_id,
        barrier=draft.barrier,
        still_at_risk=draft.still_at_risk,
        immediate_safeguards=(draft.immediate_safeguards or "").strip() or None,
        person_id=draft.person_id,
        route_id=draft.route_id,
        staff_group_id=draft.staff_group_id,
        interface_flag=draft.interface_flag or None,
        capture_fields=capture,
        reporter_id=None if draft.anonymous else actor.user_id,
        status=ReportStatus.NEW.value,
        source="form",
        submission_key=draft.submission_key,
        language=draft.language,
    )


def file_near_miss(uow: UnitOfWork, actor: Actor, draft: NearMissDraft, *,
                   now: datetime, rules: Settings) -> FiledReport:
    """Validate and store a near miss; returns its reference number.

    The same `submission_key` filed twice (a double click, a page re-run) returns the first
    report instead of a second one.
    """
    require(actor, Capability.FILE_REPORT)
    zone = rules.zone
    _check_submission_key(draft.submission_key)
    try:
        with uow:
            session = uow.session
            if draft.submission_key:
                earlier = _existing_submission(session, draft.submission_key)
                if earlier is not None:
                    return earlier
            taxonomy = live_taxonomy(session)
            places = place_lookup(
                session, actor,
                location_ids={draft.location_id} - {None},  # type: ignore[operator]
                route_ids={draft.route_id} - {None},  # type: ignore[operator]
                person_ids={draft.person_id} - {None},  # type: ignore[operator]
            )
            errors, capture = validate_draft(draft, taxonomy=taxonomy, places=places,
                                             limits=rules.report, now_local=to_local(now, zone))
            if errors:
                raise ValidationFailed(errors)
            assert draft.type_key and draft.occurred_at and draft.barrier
            assert draft.service_id and draft.location_id and draft.still_at_risk is not None
            type_spec = taxonomy.type(draft.type_key)
            report = _new_report(session, actor, draft, capture, now=now, rules=rules)
            mark_type_signals(report, type_spec)
            # Without a name, a private code (only its hash kept) lets them hear what changed.
            follow_up_code = new_follow_up_code() if draft.anonymous else None
            if follow_up_code is not None:
                report.follow_up_code_hash = hash_code(follow_up_code)
            report.status_changed_at = now
            who = None if draft.anonymous else actor  # an anonymous report names no one
            # Flags first: setting them after the insert would count as a second version.
            clusters = _assess_recurrence(uow, who, report, now, rules)
            session.add(report)
            session.flush()
            uow.record(who, "report.filed", "near_miss_report", report.id, at=now,
                       after={**report_snapshot(report), "cluster_with": clusters.member_ids,
                              "clusters": clusters.episodes})
            raise_new_report_escalations(uow, who, report, type_spec, now=now, rules=rules)
            uow.commit()
            return FiledReport(report.id, report.reference, type_spec.name, report.still_at_risk,
                               stop_the_line=type_spec.stop_the_line,
                               follow_up_code=follow_up_code)
    except IntegrityError:
        # Two submissions with one key raced; the other one won. Report that one.
        if draft.submission_key:
            with read_session(uow.session.get_bind()) as session:
                earlier = _existing_submission(session, draft.submission_key)
            if earlier is not None:
                return earlier
        raise
