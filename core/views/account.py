"""My account: the names of my services, and the notices about sign-ins to my account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.accounts.service import NOTICE_KIND
from core.auth.actor import Actor
from core.db import read_session
from core.escalation.queries import NotificationItem, notifications_for
from core.organisation.queries import service_names

NOTICES_SHOWN = 10


@dataclass(frozen=True, slots=True)
class AccountPage:
    service_names: Mapping[int, str]
    notices: tuple[NotificationItem, ...]


def account_page(actor: Actor) -> AccountPage:
    """The actor's services by name and their latest sign-in notices, newest first."""
    with read_session() as session:
        return AccountPage(
            service_names=service_names(session),
            notices=tuple(notifications_for(session, actor, limit=NOTICES_SHOWN,
                                            kind=NOTICE_KIND)))
