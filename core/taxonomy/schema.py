"""The shape of data/taxonomy.yaml, validated strictly so a typo fails start-up clearly."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]

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


class FieldSpec(_Strict):
    """A field of a near-miss type ("Required fields must include", seed 1)."""

    key: Key
    label: Label
    kind: FieldKind = "text"
    options: tuple[Label, ...] = ()
    capture: bool = False  # also offered, optionally, when the near miss is reported
    source: ReportSource | None = None  # taken from the report itself, not asked again
    help: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if self.kind == "choice" and not self.options and self.source is None:
            raise ValueError(f"field {self.key!r} is a choice but lists no options")
        if self.kind != "choice" and self.options:
            raise ValueError(f"field {self.key!r} has options but its kind is {self.kind!r}")
        if self.source is not None and self.capture:
            raise ValueError(f"field {self.key!r} comes from the report ({self.source}); "
                             "it cannot also be a capture field")
        return self


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

    @model_validator(mode="after")
    def _unique(self) -> NearMissTypeSpec:
        _unique_keys(self.fields, "field")
        _unique_keys(self.gates, "gate")
        _unique_keys(self.validation, "validation item")
        return self

    @property
    def capture_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.capture)


class Option(_Strict):
    key: Key
    label: Label


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
