"""The shape of data/taxonomy.yaml, validated strictly so a typo fails start-up clearly.

What a reporter reads (type names and descriptions, the report form's field labels, help and
options, interface labels) may carry `translations: {es: {...}}` beside the English. A choice
is stored as its English option whatever language the reporter used, so reports compare and
count alike; the translation is only what the form shows.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]

# A language code as in locales/ (core.i18n), e.g. "es" or "pt_BR".
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")]

FieldKind = Literal["text", "longtext", "choice", "datetime", "yes_no", "number"]
# Report attributes a type's field may point at instead of asking again.
ReportSource = Literal["location", "occurred_at", "service", "person", "route", "staff_group"]
RouteTo = Literal["supervisor", "safeguarding", "clinical", "operations"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unique_keys(items: tuple[_Strict, ...], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        key = item.key  # type: ignore[attr-defined]
        if key in seen:
            raise ValueError(f"duplicate {what} key {key!r}")
        seen.add(key)


class FieldTranslation(_Strict):
    """A field in another language; `options` in the same order as the English ones."""

    label: Label
    help: str | None = None
    options: tuple[Label, ...] = ()


class TypeTranslation(_Strict):
    name: Label
    description: Label


class OptionTranslation(_Strict):
    label: Label


class FieldSpec(_Strict):
    """A field of a near-miss type ("Required fields must include", seed 1)."""

    key: Key
    label: Label
    kind: FieldKind = "text"
    options: tuple[Label, ...] = ()
    capture: bool = False  # also offered, optionally, when the near miss is reported
    source: ReportSource | None = None  # taken from the report itself, not asked again
    help: str | None = None
    translations: dict[Language, FieldTranslation] = {}

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if self.kind == "choice" and not self.options and self.source is None:
            raise ValueError(f"field {self.key!r} is a choice but lists no options")
        if self.kind != "choice" and self.options:
            raise ValueError(f"field {self.key!r} has options but its kind is {self.kind!r}")
        if self.source is not None and self.capture:
            raise ValueError(f"field {self.key!r} comes from the report ({self.source}); "
                             "it cannot also be a capture field")
        for language, translation in self.translations.items():
            if len(translation.options) not in (0, len(self.options)):
                raise ValueError(f"field {self.key!r}: its {language} translation lists "
                                 f"{len(translation.options)} options for "
                                 f"{len(self.options)}")
        return self

    def label_in(self, language: str) -> str:
        """The label in this language (English if it has no translation)."""
        translation = self.translations.get(language)
        return translation.label if translation else self.label

    def help_in(self, language: str) -> str | None:
        translation = self.translations.get(language)
        return translation.help if translation and translation.help else self.help

    def option_label(self, option: str, language: str) -> str:
        """What the form shows for one of the (English, stored) options."""
        translation = self.translations.get(language)
        if translation and translation.options and option in self.options:
            return translation.options[self.options.index(option)]
        return option


class GateSpec(_Strict):
    """A "cannot proceed without" item."""

    key: Key
    label: Label
    may_be_not_applicable: bool = False  # e.g. "communication ... where appropriate"
    help: str | None = None


class ValidationItemSpec(_Strict):
    """An "auditable validation must confirm" item: needs evidence before closure."""

    key: Key
    label: Label
    help: str | None = None


class NearMissTypeSpec(_Strict):
    """One near-miss type with everything later stages need."""

    key: Key
    name: Label
    description: Label
    route_to: RouteTo = "supervisor"
    stop_the_line: bool = False
    safeguarding_signal: bool = False
    clinical_advice: bool = False
    active: bool = True
    fields: tuple[FieldSpec, ...] = ()
    gates: tuple[GateSpec, ...] = ()
    validation: tuple[ValidationItemSpec, ...] = ()
    translations: dict[Language, TypeTranslation] = {}

    @model_validator(mode="after")
    def _unique(self) -> NearMissTypeSpec:
        _unique_keys(self.fields, "field")
        _unique_keys(self.gates, "gate")
        _unique_keys(self.validation, "validation item")
        return self

    @property
    def capture_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.capture)

    def name_in(self, language: str) -> str:
        """The type's name in this language (English if it has no translation)."""
        translation = self.translations.get(language)
        return translation.name if translation else self.name

    def description_in(self, language: str) -> str:
        translation = self.translations.get(language)
        return translation.description if translation else self.description


class Option(_Strict):
    key: Key
    label: Label
    translations: dict[Language, OptionTranslation] = {}

    def label_in(self, language: str) -> str:
        translation = self.translations.get(language)
        return translation.label if translation else self.label


class TaxonomySpec(_Strict):
    """The whole taxonomy file."""

    types: tuple[NearMissTypeSpec, ...] = Field(min_length=1)
    interface_flags: tuple[Option, ...] = Field(min_length=1)
    contributing_factors: tuple[Option, ...] = Field(min_length=1)
    safeguarding_signals: tuple[Option, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> TaxonomySpec:
        _unique_keys(self.types, "type")
        _unique_keys(self.interface_flags, "interface flag")
        _unique_keys(self.contributing_factors, "contributing factor")
        _unique_keys(self.safeguarding_signals, "safeguarding signal")
        return self

    def type(self, key: str) -> NearMissTypeSpec:
        for spec in self.types:
            if spec.key == key:
                return spec
        raise KeyError(key)

    def interface_flag_label(self, key: str | None) -> str:
        return next((o.label for o in self.interface_flags if o.key == key), key or "")
