"""Cluster episodes on a page: their status, and acknowledging or dismissing one with a reason.

Presentation only: who may decide, and every check, is core.triage.episode_decisions.
"""

from __future__ import annotations

import streamlit as st

from core.actions.episodes import EpisodeView
from core.auth.actor import Actor
from core.clock import utcnow
from core.config import settings
from core.errors import DomainError, ValidationFailed
from core.triage.episode_decisions import acknowledge_episode, dismiss_episode, may_decide
from core.triage.vocabulary import EpisodeStatus
from core.uow import UnitOfWork
from ui.accessibility import error_summary, field_message, mark_invalid_fields
from ui.text import escape_markdown, local

STATUS_COLOURS: dict[EpisodeStatus, str] = {
    EpisodeStatus.OPEN: "red",
    EpisodeStatus.ACKNOWLEDGED: "blue",
    EpisodeStatus.LINKED: "green",
    EpisodeStatus.DISMISSED: "gray",
}
NOTICE = "cluster_notice"
ERRORS = "cluster_errors"
REFUSALS = "cluster_refusals"  # refused dismissals so far: each one focuses the summary again
SUMMARY = "cluster_error_summary"


def _key(prefix: str, episode: EpisodeView, name: str) -> str:
    return f"{prefix}.episode.{episode.episode_id}.{name}"


def status_badge(episode: EpisodeView) -> None:
    """The episode's status as a coloured badge with its word (colour is never the only sign)."""
    label = episode.status.label + (" · ongoing" if episode.ongoing else "")
    st.badge(label, color=STATUS_COLOURS[episode.status])


def show_notice() -> None:
    """The outcome of the last decision on this page, once."""
    notice = st.session_state.pop(NOTICE, None)
    if not notice:
        return
    kind, message = notice
    if kind == "success":
        st.success(escape_markdown(message))
    elif any((st.session_state.get(ERRORS) or {}).values()):  # the one alert, focused
        error_summary(SUMMARY, escape_markdown(message))
    else:
        st.error(escape_markdown(message))


def _acknowledge(actor: Actor, episode: EpisodeView) -> None:
    try:
        acknowledge_episode(UnitOfWork(), actor, episode.episode_id,
                            expected_version=episode.version, now=utcnow())
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
    else:
        st.session_state[NOTICE] = ("success", f"Acknowledged: {episode.type_name} in "
                                               f"{episode.scope_name}. It opens again if it "
                                               "grows.")


def _dismiss(actor: Actor, episode: EpisodeView, prefix: str) -> None:
    errors = dict(st.session_state.get(ERRORS) or {})
    errors.pop(episode.episode_id, None)
    reason = st.session_state.get(_key(prefix, episode, "reason")) or ""
    try:
        dismiss_episode(UnitOfWork(), actor, episode.episode_id, reason=reason,
                        expected_version=episode.version, now=utcnow(), rules=settings())
    except ValidationFailed as exc:
        errors[episode.episode_id] = exc.errors
        st.session_state[REFUSALS] = st.session_state.get(REFUSALS, 0) + 1
        st.session_state[NOTICE] = ("error", "Not dismissed yet: give the reason below.")
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
    else:
        st.session_state[NOTICE] = ("success", f"Dismissed: {episode.type_name} in "
                                               f"{episode.scope_name}. It opens again only if "
                                               "it grows well past what you saw.")
    st.session_state[ERRORS] = errors


def decision(actor: Actor, episode: EpisodeView, *, prefix: str) -> None:
    """What is decided about an episode, and for those who may: acknowledge it, or dismiss it
    with a reason (kept as typed if it is refused)."""
    if episode.status is EpisodeStatus.DISMISSED and episode.reason:
        who = f" by {episode.decided_by}" if episode.decided_by else ""
        when = f" on {local(episode.decided_at, '%d %b %Y')}" if episode.decided_at else ""
        st.text(f"Dismissed{who}{when}: {episode.reason}")  # their words, shown as text
    elif episode.status is EpisodeStatus.ACKNOWLEDGED and episode.decided_by:
        st.caption(escape_markdown(f"Acknowledged by {episode.decided_by} on "
                                   f"{local(episode.decided_at, '%d %b %Y')}."))
    if episode.status in (EpisodeStatus.LINKED, EpisodeStatus.DISMISSED) or not may_decide(
            actor, episode.services):
        return
    with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
        if episode.status is EpisodeStatus.OPEN:
            st.button("Acknowledge", key=_key(prefix, episode, "acknowledge"),
                      on_click=_acknowledge, args=(actor, episode),
                      help="Seen and being looked at. It opens again if it grows.")
        st.text_input("Or dismiss it: why is this not a cluster to act on?",
                      key=_key(prefix, episode, "reason"),
                      max_chars=settings().report.description_max_chars,
                      placeholder="e.g. one person's reports during a known hospital stay",
                      persist_state="session")
        st.button("Dismiss", key=_key(prefix, episode, "dismiss"), on_click=_dismiss,
                  args=(actor, episode, prefix))
    message = (st.session_state.get(ERRORS) or {}).get(episode.episode_id, {}).get("reason")
    reason_key = _key(prefix, episode, "reason")
    field_message(reason_key, message)  # beside the reason, under the one summary alert
    if message:
        mark_invalid_fields([reason_key], summary_key=SUMMARY,
                            attempt=str(st.session_state.get(REFUSALS, 0)))
