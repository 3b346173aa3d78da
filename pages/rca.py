"""Root cause analyses: group related near misses, ask why, record findings for action plans.

Widgets in, core calls out (core.review.rca holds every rule). Reached from a review's
"similar near misses elsewhere" link (?reports=NM-...,NM-...), or from the navigation.
People's free text is shown with st.text, st.dataframe or plain-text widgets, never as Markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core.auth.actor import Actor
from core.auth.policy import Capability, can
from core.clock import utcnow
from core.config import settings
from core.errors import DomainError, NotFound, ValidationFailed
from core.review.rca import (
    MAX_WHYS,
    RcaDetail,
    RcaInput,
    RcaProposal,
    RcaSummary,
    add_reports,
    complete_rca,
    open_rca,
    parse_references,
    remove_report,
    update_rca,
)
from core.uow import UnitOfWork
from core.views.rca import analysis, rca_link_proposal, rcas_page
from ui.accessibility import error_summary, field_message, mark_invalid_fields
from ui.session import current_actor
from ui.text import escape_markdown, local

ERRORS = "rca_errors"
NOTICE = "rca_notice"
REFUSALS = "rca_refusals"  # refused saves so far: each one focuses the summary again
SUMMARY = "rca_error_summary"
SELECTED = "rca.selected"
SELECTED_FROM = "rca.selected_from"  # the ?rca= value the selection was last taken from
NEW = "rca.new"
SEEDED_FROM = "rca.new.seeded_from"  # the ?reports= value the new form was last filled from
WHY_PROMPTS = ("why did the problem happen?", "why did that happen?")

actor = current_actor()


# -- helpers -------------------------------------------------------------------------------------

def _key(rca_id: int | str, name: str) -> str:
    return f"rca.{rca_id}.{name}"


def _widget(name: str) -> str:
    """The widget a refused answer (`prefix.field`, as core names it) is typed in."""
    prefix, _, field = name.partition(".")
    if field == "contributing_factors":
        field = "factors"
    elif field == "references" and prefix != "new":  # reports are added one by one
        field = "add"
    return f"rca.{prefix}.{field}"


def _error(name: str) -> None:
    """The answer's message, beside it (text, not an alert of its own)."""
    field_message(_widget(name), (st.session_state.get(ERRORS) or {}).get(name))


def _notice(kind: str, message: str) -> None:
    st.session_state[NOTICE] = (kind, message)


def _run(action: Callable[[], Any], success: str | Callable[[Any], str], prefix: str, *,
         not_found_field: str | None = None) -> bool:
    """Call a core use case from a button; its errors go beside the fields (`prefix.field`)."""
    st.session_state.pop(ERRORS, None)
    try:
        result = action()
    except ValidationFailed as exc:
        if "status" in exc.errors:  # e.g. completed meanwhile: read-only
            _notice("error", exc.errors["status"])
        else:
            st.session_state[ERRORS] = {f"{prefix}.{k}": v for k, v in exc.errors.items()}
            st.session_state[REFUSALS] = st.session_state.get(REFUSALS, 0) + 1
            _notice("error", "Not saved yet: check the answers marked below. Nothing you typed "
                             "is lost.")
        return False
    except NotFound as exc:
        if not_found_field:
            st.session_state[ERRORS] = {f"{prefix}.{not_found_field}": str(exc)}
            st.session_state[REFUSALS] = st.session_state.get(REFUSALS, 0) + 1
            _notice("error", "Not saved yet: check the answers marked below. Nothing you typed "
                             "is lost.")
        else:
            _notice("error", str(exc))
        return False
    except DomainError as exc:  # permission, storage
        _notice("error", str(exc))
        return False
    _notice("success", success(result) if callable(success) else success)
    return True


def _value(key: str) -> Any:
    return st.session_state.get(key)


def _report_table(lines: Any) -> None:
    st.dataframe(pd.DataFrame({
        "Reference": [r.reference for r in lines],
        "Type": [r.type_name for r in lines],
        "Service": [r.service for r in lines],
        "Location": [r.location for r in lines],
        "When it happened": [local(r.occurred_at) for r in lines],
        "Status": [r.status.label for r in lines],
    }), hide_index=True, width="stretch")


# -- a new analysis ------------------------------------------------------------------------------

def _seed_new_form(link: str) -> None:
    """Fill the new form from the link once (and again if a different link is followed)."""
    if _value(SEEDED_FROM) == link and f"{NEW}.references" in st.session_state:
        return
    references = parse_references(link)
    st.session_state[f"{NEW}.references"] = ", ".join(references)
    title = ""
    if references:
        title = rca_link_proposal(actor, references).suggested_title
    st.session_state[f"{NEW}.title"] = title
    st.session_state.setdefault(f"{NEW}.problem", "")
    st.session_state[SEEDED_FROM] = link


def _open() -> None:
    references = parse_references(_value(f"{NEW}.references"))
    created: dict[str, int] = {}

    def action() -> int:
        created["id"] = open_rca(UnitOfWork(), actor, title=_value(f"{NEW}.title") or "",
                                 problem=_value(f"{NEW}.problem") or "", references=references,
                                 now=utcnow(), rules=settings())
        return created["id"]

    if _run(action, lambda rca_id: f"Root cause analysis #{rca_id} opened. Now ask why.", "new",
            not_found_field="references"):
        for name in ("references", "title", "problem"):
            st.session_state[f"{NEW}.{name}"] = ""
        st.session_state.pop(SEEDED_FROM, None)  # following the same link again refills it
        st.session_state[SELECTED] = created["id"]
        st.session_state[SELECTED_FROM] = str(created["id"])
        st.query_params.pop("reports", None)
        st.query_params["rca"] = str(created["id"])


def _new_form(proposal: RcaProposal) -> None:
    if proposal.already_open:
        st.warning("Some of these reports are already grouped in an open analysis ("
                   + ", ".join(f"#{s.id}" for s in proposal.already_open)
                   + "): open it below and add reports to it rather than starting another.",
                   icon=":material/info:")
    st.text_input("Linked reports (references, separated by commas)", key=f"{NEW}.references",
                  placeholder="NM-2026-00012, NM-2026-00007")
    _error("new.references")
    if proposal.not_found:
        st.warning("Not found among your services: "
                   + escape_markdown(", ".join(proposal.not_found)))
    if proposal.reports:
        _report_table(proposal.reports)
    st.text_input("Title", key=f"{NEW}.title", max_chars=200,
                  help="Suggested from the first report's type; change it to say what repeats.")
    _error("new.title")
    st.text_area("Problem statement: what keeps happening, where, and what nearly went wrong",
                 key=f"{NEW}.problem", height=90)
    _error("new.problem")
    st.button("Open the root cause analysis", key=f"{NEW}.open", type="primary",
              icon=":material/account_tree:", on_click=_open)


# -- editing an open analysis --------------------------------------------------------------------

def _seed_editor(detail: RcaDetail) -> None:
    """Put the stored answers into the widgets once; after that, what was typed stays."""
    rca_id = detail.id
    count = max(5, len(detail.five_whys))
    st.session_state.setdefault(_key(rca_id, "why_count"), count)
    seeds: dict[str, Any] = {"title": detail.title, "problem": detail.problem,
                             "factors": list(detail.contributing_factors),
                             "findings": detail.findings or ""}
    for n in range(1, MAX_WHYS + 1):
        seeds[f"why.{n}"] = detail.five_whys[n - 1] if n <= len(detail.five_whys) else ""
    for name, value in seeds.items():
        st.session_state.setdefault(_key(rca_id, name), value)


def _input_of(rca_id: int) -> RcaInput:
    count = int(_value(_key(rca_id, "why_count")) or 5)
    return RcaInput(
        title=_value(_key(rca_id, "title")) or "",
        problem=_value(_key(rca_id, "problem")) or "",
        five_whys=[_value(_key(rca_id, f"why.{n}")) or "" for n in range(1, count + 1)],
        contributing_factors=list(_value(_key(rca_id, "factors")) or []),
        findings=_value(_key(rca_id, "findings")) or "",
    )


def _save(rca_id: int) -> None:
    _run(lambda: update_rca(UnitOfWork(), actor, rca_id, _input_of(rca_id),
                            now=utcnow(), rules=settings()),
         lambda changed: "Saved." if changed else "Nothing had changed.", str(rca_id))


def _complete(rca_id: int) -> None:
    """Save what is on screen, then complete: nobody has to remember to save first."""
    if not _run(lambda: update_rca(UnitOfWork(), actor, rca_id, _input_of(rca_id),
                                   now=utcnow(), rules=settings()), "Saved.",
                str(rca_id)):
        return
    if _run(lambda: complete_rca(UnitOfWork(), actor, rca_id, now=utcnow()),
            f"Root cause analysis #{rca_id} is complete. Its findings are ready for the action "
            "plan builder.", str(rca_id)):
        return
    if st.session_state.get(ERRORS):
        _notice("error", "Saved, but not complete yet: see what is still needed below.")


def _another_why(rca_id: int) -> None:
    key = _key(rca_id, "why_count")
    st.session_state[key] = min(MAX_WHYS, int(_value(key) or 5) + 1)


def _add(rca_id: int) -> None:
    key = _key(rca_id, "add")
    if _run(lambda: add_reports(UnitOfWork(), actor, rca_id, parse_references(_value(key)),
                                now=utcnow()),
            lambda added: "Added " + ", ".join(added) + ".", str(rca_id),
            not_found_field="references"):
        st.session_state[key] = ""


def _remove(rca_id: int, reference: str) -> None:
    _run(lambda: remove_report(UnitOfWork(), actor, rca_id, reference, now=utcnow()),
         f"Removed {reference} from the analysis.", str(rca_id))


def _linked_reports(detail: RcaDetail, editable: bool) -> None:
    st.markdown(f"**Linked reports · {len(detail.reports)}**")
    _report_table(detail.reports)
    for line in detail.reports:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.page_link("pages/near_miss.py", label=line.reference,
                         query_params={"ref": line.reference}, icon=":material/open_in_new:")
            if editable and len(detail.reports) > 1:
                st.button("Remove", key=_key(detail.id, f"remove.{line.reference}"),
                          on_click=_remove, args=(detail.id, line.reference),
                          icon=":material/link_off:", type="tertiary")
    _error(f"{detail.id}.references")
    if editable:
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.text_input("Add a report by reference", key=_key(detail.id, "add"),
                          placeholder="NM-2026-00031")
            st.button("Add report", key=_key(detail.id, "add_button"), on_click=_add,
                      args=(detail.id,), icon=":material/add_link:")


def _editor(detail: RcaDetail, factors: dict[str, str]) -> None:
    rca_id = detail.id
    _seed_editor(detail)
    st.text_input("Title", key=_key(rca_id, "title"), max_chars=200)
    _error(f"{rca_id}.title")
    st.text_area("Problem statement", key=_key(rca_id, "problem"), height=90)
    _error(f"{rca_id}.problem")

    st.markdown("**Five whys**")
    st.caption("Start from the problem and ask why it happened; then ask why of each answer, "
               "until you reach a cause the service can fix (not a person to blame). "
               "Leave the rest empty when you get there.")
    count = int(_value(_key(rca_id, "why_count")) or 5)
    for n in range(1, count + 1):
        prompt = WHY_PROMPTS[0] if n == 1 else f"{WHY_PROMPTS[1]} (builds on why {n - 1})"
        st.text_input(f"Why {n}: {prompt}", key=_key(rca_id, f"why.{n}"))
        _error(f"{rca_id}.why.{n}")
    _error(f"{rca_id}.five_whys")
    if count < MAX_WHYS:
        st.button("Ask another why", key=_key(rca_id, "more_whys"), on_click=_another_why,
                  args=(rca_id,), icon=":material/add:", type="tertiary")

    st.multiselect("Contributing factors", list(factors), format_func=factors.get,
                   key=_key(rca_id, "factors"))
    _error(f"{rca_id}.contributing_factors")
    st.text_area("Findings: the system causes and the practical service fixes they point to",
                 key=_key(rca_id, "findings"), height=120,
                 help="On completion these go to the action plan builder, which turns them "
                      "into actions with owners, deadlines and evidence checks.")
    _error(f"{rca_id}.findings")
    with st.container(horizontal=True):
        st.button("Save", key=_key(rca_id, "save"), type="primary", icon=":material/save:",
                  on_click=_save, args=(rca_id,))
        st.button("Complete the analysis", key=_key(rca_id, "complete"),
                  icon=":material/task_alt:", on_click=_complete, args=(rca_id,))
    st.caption("Completing needs at least one why and the findings; a completed analysis is "
               "read-only.")


def _read_only(detail: RcaDetail) -> None:
    st.success(f"Completed {local(detail.completed_at)}. Its findings are ready for the action "
               "plan builder.", icon=":material/task_alt:")
    if can(actor, Capability.MANAGE_ACTIONS):
        st.page_link("pages/action_plan.py", label="Create an action plan from these findings",
                     query_params={"from": "rca", "rca": str(detail.id)},
                     icon=":material/add_task:")
    st.markdown("**Problem statement**")
    st.text(detail.problem)
    st.markdown("**Five whys**")
    if detail.five_whys:
        st.dataframe(pd.DataFrame({"": [f"Why {n}" for n in range(1, len(detail.five_whys) + 1)],
                                   "Answer": list(detail.five_whys)}),
                     hide_index=True, width="stretch")
    st.markdown("**Contributing factors**")
    st.text(", ".join(detail.factor_labels) or "None recorded")
    st.markdown("**Findings**")
    st.text(detail.findings or "")


def _detail(detail: RcaDetail, factors: dict[str, str]) -> None:
    st.subheader(f"Root cause analysis #{detail.id}")
    st.text(detail.title)  # free text: as text, never Markdown
    st.caption(f"{detail.status_label} · led by {escape_markdown(detail.lead)} · opened "
               f"{local(detail.opened_at)}")
    left, right = st.columns([3, 2], gap="large")
    with left:
        if detail.is_open:
            _editor(detail, factors)
        else:
            _read_only(detail)
    with right:
        _linked_reports(detail, detail.is_open)
        with st.expander("History"):
            st.dataframe(pd.DataFrame({
                "When": [local(h.at) for h in detail.history],
                "Who": [h.who for h in detail.history],
                "What": [h.what for h in detail.history],
                "Detail": [h.detail for h in detail.history],
            }), hide_index=True, width="stretch")


# -- the list ------------------------------------------------------------------------------------

def _select(rca_id: int | None) -> None:
    st.session_state[SELECTED_FROM] = None if rca_id is None else str(rca_id)
    if rca_id is None:
        st.query_params.pop("rca", None)
    else:
        st.query_params["rca"] = str(rca_id)


def _on_select() -> None:
    _select(_value(SELECTED))


def _seed_selection(summaries: list[RcaSummary]) -> int | None:
    """Follow ?rca=N when it changes; returns an id asked for but not visible (to say so)."""
    wanted = str(st.query_params.get("rca", "")).strip().lstrip("#")
    if not wanted or _value(SELECTED_FROM) == wanted:
        return None
    st.session_state[SELECTED_FROM] = wanted
    ids = {s.id for s in summaries}
    if wanted.isdigit() and int(wanted) in ids:
        st.session_state[SELECTED] = int(wanted)
        return None
    st.session_state.pop(SELECTED, None)
    return int(wanted) if wanted.isdigit() else -1


def _list(summaries: list[RcaSummary]) -> None:
    st.subheader("Analyses")
    if not summaries:
        st.info("No root cause analyses yet. A review offers one when similar near misses "
                "appear elsewhere; you can also start one above.")
        return
    st.dataframe(pd.DataFrame({
        "#": [s.id for s in summaries],
        "Title": [s.title for s in summaries],
        "Status": [s.status_label for s in summaries],
        "Reports": [", ".join(s.references) for s in summaries],
        "Lead": [s.lead for s in summaries],
        "Opened": [local(s.opened_at) for s in summaries],
        "Completed": [local(s.completed_at) for s in summaries],
    }), hide_index=True, width="stretch")
    titles = {s.id: f"#{s.id} · {s.title} ({s.status_label.lower()})" for s in summaries}
    if _value(SELECTED) not in titles:
        st.session_state.pop(SELECTED, None)
    st.selectbox("Open an analysis", list(titles), format_func=titles.get, index=None,
                 key=SELECTED, placeholder="Choose an analysis", on_change=_on_select)


# -- the page ------------------------------------------------------------------------------------

def _page(actor: Actor) -> None:
    st.title("Root cause analyses")
    st.caption("When similar near misses appear elsewhere, group them, ask why until the system "
               "cause shows, and record findings the action plan builder turns into practical "
               "service fixes.")
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        kind, message = notice
        if kind == "success":
            st.success(escape_markdown(message))
        elif st.session_state.get(ERRORS):  # the one alert of a refused save, focused
            error_summary(SUMMARY, escape_markdown(message))
        else:
            st.error(escape_markdown(message))

    link = str(st.query_params.get("reports", "")).strip()
    if link:
        _seed_new_form(link)
    page = rcas_page(actor, parse_references(_value(f"{NEW}.references") or ""))
    summaries, proposal, factors = list(page.summaries), page.proposal, dict(page.factors)
    hidden = _seed_selection(summaries)

    new_errors = any(k.startswith("new.") for k in (st.session_state.get(ERRORS) or {}))
    if link:
        with st.container(border=True):
            st.subheader("New root cause analysis")
            _new_form(proposal)
    else:
        with st.expander("Start a new root cause analysis", expanded=new_errors,
                         icon=":material/add:"):
            _new_form(proposal)

    _list(summaries)
    if hidden is not None:
        st.error(f"No root cause analysis #{hidden} among your services." if hidden > 0
                 else "No such root cause analysis among your services.")
    selected = _value(SELECTED)
    if selected is None:
        return
    try:
        detail = analysis(actor, int(selected))
    except NotFound as exc:
        st.error(escape_markdown(str(exc)))
        return
    _detail(detail, factors)


def _mark_refused() -> None:
    """After the forms: tie each refused answer to its message and focus the summary."""
    errors = st.session_state.get(ERRORS) or {}
    if errors:
        mark_invalid_fields([_widget(name) for name in errors], summary_key=SUMMARY,
                            attempt=str(st.session_state.get(REFUSALS, 0)))


_page(actor)
_mark_refused()
