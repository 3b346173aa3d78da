"""The permission matrix, enforced in core: every write service is called by every role, and
every page is opened by every role. Commissioners and governance change nothing (beyond their
own password) and see no editing widget."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.accounts.users import (
    NewUser,
    add_user,
    change_password,
    set_user_active,
    update_user_access,
)
from core.actions.service import (
    ActionDraft,
    MeasureDraft,
    PlanDraft,
    add_actions,
    complete_evidence_check,
    create_plan,
    set_go_live,
    set_status,
)
from core.actions.verdicts import confirm_sustainment, confirm_verdict
from core.actions.vocabulary import ActionStatus
from core.auth.policy import PAGES, Capability, pages_for
from core.auth.roles import Role
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import PermissionDenied
from core.escalation.models import Escalation
from core.escalation.service import SafeguardingDecision, acknowledge, decide
from core.feedback.cues import restore_shipped_guide, save_guide
from core.feedback.service import UpdateDraft, create_update, edit_update, publish_update
from core.filing.service import file_near_miss
from core.reports.vocabulary import ReportStatus
from core.review.rca import RcaInput, complete_rca, open_rca, update_rca
from core.review.service import (
    CommunicationInput,
    ReviewInput,
    check_gate,
    close_report,
    finish_review,
    record_communication,
    record_evidence,
    reopen_report,
    save_review,
    start_review,
)
from core.taxonomy.admin import save_type, set_type_active
from core.taxonomy.service import live_taxonomy
from core.triage.service import TriageAnswers, reclassify_as_incident, triage_report
from core.uow import UnitOfWork
from tests.apptest_helpers import new_app, sign_in
from tests.builders import PASSWORD, build_org, draft, local_now

STAFF = {"reporter", "supervisor", "safeguarding", "clinical", "operations", "quality", "admin"}
LEADS = {"supervisor", "safeguarding", "clinical", "operations", "quality"}
EVERYONE = {r.value for r in Role}
TODAY = local_now().date()


@pytest.fixture(autouse=True)
def _today() -> None:
    """Today as each test starts: a run can cross local midnight."""
    global TODAY
    TODAY = local_now().date()

# Which roles may call each write service (the rest must get PermissionDenied).
EXPECTED: dict[str, set[str]] = {
    "file a near miss": STAFF,
    "triage": LEADS, "re-classify": LEADS, "start review": LEADS, "save review": LEADS,
    "tick a gate": LEADS, "record evidence": LEADS, "record communication": LEADS,
    "finish review": LEADS, "close": LEADS, "reopen": {"quality"},
    "acknowledge a safeguarding escalation": {"safeguarding"},
    "decide a safeguarding escalation": {"safeguarding"},
    "open an RCA": LEADS, "update an RCA": LEADS, "complete an RCA": LEADS,
    "create an action plan": LEADS, "add actions": LEADS,
    "change an action's status": LEADS, "set an action live": LEADS,
    "complete an evidence check": LEADS, "confirm a verdict": LEADS,
    "confirm sustainment": LEADS,
    "add a user": {"admin"}, "disable a user": {"admin"}, "change a user's access": {"admin"},
    "edit a near-miss type": {"admin"}, "retire a near-miss type": {"admin"},
    "change my own password": EVERYONE,
    "write a \"what changed\" update": {"quality", "supervisor"},
    "edit a \"what changed\" update": {"quality", "supervisor"},
    "publish a \"what changed\" update": {"quality", "supervisor"},
    "edit a cues guide": {"admin"}, "restore a shipped cues guide": {"admin"},
}


def scenario(engine, org):
    """Reports in each state the services need, an escalation, a plan, an RCA."""
    quality = org.actor("quality")

    def filed(**changes) -> str:
        return file_near_miss(UnitOfWork(engine), quality, draft(org, **changes),
                              now=utcnow(), rules=settings()).reference

    def version(reference: str) -> int:
        from core.reports.models import NearMissReport

        with read_session(engine) as session:
            return session.scalar(select(NearMissReport.version_id).where(
                NearMissReport.reference == reference))

    new = filed()
    in_review = filed()
    triage_report(UnitOfWork(engine), quality, in_review, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="single", severity="low",
        investigation="none", route="supervisor"), expected_version=1,
                  now=utcnow(), rules=settings())
    start_review(UnitOfWork(engine), quality, in_review, expected_version=version(in_review),
                 now=utcnow(), rules=settings())
    filed(type_key="safeguarding_rights",
          description="A visitor asked for her bank PIN; refused.")
    with read_session(engine) as session:
        escalation = session.scalar(select(Escalation.id).where(
            Escalation.kind == "safeguarding"))
    plan = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Plan", theme="Theme", report_references=[in_review], actions=[ActionDraft(
            title="Check card", kind="checklist", owner_id=quality.user_id,
            deadline=TODAY + timedelta(days=5), review_date=TODAY + timedelta(days=9),
            evidence_checks=["Card in place"])], measure=MeasureDraft()),
                       now=utcnow(), rules=settings())
    from core.actions.queries import plan_detail

    with read_session(engine) as session:
        check = plan_detail(session, quality, plan.plan_id, today=TODAY,
                            rules=settings()).actions[0].checks[0]
    rca = open_rca(UnitOfWork(engine), quality, title="Doorway", problem="Falls",
                   references=[in_review], now=utcnow(), rules=settings())
    return {"new": new, "in_review": in_review, "escalation": escalation,
            "plan": plan.plan_id, "action": plan.action_ids[0], "check": check.id, "rca": rca,
            "version": version}


def services(engine, org, s) -> dict[str, Callable]:
    answers = TriageAnswers(at_risk_now=False, safeguarding_trigger=False, recurrence="single",
                            severity="low", investigation="none", route="supervisor")
    spec = None
    with read_session(engine) as session:
        spec = live_taxonomy(session).type("other").model_dump(mode="json")
    later = TODAY + timedelta(days=5)

    def v(reference):
        return s["version"](reference)

    return {
        "file a near miss": lambda a: file_near_miss(UnitOfWork(engine), a, draft(org),
                                                     now=utcnow(), rules=settings()),
        "triage": lambda a: triage_report(UnitOfWork(engine), a, s["new"], answers,
                                          expected_version=v(s["new"]),
                                          now=utcnow(), rules=settings()),
        "re-classify": lambda a: reclassify_as_incident(
            UnitOfWork(engine), a, s["new"], reason="", expected_version=v(s["new"]),
                                                        now=utcnow(), rules=settings()),
        "start review": lambda a: start_review(UnitOfWork(engine), a, s["new"],
                                               expected_version=v(s["new"]),
                                               now=utcnow(), rules=settings()),
        "save review": lambda a: save_review(UnitOfWork(engine), a, s["in_review"],
                                             ReviewInput(), now=utcnow(), rules=settings()),
        "tick a gate": lambda a: check_gate(UnitOfWork(engine), a, s["in_review"],
                                            "person_remains_safe", note="ok", now=utcnow()),
        "record evidence": lambda a: record_evidence(UnitOfWork(engine), a, s["in_review"],
                                                     "near_miss_evidence", note="seen",
                                                     now=utcnow(), rules=settings()),
        "record communication": lambda a: record_communication(
            UnitOfWork(engine), a, s["in_review"], CommunicationInput(),
                                                               now=utcnow(), rules=settings()),
        "finish review": lambda a: finish_review(
            UnitOfWork(engine), a, s["in_review"], next_step=ReportStatus.VALIDATING,
            expected_version=v(s["in_review"]), now=utcnow(), rules=settings()),
        "close": lambda a: close_report(UnitOfWork(engine), a, s["in_review"], outcome="x",
                                        expected_version=v(s["in_review"]),
                                        now=utcnow(), rules=settings()),
        "reopen": lambda a: reopen_report(UnitOfWork(engine), a, s["in_review"], reason="x",
                                          expected_version=v(s["in_review"]),
                                          now=utcnow(), rules=settings()),
        "acknowledge a safeguarding escalation": lambda a: acknowledge(
            UnitOfWork(engine), a, s["escalation"], now=utcnow()),
        "decide a safeguarding escalation": lambda a: decide(
            UnitOfWork(engine), a, s["escalation"], SafeguardingDecision(None),
                                                             now=utcnow(), rules=settings()),
        "open an RCA": lambda a: open_rca(UnitOfWork(engine), a, title="", problem="",
                                          references=[s["in_review"]],
                                          now=utcnow(), rules=settings()),
        "update an RCA": lambda a: update_rca(UnitOfWork(engine), a, s["rca"], RcaInput(
            title="Doorway", problem="Falls", five_whys=["Walker parked by the bath"],
            contributing_factors=[], findings=""), now=utcnow(), rules=settings()),
        "complete an RCA": lambda a: complete_rca(UnitOfWork(engine), a, s["rca"], now=utcnow()),
        "create an action plan": lambda a: create_plan(UnitOfWork(engine), a, PlanDraft(),
                                                       now=utcnow(), rules=settings()),
        "add actions": lambda a: add_actions(UnitOfWork(engine), a, s["plan"], [],
                                             now=utcnow(), rules=settings()),
        "change an action's status": lambda a: set_status(
            UnitOfWork(engine), a, s["action"], ActionStatus.STOPPED, note="", now=utcnow()),
        "set an action live": lambda a: set_go_live(UnitOfWork(engine), a, s["action"],
                                                    later + timedelta(days=90),
                                                    now=utcnow(), rules=settings()),
        "complete an evidence check": lambda a: complete_evidence_check(
            UnitOfWork(engine), a, s["check"], note="", now=utcnow(), rules=settings()),
        "confirm a verdict": lambda a: confirm_verdict(UnitOfWork(engine), a, s["action"],
                                                       effective=True, note="",
                                                       now=utcnow(), rules=settings()),
        "confirm sustainment": lambda a: confirm_sustainment(UnitOfWork(engine), a, 999_999,
                                                             in_place=True, note="", now=utcnow()),
        "add a user": lambda a: add_user(UnitOfWork(engine), a, NewUser(
            "x", "", "", ()), now=utcnow(), rules=settings()),
        "disable a user": lambda a: set_user_active(UnitOfWork(engine), a, "nobody-here",
                                                    False, now=utcnow()),
        "change a user's access": lambda a: update_user_access(
            UnitOfWork(engine), a, "nobody-here", roles=(), services=(), now=utcnow()),
        "edit a near-miss type": lambda a: save_type(UnitOfWork(engine), a, spec, now=utcnow()),
        "retire a near-miss type": lambda a: set_type_active(UnitOfWork(engine), a,
                                                             "no_such_type", False, now=utcnow()),
        "change my own password": lambda a: change_password(UnitOfWork(engine), a, PASSWORD,
                                                            "short",
                                                            now=utcnow(), rules=settings()),
        "write a \"what changed\" update": lambda a: create_update(
            UnitOfWork(engine), a, UpdateDraft(), now=utcnow(), rules=settings()),
        "edit a \"what changed\" update": lambda a: edit_update(
            UnitOfWork(engine), a, 999_999, UpdateDraft(), expected_revision=1,
            now=utcnow(), rules=settings()),
        "publish a \"what changed\" update": lambda a: publish_update(
            UnitOfWork(engine), a, 999_999, now=utcnow(), rules=settings()),
        "edit a cues guide": lambda a: save_guide(UnitOfWork(engine), a, "no_such_guide", "",
                                                  now=utcnow()),
        "restore a shipped cues guide": lambda a: restore_shipped_guide(
            UnitOfWork(engine), a, "no_such_guide", now=utcnow()),
    }


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_write_service_follows_the_matrix(engine, role):
    org = build_org(engine)
    state = scenario(engine, org)
    actor = org.actor(role)
    allowed, denied = set(), set()
    for name, call in services(engine, org, state).items():
        try:
            call(actor)
        except PermissionDenied:
            denied.add(name)
        except Exception:
            allowed.add(name)
        else:
            allowed.add(name)
    expected = {name for name, roles in EXPECTED.items() if role in roles}
    assert allowed == expected, (f"{role}: allowed but should not be "
                                 f"{sorted(allowed - expected)}; refused but should be allowed "
                                 f"{sorted(expected - allowed)}")
    assert set(EXPECTED) == allowed | denied


EDITING = ("text_input", "text_area", "file_uploader", "data_editor", "number_input",
           "datetime_input", "date_input", "time_input")
READ_ONLY_BUTTONS = {"Sign out", "Build the pack"}
# Inputs that only shape a chart (nothing is stored from them).
VIEW_ONLY_INPUTS = {"trend_target"}


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_page_opens_for_its_roles_and_no_other(engine, role):
    build_org(engine)
    at = sign_in(new_app(), role)
    allowed = {page.path for page in pages_for([Role(role)]) if page.visible}
    for page in PAGES:
        if page.path not in allowed:
            if page.visible:
                with pytest.raises((ValueError, KeyError, RuntimeError)):
                    at.switch_page(page.path)
            continue
        at.switch_page(page.path).run()
        assert not at.exception, (role, page.path, [e.value for e in at.exception])
        if role in ("commissioner", "governance") and page.key != "account":
            widgets = [(kind, w.key) for kind in EDITING for w in getattr(at.main, kind)
                       if w.key not in VIEW_ONLY_INPUTS]
            assert widgets == [], (role, page.path, widgets)
            buttons = {b.label for b in at.button} - READ_ONLY_BUTTONS
            assert not buttons, (role, page.path, buttons)


def test_read_only_roles_hold_no_write_capability():
    writes = {c for c in Capability if c not in (
        Capability.VIEW_OWN_REPORTS, Capability.MANAGE_ACCOUNT, Capability.VIEW_BOARD,
        Capability.VIEW_REPORT, Capability.VIEW_ACTIONS, Capability.VIEW_GOVERNANCE,
        Capability.VIEW_COMMISSIONER_EVIDENCE, Capability.EXPORT_PACK)}
    from core.auth.policy import ROLE_CAPABILITIES

    for capability in writes:
        if capability.name.startswith("VIEW_"):
            continue
        holders = ROLE_CAPABILITIES[capability]
        assert Role.COMMISSIONER not in holders, capability
        assert Role.GOVERNANCE not in holders, capability
