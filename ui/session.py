"""Sign-in, sessions and sign-out in the browser.

streamlit-authenticator supplies the bcrypt scheme and the signed re-authentication cookie
(an HS256 JWT in the browser). Its cookie manager sets the cookie from JavaScript, so it cannot
be HttpOnly; it is SameSite=Strict, Secure when the portal is reached over HTTPS. The cookie
alone proves nothing here: it carries a random secret made at each sign-in, bound to the
server-side session record (core.accounts.service, which keeps only a digest), so signing out,
an expired or idle session or a disabled account ends it everywhere, and a copied cookie stops
working after logout. It lives no longer than the idle limit and is renewed while the person
is active. Throttling, idle time and the session record live in the database, not in the
authenticator's memory.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import time
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import streamlit as st
import streamlit_authenticator as stauth
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.accounts.service import (
    IDLE_TIMEOUT,
    SessionEnded,
    SessionIdle,
    SignedIn,
    SignInRefused,
    bind_session_cookie,
    note_activity,
    sign_in,
    sign_out,
)
from core.auth.actor import Actor
from core.auth.throttle import client_address
from core.clock import utcnow
from core.config import effective_cookie_key, environment, settings
from core.errors import StorageUnavailable
from core.feedback.followup import FollowUpPaused, FollowUpView, look_up_follow_up
from core.i18n import N_
from core.uow import UnitOfWork
from core.views.reporting import type_names
from core.views.session import (
    resumed_session,
    session_actor,
    session_actor_and_unread,
    unread_sign_in_notices,
)
from core.views.session import unread_notifications as unread_notification_count
from ui.i18n import adopt_language, current_language, language_picker, message, tr
from ui.mail import send_emails_soon
from ui.startup import configured_cookie_key
from ui.text import local

COOKIE_NAME = "nearmiss_session"
SESSION_ID = "nm_session_id"
LAST_SEEN = "nm_last_seen"  # when this browser session last stamped activity on the server
COOKIE_PENDING = "nm_cookie_pending"
COOKIE_SECRET = "nm_cookie_secret"
COOKIE_SET_AT = "nm_cookie_set_at"
NOTICE = "nm_sign_in_notice"
FOCUS_AFTER_SIGN_IN = "nm_focus_after_sign_in"  # the signed-in page's title takes the focus
ACTOR = "nm_actor"
RETURN_TO = "nm_return_to"
FRAGMENT_INPUTS = "nm_fragment_inputs"  # a refreshing fragment's filters at its last run
UNREAD_THIS_RUN = "nm_unread_this_run"  # read with the session check, shown in the menu
APP_ROOT = Path(__file__).resolve().parent.parent
DATABASE_DOWN = N_("**The database cannot be reached right now.** What you see may be out of "
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
        cookie_expiry_days=rules.idle_minutes / (24 * 60),
        auto_hash=False,
        login_sleep_time=0,
    )


def client_source() -> str | None:
    """The client's address to throttle by, or None when it cannot be told (a loopback peer
    that is not a configured proxy). X-Forwarded-For counts only from a trusted proxy."""
    headers = st.context.headers
    forwarded = headers.get("X-Forwarded-For") if headers else None
    return client_address(st.context.ip_address, forwarded, settings().sign_in.trusted_proxies)


def _forget_session(notice: str | None = None) -> None:
    for key in (SESSION_ID, LAST_SEEN, COOKIE_PENDING, COOKIE_SECRET, COOKIE_SET_AT, ACTOR):
        st.session_state.pop(key, None)
    for key in ("authentication_status", "username", "name", "roles", "email"):
        st.session_state[key] = None
    if notice:
        st.session_state[NOTICE] = notice


def _adopt(signed_in: SignedIn) -> None:
    st.session_state[SESSION_ID] = signed_in.session_id
    st.session_state[LAST_SEEN] = None  # stamp at the first run
    # The keys streamlit-authenticator's cookie model reads.
    st.session_state["authentication_status"] = True
    st.session_state["username"] = signed_in.actor.username
    st.session_state["name"] = signed_in.actor.display_name
    st.session_state["roles"] = sorted(r.value for r in signed_in.actor.roles)
    st.session_state["logout"] = None
    adopt_language(signed_in.actor)  # the profile's language, or save the one just picked


def _issue_cookie(auth: stauth.Authenticate) -> None:
    """Set the browser cookie on the run after sign-in (a component must render to set it),
    with a new random secret bound to the server-side session: rotated at every sign-in."""
    secret = secrets.token_urlsafe(32)
    try:
        bind_session_cookie(UnitOfWork(), st.session_state[SESSION_ID], secret, rules=settings(),
                            now=utcnow())
    except (SessionEnded, StorageUnavailable):
        auth.cookie_controller.delete_cookie()
        return
    st.session_state[COOKIE_SECRET] = secret
    _set_cookie(auth, secret)


def cookie_token(username: str, secret: str, cookie_key: str, lifetime: timedelta) -> str:
    """The session cookie's value: the authenticator's HS256 token (username, expiry) with
    the session's random secret, signed with the portal's cookie key."""
    return jwt.encode({"username": username,
                       "exp_date": (datetime.now() + lifetime).timestamp(), "sid": secret},
                      cookie_key, algorithm="HS256")


def _set_cookie(auth: stauth.Authenticate, secret: str) -> None:
    """Write the cookie: the authenticator's signed token, plus the session's secret, alive
    for the idle limit (Max-Age, so the browser's clock and time zone do not matter)."""
    lifetime = timedelta(minutes=settings().sign_in.idle_minutes)
    model = auth.cookie_controller.cookie_model
    token = cookie_token(st.session_state["username"], secret, model.cookie_key, lifetime)
    model.cookie_manager.set(COOKIE_NAME, token, expires_at=datetime.now() + lifetime,
                             max_age=lifetime.total_seconds(),
                             secure=(st.context.url or "").startswith("https:") or None)
    st.session_state[COOKIE_SET_AT] = utcnow()


def _resume_from_cookie(auth: stauth.Authenticate) -> bool:
    if not isinstance(st.context.cookies.get(COOKIE_NAME), str):
        return False  # no cookie (checked first: the authenticator prints on a missing one)
    token = auth.cookie_controller.get_cookie()
    if not token or not isinstance(token.get("sid"), str):
        return False  # expired, not ours, or issued before cookies carried a secret
    try:
        signed_in = resumed_session(token["username"], token["sid"], now=utcnow(),
                                    rules=settings())
    except SessionIdle as exc:
        with contextlib.suppress(StorageUnavailable):
            sign_out(UnitOfWork(), exc.session_id, reason=IDLE_TIMEOUT,
                     now=utcnow(), rules=settings())
        auth.cookie_controller.delete_cookie()
        st.session_state[NOTICE] = message(exc)
        return False
    except SessionEnded:
        auth.cookie_controller.delete_cookie()
        return False
    _adopt(signed_in)
    st.session_state[COOKIE_SECRET] = token["sid"]
    lifetime = timedelta(minutes=settings().sign_in.idle_minutes)
    st.session_state[COOKIE_SET_AT] = utcnow() - lifetime + timedelta(
        seconds=max(0.0, token["exp_date"] - datetime.now().timestamp()))
    return True


def _sign_in_form() -> None:
    _sign_in_box()
    _follow_up_box()


def _sign_in_box() -> None:
    _ = tr().gettext
    st.title(_("Near Miss Portal"))
    st.caption(settings().provider_name)
    language_picker("sign_in_language", on_pick="before_sign_in")
    # The notice stays until the next sign-in attempt: deleting the cookie reruns the page,
    # and a notice shown on one run only would vanish before anyone could read it.
    notice = st.session_state.get(NOTICE)
    if notice:
        st.info(message(notice))
    with st.form("sign_in", clear_on_submit=False):
        st.subheader(_("Sign in"))
        username = st.text_input(_("Username"), key="sign_in_username",
                                 autocomplete="username")
        password = st.text_input(_("Password"), type="password", key="sign_in_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button(_("Sign in"), type="primary", width="stretch")
    if environment().is_demo:
        st.caption(_("Demo: sign in as `reporter`, `supervisor`, `safeguarding`, `clinical`, "
                     "`operations`, `quality`, `governance`, `commissioner` or `admin`, "
                     "password `nearmiss-demo`."))
    if not submitted:
        return
    st.session_state.pop(NOTICE, None)
    try:
        signed_in = sign_in(UnitOfWork(), username, password, source=client_source(),
                            now=utcnow(), rules=settings())
    except SignInRefused as exc:
        # One message whatever the reason; the owner is told the reason.
        st.error(message(exc))
        send_emails_soon()
        return
    except StorageUnavailable as exc:
        st.error(message(exc))
        return
    _adopt(signed_in)
    st.session_state[COOKIE_PENDING] = True
    st.session_state[FOCUS_AFTER_SIGN_IN] = True
    st.session_state.pop("sign_in_password", None)
    st.rerun()


# -- following up a report made without a name (no sign-in: the private code is the key) ------

FOLLOW_UP_WRONG_DELAY_SECONDS = 1.0
FOLLOW_UP_WRONG = N_("That code does not match a report. Check it (it looks like "
                     "K7QM-2XRD-9TFA) and try again.")


def _show_follow_up(view: FollowUpView) -> None:
    """One report's reference, type and status and its published updates: nothing else."""
    _ = tr().gettext
    type_name = view.type_name
    with st.container(border=True, key="follow_up_result"):
        st.markdown(_("**Your report**"))
        with contextlib.suppress(StorageUnavailable):  # else the type's name as stored
            type_name = type_names(current_language()).get(view.type_name, view.type_name)
        st.text(_("Reference: {reference}\nType: {type}\nStatus: {status}").format(
            reference=view.reference, type=type_name, status=_(view.status.label)))
        if not view.updates:
            st.info(_("No update has been published about it yet. Look again later: when "
                      "something changes because of it, it appears here."),
                    icon=":material/hourglass_top:")
        for update in view.updates:
            with st.container(border=True):
                st.caption(_("What changed because you reported · published {date}").format(
                    date=local(update.published_at, '%d %b %Y')))
                st.text(update.title)  # staff's free text: as text, never Markdown or HTML
                st.text(update.what_changed)
                if update.why:
                    st.caption(_("Why"))
                    st.text(update.why)


def _follow_up_box() -> None:
    _ = tr().gettext
    st.divider()
    st.subheader(_("Follow up a report made without your name"))
    st.caption(_("Enter the private follow-up code you were given when you reported. You see "
                 "where that report is and what changed because of it; nothing else."))
    with st.form("follow_up", clear_on_submit=False):
        code = st.text_input(_("Follow-up code"), key="follow_up_code", autocomplete="off",
                             placeholder="K7QM-2XRD-9TFA")
        submitted = st.form_submit_button(_("Show my report"), key="follow_up_submit",
                                          width="stretch")
    if not submitted:
        return
    if not (code or "").strip():
        st.error(_("Enter the follow-up code you were given."))
        return
    try:
        # Wrong codes are counted in the database, per address and per code: a reload or a
        # new browser session does not reset the count.
        view = look_up_follow_up(UnitOfWork(), code or "", source=client_source(), now=utcnow())
    except (FollowUpPaused, StorageUnavailable) as exc:
        st.error(message(exc))
        return
    if view is None:
        time.sleep(FOLLOW_UP_WRONG_DELAY_SECONDS)  # slows guessing; a real code is not slowed
        st.error(_(FOLLOW_UP_WRONG))
        return
    _show_follow_up(view)


def signed_in_actor(auth: stauth.Authenticate) -> Actor | None:
    """The signed-in actor for this run, or None after drawing the sign-in form.

    Checks the server-side session on every run, so a disabled user or an ended session is
    signed out at their next click, and so is a session idle past the limit (the server
    keeps its last activity, so a reload with the cookie does not revive it either).
    """
    session_id = st.session_state.get(SESSION_ID)
    if session_id is None:
        _remember_requested_page()
        if not _resume_from_cookie(auth):
            _sign_in_form()
            return None
    session_id = st.session_state[SESSION_ID]
    now = utcnow()
    try:
        actor, unread = session_actor_and_unread(session_id, now=now, rules=settings())
    except SessionIdle as exc:
        end_session(auth, reason=IDLE_TIMEOUT, notice=message(exc))
        _sign_in_form()
        return None
    except SessionEnded as exc:
        auth.cookie_controller.delete_cookie()
        _forget_session(message(exc))
        _sign_in_form()
        return None
    except StorageUnavailable:
        cached = st.session_state.get(ACTOR)
        if cached is None:
            st.title("Near Miss Portal")
            st.error(message(DATABASE_DOWN), icon=":material/cloud_off:")
            return None
        # Keep the worker on their page (and what they typed); saving waits for the database.
        st.warning(message(DATABASE_DOWN), icon=":material/cloud_off:")
        return cached
    st.session_state[ACTOR] = actor
    st.session_state[UNREAD_THIS_RUN] = unread
    _note_activity(session_id, now)
    return actor


def keep_cookie(auth: stauth.Authenticate, actor: Actor) -> None:
    """Give the browser its session cookie right after sign-in, or renew it for an active
    person. Called once the run is on the page it will show (after app.py has followed a
    deep link): the cookie component reruns the page the browser is on when it has set the
    cookie, so issued before that switch its rerun would take the person to the landing
    page instead of the bookmark."""
    now = utcnow()
    if st.session_state.pop(COOKIE_PENDING, False):
        _issue_cookie(auth)
        _point_to_sign_in_notices(actor)
    elif st.session_state.get(COOKIE_SECRET) and \
            now - st.session_state.get(COOKIE_SET_AT, now) >= _cookie_renewal_age():
        _set_cookie(auth, st.session_state[COOKIE_SECRET])  # lives the idle limit from now


def keep_fragment_signed_in(activity_keys: tuple[str, ...] = ()) -> None:
    """At the top of a self-refreshing fragment (the board, meeting mode): a timed refresh
    is not activity, so a wall screen left alone is still signed out after the idle limit.

    A fragment's rerun skips app.py, so it checks the server-side session here; when it has
    ended (idle, signed out elsewhere, account disabled) the whole app reruns and shows the
    sign-in page. A change to one of `activity_keys` (the fragment's own filters) is a click,
    and counts as activity.
    """
    session_id = st.session_state.get(SESSION_ID)
    if session_id is None:
        st.rerun(scope="app")
    now = utcnow()
    signature = tuple(repr(st.session_state.get(key)) for key in activity_keys)
    if signature != st.session_state.get(FRAGMENT_INPUTS, signature):
        _note_activity(session_id, now)
    st.session_state[FRAGMENT_INPUTS] = signature
    if not _fragment_rerun():
        return  # the whole app is running: app.py has checked the session in this run
    try:
        session_actor(session_id, now=now, rules=settings())
    except (SessionIdle, SessionEnded):
        st.rerun(scope="app")
    except StorageUnavailable:
        pass  # the page already says so; the refresh shows what it last read


def _fragment_rerun() -> bool:
    """Whether this run is a fragment's own rerun (app.py did not run), not the whole app's."""
    context = get_script_run_ctx()
    return context is None or bool(context.fragment_ids_this_run)


def _remember_requested_page() -> None:
    """Before sign-in (or before the cookie is read, which takes the cookie component a
    rerun), keep the page the browser asked for, so a bookmark or a reload of a deep link
    opens that page once signed in, not the landing page (app.py goes there if the role may
    open it)."""
    if RETURN_TO in st.session_state:
        return
    url = st.context.url
    wanted = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] if url else ""
    if wanted:
        st.session_state[RETURN_TO] = (wanted, st.query_params.to_dict())


def _cookie_renewal_age() -> timedelta:
    """How old the cookie gets before an active person's click renews it (same secret, fresh
    expiry): a quarter of the idle limit, so it never outlives the limit and a reload within
    three quarters of it after the last click still finds it. Each renewal costs the cookie
    component a rerun, so not on every click."""
    return timedelta(minutes=settings().sign_in.idle_minutes) / 4


def _note_activity(session_id: int, now: datetime) -> None:
    """Tell the server this session is in use, at most about once a minute."""
    last = st.session_state.get(LAST_SEEN)
    if last is not None and now - last < timedelta(minutes=1):
        return
    with contextlib.suppress(StorageUnavailable):  # the next click tries again
        note_activity(session_id, now=now)
        st.session_state[LAST_SEEN] = now


def _point_to_sign_in_notices(actor: Actor) -> None:
    """Right after sign-in: say if there are unread notices about sign-ins (why an earlier
    try was refused, or someone else trying)."""
    with contextlib.suppress(StorageUnavailable):
        unread = unread_sign_in_notices(actor)
        if unread:
            st.warning(f"{int(unread)} new notice{'s' if unread != 1 else ''} about "
                       "sign-ins: see **My account**.", icon=":material/shield_person:")


def end_session(auth: stauth.Authenticate, *, reason: str = "signed out",
                notice: str | None = N_("You have signed out.")) -> None:
    """Sign out: end the server-side session and delete the browser cookie."""
    session_id = st.session_state.get(SESSION_ID)
    if session_id is not None:
        # If the database is down the session still ends in this browser; it expires later.
        with contextlib.suppress(StorageUnavailable):
            sign_out(UnitOfWork(), session_id, reason=reason, now=utcnow(), rules=settings())
    auth.cookie_controller.delete_cookie()
    st.session_state["logout"] = True
    _forget_session(notice)


def unread_notifications(actor: Actor) -> int:
    """How many unread notifications the actor has (shown beside the Inbox): as read with
    this run's session check (one read for both), else read now."""
    unread = st.session_state.pop(UNREAD_THIS_RUN, None)
    if unread is not None:
        return unread
    try:
        return unread_notification_count(actor)
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
            st.session_state[RETURN_TO] = (Path(page_file).stem, st.query_params.to_dict())
        st.switch_page(APP_ROOT / "app.py")
    return actor


RETURN_TRIES = "nm_return_tries"
RETURN_ARRIVED = "nm_return_arrived"  # when a switch first brought the person to the page
RETURN_FROM = "nm_return_from"  # the page that switch left
MAX_RETURN_TRIES = 5
# How long after a switch has brought someone to their page a run that names the page they
# came from is taken for the browser's stale rerun, not for their own click (seen 0.24 s).
RETURN_GRACE_SECONDS = 10.0


def follow_return_to(current_url_path: str, allowed: Collection[str]
                     ) -> tuple[str, dict[str, str]] | None:
    """The page (its URL path, e.g. "triage_board") and query a deep link asked for before
    sign-in, if the run should go there now; None once it is there, or may not go.

    The request is kept until the person has arrived: on a busy machine a rerun (the cookie
    component's) can interrupt the run that switches pages before the switch is sent, and
    the next run then starts on the landing page, which would otherwise forget the bookmark.
    After a switch it is kept a moment longer: the cookie component's rerun can leave the
    browser before the switch reaches it, naming the landing page the browser still shows
    (a freshly started server: the board's deep link opened Home, 2 of 26 tries under load).
    Such a run goes back to the page once; a second run on the page spends the request, and so
    does leaving it for another page, or later than that moment. A few tries at most, so a
    deep link that cannot open never traps anyone."""
    wanted = st.session_state.get(RETURN_TO)
    if wanted is None:
        return None
    tries = st.session_state.get(RETURN_TRIES, 0)
    arrived = st.session_state.get(RETURN_ARRIVED)
    now = time.monotonic()
    if wanted[0] == current_url_path and tries == 1 and arrived is None:
        st.session_state[RETURN_ARRIVED] = now  # brought here by one switch: see above
        return None
    if (wanted[0] == current_url_path or wanted[0] not in allowed
            or tries >= MAX_RETURN_TRIES or (arrived is not None and (
                tries >= 2 or now - arrived > RETURN_GRACE_SECONDS
                or current_url_path != st.session_state.get(RETURN_FROM)))):
        for key in (RETURN_TO, RETURN_TRIES, RETURN_ARRIVED, RETURN_FROM):
            st.session_state.pop(key, None)
        return None
    st.session_state[RETURN_TRIES] = tries + 1
    st.session_state[RETURN_FROM] = current_url_path
    return wanted
