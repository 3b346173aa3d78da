"""A reporter in Spanish (issue 19.2): picking Español at sign-in (saved on the profile), the
report form with its cues and errors in Spanish, a profile's language adopted at sign-in, a
choice in My account, and a report without a name written in Spanish."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.accounts.users import set_language
from core.auth.models import User
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.uow import UnitOfWork
from tests.apptest_helpers import assert_no_exception, field_messages, new_app, sign_in, texts
from tests.builders import build_org, draft
from tests.conftest import built_once

DESCRIPTION = ("La andadera estaba fuera de su alcance en la puerta del baño; "
               "la sostuve antes de que se cayera.")


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def _language_of(engine, username: str) -> str:
    with read_session(engine) as session:
        return session.scalar(select(User.language).where(User.username == username))


def _reports(engine) -> list[NearMissReport]:
    with read_session(engine) as session:
        rows = list(session.scalars(select(NearMissReport).order_by(NearMissReport.id)))
        session.expunge_all()
        return rows


def _in_spanish_at_sign_in():
    at = new_app().run()
    at.radio(key="sign_in_language").set_value("es").run()
    assert_no_exception(at)
    return at


def test_the_sign_in_page_speaks_spanish_once_picked(org):
    at = _in_spanish_at_sign_in()
    assert texts(at, "title") == ["Portal de casi incidentes"]
    assert "Iniciar sesión" in texts(at, "subheader")
    assert "Seguimiento de un informe hecho sin su nombre" in texts(at, "subheader")
    assert at.text_input(key="sign_in_username").label == "Usuario"
    assert at.text_input(key="follow_up_code").label == "Código de seguimiento"


def test_a_wrong_follow_up_code_is_explained_in_spanish(org, monkeypatch):
    monkeypatch.setattr("ui.session.FOLLOW_UP_WRONG_DELAY_SECONDS", 0)
    at = _in_spanish_at_sign_in()
    at.text_input(key="follow_up_code").input("K7QM-2XRD-9TFA")
    at.button(key="follow_up_submit").click().run()
    assert any(e.startswith("Ese código no corresponde a ningún informe") for e in
               texts(at, "error"))


def test_a_worker_picks_espanol_and_files_a_report_entirely_in_spanish(org, engine):
    at = sign_in(_in_spanish_at_sign_in(), "reporter")
    assert_no_exception(at)
    assert _language_of(engine, "reporter") == "es"  # picked at sign-in: saved on the profile
    assert texts(at, "title") == ["Informar un casi incidente"]
    assert at.text_area(key="report.description").label == "¿Qué pasó?"
    assert at.radio(key="report.still_at_risk").options == ["Sí", "No"]
    assert any(e.label.startswith("¿Esto cuenta?") for e in at.expander)

    at.text_area(key="report.description").input(DESCRIPTION)
    at.selectbox(key="report.type_key").select("transfer_near_fall")
    at.selectbox(key="report.location_id").select(org.maple_bathroom)
    at.radio(key="report.still_at_risk").set_value("no").run()
    # The type's name, description and its fields come from the taxonomy's translations.
    assert at.selectbox(key="report.type_key").format_func("transfer_near_fall") == (
        "Traslado / casi caída")
    aid = at.selectbox(key="report.capture.mobility_aid_position")
    assert aid.label == "Posición de la ayuda para la movilidad"
    assert aid.format_func("Slightly out of reach") == "Un poco fuera del alcance"

    at = at.button(key="report_submit").click().run()  # "what stopped harm?" left out
    assert_no_exception(at)
    [summary] = texts(at, "error")
    assert summary.startswith("El informe todavía no está registrado: revise el campo marcado")
    assert "¿Qué evitó el daño?" in summary
    assert field_messages(at) == ["Diga qué evitó el daño."]

    at.radio(key="report.barrier").set_value("staff_recovery")
    at.selectbox(key="report.capture.mobility_aid_position").select("Slightly out of reach")
    at = at.button(key="report_submit").click().run()
    assert_no_exception(at)
    [success] = texts(at, "success")
    assert success.startswith("Casi incidente registrado. Su referencia es")
    [report] = _reports(engine)
    assert report.language == "es" and report.description == DESCRIPTION
    assert report.capture_fields == {"mobility_aid_position": "Slightly out of reach"}


def test_signing_in_adopts_the_language_saved_on_the_profile(org, engine):
    set_language(UnitOfWork(engine), org.actor("reporter"), "es", now=utcnow())
    at = sign_in(new_app(), "reporter")
    assert_no_exception(at)
    assert texts(at, "title") == ["Informar un casi incidente"]


def test_my_account_changes_the_language_and_saves_it(org, engine):
    at = sign_in(new_app(), "reporter")
    at.switch_page("pages/account.py").run()
    assert_no_exception(at)
    assert texts(at, "title") == ["My account"]
    at.radio(key="account_language").set_value("es").run()
    assert_no_exception(at)
    assert texts(at, "title") == ["Mi cuenta"]
    assert _language_of(engine, "reporter") == "es"
    at.radio(key="account_language").set_value("en").run()
    assert texts(at, "title") == ["My account"]
    assert _language_of(engine, "reporter") == "en"


def test_a_report_without_a_name_in_spanish_changes_no_profile(org, engine):
    at = sign_in(new_app(), "reporter")
    at.radio(key="report_language").set_value("es").run()
    assert texts(at, "title") == ["Informar un casi incidente"]
    at.text_area(key="report.description").input(DESCRIPTION)
    at.selectbox(key="report.type_key").select("transfer_near_fall")
    at.selectbox(key="report.location_id").select(org.maple_bathroom)
    at.radio(key="report.barrier").set_value("staff_recovery")
    at.radio(key="report.still_at_risk").set_value("no")
    at.checkbox(key="report.anonymous").check()
    at = at.button(key="report_submit").click().run()
    assert_no_exception(at)
    assert any("Su código privado de seguimiento" in m for m in texts(at, "markdown"))
    [report] = _reports(engine)
    assert report.language == "es" and report.reporter_id is None
    assert _language_of(engine, "reporter") == "en"  # nothing links the report to them


def test_the_follow_up_page_shows_the_report_in_spanish(org, engine):
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                           draft(org, description=DESCRIPTION, anonymous=True, language="es"),
                           now=utcnow(), rules=settings())
    at = _in_spanish_at_sign_in()
    at.text_input(key="follow_up_code").input(filed.follow_up_code)
    at.button(key="follow_up_submit").click().run()
    assert_no_exception(at)
    [shown] = [t.value for t in at.text if t.value.startswith("Referencia:")]
    assert shown == (f"Referencia: {filed.reference}\nTipo: Traslado / casi caída\n"
                     "Estado: Nuevo: a la espera de clasificación")
    assert any(i.startswith("Todavía no se ha publicado ninguna novedad") for i in
               texts(at, "info"))
