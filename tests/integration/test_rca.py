"""Root cause analysis in core: seed 1, example 2 ("if similar record mismatches appear
elsewhere, the provider may need root cause analysis that turns repeated incident evidence into
practical service fixes") walked from the similar reports to the findings the action plan
builder receives; validation of every field, scope, the read-only rule and the audit trail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.audit.chain import verify_chain
from core.audit.models import AuditEvent
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.reports.vocabulary import ReportStatus
from core.review.models import RootCauseAnalysis, RootCauseAnalysisReport
from core.review.queries import similar_elsewhere
from core.review.rca import (
    MAX_WHYS,
    RcaInput,
    add_reports,
    complete_rca,
    list_rcas,
    open_rca,
    parse_references,
    rca_detail,
    rca_findings_for_actions,
    rca_proposal,
    remove_report,
    update_rca,
)
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

SOURCE = "Care plan vs family note"
PROBLEM = ("The care plan's medication prompt does not match the family's note about a recent "
           "change, at three places in three services.")
WHYS = ["The family note held a change the provider's record did not.",
        "The change reached the family from the clinic, not the provider.",
        "Nobody owns bringing clinic changes into the care plan the same day.",
        "The post-appointment step ends at booking the follow-up.",
        "The procedure was written for one service and never shared."]
FINDINGS = ("Clinic medication changes have no owner for updating the care plan. Fix: the "
            "coordinator confirms every post-appointment change in the record the same day and "
            "the next worker acknowledges it before the prompt.")


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


@dataclass
class Mismatches:
    maple: str  # the report under review (Maple House kitchen)
    oak: str  # Oak Lodge lounge
    east: str  # Eastside Home Care, a client's home

    @property
    def all(self) -> list[str]:
        return [self.maple, self.oak, self.east]


def file_mismatch(engine, org, actor, *, service, location, hours_ago, description):
    return file_near_miss(UnitOfWork(engine), org.actor(actor), draft(
        org, type_key="medication_discrepancy", service_id=service, location_id=location,
        occurred_at=local_now() - timedelta(hours=hours_ago), description=description,
        capture_fields={"source_of_discrepancy": SOURCE}), now=utcnow(), rules=settings()).reference


@pytest.fixture
def mismatches(engine, org) -> Mismatches:
    """Seed 1, example 2, three times: the care plan's prompt vs a recent family note."""
    oak = file_mismatch(engine, org, "quality", service=org.oak, location=org.oak_lounge,
                        hours_ago=72, description="Prompt in the plan did not match the "
                                                  "family's note; paused and called.")
    east = file_mismatch(engine, org, "quality", service=org.east, location=org.east_home,
                         hours_ago=48, description="Family note by the blister pack showed a "
                                                   "new dose the plan lacked; called the office.")
    maple = file_mismatch(engine, org, "reporter", service=org.maple,
                          location=org.maple_kitchen, hours_ago=2,
                          description="Medication prompt in the care plan did not match a "
                                      "recent family note; I paused and called the supervisor.")
    return Mismatches(maple=maple, oak=oak, east=east)


def open_seed_rca(engine, org, mismatches, actor="quality"):
    return open_rca(UnitOfWork(engine), org.actor(actor),
                    title="Medication discrepancy: care plan vs family note",
                    problem=PROBLEM, references=mismatches.all, now=utcnow(), rules=settings())


def events(engine, action=None, entity_type="root_cause_analysis"):
    with read_session(engine) as session:
        query = select(AuditEvent).where(AuditEvent.entity_type == entity_type)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query.order_by(AuditEvent.seq)))


def rca_count(engine):
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(RootCauseAnalysis))


def answers(**changes):
    values = {"title": "Medication discrepancy: care plan vs family note", "problem": PROBLEM,
              "five_whys": list(WHYS), "contributing_factors": ["communication",
                                                                 "support_planning"],
              "findings": FINDINGS}
    values.update(changes)
    return RcaInput(**values)


# -- the seed example, end to end ---------------------------------------------------------------

def test_similar_mismatches_become_a_root_cause_analysis_and_its_findings_go_to_actions(
        engine, org, mismatches):
    quality = org.actor("quality")
    # The review of the Maple House report finds the same mismatch elsewhere ...
    with read_session(engine) as session:
        report = session.scalar(select(NearMissReport).where(
            NearMissReport.reference == mismatches.maple))
        similar = similar_elsewhere(session, report)
    assert set(similar) == {mismatches.oak, mismatches.east}
    link = [mismatches.maple, *similar]  # what the near-miss page's link carries

    # ... and the link proposes an analysis over them, titled from the first report's type.
    with read_session(engine) as session:
        proposal = rca_proposal(session, quality, link)
    assert [r.reference for r in proposal.reports] == link
    assert proposal.not_found == () and proposal.already_open == ()
    assert proposal.suggested_title == f"Medication discrepancy: {SOURCE} (3 reports)"

    before = utcnow()
    rca_id = open_rca(UnitOfWork(engine), quality, title=proposal.suggested_title,
                      problem=PROBLEM, references=link, now=utcnow(), rules=settings())
    with read_session(engine) as session:
        detail = rca_detail(session, quality, rca_id)
    assert detail.status == "open" and detail.is_open and detail.lead == "Quality"
    assert detail.title == proposal.suggested_title and detail.problem == PROBLEM
    assert detail.opened_at >= before and detail.completed_at is None
    assert detail.five_whys == () and detail.findings is None
    # Linked reports in the order they happened, with where and what they are.
    assert [r.reference for r in detail.reports] == [mismatches.oak, mismatches.east,
                                                     mismatches.maple]
    assert {(r.service, r.location) for r in detail.reports} == {
        ("Oak Lodge", "Lounge"), ("Eastside Home Care", "Client home"),
        ("Maple House", "Kitchen")}
    assert {r.type_name for r in detail.reports} == {"Medication discrepancy"}
    assert all(r.status is ReportStatus.NEW and r.occurred_at for r in detail.reports)

    # The five whys, the contributing factors and the findings.
    assert update_rca(UnitOfWork(engine), quality, rca_id, answers(
        title=proposal.suggested_title, five_whys=[WHYS[0], "", "  ", *WHYS[1:]],
        contributing_factors=["support_planning", "communication"]),
                      now=utcnow(), rules=settings()) is True
    finished = utcnow()
    complete_rca(UnitOfWork(engine), quality, rca_id, now=finished)

    with read_session(engine) as session:
        done = rca_detail(session, quality, rca_id)
        handed = rca_findings_for_actions(session, quality, rca_id)
        report_ids = dict(session.execute(
            select(NearMissReport.reference, NearMissReport.id)).all())
    assert done.status == "complete" and done.completed_at == finished
    assert done.five_whys == tuple(WHYS)  # empty whys are dropped
    assert done.contributing_factors == ("communication", "support_planning")  # taxonomy order
    assert done.factor_labels == ("Communication", "Support planning")
    assert handed.rca_id == rca_id and handed.title == proposal.suggested_title
    assert handed.findings == FINDINGS
    assert handed.contributing_factors == ("communication", "support_planning")
    assert handed.references == (mismatches.oak, mismatches.east, mismatches.maple)
    assert handed.report_ids == tuple(report_ids[r] for r in handed.references)
    assert handed.completed_at == finished
    assert [h.what for h in done.history] == ["Opened", "Saved", "Completed"]


def test_the_findings_are_handed_on_only_once_the_analysis_is_complete(engine, org, mismatches):
    rca_id = open_seed_rca(engine, org, mismatches)
    update_rca(UnitOfWork(engine), org.actor("quality"), rca_id, answers(),
               now=utcnow(), rules=settings())
    with read_session(engine) as session, pytest.raises(ValidationFailed) as refused:
        rca_findings_for_actions(session, org.actor("quality"), rca_id)
    assert "status" in refused.value.errors


def test_references_are_read_as_typed_or_linked():
    assert parse_references(" nm-2026-00012, NM-2026-00007;NM-2026-00012\nnm-2026-00003 ") == [
        "NM-2026-00012", "NM-2026-00007", "NM-2026-00003"]
    assert parse_references(["NM-1", " nm-2 ", "", "nm-1"]) == ["NM-1", "NM-2"]
    assert parse_references(None) == [] and parse_references(" , ") == []


# -- validation ---------------------------------------------------------------------------------

def test_opening_names_every_missing_field_and_writes_nothing(engine, org, mismatches):
    with pytest.raises(ValidationFailed) as refused:
        open_rca(UnitOfWork(engine), org.actor("quality"), title="  ", problem="",
                 references=[" ", ""], now=utcnow(), rules=settings())
    assert set(refused.value.errors) == {"title", "problem", "references"}
    limit = settings().report.description_max_chars
    with pytest.raises(ValidationFailed) as too_long:
        open_rca(UnitOfWork(engine), org.actor("quality"), title="T" * 201,
                 problem="P" * (limit + 1), references=mismatches.all,
                 now=utcnow(), rules=settings())
    assert set(too_long.value.errors) == {"title", "problem"}
    assert "200" in too_long.value.errors["title"]
    with pytest.raises(NotFound, match="NM-1999-00001"):
        open_rca(UnitOfWork(engine), org.actor("quality"), title="T", problem="P",
                 references=[mismatches.maple, "nm-1999-00001"], now=utcnow(), rules=settings())
    assert rca_count(engine) == 0 and events(engine) == []


def test_saving_checks_each_field(engine, org, mismatches):
    quality = org.actor("quality")
    rca_id = open_seed_rca(engine, org, mismatches)
    limit = settings().report.description_max_chars
    with pytest.raises(ValidationFailed) as refused:
        update_rca(UnitOfWork(engine), quality, rca_id, answers(
            title="", problem=" ", five_whys=["ok", "W" * (limit + 1)],
            contributing_factors=["communication", "luck"], findings="F" * (limit + 1)),
                   now=utcnow(), rules=settings())
    assert refused.value.errors.keys() == {"title", "problem", "why.2", "contributing_factors",
                                           "findings"}
    with pytest.raises(ValidationFailed) as too_many:
        update_rca(UnitOfWork(engine), quality, rca_id,
                   answers(five_whys=[f"why {n}" for n in range(MAX_WHYS + 1)]),
                   now=utcnow(), rules=settings())
    assert set(too_many.value.errors) == {"five_whys"}
    with read_session(engine) as session:
        unchanged = rca_detail(session, quality, rca_id)
    assert unchanged.five_whys == () and unchanged.problem == PROBLEM
    assert events(engine, "rca.updated") == []
    # Up to the limit is fine.
    update_rca(UnitOfWork(engine), quality, rca_id,
               answers(five_whys=[f"why {n}" for n in range(MAX_WHYS)]),
               now=utcnow(), rules=settings())


def test_saving_unchanged_answers_writes_nothing(engine, org, mismatches):
    quality = org.actor("quality")
    rca_id = open_seed_rca(engine, org, mismatches)
    assert update_rca(UnitOfWork(engine), quality, rca_id, answers(),
                      now=utcnow(), rules=settings()) is True
    assert update_rca(UnitOfWork(engine), quality, rca_id, answers(
        five_whys=[*WHYS, ""], findings=FINDINGS + "  "), now=utcnow(), rules=settings()) is False
    assert len(events(engine, "rca.updated")) == 1


def test_completing_needs_a_why_and_findings(engine, org, mismatches):
    quality = org.actor("quality")
    rca_id = open_seed_rca(engine, org, mismatches)
    with pytest.raises(ValidationFailed) as refused:
        complete_rca(UnitOfWork(engine), quality, rca_id, now=utcnow())
    assert set(refused.value.errors) == {"five_whys", "findings"}
    update_rca(UnitOfWork(engine), quality, rca_id, answers(findings=""),
               now=utcnow(), rules=settings())
    with pytest.raises(ValidationFailed) as still:
        complete_rca(UnitOfWork(engine), quality, rca_id, now=utcnow())
    assert set(still.value.errors) == {"findings"}
    update_rca(UnitOfWork(engine), quality, rca_id, answers(five_whys=[WHYS[0]]),
               now=utcnow(), rules=settings())
    complete_rca(UnitOfWork(engine), quality, rca_id, now=utcnow())
    assert events(engine, "rca.completed")


def test_a_completed_analysis_is_read_only(engine, org, mismatches):
    quality = org.actor("quality")
    rca_id = open_seed_rca(engine, org, mismatches)
    update_rca(UnitOfWork(engine), quality, rca_id, answers(), now=utcnow(), rules=settings())
    complete_rca(UnitOfWork(engine), quality, rca_id, now=utcnow())
    extra = file_mismatch(engine, org, "quality", service=org.maple,
                          location=org.maple_bathroom, hours_ago=1,
                          description="The same mismatch again at the bathroom doorway cabinet.")
    writes = [
        lambda: update_rca(UnitOfWork(engine), quality, rca_id, answers(findings="Changed"),
                           now=utcnow(), rules=settings()),
        lambda: add_reports(UnitOfWork(engine), quality, rca_id, [extra], now=utcnow()),
        lambda: remove_report(UnitOfWork(engine), quality, rca_id, mismatches.oak, now=utcnow()),
        lambda: complete_rca(UnitOfWork(engine), quality, rca_id, now=utcnow()),
    ]
    for write in writes:
        with pytest.raises(ValidationFailed) as refused:
            write()
        assert "read-only" in refused.value.errors["status"]
    with read_session(engine) as session:
        detail = rca_detail(session, quality, rca_id)
    assert detail.findings == FINDINGS and len(detail.reports) == 3


# -- linked reports -----------------------------------------------------------------------------

def test_reports_are_added_and_removed_but_one_always_stays(engine, org, mismatches):
    quality = org.actor("quality")
    rca_id = open_rca(UnitOfWork(engine), quality, title="Mismatches", problem=PROBLEM,
                      references=[mismatches.maple], now=utcnow(), rules=settings())
    assert add_reports(UnitOfWork(engine), quality, rca_id,
                       [mismatches.oak.lower(), mismatches.maple, mismatches.east],
                       now=utcnow()) == [
        mismatches.oak, mismatches.east]
    with pytest.raises(ValidationFailed, match="Already linked"):
        add_reports(UnitOfWork(engine), quality, rca_id, [mismatches.oak], now=utcnow())
    with pytest.raises(ValidationFailed) as empty:
        add_reports(UnitOfWork(engine), quality, rca_id, [" "], now=utcnow())
    assert "references" in empty.value.errors
    with pytest.raises(NotFound):
        add_reports(UnitOfWork(engine), quality, rca_id, ["NM-1999-00001"], now=utcnow())

    remove_report(UnitOfWork(engine), quality, rca_id, mismatches.oak, now=utcnow())
    remove_report(UnitOfWork(engine), quality, rca_id, mismatches.east.lower(), now=utcnow())
    with pytest.raises(ValidationFailed, match="is not linked"):
        remove_report(UnitOfWork(engine), quality, rca_id, mismatches.oak, now=utcnow())
    with pytest.raises(ValidationFailed, match="at least one report"):
        remove_report(UnitOfWork(engine), quality, rca_id, mismatches.maple, now=utcnow())
    with read_session(engine) as session:
        detail = rca_detail(session, quality, rca_id)
        links = session.scalar(select(func.count()).select_from(RootCauseAnalysisReport))
    assert [r.reference for r in detail.reports] == [mismatches.maple] and links == 1
    assert [h.what for h in detail.history] == ["Opened", "Reports added", "Report removed",
                                                "Report removed"]
    added = json.loads(events(engine, "rca.reports_added")[0].after_json)
    assert added["added"] == [mismatches.oak, mismatches.east]


def test_an_open_analysis_over_the_same_reports_is_pointed_out(engine, org, mismatches):
    rca_id = open_seed_rca(engine, org, mismatches)
    with read_session(engine) as session:
        proposal = rca_proposal(session, org.actor("supervisor"), [mismatches.maple])
    # The Maple supervisor cannot see the analysis (it spans other services) ...
    assert proposal.already_open == ()
    with read_session(engine) as session:
        proposal = rca_proposal(session, org.actor("quality"), [mismatches.maple])
    # ... the quality lead is told it exists, so the analysis is not started twice.
    assert [s.id for s in proposal.already_open] == [rca_id]


# -- scope and permissions ----------------------------------------------------------------------

def test_a_supervisor_works_only_within_their_services(engine, org, mismatches):
    oak_supervisor = org.actor("oak_supervisor")
    maple_supervisor = org.actor("supervisor")
    # Oak Lodge's supervisor cannot open an analysis over a Maple House report ...
    with pytest.raises(NotFound, match="among your services"):
        open_rca(UnitOfWork(engine), oak_supervisor, title="Mismatch", problem=PROBLEM,
                 references=[mismatches.oak, mismatches.maple], now=utcnow(), rules=settings())
    assert rca_count(engine) == 0
    # ... and the link's Maple reference is reported as not found, without details.
    with read_session(engine) as session:
        proposal = rca_proposal(session, oak_supervisor, [mismatches.maple, mismatches.oak])
    assert proposal.not_found == (mismatches.maple,)
    assert [r.reference for r in proposal.reports] == [mismatches.oak]

    oak_only = open_rca(UnitOfWork(engine), oak_supervisor, title="Oak mismatch",
                        problem=PROBLEM, references=[mismatches.oak],
                        now=utcnow(), rules=settings())
    maple_only = open_rca(UnitOfWork(engine), maple_supervisor, title="Maple mismatch",
                          problem=PROBLEM, references=[mismatches.maple],
                          now=utcnow(), rules=settings())
    spanning = open_seed_rca(engine, org, mismatches)
    with read_session(engine) as session:
        assert [s.id for s in list_rcas(session, oak_supervisor)] == [oak_only]
        assert [s.id for s in list_rcas(session, maple_supervisor)] == [maple_only]
        assert {s.id for s in list_rcas(session, org.actor("quality"))} == {
            oak_only, maple_only, spanning}
        assert {s.id for s in list_rcas(session, org.actor("clinical"))} == {
            oak_only, maple_only, spanning}

    # Outside their scope an analysis is "not found", exactly like one that does not exist.
    for rca_id in (maple_only, spanning, 9999):
        message = f"No root cause analysis #{rca_id} among your services."
        with read_session(engine) as session, pytest.raises(NotFound) as hidden:
            rca_detail(session, oak_supervisor, rca_id)
        assert str(hidden.value) == message
        with read_session(engine) as session, pytest.raises(NotFound):
            rca_findings_for_actions(session, oak_supervisor, rca_id)
        with pytest.raises(NotFound):
            update_rca(UnitOfWork(engine), oak_supervisor, rca_id, answers(),
                       now=utcnow(), rules=settings())
        with pytest.raises(NotFound):
            add_reports(UnitOfWork(engine), oak_supervisor, rca_id, [mismatches.oak], now=utcnow())
        with pytest.raises(NotFound):
            remove_report(UnitOfWork(engine), oak_supervisor, rca_id, mismatches.maple,
                          now=utcnow())
        with pytest.raises(NotFound):
            complete_rca(UnitOfWork(engine), oak_supervisor, rca_id, now=utcnow())
    # Within their own analysis they cannot pull in another service's report either.
    with pytest.raises(NotFound):
        add_reports(UnitOfWork(engine), oak_supervisor, oak_only, [mismatches.maple], now=utcnow())


def test_an_analysis_widened_beyond_a_supervisors_services_leaves_their_list(engine, org,
                                                                              mismatches):
    maple_only = open_rca(UnitOfWork(engine), org.actor("supervisor"), title="Maple mismatch",
                          problem=PROBLEM, references=[mismatches.maple],
                          now=utcnow(), rules=settings())
    add_reports(UnitOfWork(engine), org.actor("quality"), maple_only, [mismatches.oak],
                now=utcnow())
    with read_session(engine) as session:
        assert list_rcas(session, org.actor("supervisor")) == []
    remove_report(UnitOfWork(engine), org.actor("quality"), maple_only, mismatches.oak,
                  now=utcnow())
    with read_session(engine) as session:
        assert [s.id for s in list_rcas(session, org.actor("supervisor"))] == [maple_only]


def test_roles_without_root_cause_analysis_are_refused(engine, org, mismatches):
    rca_id = open_seed_rca(engine, org, mismatches)
    for username in ("reporter", "governance", "commissioner", "admin"):
        actor = org.actor(username)
        with pytest.raises(PermissionDenied):
            open_rca(UnitOfWork(engine), actor, title="T", problem="P",
                     references=[mismatches.maple], now=utcnow(), rules=settings())
        with read_session(engine) as session, pytest.raises(PermissionDenied):
            list_rcas(session, actor)
        with read_session(engine) as session, pytest.raises(PermissionDenied):
            rca_detail(session, actor, rca_id)
        with pytest.raises(PermissionDenied):
            update_rca(UnitOfWork(engine), actor, rca_id, answers(), now=utcnow(), rules=settings())


def test_open_analyses_are_listed_first(engine, org, mismatches):
    quality = org.actor("quality")
    first = open_rca(UnitOfWork(engine), quality, title="First", problem=PROBLEM,
                     references=[mismatches.oak], now=utcnow(), rules=settings())
    second = open_rca(UnitOfWork(engine), quality, title="Second", problem=PROBLEM,
                      references=[mismatches.east], now=utcnow(), rules=settings())
    update_rca(UnitOfWork(engine), quality, second, answers(title="Second"),
               now=utcnow(), rules=settings())
    complete_rca(UnitOfWork(engine), quality, second, now=utcnow())
    third = open_rca(UnitOfWork(engine), quality, title="Third", problem=PROBLEM,
                     references=[mismatches.maple, mismatches.oak], now=utcnow(), rules=settings())
    with read_session(engine) as session:
        listed = list_rcas(session, quality)
    assert [s.id for s in listed] == [third, first, second]
    assert [s.status_label for s in listed] == ["Open", "Open", "Complete"]
    assert listed[0].references == (mismatches.oak, mismatches.maple)
    assert listed[0].lead == "Quality" and listed[2].completed_at is not None


# -- audit ----------------------------------------------------------------------------------------

def test_every_write_is_audited_with_before_and_after(engine, org, mismatches):
    quality = org.actor("quality")
    rca_id = open_rca(UnitOfWork(engine), quality, title="Mismatches", problem=PROBLEM,
                      references=[mismatches.maple, mismatches.oak], now=utcnow(), rules=settings())
    add_reports(UnitOfWork(engine), quality, rca_id, [mismatches.east], now=utcnow())
    remove_report(UnitOfWork(engine), quality, rca_id, mismatches.oak, now=utcnow())
    update_rca(UnitOfWork(engine), quality, rca_id, answers(title="Mismatches"),
               now=utcnow(), rules=settings())
    complete_rca(UnitOfWork(engine), quality, rca_id, now=utcnow())

    trail = events(engine)
    assert [e.action for e in trail] == ["rca.opened", "rca.reports_added",
                                         "rca.report_removed", "rca.updated", "rca.completed"]
    assert all(e.entity_id == str(rca_id) and e.actor == "quality" for e in trail)
    opened = json.loads(trail[0].after_json)
    assert opened["references"] == [mismatches.maple, mismatches.oak]
    assert opened["lead"] == "quality" and opened["problem"] == PROBLEM
    updated_before, updated_after = (json.loads(trail[3].before_json),
                                     json.loads(trail[3].after_json))
    assert updated_before["five_whys"] == [] and updated_before["findings"] is None
    assert updated_after["five_whys"] == WHYS and updated_after["findings"] == FINDINGS
    completed = json.loads(trail[4].after_json)
    assert completed["status"] == "complete" and completed["findings"] == FINDINGS

    # Each report's own history shows it was grouped into (or taken out of) the analysis.
    linked = events(engine, entity_type="near_miss_report")
    assert [(e.action, json.loads(e.after_json)["reference"]) for e in linked
            if e.action.startswith("rca.")] == [
        ("rca.report_linked", mismatches.maple), ("rca.report_linked", mismatches.oak),
        ("rca.report_linked", mismatches.east), ("rca.report_unlinked", mismatches.oak)]
    with read_session(engine) as session:
        assert verify_chain(session).ok
