"""Reference data every near miss points at."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base


class Region(Base):
    """A group of services (cluster rules look across a region)."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)


class Service(Base):
    """A care service: a home care branch, a community residence, an HCBS programme."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    kind: Mapped[str] = mapped_column(String(60), default="home care")
    active: Mapped[bool] = mapped_column(default=True)

    region: Mapped[Region | None] = relationship()


class Location(Base):
    """A place within a service where near misses happen (a room, a home, a vehicle)."""

    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("service_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    active: Mapped[bool] = mapped_column(default=True)


class Route(Base):
    """A home care run or transport route within a service."""

    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("service_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)


class StaffGroup(Base):
    """A staff group: DSP, home care worker, nurse, scheduler, coordinator, ..."""

    __tablename__ = "staff_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # Which near-miss cues guide suits this group (care_worker, supervisor, nurse, scheduler).
    cue_guide: Mapped[str] = mapped_column(String(40), default="care_worker")


class PersonSupported(Base):
    """A person receiving care, known here by the provider's local reference.

    The name is optional and is shown only to the provider's own roles, never to
    commissioners or in exports.
    """

    __tablename__ = "people_supported"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    local_ref: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(160))
    active: Mapped[bool] = mapped_column(default=True)
