"""Errors the services raise; the UI turns them into messages beside the right field."""

from __future__ import annotations

from collections.abc import Mapping

from core.i18n import N_

NUL_MESSAGE = N_("Remove the invisible NUL character: it cannot be stored.")


def has_nul(*values: object) -> bool:
    """Whether any text contains NUL, which PostgreSQL cannot store or even compare."""
    return any(isinstance(value, str) and "\x00" in value for value in values)


class DomainError(Exception):
    """A request the domain refuses, with a message a user can act on."""


class ValidationFailed(DomainError):
    """One or more fields are invalid; `errors` maps field name to a message for that field."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


class PermissionDenied(DomainError):
    """The actor's role or services do not allow this."""


class NotFound(DomainError):
    """The record does not exist, or is outside the actor's scope (we do not say which)."""


class ConflictError(DomainError):
    """Someone else changed the record first; reload and try again."""


class StorageUnavailable(DomainError):
    """The database could not be reached or stayed locked: nothing was saved."""
