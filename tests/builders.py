"""A small provider for tests: two regions, two services, places, people and one user per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, select

from core.accounts.service import build_actor
from core.accounts.users import NewUser, add_user
from core.auth.actor import SYSTEM, Actor
from core.auth.models import User
from core.auth.passwords import hash_password
from core.clock import to_local, utcnow
from core.config import settings
from core.db import read_session
from core.organisation import service as org
from core.reports.drafts import NearMissDraft
from core.uow import UnitOfWork

PASSWORD = "correct-horse-battery"
PASSWORD_HASH = hash_password(PASSWORD, rounds=4)


@dataclass
class Org:
    maple: int
    oak: int
    east: int
    east_home: int
    maple_bathroom: int
    maple_kitchen: int
    oak_lounge: int
    maple_route: int
    oak_route: int
    maple_person: int
    oak_person: int
    dsp_group: int
    nurse_group: int
    actors: dict[str, Actor]

    def actor(self, username: str) -> Actor:
        return self.actors[username]


USERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("reporter", "reporter", ("Maple House",)),
    ("supervisor", "supervisor", ("Maple House",)),
    ("oak_supervisor", "supervisor", ("Oak Lodge",)),
    ("safeguarding", "safeguarding", ()),
    ("clinical", "clinical", ()),
    ("operations", "operations", ()),
    ("quality", "quality", ()),
    ("governance", "governance", ()),
    ("commissioner", "commissioner", ()),
    ("admin", "admin", ()),
)


def build_org(engine: Engine) -> Org:
    """Create the test provider through the real services (so it is audited too)."""
    with UnitOfWork(engine) as uow:
        maple = org.get_or_create_service(uow, SYSTEM, "Maple House", region="South",
                                          kind="community residential", now=utcnow())
        oak = org.get_or_create_service(uow, SYSTEM, "Oak Lodge", region="North",
                                        kind="community residential", now=utcnow())
        east = org.get_or_create_service(uow, SYSTEM, "Eastside Home Care", region="North",
                                         now=utcnow())
        ids = {
            "maple": maple,
            "oak": oak,
            "east": east,
            "east_home": org.get_or_create_location(uow, SYSTEM, east, "Client home", now=utcnow()),
            "maple_bathroom": org.get_or_create_location(uow, SYSTEM, maple, "Bathroom doorway",
                                                         now=utcnow()),
            "maple_kitchen": org.get_or_create_location(uow, SYSTEM, maple, "Kitchen",
                                                        now=utcnow()),
            "oak_lounge": org.get_or_create_location(uow, SYSTEM, oak, "Lounge", now=utcnow()),
            "maple_route": org.get_or_create_route(uow, SYSTEM, maple, "Maple day trips",
                                                   now=utcnow()),
            "oak_route": org.get_or_create_route(uow, SYSTEM, oak, "Oak clinic runs", now=utcnow()),
            "maple_person": org.get_or_create_person(uow, SYSTEM, maple, "MH-01",
                                                     display_name="Alex Example", now=utcnow()),
            "oak_person": org.get_or_create_person(uow, SYSTEM, oak, "OL-07",
                                                   display_name="Jordan Sample", now=utcnow()),
            "dsp_group": org.get_or_create_staff_group(uow, SYSTEM, "Direct support professional",
                                                       now=utcnow()),
            "nurse_group": org.get_or_create_staff_group(uow, SYSTEM, "Nurse", cue_guide="nurse",
                                                         now=utcnow()),
        }
        uow.commit()
    for username, role, services in USERS:
        add_user(UnitOfWork(engine), SYSTEM, NewUser(
            username=username, display_name=username.replace("_", " ").title(),
            password=PASSWORD, roles=(role,), services=services,
            email=f"{username}@example.org",
        ), password_hash=PASSWORD_HASH, now=utcnow(), rules=settings())
    with read_session(engine) as session:
        actors = {u.username: build_actor(u,
                                          rules=settings()) for u in session.scalars(select(User))}
    return Org(actors=actors, **ids)


def local_now() -> datetime:
    return to_local(utcnow(), settings().zone).replace(second=0, microsecond=0)


def draft(org_: Org, **changes: object) -> NearMissDraft:
    """A valid near fall at Maple House's bathroom doorway; override any field."""
    values: dict[str, object] = {
        "description": "Walker slightly out of reach at the bathroom doorway; staff steadied her.",
        "type_key": "transfer_near_fall",
        "occurred_at": local_now(),
        "service_id": org_.maple,
        "location_id": org_.maple_bathroom,
        "barrier": "staff_recovery",
        "still_at_risk": False,
    }
    values.update(changes)
    return NearMissDraft(**values)  # type: ignore[arg-type]


def live_controls(engine: Engine, org_: Org, go_lives: list[date], *,
                  titles: list[str] | None = None) -> None:
    """Checklist actions going live on `go_lives`, on one plan that links a filed near miss
    (the first by reference): a chart's go-live markers to test with."""
    from datetime import timedelta

    from core.actions.models import Action
    from core.actions.service import ActionDraft, PlanDraft, create_plan
    from core.reports.models import NearMissReport

    quality = org_.actor("quality")
    with read_session(engine) as session:
        reference = session.scalars(select(NearMissReport.reference)
                                    .order_by(NearMissReport.reference)).first()
    today = local_now().date()
    create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Walker check", theme="Near falls", report_references=[reference or ""],
        actions=[ActionDraft(title="Walker check", kind="checklist", owner_id=quality.user_id,
                             deadline=today + timedelta(days=5),
                             review_date=today + timedelta(days=9), evidence_checks=["Card"],
                             verify_with_measure=False)]), now=utcnow(), rules=settings())
    with UnitOfWork(engine) as uow:
        template = uow.session.scalars(select(Action)).one()
        columns = {c.key: getattr(template, c.key) for c in Action.__table__.columns
                   if c.key not in ("id", "version_id")}
        for n, day in enumerate(go_lives):
            title = titles[n] if titles else f"Control {n}"
            uow.session.add(Action(**{**columns, "title": title, "status": "in_test",
                                      "go_live_date": day}))
        uow.record(SYSTEM, "test.controls_live", "action", None, at=utcnow())
        uow.commit()
