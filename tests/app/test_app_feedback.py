"""The feedback pages in the real app: the bulletin, the update editor, the cues editor, the
follow-up code from the report form to the sign-in page, My reports and the culture panel."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.auth.policy import pages_for
from core.auth.roles import Role
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.escalation.models import Notification
from core.feedback.models import CueGuideText, FeedbackUpdate
from core.feedback.service import UpdateDraft, create_update, publish_update
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.apptest_helpers import (
    assert_no_exception,
    field_messages,
    new_app,
    shown,
    sign_in,
    texts,
)
from tests.builders import build_org, draft
from tests.conftest import built_once

DESCRIPTION = "Walker slightly out of reach at the bathroom doorway; I steadied Alex."
TITLE = "Pre-transfer equipment check"
CHANGED = "Before every bathroom transfer, check the walker is within reach."


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def file(engine, org, actor="reporter", **changes):
    return file_near_miss(UnitOfWork(engine), org.actor(actor),
                          draft(org, description=DESCRIPTION, **changes),
                          now=utcnow(), rules=settings())


def publish(engine, org, references, actor="quality", **changes):
    values = dict(title=TITLE, what_changed=CHANGED, why="Near falls at the doorway.",
                  report_references=references)
    values.update(changes)
    update_id = create_update(UnitOfWork(engine), org.actor(actor), UpdateDraft(**values),
                              now=utcnow(), rules=settings())
    publish_update(UnitOfWork(engine), org.actor(actor), update_id, now=utcnow(), rules=settings())
    return update_id


def everything_shown(at) -> str:
    """Every piece of text the page shows (to prove what it does not show)."""
    kinds = ("title", "header", "subheader", "markdown", "caption", "text", "info", "error",
             "success", "warning", "code", "metric")
    parts = [shown(str(getattr(e, "value", ""))) for kind in kinds for e in getattr(at, kind)]
    parts += [shown(str(getattr(e, "label", ""))) for e in at.metric]
    return "\n".join(parts)


# -- the bulletin ----------------------------------------------------------------------------

def test_the_bulletin_shows_staff_what_changed_and_counts_this_quarter(engine, org):
    filed = file(engine, org)
    oak = file(engine, org, actor="quality", service_id=org.oak, location_id=org.oak_lounge)
    publish(engine, org, [filed.reference])
    publish(engine, org, [oak.reference], title="Oak minibus booking rule",
            service_ids=[org.oak])
    at = sign_in(new_app(), "reporter")
    at.switch_page("pages/bulletin.py").run()
    assert_no_exception(at)
    assert texts(at, "title") == ["What changed because you reported"]
    shown = texts(at, "text")
    assert TITLE in shown and CHANGED in shown and "Oak minibus booking rule" not in shown
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Changes made because you reported, this quarter"] == "1"
    assert metrics["From near misses you reported"] == "1"
    assert "1 near miss report" in shown and "All services" in shown

    # The quality lead sees both and filters by service.
    at = sign_in(new_app(), "quality")
    at.switch_page("pages/bulletin.py").run()
    assert {TITLE, "Oak minibus booking rule"} <= set(texts(at, "text"))
    at.multiselect(key="bulletin_services").select(org.maple).run()
    assert_no_exception(at)
    assert TITLE in texts(at, "text") and "Oak minibus booking rule" not in texts(at, "text")


def test_an_empty_bulletin_says_so(org):
    at = sign_in(new_app(), "supervisor")
    at.switch_page("pages/bulletin.py").run()
    assert_no_exception(at)
    assert any("No updates to show yet" in i for i in texts(at, "info"))


# -- the editor ------------------------------------------------------------------------------

def editor(username):
    at = sign_in(new_app(), username)
    at.switch_page("pages/feedback_updates.py").run()
    assert_no_exception(at)
    return at


def test_the_quality_lead_writes_saves_and_publishes_an_update(engine, org):
    filed = file(engine, org)
    anonymous = file(engine, org, anonymous=True)
    at = editor("quality")
    assert texts(at, "title") == ["Publish updates"]
    # Nothing typed: one summary alert, and each error beside its field (not an alert).
    at = at.button(key="fb.new.save").click().run()
    [summary] = texts(at, "error")
    assert summary.startswith("Not saved yet: check the answers marked below.")
    assert {"Give the update a short title.", "Say what changed."} <= set(field_messages(at))
    at.text_input(key="fb.new.title").input(TITLE)
    at.text_area(key="fb.new.what_changed").input(CHANGED)
    at.text_input(key="fb.new.references").input(
        f"{filed.reference.lower()}, {anonymous.reference}")
    at = at.run()
    assert TITLE in texts(at, "text")  # the preview, as staff will see it
    at = at.button(key="fb.new.save").click().run()
    assert_no_exception(at)
    assert "Saved." in texts(at, "success")
    with read_session(engine) as session:
        update = session.scalar(select(FeedbackUpdate))
    assert update.status == "draft" and update.title == TITLE
    assert at.selectbox(key="fb_selected").value == update.id
    base = f"fb.{update.id}"
    at.text_area(key=f"{base}.why").input("Two near falls at the same doorway.")
    at = at.button(key=f"{base}.publish").click().run()
    assert_no_exception(at)
    assert any("Published. 1 reporter told" in s and "1 report filed without a name" in s
               for s in texts(at, "success"))
    with read_session(engine) as session:
        update = session.get(FeedbackUpdate, update.id)
        told = session.scalars(select(Notification).where(
            Notification.kind == "feedback.update")).all()
    assert update.status == "published" and update.revision == 2
    assert [n.user_id for n in told] == [org.actor("reporter").user_id]
    # Edited after publishing: the history keeps every revision.
    at.text_input(key=f"{base}.title").input("Pre-transfer check, now on the door card")
    at = at.button(key=f"{base}.save").click().run()
    assert_no_exception(at)
    history = at.dataframe[0].value
    assert list(history["Revision"]) == [3, 2, 1]
    assert list(history["Title"])[-1] == TITLE


def test_a_supervisor_is_offered_and_allowed_only_their_services(engine, org):
    oak = file(engine, org, actor="quality", service_id=org.oak, location_id=org.oak_lounge)
    at = editor("supervisor")
    assert at.multiselect(key="fb.new.services").options == ["Maple House"]
    at.text_input(key="fb.new.title").input(TITLE)
    at.text_area(key="fb.new.what_changed").input(CHANGED)
    at.text_input(key="fb.new.references").input(oak.reference)
    at = at.button(key="fb.new.save").click().run()
    assert len(texts(at, "error")) == 1  # the summary; the reasons are beside the fields
    errors = field_messages(at)
    assert at.text_input(key="fb.new.title").value == TITLE  # what was typed stays
    assert any(oak.reference in e and "among your services" in e for e in errors)
    assert any("Choose the services it affects" in e for e in errors)
    with read_session(engine) as session:
        assert session.scalar(select(FeedbackUpdate)) is None


def test_free_text_is_shown_as_text_never_markdown(engine, org):
    filed = file(engine, org)
    publish(engine, org, [filed.reference], title="**Bold** <b>claim</b>",
            what_changed="[click](http://evil.example) <script>x</script>")
    at = sign_in(new_app(), "reporter")
    at.switch_page("pages/bulletin.py").run()
    assert "**Bold** <b>claim</b>" in texts(at, "text")
    assert not any("evil.example" in m for m in texts(at, "markdown"))


# -- telling the reporter: My reports and the anonymous follow-up ----------------------------

def test_my_reports_shows_the_update_next_to_the_report(engine, org):
    filed = file(engine, org)
    file(engine, org)
    publish(engine, org, [filed.reference])
    at = sign_in(new_app(), "reporter")
    at.switch_page("pages/my_reports.py").run()
    assert_no_exception(at)
    frame = at.dataframe[0].value
    changed = dict(zip(frame["Reference"], frame["What changed"], strict=True))
    assert changed[filed.reference] == TITLE
    assert TITLE in texts(at, "text") and CHANGED in texts(at, "text")
    assert any("1 new “what changed” update" in i for i in texts(at, "info"))
    at = at.button(key="my_reports_mark_read").click().run()
    assert not any("new “what changed”" in i for i in texts(at, "info"))
    with read_session(engine) as session:
        assert session.scalar(select(Notification.read_at)) is not None


def follow_up(at, code):
    at.text_input(key="follow_up_code").input(code)
    return at.button(key="follow_up_submit").click().run()


def test_an_anonymous_reporter_follows_up_with_the_code_and_sees_nothing_else(
        engine, org, monkeypatch):
    import ui.session

    monkeypatch.setattr(ui.session, "FOLLOW_UP_WRONG_DELAY_SECONDS", 0)
    # AppTest has no client address; give one, as a browser would have.
    monkeypatch.setattr(ui.session, "client_source", lambda: "198.51.100.7")
    named = file(engine, org)
    # File without a name through the report page; the confirmation shows the code once.
    at = sign_in(new_app(), "reporter")
    at.text_area(key="report.description").input(DESCRIPTION)
    at.selectbox(key="report.type_key").select("transfer_near_fall")
    at.selectbox(key="report.location_id").select(org.maple_bathroom)
    at.radio(key="report.barrier").set_value("staff_recovery")
    at.radio(key="report.still_at_risk").set_value("no")
    at.checkbox(key="report.anonymous").check()
    at = at.run().button(key="report_submit").click().run()
    assert_no_exception(at)
    [code_element] = at.code
    code = code_element.value
    assert any("Write it down now" in m for m in texts(at, "markdown"))
    assert not any("My reports" in m for m in texts(at, "markdown"))
    reference = next(s for s in texts(at, "success") if "filed" in s).split("**")[1]
    publish(engine, org, [reference, named.reference])

    # A fresh browser, nobody signed in: the code opens that report's status and updates.
    at = new_app()
    at.run()
    assert texts(at, "title") == ["Near Miss Portal"]
    at = follow_up(at, code)
    assert_no_exception(at)
    shown = everything_shown(at)
    assert f"Reference: {reference}" in shown and "Status: New: waiting for triage" in shown
    assert TITLE in shown and CHANGED in shown
    assert DESCRIPTION not in shown and named.reference not in shown
    assert "Reporter" not in shown and "Maple House" not in shown
    assert texts(at, "title") == ["Near Miss Portal"]  # still not signed in

    # A wrong code reveals nothing; after five, the form pauses.
    at = new_app()
    at.run()
    for attempt in range(5):
        at = follow_up(at, f"AAAA-BBBB-CCC{ '23456'[attempt] }")
        assert "That code does not match a report" in " ".join(texts(at, "error"))
        assert reference not in everything_shown(at) and TITLE not in everything_shown(at)
    at = follow_up(at, code)
    assert any("Too many codes" in e for e in texts(at, "error"))
    assert TITLE not in everything_shown(at)


# -- the cues guides -------------------------------------------------------------------------

def test_the_admin_edits_a_cues_guide_with_a_preview_and_staff_see_it(engine, org):
    at = sign_in(new_app(), "admin")
    at.switch_page("pages/admin_cues.py").run()
    assert_no_exception(at)
    assert at.selectbox(key="cues_guide").value == "care_worker"
    editor_box = at.text_area(key="cues.care_worker.markdown")
    assert "walker or frame out of reach" in editor_box.value
    editor_box.input("# Cues\n- **Wet floor** by the back door")
    at = at.run()
    assert any("**Wet floor** by the back door" in m for m in texts(at, "markdown"))  # preview
    at = at.button(key="cues_save").click().run()
    assert_no_exception(at)
    assert any("Saved." in s for s in texts(at, "success"))
    assert any("Last edited" in c for c in texts(at, "caption"))
    with read_session(engine) as session:
        assert "Wet floor" in session.get(CueGuideText, "care_worker").markdown
    # The nurse guide is untouched; the print view shows the saved text.
    at.selectbox(key="cues_guide").select("nurse").run()
    assert any("medication discrepancy" in m for m in texts(at, "markdown"))

    reporter = sign_in(new_app(), "reporter")
    assert any("Wet floor" in m for m in texts(reporter, "markdown"))


def test_a_refused_cues_guide_is_one_summary_with_the_reason_beside_the_guide(engine, org):
    at = sign_in(new_app(), "admin")
    at.switch_page("pages/admin_cues.py").run()
    at.text_area(key="cues.care_worker.markdown").input("")
    at = at.run().button(key="cues_save").click().run()
    assert_no_exception(at)
    assert texts(at, "error") == ["Not saved yet: see below."]
    assert len(field_messages(at)) == 1
    too_long = "x" * 8001
    at.text_area(key="cues.care_worker.markdown").input(too_long)
    at = at.run().button(key="cues_save").click().run()
    assert texts(at, "error") == ["Not saved yet: see below."]
    assert len(field_messages(at)) == 1
    assert at.text_area(key="cues.care_worker.markdown").value == too_long  # kept
    with read_session(engine) as session:
        assert session.get(CueGuideText, "care_worker") is None


def test_who_reaches_the_feedback_pages():
    def paths(*roles):
        return {page.path for page in pages_for([Role(r) for r in roles])}

    assert "pages/admin_cues.py" in paths("admin")
    assert "pages/admin_cues.py" not in paths("quality") | paths("supervisor")
    assert "pages/feedback_updates.py" in paths("quality") & paths("supervisor")
    assert "pages/feedback_updates.py" not in paths("reporter") | paths("admin")
    for role in ("reporter", "supervisor", "clinical", "quality", "governance", "admin"):
        assert "pages/bulletin.py" in paths(role)
    assert "pages/bulletin.py" not in paths("commissioner")


# -- the governance measures -----------------------------------------------------------------

def test_the_culture_panel_shows_the_feedback_measures(engine, org):
    filed = file(engine, org)
    file(engine, org, actor="supervisor")
    publish(engine, org, [filed.reference])
    at = sign_in(new_app(), "quality")
    at.switch_page("pages/governance_culture.py").run()
    assert_no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Reporters told what changed"] == "50%"
    assert metrics["Median time from report to first feedback"] == "0 min"
    assert metrics["Updates published per month"] != "—"
