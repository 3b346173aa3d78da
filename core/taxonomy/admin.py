"""Editing the taxonomy without code: an administrator adds a type or saves a new version of one.

Reports keep the (type_key, type_version) they were filed under and reviews the template version
they were reviewed against, so a save never changes an existing version: it adds the next one
and makes it current. Versions saved here carry no file hash, so a later sync of the unchanged
taxonomy file leaves them alone (see core.taxonomy.service.sync_taxonomy).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import yaml
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.errors import ConflictError, NotFound, ValidationFailed
from core.taxonomy.models import NearMissType, NearMissTypeVersion
from core.taxonomy.schema import NearMissTypeSpec
from core.taxonomy.service import live_taxonomy
from core.uow import UnitOfWork

PARTS = ("fields", "gates", "validation")
PART_NOUN = {"fields": "field", "gates": "gate", "validation": "validation item"}
KEY_RULE = ("use lower-case letters, digits and underscores, starting with a letter "
            "(e.g. staff_briefing)")
OPTION_SEPARATOR = ";"

# Columns of the three tables the admin page edits, in order.
FIELD_COLUMNS = ("key", "label", "kind", "options", "capture", "source", "help")
GATE_COLUMNS = ("key", "label", "may_be_not_applicable", "help")
VALIDATION_COLUMNS = ("key", "label", "help")
TABLE_COLUMNS = {"fields": FIELD_COLUMNS, "gates": GATE_COLUMNS, "validation": VALIDATION_COLUMNS}
_BOOLEAN_COLUMNS = {"capture", "may_be_not_applicable"}
_COLUMN_NAMES = {"may_be_not_applicable": "may be not applicable"}


# --- reading -------------------------------------------------------------------------------


class TypeVersionInfo(NamedTuple):
    """One saved version of a type, for the history view."""

    version: int
    created_at: datetime
    created_by: str
    from_file: bool  # loaded from taxonomy.yaml (False: saved in the admin page)


@dataclass(frozen=True)
class EditableType:
    """A type as the admin page edits it: its current template and that version's number."""

    spec: NearMissTypeSpec
    version: int


def editable_types(session: Session) -> list[EditableType]:
    """Every type (active or retired) with its current version, in the reporters' order."""
    taxonomy = live_taxonomy(session)
    versions = dict(session.execute(select(NearMissType.key, NearMissType.current_version)).all())
    return [EditableType(spec=t, version=versions[t.key]) for t in taxonomy.types]


def type_versions(session: Session, key: str) -> list[TypeVersionInfo]:
    """The saved versions of a type, newest first."""
    rows = session.execute(
        select(NearMissTypeVersion.version, NearMissTypeVersion.created_at,
               NearMissTypeVersion.created_by, NearMissTypeVersion.file_hash)
        .where(NearMissTypeVersion.type_key == key)
        .order_by(NearMissTypeVersion.version.desc())
    ).all()
    return [TypeVersionInfo(version, created_at, created_by, file_hash is not None)
            for version, created_at, created_by, file_hash in rows]


def taxonomy_as_yaml(session: Session, *, now: datetime) -> str:
    """The live taxonomy in the shape of data/taxonomy.yaml (loads back with load_taxonomy_file).

    An administrator downloads it to keep the file in step with the database.
    """
    taxonomy = live_taxonomy(session)
    data: dict[str, Any] = {
        "interface_flags": [o.model_dump(mode="json") for o in taxonomy.interface_flags],
        "contributing_factors": [o.model_dump(mode="json") for o in taxonomy.contributing_factors],
        "safeguarding_signals": [o.model_dump(mode="json") for o in taxonomy.safeguarding_signals],
        "types": [t.model_dump(mode="json", exclude_defaults=True) for t in taxonomy.types],
    }
    header = (
        "# Near-miss taxonomy, exported from the Near Miss Portal on "
        f"{now:%Y-%m-%d %H:%M} UTC.\n"
        "# Save it as data/taxonomy.yaml to keep the file in step with the portal; see the\n"
        "# shipped file for what each setting means. Field kinds: text, longtext, choice (with\n"
        "# options), datetime, yes_no, number. route_to: supervisor, safeguarding, clinical,\n"
        "# operations.\n\n"
    )
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100,
                          default_flow_style=False)
    return header + body


# --- the admin page's tables ---------------------------------------------------------------


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing values
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str:
    return "" if _blank(value) else str(value).strip()


def _flag(value: Any) -> bool:
    if _blank(value):
        return False
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "y")
    return bool(value)


def key_from_label(label: str) -> str:
    """A key for a row whose key was left blank: `Staff briefing` -> `staff_briefing`."""
    slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    if slug and not slug[0].isalpha():
        slug = "item_" + slug
    return slug[:60].rstrip("_")


def rows_from_spec(spec: NearMissTypeSpec | None) -> dict[str, list[dict[str, Any]]]:
    """The three tables of a type as rows of plain values (options joined by "; ", no source:
    None)."""
    tables: dict[str, list[dict[str, Any]]] = {part: [] for part in PARTS}
    if spec is None:
        return tables
    for f in spec.fields:
        tables["fields"].append({
            "key": f.key, "label": f.label, "kind": f.kind,
            "options": f"{OPTION_SEPARATOR} ".join(f.options), "capture": f.capture,
            "source": f.source, "help": f.help or "",
        })
    for g in spec.gates:
        tables["gates"].append({"key": g.key, "label": g.label,
                                "may_be_not_applicable": g.may_be_not_applicable,
                                "help": g.help or ""})
    for v in spec.validation:
        tables["validation"].append({"key": v.key, "label": v.label, "help": v.help or ""})
    return tables


def spec_data_from_form(header: Mapping[str, Any],
                        tables: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, Any]:
    """Turn the page's inputs into the dict `save_type` takes.

    Empty cells (None, NaN, "") become absent values, options are split on ";", a row left
    wholly empty is dropped, and a row with a label but no key gets a key made from the label.
    """
    data: dict[str, Any] = {
        "key": _text(header.get("key")),
        "name": _text(header.get("name")),
        "description": _text(header.get("description")),
        "route_to": _text(header.get("route_to")) or "supervisor",
        "stop_the_line": _flag(header.get("stop_the_line")),
        "safeguarding_signal": _flag(header.get("safeguarding_signal")),
        "clinical_advice": _flag(header.get("clinical_advice")),
        "active": _flag(header.get("active")),
    }
    for part in PARTS:
        columns = TABLE_COLUMNS[part]
        items: list[dict[str, Any]] = []
        for row in tables.get(part, ()):
            if all(_blank(row.get(c)) or (c in _BOOLEAN_COLUMNS and not _flag(row.get(c)))
                   for c in columns):
                continue
            item: dict[str, Any] = {"key": _text(row.get("key")), "label": _text(row.get("label"))}
            if not item["key"] and item["label"]:
                item["key"] = key_from_label(item["label"])
            if part == "fields":
                item["kind"] = _text(row.get("kind")) or "text"
                item["options"] = [o.strip() for o in _text(row.get("options")).split(
                    OPTION_SEPARATOR) if o.strip()]
                item["capture"] = _flag(row.get("capture"))
                item["source"] = _text(row.get("source")) or None
            if part == "gates":
                item["may_be_not_applicable"] = _flag(row.get("may_be_not_applicable"))
            item["help"] = _text(row.get("help")) or None
            items.append(item)
        data[part] = items
    return data


# --- validation ----------------------------------------------------------------------------


def _friendly(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "Required."
    if kind == "string_pattern_mismatch":
        return f"Not a valid key: {KEY_RULE}."
    if kind == "string_too_short":
        return "Required."
    if kind == "string_too_long":
        return f"At most {ctx.get('max_length')} characters."
    if kind == "literal_error":
        return f"Choose one of {ctx.get('expected')}."
    if kind in ("bool_type", "bool_parsing"):
        return "Tick or untick."
    if kind == "extra_forbidden":
        return "Not a setting of a near-miss type."
    if kind == "value_error":
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
    return str(error.get("msg", "Not valid."))


# FieldSpec's rules about a whole row: (words of its message, the column to blame, what to say).
_ROW_RULES = (
    ("is a choice but lists no options", "options",
     "a choice needs its options: list them in the options column, separated by \";\"."),
    ("has options but its kind is", "options",
     "only a choice has options: set the kind to choice, or clear the options."),
    ("cannot also be a capture field", "capture",
     "a field taken from the report (source) is not asked again at capture: untick capture "
     "or clear the source."),
)


def _item_where(part: str, index: int, data: Mapping[str, Any]) -> str:
    items = data.get(part)
    key = ""
    if isinstance(items, list) and 0 <= index < len(items) and isinstance(items[index], Mapping):
        key = _text(items[index].get("key"))
    noun = PART_NOUN[part].capitalize()
    return f"{noun} in row {index + 1}" + (f" ({key})" if key else "")


def _path_and_message(error: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[str, str] | None:
    loc = tuple(error.get("loc") or ())
    message = _friendly(error)
    if not loc:
        # The whole-type checks (duplicate keys) are reported by _duplicate_keys instead.
        return None if "duplicate" in message.lower() else ("definition", message)
    head = str(loc[0])
    if head not in PARTS or len(loc) < 2 or not isinstance(loc[1], int):
        return head, message
    index = loc[1]
    where = _item_where(head, index, data)
    if len(loc) >= 3:
        column = str(loc[2])
        shown = _COLUMN_NAMES.get(column, column)
        return f"{head}[{index}].{column}", f"{where}, {shown}: {message}"
    # A row-level rule of FieldSpec (choice without options, capture with a source, ...).
    for phrase, column, plain in _ROW_RULES:
        if phrase in message:
            return f"{head}[{index}].{column}", f"{where}: {plain}"
    return f"{head}[{index}]", f"{where}: {message}"


def _duplicate_keys(data: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for part in PARTS:
        items = data.get(part)
        if not isinstance(items, list):
            continue
        first_row: dict[str, int] = {}
        for index, item in enumerate(items):
            key = _text(item.get("key")) if isinstance(item, Mapping) else ""
            if not key:
                continue
            if key in first_row:
                errors[f"{part}[{index}].key"] = (
                    f"{_item_where(part, index, data)}: the key {key!r} is already used in row "
                    f"{first_row[key] + 1}; each {PART_NOUN[part]} needs its own key.")
            else:
                first_row[key] = index
    return errors


def validate_spec_data(spec_data: Mapping[str, Any]) -> NearMissTypeSpec:
    """Validate a type definition; ValidationFailed maps a part's path to a readable message.

    Paths: "key", "name", "description", "route_to", ..., "fields[2].options", "gates[0].key",
    "validation[1].label", or "fields[2]" for a rule about a whole row.
    """
    if not isinstance(spec_data, Mapping):
        raise ValidationFailed({"definition": "A near-miss type must be a mapping of settings."})
    errors = _duplicate_keys(spec_data)
    try:
        spec = NearMissTypeSpec.model_validate(dict(spec_data))
    except ValidationError as exc:
        for error in exc.errors():
            found = _path_and_message(error, spec_data)
            if found is None:
                continue
            path, message = found
            if path in errors and message not in errors[path]:
                errors[path] = f"{errors[path]} {message}"
            else:
                errors.setdefault(path, message)
        if not errors:  # only a duplicate, already named above: keep pydantic's word for it
            errors["definition"] = str(exc.errors()[0].get("msg", "Not valid."))
        raise ValidationFailed(errors) from exc
    if errors:
        raise ValidationFailed(errors)
    return spec


# --- writing -------------------------------------------------------------------------------


def _template(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A stored definition normalised through the schema, without `active` (not a template
    setting: retiring a type does not make a new version)."""
    spec = NearMissTypeSpec.model_validate(dict(definition))
    return spec.model_dump(mode="json", exclude={"active"})


def _keep_translations(current: Mapping[str, Any], edited: NearMissTypeSpec,
                       spec_data: Mapping[str, Any]) -> NearMissTypeSpec:
    """The editor's tables have no column for translations, so an edit keeps the ones the
    current version has: the type's while its name and description are unchanged, a field's
    while its label, help and options are. A changed English text loses its translation, so a
    reporter reads the new English rather than a translation of the old text."""
    if "translations" in spec_data:
        return edited  # given explicitly (an import of a whole definition)
    old = NearMissTypeSpec.model_validate(dict(current))
    old_fields = {f.key: f for f in old.fields}
    fields = []
    for field_spec in edited.fields:
        before = old_fields.get(field_spec.key)
        same = before is not None and (before.label, before.help, before.options) == (
            field_spec.label, field_spec.help, field_spec.options)
        fields.append(field_spec.model_copy(update={"translations": before.translations})
                      if same and before is not None and not field_spec.translations
                      else field_spec)
    same_type = (old.name, old.description) == (edited.name, edited.description)
    return edited.model_copy(update={
        "fields": tuple(fields),
        "translations": edited.translations or (old.translations if same_type else {}),
    })


def _latest_version(session: Session, key: str) -> int:
    return session.scalar(
        select(func.max(NearMissTypeVersion.version)).where(NearMissTypeVersion.type_key == key)
    ) or 0


def _current_definition(session: Session, row: NearMissType) -> dict[str, Any]:
    definition = session.scalar(
        select(NearMissTypeVersion.definition).where(
            NearMissTypeVersion.type_key == row.key,
            NearMissTypeVersion.version == row.current_version)
    )
    if definition is None:
        raise NotFound(f"Type {row.key} has no version {row.current_version}.")
    return dict(definition)


def _check_name_free(session: Session, key: str, name: str) -> None:
    clash = session.scalar(
        select(NearMissType.key).where(func.lower(NearMissType.name) == name.lower(),
                                       NearMissType.key != key)
    )
    if clash is not None:
        raise ValidationFailed({"name": f"Another type ({clash}) already has this name; reporters "
                                        "would not tell them apart."})


def _check_one_stays_active(session: Session, key: str) -> None:
    others = session.scalar(
        select(func.count()).select_from(NearMissType).where(
            NearMissType.active.is_(True), NearMissType.key != key)
    )
    if not others:
        raise ValidationFailed({"active": "At least one type must stay offered to reporters."})


def _set_active(uow: UnitOfWork, actor: Actor, row: NearMissType, active: bool,
                now: datetime) -> None:
    if not active:
        _check_one_stays_active(uow.session, row.key)
    before = row.active
    row.active = active
    uow.record(actor, "taxonomy.type_restored" if active else "taxonomy.type_retired",
               "near_miss_type", row.key, before={"active": before}, after={"active": active},
               at=now)


def save_type(uow: UnitOfWork, actor: Actor, spec_data: Mapping[str, Any], *,
              original_key: str | None = None, create: bool = False,
              base_version: int | None = None, now: datetime) -> int:
    """Save a near-miss type as a new version and make it current; returns that version.

    A new key creates the type (last in the list) at version 1; an existing key gets version
    latest + 1. Old versions are never changed, so reports and reviews keep theirs. Saving the
    current template unchanged is a no-op (no version, no audit event). A change of `active`
    alone retires or restores the type without a new version.

    `original_key`: the type being edited; its key cannot change. `create`: refuse an existing
    key (the page's "New type"). `base_version`: the version the editor started from; if
    someone saved a newer one meanwhile, ConflictError instead of silently overwriting it.
    """
    require(actor, Capability.MANAGE_TAXONOMY)
    spec = validate_spec_data(spec_data)
    if original_key is not None and spec.key != original_key:
        raise ValidationFailed({"key": (
            f"A type's key cannot change (it stays {original_key!r}): reports filed under it "
            "refer to it. To rename the type, change its name; to replace it, add a new type "
            "and retire this one.")})
    try:
        with uow:
            session = uow.session
            row = session.get(NearMissType, spec.key, with_for_update=True)
            if row is None and original_key is not None:
                raise NotFound(f"There is no type {original_key!r}.")
            if row is not None and create:
                raise ValidationFailed({"key": f"There is already a type with the key "
                                               f"{spec.key!r}; choose another key."})
            _check_name_free(session, spec.key, spec.name)
            if row is None:
                position = session.scalar(select(func.max(NearMissType.position)))
                row = NearMissType(key=spec.key, name=spec.name, active=spec.active,
                                   position=0 if position is None else position + 1,
                                   current_version=1)
                session.add(row)
                session.flush()
                version, before = 1, None
            else:
                if base_version is not None and row.current_version != base_version:
                    raise ConflictError(
                        f"Someone saved version {row.current_version} of this type while you "
                        f"were editing version {base_version}. Reload the page and make your "
                        "change again.")
                current = _current_definition(session, row)
                active = spec.active if "active" in spec_data else row.active
                spec = _keep_translations(current, spec, spec_data).model_copy(
                    update={"active": active})
                if _template(current) == _template(spec.model_dump(mode="json")):
                    if active == row.active:
                        return row.current_version  # nothing changed: nothing to record
                    _set_active(uow, actor, row, active, now)
                    uow.commit()
                    return row.current_version
                if not active and row.active:
                    _check_one_stays_active(session, row.key)
                before = {"version": row.current_version, "active": row.active,
                          "definition": current}
                version = _latest_version(session, spec.key) + 1
            definition = spec.model_dump(mode="json")
            session.add(NearMissTypeVersion(type_key=spec.key, version=version,
                                            definition=definition, file_hash=None,
                                            created_at=now, created_by=actor.username))
            row.current_version = version
            row.name = spec.name
            row.active = spec.active
            uow.record(actor, "taxonomy.type_saved", "near_miss_type", spec.key, at=now,
                       before=before,
                       after={"version": version, "active": spec.active,
                              "definition": definition})
            uow.commit()
            return version
    except IntegrityError as exc:
        raise ConflictError("Someone saved this type at the same moment. Reload the page and "
                            "make your change again.") from exc


def set_type_active(uow: UnitOfWork, actor: Actor, key: str, active: bool, *,
                    now: datetime) -> None:
    """Retire a type (no longer offered to reporters) or offer it again.

    Reports already filed under it keep it, with their version; no new version is made.
    """
    require(actor, Capability.MANAGE_TAXONOMY)
    with uow:
        row = uow.session.get(NearMissType, key, with_for_update=True)
        if row is None:
            raise NotFound(f"There is no type {key!r}.")
        if row.active == active:
            return
        _set_active(uow, actor, row, active, now)
        uow.commit()


def errors_for(errors: Mapping[str, str], part: str) -> list[str]:
    """The messages of one part of the form: `part` itself and any path inside it."""
    return [message for path, message in errors.items()
            if path == part or path.startswith((f"{part}[", f"{part}."))]


def other_errors(errors: Mapping[str, str], parts: Sequence[str]) -> list[str]:
    """The messages no part of the form shows beside itself."""
    return [message for path, message in errors.items()
            if not any(path == p or path.startswith((f"{p}[", f"{p}.")) for p in parts)]
