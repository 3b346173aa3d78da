"""A provider whose every typed text is markup: for the tests that text is shown as typed.

`seed_hostile` builds it through the core services (as people would, audited): a service,
region, location, route, person, staff group and every user named HOSTILE; a near-miss type
whose name, description, field labels, help, options, gates and validation items are HOSTILE;
reports in every state with HOSTILE descriptions, safeguards, capture answers, triage notes,
review answers, gate notes, evidence notes, communications, escalation decisions and outcome;
root cause analyses, an action plan with its actions and evidence checks, a published "what
changed" update (also seen through a follow-up code) and the cues guides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, select

from core.accounts.service import build_actor
from core.accounts.users import NewUser, add_user
from core.actions.measures import MeasureFilters
from core.actions.models import Action, ActionEvidenceCheck
from core.actions.service import (
    ActionDraft,
    MeasureDraft,
    PlanDraft,
    complete_evidence_check,
    create_plan,
    set_go_live,
    set_status,
)
from core.actions.vocabulary import ActionStatus
from core.auth.actor import SYSTEM, Actor
from core.auth.models import User
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.escalation.models import Escalation
from core.escalation.service import (
    ClinicalReviewOutcome,
    InformationPathway,
    PersonSafeConfirmation,
    SafeguardingDecision,
    decide,
)
from core.feedback.cues import GUIDES, save_guide
from core.feedback.service import ThemeDraft, UpdateDraft, create_update, publish_update
from core.filing.service import file_near_miss
from core.organisation import service as org
from core.reports.drafts import NearMissDraft
from core.reports.models import NearMissReport
from core.reports.vocabulary import ReportStatus
from core.review.queries import review_view
from core.review.rca import RcaInput, complete_rca, open_rca, update_rca
from core.review.service import (
    CommunicationInput,
    ReviewInput,
    check_gate,
    close_report,
    finish_review,
    record_communication,
    record_evidence,
    save_review,
    start_review,
)
from core.taxonomy.admin import save_type
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from tests.builders import PASSWORD, PASSWORD_HASH, local_now

# Markdown and HTML that must never be interpreted: an image and a link to a closed port on
# the loopback address, HTML, emphasis, KaTeX and a Streamlit colour directive.
HOSTILE = ("![x](http://127.0.0.1:9/x.png) [y](http://127.0.0.1:9/y) <b>b</b> **s** $x^2$ "
           ":red[r]")
# A person's local reference holds at most 60 characters (PostgreSQL enforces it; SQLite, which
# the browser sweep uses, does not): there the reference is this shorter hostile text.
SHORT_HOSTILE = "![x](http://127.0.0.1:9/p.png) <b>b</b> **s** $x^2$ :red[r]"
TYPE_KEY = "hostile_type"
ROLES = ("reporter", "supervisor", "safeguarding", "clinical", "operations", "quality",
         "governance", "commissioner", "admin")


@dataclass
class HostileSeed:
    """What was made, for the tests to open."""

    service_id: int
    actors: dict[str, Actor]
    new: str = ""  # still new, escalations open
    decided: str = ""  # new, every escalation decided with HOSTILE notes
    in_review: str = ""  # under review, a gate still open
    closed: str = ""  # reviewed, gated, validated, communicated and closed
    anonymous: str = ""  # filed without a name
    follow_up_code: str = ""
    open_rca: int = 0
    completed_rca: int = 0
    plan_id: int = 0
    update_id: int = 0
    references: list[str] = field(default_factory=list)

    def actor(self, role: str) -> Actor:
        return self.actors[role]


def _hostile_type(engine: Engine, admin: Actor) -> None:
    """A type that is safeguarding, stop-the-line and clinical, every text HOSTILE."""
    save_type(UnitOfWork(engine), admin, {
        "key": TYPE_KEY, "name": HOSTILE, "description": HOSTILE,
        "route_to": "safeguarding", "stop_the_line": True, "safeguarding_signal": True,
        "clinical_advice": True, "active": True,
        "fields": [
            {"key": "where", "label": HOSTILE, "source": "location"},
            {"key": "said", "label": HOSTILE, "kind": "text", "capture": True, "help": HOSTILE},
            {"key": "story", "label": HOSTILE, "kind": "longtext", "capture": True,
             "help": HOSTILE},
            {"key": "pick", "label": HOSTILE, "kind": "choice", "capture": True,
             "options": [HOSTILE, "Something else"], "help": HOSTILE},
            {"key": "asked", "label": HOSTILE, "kind": "yes_no", "capture": True,
             "help": HOSTILE},
            {"key": "found", "label": HOSTILE, "kind": "longtext", "help": HOSTILE},
        ],
        "gates": [{"key": "made_safe", "label": HOSTILE, "help": HOSTILE},
                  {"key": "told_family", "label": HOSTILE, "may_be_not_applicable": True}],
        "validation": [{"key": "seen_in_place", "label": HOSTILE, "help": HOSTILE}],
    }, create=True, now=utcnow())


def _version(engine: Engine, reference: str) -> int:
    with read_session(engine) as session:
        return session.scalar(select(NearMissReport.version_id)
                              .where(NearMissReport.reference == reference))


def seed_hostile(engine: Engine) -> HostileSeed:
    """Build the hostile provider through the core services."""
    with UnitOfWork(engine) as uow:
        service = org.get_or_create_service(uow, SYSTEM, HOSTILE, region=HOSTILE, now=utcnow())
        location = org.get_or_create_location(uow, SYSTEM, service, HOSTILE, now=utcnow())
        route = org.get_or_create_route(uow, SYSTEM, service, HOSTILE, now=utcnow())
        reference = HOSTILE if engine.dialect.name == "sqlite" else SHORT_HOSTILE
        person = org.get_or_create_person(uow, SYSTEM, service, reference, display_name=HOSTILE,
                                          now=utcnow())
        group = org.get_or_create_staff_group(uow, SYSTEM, HOSTILE, now=utcnow())
        uow.commit()
    for role in ROLES:
        add_user(UnitOfWork(engine), SYSTEM, NewUser(
            username=role, display_name=HOSTILE, password=PASSWORD, roles=(role,),
            services=(HOSTILE,) if role in ("reporter", "supervisor") else (),
            email=f"{role}@example.org", staff_group=HOSTILE if role == "reporter" else None),
            password_hash=PASSWORD_HASH, now=utcnow(), rules=settings())
    with read_session(engine) as session:
        actors = {u.username: build_actor(u,
                                          rules=settings()) for u in session.scalars(select(User))}
    seed = HostileSeed(service_id=service, actors=actors)
    admin, reporter = seed.actor("admin"), seed.actor("reporter")
    supervisor, quality = seed.actor("supervisor"), seed.actor("quality")
    _hostile_type(engine, admin)
    for key in GUIDES:
        save_guide(UnitOfWork(engine), admin, key, HOSTILE, now=utcnow())

    def file(hours_ago: int, *, anonymous: bool = False) -> tuple[str, str | None]:
        filed = file_near_miss(UnitOfWork(engine), reporter, NearMissDraft(
            description=HOSTILE, type_key=TYPE_KEY,
            occurred_at=local_now() - timedelta(hours=hours_ago), service_id=service,
            location_id=location, barrier="staff_recovery", still_at_risk=True,
            immediate_safeguards=HOSTILE, person_id=person, route_id=route,
            staff_group_id=group, interface_flag="shift_handover", anonymous=anonymous,
            capture_fields={"said": HOSTILE, "story": HOSTILE, "pick": HOSTILE, "asked": True}),
                               now=utcnow(), rules=settings())
        return filed.reference, filed.follow_up_code

    seed.new, _ = file(30)
    seed.decided, _ = file(28)
    seed.in_review, _ = file(26)
    seed.closed, _ = file(24)
    seed.anonymous, code = file(22, anonymous=True)
    seed.follow_up_code = code or ""
    seed.references = [seed.new, seed.decided, seed.in_review, seed.closed, seed.anonymous]

    # Every escalation of one report decided, each note HOSTILE.
    decisions = {"safeguarding": SafeguardingDecision(
        external_report_made=True, reported_to=HOSTILE, reported_at=local_now(), reason=HOSTILE),
        "operations": InformationPathway(where_entered=HOSTILE,
                                         who_should_have_received=HOSTILE,
                                         failed_confirmation_step=HOSTILE, notes=HOSTILE),
        "clinical_review": ClinicalReviewOutcome(how="Telehealth consult", outcome=HOSTILE),
        "supervisor_alert": PersonSafeConfirmation(note=HOSTILE)}
    deciders = {"safeguarding": "safeguarding", "operations": "operations",
                "clinical_review": "clinical", "supervisor_alert": "supervisor"}
    with read_session(engine) as session:
        escalations = session.execute(
            select(Escalation.id, Escalation.kind).join(
                NearMissReport, NearMissReport.id == Escalation.report_id)
            .where(NearMissReport.reference == seed.decided)).all()
    for escalation_id, kind in escalations:
        decide(UnitOfWork(engine), seed.actor(deciders[kind]), escalation_id, decisions[kind],
               now=utcnow(), rules=settings())

    # Triage, review, gates, validation, communication and closure, every text HOSTILE.
    for reference in (seed.in_review, seed.closed):
        triage_report(UnitOfWork(engine), supervisor, reference, TriageAnswers(
            at_risk_now=True, immediate_safeguards=HOSTILE, safeguarding_trigger=False,
            recurrence="cluster", severity="high", investigation="root_cause_analysis",
            route="supervisor", notes=HOSTILE), expected_version=_version(engine, reference),
                      now=utcnow(), rules=settings())
        start_review(UnitOfWork(engine), supervisor, reference,
                     expected_version=_version(engine, reference), now=utcnow(), rules=settings())
        save_review(UnitOfWork(engine), supervisor, reference, ReviewInput(
            field_values={"said": HOSTILE, "story": HOSTILE, "pick": HOSTILE, "asked": True,
                          "found": HOSTILE}, what_stopped_harm=HOSTILE, control_reliable="no",
            would_work_again="unsure", would_work_again_note=HOSTILE,
            contributing_factors=["equipment"], barrier_class="staff_recovery",
            findings=HOSTILE), now=utcnow(), rules=settings())
        check_gate(UnitOfWork(engine), supervisor, reference, "told_family", note=HOSTILE,
                   not_applicable=True, now=utcnow())
    check_gate(UnitOfWork(engine), supervisor, seed.closed, "made_safe", note=HOSTILE, now=utcnow())
    finish_review(UnitOfWork(engine), supervisor, seed.closed,
                  next_step=ReportStatus.VALIDATING,
                  expected_version=_version(engine, seed.closed), now=utcnow(), rules=settings())
    record_communication(UnitOfWork(engine), supervisor, seed.closed, CommunicationInput(
        audience="family", communicated=True, what=HOSTILE,
        communicated_at=local_now() - timedelta(hours=1)), now=utcnow(), rules=settings())
    record_evidence(UnitOfWork(engine), supervisor, seed.closed, "seen_in_place", note=HOSTILE,
                    now=utcnow(), rules=settings())
    close_report(UnitOfWork(engine), supervisor, seed.closed, outcome=HOSTILE,
                 expected_version=_version(engine, seed.closed), now=utcnow(), rules=settings())
    with read_session(engine) as session:  # the review is what the page shows: check it took
        assert review_view(session, quality, seed.closed).outcome == HOSTILE

    # Root cause analyses: one completed (its findings feed the plan), one still open.
    seed.completed_rca = open_rca(UnitOfWork(engine), quality, title=HOSTILE, problem=HOSTILE,
                                  references=[seed.closed, seed.in_review],
                                  now=utcnow(), rules=settings())
    update_rca(UnitOfWork(engine), quality, seed.completed_rca, RcaInput(
        title=HOSTILE, problem=HOSTILE, five_whys=[HOSTILE, HOSTILE],
        contributing_factors=["equipment"], findings=HOSTILE), now=utcnow(), rules=settings())
    complete_rca(UnitOfWork(engine), quality, seed.completed_rca, now=utcnow())
    seed.open_rca = open_rca(UnitOfWork(engine), quality, title=HOSTILE, problem=HOSTILE,
                             references=[seed.new], now=utcnow(), rules=settings())
    update_rca(UnitOfWork(engine), quality, seed.open_rca, RcaInput(
        title=HOSTILE, problem=HOSTILE, five_whys=[HOSTILE], findings=HOSTILE),
               now=utcnow(), rules=settings())

    # An action plan: its title, theme, actions, evidence checks and measure all HOSTILE.
    today = local_now().date()
    owner = supervisor.user_id

    def action(kind: str) -> ActionDraft:
        return ActionDraft(title=HOSTILE, description=HOSTILE, kind=kind, owner_id=owner,
                           deadline=today + timedelta(days=7),
                           review_date=today + timedelta(days=21),
                           evidence_checks=[HOSTILE, HOSTILE + " 2"], verify_with_measure=True,
                           test_window_days=14)

    created = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title=HOSTILE, theme=HOSTILE, source="rca", rca_id=seed.completed_rca,
        report_references=[seed.closed], actions=[action("checklist"), action("training")],
        measure=MeasureDraft(filters=MeasureFilters(type_keys=(TYPE_KEY,),
                                                    capture={"said": HOSTILE}))),
                          now=utcnow(), rules=settings())
    seed.plan_id = created.plan_id
    live, stopped = created.action_ids
    with read_session(engine) as session:
        check_id = session.scalar(select(ActionEvidenceCheck.id).where(
            ActionEvidenceCheck.action_id == live).order_by(ActionEvidenceCheck.id))
    complete_evidence_check(UnitOfWork(engine), supervisor, check_id, note=HOSTILE,
                            now=utcnow(), rules=settings())
    set_go_live(UnitOfWork(engine), supervisor, live, today - timedelta(days=1),
                now=utcnow(), rules=settings())
    set_status(UnitOfWork(engine), quality, stopped, ActionStatus.STOPPED, note=HOSTILE,
               now=utcnow())
    with read_session(engine) as session:
        assert session.get(Action, live).status == ActionStatus.IN_TEST.value

    # A published "what changed" update (the reporters are told; the anonymous reporter sees
    # it through the follow-up code), and a draft.
    seed.update_id = create_update(UnitOfWork(engine), quality, UpdateDraft(
        title=HOSTILE, what_changed=HOSTILE, why=HOSTILE,
        report_references=[seed.closed, seed.anonymous], action_ids=[live],
        themes=[ThemeDraft(TYPE_KEY, service_id=service)], service_ids=[service]),
                                   now=utcnow(), rules=settings())
    publish_update(UnitOfWork(engine), quality, seed.update_id, now=utcnow(), rules=settings())
    create_update(UnitOfWork(engine), supervisor, UpdateDraft(
        title=HOSTILE, what_changed=HOSTILE, why=HOSTILE, report_references=[seed.new],
        service_ids=[service]), now=utcnow(), rules=settings())
    return seed
