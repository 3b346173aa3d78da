"""How much of what a reporter reads is translated, per language.

Run `python tools/translation_coverage.py`. Counted, for each language with a catalogue
(locales/<code>/LC_MESSAGES/nearmiss.po):

- messages: every string marked with _(), gettext(), ngettext() or N_() in the modules
  babel.cfg names (read from the source, not from locales/nearmiss.pot, so a template not
  yet regenerated hides nothing). One is translated when the catalogue has it, not fuzzy,
  every plural form filled in, with the same {placeholders} as the English;
- taxonomy: what the report form shows from data/taxonomy.yaml: each offered type's name and
  description, each capture field's label, help and options, each interface's label;
- cue guides: each guide in data/cues/<key>.md has its data/cues/<key>.<code>.md.

tests/unit/test_i18n_catalogue.py requires 100% of each.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.feedback.cues import GUIDES, cues_dir  # noqa: E402
from core.i18n import DEFAULT_LANGUAGE, catalogue_path, languages  # noqa: E402
from core.taxonomy.service import load_taxonomy_file  # noqa: E402

PLACEHOLDER = re.compile(r"{(\w*)}")


@dataclass
class Share:
    """Of `total` things a reporter reads, the ones not (properly) translated."""

    total: int = 0
    missing: list[str] = field(default_factory=list)

    @property
    def translated(self) -> int:
        return self.total - len(self.missing)

    @property
    def percent(self) -> float:
        return 100.0 * self.translated / self.total if self.total else 100.0


def reporter_messages() -> list[str | tuple[str, ...]]:
    """Every marked string of the reporter-facing modules (a tuple: singular and plural)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[str | tuple[str, ...], None] = {}
    for _filename, _line, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS):
        if message:
            found[message] = None
    return list(found)


def message_share(language: str) -> Share:
    """The share of reporter-facing messages `language`'s catalogue translates."""
    with catalogue_path(language).open("rb") as po:
        catalogue = read_po(po, locale=language)
    share = Share()
    for message in reporter_messages():
        share.total += 1
        key = message[0] if isinstance(message, tuple) else message
        entry = catalogue.get(key)
        english = message if isinstance(message, tuple) else (message,)
        strings = entry.string if entry is not None else ""
        translations = strings if isinstance(strings, tuple) else (strings,)
        wanted = {name for text in english for name in PLACEHOLDER.findall(text)}
        if (entry is None or entry.fuzzy or not all(translations)
                or len(translations) < (catalogue.num_plurals if len(english) > 1 else 1)
                or any(set(PLACEHOLDER.findall(t)) - wanted for t in translations)
                or (len(english) == 1 and set(PLACEHOLDER.findall(translations[0])) != wanted)):
            share.missing.append(key)
    return share


def _taxonomy_items(language: str) -> Iterator[tuple[str, bool]]:
    taxonomy = load_taxonomy_file(ROOT / "data" / "taxonomy.yaml")
    for spec in taxonomy.types:
        if not spec.active:
            continue
        yield f"{spec.key}: name and description", language in spec.translations
        for field_spec in spec.capture_fields:
            translation = field_spec.translations.get(language)
            yield f"{spec.key}.{field_spec.key}: label", translation is not None
            if field_spec.help:
                yield f"{spec.key}.{field_spec.key}: help", bool(translation and translation.help)
            if field_spec.options:
                yield f"{spec.key}.{field_spec.key}: options", bool(
                    translation and len(translation.options) == len(field_spec.options))
    for flag in taxonomy.interface_flags:
        yield f"interface {flag.key}: label", language in flag.translations


def taxonomy_share(language: str) -> Share:
    """The share of what the report form shows from the taxonomy, translated."""
    share = Share()
    for item, translated in _taxonomy_items(language):
        share.total += 1
        if not translated:
            share.missing.append(item)
    return share


def guide_share(language: str) -> Share:
    """The share of shipped cue guides with a translation."""
    share = Share()
    for key in GUIDES:
        if (cues_dir() / f"{key}.md").exists():
            share.total += 1
            if not (cues_dir() / f"{key}.{language}.md").exists():
                share.missing.append(f"data/cues/{key}.{language}.md")
    return share


def main() -> int:
    """Print each language's shares; exit 1 if any is below 100%."""
    complete = True
    for language in languages():
        if language == DEFAULT_LANGUAGE:
            continue
        for what, share in (("messages", message_share(language)),
                            ("taxonomy", taxonomy_share(language)),
                            ("cue guides", guide_share(language))):
            print(f"{language} {what}: {share.translated}/{share.total} ({share.percent:.1f}%)")
            for missing in share.missing:
                print(f"   missing: {missing!r}")
            complete = complete and not share.missing
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
