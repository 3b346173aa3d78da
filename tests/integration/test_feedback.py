"""'What changed because you reported': updates with history, telling named and anonymous
reporters (the follow-up code works and reveals nothing else), scoping, and the cues guides."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.actions.service import ActionDraft, PlanDraft, create_plan
from core.audit.chain import verify_chain
from core.audit.models import AuditEvent
from core.auth.models import User
from core.clock import to_local, utcnow
from core.config import settings
from core.db import read_session
from core.errors import ConflictError, NotFound, PermissionDenied, ValidationFailed
from core.escalation.email import send_pending_emails
from core.escalation.models import Notification
from core.escalation.service import mark_read
from core.feedback import cues
from core.feedback.followup import (
    ALPHABET,
    FollowUpView,
    follow_up_view,
    hash_code,
    normalise_code,
)
from core.feedback.models import FeedbackUpdate, FeedbackUpdateRevision
from core.feedback.queries import (
    action_choices,
    bulletin,
    changes_this_quarter,
    editor_updates,
    my_reports_told,
    published_updates,
    quarter_bounds,
    update_detail,
    updates_for_my_reports,
)
from core.feedback.service import (
    ThemeDraft,
    UpdateDraft,
    create_update,
    edit_update,
    publish_update,
)
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

DESCRIPTION = "Walker slightly out of reach at the bathroom doorway; staff steadied Alex."


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def file(engine, org, actor="reporter", **changes):
    return file_near_miss(UnitOfWork(engine), org.actor(actor),
                          draft(org, description=DESCRIPTION, **changes),
                          now=utcnow(), rules=settings())


def update_draft(references=(), **changes) -> UpdateDraft:
    values = dict(title="Pre-transfer equipment check",
                  what_changed="Before every bathroom transfer, check the walker is within "
                               "reach. The check is on the new transfer card.",
                  why="Three near falls at the bathroom doorway.",
                  report_references=list(references))
    values.update(changes)
    return UpdateDraft(**values)


def publish(engine, org, references, actor="quality", **changes):
    update_id = create_update(UnitOfWork(engine), org.actor(actor),
                              update_draft(references, **changes), now=utcnow(), rules=settings())
    result = publish_update(UnitOfWork(engine), org.actor(actor), update_id,
                            now=utcnow(), rules=settings())
    return update_id, result


def notes(engine, kind="feedback.update"):
    with read_session(engine) as session:
        return session.execute(
            select(User.username, Notification).join(User, User.id == Notification.user_id)
            .where(Notification.kind == kind).order_by(Notification.id)).all()


# -- the follow-up code ----------------------------------------------------------------------

def test_an_anonymous_report_gets_a_follow_up_code_and_only_its_hash_is_kept(engine, org):
    filed = file(engine, org, anonymous=True)
    named = file(engine, org)
    assert named.follow_up_code is None
    code = filed.follow_up_code
    assert code is not None and len(code) == 14 and code.count("-") == 2
    assert set(code.replace("-", "")) <= set(ALPHABET)
    with read_session(engine) as session:
        report = session.get(NearMissReport, filed.id)
        assert report.reporter_id is None
        assert report.follow_up_code_hash == hash_code(code) and code not in str(
            report.follow_up_code_hash)
        assert session.get(NearMissReport, named.id).follow_up_code_hash is None
        # The code is in no audit event; the filing names nobody.
        events = session.scalars(select(AuditEvent)).all()
        assert not any(code in (e.after_json or "") or code.replace("-", "") in (
            e.after_json or "") for e in events)
        filed_event = session.scalar(select(AuditEvent).where(
            AuditEvent.action == "report.filed", AuditEvent.entity_id == str(filed.id)))
        assert filed_event.actor_id is None and filed_event.actor == "anonymous reporter"
    # Codes differ from report to report.
    assert file(engine, org, anonymous=True).follow_up_code != code


def test_the_code_opens_status_and_published_updates_and_nothing_else(engine, org):
    filed = file(engine, org, anonymous=True)
    other = file(engine, org)
    code = filed.follow_up_code
    with read_session(engine) as session:
        view = follow_up_view(session, code)
    assert view.reference == filed.reference and view.type_name == "Transfer / near fall"
    assert view.status.value == "new" and view.updates == []
    # A draft is not shown; the published update is.
    create_update(UnitOfWork(engine), org.actor("quality"),
                  update_draft([filed.reference], title="Draft, not yet out"),
                  now=utcnow(), rules=settings())
    publish(engine, org, [filed.reference, other.reference])
    with read_session(engine) as session:
        # Typed in lower case with spaces instead of dashes: still the code.
        view = follow_up_view(session, code.lower().replace("-", " "))
    assert [u.title for u in view.updates] == ["Pre-transfer equipment check"]
    assert view.updates[0].what_changed.startswith("Before every bathroom transfer")
    # What the view can hold at all: no description, no reporter, no other report.
    fields = {f.name for f in dataclasses.fields(FollowUpView)}
    assert fields == {"reference", "type_name", "status", "updates"}
    assert DESCRIPTION not in repr(view) and other.reference not in repr(view)


@pytest.mark.parametrize("typed", ["", "K7QM-2XRD-9TFA", "not a code", "K7QM-2XRD-9TF",
                                   "O0O0-I1I1-LLLL"])
def test_a_wrong_code_reveals_nothing(engine, org, typed):
    file(engine, org, anonymous=True)
    with read_session(engine) as session:
        assert follow_up_view(session, typed) is None


def test_codes_are_normalised_and_malformed_ones_refused():
    assert normalise_code(" k7qm 2xrd-9tfa ") == "K7QM2XRD9TFA"
    assert normalise_code("K7QM-2XRD-9TF0") is None  # 0 is not in the alphabet
    assert normalise_code("K7QM-2XRD-9TFAA") is None
    assert hash_code("k7qm2xrd9tfa") == hash_code("K7QM-2XRD-9TFA")


# -- telling the reporters -------------------------------------------------------------------

def test_publishing_tells_each_named_reporter_once_and_nobody_for_anonymous(engine, org):
    first = file(engine, org)
    second = file(engine, org)  # the same reporter twice: one message
    by_supervisor = file(engine, org, actor="supervisor")
    anonymous = file(engine, org, anonymous=True)
    refs = [first.reference, second.reference, by_supervisor.reference, anonymous.reference]
    update_id = create_update(UnitOfWork(engine), org.actor("quality"), update_draft(refs),
                              now=utcnow(), rules=settings())
    assert notes(engine) == []  # a draft tells nobody
    result = publish_update(UnitOfWork(engine), org.actor("quality"), update_id,
                            now=utcnow(), rules=settings())
    assert result.anonymous_reports == 1 and not result.already_published
    told = notes(engine)
    assert [username for username, _ in told] == ["reporter", "supervisor"]
    reporter_note = told[0][1]
    assert first.reference in reporter_note.body and second.reference in reporter_note.body
    assert reporter_note.report_id == first.id
    # The message names no one and quotes no report text (email leaves the portal).
    for _, note in told:
        assert DESCRIPTION not in note.body and "Alex" not in note.body
        assert "Quality" not in note.body and note.email_status == "not_needed"
    # Publishing again changes nothing and tells nobody twice.
    again = publish_update(UnitOfWork(engine), org.actor("quality"), update_id,
                           now=utcnow(), rules=settings())
    assert again.already_published and len(notes(engine)) == 2
    with read_session(engine) as session:
        update = session.get(FeedbackUpdate, update_id)
        assert update.status == "published" and update.published_at is not None
        assert update.published_by_id == org.actor("quality").user_id
        assert verify_chain(session).ok


def test_a_report_linked_after_publishing_tells_its_reporter_then(engine, org):
    first = file(engine, org)
    later = file(engine, org, actor="supervisor")
    update_id, _ = publish(engine, org, [first.reference])
    assert [u for u, _ in notes(engine)] == ["reporter"]
    edit_update(UnitOfWork(engine), org.actor("quality"), update_id,
                update_draft([first.reference, later.reference]), expected_revision=1,
                now=utcnow(), rules=settings())
    assert [u for u, _ in notes(engine)] == ["reporter", "supervisor"]
    # A further edit tells nobody again.
    edit_update(UnitOfWork(engine), org.actor("quality"), update_id,
                update_draft([first.reference, later.reference], title="Transfer check"),
                expected_revision=2, now=utcnow(), rules=settings())
    assert len(notes(engine)) == 2


def test_the_reporter_is_emailed_when_email_is_set_up(engine, org, smtp_server):
    filed = file(engine, org)
    publish(engine, org, [filed.reference])
    [(_, note)] = notes(engine)
    assert note.email_to == "reporter@example.org" and note.email_status == "pending"
    result = send_pending_emails(engine, now=utcnow(), rules=settings())
    assert note.id in result.sent
    [message] = [m for m in smtp_server.messages if "What changed" in m["Subject"]]
    assert message["To"] == "reporter@example.org"
    body = message.get_content()
    assert filed.reference in body and DESCRIPTION not in body and "http://portal.test" in body


def test_my_reports_shows_the_update_next_to_the_report_until_read(engine, org):
    filed = file(engine, org)
    untouched = file(engine, org)
    publish(engine, org, [filed.reference])
    reporter = org.actor("reporter")
    with read_session(engine) as session:
        found = updates_for_my_reports(session, reporter)
        other = updates_for_my_reports(session, org.actor("supervisor"))
    assert list(found) == [filed.reference] and untouched.reference not in found
    [linked] = found[filed.reference]
    assert linked.title == "Pre-transfer equipment check" and linked.unread
    assert other == {}
    [(_, note)] = notes(engine)
    mark_read(UnitOfWork(engine), reporter, [note.id], now=utcnow())
    with read_session(engine) as session:
        assert not updates_for_my_reports(session, reporter)[filed.reference][0].unread


def test_my_reports_counts_every_report_and_reads_updates_for_those_shown(engine, org):
    """A prolific reporter sees their true totals above a list of the newest reports, and the
    updates read are only those of the reports on screen."""
    from core.reports.queries import my_report_counts, my_reports

    filed = [file(engine, org) for _ in range(4)]
    publish(engine, org, [filed[0].reference, filed[1].reference])
    reporter = org.actor("reporter")
    with read_session(engine) as session:
        shown = my_reports(session, reporter, limit=2)
        counts = my_report_counts(session, reporter)
        told = my_reports_told(session, reporter)
        on_screen = updates_for_my_reports(session, reporter, [r.reference for r in shown])
        everything = updates_for_my_reports(session, reporter)
    assert [r.reference for r in shown] == [filed[3].reference, filed[2].reference]
    assert (counts.reported, counts.being_worked_on, told) == (4, 4, 2)
    assert on_screen == {} and set(everything) == {filed[0].reference, filed[1].reference}


# -- writing and editing ---------------------------------------------------------------------

def test_edits_keep_every_revision_and_a_stale_edit_is_refused(engine, org):
    filed = file(engine, org)
    quality = org.actor("quality")
    update_id = create_update(UnitOfWork(engine), quality, update_draft([filed.reference]),
                              now=utcnow(), rules=settings())
    revision = edit_update(UnitOfWork(engine), quality, update_id,
                           update_draft([filed.reference], what_changed="A new handover prompt."),
                           expected_revision=1, now=utcnow(), rules=settings())
    assert revision == 2
    # Saving the same again makes no new revision.
    assert edit_update(UnitOfWork(engine), quality, update_id,
                       update_draft([filed.reference], what_changed="A new handover prompt."),
                       expected_revision=2, now=utcnow(), rules=settings()) == 2
    with pytest.raises(ConflictError):
        edit_update(UnitOfWork(engine), quality, update_id, update_draft([filed.reference]),
                    expected_revision=1, now=utcnow(), rules=settings())
    with read_session(engine) as session:
        revisions = session.scalars(select(FeedbackUpdateRevision).order_by(
            FeedbackUpdateRevision.revision)).all()
        detail = update_detail(session, quality, update_id)
    assert [r.what_changed for r in revisions] == [update_draft().what_changed,
                                                    "A new handover prompt."]
    assert detail.revision == 2 and [r.revision for r in detail.revisions] == [2, 1]
    assert detail.references == [filed.reference] and detail.status == "draft"


def test_an_update_needs_a_title_what_changed_and_something_behind_it(engine, org):
    quality = org.actor("quality")
    with pytest.raises(ValidationFailed) as refused:
        create_update(UnitOfWork(engine), quality, UpdateDraft(title=" ", what_changed=""),
                      now=utcnow(), rules=settings())
    assert set(refused.value.errors) == {"title", "what_changed"}
    with pytest.raises(ValidationFailed) as refused:
        create_update(UnitOfWork(engine), quality, update_draft(["NM-1999-00001"]),
                      now=utcnow(), rules=settings())
    assert "NM-1999-00001" in refused.value.errors["reports"]
    update_id = create_update(UnitOfWork(engine), quality, update_draft(),
                              now=utcnow(), rules=settings())
    with pytest.raises(ValidationFailed) as refused:
        publish_update(UnitOfWork(engine), quality, update_id, now=utcnow(), rules=settings())
    assert "reports" in refused.value.errors
    with pytest.raises(ValidationFailed):
        create_update(UnitOfWork(engine), quality, update_draft(title="x" * 201),
                      now=utcnow(), rules=settings())


def test_an_update_can_cite_actions_and_a_cluster(engine, org):
    filed = file(engine, org)
    today = local_now().date()
    plan = create_plan(UnitOfWork(engine), org.actor("supervisor"), PlanDraft(
        title="Transfers", theme="Near falls at the doorway",
        report_references=[filed.reference], actions=[ActionDraft(
            title="Pre-transfer check", kind="checklist",
            owner_id=org.actor("supervisor").user_id, deadline=today + timedelta(days=7),
            review_date=today + timedelta(days=14), verify_with_measure=False,
            evidence_checks=["Card on the bathroom door"])]), now=utcnow(), rules=settings())
    with read_session(engine) as session:
        choices = action_choices(session, org.actor("supervisor"))
        assert [c.id for c in choices] == plan.action_ids
        assert action_choices(session, org.actor("oak_supervisor")) == []
    _update_id, result = publish(
        engine, org, [], action_ids=plan.action_ids,
        themes=[ThemeDraft("transfer_near_fall", service_id=org.maple)])
    assert result.told_user_ids == []
    with read_session(engine) as session:
        [item] = bulletin(session, org.actor("reporter"))
    assert item.actions == ["Pre-transfer check"]
    assert item.themes == ["Transfer / near fall in Maple House"] and item.report_count == 0
    with pytest.raises(NotFound):
        create_update(UnitOfWork(engine), org.actor("oak_supervisor"), update_draft(
            action_ids=plan.action_ids, service_ids=[org.oak]), now=utcnow(), rules=settings())


# -- scoping ---------------------------------------------------------------------------------

def test_a_supervisor_publishes_only_for_their_own_services(engine, org):
    maple = file(engine, org)
    oak = file(engine, org, actor="quality", service_id=org.oak, location_id=org.oak_lounge)
    supervisor = org.actor("supervisor")
    with pytest.raises(PermissionDenied):
        create_update(UnitOfWork(engine), org.actor("reporter"), update_draft([maple.reference]),
                      now=utcnow(), rules=settings())
    with pytest.raises(ValidationFailed) as refused:  # another service's report
        create_update(UnitOfWork(engine), supervisor,
                      update_draft([oak.reference], service_ids=[org.maple]),
                      now=utcnow(), rules=settings())
    assert oak.reference in refused.value.errors["reports"]
    with pytest.raises(PermissionDenied):  # aimed at another service
        create_update(UnitOfWork(engine), supervisor,
                      update_draft([maple.reference], service_ids=[org.oak]),
                      now=utcnow(), rules=settings())
    with pytest.raises(PermissionDenied):  # a cluster elsewhere
        create_update(UnitOfWork(engine), supervisor, update_draft(
            [maple.reference], service_ids=[org.maple],
            themes=[ThemeDraft("transfer_near_fall", service_id=org.oak)]),
                      now=utcnow(), rules=settings())
    with pytest.raises(ValidationFailed) as refused:  # provider-wide is not theirs to publish
        create_update(UnitOfWork(engine), supervisor, update_draft([maple.reference]),
                      now=utcnow(), rules=settings())
    assert "services" in refused.value.errors
    own = create_update(UnitOfWork(engine), supervisor,
                        update_draft([maple.reference], service_ids=[org.maple]),
                        now=utcnow(), rules=settings())
    publish_update(UnitOfWork(engine), supervisor, own, now=utcnow(), rules=settings())
    # The quality lead's provider-wide update is not the supervisor's to edit or publish.
    wide = create_update(UnitOfWork(engine), org.actor("quality"),
                         update_draft([maple.reference, oak.reference]),
                         now=utcnow(), rules=settings())
    for attempt in (lambda: publish_update(UnitOfWork(engine), supervisor, wide,
                                           now=utcnow(), rules=settings()),
                    lambda: edit_update(UnitOfWork(engine), supervisor, wide, update_draft(),
                                        expected_revision=1, now=utcnow(), rules=settings()),
                    lambda: publish_update(UnitOfWork(engine), org.actor("oak_supervisor"),
                                           own, now=utcnow(), rules=settings())):
        with pytest.raises(NotFound):
            attempt()
    with read_session(engine) as session:
        assert [u.id for u in editor_updates(session, supervisor)] == [own]
        assert [u.id for u in editor_updates(session, org.actor("oak_supervisor"))] == []
        assert {u.id for u in editor_updates(session, org.actor("quality"))} == {own, wide}


def test_the_bulletin_shows_staff_the_updates_for_their_services_and_roles(engine, org):
    maple = file(engine, org)
    oak = file(engine, org, actor="quality", service_id=org.oak, location_id=org.oak_lounge)
    publish(engine, org, [maple.reference], title="Everyone")
    publish(engine, org, [oak.reference], title="Oak only", service_ids=[org.oak])
    publish(engine, org, [maple.reference], title="Supervisors only", roles=["supervisor"])
    create_update(UnitOfWork(engine), org.actor("quality"),
                  update_draft([maple.reference], title="Still a draft"),
                  now=utcnow(), rules=settings())

    def titles(username, **kwargs):
        with read_session(engine) as session:
            return [i.title for i in bulletin(session, org.actor(username), **kwargs)]

    assert titles("reporter") == ["Everyone"]
    assert titles("supervisor") == ["Supervisors only", "Everyone"]
    assert titles("oak_supervisor") == ["Supervisors only", "Oak only", "Everyone"]
    assert titles("quality") == ["Oak only", "Everyone"]
    assert titles("quality", service_ids=[org.maple]) == ["Everyone"]
    assert titles("quality", service_ids=[org.oak]) == ["Oak only", "Everyone"]
    with read_session(engine) as session:
        [item] = bulletin(session, org.actor("reporter"))
        assert item.from_your_reports and item.report_count == 1 and item.services == []
        with pytest.raises(PermissionDenied):
            bulletin(session, org.actor("commissioner"))
        count = changes_this_quarter(session, org.actor("reporter"),
                                     today=to_local(utcnow(), settings().zone).date(),
                                     rules=settings())
    assert count.changes == 1 and count.from_your_reports == 2  # "Supervisors only" too


def test_quarters():
    from datetime import date
    assert quarter_bounds(date(2026, 2, 14)) == (date(2026, 1, 1), date(2026, 4, 1))
    assert quarter_bounds(date(2026, 12, 31)) == (date(2026, 10, 1), date(2027, 1, 1))


def test_published_updates_in_a_period_for_the_commissioner_pack(engine, org):
    maple = file(engine, org)
    second = file(engine, org)
    publish(engine, org, [maple.reference, second.reference], title="Transfer check")
    create_update(UnitOfWork(engine), org.actor("quality"), update_draft([maple.reference],
                                                                         title="Draft"),
                  now=utcnow(), rules=settings())
    today = local_now().date()
    with read_session(engine) as session:
        [row] = published_updates(session, org.actor("commissioner"), today,
                                  today + timedelta(days=1), rules=settings())
        assert published_updates(session, org.actor("quality"), today - timedelta(days=7),
                                 today, rules=settings()) == []
    assert (row.title, row.linked_reports, row.published_on) == ("Transfer check", 2, today)
    assert row.what_changed.startswith("Before every")


# -- the cues guides -------------------------------------------------------------------------

def test_cue_guides_come_from_the_database_once_edited_else_the_shipped_file(engine, org):
    reporter, admin = org.actor("reporter"), org.actor("admin")
    with read_session(engine) as session:
        shipped = cues.guide_for(session, reporter)
    assert shipped.key == "care_worker" and not shipped.edited
    assert shipped.markdown == cues.load_guide("care_worker").markdown
    assert "walker or frame out of reach" in shipped.markdown
    with pytest.raises(PermissionDenied):
        cues.save_guide(UnitOfWork(engine), org.actor("quality"), "care_worker", "# Mine",
                        now=utcnow())
    with pytest.raises(ValidationFailed):
        cues.save_guide(UnitOfWork(engine), admin, "care_worker", "  ", now=utcnow())
    cues.save_guide(UnitOfWork(engine), admin, "care_worker", "# Cues\n- **Wet floor** by the door",
                    now=utcnow())
    with read_session(engine) as session:
        edited = cues.guide_for(session, reporter)
        nurse = cues.guide(session, "nurse")
        events = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "cue_guide.saved"))
    assert edited.edited and "Wet floor" in edited.markdown and edited.updated_by == "Admin"
    assert not nurse.edited and events == 1
    cues.restore_shipped_guide(UnitOfWork(engine), admin, "care_worker", now=utcnow())
    with read_session(engine) as session:
        assert cues.guide_for(session, reporter).markdown == shipped.markdown
