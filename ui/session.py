"""Sign-in, sessions and sign-out in the browser.

streamlit-authenticator supplies the bcrypt scheme and the signed re-authentication cookie
(an HS256 JWT in the browser). The cookie alone proves nothing here: every cookie is bound to a
server-side session record (core.auth.service), so signing out, an expired session or a
disabled account ends it everywhere, and a copied cookie stops working after logout.
Lockout and the session record live in the database, not in the authenticator's memory.
"""

from __future__ import annotations

import contextlib
import sys
import time
from datetime import timedelta
from pathlib import Path

import streamlit as st
import streamlit_authenticator as stauth

from core.auth.actor import Actor
from core.auth.service import (
    SessionEnded,
    SignedIn,
    SignInRefused,
    actor_for_session,
    bind_session_cookie,
    resume_from_cookie,
    sign_in,
    sign_out,
)
from core.clock import utcnow
from core.config import effective_cookie_key, environment, settings
from core.db import read_session
from core.errors import StorageUnavailable
from core.escalation.queries import unread_count
from core.feedback.followup import FollowUpView, follow_up_view
from core.uow import UnitOfWork
from ui.startup import configured_cookie_key
from ui.text import local

COOKIE_NAME = "nearmiss_session"
SESSION_ID = "nm_session_id"
LAST_SEEN = "nm_last_seen"
COOKIE_PENDING = "nm_cookie_pending"
NOTICE = "nm_sign_in_notice"
ACTOR = "nm_actor"
RETURN_TO = "nm_return_to"
APP_ROOT = Path(__file__).resolve().parent.parent
DATABASE_DOWN = ("**The database cannot be reached right now.** What you see may be out of "
                 "date and nothing can be saved until it is back; what you type stays here. "
                 "Try again in a moment.")


# The cookie manager is an invisible component; without this it leaves an empty grey box.
_HIDE_COOKIE_COMPONENT = """<style>
div[data-testid="stElementContainer"]:has(> div > iframe[title^="extra_streamlit_components"])
{ display: none; }
</style>"""


def authenticator() -> stauth.Authenticate:
    """The one authenticator of this run (create it once per run, in app.py)."""
    rules = settings().sign_in
    st.html(_HIDE_COOKIE_COMPONENT)
    return stauth.Authenticate(
        {"usernames": {}},
        cookie_name=COOKIE_NAME,
        cookie_key=effective_cookie_key(environment(), configured_cookie_key()),
        cookie_expiry_days=rules.session_hours / 24,
        auto_hash=False,
        login_sleep_time=0,
    )


def _forget_session(notice: str | None = None) -> None:
    for key in (SESSION_ID, LAST_SEEN, COOKIE_PENDING, ACTOR):
        st.session_state.pop(key, None)
    for key in ("authentication_status", "username", "name", "roles", "email"):
        st.session_state[key] = None
    if notice:
        st.session_state[NOTICE] = notice


def _adopt(signed_in: SignedIn) -> None:
    st.session_state[SESSION_ID] = signed_in.session_id
    st.session_state[LAST_SEEN] = utcnow()
    # The keys streamlit-authenticator's cookie model reads.
    st.session_state["authentication_status"] = True
    st.session_state["username"] = signed_in.actor.username
    st.session_state["name"] = signed_in.actor.display_name
    st.session_state["roles"] = sorted(r.value for r in signed_in.actor.roles)
    st.session_state["logout"] = None


def _issue_cookie(auth: stauth.Authenticate) -> None:
    """Set the browser cookie on the run after sign-in (a component must render to set it)."""
    auth.cookie_controller.set_cookie()
    expiry = auth.cookie_controller.cookie_model.exp_date
    try:
        bind_session_cookie(UnitOfWork(), st.session_state[SESSION_ID], repr(expiry))
    except (SessionEnded, StorageUnavailable):
        auth.cookie_controller.delete_cookie()


def _resume_from_cookie(auth: stauth.Authenticate) -> bool:
    if not isinstance(st.context.cookies.get(COOKIE_NAME), str):
        return False  # no cookie (checked first: the authenticator prints on a missing one)
    token = auth.cookie_controller.get_cookie()
    if not token:
        return False
    try:
        with read_session() as session:
            signed_in = resume_from_cookie(session, token["username"], repr(token["exp_date"]))
    except SessionEnded:
        auth.cookie_controller.delete_cookie()
        return False
    _adopt(signed_in)
    return True


def _sign_in_form() -> None:
    _sign_in_box()
    _follow_up_box()


def _sign_in_box() -> None:
    st.title("Near Miss Portal")
    st.caption(settings().provider_name)
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.info(notice)
    with st.form("sign_in", clear_on_submit=False):
        st.subheader("Sign in")
        username = st.text_input("Username", key="sign_in_username", autocomplete="username")
        password = st.text_input("Password", type="password", key="sign_in_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
    if environment().is_demo:
        st.caption("Demo: sign in as `reporter`, `supervisor`, `safeguarding`, `clinical`, "
                   "`operations`, `quality`, `governance`, `commissioner` or `admin`, "
                   "password `nearmiss-demo`.")
    if not submitted:
        return
    try:
        signed_in = sign_in(UnitOfWork(), username, password)
    except SignInRefused as exc:
        st.error(str(exc))
        return
    except StorageUnavailable as exc:
        st.error(str(exc))
        return
    _adopt(signed_in)
    st.session_state[COOKIE_PENDING] = True
    st.session_state.pop("sign_in_password", None)
    st.rerun()


# -- following up a report made without a name (no sign-in: the private code is the key) ------

FOLLOW_UP_FAILURES = "nm_follow_up_failures"
FOLLOW_UP_MAX_FAILURES = 5
FOLLOW_UP_PAUSE = timedelta(minutes=15)
FOLLOW_UP_WRONG_DELAY_SECONDS = 1.0
FOLLOW_UP_WRONG = ("That code does not match a report. Check it (it looks like "
                   "K7QM-2XRD-9TFA) and try again.")


def _follow_up_refusal() -> str | None:
    """Wrong codes are counted per browser session; after a few the form pauses a while."""
    now = utcnow()
    recent = [t for t in st.session_state.get(FOLLOW_UP_FAILURES, [])
              if now - t < FOLLOW_UP_PAUSE]
    st.session_state[FOLLOW_UP_FAILURES] = recent
    if len(recent) < FOLLOW_UP_MAX_FAILURES:
        return None
    minutes = max(1, int((recent[0] + FOLLOW_UP_PAUSE - now).total_seconds() // 60) + 1)
    return (f"Too many codes that did not match. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.")


def _show_follow_up(view: FollowUpView) -> None:
    """One report's reference, type and status and its published updates: nothing else."""
    with st.container(border=True, key="follow_up_result"):
        st.markdown("**Your report**")
        st.text(f"Reference: {view.reference}\nType: {view.type_name}\n"
                f"Status: {view.status.label}")
        if not view.updates:
            st.info("No update has been published about it yet. Look again later: when "
                    "something changes because of it, it appears here.",
                    icon=":material/hourglass_top:")
        for update in view.updates:
            with st.container(border=True):
                st.caption(f"What changed because you reported · published "
                           f"{local(update.published_at, '%d %b %Y')}")
                st.text(update.title)  # staff's free text: as text, never Markdown or HTML
                st.text(update.what_changed)
                if update.why:
                    st.caption("Why")
                    st.text(update.why)


def _follow_up_box() -> None:
    st.divider()
    st.subheader("Follow up a report made without your name")
    st.caption("Enter the private follow-up code you were given when you reported. You see "
               "where that report is and what changed because of it; nothing else.")
    with st.form("follow_up", clear_on_submit=False):
        code = st.text_input("Follow-up code", key="follow_up_code", autocomplete="off",
                             placeholder="K7QM-2XRD-9TFA")
        submitted = st.form_submit_button("Show my report", key="follow_up_submit",
                                          width="stretch")
    if not submitted:
        return
    if not (code or "").strip():
        st.error("Enter the follow-up code you were given.")
        return
    refusal = _follow_up_refusal()
    if refusal:
        st.error(refusal)
        return
    try:
        with read_session() as session:
            view = follow_up_view(session, code or "")
    except StorageUnavailable as exc:
        st.error(str(exc))
        return
    if view is None:
        st.session_state[FOLLOW_UP_FAILURES].append(utcnow())
        time.sleep(FOLLOW_UP_WRONG_DELAY_SECONDS)  # slows guessing; a real code is not slowed
        st.error(FOLLOW_UP_WRONG)
        return
    _show_follow_up(view)


def signed_in_actor(auth: stauth.Authenticate) -> Actor | None:
    """The signed-in actor for this run, or None after drawing the sign-in form.

    Checks the server-side session on every run, so a disabled user or an ended session is
    signed out at their next click; signs out after the idle time.
    """
    session_id = st.session_state.get(SESSION_ID)
    if session_id is None and not _resume_from_cookie(auth):
        _sign_in_form()
        return None
    session_id = st.session_state[SESSION_ID]
    now = utcnow()
    idle = timedelta(minutes=settings().sign_in.idle_minutes)
    last_seen = st.session_state.get(LAST_SEEN, now)
    if now - last_seen > idle:
        end_session(auth, reason="idle timeout",
                    notice="You were signed out after a period without activity.")
        _sign_in_form()
        return None
    try:
        with read_session() as session:
            actor = actor_for_session(session, session_id, now=now)
    except SessionEnded as exc:
        auth.cookie_controller.delete_cookie()
        _forget_session(str(exc))
        _sign_in_form()
        return None
    except StorageUnavailable:
        cached = st.session_state.get(ACTOR)
        if cached is None:
            st.title("Near Miss Portal")
            st.error(DATABASE_DOWN, icon=":material/cloud_off:")
            return None
        # Keep the worker on their page (and what they typed); saving waits for the database.
        st.warning(DATABASE_DOWN, icon=":material/cloud_off:")
        return cached
    st.session_state[LAST_SEEN] = now
    st.session_state[ACTOR] = actor
    if st.session_state.pop(COOKIE_PENDING, False):
        _issue_cookie(auth)
    return actor


def end_session(auth: stauth.Authenticate, *, reason: str = "signed out",
                notice: str | None = "You have signed out.") -> None:
    """Sign out: end the server-side session and delete the browser cookie."""
    session_id = st.session_state.get(SESSION_ID)
    if session_id is not None:
        # If the database is down the session still ends in this browser; it expires later.
        with contextlib.suppress(StorageUnavailable):
            sign_out(UnitOfWork(), session_id, reason=reason)
    auth.cookie_controller.delete_cookie()
    st.session_state["logout"] = True
    _forget_session(notice)


def unread_notifications(actor: Actor) -> int:
    """How many unread notifications the actor has (shown beside the Inbox)."""
    try:
        with read_session() as session:
            return unread_count(session, actor)
    except StorageUnavailable:
        return 0  # the banner already says the database is down


def current_actor() -> Actor:
    """The signed-in actor; a page reached without signing in shows a way to sign in.

    Normally pages run only after app.py has signed someone in. Streamlit's legacy handling of
    a `pages/` folder runs a page file alone when a freshly started server's first request is
    a deep link (a bookmark, or a browser that a proxy moved after its server went away), so
    every page checks again here and never renders without an actor.
    """
    actor = st.session_state.get(ACTOR)
    if actor is None:
        # Hand over to app.py, which resumes the sign-in from the cookie (or asks for it),
        # then brings the person back here (a restarted server behind a proxy, a bookmark).
        page_file = sys._getframe(1).f_globals.get("__file__")
        if page_file:
            st.session_state[RETURN_TO] = (
                Path(page_file).resolve().relative_to(APP_ROOT).as_posix(),
                st.query_params.to_dict())
        st.switch_page(APP_ROOT / "app.py")
    return actor


def take_return_to() -> tuple[str, dict[str, str]] | None:
    """The page (app-relative path) and query a deep link asked for before sign-in, once."""
    return st.session_state.pop(RETURN_TO, None)
