"""Every write service leaves a complete audit trail, and tampering with it is caught.

Each write service is called once with valid input by a role allowed to use it. The call must
add exactly one "primary" event named after the use case, with the acting person (or the
system, or an anonymous reporter) and the state before and/or after; any other event it adds
must be one of the secondary events listed for it below. Then the audit table is edited behind
the portal's back (as someone with database access could) and `nearmiss audit verify` must fail,
naming the event that was changed or removed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from core.accounts.service import SignInRefused, bind_session_cookie, sign_in, sign_out
from core.accounts.users import (
    NewUser,
    add_user,
    change_password,
    set_language,
    set_user_active,
    update_user_access,
)
from core.actions.activity import import_activity_bytes
from core.actions.episodes import serving_plan
from core.actions.models import ActionEvidenceCheck, SustainmentCheck
from core.actions.reminders import send_action_reminders
from core.actions.service import (
    ActionDraft,
    PlanCreated,
    PlanDraft,
    add_actions,
    complete_evidence_check,
    create_plan,
    set_go_live,
    set_status,
)
from core.actions.verdicts import confirm_sustainment, confirm_verdict
from core.actions.vocabulary import ActionStatus
from core.audit.chain import verify_chain
from core.audit.models import AuditEvent
from core.auth.actor import SYSTEM, UNAUTHENTICATED, Actor
from core.clock import utcnow
from core.commissioner.access import record_access
from core.config import settings
from core.db import is_sqlite, read_session
from core.escalation.email import send_pending_emails
from core.escalation.models import Escalation, Notification
from core.escalation.service import SafeguardingDecision, acknowledge, decide, mark_read
from core.feedback.cues import restore_shipped_guide, save_guide
from core.feedback.followup import look_up_follow_up
from core.feedback.service import UpdateDraft, create_update, edit_update, publish_update
from core.filing.importer import import_bytes
from core.filing.service import file_near_miss
from core.integrity.seal import seal_trail
from core.integrity.state import verify_state
from core.organisation import service as organisation
from core.regulator.demo_history import record_demo_clocks
from core.regulator.models import RegulatorClock
from core.regulator.service import decide_reportable, record_clock_met
from core.reports.models import NearMissReport
from core.reports.vocabulary import ReportStatus
from core.review.queries import review_view
from core.review.rca import (
    RcaInput,
    add_reports,
    complete_rca,
    open_rca,
    remove_report,
    update_rca,
)
from core.review.responses import (
    choose_full_rca,
    complete_response,
    save_answers,
    start_response,
)
from core.review.service import (
    CommunicationInput,
    ReviewInput,
    check_gate,
    close_report,
    finish_review,
    move_to_validating,
    record_communication,
    record_evidence,
    reopen_report,
    save_review,
    start_review,
)
from core.taxonomy.admin import save_type, set_type_active
from core.taxonomy.service import live_taxonomy, load_taxonomy_file, sync_taxonomy
from core.triage.episode_decisions import acknowledge_episode, dismiss_episode
from core.triage.episodes import recompute_episodes
from core.triage.links import link_related, unlink_related
from core.triage.models import ClusterEpisode
from core.triage.service import TriageAnswers, reclassify_as_incident, triage_report
from core.uow import ANONYMOUS_REPORTER, UnitOfWork
from ops.backup import backup, restore
from ops.cli import app
from tests.builders import PASSWORD, Org, build_org, draft, local_now
from tests.conftest import ROOT, TEST_AUDIT_KEY

TODAY = local_now().date()


@pytest.fixture(autouse=True)
def _today() -> None:
    """Today as each test starts: a run can cross local midnight."""
    global TODAY
    TODAY = local_now().date()
NEW_PASSWORD = "a-different-long-passphrase"
TRIAGE = TriageAnswers(at_risk_now=False, safeguarding_trigger=False, recurrence="single",
                       severity="low", investigation="none", route="supervisor")
NEAR_FALL_REVIEW = ReviewInput(
    field_values={"transfer_task": "Evening bathroom routine",
                  "mobility_aid_position": "Slightly out of reach", "staff_present": "One DSP",
                  "balance_or_fatigue": "Tired",
                  "immediate_action": "Steadied her; walker brought",
                  "support_plan_guidance": "Walker within reach for every transfer",
                  "environmental_condition": "Tight doorway by the bath",
                  "supervisor_review": "Same doorway in earlier falls; set-up varies"},
    what_stopped_harm="Staff vigilance", control_reliable="no", would_work_again="unsure",
    would_work_again_note="Depends on who sets up the routine",
    contributing_factors=["equipment", "environment"], barrier_class="staff_recovery",
    findings="Equipment positioning varies by who sets up the routine.")
runner = CliRunner(env={"COLUMNS": "200"})


class World:
    """A provider (the builders' org) and shortcuts to the states the services start from."""

    def __init__(self, engine: Engine, org: Org, tmp_path: Path):
        self.engine, self.org, self.tmp_path = engine, org, tmp_path

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    def actor(self, username: str) -> Actor:
        return self.org.actor(username)

    def version(self, reference: str) -> int:
        with read_session(self.engine) as session:
            return session.scalar(select(NearMissReport.version_id).where(
                NearMissReport.reference == reference))

    def file(self, **changes: Any) -> str:
        return file_near_miss(self.uow(), self.actor("reporter"),
                              draft(self.org, **changes), now=utcnow(), rules=settings()).reference

    def triaged(self) -> str:
        reference = self.file()
        triage_report(self.uow(), self.actor("quality"), reference, TRIAGE, expected_version=1,
                      now=utcnow(), rules=settings())
        return reference

    def in_review(self) -> str:
        reference = self.triaged()
        start_review(self.uow(), self.actor("quality"), reference,
                     expected_version=self.version(reference), now=utcnow(), rules=settings())
        return reference

    def reviewed(self, next_step: ReportStatus = ReportStatus.VALIDATING) -> str:
        """Review complete, every gate ticked, moved on to `next_step`."""
        quality = self.actor("quality")
        reference = self.in_review()
        save_review(self.uow(), quality, reference, NEAR_FALL_REVIEW,
                    now=utcnow(), rules=settings())
        with read_session(self.engine) as session:
            gates = review_view(session, quality, reference).template.gates
        for gate in gates:
            check_gate(self.uow(), quality, reference, gate.key, note=f"Done: {gate.label}",
                       now=utcnow())
        finish_review(self.uow(), quality, reference, next_step=next_step,
                      expected_version=self.version(reference), now=utcnow(), rules=settings())
        return reference

    def evidenced(self) -> str:
        """Validating, with evidence for every validation item."""
        quality = self.actor("quality")
        reference = self.reviewed()
        with read_session(self.engine) as session:
            items = review_view(session, quality, reference).template.validation
        for item in items:
            record_evidence(self.uow(), quality, reference, item.key, note="Seen in place",
                            now=utcnow(), rules=settings())
        return reference

    def closed(self) -> str:
        reference = self.evidenced()
        close_report(self.uow(), self.actor("quality"), reference, outcome="Check in place",
                     expected_version=self.version(reference), now=utcnow(), rules=settings())
        return reference

    def safeguarding_escalation(self) -> int:
        self.file(type_key="safeguarding_rights",
                  description="A visitor asked for her bank PIN; staff refused.")
        with read_session(self.engine) as session:
            return session.scalar(select(Escalation.id).where(Escalation.kind == "safeguarding"))

    def rca(self, *references: str) -> int:
        return open_rca(self.uow(), self.actor("quality"), title="Bathroom doorway",
                        problem="Near falls at the bathroom doorway",
                        references=list(references) or [self.file()],
                        now=utcnow(), rules=settings())

    def rca_input(self) -> RcaInput:
        return RcaInput(title="Bathroom doorway", problem="Near falls at the bathroom doorway",
                        five_whys=["The walker is parked by the bath"],
                        contributing_factors=["equipment"],
                        findings="No set place for the walker; mark one.")

    def huddle(self, reference: str | None = None) -> int:
        """A swarm huddle (the suggestion for a low-potential one-off) over a triaged report."""
        return start_response(self.uow(), self.actor("quality"), type_key="swarm_huddle",
                              references=[reference or self.triaged()],
                              now=utcnow(), rules=settings())

    def huddle_answers(self, response_id: int) -> bool:
        return save_answers(self.uow(), self.actor("quality"), response_id, answers={
            "what_happened": "Walker out of reach", "what_was_expected": "Within reach",
            "why_different": "No set place", "what_now": "Mark a spot"},
            participants=["Sam (DSP)", "Ola (supervisor)"], now=utcnow(), rules=settings())

    def action_draft(self, **changes: Any) -> ActionDraft:
        values: dict[str, Any] = dict(
            title="Transfer card", kind="checklist", owner_id=self.actor("quality").user_id,
            deadline=TODAY + timedelta(days=5), review_date=TODAY + timedelta(days=9),
            evidence_checks=["Card on the bathroom door"], verify_with_measure=False)
        values.update(changes)
        return ActionDraft(**values)

    def plan(self, reference: str | None = None) -> PlanCreated:
        return create_plan(self.uow(), self.actor("quality"), PlanDraft(
            title="Safer bathroom transfers", theme="Near falls at the doorway",
            report_references=[reference or self.file()], actions=[self.action_draft()],
            measure=None), now=utcnow(), rules=settings())

    def check_id(self, action_id: int) -> int:
        with read_session(self.engine) as session:
            return session.scalar(select(ActionEvidenceCheck.id).where(
                ActionEvidenceCheck.action_id == action_id))

    def live_action(self) -> int:
        """An action in its test window, the window long over, its evidence check done."""
        quality = self.actor("quality")
        [action_id] = self.plan().action_ids
        complete_evidence_check(self.uow(), quality, self.check_id(action_id), note="Done",
                                now=utcnow(), rules=settings())
        set_go_live(self.uow(), quality, action_id, TODAY - timedelta(days=200),
                    now=utcnow(), rules=settings())
        return action_id

    def update_draft(self, **changes: Any) -> UpdateDraft:
        values: dict[str, Any] = dict(
            title="Pre-transfer equipment check",
            what_changed="Before every bathroom transfer, check the walker is within reach.",
            why="Near falls at the bathroom doorway.", report_references=[self.file()])
        values.update(changes)
        return UpdateDraft(**values)

    def signed_in(self, username: str = "reporter") -> int:
        return sign_in(self.uow(), username, PASSWORD, now=utcnow(), rules=settings()).session_id


Prepare = Callable[[World], Callable[[], object]]
Shape = Literal["create", "change"]


@dataclass(frozen=True)
class Case:
    """One write service: how to get it ready (not counted) and the call under test.

    `shape`: "create" records the new state only (`after`); "change" records `before` and
    `after`. Batch jobs record a summary of what they did as `after`, so they count as "create".
    `by`: the username acting, or "system" / "anonymous" (recorded without a user id).
    `extras`: the secondary events the call also writes, by action, and how many.
    `env`: environment the call (not its preparation) runs in, e.g. a rotated keyring.
    """

    primary: str
    shape: Shape
    prepare: Prepare
    by: str = "quality"
    extras: Mapping[str, int] = field(default_factory=dict)
    needs_mail: bool = False
    env: Mapping[str, str] = field(default_factory=dict)


def _sign_in_failed(w: World) -> Callable[[], object]:
    def call() -> None:
        with pytest.raises(SignInRefused):
            sign_in(w.uow(), "reporter", "not-the-password", now=utcnow(), rules=settings())
    return call


def _sign_in_throttled(w: World) -> Callable[[], object]:
    for _ in range(4):  # the test settings give three free failures; the fourth starts a wait
        with pytest.raises(SignInRefused):
            sign_in(w.uow(), "reporter", "not-the-password", source="203.0.113.9",
                    now=utcnow(), rules=settings())

    def call() -> None:
        with pytest.raises(SignInRefused):
            sign_in(w.uow(), "reporter", "not-the-password", source="203.0.113.9",
                    now=utcnow(), rules=settings())
    return call


def _follow_up_refused(w: World) -> Callable[[], object]:
    return lambda: look_up_follow_up(w.uow(), "AAAA-BBBB-CCCC", source="203.0.113.9", now=utcnow())


def _restore(w: World) -> Callable[[], object]:
    dump = w.tmp_path / "provider.nmdump"
    backup(w.engine, dump)
    return lambda: restore(w.engine, dump, force=True)


def _sync(w: World) -> Callable[[], object]:
    spec = load_taxonomy_file(ROOT / "data" / "taxonomy.yaml")
    edited = spec.model_copy(update={"contributing_factors": spec.contributing_factors[:-1]})
    return lambda: sync_taxonomy(w.uow(), edited, w.actor("admin"), now=utcnow())


def _type_spec(w: World, base: str = "other", **changes: Any) -> dict[str, Any]:
    with read_session(w.engine) as session:
        spec = live_taxonomy(session).type(base).model_dump(mode="json")
    spec.update(changes)
    return spec


def _in_uow(w: World, create: Callable[[UnitOfWork], object]) -> Callable[[], object]:
    """The organisation helpers run inside a caller's unit of work (as the importers do)."""
    def call() -> None:
        with w.uow() as uow:
            create(uow)
            uow.commit()
    return call


def _one_row_csv(w: World) -> Callable[[], object]:
    lines = (ROOT / "tests" / "fixtures" / "import_sample.csv").read_text().splitlines()
    data = "\n".join(lines[:2]).encode() + b"\n"
    return lambda: import_bytes(data, engine=w.engine, rules=settings(), now=utcnow())


def _activity_csv(w: World) -> Callable[[], object]:
    monday = TODAY - timedelta(days=TODAY.weekday() + 7)
    data = f"service,week_start,visits,shifts\nMaple House,{monday:%Y-%m-%d},40,12\n".encode()
    return lambda: import_activity_bytes(w.engine, data, now=utcnow(), rules=settings())


def _reminders(w: World) -> Callable[[], object]:
    w.plan()
    return lambda: send_action_reminders(w.engine, today=TODAY + timedelta(days=30),
                                         now=utcnow(), rules=settings())


def _emails(w: World) -> Callable[[], object]:
    w.safeguarding_escalation()
    return lambda: send_pending_emails(w.engine, now=utcnow(), rules=settings())


def _mark_read(w: World) -> Callable[[], object]:
    w.safeguarding_escalation()
    safeguarding = w.actor("safeguarding")
    with read_session(w.engine) as session:
        ids = list(session.scalars(select(Notification.id).where(
            Notification.user_id == safeguarding.user_id)))
    return lambda: mark_read(w.uow(), safeguarding, ids, now=utcnow())


def _sustainment(w: World) -> Callable[[], object]:
    action_id = w.live_action()
    confirm_verdict(w.uow(), w.actor("quality"), action_id, effective=True, note="Card used",
                    now=utcnow(), rules=settings())
    with read_session(w.engine) as session:
        check_id = session.scalar(select(SustainmentCheck.id).where(
            SustainmentCheck.action_id == action_id))
    return lambda: confirm_sustainment(w.uow(), w.actor("quality"), check_id, in_place=True,
                                       note="Card still on the door", now=utcnow())


def _doorway_cluster(w: World, days_ago: tuple[float, ...] = (8, 7, 5, 4, 2, 1)) -> int:
    """Near falls at the doorway that make a cluster episode; its id."""
    for days in days_ago:
        w.file(occurred_at=local_now() - timedelta(days=days))
    with read_session(w.engine) as session:
        return session.scalar(select(ClusterEpisode.id))


def _episode_version(w: World, episode_id: int) -> int:
    with read_session(w.engine) as session:
        return session.get(ClusterEpisode, episode_id).version_id


def _grown_cluster(w: World) -> Callable[[], object]:
    episode = _doorway_cluster(w)
    acknowledge_episode(w.uow(), w.actor("quality"), episode,
                        expected_version=_episode_version(w, episode), now=utcnow())
    w.file()  # one more is not news
    return lambda: w.file()  # two more is


def _plan_from_cluster(w: World) -> Callable[[], object]:
    episode = _doorway_cluster(w)
    return lambda: create_plan(w.uow(), w.actor("quality"), PlanDraft(
        title="Doorway transfers", theme="A cluster of near falls at the doorway",
        source="cluster", cluster_type_key="transfer_near_fall", cluster_episode_id=episode,
        actions=[w.action_draft()], measure=None), now=utcnow(), rules=settings())


def _published(w: World) -> int:
    update_id = create_update(w.uow(), w.actor("quality"), w.update_draft(),
                              now=utcnow(), rules=settings())
    publish_update(w.uow(), w.actor("quality"), update_id, now=utcnow(), rules=settings())
    return update_id


def _reportable(w: World, reportable: bool = True) -> tuple[str, int | None]:
    """A safeguarding near miss decided (not) reportable; its first clock's id, if any."""
    reference = w.file(type_key="safeguarding_rights",
                       description="A visitor asked for her bank PIN; staff refused.")
    decide_reportable(w.uow(), w.actor("safeguarding"), reference, reportable=reportable,
                      reason="Attempted financial exploitation", now=utcnow(), rules=settings())
    with read_session(w.engine) as session:
        return reference, session.scalar(select(func.min(RegulatorClock.id)))


def _demo_clocks(w: World) -> Callable[[], object]:
    escalation_id = w.safeguarding_escalation()
    decide(w.uow(), w.actor("safeguarding"), escalation_id, SafeguardingDecision(
        external_report_made=True, reported_to="Adult protective services",
        reported_at=local_now() - timedelta(minutes=5), reason="Reported the same hour"),
           now=utcnow(), rules=settings())
    return lambda: record_demo_clocks(w.engine, now=utcnow(), rules=settings())


def _clock_reminders(w: World) -> Callable[[], object]:
    _reference, clock_id = _reportable(w)
    with read_session(w.engine) as session:
        due = session.get(RegulatorClock, clock_id).due_at
    return lambda: send_action_reminders(w.engine, now=due + timedelta(hours=1), rules=settings())


CASES: dict[str, Case] = {
    # ----------------------------------------------------------------- sign-in and users
    "sign in": Case("auth.signed_in", "create", lambda w: lambda: w.signed_in(), by="reporter"),
    # A failed sign-in has no signed-in actor: it is recorded without a user id.
    "sign in refused": Case("auth.sign_in_failed", "change", _sign_in_failed,
                            by="not signed in"),
    "sign in while the account waits": Case("auth.sign_in_throttled", "change",
                                            _sign_in_throttled, by="not signed in"),
    "remember the sign-in cookie": Case(
        "auth.session_cookie_issued", "change",
        lambda w: (lambda sid: lambda: bind_session_cookie(w.uow(), sid, "cookie-1",
                                                           rules=settings(), now=utcnow()))(
            w.signed_in()), by="reporter"),
    "sign out": Case("auth.signed_out", "change",
                     lambda w: (lambda sid: lambda: sign_out(w.uow(), sid, now=utcnow(),
                                                             rules=settings()))(w.signed_in()),
                     by="reporter"),
    "add a user": Case("user.created", "create", lambda w: lambda: add_user(
        w.uow(), w.actor("admin"), NewUser("newcomer", "New Comer", NEW_PASSWORD,
                                           ("reporter",), ("Maple House",)),
        now=utcnow(), rules=settings()), by="admin"),
    "disable a user": Case("user.disabled", "change", lambda w: lambda: set_user_active(
        w.uow(), w.actor("admin"), "reporter", False, now=utcnow()), by="admin"),
    "enable a user": Case("user.enabled", "change", lambda w: (
        set_user_active(w.uow(), w.actor("admin"), "reporter", False, now=utcnow()),
        lambda: set_user_active(w.uow(), w.actor("admin"), "reporter", True,
                                now=utcnow()))[1], by="admin"),
    "change a user's access": Case("user.access_changed", "change", lambda w: lambda: (
        update_user_access(w.uow(), w.actor("admin"), "reporter",
                           roles=("reporter", "supervisor"), services=("Maple House",),
                           now=utcnow())),
        by="admin"),
    "change my own password": Case("user.password_changed", "change", lambda w: lambda: (
        change_password(w.uow(), w.actor("reporter"), PASSWORD, NEW_PASSWORD,
                        now=utcnow(), rules=settings())), by="reporter"),
    "choose my language": Case("user.language_changed", "change", lambda w: lambda: (
        set_language(w.uow(), w.actor("reporter"), "es", now=utcnow())), by="reporter"),
    # ----------------------------------------------------------------- reference data
    "create a region": Case("region.created", "create", lambda w: _in_uow(
        w, lambda uow: organisation.get_or_create_region(uow, w.actor("admin"), "West",
                                                         now=utcnow())),
        by="admin"),
    "create a service": Case("service.created", "create", lambda w: _in_uow(
        w, lambda uow: organisation.get_or_create_service(uow, w.actor("admin"), "Elm Court",
                                                          region="South",
                                                          now=utcnow())), by="admin"),
    "create a location": Case("location.created", "create", lambda w: _in_uow(
        w, lambda uow: organisation.get_or_create_location(uow, w.actor("admin"), w.org.maple,
                                                           "Garden", now=utcnow())), by="admin"),
    "create a route": Case("route.created", "create", lambda w: _in_uow(
        w, lambda uow: organisation.get_or_create_route(uow, w.actor("admin"), w.org.maple,
                                                        "Evening runs", now=utcnow())), by="admin"),
    "create a staff group": Case("staff_group.created", "create", lambda w: _in_uow(
        w, lambda uow: organisation.get_or_create_staff_group(uow, w.actor("admin"),
                                                              "Scheduler",
                                                              now=utcnow())), by="admin"),
    "add a person supported": Case("person.created", "create", lambda w: _in_uow(
        w, lambda uow: organisation.get_or_create_person(uow, w.actor("admin"), w.org.maple,
                                                         "MH-02", now=utcnow())), by="admin"),
    # ----------------------------------------------------------------- reports and triage
    "file a near miss": Case("report.filed", "create",
                             lambda w: lambda: w.file(), by="reporter"),
    "file a near miss anonymously": Case("report.filed", "create",
                                         lambda w: lambda: w.file(anonymous=True),
                                         by="anonymous"),
    # A safeguarding type raises its escalation in the same transaction.
    "file a safeguarding near miss": Case(
        "report.filed", "create", lambda w: lambda: w.safeguarding_escalation(),
        by="reporter", extras={"escalation.raised": 1}),
    "import near misses from CSV": Case("report.imported", "create", _one_row_csv,
                                        by="system"),
    # ----------------------------------------------------------------- cluster episodes
    # Filing the report that makes a cluster opens its episode in the same transaction (at
    # this small provider, the fifth near fall at one service within ten days).
    "file a near miss that opens a cluster": Case(
        "report.filed", "create", lambda w: (
            _doorway_cluster(w, (8, 7, 5, 4)), lambda: w.file())[1],
        by="reporter", extras={"cluster_episode.opened": 1}),
    "file a near miss that grows an acknowledged cluster": Case(
        "report.filed", "create", _grown_cluster, by="reporter",
        extras={"cluster_episode.grew": 1}),
    "acknowledge a cluster": Case("cluster_episode.acknowledged", "change", lambda w: (
        lambda eid: lambda: acknowledge_episode(w.uow(), w.actor("quality"), eid,
                                                expected_version=_episode_version(w, eid),
                                                now=utcnow()))(
        _doorway_cluster(w))),
    "dismiss a cluster": Case("cluster_episode.dismissed", "change", lambda w: (
        lambda eid: lambda: dismiss_episode(w.uow(), w.actor("quality"), eid,
                                            reason="One resident's week in hospital",
                                            expected_version=_episode_version(w, eid),
                                            now=utcnow(), rules=settings()))(
        _doorway_cluster(w))),
    "recompute cluster episodes": Case("cluster_episodes.recomputed", "create", lambda w: (
        _doorway_cluster(w), lambda: recompute_episodes(
            w.uow(), SYSTEM, now=utcnow(), rules=settings(), serving_plan=serving_plan))[1],
        by="system"),
    # Triage also records the status move (its own event, shared by every workflow step).
    "triage": Case("report.triaged", "create", lambda w: (
        lambda ref: lambda: triage_report(w.uow(), w.actor("quality"), ref, TRIAGE,
                                          expected_version=1,
                                          now=utcnow(), rules=settings()))(w.file()),
        extras={"report.moved": 1}),
    # A reviewer links an earlier report that reads alike (core.triage.links).
    "link related reports": Case("report.related_linked", "create", lambda w: (
        lambda earlier, later: lambda: link_related(w.uow(), w.actor("quality"), later,
                                                    earlier, now=utcnow(), rules=settings()))(
            w.file(), w.file())),
    "remove a related link": Case("report.related_unlinked", "change", lambda w: (
        lambda earlier, later: (link_related(w.uow(), w.actor("quality"), later, earlier,
                                             now=utcnow(), rules=settings()),
                                lambda: unlink_related(w.uow(), w.actor("quality"), later,
                                                       earlier, now=utcnow(),
                                                       rules=settings()))[1])(
            w.file(), w.file())),
    "re-classify as an incident": Case("report.moved", "change", lambda w: (
        lambda ref: lambda: reclassify_as_incident(
            w.uow(), w.actor("quality"), ref, reason="Harm reached her after all",
            expected_version=w.version(ref), now=utcnow(), rules=settings()))(w.file())),
    # ----------------------------------------------------------------- review
    "start review": Case("review.started", "create", lambda w: (
        lambda ref: lambda: start_review(w.uow(), w.actor("quality"), ref,
                                         expected_version=w.version(ref),
                                         now=utcnow(), rules=settings()))(w.triaged()),
        extras={"report.moved": 1}),
    "save review": Case("review.saved", "change", lambda w: (
        lambda ref: lambda: save_review(w.uow(), w.actor("quality"), ref,
                                        NEAR_FALL_REVIEW,
                                        now=utcnow(), rules=settings()))(w.in_review())),
    "tick a gate": Case("review.gate_checked", "create", lambda w: (
        lambda ref: lambda: check_gate(w.uow(), w.actor("quality"), ref,
                                       "person_remains_safe", note="Checked on her", now=utcnow()))(
        w.in_review())),
    "record evidence": Case("review.evidence_recorded", "create", lambda w: (
        lambda ref: lambda: record_evidence(w.uow(), w.actor("quality"), ref,
                                            "near_miss_evidence", note="Seen",
                                            now=utcnow(), rules=settings()))(
        w.in_review())),
    "record communication": Case("review.communication_recorded", "create", lambda w: (
        lambda ref: lambda: record_communication(w.uow(), w.actor("quality"), ref,
                                                 CommunicationInput(
            audience="family", communicated=False, what="Not needed: no harm"),
                                                 now=utcnow(), rules=settings()))(
        w.in_review())),
    "finish review": Case("report.moved", "change", lambda w: (
        lambda ref: (save_review(w.uow(), w.actor("quality"), ref, NEAR_FALL_REVIEW,
                                 now=utcnow(), rules=settings()),
                     [check_gate(w.uow(), w.actor("quality"), ref, g.key, note="Done", now=utcnow())
                      for g in _gates(w, ref)],
                     lambda: finish_review(w.uow(), w.actor("quality"), ref,
                                           next_step=ReportStatus.VALIDATING,
                                           expected_version=w.version(ref),
                                           now=utcnow(), rules=settings()))[2])(
        w.in_review())),
    "move on to validating": Case("report.moved", "change", lambda w: (
        lambda ref: lambda: move_to_validating(w.uow(), w.actor("quality"), ref,
                                               expected_version=w.version(ref),
                                               now=utcnow(), rules=settings()))(
        w.reviewed(ReportStatus.ACTIONS))),
    "close": Case("review.closed", "change", lambda w: (
        lambda ref: lambda: close_report(w.uow(), w.actor("quality"), ref,
                                         outcome="Check in place",
                                         expected_version=w.version(ref),
                                         now=utcnow(), rules=settings()))(w.evidenced()),
        extras={"report.moved": 1}),
    "reopen": Case("review.reopened", "change", lambda w: (
        lambda ref: lambda: reopen_report(w.uow(), w.actor("quality"), ref,
                                          reason="The card came down again",
                                          expected_version=w.version(ref),
                                          now=utcnow(), rules=settings()))(w.closed()),
        extras={"report.moved": 1}),
    # ----------------------------------------------------------------- escalations
    "acknowledge a safeguarding escalation": Case("escalation.acknowledged", "change", lambda w: (
        lambda eid: lambda: acknowledge(w.uow(), w.actor("safeguarding"), eid, now=utcnow()))(
        w.safeguarding_escalation()), by="safeguarding"),
    "decide a safeguarding escalation": Case("escalation.decided", "change", lambda w: (
        lambda eid: lambda: decide(w.uow(), w.actor("safeguarding"), eid, SafeguardingDecision(
            external_report_made=False, reason="Refused at once; no loss"),
                                   now=utcnow(), rules=settings()))(
        w.safeguarding_escalation()), by="safeguarding"),
    "mark notifications read": Case("notification.read", "change", _mark_read,
                                    by="safeguarding"),
    "send queued emails": Case("notification.emails_dispatched", "create", _emails,
                               by="system", needs_mail=True),
    # ----------------------------------------------------------------- regulator clocks
    "decide an event is reportable": Case("regulator.decided", "create", lambda w: (
        lambda ref: lambda: decide_reportable(w.uow(), w.actor("safeguarding"), ref,
                                              reportable=True, reason="Reportable",
                                              now=utcnow(), rules=settings()))(
        w.file(type_key="safeguarding_rights")), by="safeguarding"),
    "revise a reportable decision": Case("regulator.decided", "change", lambda w: (
        lambda ref: lambda: decide_reportable(w.uow(), w.actor("safeguarding"), ref,
                                              reportable=True, reason="A second attempt",
                                              now=utcnow(), rules=settings()))(
        _reportable(w, reportable=False)[0]), by="safeguarding"),
    "record a regulator deadline met": Case("regulator.clock_met", "change", lambda w: (
        lambda clock_id: lambda: record_clock_met(w.uow(), w.actor("safeguarding"), clock_id,
                                                  met_at=local_now(),
                                                  state_reference="NY-SIR-1",
                                                  now=utcnow(), rules=settings()))(
        _reportable(w)[1]), by="safeguarding"),
    "send regulator clock reminders": Case("regulator.reminders_sent", "create",
                                           _clock_reminders, by="system"),
    "record the demo's regulator history": Case("regulator.demo_history_recorded", "create",
                                                _demo_clocks, by="system"),
    # ----------------------------------------------------------------- root cause analysis
    # An analysis also notes the grouping on each linked report's own history.
    "open an RCA": Case("rca.opened", "create", lambda w: (
        lambda ref: lambda: w.rca(ref))(w.file()), extras={"rca.report_linked": 1}),
    "update an RCA": Case("rca.updated", "change", lambda w: (
        lambda rid: lambda: update_rca(w.uow(), w.actor("quality"), rid, w.rca_input(),
                                       now=utcnow(), rules=settings()))(
        w.rca())),
    "add reports to an RCA": Case("rca.reports_added", "change", lambda w: (
        lambda rid, ref: lambda: add_reports(w.uow(), w.actor("quality"), rid, [ref],
                                             now=utcnow()))(
        w.rca(), w.file()), extras={"rca.report_linked": 1}),
    "remove a report from an RCA": Case("rca.report_removed", "change", lambda w: (
        lambda ref: (lambda rid: lambda: remove_report(w.uow(), w.actor("quality"), rid, ref,
                                                       now=utcnow()))(
            w.rca(w.file(), ref)))(w.file()), extras={"rca.report_unlinked": 1}),
    "complete an RCA": Case("rca.completed", "change", lambda w: (
        lambda rid: (update_rca(w.uow(), w.actor("quality"), rid, w.rca_input(),
                                now=utcnow(), rules=settings()),
                     lambda: complete_rca(w.uow(), w.actor("quality"), rid,
                                          now=utcnow()))[1])(w.rca())),
    # ----------------------------------------------------------------- learning responses
    # A response also notes itself on each linked report's own history.
    "start a learning response": Case("learning_response.started", "create", lambda w: (
        lambda ref: lambda: w.huddle(ref))(w.triaged()),
        extras={"learning_response.report_linked": 1}),
    "save a learning response": Case("learning_response.saved", "change", lambda w: (
        lambda rid: lambda: w.huddle_answers(rid))(w.huddle())),
    "complete a learning response": Case("learning_response.completed", "change", lambda w: (
        lambda rid: (w.huddle_answers(rid),
                     lambda: complete_response(w.uow(), w.actor("quality"), rid, now=utcnow()))[1])(
        w.huddle())),
    "choose the full RCA over the suggested response": Case(
        "learning_response.rca_chosen", "create", lambda w: (
            lambda ref: lambda: choose_full_rca(w.uow(), w.actor("quality"), references=[ref],
                                                reason="The same mismatch in three services",
                                                now=utcnow(), rules=settings()))(
            w.triaged())),
    # ----------------------------------------------------------------- actions
    # A plan records itself and each of its actions.
    "create an action plan": Case("action_plan.created", "create", lambda w: (
        lambda ref: lambda: w.plan(ref))(w.file()), extras={"action.created": 1}),
    # A plan built from a cluster links its episode.
    "create an action plan from a cluster": Case(
        "action_plan.created", "create", _plan_from_cluster,
        extras={"action.created": 1, "cluster_episode.linked": 1}),
    "add an action": Case("action.created", "create", lambda w: (
        lambda plan: lambda: add_actions(w.uow(), w.actor("quality"), plan.plan_id,
                                         [w.action_draft(title="Second card")],
                                         now=utcnow(), rules=settings()))(w.plan())),
    "change an action's status": Case("action.status_changed", "change", lambda w: (
        lambda plan: lambda: set_status(w.uow(), w.actor("quality"), plan.action_ids[0],
                                        ActionStatus.IN_PROGRESS, now=utcnow()))(w.plan())),
    "set an action live": Case("action.went_live", "change", lambda w: (
        lambda plan: lambda: set_go_live(w.uow(), w.actor("quality"), plan.action_ids[0],
                                         TODAY, now=utcnow(), rules=settings()))(w.plan())),
    "complete an evidence check": Case("action.evidence_checked", "change", lambda w: (
        lambda plan: lambda: complete_evidence_check(
            w.uow(), w.actor("quality"), w.check_id(plan.action_ids[0]), note="On the door",
            now=utcnow(), rules=settings()))(
        w.plan())),
    "confirm a verdict": Case("action.verified", "change", lambda w: (
        lambda aid: lambda: confirm_verdict(w.uow(), w.actor("quality"), aid, effective=True,
                                            note="Used at every transfer",
                                            now=utcnow(), rules=settings()))(w.live_action())),
    "confirm sustainment": Case("action.sustainment_checked", "change", _sustainment),
    "send action reminders": Case("action.reminders_sent", "create", _reminders, by="system"),
    "import activity counts": Case("activity.imported", "create", _activity_csv, by="system"),
    # ----------------------------------------------------------------- what changed
    "write a \"what changed\" update": Case("feedback_update.created", "create", lambda w: (
        lambda d: lambda: create_update(w.uow(), w.actor("quality"), d,
                                        now=utcnow(), rules=settings()))(w.update_draft())),
    "edit a \"what changed\" update": Case("feedback_update.edited", "change", lambda w: (
        lambda uid, edited: lambda: edit_update(w.uow(), w.actor("quality"), uid, edited,
                                                expected_revision=1,
                                                now=utcnow(), rules=settings()))(
        create_update(w.uow(), w.actor("quality"), w.update_draft(),
                      now=utcnow(), rules=settings()),
        w.update_draft(title="Walker check before transfers"))),
    "edit a published update": Case("feedback_update.edited", "change", lambda w: (
        lambda uid, edited: lambda: edit_update(w.uow(), w.actor("quality"), uid, edited,
                                                expected_revision=1,
                                                now=utcnow(), rules=settings()))(
        _published(w),
        w.update_draft(title="Walker check before transfers"))),
    "publish a \"what changed\" update": Case("feedback_update.published", "change", lambda w: (
        lambda uid: lambda: publish_update(w.uow(), w.actor("quality"), uid,
                                           now=utcnow(), rules=settings()))(
        create_update(w.uow(), w.actor("quality"), w.update_draft(),
                      now=utcnow(), rules=settings()))),
    "edit a cues guide": Case("cue_guide.saved", "change", lambda w: lambda: save_guide(
        w.uow(), w.actor("admin"), "care_worker", "# Cues\nSpot the walker.",
        now=utcnow()), by="admin"),
    "restore a shipped cues guide": Case("cue_guide.restored", "change", lambda w: (
        save_guide(w.uow(), w.actor("admin"), "care_worker", "# Cues\nSpot the walker.",
                   now=utcnow()),
        lambda: restore_shipped_guide(w.uow(), w.actor("admin"), "care_worker", now=utcnow()))[1],
        by="admin"),
    # A wrong follow-up code: counted per code and per address, recorded without either.
    "look up a follow-up code that matches nothing": Case(
        "follow_up.lookup_refused", "change", _follow_up_refused, by="not signed in"),
    # ----------------------------------------------------------------- taxonomy
    "edit a near-miss type": Case("taxonomy.type_saved", "change", lambda w: (
        lambda spec: lambda: save_type(w.uow(), w.actor("admin"), spec, original_key="other",
                                       now=utcnow()))(
        _type_spec(w, name="Something else nearly went wrong")), by="admin"),
    "add a near-miss type": Case("taxonomy.type_saved", "create", lambda w: (
        lambda spec: lambda: save_type(w.uow(), w.actor("admin"), spec, create=True, now=utcnow()))(
        _type_spec(w, "other", key="door_left_open", name="Door left open")), by="admin"),
    "retire a near-miss type": Case("taxonomy.type_retired", "change", lambda w: lambda: (
        set_type_active(w.uow(), w.actor("admin"), "other", False, now=utcnow())), by="admin"),
    "offer a retired type again": Case("taxonomy.type_restored", "change", lambda w: (
        set_type_active(w.uow(), w.actor("admin"), "other", False, now=utcnow()),
        lambda: set_type_active(w.uow(), w.actor("admin"), "other", True,
                                now=utcnow()))[1], by="admin"),
    "sync the taxonomy file": Case("taxonomy.synced", "create", _sync, by="admin"),
    # ----------------------------------------------------------------- evidence and database
    "commissioner views evidence": Case("commissioner.viewed", "create", lambda w: lambda: (
        record_access(w.uow(), w.actor("commissioner"), "evidence summary", now=utcnow())),
        by="commissioner"),
    "commissioner exports evidence": Case("commissioner.exported", "create", lambda w: lambda: (
        record_access(w.uow(), w.actor("commissioner"), "evidence pack", exported=True,
                      now=utcnow())),
        by="commissioner"),
    "restore a backup": Case("database.restored", "create", _restore, by="system"),
    # After a key rotation, the chain's end is signed with the new key at once.
    "seal the audit trail with a new key": Case(
        "audit.sealed", "create", lambda w: lambda: seal_trail(w.engine, now=utcnow()), by="system",
        env={"NEARMISS_AUDIT_KEY": f"{TEST_AUDIT_KEY},rotated:{'r' * 40}"}),
}


def _gates(w: World, reference: str) -> list[Any]:
    with read_session(w.engine) as session:
        return list(review_view(session, w.actor("quality"), reference).template.gates)


def _last_seq(engine: Engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.max(AuditEvent.seq))) or 0


def _events_after(engine: Engine, seq: int) -> list[AuditEvent]:
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.seq > seq)
                                    .order_by(AuditEvent.seq)))


def _state(value: str | None) -> Any:
    return None if value is None else json.loads(value)


@pytest.mark.parametrize("name", list(CASES))
def test_each_write_service_records_one_complete_audit_event(
        engine: Engine, tmp_path: Path, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    case = CASES[name]
    if case.needs_mail:
        request.getfixturevalue("smtp_server")
    world = World(engine, build_org(engine), tmp_path)
    call = case.prepare(world)
    for variable, value in case.env.items():
        monkeypatch.setenv(variable, value)
    start = _last_seq(engine)
    call()
    events = _events_after(engine, start)

    assert events, f"{name} wrote nothing to the audit trail"
    written = Counter(e.action for e in events)
    assert written == Counter({case.primary: 1, **case.extras}), (
        f"{name}: expected one {case.primary!r} event plus {dict(case.extras)}, got "
        f"{dict(written)}")

    if case.by == "system":
        who = (None, SYSTEM.username)
    elif case.by == "anonymous":
        who = (None, ANONYMOUS_REPORTER)
    elif case.by == "not signed in":
        who = (None, UNAUTHENTICATED.username)
    else:
        acting = world.actor(case.by)
        who = (acting.user_id, acting.username)
    for event in events:
        assert (event.actor_id, event.actor) == who, (name, event.action)
        assert _state(event.before_json) or _state(event.after_json), (name, event.action)

    [primary] = [e for e in events if e.action == case.primary]
    before, after = _state(primary.before_json), _state(primary.after_json)
    assert after, f"{name}: {case.primary} does not record the state after"
    if case.shape == "change":
        assert before, f"{name}: {case.primary} changes a record but not what it was before"
    else:
        assert before is None, f"{name}: {case.primary} creates a record but has a 'before'"

    with read_session(engine) as session:
        assert verify_chain(session).ok
    # Every row the service touched still holds what its events recorded: no false alarms.
    state = verify_state(engine)
    assert state.ok, [m.describe() for m in state.mismatches]


def test_the_cases_cover_every_audited_action_in_core() -> None:
    """A new `uow.record(...)` call in core needs a case here, so no write service is missed."""
    recorded: set[str] = set()
    for path in (ROOT / "core").rglob("*.py"):
        if path.name == "demo.py":  # demo-mode seeding, not a service (tests/test_demo.py)
            continue
        source = path.read_text()
        for call in re.finditer(r"uow\.record\(|_record_links\(", source):
            recorded |= set(re.findall(r'"([a-z_]+\.[a-z_]+)"',
                                       source[call.end():call.end() + 120]))
    covered = {c.primary for c in CASES.values()} | {e for c in CASES.values() for e in c.extras}
    assert recorded - covered == set()
    assert len(recorded) > 50  # the scan did find the calls


# --------------------------------------------------------------------------- tampering


def _tamper(engine: Engine, statement: str, **params: object) -> None:
    """Edit the audit table as someone with database access could, past its triggers."""
    with engine.begin() as conn:
        if is_sqlite(engine):
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
            conn.execute(text(statement), params)
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
            try:
                conn.execute(text(statement), params)
            finally:
                conn.execute(
                    text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))


def _filed_reports(engine: Engine) -> list[int]:
    """File three reports; returns their `report.filed` event numbers."""
    org = build_org(engine)
    for description in ("Walker out of reach at the doorway; staff steadied her.",
                        "Bath mat curled at the edge; caught before she tripped.",
                        "Wheelchair brake left off on the ramp; staff stopped it."):
        file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                       draft(org, description=description), now=utcnow(), rules=settings())
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent.seq).where(
            AuditEvent.action == "report.filed").order_by(AuditEvent.seq)))


def test_audit_verify_names_an_event_whose_content_was_changed(engine: Engine) -> None:
    filed = _filed_reports(engine)
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    target = filed[1]
    _tamper(engine, "UPDATE audit_events SET after_json = replace(after_json, 'Bath mat', "
                    "'Bath rug') WHERE seq = :seq", seq=target)
    with read_session(engine) as session:
        assert "Bath rug" in session.get(AuditEvent, target).after_json
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code != 0
    assert f"Audit chain BROKEN at event {target}" in broken.output
    assert "does not match its hash" in broken.output


def test_audit_verify_names_an_event_deleted_from_the_middle(engine: Engine) -> None:
    filed = _filed_reports(engine)
    target = filed[1]
    assert target < _last_seq(engine)  # in the middle, not at the end
    _tamper(engine, "DELETE FROM audit_events WHERE seq = :seq", seq=target)
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code != 0
    assert f"Audit chain BROKEN at event {target}" in broken.output
    assert f"event {target} is missing" in broken.output


def test_audit_verify_names_a_changed_actor(engine: Engine) -> None:
    filed = _filed_reports(engine)
    target = filed[0]
    _tamper(engine, "UPDATE audit_events SET actor = 'someone else' WHERE seq = :seq",
            seq=target)
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code != 0
    assert f"Audit chain BROKEN at event {target}" in broken.output

