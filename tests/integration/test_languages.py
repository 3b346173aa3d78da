"""Languages (issue 19.2): the one a person chose, kept on their profile, and the one a report
was written in, kept with it and shown on the triage board; a Spanish reporter's messages and
e-mail in Spanish. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.accounts.service import build_actor
from core.accounts.users import set_language
from core.audit.chain import verify_chain
from core.audit.models import AuditEvent
from core.auth.models import User
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import ValidationFailed
from core.escalation.models import Notification
from core.feedback.service import UpdateDraft, create_update, publish_update
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.taxonomy.admin import rows_from_spec, save_type, spec_data_from_form
from core.taxonomy.service import live_taxonomy
from core.triage.board import BoardFilters, load_board
from core.uow import UnitOfWork
from tests.builders import build_org, draft
from tests.conftest import built_once

SPANISH_TEXT = ("La andadera estaba fuera de su alcance en la puerta del baño; "
                "la sostuve antes de que se cayera.")


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def _user(engine, username: str) -> User:
    with read_session(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        session.expunge(user)
        return user


def test_a_new_person_speaks_english_until_they_choose(engine, org):
    assert _user(engine, "reporter").language == "en"
    assert org.actor("reporter").language == "en"


def test_a_chosen_language_is_saved_on_the_profile_and_audited(engine, org):
    set_language(UnitOfWork(engine), org.actor("reporter"), "es", now=utcnow())
    user = _user(engine, "reporter")
    assert user.language == "es"
    with read_session(engine) as session:
        user = session.scalar(select(User).where(User.username == "reporter"))
        assert build_actor(user,
                           rules=settings()).language == "es"  # the next sign-in speaks Spanish
        event = session.scalar(select(AuditEvent).where(
            AuditEvent.action == "user.language_changed"))
        assert event.actor == "reporter"
        assert '"es"' in (event.after_json or "") and '"en"' in (event.before_json or "")
        assert verify_chain(session).ok


def test_choosing_the_language_already_chosen_changes_nothing(engine, org):
    set_language(UnitOfWork(engine), org.actor("reporter"), "en", now=utcnow())
    with read_session(engine) as session:
        assert session.scalar(select(AuditEvent).where(
            AuditEvent.action == "user.language_changed")) is None


def test_a_language_the_portal_does_not_speak_is_refused(engine, org):
    with pytest.raises(ValidationFailed) as refused:
        set_language(UnitOfWork(engine), org.actor("reporter"), "xx", now=utcnow())
    assert set(refused.value.errors) == {"language"}
    assert _user(engine, "reporter").language == "en"


def test_a_report_keeps_its_text_as_written_and_its_language(engine, org):
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, description=SPANISH_TEXT, language="es",
        capture_fields={"mobility_aid_position": "Slightly out of reach"}),
                           now=utcnow(), rules=settings())
    english = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                             now=utcnow(), rules=settings())
    with read_session(engine) as session:
        report = session.get(NearMissReport, filed.id)
        assert report.language == "es"
        assert report.description == SPANISH_TEXT  # never translated
        # A choice is stored as its English option, so reports count alike in any language.
        assert report.capture_fields == {"mobility_aid_position": "Slightly out of reach"}
        assert session.get(NearMissReport, english.id).language == "en"


def test_a_spanish_reporter_is_told_what_to_fix_in_spanish(engine, org):
    with pytest.raises(ValidationFailed) as refused:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
            org, description="", barrier=None, language="es"), now=utcnow(), rules=settings())
    assert refused.value.errors["description"] == "Diga brevemente qué pasó."
    assert refused.value.errors["barrier"] == "Diga qué evitó el daño."
    with pytest.raises(ValidationFailed) as english:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, description=""),
                       now=utcnow(), rules=settings())
    assert english.value.errors["description"] == "Say briefly what happened."


def test_a_report_in_a_language_the_portal_does_not_speak_is_refused(engine, org):
    with pytest.raises(ValidationFailed) as refused:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, language="xx"),
                       now=utcnow(), rules=settings())
    assert "language" in refused.value.errors


def test_the_triage_board_shows_each_report_s_language(engine, org):
    spanish = file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                             draft(org, description=SPANISH_TEXT, language="es"),
                             now=utcnow(), rules=settings())
    english = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                             now=utcnow(), rules=settings())
    with read_session(engine) as session:
        board = load_board(session, org.actor("supervisor"), BoardFilters(), now=utcnow())
    cards = {card.id: card for column in board.columns.values() for card in column}
    assert cards[spanish.id].language == "es"
    assert cards[english.id].language == "en"


def test_a_spanish_reporter_hears_what_changed_in_spanish(engine, org):
    set_language(UnitOfWork(engine), org.actor("reporter"), "es", now=utcnow())
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                           draft(org, description=SPANISH_TEXT, language="es"),
                           now=utcnow(), rules=settings())
    quality = org.actor("quality")
    update_id = create_update(UnitOfWork(engine), quality, UpdateDraft(
        title="Pre-transfer equipment check",
        what_changed="Before every bathroom transfer, check the walker is within reach.",
        why="Near falls at the bathroom doorway.", report_references=[filed.reference]),
                              now=utcnow(), rules=settings())
    publish_update(UnitOfWork(engine), quality, update_id, now=utcnow(), rules=settings())
    with read_session(engine) as session:
        note = session.scalar(select(Notification).where(
            Notification.kind == "feedback.update"))
    assert note.title == f"Qué cambió gracias a su informe: {filed.reference}"
    assert note.body.startswith("Se publicó una novedad de “qué cambió gracias a su informe”")
    assert filed.reference in note.body


def _edited_in_the_editor(engine, change) -> dict:
    """The near fall as the taxonomy editor saves it: its tables have no translations."""
    with read_session(engine) as session:
        spec = live_taxonomy(session).type("transfer_near_fall")
    header = spec.model_dump(mode="json", include={"key", "name", "description", "route_to",
                                                   "stop_the_line", "safeguarding_signal",
                                                   "clinical_advice", "active"})
    tables = rows_from_spec(spec)
    change(header, tables)
    return spec_data_from_form(header, tables)


def test_an_edit_in_the_taxonomy_editor_keeps_the_translations_of_what_it_left_alone(engine,
                                                                                    org):
    def add_gate_and_relabel(header, tables):
        tables["gates"].append({"key": "hoist_checked", "label": "Hoist checked"})
        task = next(r for r in tables["fields"] if r["key"] == "transfer_task")
        task["label"] = "Transfer or mobility task"

    save_type(UnitOfWork(engine), org.actor("admin"),
              _edited_in_the_editor(engine, add_gate_and_relabel), now=utcnow())
    with read_session(engine) as session:
        spec = live_taxonomy(session).type("transfer_near_fall")
    assert spec.name_in("es") == "Traslado / casi caída"
    fields = {f.key: f for f in spec.fields}
    assert fields["mobility_aid_position"].label_in("es") == (
        "Posición de la ayuda para la movilidad")
    assert fields["mobility_aid_position"].option_label("Out of reach", "es") == (
        "Fuera del alcance")
    # A changed English label loses its (now stale) translation: the reporter reads the new one.
    assert fields["transfer_task"].label_in("es") == "Transfer or mobility task"


def test_saving_the_editor_unchanged_keeps_the_version(engine, org):
    unchanged = _edited_in_the_editor(engine, lambda header, tables: None)
    assert save_type(UnitOfWork(engine), org.actor("admin"), unchanged, now=utcnow()) == 1
