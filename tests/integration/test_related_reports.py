"""Reports that read alike (core.review.related) and links between related reports
(core.triage.links), on SQLite and PostgreSQL: the ranking, the reviewer's scope, the bounded
window of candidates, the outcome shown, and linking in one click feeding the recurrence count.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.audit.models import AuditEvent
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import ConflictError, NotFound, PermissionDenied, ValidationFailed
from core.filing.detail import report_detail
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.review.related import read_alike, report_text, similarities
from core.triage.links import link_related, unlink_related
from core.triage.models import ReportLink
from core.triage.proposal import propose_triage
from core.triage.recurrence import recurrence_count, related_reports
from core.triage.service import TriageAnswers, triage_report
from core.triage.vocabulary import Recurrence
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once
from tests.integration.test_audit_completeness import World

WALKER = "Walker left out of reach at the bathroom doorway; staff steadied her as she reached."
WALKER_AGAIN = ("At the bathroom door the walking frame was not within reach again and she "
                "wobbled; the carer steadied her.")
SLING = "Hoist sling the wrong size; the loops slipped as the lift started, lowered to bed."
PHARMACY = "Pharmacy delivered 10 mg tablets instead of 5 mg; spotted against the label."
KEY_SAFE = "Key safe code written on a sticky note beside the front door."


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def file(engine, org, description, *, days_ago=0.0, actor="quality", **changes):
    return file_near_miss(UnitOfWork(engine), org.actor(actor), draft(
        org, description=description, occurred_at=local_now() - timedelta(days=days_ago),
        **changes), now=utcnow(), rules=settings()).reference


def alike(engine, org, reference, username="quality", rules=None):
    with read_session(engine) as session:
        return read_alike(session, org.actor(username), reference, rules=rules or settings())


def with_triage(**changes):
    rules = settings()
    return rules.model_copy(update={"triage": rules.triage.model_copy(update=changes)})


def stored(engine, reference):
    with read_session(engine) as session:
        row = session.scalar(select(NearMissReport).where(NearMissReport.reference == reference))
        session.expunge(row)
        return row


def events(engine, action):
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --------------------------------------------------------------------------- the rule


def test_a_rerun_reuses_the_ranking_of_the_same_texts_only():
    from core.review.related import _SCORES

    documents = [WALKER, SLING]
    first = _SCORES.scores(WALKER_AGAIN, documents)
    assert _SCORES.scores(WALKER_AGAIN, list(documents)) is first
    assert _SCORES.scores(WALKER_AGAIN, [WALKER, PHARMACY]) is not first


def test_the_same_event_in_other_words_scores_above_other_events():
    documents = [report_text(text, "Transfer / near fall", "staff_recovery")
                 for text in (WALKER, SLING, PHARMACY, KEY_SAFE)]
    query = report_text(WALKER_AGAIN, "Transfer / near fall", "staff_recovery")
    scores = similarities(query, documents)
    assert scores.index(max(scores)) == 0
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert similarities(query, []) == []
    # Only stop words and punctuation: no error, nothing alike by words.
    assert similarities("the and of", ["the", "of"])[0] <= 1.0


def test_earlier_reports_that_read_alike_come_best_first_with_their_similarity(engine, org):
    walker = file(engine, org, WALKER, days_ago=30)
    sling = file(engine, org, SLING, days_ago=20)
    file(engine, org, KEY_SAFE, days_ago=10, type_key="other")
    now = file(engine, org, WALKER_AGAIN, days_ago=1)
    later = file(engine, org, WALKER, days_ago=0)  # after the one open: never listed

    view = alike(engine, org, now)
    references = [item.reference for item in view.alike]
    assert references[0] == walker
    assert later not in references and now not in references
    assert len(references) <= 5
    assert view.alike[0].percent == round(view.alike[0].similarity * 100)
    assert view.alike[0].similarity > max(
        (i.similarity for i in view.alike if i.reference == sling), default=0)
    assert view.compared == 3  # the three earlier reports
    assert view.alike[0].where == "Maple House · Bathroom doorway"
    assert view.alike[0].description == WALKER
    assert view.may_link


def test_only_the_viewers_services_are_read_and_searched(engine, org):
    oak_twin = file(engine, org, WALKER, days_ago=5, service_id=org.oak,
                    location_id=org.oak_lounge)
    maple_twin = file(engine, org, WALKER, days_ago=4)
    now = file(engine, org, WALKER_AGAIN, days_ago=1)

    assert {i.reference for i in alike(engine, org, now).alike} == {oak_twin, maple_twin}
    supervisor = alike(engine, org, now, "supervisor")  # Maple House only
    assert [i.reference for i in supervisor.alike] == [maple_twin]
    assert supervisor.compared == 1
    # Another service's supervisor cannot open it; a reporter or governance cannot open reports.
    with pytest.raises(NotFound):
        alike(engine, org, now, "oak_supervisor")
    for username in ("reporter", "governance", "commissioner", "admin"):
        with pytest.raises(PermissionDenied):
            alike(engine, org, now, username)


def test_the_candidates_are_the_newest_earlier_reports_up_to_the_setting(engine, org):
    old_twin = file(engine, org, WALKER, days_ago=60)
    for n in range(3):
        file(engine, org, f"{KEY_SAFE} Seen on round {n}.", days_ago=10 - n, type_key="other")
    now = file(engine, org, WALKER_AGAIN, days_ago=1)
    view = alike(engine, org, now, rules=with_triage(related_candidates=3))
    assert view.compared == 3
    assert old_twin not in [i.reference for i in view.alike]
    assert old_twin in [i.reference for i in alike(engine, org, now).alike]


def test_reports_below_the_floor_are_not_shown(engine, org):
    file(engine, org, PHARMACY, days_ago=3, type_key="medication_discrepancy",
         barrier="designed_control")
    now = file(engine, org, "Fire door wedged open upstairs", days_ago=1,
               type_key="environment_equipment", barrier="chance")
    strict = with_triage(related_min_similarity=0.9)
    assert alike(engine, org, now, rules=strict).alike == ()
    assert len(alike(engine, org, now, rules=with_triage(related_min_similarity=0.0)).alike) == 1


def test_each_shows_its_outcome_triage_and_closure(engine, org, tmp_path: Path):
    world = World(engine, org, tmp_path)
    closed = world.closed()  # the default near fall, closed with "Check in place"
    triaged = world.triaged()
    waiting = world.file()
    now = file(engine, org, WALKER_AGAIN)  # the same minute: earlier is by id then
    items = {i.reference: i for i in alike(engine, org, now).alike}
    assert items[closed].status.value == "closed"
    assert items[closed].closed_with == "Check in place"
    assert items[triaged].status.value == "triaged"
    assert items[triaged].triage_outcome == "No further investigation, routed to the Supervisor"
    assert items[triaged].closed_with is None
    assert items[waiting].status.value == "new"
    assert items[waiting].triage_outcome is None


# --------------------------------------------------------------------------- links


def test_linking_is_audited_idempotent_and_one_row_per_pair(engine, org):
    earlier = file(engine, org, PHARMACY, days_ago=200, type_key="medication_discrepancy",
                   location_id=org.maple_kitchen)
    later = file(engine, org, WALKER, days_ago=1)
    version = stored(engine, later).version_id

    outcome = link_related(UnitOfWork(engine), org.actor("supervisor"), later, earlier,
                           now=utcnow(), rules=settings())
    assert outcome.changed and outcome.later_reference == later
    # From the other report's page, and again: the same link, nothing more written.
    again = link_related(UnitOfWork(engine), org.actor("quality"), earlier, later,
                         now=utcnow(), rules=settings())
    assert not again.changed and again.later_reference == later
    assert not link_related(UnitOfWork(engine), org.actor("supervisor"), later, earlier,
                            now=utcnow(), rules=settings()).changed
    with read_session(engine) as session:
        [link] = session.scalars(select(ReportLink)).all()
        assert (link.report_id, link.earlier_id) == (stored(engine, later).id,
                                                     stored(engine, earlier).id)
        assert link.linked_by_id == org.actor("supervisor").user_id
    [event] = events(engine, "report.related_linked")
    assert event.actor == "supervisor"
    assert json.loads(event.after_json) | {"link_id": 0} == {
        "reference": later, "other": earlier, "later": later, "earlier": earlier, "link_id": 0}
    # A link is not an edit of the report: whoever has it open can still save their triage.
    assert stored(engine, later).version_id == version
    # The report's history says so.
    with read_session(engine) as session:
        history = report_detail(session, org.actor("quality"), later, now=local_now()).history
    assert [(h.what, h.detail) for h in history if h.what == "Linked as related"] == [
        ("Linked as related", earlier)]


def test_a_link_is_refused_outside_the_role_or_the_services(engine, org):
    maple = file(engine, org, WALKER, days_ago=2)
    other_maple = file(engine, org, SLING, days_ago=1)
    oak = file(engine, org, WALKER, days_ago=1, service_id=org.oak, location_id=org.oak_lounge)
    with pytest.raises(NotFound):  # Oak Lodge is not the Maple House supervisor's
        link_related(UnitOfWork(engine), org.actor("supervisor"), maple, oak,
                     now=utcnow(), rules=settings())
    with pytest.raises(NotFound):
        link_related(UnitOfWork(engine), org.actor("oak_supervisor"), oak, maple,
                     now=utcnow(), rules=settings())
    for username in ("reporter", "governance", "commissioner", "admin"):
        with pytest.raises(PermissionDenied):
            link_related(UnitOfWork(engine), org.actor(username), maple, other_maple,
                         now=utcnow(), rules=settings())
    with pytest.raises(ValidationFailed):
        link_related(UnitOfWork(engine), org.actor("quality"), maple, maple.lower(),
                     now=utcnow(), rules=settings())
    with pytest.raises(NotFound):
        link_related(UnitOfWork(engine), org.actor("quality"), maple, "NM-1999-99999",
                     now=utcnow(), rules=settings())
    with pytest.raises(ConflictError):  # linking from a view of the report gone stale
        link_related(UnitOfWork(engine), org.actor("quality"), maple, other_maple,
                     expected_version=99, now=utcnow(), rules=settings())
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ReportLink)) == 0
    assert events(engine, "report.related_linked") == []


def test_a_linked_earlier_report_counts_as_a_recurrence_whatever_its_type(engine, org):
    # Another type, another place, long before the window: no rule would call it a repeat.
    earlier = file(engine, org, PHARMACY, days_ago=200, type_key="medication_discrepancy",
                   location_id=org.maple_kitchen)
    later = file(engine, org, "Tablets of the wrong strength in the new box again.",
                 days_ago=1, type_key="environment_equipment")
    assert not stored(engine, later).is_repeat

    def recurrences() -> tuple[int, Recurrence, list[str]]:
        with read_session(engine) as session:
            report = session.scalar(select(NearMissReport).where(
                NearMissReport.reference == later))
            related = related_reports(session, report, window_days=90)
            proposal = propose_triage(session, org.actor("supervisor"), later, rules=settings())
            return recurrence_count(related), proposal.recurrence, [r.reference for r in related]

    assert recurrences() == (0, Recurrence.SINGLE, [])
    link_related(UnitOfWork(engine), org.actor("supervisor"), later, earlier,
                 now=utcnow(), rules=settings())
    count, proposed, listed = recurrences()
    assert (count, proposed, listed) == (1, Recurrence.REPEAT, [earlier])
    with read_session(engine) as session:
        report = session.scalar(select(NearMissReport).where(NearMissReport.reference == later))
        [related] = related_reports(session, report, window_days=90)
    assert related.linked and related.matches == ["linked as related"]
    # The board flags the report waiting for triage as a repeat at once.
    assert stored(engine, later).is_repeat
    view = alike(engine, org, later)
    assert (view.recurrences, view.linked_recurrences) == (1, 1)
    assert [(v.reference, v.earlier) for v in view.linked] == [(earlier, True)]
    # Seen from the earlier report, the link is to a later one: not a recurrence of it.
    back = alike(engine, org, earlier)
    assert [(v.reference, v.earlier) for v in back.linked] == [(later, False)]
    assert back.recurrences == 0

    # Unlinking undoes it, audited with what the link was; unlinking again changes nothing.
    assert unlink_related(UnitOfWork(engine), org.actor("quality"), earlier, later,
                          now=utcnow(), rules=settings()).changed
    assert recurrences() == (0, Recurrence.SINGLE, [])
    assert not stored(engine, later).is_repeat
    assert not unlink_related(UnitOfWork(engine), org.actor("quality"), earlier, later,
                              now=utcnow(), rules=settings()).changed
    [event] = events(engine, "report.related_unlinked")
    assert json.loads(event.before_json)["earlier"] == earlier


def test_after_triage_the_repeat_flag_is_the_triagers_answer(engine, org):
    earlier = file(engine, org, PHARMACY, days_ago=200, type_key="medication_discrepancy",
                   location_id=org.maple_kitchen)
    later = file(engine, org, KEY_SAFE, days_ago=1, location_id=org.maple_kitchen,
                 type_key="other")
    triage_report(UnitOfWork(engine), org.actor("supervisor"), later, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="single", severity="low",
        investigation="none", route="supervisor"), expected_version=1,
                  now=utcnow(), rules=settings())
    link_related(UnitOfWork(engine), org.actor("supervisor"), later, earlier,
                 now=utcnow(), rules=settings())
    assert not stored(engine, later).is_repeat  # recorded at triage as single
    assert alike(engine, org, later).recurrences == 1  # the count still uses the link


def test_links_the_viewer_cannot_see_are_not_shown_or_counted(engine, org):
    oak = file(engine, org, WALKER, days_ago=20, service_id=org.oak, location_id=org.oak_lounge)
    maple = file(engine, org, WALKER_AGAIN, days_ago=1, location_id=org.maple_kitchen,
                 type_key="other")
    link_related(UnitOfWork(engine), org.actor("quality"), maple, oak,
                 now=utcnow(), rules=settings())
    assert alike(engine, org, maple).recurrences == 1
    supervisor = alike(engine, org, maple, "supervisor")
    assert supervisor.linked == () and supervisor.recurrences == 0
