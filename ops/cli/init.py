"""`nearmiss init`: create or upgrade the database and load the taxonomy."""

from __future__ import annotations

from core.clock import utcnow
from core.config import environment, settings
from ops.cli.common import guard, safe_url, say


def init() -> None:
    """Create or upgrade the database schema and load data/taxonomy.yaml into it.

    Safe to run again after every upgrade or taxonomy edit. With NEARMISS_ENV=demo it also
    creates one demo user per role.
    """
    from ops.bootstrap import initialise

    env = environment()
    with guard():
        # initialise() reads the taxonomy file before it touches the database.
        result = initialise()
        say(f"Database ready at {safe_url(result.database_url)} (schema up to date).")
        if result.sealed is not None:
            say(f"Audit trail sealed: its {result.sealed.events_before} events (last signed "
                f"with {result.sealed.previous_key_id!r}) are now followed by an event signed "
                f"with the audit key {result.sealed.key_id!r}.")
        sync = result.taxonomy
        if sync.changed:
            parts = []
            if sync.added:
                parts.append(f"{len(sync.added)} types added")
            if sync.new_versions:
                parts.append("new versions: " + ", ".join(sync.new_versions))
            if sync.lists_changed:
                parts.append("lists updated: " + ", ".join(sync.lists_changed))
            say(f"Taxonomy loaded from {env.taxonomy_path}: " + "; ".join(parts) + ".")
        else:
            say(f"Taxonomy unchanged ({env.taxonomy_path}).")
        if env.is_demo:
            _demo_users(result.database_url)


def _demo_users(database_url: str) -> None:
    from core.accounts.users import DEMO_PASSWORD, ensure_demo_users
    from core.db import engine_for
    from core.uow import UnitOfWork

    engine = engine_for(database_url)
    created = ensure_demo_users(lambda: UnitOfWork(engine), now=utcnow(), rules=settings())
    if created:
        say(f"Demo users created: {', '.join(created)} (password: {DEMO_PASSWORD}).")
    else:
        say("Demo users already exist.")
