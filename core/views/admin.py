"""Administrators' pages: users and roles, the cues guides, the taxonomy editor.

The page policy (core.auth.policy.PAGES) lets only administrators open these pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core.accounts.users import UserSummary, list_users
from core.db import read_session
from core.feedback.cues import CueGuide, all_guides
from core.organisation.queries import service_names, staff_group_names
from core.taxonomy.admin import EditableType, TypeVersionInfo, editable_types, taxonomy_as_yaml
from core.taxonomy.admin import type_versions as stored_versions


@dataclass(frozen=True, slots=True)
class UsersPage:
    """Every user with roles and services; the service and staff-group names to choose from."""

    users: tuple[UserSummary, ...]
    services: tuple[str, ...]
    staff_groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TaxonomyPage:
    """Every type with its current version (by key), and the taxonomy as a YAML file."""

    types: Mapping[str, EditableType]
    yaml_text: str


def users_page(*, now: datetime) -> UsersPage:
    with read_session() as session:
        return UsersPage(users=tuple(list_users(session, now=now)),
                         services=tuple(sorted(service_names(session).values())),
                         staff_groups=tuple(staff_group_names(session)))


def cue_guides() -> tuple[CueGuide, ...]:
    """Every cues guide, in the order of core.feedback.cues.GUIDES."""
    with read_session() as session:
        return tuple(all_guides(session))


def taxonomy_page(*, now: datetime) -> TaxonomyPage:
    with read_session() as session:
        return TaxonomyPage(types={item.spec.key: item for item in editable_types(session)},
                            yaml_text=taxonomy_as_yaml(session, now=now))


def type_versions(key: str) -> tuple[TypeVersionInfo, ...]:
    """The saved versions of a type, newest first."""
    with read_session() as session:
        return tuple(stored_versions(session, key))
