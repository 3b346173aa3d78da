"""Near-miss types (administrators): add a type, or save a new version of one, without code."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.auth.policy import Capability, can
from core.clock import utcnow
from core.errors import DomainError, ValidationFailed
from core.taxonomy.admin import (
    FIELD_COLUMNS,
    GATE_COLUMNS,
    PARTS,
    VALIDATION_COLUMNS,
    EditableType,
    errors_for,
    other_errors,
    rows_from_spec,
    save_type,
    spec_data_from_form,
)
from core.uow import UnitOfWork
from core.views.admin import taxonomy_page, type_versions
from ui.session import current_actor
from ui.text import escape_markdown, local

NEW = "__new__"
SELECTED = "tax_type"
SELECT_NEXT = "tax_select_next"
NEW_FORM = "tax_new_form"
ERRORS = "tax_errors"
NOTICE = "tax_notice"

ROUTES = {"supervisor": "Supervisor", "safeguarding": "Safeguarding lead",
          "clinical": "Clinical lead / nurse", "operations": "Operations lead"}
KINDS = ["text", "longtext", "choice", "datetime", "yes_no", "number"]
SOURCES = ["location", "occurred_at", "service", "person", "route", "staff_group"]
HEADER_PARTS = ("key", "name", "description", "route_to", "stop_the_line", "safeguarding_signal",
                "clinical_advice", "active")
KEY_HELP = ("Lower-case letters, digits and _ (e.g. staff_briefing). Leave it blank to make one "
            "from the label. Reports and reviews refer to it, so keep it once saved.")

COLUMN_CONFIG: dict[str, dict[str, Any]] = {
    "fields": {
        "key": st.column_config.TextColumn("Key", help=KEY_HELP),
        "label": st.column_config.TextColumn("Label", required=True),
        "kind": st.column_config.SelectboxColumn("Kind", options=KINDS, default="text",
                                                 required=True),
        "options": st.column_config.TextColumn(
            "Options", help='For a choice: the options, separated by ";"'),
        "capture": st.column_config.CheckboxColumn(
            "Capture", default=False,
            help="Also offered (optionally) on the quick report form; otherwise completed at "
                 "triage and review."),
        "source": st.column_config.SelectboxColumn(
            "Source", options=SOURCES,
            help="Leave empty to ask for the value; otherwise it is the report's own "
                 "(location, time, ...)."),
        "help": st.column_config.TextColumn("Help"),
    },
    "gates": {
        "key": st.column_config.TextColumn("Key", help=KEY_HELP),
        "label": st.column_config.TextColumn("Label", required=True),
        "may_be_not_applicable": st.column_config.CheckboxColumn(
            "May be not applicable", default=False,
            help='The reviewer may mark it "not applicable", e.g. "where appropriate".'),
        "help": st.column_config.TextColumn("Help"),
    },
    "validation": {
        "key": st.column_config.TextColumn("Key", help=KEY_HELP),
        "label": st.column_config.TextColumn("Label", required=True),
        "help": st.column_config.TextColumn("Help"),
    },
}
COLUMNS = {"fields": FIELD_COLUMNS, "gates": GATE_COLUMNS, "validation": VALIDATION_COLUMNS}
BOOLEAN_COLUMNS = {"fields": ["capture"], "gates": ["may_be_not_applicable"], "validation": []}
TABLE_TITLES = {
    "fields": ("Fields", "What the type records. Capture fields are offered on the quick report "
                         "form; the rest are completed at triage and review."),
    "gates": ('"Cannot proceed without"', "A report cannot move on while one of these is open."),
    "validation": ('"Auditable validation must confirm"',
                   "Each needs evidence (who, when, what) before the report can close."),
}


def _frame(part: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COLUMNS[part]))
    for column in COLUMNS[part]:
        flag = column in BOOLEAN_COLUMNS[part]
        frame[column] = frame[column].astype(bool if flag else "string")
    return frame


def _show_errors(errors: dict[str, str], part: str) -> None:
    for message in errors_for(errors, part):
        st.error(escape_markdown(message), icon=":material/error:")


def _type_label(option: str, types: dict[str, EditableType]) -> str:
    if option == NEW:
        return "New type"
    item = types[option]
    retired = "" if item.spec.active else " (retired)"
    return f"{item.spec.name} · version {item.version}{retired}"


actor = current_actor()
st.title("Near-miss types")
if not can(actor, Capability.MANAGE_TAXONOMY):
    st.error("Your role does not allow you to edit the near-miss taxonomy.")
    st.stop()
st.caption("Add a type, or change the fields, gates and validation items of one. Every save "
           "makes a new version for reports filed from now on: reports already filed keep the "
           "version they were filed under, and reviews the version they were reviewed against, "
           "so nothing already recorded changes.")

notice = st.session_state.pop(NOTICE, None)
if notice:
    st.success(escape_markdown(notice), icon=":material/check_circle:")

page = taxonomy_page(now=utcnow())
types, yaml_text = dict(page.types), page.yaml_text

if SELECT_NEXT in st.session_state:
    st.session_state[SELECTED] = st.session_state.pop(SELECT_NEXT)
if st.session_state.get(SELECTED) not in (*types, NEW):
    st.session_state.pop(SELECTED, None)
choice = st.selectbox("Type", [*types, NEW], key=SELECTED,
                      format_func=lambda option: _type_label(option, types),
                      on_change=lambda: st.session_state.pop(ERRORS, None))

current = types.get(choice)
if current is None:
    prefix = f"tax.new.{st.session_state.get(NEW_FORM, 0)}."
    spec = None
else:
    prefix = f"tax.{current.spec.key}.v{current.version}."
    spec = current.spec

saved = st.session_state.get(ERRORS) or {}
errors: dict[str, str] = saved.get("errors", {}) if saved.get("form") == prefix else {}
if errors:
    st.error(f"Not saved yet: check the {len(errors)} "
             f"{'item' if len(errors) == 1 else 'items'} marked below. Nothing you typed has been "
             "lost.", icon=":material/error:")

with st.container(border=True):
    if spec is None:
        st.text_input("Key", key=prefix + "key", help=KEY_HELP,
                      placeholder="e.g. medication_storage")
    else:
        st.text_input("Key", value=spec.key, key=prefix + "key", disabled=True,
                      help="A type's key never changes: reports filed under it refer to it.")
    _show_errors(errors, "key")
    st.text_input("Name", value=spec.name if spec else "", key=prefix + "name",
                  help="What reporters choose from.")
    _show_errors(errors, "name")
    st.text_area("Description", value=spec.description if spec else "",
                 key=prefix + "description", height=80,
                 help="One or two sentences that help a reporter pick the right type.")
    _show_errors(errors, "description")
    st.selectbox("Routed at triage to", list(ROUTES), format_func=ROUTES.get,
                 index=list(ROUTES).index(spec.route_to) if spec else 0, key=prefix + "route_to")
    _show_errors(errors, "route_to")
    left, right = st.columns(2)
    with left:
        st.checkbox("Stop the line", value=spec.stop_the_line if spec else False,
                    key=prefix + "stop_the_line",
                    help="Escalate at once: the report goes to the top of the triage board.")
        st.checkbox("Safeguarding signal", value=spec.safeguarding_signal if spec else False,
                    key=prefix + "safeguarding_signal",
                    help="Route to the safeguarding lead at once.")
    with right:
        st.checkbox("Needs clinical advice", value=spec.clinical_advice if spec else False,
                    key=prefix + "clinical_advice")
        st.checkbox("Offered to reporters", value=spec.active if spec else True,
                    key=prefix + "active",
                    help="Untick to retire the type: reporters no longer see it, and reports "
                         "already filed under it keep it.")
    for part in ("stop_the_line", "safeguarding_signal", "clinical_advice", "active"):
        _show_errors(errors, part)

tables = rows_from_spec(spec)
edited: dict[str, pd.DataFrame] = {}
for part in PARTS:
    title, explanation = TABLE_TITLES[part]
    st.subheader(title)
    st.caption(explanation)
    edited[part] = st.data_editor(
        _frame(part, tables[part]), key=prefix + part, num_rows="dynamic", hide_index=True,
        width="stretch", column_config=COLUMN_CONFIG[part], column_order=COLUMNS[part])
    _show_errors(errors, part)

for message in other_errors(errors, (*HEADER_PARTS, *PARTS)):
    st.error(escape_markdown(message), icon=":material/error:")

if st.button("Save as a new version", type="primary", key="tax_save",
             icon=":material/save:"):
    header = {name: st.session_state.get(prefix + name) for name in HEADER_PARTS}
    spec_data = spec_data_from_form(
        header, {part: edited[part].to_dict("records") for part in PARTS})
    try:
        version = save_type(
            UnitOfWork(), actor, spec_data,
            original_key=spec.key if spec else None, create=spec is None,
            base_version=current.version if current else None, now=utcnow())
    except ValidationFailed as exc:
        st.session_state[ERRORS] = {"form": prefix, "errors": exc.errors}
        st.rerun()
    except DomainError as exc:
        st.error(escape_markdown(str(exc)), icon=":material/error:")
    else:
        st.session_state.pop(ERRORS, None)
        name = spec_data["name"]
        if current is not None and version == current.version:
            if spec_data["active"] != current.spec.active:
                st.session_state[NOTICE] = (
                    f"{name}: offered to reporters again." if spec_data["active"] else
                    f"{name}: retired. Reporters no longer see it; reports filed under it keep "
                    "it.")
            else:
                st.session_state[NOTICE] = (f"{name}: nothing changed, so it stays at "
                                            f"version {version}.")
        else:
            st.session_state[NOTICE] = (
                f"{name}: saved as version {version}. New reports use it; reports filed "
                "earlier keep their version.")
        if spec is None:
            st.session_state[NEW_FORM] = st.session_state.get(NEW_FORM, 0) + 1
            st.session_state[SELECT_NEXT] = spec_data["key"]
        st.rerun()

if current is not None:
    st.subheader("Version history")
    history = type_versions(current.spec.key)
    st.dataframe(
        pd.DataFrame({
            "Version": [h.version for h in history],
            "Saved": [local(h.created_at) for h in history],
            "By": [h.created_by for h in history],
            "From": ["taxonomy file" if h.from_file else "this page" for h in history],
            "Current": ["yes" if h.version == current.version else "" for h in history],
        }),
        hide_index=True, width="stretch",
    )

st.subheader("The taxonomy file")
st.caption("Download the taxonomy as the portal holds it now, in the shape of "
           "data/taxonomy.yaml, to keep the file in step with what was saved here. A restart "
           "does not undo a change saved here; only a type whose definition in the file itself "
           "changes gets a new version from the file.")
st.download_button("Download taxonomy.yaml", data=yaml_text, file_name="taxonomy.yaml",
                   mime="application/x-yaml", key="tax_download", on_click="ignore",
                   icon=":material/download:")
