"""Panels of the action plan pages: refusals and notices, the action hierarchy, and the action
blocks of the plan builder (each action of a plan is drawn by ui.action_card).

Widgets in, core calls out (core.actions holds every rule). People's free text is shown with
st.text, dataframes or widgets, never as Markdown; labels and notices that quote it are
escaped with ui.text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from core.actions.queries import OwnerChoice
from core.actions.service import (
    ActionDraft,
)
from core.actions.vocabulary import (
    ACTION_HIERARCHY,
    KINDS_BY_KEY,
)
from core.clock import to_local, utcnow
from core.config import settings
from core.errors import DomainError, ValidationFailed
from ui.accessibility import error_summary, field_message, mark_invalid_fields
from ui.text import escape_markdown

ERRORS = "action_plan_errors"
NOTICE = "action_plan_notice"
REFUSALS = "action_plan_refusals"  # refused saves so far: each one focuses the summary again
SUMMARY = "action_plan_error_summary"
SHOWN = "action_plan_errors_shown"  # this run's refused widgets, for `mark_refused`
NOT_SAVED = "Not saved yet: check the answers marked below. Nothing you typed is lost."



def today() -> date:
    """Today in the provider's time zone."""
    return to_local(utcnow(), settings().zone).date()


# -- messages ---------------------------------------------------------------------------------

def error(name: str, widget: str | None = None) -> None:
    """The message for one field, shown right where it is called (beside that field), as
    text under the one summary alert. `widget` is the key of the field it belongs to when
    that is not `name`; "" when the message belongs to no single field."""
    message = (st.session_state.get(ERRORS) or {}).get(name)
    field_message(widget or name, message)
    if message and widget != "":
        st.session_state[SHOWN] = [*st.session_state.get(SHOWN, []), widget or name]


def refused(errors: dict[str, str]) -> None:
    """Keep a refused save's errors (`prefix.field` -> message) for the fields to show."""
    st.session_state[ERRORS] = errors
    st.session_state[REFUSALS] = st.session_state.get(REFUSALS, 0) + 1


def mark_refused() -> None:
    """At the end of the page: tie each refused field shown to its message, and focus the
    summary."""
    shown = list(dict.fromkeys(st.session_state.pop(SHOWN, [])))
    if shown:
        mark_invalid_fields(shown, summary_key=SUMMARY,
                            attempt=str(st.session_state.get(REFUSALS, 0)))


def has_error(name: str) -> bool:
    return bool((st.session_state.get(ERRORS) or {}).get(name))


def notice(kind: str, message: str) -> None:
    st.session_state[NOTICE] = (kind, message)


def notice_slot(key: str) -> None:
    """A fixed slot for the notice: it appearing or not must not shift what follows (that
    would reset expanders in the browser)."""
    with st.container(key=key):
        shown = st.session_state.pop(NOTICE, None)
        if shown:
            kind, message = shown
            if kind == "error" and st.session_state.get(ERRORS):  # the one alert, focused
                error_summary(SUMMARY, escape_markdown(message))
            else:
                {"success": st.success, "warning": st.warning}.get(kind, st.error)(
                    escape_markdown(message))


def run(action: Callable[[], Any], success: str, prefix: str) -> bool:
    """Call a core use case from a button; field errors go beside the fields (`prefix.field`),
    refusals (permission, conflicts, storage) to the notice at the top."""
    st.session_state.pop(ERRORS, None)
    try:
        action()
    except ValidationFailed as exc:
        refused({f"{prefix}.{k}": v for k, v in exc.errors.items()})
        notice("error", NOT_SAVED)
        return False
    except DomainError as exc:
        notice("error", str(exc))
        return False
    notice("success", success)
    return True


# -- the action hierarchy ---------------------------------------------------------------------

def kind_label(key: str) -> str:
    """How a kind reads while choosing: its strength, its name and an example."""
    kind = KINDS_BY_KEY[key]
    return f"{kind.strength.label} · {kind.label} — e.g. {kind.example}"


def hierarchy_table() -> None:
    st.dataframe(pd.DataFrame({
        "Strength": [k.strength.label for k in ACTION_HIERARCHY],
        "Kind of action": [k.label for k in ACTION_HIERARCHY],
        "Example from community services": [k.example for k in ACTION_HIERARCHY],
    }), hide_index=True, width="stretch")


# -- action blocks (the builder, and "add more actions" on a plan) ------------------------------

def _ids_key(base: str) -> str:
    return f"{base}.blocks"


def block_ids(base: str) -> list[int]:
    return st.session_state.setdefault(_ids_key(base), [0])


def _add_block(base: str) -> None:
    ids = block_ids(base)
    ids.append(max(ids, default=-1) + 1)


def _remove_block(base: str, block: int) -> None:
    ids = block_ids(base)
    if block in ids and len(ids) > 1:
        ids.remove(block)
    prefix = f"{base}.a{block}."
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefix)]:
        del st.session_state[key]
    errors = st.session_state.get(ERRORS) or {}
    st.session_state[ERRORS] = {k: v for k, v in errors.items() if not k.startswith(prefix)}


def clear_blocks(base: str) -> None:
    """Forget everything typed under `base` (after a successful save)."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(base + ".")]:
        del st.session_state[key]


def chosen_kinds(base: str) -> list[str]:
    return [k for b in block_ids(base)
            if (k := st.session_state.get(f"{base}.a{b}.kind")) in KINDS_BY_KEY]


def action_blocks(base: str, owners: list[OwnerChoice], plan_services: set[int], *,
                  measure_available: bool) -> None:
    """One bordered block per action, "Add another action" below; typed values stay in the
    session state under `base` until the save succeeds."""
    rules = settings()
    start = today()
    owner_ids = [o.id for o in sorted(owners, key=lambda o: not o.reaches(plan_services))]
    by_id = {o.id: o for o in owners}

    def owner_label(owner_id: int) -> str:
        owner = by_id[owner_id]
        reach = "" if owner.reaches(plan_services) else " (does not reach every service here)"
        return owner.label + reach

    ids = block_ids(base)
    for number, block in enumerate(ids, start=1):
        key = f"{base}.a{block}"
        # Defaults go to the widgets (not into the session state first): a rerun landing
        # before the first run finishes then cannot show a widget's bare default instead.
        with st.container(border=True, key=f"{key}.box"):
            with st.container(horizontal=True, vertical_alignment="center"):
                st.markdown(f"**Action {number}**")
                if len(ids) > 1:
                    st.button("Remove", key=f"{key}.remove", on_click=_remove_block,
                              args=(base, block), icon=":material/delete:", type="tertiary")
            st.text_input("What will be done", key=f"{key}.title", max_chars=200,
                          placeholder="Coverage lock: the rota is fixed 48 hours ahead")
            error(f"{key}.title")
            st.selectbox("Kind of action (its strength on the action hierarchy)",
                         [k.key for k in ACTION_HIERARCHY], format_func=kind_label, index=None,
                         key=f"{key}.kind", placeholder="Choose: stronger actions first")
            chosen = st.session_state.get(f"{key}.kind")
            if chosen in KINDS_BY_KEY:
                kind = KINDS_BY_KEY[chosen]
                st.caption(f"{kind.strength.label} action: {kind.label.lower()}. "
                           f"For example: {kind.example}")
            error(f"{key}.kind")
            st.text_area("How it works (optional)", key=f"{key}.description", height=68)
            error(f"{key}.description")
            owner_col, deadline_col, review_col = st.columns([2, 1, 1])
            with owner_col:
                st.selectbox("Owner", owner_ids, format_func=owner_label, index=None,
                             key=f"{key}.owner", placeholder="Choose who owns it")
                error(f"{key}.owner")
            with deadline_col:
                st.date_input("Deadline", value=start + timedelta(days=14),
                              key=f"{key}.deadline", format="DD/MM/YYYY")
                error(f"{key}.deadline")
            with review_col:
                st.date_input("Review date", value=start + timedelta(days=28),
                              key=f"{key}.review_date", format="DD/MM/YYYY")
                error(f"{key}.review_date")
            st.text_area("Evidence checks, one per line: how you will know it is done",
                         key=f"{key}.checks", height=90,
                         placeholder="Supervisors briefed on the cut-off\n"
                                     "Rota audit shows the lock held for two weeks")
            error(f"{key}.evidence_checks", f"{key}.checks")
            verify_col, window_col = st.columns([2, 1], vertical_alignment="bottom")
            with verify_col:
                st.checkbox("Verify with the measure after a test window",
                            value=measure_available, key=f"{key}.verify",
                            disabled=not measure_available,
                            help="When the control goes live, the portal compares the measure "
                                 "during the test window with the weeks before it.")
            with window_col:
                st.number_input("Test window (days)", min_value=1, max_value=365, step=1,
                                value=rules.actions.test_window_days, key=f"{key}.window")
            error(f"{key}.test_window_days", f"{key}.window")
    error(f"{base}.actions", "")
    st.button("Add another action", key=f"{base}.add_block", on_click=_add_block,
              args=(base,), icon=":material/add:")


def action_drafts(base: str) -> tuple[list[ActionDraft], list[int]]:
    """What the blocks hold, as core drafts (and the block of each, for error keys)."""
    ids = list(block_ids(base))
    drafts = []
    for block in ids:
        key = f"{base}.a{block}"

        def value(name: str, key: str = key) -> Any:
            return st.session_state.get(f"{key}.{name}")

        window = value("window")
        drafts.append(ActionDraft(
            title=value("title") or "", description=value("description") or "",
            kind=value("kind"), owner_id=value("owner"), deadline=value("deadline"),
            review_date=value("review_date"),
            evidence_checks=[line for line in (value("checks") or "").splitlines()
                             if line.strip()],
            verify_with_measure=bool(value("verify")),
            test_window_days=int(window) if window is not None else None))
    return drafts, ids


def block_errors(base: str, errors: dict[str, str], ids: list[int]) -> dict[str, str]:
    """Core's keys ("actions[1].deadline", "title", "measure.filters") as widget names."""
    mapped = {}
    for name, message in errors.items():
        if name.startswith("actions[") and "]." in name:
            index, field = name[len("actions["):].split("].", 1)
            block = ids[int(index)] if index.isdigit() and int(index) < len(ids) else index
            mapped[f"{base}.a{block}.{field}"] = message
        else:
            mapped[f"{base}.{name}"] = message
    return mapped
