"""Load the taxonomy file, sync it into the database, and read the live taxonomy back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.errors import NotFound
from core.taxonomy.models import NearMissType, NearMissTypeVersion, TaxonomyList
from core.taxonomy.schema import NearMissTypeSpec, Option, TaxonomySpec
from core.uow import UnitOfWork
from core.yamlfile import parse_model, read_config_text

LIST_NAMES = ("interface_flags", "contributing_factors", "safeguarding_signals")


def load_taxonomy_file(path: Path | str) -> TaxonomySpec:
    """Read and validate the taxonomy file; ConfigFileError names the bad key and line."""
    path = Path(path)
    return _taxonomy_of(path, read_config_text(path))


@lru_cache(maxsize=8)
def _taxonomy_of(path: Path, text: str) -> TaxonomySpec:
    """The taxonomy a file's text describes, parsed once per process for each text (the spec
    is frozen, so one is shared): the start-up check reads the file on each server start, and
    the tests' page runs start a server each."""
    return parse_model(path, text, TaxonomySpec)


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class SyncResult:
    """What a sync changed (empty lists: the database already matched the file)."""

    added: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)
    lists_changed: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)  # file matches an admin's version

    @property
    def changed(self) -> bool:
        return bool(self.added or self.new_versions or self.lists_changed or self.adopted)


def sync_taxonomy(uow: UnitOfWork, spec: TaxonomySpec, actor: Actor, *,
                  now: datetime) -> SyncResult:
    """Bring the database in line with the taxonomy file.

    A type whose file definition is new gets a new version; a definition already synced once
    (even if an admin edited the type since) is left alone, so restarting never undoes edits.
    """
    result = SyncResult()
    with uow:
        session = uow.session
        for position, type_spec in enumerate(spec.types):
            definition = type_spec.model_dump(mode="json")
            digest = _hash(definition)
            existing = session.get(NearMissType, type_spec.key)
            if existing is None:
                session.add(NearMissType(key=type_spec.key, name=type_spec.name, position=position,
                                         active=type_spec.active, current_version=1))
                session.flush()
                session.add(NearMissTypeVersion(type_key=type_spec.key, version=1,
                                                definition=definition, file_hash=digest,
                                                created_at=now, created_by=actor.username))
                result.added.append(type_spec.key)
                continue
            known = session.scalars(
                select(NearMissTypeVersion.file_hash).where(
                    NearMissTypeVersion.type_key == type_spec.key)
            ).all()
            existing.position = position
            if digest in known:
                continue
            current = session.scalar(select(NearMissTypeVersion).where(
                NearMissTypeVersion.type_key == type_spec.key,
                NearMissTypeVersion.version == existing.current_version))
            if current is not None and _hash(current.definition) == digest:
                # The file now says what the database already has (an admin exported the
                # taxonomy into the file): remember that, without a new version.
                current.file_hash = digest
                result.adopted.append(type_spec.key)
                continue
            latest = session.scalar(
                select(NearMissTypeVersion.version).where(
                    NearMissTypeVersion.type_key == type_spec.key
                ).order_by(NearMissTypeVersion.version.desc()).limit(1)
            ) or 0
            session.add(NearMissTypeVersion(type_key=type_spec.key, version=latest + 1,
                                            definition=definition, file_hash=digest,
                                            created_at=now, created_by=actor.username))
            existing.current_version = latest + 1
            existing.name = type_spec.name
            existing.active = type_spec.active
            result.new_versions.append(f"{type_spec.key} v{latest + 1}")
        for name in LIST_NAMES:
            items = [o.model_dump(mode="json") for o in getattr(spec, name)]
            digest = _hash(items)
            row = session.get(TaxonomyList, name)
            if row is None:
                session.add(TaxonomyList(name=name, items=items, file_hash=digest))
                result.lists_changed.append(name)
            elif row.file_hash != digest:
                row.items, row.file_hash = items, digest
                result.lists_changed.append(name)
        if result.changed:
            uow.record(actor, "taxonomy.synced", "taxonomy", None, after={
                "added": result.added, "new_versions": result.new_versions,
                "lists_changed": result.lists_changed, "adopted": result.adopted,
            }, at=now)
            uow.commit()
        else:
            uow.rollback()
    return result


def live_taxonomy(session: Session) -> TaxonomySpec:
    """The taxonomy as the database holds it now (current version of every type)."""
    # The stored JSON is read as text and each template validated once per process: a
    # version is never changed, and validating every template took a quarter of each filing.
    rows = session.execute(
        select(cast(NearMissTypeVersion.definition, Text), NearMissType.active)
        .join(NearMissType, (NearMissType.key == NearMissTypeVersion.type_key)
              & (NearMissType.current_version == NearMissTypeVersion.version))
        .order_by(NearMissType.position, NearMissType.key)
    ).all()
    types = [_type_spec(definition, bool(active)) for definition, active in rows]
    lists = {name: _options(items) for name, items in session.execute(
        select(TaxonomyList.name, cast(TaxonomyList.items, Text)))}
    if not types:
        raise NotFound("The taxonomy has not been loaded yet: run `nearmiss init`.")
    return TaxonomySpec(
        types=tuple(types),
        interface_flags=lists.get("interface_flags", ()),
        contributing_factors=lists.get("contributing_factors", ()),
        safeguarding_signals=lists.get("safeguarding_signals", ()),
    )


@lru_cache(maxsize=512)
def _type_spec(definition: str, active: bool) -> NearMissTypeSpec:
    """A stored template (JSON text), validated; the specs are frozen, so one is shared."""
    return NearMissTypeSpec.model_validate({**json.loads(definition), "active": active})


@lru_cache(maxsize=64)
def _options(items: str) -> tuple[Option, ...]:
    return tuple(Option.model_validate(item) for item in json.loads(items))


def type_version(session: Session, type_key: str, version: int) -> NearMissTypeSpec:
    """The exact template a report was filed (or reviewed) against."""
    definition = session.scalar(
        select(NearMissTypeVersion.definition).where(
            NearMissTypeVersion.type_key == type_key, NearMissTypeVersion.version == version)
    )
    if definition is None:
        raise NotFound(f"No template {type_key} version {version}.")
    return NearMissTypeSpec.model_validate(definition)
