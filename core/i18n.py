"""The languages a reporter can use, and their message catalogues (gettext).

Each language other than English is one file, `locales/<code>/LC_MESSAGES/nearmiss.po`,
written by a translator and kept in the repository. It is compiled in memory the first time
it is needed (Babel reads the .po, gettext reads the compiled catalogue), so a fresh clone
needs no build step and a .po edit shows at the next start. English is the language of the
code itself: its "catalogue" is the strings as written.

Code marks text with `_()` / `ngettext()` from `translator(language)`, and text defined once
at module level (labels in a dict) with `N_()`, translated where it is shown. `babel.cfg`
names the modules whose strings a reporter reads; `pybabel extract` collects them
(see README, "Languages").
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT_LANGUAGE = "en"
DOMAIN = "nearmiss"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
# Native names, so a person finds their own language whatever the page is in. A language
# missing here is named by Babel's locale data (adding a language needs no code change).
_NATIVE_NAMES = {"en": "English", "es": "Español"}


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet (translated where shown)."""
    return message


@dataclass(frozen=True)
class Translator:
    """The gettext functions of one language."""

    language: str
    gettext: Callable[[str], str]
    ngettext: Callable[[str, str, int], str]


def catalogue_path(language: str) -> Path:
    """Where a language's .po file lives."""
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def languages() -> tuple[str, ...]:
    """The language codes offered: English, then every language with a catalogue."""
    found = sorted(p.parent.parent.name for p in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (DEFAULT_LANGUAGE, *[code for code in found if code != DEFAULT_LANGUAGE])


def is_supported(language: str | None) -> bool:
    """Whether the portal speaks this language."""
    return language in languages()


def supported(language: str | None) -> str:
    """The language if the portal speaks it, else the default (English)."""
    return language if language is not None and is_supported(language) else DEFAULT_LANGUAGE


@cache
def native_name(language: str) -> str:
    """A language's name in that language (e.g. "Español")."""
    if language in _NATIVE_NAMES:
        return _NATIVE_NAMES[language]
    from babel import Locale  # only for a language added after this list was written

    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def _compiled(language: str) -> gettext.NullTranslations:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)  # a fuzzy guess is not a translation
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def translator(language: str | None) -> Translator:
    """The gettext functions for a language (English for an unknown or missing one)."""
    code = supported(language)
    catalogue = gettext.NullTranslations() if code == DEFAULT_LANGUAGE else _compiled(code)
    return Translator(code, catalogue.gettext, catalogue.ngettext)
