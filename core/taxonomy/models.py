"""Taxonomy tables: each near-miss type keeps every version of its template."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class NearMissType(Base):
    """A near-miss type; `current_version` is the template new reports use."""

    __tablename__ = "near_miss_types"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    current_version: Mapped[int] = mapped_column(default=1)


class NearMissTypeVersion(Base):
    """One version of a type's template (fields, gates, validation items), never changed."""

    __tablename__ = "near_miss_type_versions"
    __table_args__ = (UniqueConstraint("type_key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type_key: Mapped[str] = mapped_column(ForeignKey("near_miss_types.key"))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]]
    # Hash of the definition as read from taxonomy.yaml (None when edited in the admin page).
    file_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))


class TaxonomyList(Base):
    """The taxonomy's shared lists: interface flags, contributing factors, safeguarding signals."""

    __tablename__ = "taxonomy_lists"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    items: Mapped[list[Any]]
    file_hash: Mapped[str | None] = mapped_column(String(64))
