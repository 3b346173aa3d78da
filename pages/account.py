"""My account: who I am here, what I can see, and changing my password."""

from __future__ import annotations

import streamlit as st

from core.auth.service import change_password
from core.config import settings
from core.db import read_session
from core.errors import StorageUnavailable, ValidationFailed
from core.organisation.queries import service_names
from core.uow import UnitOfWork
from ui.session import current_actor
from ui.text import escape_markdown

actor = current_actor()
st.title("My account")

with read_session() as session:
    names = service_names(session)

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
