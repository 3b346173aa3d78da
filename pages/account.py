"""My account: who I am here, what I can see, my language, changing my password, and sign-in
notices."""

from __future__ import annotations

import streamlit as st

from core.accounts.users import change_password
from core.clock import utcnow
from core.config import settings
from core.errors import DomainError, StorageUnavailable, ValidationFailed
from core.escalation.service import mark_read
from core.i18n import N_, languages, native_name
from core.uow import UnitOfWork
from core.views.account import account_page
from ui.accessibility import error_summary, field_message, mark_invalid_fields
from ui.i18n import current_language, message, save_language, tr
from ui.session import current_actor
from ui.text import escape_markdown, local

actor = current_actor()
_ = tr().gettext
st.title(_("My account"))

page = account_page(actor)
names = page.service_names

st.markdown(_("**Name:** {name}").format(name=escape_markdown(actor.display_name)) + "  \n"
            + _("**Username:** `{username}`").format(username=actor.username) + "  \n"
            + _("**Roles:** {roles}").format(
                roles=", ".join(sorted(_(r.label) for r in actor.roles))))
if actor.service_ids is None:
    st.markdown(_("**Services:** every service (your role covers the whole provider)"))
elif actor.service_ids:
    listed = ", ".join(sorted(escape_markdown(names.get(i, "?")) for i in actor.service_ids))
    st.markdown(_("**Services:** {services}").format(services=listed))
else:
    st.markdown(_("**Services:** none yet. Ask an administrator to add yours."))


def _save_language() -> None:
    try:
        save_language(actor, st.session_state["account_language"])
    except (DomainError, StorageUnavailable) as exc:
        st.session_state["account_language_notice"] = message(exc)


st.subheader(_("Language"))
st.caption(_("The portal speaks to you in this language: its pages and the e-mails it sends "
             "you. What you write is kept as you wrote it."))
st.session_state["account_language"] = current_language()
st.radio(_("Language"), list(languages()), key="account_language", format_func=native_name,
         horizontal=True, on_change=_save_language, label_visibility="collapsed")
language_notice = st.session_state.pop("account_language_notice", None)
if language_notice:
    st.error(escape_markdown(language_notice))

st.subheader(_("Change password"))
errors = st.session_state.pop("account_errors", {})
# The form's answers by the names core's checks use, as their fields and the summary name them.
PASSWORD_FIELDS = {"current_password": ("account_current", N_("Current password")),
                   "new_password": ("account_new", N_("New password")),
                   "repeat": ("account_repeat", N_("New password again"))}
if errors:
    error_summary("account_error_summary", _(
        "The password is not changed yet: check the fields marked below ({fields}).").format(
        fields="; ".join(escape_markdown(_(PASSWORD_FIELDS[n][1]) if n in PASSWORD_FIELDS
                                         else n) for n in errors)))
with st.form("change_password", clear_on_submit=False):
    current = st.text_input(_("Current password"), type="password", key="account_current",
                            autocomplete="current-password")
    if errors.get("current_password"):
        field_message("account_current", message(errors["current_password"]))
    new = st.text_input(_("New password"), type="password", key="account_new",
                        autocomplete="new-password",
                        help=_("At least {count} characters.").format(
                            count=settings().sign_in.min_password_length))
    if errors.get("new_password"):
        field_message("account_new", message(errors["new_password"]))
    repeat = st.text_input(_("New password again"), type="password", key="account_repeat",
                           autocomplete="new-password")
    if errors.get("repeat"):
        field_message("account_repeat", message(errors["repeat"]))
    submitted = st.form_submit_button(_("Change password"), type="primary")
if errors:
    mark_invalid_fields([PASSWORD_FIELDS[n][0] for n in errors if n in PASSWORD_FIELDS],
                        summary_key="account_error_summary",
                        attempt=str(st.session_state.get("account_refusals", 0)))

if submitted:
    if new != repeat:
        st.session_state["account_errors"] = {"repeat": N_("The two new passwords differ.")}
        st.session_state["account_refusals"] = st.session_state.get("account_refusals", 0) + 1
        st.rerun()
    try:
        change_password(UnitOfWork(), actor, current, new, now=utcnow(), rules=settings())
    except ValidationFailed as exc:
        st.session_state["account_errors"] = exc.errors
        st.session_state["account_refusals"] = st.session_state.get("account_refusals", 0) + 1
        st.rerun()
    except StorageUnavailable as exc:
        st.error(escape_markdown(message(exc)))
    else:
        st.success(_("Your password has been changed."))
        page = account_page(actor)  # read again after the change, as the notices below were

# Why a sign-in was refused is never said on the sign-in form (it would help a guesser); it
# is told here (and by email when email is set up): to the account's owner, and to
# administrators about every account.
st.subheader(_("Sign-in notices"))
notices = page.notices
if not notices:
    st.caption(_("None. Refused or slowed-down sign-ins to your account would be explained "
                 "here."))
unread_notices = [n.id for n in notices if not n.read]
if unread_notices:
    st.button(_("Mark {count} as read").format(count=len(unread_notices)),
              key="account_notices_read",
              on_click=lambda: mark_read(UnitOfWork(), actor, unread_notices, now=utcnow()))
for notice in notices:
    with st.container(border=True):
        st.caption((_("New") + " · " if not notice.read else "") + local(notice.created_at))
        st.text(notice.title)  # names and addresses typed by others: text, never Markdown
        st.text(notice.body)
