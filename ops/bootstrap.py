"""Bring a database to a usable state: schema migrated, audit trail signed, taxonomy loaded,
demo users if demo."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.attachments.storage import attachments_dir, tighten_store
from core.audit.keys import signing_key
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import environment, settings
from core.db import engine_for
from core.integrity.seal import Sealed, seal_trail, trail_is_unkeyed
from core.migrate import upgrade_to_head
from core.reports.rollup import ensure_built
from core.taxonomy.service import SyncResult, load_taxonomy_file, sync_taxonomy
from core.uow import UnitOfWork


@dataclass(frozen=True)
class InitResult:
    database_url: str
    taxonomy: SyncResult
    sealed: Sealed | None = None


def initialise(database_url: str | None = None, *, taxonomy_path: Path | None = None) -> InitResult:
    """Migrate to head, sign the audit trail's end with the current key (sealing the legacy
    events on the upgrade that introduces the key, re-signing after a key rotation), sync the
    taxonomy file and build the day counts (core/reports/rollup.py) for the zone's days.
    Safe to run again and again.

    Refuses before touching the database when there is no audit key (outside demo mode).
    """
    env = environment()
    url = database_url or env.database_url
    spec = load_taxonomy_file(taxonomy_path or env.taxonomy_path)  # fail before touching the DB
    signing_key()
    engine = engine_for(url)
    unkeyed = trail_is_unkeyed(engine)
    upgrade_to_head(url)
    sealed = seal_trail(engine, trust_unsigned=unkeyed, now=utcnow())
    result = sync_taxonomy(UnitOfWork(engine), spec, SYSTEM, now=utcnow())
    ensure_built(engine, settings().zone)  # the day counts, for this zone's days
    tighten_store(attachments_dir())  # evidence kept by an older release: private now too
    return InitResult(url, result, sealed)
