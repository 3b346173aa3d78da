"""Earlier reports that read alike, beside the report a reviewer opened; linking one in a click.

Presentation only: which reports, how alike, who may see and link them, and every check are
core.review.related and core.triage.links. People's text is shown as text (st.text) or through
the ui.text helpers, never as Markdown.
"""

from __future__ import annotations

import streamlit as st

from core.auth.actor import Actor
from core.clock import utcnow
from core.config import settings
from core.errors import DomainError
from core.review.related import ReadAlike, ReadAlikePanel
from core.triage.links import link_related, unlink_related
from core.uow import UnitOfWork
from ui.text import escape_caption, escape_label, escape_markdown, local

NOTICE = "read_alike_notice"


def _link(actor: Actor, reference: str, other: str) -> None:
    try:
        outcome = link_related(UnitOfWork(), actor, reference, other,
                               now=utcnow(), rules=settings())
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
        return
    st.session_state[NOTICE] = ("success", (
        f"Linked {reference} with {other}: {outcome.later_reference} now counts the other as a "
        "repeat." if outcome.changed else f"{reference} and {other} were already linked."))


def _unlink(actor: Actor, reference: str, other: str) -> None:
    try:
        outcome = unlink_related(UnitOfWork(), actor, reference, other,
                                 now=utcnow(), rules=settings())
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
        return
    st.session_state[NOTICE] = ("success", f"Link between {reference} and {other} removed."
                                if outcome.changed else "There was no link to remove.")


def _outcome(item: ReadAlike) -> str:
    """Where the earlier report ended up, in words (its closure outcome as typed)."""
    parts = [item.status.label]
    if item.triage_outcome:
        parts.append(f"triaged for {item.triage_outcome}")
    text = ", ".join(parts)
    return f"{text}: {item.closed_with}" if item.closed_with else text


def _alike(actor: Actor, view: ReadAlikePanel, item: ReadAlike) -> None:
    with st.container(border=True, key=f"read_alike.{view.reference}.{item.reference}"):
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.page_link("pages/near_miss.py",
                         label=f"{item.reference} · {escape_label(item.type_name)}",
                         query_params={"ref": item.reference}, icon=":material/description:")
            st.badge(f"{int(item.percent)}% alike", color="blue")
            if item.linked:
                st.badge("Linked", color="green", icon=":material/link:")
        st.text(item.description)  # as typed: text, never Markdown
        st.caption(escape_caption(f"{local(item.occurred_at)} · {item.where}"))
        st.caption("Outcome: " + escape_caption(_outcome(item)))
        if view.may_link and not item.linked:
            st.button("Link as related", key=f"read_alike.link.{view.reference}.{item.reference}",
                      icon=":material/add_link:", on_click=_link,
                      args=(actor, view.reference, item.reference),
                      help="The same theme: the later of the two counts the other as a repeat.")


def _linked(actor: Actor, view: ReadAlikePanel) -> None:
    st.markdown("**Linked as related**")
    for link in view.linked:
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.page_link("pages/near_miss.py",
                         label=f"{link.reference} · {escape_label(link.type_name)}",
                         query_params={"ref": link.reference}, icon=":material/link:")
            st.caption(escape_caption(
                ("earlier" if link.earlier else "later") + f", {local(link.occurred_at)}; "
                f"linked by {link.linked_by} on {local(link.linked_at, '%d %b %Y')}"))
            if view.may_link:
                st.button("Remove link",
                          key=f"read_alike.unlink.{view.reference}.{link.reference}",
                          on_click=_unlink, args=(actor, view.reference, link.reference))


def panel(actor: Actor, view: ReadAlikePanel | None) -> None:
    """Up to five earlier reports that read like this one, with their outcome and a link
    button; the reports already linked; the recurrence count. Nothing for a role that does
    not open reports (core.views.near_miss leaves `view` None)."""
    if view is None:
        return
    st.subheader("Earlier reports that read alike")
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        (st.success if notice[0] == "success" else st.error)(escape_markdown(notice[1]))
    count = f"{'at least ' if view.at_least else ''}{int(view.recurrences)}"
    repeats = (f" {count} earlier reports count as repeats of it (the same person, location, "
               f"or type in its service within {int(view.window_days)} days, or linked: "
               f"{int(view.linked_recurrences)} linked)."
               if view.recurrences else " No earlier report counts as a repeat of it yet.")
    st.caption(f"Compared by their words with the newest {int(view.compared)} earlier reports "
               "in your services." + repeats)
    if not view.alike:
        st.caption("None reads alike.")
    for item in view.alike:
        _alike(actor, view, item)
    if view.linked:
        _linked(actor, view)
