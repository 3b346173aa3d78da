"""My account: who I am here, what I can see, changing my password, and sign-in notices."""

from __future__ import annotations

import streamlit as st

from core.accounts.service import change_password
from core.clock import utcnow
from core.config import settings
from core.errors import StorageUnavailable, ValidationFailed
from core.escalation.service import mark_read
from core.uow import UnitOfWork
from core.views.account import account_page
from ui.session import current_actor
from ui.text import escape_markdown, local

actor = current_actor()
st.title("My account")

page = account_page(actor)
names = page.service_names

st.markdown(f"**Name:** {escape_markdown(actor.display_name)}  \n"
            f"**Username:** `{actor.username}`  \n"
            f"**Roles:** {', '.join(sorted(r.label for r in actor.roles))}")
if actor.service_ids is None:
    st.markdown("**Services:** every service (your role covers the whole provider)")
elif actor.service_ids:
    listed = ", ".join(sorted(escape_markdown(names.get(i, "?")) for i in actor.service_ids))
    st.markdown(f"**Services:** {listed}")
else:
    st.markdown("**Services:** none yet. Ask an administrator to add yours.")

st.subheader("Change password")
errors = st.session_state.pop("account_errors", {})
with st.form("change_password", clear_on_submit=False):
    current = st.text_input("Current password", type="password", key="account_current",
                            autocomplete="current-password")
    if errors.get("current_password"):
        st.error(escape_markdown(errors["current_password"]))
    new = st.text_input("New password", type="password", key="account_new",
                        autocomplete="new-password",
                        help=f"At least {settings().sign_in.min_password_length} characters.")
    if errors.get("new_password"):
        st.error(escape_markdown(errors["new_password"]))
    repeat = st.text_input("New password again", type="password", key="account_repeat",
                           autocomplete="new-password")
    if errors.get("repeat"):
        st.error(escape_markdown(errors["repeat"]))
    submitted = st.form_submit_button("Change password", type="primary")

if submitted:
    if new != repeat:
        st.session_state["account_errors"] = {"repeat": "The two new passwords differ."}
        st.rerun()
    try:
        change_password(UnitOfWork(), actor, current, new)
    except ValidationFailed as exc:
        st.session_state["account_errors"] = exc.errors
        st.rerun()
    except StorageUnavailable as exc:
        st.error(escape_markdown(str(exc)))
    else:
        st.success("Your password has been changed.")
        page = account_page(actor)  # read again after the change, as the notices below were

# Why a sign-in was refused is never said on the sign-in form (it would help a guesser); it
# is told here (and by email when email is set up): to the account's owner, and to
# administrators about every account.
st.subheader("Sign-in notices")
notices = page.notices
if not notices:
    st.caption("None. Refused or slowed-down sign-ins to your account would be explained here.")
unread_notices = [n.id for n in notices if not n.read]
if unread_notices:
    st.button(f"Mark {len(unread_notices)} as read", key="account_notices_read",
              on_click=lambda: mark_read(UnitOfWork(), actor, unread_notices, now=utcnow()))
for notice in notices:
    with st.container(border=True):
        st.caption(("New · " if not notice.read else "") + local(notice.created_at))
        st.text(notice.title)  # names and addresses typed by others: text, never Markdown
        st.text(notice.body)
