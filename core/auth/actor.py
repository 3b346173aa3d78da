"""Who is acting: the signed-in user as the services see them."""

from __future__ import annotations

from dataclasses import dataclass

from core.auth.roles import Role


@dataclass(frozen=True)
class Actor:
    """A user acting through the portal or the command line.

    `service_ids` is None for a user whose role covers every service (e.g. quality lead);
    otherwise the services the user is assigned to.
    """

    user_id: int | None
    username: str
    display_name: str
    roles: frozenset[Role]
    service_ids: frozenset[int] | None
    staff_group_id: int | None = None
    email: str | None = None
    language: str = "en"  # their chosen language (core.i18n)

    def has(self, role: Role) -> bool:
        return role in self.roles

    def lens(self) -> tuple[tuple[str, ...], tuple[int, ...] | None]:
        """What the governance and evidence figures depend on of who views them: their roles
        (what they may see) and their services (where). Those figures read no one's own
        data, so everyone with one lens sees the same figures, and the pages' caches are keyed
        by it rather than by the person: a meeting of twenty leads computes a figure once."""
        return (tuple(sorted(role.value for role in self.roles)),
                None if self.service_ids is None else tuple(sorted(self.service_ids)))

    def covers_service(self, service_id: int | None) -> bool:
        if self.service_ids is None:
            return True
        return service_id is not None and service_id in self.service_ids


# The command line and start-up tasks act as the system (every write is still audited).
SYSTEM = Actor(
    user_id=None, username="system", display_name="System", roles=frozenset(Role), service_ids=None
)

# Someone at the sign-in form who has not proved who they are (e.g. a wrong password): the
# username they typed goes in the event's details, never as its actor.
UNAUTHENTICATED = Actor(
    user_id=None, username="not signed in", display_name="Not signed in", roles=frozenset(),
    service_ids=frozenset(),
)
