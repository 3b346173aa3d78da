"""Users and roles (administrators): add people, set their roles and services, disable them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.accounts.users import NewUser, add_user, set_user_active, update_user_access
from core.auth.roles import Role
from core.clock import utcnow
from core.config import settings
from core.errors import DomainError, ValidationFailed
from core.uow import UnitOfWork
from core.views.admin import users_page
from ui.accessibility import answers_summary, field_message, mark_invalid_fields
from ui.session import current_actor
from ui.text import escape_markdown

actor = current_actor()
st.title("Users and roles")

page = users_page(now=utcnow())
users, services, groups = list(page.users), list(page.services), list(page.staff_groups)

role_ids = [r.value for r in Role]
role_label = {r.value: r.label for r in Role}

st.dataframe(
    pd.DataFrame({
        "Username": [u.username for u in users],
        "Name": [u.display_name for u in users],
        "Roles": [", ".join(role_label.get(r, r) for r in u.roles) for u in users],
        "Services": [", ".join(u.services) or "all (role-wide)" for u in users],
        "Staff group": [u.staff_group or "" for u in users],
        "Status": [("active" if u.active else "disabled")
                   + (", sign-in paused" if u.sign_in_paused else "") for u in users],
    }),
    hide_index=True, width="stretch",
)

add_tab, access_tab = st.tabs(["Add a user", "Change access"])
ADD_SUMMARY = "users_add_error_summary"
ADD_REFUSALS = "users_add_refusals"  # refused adds so far: each one focuses the summary again
# The add form's answers by the names core's checks use, as their fields and the summary name
# them.
ADD_FIELDS = {"username": ("users_add_username", "Username"),
              "display_name": ("users_add_name", "Full name"),
              "email": ("users_add_email", "Email (optional, for notifications)"),
              "password": ("users_add_password", "First password"),
              "roles": ("users_add_roles", "Roles"),
              "services": ("users_add_services", "Services")}


def _add_error(add_errors: dict[str, str], name: str) -> None:
    """The answer's message, beside it (text, not an alert of its own)."""
    field_message(ADD_FIELDS[name][0], add_errors.get(name))


with add_tab:
    add_errors: dict[str, str] = st.session_state.get("users_add_errors", {})
    if add_errors:
        answers_summary(ADD_SUMMARY, "Not added yet",
                        [ADD_FIELDS[n][1] if n in ADD_FIELDS else n for n in add_errors])
    with st.form("add_user"):
        username = st.text_input("Username", key="users_add_username")
        _add_error(add_errors, "username")
        name = st.text_input("Full name", key="users_add_name")
        _add_error(add_errors, "display_name")
        email = st.text_input("Email (optional, for notifications)", key="users_add_email")
        _add_error(add_errors, "email")
        password = st.text_input(
            "First password", type="password", key="users_add_password",
            help=f"At least {settings().sign_in.min_password_length} characters; "
                 "the person can change it under My account.")
        _add_error(add_errors, "password")
        roles = st.multiselect("Roles", role_ids, format_func=role_label.get,
                               key="users_add_roles")
        _add_error(add_errors, "roles")
        chosen_services = st.multiselect(
            "Services", services, key="users_add_services",
            help="Frontline workers and supervisors see only these services.")
        _add_error(add_errors, "services")
        group = st.selectbox("Staff group", groups, index=None, key="users_add_group")
        submitted = st.form_submit_button("Add user", type="primary", key="users_add_submit")
    if add_errors:
        mark_invalid_fields([ADD_FIELDS[n][0] for n in add_errors if n in ADD_FIELDS],
                            summary_key=ADD_SUMMARY,
                            attempt=str(st.session_state.get(ADD_REFUSALS, 0)))
    if submitted:
        try:
            add_user(UnitOfWork(), actor, NewUser(
                username=username, display_name=name, password=password, roles=tuple(roles),
                services=tuple(chosen_services), email=email or None, staff_group=group),
                now=utcnow(), rules=settings())
        except ValidationFailed as exc:
            st.session_state["users_add_errors"] = exc.errors
            st.session_state[ADD_REFUSALS] = st.session_state.get(ADD_REFUSALS, 0) + 1
            st.rerun()
        except DomainError as exc:
            st.error(escape_markdown(str(exc)))
        else:
            st.session_state.pop("users_add_errors", None)
            st.success(f"User {escape_markdown(username.strip().lower())} added.")

with access_tab:
    usernames = [u.username for u in users]
    chosen = st.selectbox("User", usernames, index=None, key="users_access_user",
                          placeholder="Choose a user")
    if chosen:
        current = next(u for u in users if u.username == chosen)
        with st.form(f"access_{chosen}"):
            new_roles = st.multiselect("Roles", role_ids, default=list(current.roles),
                                       format_func=role_label.get)
            new_services = st.multiselect("Services", services,
                                          default=[s for s in current.services if s in services])
            save = st.form_submit_button("Save roles and services", type="primary")
        if save:
            try:
                update_user_access(UnitOfWork(), actor, chosen, roles=tuple(new_roles),
                                   services=tuple(new_services), now=utcnow())
            except DomainError as exc:
                st.error(escape_markdown(str(exc)))
            else:
                st.success(f"Access of {escape_markdown(chosen)} updated.")
                st.rerun()
        label = "Disable this user" if current.active else "Enable this user"
        if st.button(label, key=f"toggle_{chosen}"):
            try:
                set_user_active(UnitOfWork(), actor, chosen, not current.active, now=utcnow())
            except DomainError as exc:
                st.error(escape_markdown(str(exc)))
            else:
                st.rerun()
        if not current.active:
            st.caption("Disabled users cannot sign in; their open sessions ended when they "
                       "were disabled.")
