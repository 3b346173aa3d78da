"""A Spanish-speaking worker on a phone picks Español, files a near miss entirely in Spanish,
and the supervisor sees it on the triage board with its language shown (issue 19.2)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from core.db import read_session
from core.reports.models import NearMissReport
from tests.browser.conftest import PHONE
from tests.browser.pages import LONG, choose, enter_signed_in, heading, settle, sign_in
from tests.builders import build_org, local_now

pytestmark = pytest.mark.browser

DESCRIPTION = ("La andadera estaba fuera de su alcance en la puerta del baño; "
               "la sostuve antes de que se cayera.")


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, **PHONE}


def test_a_spanish_speaking_worker_reports_from_a_phone_and_the_board_shows_the_language(
        page: Page, browser: Browser, portal: str, engine, db_url: str):
    build_org(engine)
    sign_in(page, portal, "reporter", language="Español")
    expect(heading(page, "Informar un casi incidente")).to_be_visible(timeout=LONG)
    # The page says it is Spanish, so a screen reader reads it in Spanish.
    page.wait_for_function("document.documentElement.lang === 'es'", timeout=LONG)

    page.get_by_role("textbox", name="¿Qué pasó?").fill(DESCRIPTION)
    choose(page, "Tipo de casi incidente", "Traslado / casi caída")
    expect(page.get_by_text("Una persona casi se cae")).to_be_visible()
    choose(page, "¿Dónde ocurrió?", "Bathroom doorway")  # the provider's own place names
    page.get_by_text("El personal lo notó y lo corrigió").click()
    page.get_by_role("radiogroup", name="¿Alguien sigue en riesgo en este momento?") \
        .get_by_text("No", exact=True).click()
    settle(page)
    page.get_by_text("Más detalles (opcional)").click()
    choose(page, "Posición de la ayuda para la movilidad", "Un poco fuera del alcance")
    # Nothing on the form is wider than the phone, in the longer language either.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]

    page.get_by_role("button", name="Enviar el casi incidente").click()
    reference = f"NM-{local_now().year}-00001"
    expect(page.get_by_text(f"Su referencia es {reference}")).to_be_visible(timeout=LONG)
    with read_session(engine) as session:
        stored = session.execute(select(NearMissReport.language, NearMissReport.description,
                                        NearMissReport.capture_fields)).one()
    assert tuple(stored) == ("es", DESCRIPTION, {"mobility_aid_position": "Slightly out of reach"})

    # The supervisor, in English at a desk, sees it on the board with its language.
    desk = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        board = desk.new_page()
        enter_signed_in(board, portal, "supervisor", db_url, path="/triage_board")
        # Its card: the innermost block holding both its link and the language badge.
        card = board.get_by_test_id("stVerticalBlock").filter(
            has=board.get_by_role("link", name=reference)).filter(has_text="Español (ES)").last
        expect(card).to_be_visible(timeout=LONG)
        expect(board.locator("html")).to_have_attribute("lang", "en")
    finally:
        desk.close()
