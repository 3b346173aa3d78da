"""Bring a database to a usable state: schema migrated, taxonomy loaded, demo users if demo."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.auth.actor import SYSTEM
from core.config import environment
from core.db import engine_for
from core.migrate import upgrade_to_head
from core.review.attachments import attachments_dir, tighten_store
from core.taxonomy.service import SyncResult, load_taxonomy_file, sync_taxonomy
from core.uow import UnitOfWork


@dataclass(frozen=True)
class InitResult:
    database_url: str
    taxonomy: SyncResult


def initialise(database_url: str | None = None, *, taxonomy_path: Path | None = None) -> InitResult:
    """Migrate to head and sync the taxonomy file. Safe to run again and again."""
    env = environment()
    url = database_url or env.database_url
    spec = load_taxonomy_file(taxonomy_path or env.taxonomy_path)  # fail before touching the DB
    upgrade_to_head(url)
    result = sync_taxonomy(UnitOfWork(engine_for(url)), spec, SYSTEM)
    tighten_store(attachments_dir())  # evidence kept by an older release: private now too
    return InitResult(url, result)
