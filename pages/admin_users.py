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

with add_tab:
    add_errors: dict[str, str] = st.session_state.get("users_add_errors", {})
    with st.form("add_user"):
        username = st.text_input("Username", key="users_add_username")
        if add_errors.get("username"):
            st.error(escape_markdown(add_errors["username"]))
        name = st.text_input("Full name", key="users_add_name")
        if add_errors.get("display_name"):
            st.error(escape_markdown(add_errors["display_name"]))
        email = st.text_input("Email (optional, for notifications)", key="users_add_email")
        if add_errors.get("email"):
            st.error(escape_markdown(add_errors["email"]))
        password = st.text_input(
            "First password", type="password", key="users_add_password",
            help=f"At least {settings().sign_in.min_password_length} characters; "
                 "the person can change it under My account.")
        if add_errors.get("password"):
            st.error(escape_markdown(add_errors["password"]))
        roles = st.multiselect("Roles", role_ids, format_func=role_label.get,
                               key="users_add_roles")
        if add_errors.get("roles"):
            st.error(escape_markdown(add_errors["roles"]))
        chosen_services = st.multiselect(
            "Services", services, key="users_add_services",
            help="Frontline workers and supervisors see only these services.")
        if add_errors.get("services"):
            st.error(escape_markdown(add_errors["services"]))
        group = st.selectbox("Staff group", groups, index=None, key="users_add_group")
        submitted = st.form_submit_button("Add user", type="primary", key="users_add_submit")
    if submitted:
        try:
            add_user(UnitOfWork(), actor, NewUser(
                username=username, display_name=name, password=password, roles=tuple(roles),
                services=tuple(chosen_services), email=email or None, staff_group=group),
                now=utcnow(), rules=settings())
        except ValidationFailed as exc:
            st.session_state["users_add_errors"] = exc.errors
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
