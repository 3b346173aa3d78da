"""Learning responses: the proportionate response to near misses (NHS PSIRF's swarm huddle,
after-action review, MDT review and patient safety incident investigation, or the full root cause
analysis), with its template, who takes part, its due date, and its findings for action plans.

Widgets in, core calls out (core.review.responses holds every rule). Reached from a near miss's
"start the suggested response" link (?reports=NM-...), a response link (?response=ID), or the
navigation. People's free text is shown with st.text, dataframes or widgets, never as Markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core.auth.actor import Actor
from core.auth.policy import Capability, can
from core.clock import to_local, utcnow
from core.config import settings
from core.errors import DomainError, NotFound, ValidationFailed
from core.review.rca import parse_references
from core.review.response_queries import ResponseDetail, ResponseProposal, ResponseSummary
from core.review.response_templates import (
    FULL_RCA,
    FULL_RCA_PURPOSE,
    LearningResponses,
    load_learning_responses,
)
from core.review.responses import choose_full_rca, complete_response, save_answers, start_response
from core.uow import UnitOfWork
from core.views.learning_response import (
    learning_response,
    response_link_proposal,
    responses_page,
)
from core.yamlfile import ConfigFileError
from ui.session import current_actor
from ui.text import escape_caption, escape_label, escape_markdown, local

ERRORS = "lr_errors"
NOTICE = "lr_notice"
SELECTED = "lr.selected"
SELECTED_FROM = "lr.selected_from"  # the ?response= value the selection was last taken from
NEW = "lr.new"
SEEDED_FROM = "lr.new.seeded_from"  # the ?reports= value the new form was last filled from
RCA_LINK = "lr.rca_link"  # references for the root cause analysis page, once chosen

actor = current_actor()


def _today() -> Any:
    return to_local(utcnow(), settings().zone).date()


def _key(response_id: int | str, name: str) -> str:
    return f"lr.{response_id}.{name}"


def _value(key: str) -> Any:
    return st.session_state.get(key)


def _error(name: str) -> None:
    message = (st.session_state.get(ERRORS) or {}).get(name)
    if message:
        st.error(escape_markdown(message), icon=":material/error:")


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
            _notice("error", "Not saved yet: check the answers marked below. Nothing you typed "
                             "is lost.")
        return False
    except NotFound as exc:
        if not_found_field:
            st.session_state[ERRORS] = {f"{prefix}.{not_found_field}": str(exc)}
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


def _report_table(lines: Any) -> None:
    st.dataframe(pd.DataFrame({
        "Reference": [r.reference for r in lines],
        "Type": [r.type_name for r in lines],
        "Service": [r.service for r in lines],
        "Location": [r.location for r in lines],
        "When it happened": [local(r.occurred_at) for r in lines],
        "Status": [r.status.label for r in lines],
    }), hide_index=True, width="stretch")


def _guide(templates: LearningResponses, type_key: str) -> None:
    """What a response type is for, who takes part, its time limit and its questions."""
    if type_key == FULL_RCA:
        st.caption(FULL_RCA_PURPOSE)
        return
    template = templates.template(type_key)
    if template is None:
        return
    st.caption(escape_caption(template.purpose))
    st.markdown("**Who takes part**")
    st.text("\n".join(f"• {p}" for p in template.participants))
    due = template.time_limit.due(_today())
    st.caption(f"Time limit: {escape_caption(template.time_limit.label)} (due "
               f"{due:%d %b %Y} if started today). Questions: "
               + escape_caption("; ".join(f.label for f in template.fields)))


# -- a new response ------------------------------------------------------------------------------

def _seed_new_form(link: str, suggestion: str | None) -> None:
    """Fill the new form from the link once (and again if a different link is followed)."""
    if _value(SEEDED_FROM) == link and f"{NEW}.references" in st.session_state:
        return
    st.session_state[f"{NEW}.references"] = ", ".join(parse_references(link))
    if suggestion:
        st.session_state[f"{NEW}.type"] = suggestion
    for name in ("reason", "title"):
        st.session_state.setdefault(f"{NEW}.{name}", "")
    st.session_state[SEEDED_FROM] = link


def _start() -> None:
    references = parse_references(_value(f"{NEW}.references"))
    type_key = _value(f"{NEW}.type")
    reason = _value(f"{NEW}.reason") or ""
    if type_key == FULL_RCA:
        def record() -> list[str]:
            return choose_full_rca(UnitOfWork(), actor, references=references, reason=reason,
                                   now=utcnow(), rules=settings())

        if _run(record, "Recorded: these near misses get a full root cause analysis. Open it "
                        "with the link below.", "new", not_found_field="references"):
            st.session_state[RCA_LINK] = ",".join(references)
        return
    created: dict[str, int] = {}

    def action() -> int:
        created["id"] = start_response(UnitOfWork(), actor, type_key=type_key or "",
                                       references=references, reason=reason,
                                       title=_value(f"{NEW}.title") or "",
                                       now=utcnow(), rules=settings())
        return created["id"]

    if _run(action, lambda rid: f"Learning response #{rid} started. Record who takes part and "
                                "the answers below.", "new", not_found_field="references"):
        for name in ("references", "reason", "title"):
            st.session_state[f"{NEW}.{name}"] = ""
        st.session_state.pop(SEEDED_FROM, None)  # following the same link again refills it
        st.session_state[SELECTED] = created["id"]
        st.session_state[SELECTED_FROM] = str(created["id"])
        st.query_params.pop("reports", None)
        st.query_params["response"] = str(created["id"])


def _new_form(proposal: ResponseProposal, templates: LearningResponses) -> None:
    if proposal.already_open:
        st.warning("An open learning response is already about some of these near misses ("
                   + ", ".join(f"#{s.id}" for s in proposal.already_open)
                   + "): open it below rather than starting another.", icon=":material/info:")
    st.text_input("Near misses (references, separated by commas)", key=f"{NEW}.references",
                  placeholder="NM-2026-00012, NM-2026-00007")
    _error("new.references")
    if proposal.not_found:
        st.warning("Not found among your services: "
                   + escape_markdown(", ".join(proposal.not_found)))
    if proposal.reports:
        _report_table(proposal.reports)
    suggestion = proposal.suggestion
    if suggestion is not None:
        st.info(f"Suggested: **{escape_markdown(suggestion.type_name)}**, proportionate to "
                f"{escape_markdown(suggestion.basis)} at triage.", icon=":material/lightbulb:")
    elif proposal.reports:
        st.warning("Triage these near misses first: the proportionate response follows from "
                   "their severity potential and recurrence.", icon=":material/info:")
    options = [t.key for t in templates.responses] + [FULL_RCA]

    def name(key: str) -> str:
        return escape_label(templates.name_of(key))

    if _value(f"{NEW}.type") not in options:
        st.session_state[f"{NEW}.type"] = suggestion.type_key if suggestion else options[0]
    st.radio("Response", options, format_func=name, key=f"{NEW}.type", horizontal=True)
    _error("new.type")
    chosen = _value(f"{NEW}.type")
    _guide(templates, chosen)
    differs = suggestion is not None and chosen != suggestion.type_key
    st.text_area("Why this response rather than the suggested one"
                 + (" (required)" if differs else " (only when you choose another)"),
                 key=f"{NEW}.reason", height=70)
    _error("new.reason")
    if chosen == FULL_RCA:
        st.button("Record the choice and open a root cause analysis", key=f"{NEW}.start",
                  type="primary", icon=":material/account_tree:", on_click=_start)
        return
    st.text_input("Title (optional)", key=f"{NEW}.title", max_chars=200,
                  help="Left empty: the response type, the first report's type and location.")
    _error("new.title")
    st.button(f"Start the {name(chosen).lower()}", key=f"{NEW}.start", type="primary",
              icon=":material/group_add:", on_click=_start)


# -- an open response ----------------------------------------------------------------------------

def _seed_editor(detail: ResponseDetail) -> None:
    """Put the stored answers into the widgets once; after that, what was typed stays."""
    seeds: dict[str, Any] = {"title": detail.title,
                             "participants": "\n".join(detail.participants)}
    for field in detail.template.fields:
        seeds[f"answer.{field.key}"] = detail.answers.get(field.key, "")
    for name, value in seeds.items():
        st.session_state.setdefault(_key(detail.id, name), value)


def _inputs(detail: ResponseDetail) -> dict[str, Any]:
    rid = detail.id
    return {
        "title": _value(_key(rid, "title")) or "",
        "participants": (_value(_key(rid, "participants")) or "").splitlines(),
        "answers": {f.key: _value(_key(rid, f"answer.{f.key}")) or ""
                    for f in detail.template.fields},
    }


def _save(detail: ResponseDetail) -> bool:
    data = _inputs(detail)
    return _run(lambda: save_answers(UnitOfWork(), actor, detail.id, answers=data["answers"],
                                     participants=data["participants"], title=data["title"],
                                     now=utcnow(), rules=settings()),
                lambda changed: "Saved." if changed else "Nothing had changed.",
                str(detail.id))


def _complete(detail: ResponseDetail) -> None:
    """Save what is on screen, then complete: nobody has to remember to save first."""
    if not _save(detail):
        return
    if _run(lambda: complete_response(UnitOfWork(), actor, detail.id, now=utcnow()),
            f"Learning response #{detail.id} is complete. Its findings are ready for the action "
            "plan builder.", str(detail.id)):
        return
    if st.session_state.get(ERRORS):
        _notice("error", "Saved, but not complete yet: see what is still needed below.")


def _editor(detail: ResponseDetail) -> None:
    rid = detail.id
    _seed_editor(detail)
    st.text_input("Title", key=_key(rid, "title"), max_chars=200)
    _error(f"{rid}.title")
    st.text_area(f"Who took part (one a line: name and role; at least "
                 f"{int(detail.template.min_participants)})", key=_key(rid, "participants"),
                 height=90)
    _error(f"{rid}.participants")
    for field in detail.template.fields:
        label = escape_label(field.label) + (" (required)" if field.required else "")
        st.text_area(label, key=_key(rid, f"answer.{field.key}"), height=100,
                     help=escape_label(field.help) if field.help else None)
        _error(f"{rid}.answers.{field.key}")
    _error(f"{rid}.findings")
    with st.container(horizontal=True):
        st.button("Save", key=_key(rid, "save"), type="primary", icon=":material/save:",
                  on_click=_save, args=(detail,))
        st.button("Complete the response", key=_key(rid, "complete"),
                  icon=":material/task_alt:", on_click=_complete, args=(detail,))
    st.caption("Completing needs every required answer and who took part; a completed response "
               "is read-only and its findings go to the action plan builder.")


def _read_only(detail: ResponseDetail) -> None:
    st.success(f"Completed {local(detail.completed_at)}. Its findings are ready for the action "
               "plan builder.", icon=":material/task_alt:")
    if can(actor, Capability.MANAGE_ACTIONS):
        st.page_link("pages/action_plan.py", label="Create an action plan from these findings",
                     query_params={"from": "response", "response": str(detail.id)},
                     icon=":material/add_task:")
    st.markdown("**Who took part**")
    st.text("\n".join(detail.participants) or "Nobody recorded")
    for field in detail.template.fields:
        st.markdown(f"**{escape_markdown(field.label)}**")
        st.text(detail.answers.get(field.key) or "Not answered")


def _detail(detail: ResponseDetail) -> None:
    st.subheader(f"{escape_markdown(detail.template.name)} #{detail.id}")
    st.text(detail.title)  # free text: as text, never Markdown
    st.caption(f"{detail.status_label} · led by {escape_caption(detail.lead)} · started "
               f"{local(detail.started_at)} · due {detail.due_on:%d %b %Y} "
               f"({escape_caption(detail.template.time_limit.label)})")
    if detail.overdue:
        st.error(f"Past its time limit: it was due on {detail.due_on:%d %b %Y}.",
                 icon=":material/alarm:")
    if detail.type_key != detail.suggested_type_key:
        st.caption(f"Chosen instead of the suggested "
                   f"{escape_caption(detail.suggested_name.lower())}, because:")
        st.text(detail.choice_reason or "")
    left, right = st.columns([3, 2], gap="large")
    with left:
        if detail.is_open:
            _editor(detail)
        else:
            _read_only(detail)
    with right:
        st.markdown("**What it is for**")
        st.caption(escape_caption(detail.template.purpose))
        st.markdown("**Who takes part**")
        st.text("\n".join(f"• {p}" for p in detail.template.participants))
        st.markdown(f"**Near misses · {len(detail.reports)}**")
        _report_table(detail.reports)
        with st.container(horizontal=True, gap="small"):
            for line in detail.reports:
                st.page_link("pages/near_miss.py", label=line.reference,
                             query_params={"ref": line.reference}, icon=":material/open_in_new:")
        with st.expander("History"):
            st.dataframe(pd.DataFrame({
                "When": [local(h.at) for h in detail.history],
                "Who": [h.who for h in detail.history],
                "What": [h.what for h in detail.history],
                "Detail": [h.detail for h in detail.history],
            }), hide_index=True, width="stretch")


# -- the list ------------------------------------------------------------------------------------

def _on_select() -> None:
    selected = _value(SELECTED)
    st.session_state[SELECTED_FROM] = None if selected is None else str(selected)
    if selected is None:
        st.query_params.pop("response", None)
    else:
        st.query_params["response"] = str(selected)


def _seed_selection(summaries: list[ResponseSummary]) -> int | None:
    """Follow ?response=N when it changes; returns an id asked for but not visible."""
    wanted = str(st.query_params.get("response", "")).strip().lstrip("#")
    if not wanted or _value(SELECTED_FROM) == wanted:
        return None
    st.session_state[SELECTED_FROM] = wanted
    if wanted.isdigit() and int(wanted) in {s.id for s in summaries}:
        st.session_state[SELECTED] = int(wanted)
        return None
    st.session_state.pop(SELECTED, None)
    return int(wanted) if wanted.isdigit() else -1


def _list(summaries: list[ResponseSummary]) -> None:
    st.subheader("Responses")
    if not summaries:
        st.info("No learning responses yet. A triaged near miss offers the proportionate one; "
                "you can also start one above.")
        return
    st.dataframe(pd.DataFrame({
        "#": [s.id for s in summaries],
        "Response": [s.type_name for s in summaries],
        "Title": [s.title for s in summaries],
        "Status": [s.status_label for s in summaries],
        "Due": [f"{s.due_on:%d %b %Y}" for s in summaries],
        "Near misses": [", ".join(s.references) for s in summaries],
        "Lead": [s.lead for s in summaries],
    }), hide_index=True, width="stretch")
    titles = {s.id: f"#{s.id} · {s.type_name}: {s.title} ({s.status_label.lower()})"
              for s in summaries}
    if _value(SELECTED) not in titles:
        st.session_state.pop(SELECTED, None)
    st.selectbox("Open a response", list(titles), format_func=titles.get, index=None,
                 key=SELECTED, placeholder="Choose a response", on_change=_on_select)


# -- the page ------------------------------------------------------------------------------------

def _page(actor: Actor) -> None:
    st.title("Learning responses")
    st.caption("A response proportionate to what there is to learn, as NHS PSIRF sets out: a "
               "swarm huddle, an after-action review, a multidisciplinary team review, a "
               "patient safety incident investigation, or a full root cause analysis. Its "
               "findings go to the action plan builder.")
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        kind, message = notice
        (st.success if kind == "success" else st.error)(escape_markdown(message))
    rca_link = st.session_state.get(RCA_LINK)
    if rca_link:
        st.page_link("pages/rca.py", label="Open the root cause analysis",
                     query_params={"reports": rca_link}, icon=":material/account_tree:")
    link = str(st.query_params.get("reports", "")).strip()
    today = _today()
    try:
        templates = load_learning_responses()
        if link:
            first = response_link_proposal(actor, parse_references(link), today=today,
                                           templates=templates)
            _seed_new_form(link, first.suggestion.type_key if first.suggestion else None)
        page = responses_page(actor, parse_references(_value(f"{NEW}.references") or ""),
                              today=today, templates=templates)
        summaries, proposal = list(page.summaries), page.proposal
    except ConfigFileError as exc:  # the provider's templates file has a mistake
        st.error(escape_markdown(str(exc)), icon=":material/error:")
        return
    hidden = _seed_selection(summaries)

    new_errors = any(k.startswith("new.") for k in (st.session_state.get(ERRORS) or {}))
    if link:
        with st.container(border=True):
            st.subheader("New learning response")
            _new_form(proposal, templates)
    else:
        with st.expander("Start a new learning response", expanded=new_errors,
                         icon=":material/add:"):
            _new_form(proposal, templates)

    _list(summaries)
    if hidden is not None:
        st.error(f"No learning response #{hidden} among your services." if hidden > 0
                 else "No such learning response among your services.")
    selected = _value(SELECTED)
    if selected is None:
        return
    try:
        detail = learning_response(actor, int(selected), today=today, templates=templates)
    except NotFound as exc:
        st.error(escape_markdown(str(exc)))
        return
    _detail(detail)


_page(actor)
