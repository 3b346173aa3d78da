"""The roles of the portal (DOMAIN.md "Who uses the portal")."""

from __future__ import annotations

from enum import StrEnum

from core.i18n import N_


class Role(StrEnum):
    """A role's value is its id: the demo user of each role has this username."""

    REPORTER = "reporter"
    SUPERVISOR = "supervisor"
    SAFEGUARDING = "safeguarding"
    CLINICAL = "clinical"
    OPERATIONS = "operations"
    QUALITY = "quality"
    GOVERNANCE = "governance"
    COMMISSIONER = "commissioner"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {  # translated where shown
    Role.REPORTER: N_("Frontline worker"),
    Role.SUPERVISOR: N_("Supervisor"),
    Role.SAFEGUARDING: N_("Safeguarding lead"),
    Role.CLINICAL: N_("Clinical lead / nurse"),
    Role.OPERATIONS: N_("Operations lead"),
    Role.QUALITY: N_("Quality lead"),
    Role.GOVERNANCE: N_("Governance / leadership"),
    Role.COMMISSIONER: N_("Commissioner / funder"),
    Role.ADMIN: N_("Administrator"),
}


def parse_roles(values: list[str] | tuple[str, ...] | set[str]) -> frozenset[Role]:
    """Turn role ids into Roles, refusing unknown ones with the list of valid ids."""
    roles: set[Role] = set()
    for value in values:
        try:
            roles.add(Role(value.strip().lower()))
        except ValueError as exc:
            valid = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {value!r} (valid roles: {valid})") from exc
    return frozenset(roles)
