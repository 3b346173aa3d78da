"""Checks and one-off preparation when the app process starts (cached per process)."""

from __future__ import annotations

import gc

import streamlit as st
from sqlalchemy.exc import OperationalError

from core.accounts.users import ensure_demo_users
from core.audit.keys import audit_key_problem
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import cookie_key_problem, environment, settings
from core.db import get_engine
from core.errors import DomainError
from core.migrate import schema_is_current
from core.taxonomy.service import load_taxonomy_file, sync_taxonomy
from core.uow import UnitOfWork
from core.yamlfile import ConfigFileError


def configured_cookie_key() -> str | None:
    """The cookie key from .streamlit/secrets.toml (cookie_key) or NEARMISS_COOKIE_KEY."""
    try:
        value = st.secrets.get("cookie_key")
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        value = None
    return value if value is not None else environment().cookie_key


@st.cache_resource(show_spinner="Preparing the portal…")
def _prepare(database_url: str, taxonomy_path: str, taxonomy_mtime: float, demo: bool) -> str:
    """Validate the taxonomy, check the schema, sync the taxonomy, create demo users.

    Returns a problem to show, or "" when all is well. Cached per file version, so editing
    the taxonomy file takes effect on the next page load.
    """
    try:
        spec = load_taxonomy_file(taxonomy_path)
    except ConfigFileError as exc:
        return f"The taxonomy file is malformed, so the portal cannot start.\n\n{exc}"
    engine = get_engine()
    if not schema_is_current(engine):
        return ("The database schema is not up to date. Run `nearmiss init` "
                "(or `make run`) to migrate it.")
    sync_taxonomy(UnitOfWork(engine), spec, SYSTEM, now=utcnow())
    if demo:
        from ops.demo import DEMO_SERVICES_BY_ROLE

        ensure_demo_users(services=DEMO_SERVICES_BY_ROLE, now=utcnow(), rules=settings())
    return ""


_long_lived_frozen = False


def _freeze_long_lived_objects() -> None:
    """Once per process, once the portal is ready: move every object alive now (the modules,
    classes and functions of Streamlit, SQLAlchemy, pandas, plotly and the portal, about
    270,000) out of the collector's view. They live as long as the process, and each full
    collection scanned them all again: the evidence page's cold figures at a million
    reports went from 0.89 s to 0.75 s (bench/RESULTS.md). Objects made later, and any
    garbage they make, are collected as before."""
    global _long_lived_frozen
    if not _long_lived_frozen:
        _long_lived_frozen = True
        gc.collect()
        gc.freeze()


def startup_problem() -> str | None:
    """Why the portal cannot serve pages right now, or None."""
    env = environment()
    problem = cookie_key_problem(env, configured_cookie_key()) or audit_key_problem()
    if problem:
        return problem
    try:
        mtime = env.taxonomy_path.stat().st_mtime
    except FileNotFoundError:
        return f"The taxonomy file {env.taxonomy_path} is missing, so the portal cannot start."
    try:
        problem = _prepare(env.database_url, str(env.taxonomy_path), mtime, env.is_demo)
    except DomainError as exc:  # e.g. an audit trail whose end is not signed
        return str(exc)
    except OperationalError:
        return ("The database cannot be reached. Check NEARMISS_DATABASE_URL and that the "
                "database server is running, then reload the page.")
    if problem:
        return problem
    _freeze_long_lived_objects()
    return None
