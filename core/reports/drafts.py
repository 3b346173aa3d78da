"""The quick report as typed, and the rules that decide whether it can be filed.

Pure: the rules take the taxonomy and the reference data they need as arguments, so they are
tested without a database. Error keys are the form's field names, so the page can show each
message beside its field; messages are in the draft's language (core.i18n).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from core.config import ReportLimits
from core.errors import NUL_MESSAGE, has_nul
from core.i18n import DEFAULT_LANGUAGE, languages, translator
from core.organisation.queries import PlaceLookup
from core.reports.vocabulary import Barrier
from core.taxonomy.schema import FieldSpec, NearMissTypeSpec, TaxonomySpec


@dataclass
class NearMissDraft:
    """What the reporter typed. Times are naive local time as the reporter entered them."""

    description: str = ""
    type_key: str | None = None
    occurred_at: datetime | None = None
    service_id: int | None = None
    location_id: int | None = None
    barrier: str | None = None
    still_at_risk: bool | None = None
    immediate_safeguards: str = ""
    person_id: int | None = None
    route_id: int | None = None
    staff_group_id: int | None = None
    interface_flag: str | None = None
    capture_fields: dict[str, Any] = field(default_factory=dict)
    anonymous: bool = False
    submission_key: str | None = None
    language: str = DEFAULT_LANGUAGE  # what the reporter wrote in (kept with the report)


def capture_field_key(field_key: str) -> str:
    """The form/error key of a type's capture field."""
    return f"capture.{field_key}"


def clean_field_value(spec: FieldSpec, raw: Any, limits: ReportLimits,
                      language: str = DEFAULT_LANGUAGE) -> tuple[Any, str | None]:
    """Normalise one capture field; returns (value or None when empty, error or None).

    A choice is stored as its (English) option, whatever language the form showed it in.
    """
    _ = translator(language).gettext
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    if spec.kind in ("text", "longtext"):
        text = str(raw).strip()
        if has_nul(text):
            return None, _(NUL_MESSAGE)
        limit = limits.short_text_max_chars if spec.kind == "text" else limits.description_max_chars
        if len(text) > limit:
            return None, _("Keep this to {limit} characters (it has {count}).").format(
                limit=limit, count=len(text))
        return text, None
    if spec.kind == "choice":
        if raw not in spec.options:
            return None, _("Choose one of the listed options.")
        return raw, None
    if spec.kind == "yes_no":
        if isinstance(raw, bool):
            return raw, None
        lowered = str(raw).strip().lower()
        if lowered in ("yes", "true", "1"):
            return True, None
        if lowered in ("no", "false", "0"):
            return False, None
        return None, _("Answer yes or no.")
    if spec.kind == "number":
        try:
            number = float(raw)
        except (TypeError, ValueError, OverflowError):
            return None, _("Enter a number.")
        return (number, None) if math.isfinite(number) else (None, _("Enter a number."))
    if spec.kind == "datetime":
        if isinstance(raw, datetime):
            return raw.replace(second=0, microsecond=0).isoformat(timespec="minutes"), None
        try:
            return datetime.fromisoformat(str(raw).strip()).isoformat(timespec="minutes"), None
        except ValueError:
            return None, _("Enter a date and time.")
    return None, _("Unsupported field.")


def before_earliest(limits: ReportLimits, language: str = DEFAULT_LANGUAGE) -> str:
    """Why a date before the earliest accepted one is refused (form and import)."""
    _ = translator(language).gettext
    return _("That is before {date}, the earliest date the portal accepts. Check the "
             "year.").format(date=limits.earliest_date.strftime("%d/%m/%Y")
                             if language != DEFAULT_LANGUAGE
                             else f"{limits.earliest_date:%d %b %Y}")


def _check_description(draft: NearMissDraft, limits: ReportLimits,
                       errors: dict[str, str]) -> None:
    """What happened: required, long enough to understand, short enough to read."""
    _ = translator(draft.language).gettext
    description = (draft.description or "").strip()
    if not description:
        errors["description"] = _("Say briefly what happened.")
    elif len(description) > limits.description_max_chars:
        errors["description"] = _("Keep this to {limit} characters (it has {count}). Add "
                                  "detail at review.").format(
            limit=limits.description_max_chars, count=len(description))
    elif len(description) < 10:
        errors["description"] = _("Add a few more words so a reviewer can understand it.")
    elif has_nul(description):
        errors["description"] = _(NUL_MESSAGE)


def _type_of(draft: NearMissDraft, taxonomy: TaxonomySpec,
             errors: dict[str, str]) -> NearMissTypeSpec | None:
    """The draft's type, if it is one of the active types."""
    _ = translator(draft.language).gettext
    type_spec = None
    if not draft.type_key:
        errors["type_key"] = _("Choose the type of near miss.")
    else:
        type_spec = next((t for t in taxonomy.types if t.key == draft.type_key and t.active), None)
        if type_spec is None:
            errors["type_key"] = _("That type is not in the list. Choose another.")
    return type_spec


def _check_occurred_at(draft: NearMissDraft, limits: ReportLimits, now_local: datetime,
                       allow_old: bool, errors: dict[str, str]) -> None:
    """When it happened: local time, not in the future, not before the earliest date and
    (unless `allow_old`) not older than the limit."""
    _ = translator(draft.language).gettext
    if draft.occurred_at is None:
        errors["occurred_at"] = _("Say when it happened.")
    elif draft.occurred_at.tzinfo is not None:  # the form gives local time; compare like with like
        errors["occurred_at"] = _("Give the local date and time, without a time zone.")
    else:
        if draft.occurred_at > now_local + timedelta(minutes=limits.future_tolerance_minutes):
            errors["occurred_at"] = _("That time is in the future. When did it happen?")
        elif draft.occurred_at < datetime.combine(limits.earliest_date, time.min):
            # Applies to imports too (allow_old or not): a year typed wrong, not an old event.
            errors["occurred_at"] = before_earliest(limits, draft.language)
        elif not allow_old and draft.occurred_at < now_local - timedelta(days=limits.oldest_days):
            errors["occurred_at"] = _("That is more than {days} days ago. Ask your supervisor "
                                      "how to record older events.").format(
                days=limits.oldest_days)


def _check_service_and_location(draft: NearMissDraft, places: PlaceLookup,
                                errors: dict[str, str]) -> None:
    """A service the reporter may report for, and a location of that service."""
    _ = translator(draft.language).gettext
    if draft.service_id is None:
        errors["service_id"] = _("Choose the service.")
    elif draft.service_id not in places.services:
        errors["service_id"] = _("That service is not one you can report for.")

    if draft.location_id is None:
        errors["location_id"] = _("Choose where it happened.")
    elif places.location_service.get(draft.location_id) is None:
        errors["location_id"] = _("That location is not known. Choose one from the list.")
    elif (draft.service_id is not None
          and places.location_service[draft.location_id] != draft.service_id):
        errors["location_id"] = _("That location belongs to another service. "
                                  "Choose one from the list.")


def _check_optional_links(draft: NearMissDraft, taxonomy: TaxonomySpec, places: PlaceLookup,
                          errors: dict[str, str]) -> None:
    """The person, route and staff group (known, of the draft's service), the interface flag
    and the language, each checked against its list."""
    _ = translator(draft.language).gettext
    # Whole sentences per kind of place: word order and gender differ between languages.
    unknown = {"person": _("That person is not known. Choose one from the list."),
               "route": _("That route is not known. Choose one from the list.")}
    elsewhere = {"person": _("That person belongs to another service."),
                 "route": _("That route belongs to another service.")}

    def _belongs(key: str, value: int | None, owner: Mapping[int, int], what: str) -> None:
        if value is None:
            return
        if value not in owner:
            errors[key] = unknown[what]
        elif draft.service_id is not None and owner[value] != draft.service_id:
            errors[key] = elsewhere[what]

    _belongs("person_id", draft.person_id, places.person_service, "person")
    _belongs("route_id", draft.route_id, places.route_service, "route")
    if draft.staff_group_id is not None and draft.staff_group_id not in places.staff_groups:
        errors["staff_group_id"] = _("That staff group is not known.")
    known_flags = {f.key for f in taxonomy.interface_flags}
    if draft.interface_flag and draft.interface_flag not in known_flags:
        errors["interface_flag"] = _("Choose one of the listed interfaces.")
    if draft.language not in languages():
        errors["language"] = _("Choose one of the listed languages.")


def _clean_capture(draft: NearMissDraft, type_spec: NearMissTypeSpec | None,
                   limits: ReportLimits, errors: dict[str, str]) -> dict[str, Any]:
    """The type's capture fields, cleaned; fields of another type are dropped."""
    cleaned: dict[str, Any] = {}
    if type_spec is not None:
        specs = {f.key: f for f in type_spec.capture_fields}
        for key, raw in (draft.capture_fields or {}).items():
            spec = specs.get(key)
            if spec is None:
                continue  # a field of another type, left over from switching type
            value, problem = clean_field_value(spec, raw, limits, draft.language)
            if problem:
                errors[capture_field_key(key)] = problem
            elif value is not None:
                cleaned[key] = value
    return cleaned


def validate_draft(
    draft: NearMissDraft,
    *,
    taxonomy: TaxonomySpec,
    places: PlaceLookup,
    limits: ReportLimits,
    now_local: datetime,
    allow_old: bool = False,
) -> tuple[dict[str, str], dict[str, Any]]:
    """Check a draft. Returns (errors by field, cleaned capture fields).

    `now_local` is the provider's local time now; `allow_old` lifts the age limit (imports of
    historical reports).
    """
    _ = translator(draft.language).gettext
    errors: dict[str, str] = {}
    _check_description(draft, limits, errors)
    type_spec = _type_of(draft, taxonomy, errors)
    _check_occurred_at(draft, limits, now_local, allow_old, errors)
    _check_service_and_location(draft, places, errors)

    if not draft.barrier:
        errors["barrier"] = _("Say what stopped harm.")
    elif draft.barrier not in Barrier._value2member_map_:
        errors["barrier"] = _("Choose one of the listed options.")

    if draft.still_at_risk is None:
        errors["still_at_risk"] = _("Answer whether anyone is still at risk right now.")

    safeguards = (draft.immediate_safeguards or "").strip()
    if len(safeguards) > limits.description_max_chars:
        errors["immediate_safeguards"] = _("Keep this to {limit} characters.").format(
            limit=limits.description_max_chars)
    elif has_nul(safeguards):
        errors["immediate_safeguards"] = _(NUL_MESSAGE)

    _check_optional_links(draft, taxonomy, places, errors)
    cleaned = _clean_capture(draft, type_spec, limits, errors)
    return errors, cleaned
