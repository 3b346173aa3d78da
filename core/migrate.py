"""Run the Alembic migrations from code (`nearmiss init`, tests, app start-up checks)."""

from __future__ import annotations

from functools import lru_cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from core.config import PROJECT_ROOT, environment


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url or environment().database_url
    return config


def upgrade_to_head(database_url: str | None = None) -> None:
    """Bring the database schema to the newest migration."""
    command.upgrade(alembic_config(database_url), "head")


def upgrade_in(connection: Connection, revision: str = "head") -> None:
    """Migrate to `revision` inside the caller's transaction (a restore commits all or nothing)."""
    config = alembic_config(connection.engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration's revision (read once per process: the scripts do not change
    under a running portal, and every page run's start-up check asks)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_is_current(engine: Engine) -> bool:
    """Whether the database has been migrated to the code's newest schema."""
    return current_revision(engine) == head_revision()
