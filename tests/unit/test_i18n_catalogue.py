"""Every word a reporter reads exists in every language the portal offers (issue 19.2).

Fails on any reporter-facing string (marked in a module babel.cfg names) without a non-empty,
non-fuzzy translation with the same {placeholders}, on any taxonomy label the report form shows
without one, and on a cue guide without its translation. Counted by
tools/translation_coverage.py, which prints the shares.
"""

from __future__ import annotations

import pytest

from core.i18n import DEFAULT_LANGUAGE, languages, native_name, translator
from tools.translation_coverage import (
    guide_share,
    message_share,
    reporter_messages,
    taxonomy_share,
)

OFFERED = [code for code in languages() if code != DEFAULT_LANGUAGE]


def test_spanish_is_offered_beside_english():
    assert languages()[0] == "en" and "es" in OFFERED
    assert native_name("es") == "Español" and native_name("en") == "English"


def test_the_reporter_facing_modules_mark_their_strings():
    messages = reporter_messages()
    # A sample from each kind of place: a page, the sign-in form, a form rule, an e-mail.
    for expected in ("Report a near miss", "Follow-up code", "Say briefly what happened.",
                     "What changed because you reported: {reports}"):
        assert expected in messages
    assert len(messages) > 150


@pytest.mark.parametrize("language", OFFERED)
def test_every_reporter_facing_message_is_translated(language):
    share = message_share(language)
    assert share.missing == [], (
        f"{len(share.missing)} of {share.total} reporter-facing messages have no {language} "
        f"translation in locales/{language}/LC_MESSAGES/nearmiss.po (run `make translations`, "
        "then translate them): " + "; ".join(map(repr, share.missing)))


@pytest.mark.parametrize("language", OFFERED)
def test_every_label_the_report_form_shows_from_the_taxonomy_is_translated(language):
    share = taxonomy_share(language)
    assert share.missing == [], f"data/taxonomy.yaml lacks {language} for: {share.missing}"


@pytest.mark.parametrize("language", OFFERED)
def test_every_cue_guide_ships_translated(language):
    assert guide_share(language).missing == []


def test_english_is_the_code_s_own_text_and_an_unknown_language_falls_back_to_it():
    assert translator("en").gettext("Sign in") == "Sign in"
    assert translator("xx").language == "en"
    assert translator(None).gettext("Sign in") == "Sign in"


def test_spanish_plurals_follow_the_count():
    ngettext = translator("es").ngettext
    one, many = "{count} near miss report", "{count} near miss reports"
    assert ngettext(one, many, 1).format(count=1) == "1 informe de casi incidente"
    assert ngettext(one, many, 3).format(count=3) == "3 informes de casi incidentes"
