"""Realistic synthetic demo data: a small care provider and 18 months of its near misses.

`load_demo` builds a provider with two regions (North, South) and six services of different
kinds (community residences Maple House and Oak Lodge, the Eastside and Westside home care
branches with their runs, the Northgate day programme, Birchwood supported living), their
locations, routes, people supported (local references such as "MH-01", "EH-014"), staff groups,
one demo user per role, 36 synthetic frontline staff and four synthetic supervisors (so every
service has one). It then writes near misses of every taxonomy type, spread over the last
`months` months up to `now`, with what happened to them since (triage, escalations,
notifications), with bulk inserts in chunks so that a million reports load in minutes with flat
memory. The same seed and `now` give the same data (`generate_demo` is the pure generator;
`load_demo` only stores what it yields).

Planted patterns (the governance features must find them):

a. Late shift start cluster in one region. Background: about one "late_shift_start" near miss a
   month per region. On top, a cluster of 12-20+ (0.8% of the reports, at least 12) in the North
   region's services (Oak Lodge, Eastside Home Care, Northgate Day Programme) inside a 3-week
   window about 5-6 months before `now` (`late_start_cluster_window`): last-minute rota changes
   and nobody confirming cover, as in seed 2's operational example 3.
b. Repeated near falls at Maple House's "Bathroom doorway": a "transfer_near_fall" there every
   2-3 weeks through the whole period (about 31 over 18 months), most of them with the same
   person, MH-01, and nearly all stopped by staff recovery rather than a designed control (seed
   1's operational example 1: the service relies on staff vigilance).
c. Medication record mismatches rise, then fall after a control: "medication_discrepancy"
   reports whose capture field source_of_discrepancy is "Care plan vs family note". The weekly
   rate is low for the first third of the window, rises steadily (about six-fold) from month 6
   to month 12, and falls back to a low level within two weeks of the control going live at
   month 12 (`medication_control_go_live`, 6 months before `now` with the default 18 months);
   after it the designed control, not staff, is what mostly catches them.

d. An overdue safeguarding concern: one "safeguarding_rights" report filed a few hours before
   `now` whose escalation nobody has acknowledged, so the safeguarding lead's inbox and the
   board's red "escalation overdue" flag have something to show.

Planted counts scale with `reports` (each is capped at a tenth of the reports) and stay
detectable with as few as 500 reports; the rest follow a realistic type mix in which all
eleven taxonomy types appear.

What happened after filing (`generate_demo`, a seeded stream of its own, so it never changes
the reports a seed gives) is a provider that triages promptly:

- Flags as filing sets them: stop the line and safeguarding from the type's template; repeats
  (an earlier report of the type with the same person or place within the recurrence window;
  the bathroom doorway falls always) and the late-start cluster's members.
- Triage: every report older than `TRIAGE_BACKLOG_DAYS` is triaged, most within hours, some
  within a day or two, urgent ones at once; of the last few days' reports most still wait (the
  board's "New" column, 10-30 cards with the default 2,500 reports). Each triage has its
  TriageRecord (the four questions, the severity x recurrence matrix, the route as the triage
  proposal gives it) and a new -> triaged ReportTransition, by a supervisor of the service or
  an org-wide lead. Later stages are left to `_advance_after_triage`: reports stop at triaged.
- Escalations as filing (and a triage safeguarding answer) raise them, acknowledged by someone
  holding the role (about 7% late) and decided with a decision in the service's stored shape;
  the last day or two's may still be waiting. Notifications only for the last `NOTIFY_DAYS`.

Each chunk is one transaction with two audit events ("demo.reports_loaded" and
"demo.triage_loaded", with counts), so the audit chain stays short and verifiable.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import secrets
from bisect import bisect
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate, combinations
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Date, DateTime, Engine, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.actions.measures import MeasureFilters, evaluate, sustainment_date
from core.actions.models import (
    Action,
    ActionEvidenceCheck,
    ActionPlan,
    ActionPlanReport,
    ActivityCount,
    SustainmentCheck,
    VerificationMeasure,
)
from core.actions.vocabulary import KINDS_BY_KEY, ActionStatus
from core.auth.actor import SYSTEM
from core.auth.models import User, UserRole, UserService
from core.auth.passwords import hash_password
from core.auth.roles import Role
from core.auth.service import (
    DEMO_ACCOUNTS,
    NewUser,
    add_user,
    build_actor,
    ensure_demo_users,
    update_user_access,
)
from core.clock import to_local, to_utc, utcnow
from core.config import Settings, settings
from core.db import read_session, refresh_planner_statistics
from core.escalation.models import Escalation, Notification
from core.escalation.rules import EscalationKind, needs_for_new_report
from core.escalation.rules import due_at as escalation_due
from core.escalation.service import CLINICAL_REVIEW_WAYS
from core.feedback.models import (
    FeedbackUpdate,
    FeedbackUpdateAction,
    FeedbackUpdateReport,
    FeedbackUpdateRevision,
    FeedbackUpdateService,
)
from core.metrics.weeks import week_start_of
from core.organisation import service as org
from core.organisation.models import Location, PersonSupported, Region, Route, Service, StaffGroup
from core.reports.models import NearMissReport, ReferenceCounter
from core.reports.vocabulary import Barrier, ReportStatus
from core.review.models import (
    CommunicationDecision,
    GateCheck,
    Review,
    RootCauseAnalysis,
    RootCauseAnalysisReport,
    ValidationEvidence,
)
from core.taxonomy.models import NearMissType
from core.taxonomy.schema import NearMissTypeSpec, TaxonomySpec
from core.taxonomy.service import live_taxonomy
from core.triage.episodes import recompute_episodes
from core.triage.matrix import review_level
from core.triage.models import ReportTransition, TriageRecord
from core.triage.vocabulary import Recurrence, ReviewLevel, Severity
from core.triage.vocabulary import Route as TriageRoute
from core.uow import UnitOfWork

DEMO_SOURCE = "demo"
DEFAULT_REPORTS = 2_500
DEFAULT_MONTHS = 18
CHUNK_SIZE = 5_000
DAYS_PER_MONTH = 365.25 / 12

# The planted patterns, by name, so tests and the README point at the same things.
LATE_START_REGION = "North"
LATE_START_CLUSTER_DAYS = 21
BATHROOM_SERVICE = "Maple House"
BATHROOM_LOCATION = "Bathroom doorway"
REPEAT_FALLER_REF = "MH-01"
FAMILY_NOTE_SOURCE = "Care plan vs family note"
FAMILY_NOTE_SETTLE_DAYS = 3  # the family-note check takes effect within days of going live

RESIDENTIAL = "community residential"
HOME_CARE = "home care"
DAY_PROGRAMME = "day programme"
SUPPORTED_LIVING = "supported living"


# ---------------------------------------------------------------------------------------------
# The demo provider's shape
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceSpec:
    """A location as the demo plans it: its name, how a worker says it, what kind of place."""

    name: str
    phrase: str  # "at the bathroom doorway": how a reporter names it in a sentence
    tags: frozenset[str]


@dataclass(frozen=True)
class PersonSpec:
    """A person supported as the demo plans them (names are made up)."""

    ref: str
    name: str | None
    pronoun: str  # "he", "she" or "they"
    needs: float  # relative share of near misses involving them (higher support needs)
    run: int  # which day run of a home care branch visits them


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    region: str
    kind: str
    volume: float  # relative share of the provider's near misses
    places: tuple[PlaceSpec, ...]
    routes: tuple[str, ...]  # for home care: the day runs, then the evening run
    people: tuple[PersonSpec, ...]


@dataclass(frozen=True)
class StaffSpec:
    """A synthetic frontline worker: role reporter, an unusable password."""

    username: str
    display_name: str
    group: str
    services: tuple[str, ...]
    keenness: float  # some people report far more than others


def _place(name: str, phrase: str, tags: str) -> PlaceSpec:
    return PlaceSpec(name, phrase, frozenset(tags.split()))


_HE = ("Arthur", "Dev", "Tomasz", "Kwame", "Luis", "Harold", "Ibrahim", "Connor", "Wei", "Malik",
       "Percy", "Rhys", "Otis", "Yusuf", "Frank", "Jamal", "Ken", "Declan")
_SHE = ("Maureen", "Priya", "Edith", "Grace", "Rosa", "Aisha", "Niamh", "Joan", "Mei", "Beatrice",
        "Fatima", "Ivy", "Lorna", "Zainab", "Hilda", "Carmen", "Agnes", "Sunita")
_THEY = ("Alex", "Jordan", "Sam", "Robin", "Charlie", "Frankie", "Rowan", "Kai")
_INITIALS = "ABCDEFGHJKLMNOPRSTW"
_PRONOUN_CYCLE = ("he", "she", "she", "he", "they", "she", "he")


def _people(prefix: str, count: int, width: int, *, named: bool | int = True,
            runs: int = 1, offset: int = 0) -> tuple[PersonSpec, ...]:
    """People of a service: prefix-01.. with made-up names ("Arthur P."), some with none."""
    people = []
    for i in range(count):
        pronoun = _PRONOUN_CYCLE[(i + offset) % len(_PRONOUN_CYCLE)]
        pool = {"he": _HE, "she": _SHE, "they": _THEY}[pronoun]
        first = pool[(i * 5 + offset * 3) % len(pool)]
        initial = _INITIALS[(i * 7 + offset) % len(_INITIALS)]
        has_name = named is True or (named and i % int(named) == 0)
        # A few people with higher support needs account for many near misses, as in life.
        needs = 1.0 + (2.5 if i % 5 == 0 else 0.0) + (i % 3) * 0.4
        people.append(PersonSpec(f"{prefix}-{i + 1:0{width}d}",
                                 f"{first} {initial}." if has_name else None,
                                 pronoun, needs, i % runs))
    return tuple(people)


def _home_care_places() -> tuple[PlaceSpec, ...]:
    return (
        _place("Person's home: bathroom", "in the bathroom at the person's home",
               "bathroom home"),
        _place("Person's home: bedroom", "in the bedroom at the person's home", "bedroom home"),
        _place("Person's home: kitchen", "in the kitchen at the person's home",
               "kitchen medication home"),
        _place("Person's home: stairs and hall", "on the stairs at the person's home",
               "stairs entrance home"),
        _place("Person's home: living room", "in the living room at the person's home",
               "lounge home"),
        _place("Scheduling office", "in the scheduling office", "office"),
        _place("Community: street or car park", "in the street outside the visit",
               "community outdoor"),
        _place("Worker's car", "in the worker's car", "vehicle"),
    )


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "Maple House", "South", RESIDENTIAL, 0.18,
        (
            _place(BATHROOM_LOCATION, "at the bathroom doorway", "bathroom"),
            _place("Upstairs bathroom", "in the upstairs bathroom", "bathroom"),
            _place("Bedroom 2", "in bedroom 2", "bedroom"),
            _place("Bedroom 4", "in bedroom 4", "bedroom"),
            _place("Kitchen", "in the kitchen", "kitchen"),
            _place("Lounge", "in the lounge", "lounge activity"),
            _place("Medication cupboard", "by the medication cupboard", "medication"),
            _place("Hallway and stairs", "on the stairs", "stairs"),
            _place("Front steps", "on the front steps", "entrance outdoor"),
            _place("Back garden", "in the back garden", "outdoor"),
            _place("Staff office", "in the staff office", "office"),
            _place("House van", "in the house van", "vehicle"),
        ),
        ("Maple House van",),
        _people("MH", 6, 2),
    ),
    ServiceSpec(
        "Oak Lodge", "North", RESIDENTIAL, 0.16,
        (
            _place("Lounge", "in the lounge", "lounge activity"),
            _place("Kitchen", "in the kitchen", "kitchen"),
            _place("Downstairs bathroom", "in the downstairs bathroom", "bathroom"),
            _place("Bedroom corridor", "in the bedroom corridor", "bedroom"),
            _place("Medication room", "in the medication room", "medication"),
            _place("Laundry", "in the laundry", "laundry"),
            _place("Garden", "in the garden", "outdoor"),
            _place("Front entrance", "at the front entrance", "entrance"),
            _place("Staff office", "in the staff office", "office"),
            _place("Lodge minibus", "in the lodge minibus", "vehicle"),
        ),
        ("Oak Lodge minibus",),
        _people("OL", 5, 2, offset=1),
    ),
    ServiceSpec(
        "Eastside Home Care", "North", HOME_CARE, 0.22,
        _home_care_places(),
        ("East run 1: Riverside", "East run 2: Hillcrest", "East run 3: Old Town",
         "East evening run"),
        _people("EH", 36, 3, named=2, runs=3, offset=2),
    ),
    ServiceSpec(
        "Northgate Day Programme", "North", DAY_PROGRAMME, 0.10,
        (
            _place("Activity room", "in the activity room", "activity lounge"),
            _place("Kitchenette", "in the kitchenette", "kitchen medication"),
            _place("Accessible bathroom", "in the accessible bathroom", "bathroom"),
            _place("Sensory room", "in the sensory room", "activity"),
            _place("Reception", "at reception", "entrance office"),
            _place("Minibus", "on the minibus", "vehicle"),
            _place("Community outing", "on a community outing", "community outdoor"),
        ),
        ("Northgate pickup: north loop", "Northgate pickup: south loop"),
        _people("DP", 14, 2, offset=3),
    ),
    ServiceSpec(
        "Westside Home Care", "South", HOME_CARE, 0.20,
        _home_care_places(),
        ("West run 1: Meadowbank", "West run 2: Harbour", "West run 3: Valley",
         "West evening run"),
        _people("WH", 32, 3, named=2, runs=3, offset=4),
    ),
    ServiceSpec(
        "Birchwood Supported Living", "South", SUPPORTED_LIVING, 0.14,
        (
            _place("Flat 1", "in flat 1", "home bedroom bathroom kitchen"),
            _place("Flat 3", "in flat 3", "home bedroom bathroom kitchen"),
            _place("Flat 6", "in flat 6", "home bedroom bathroom kitchen"),
            _place("Shared laundry", "in the shared laundry", "laundry"),
            _place("Communal lounge", "in the communal lounge", "lounge activity"),
            _place("Staff office", "in the staff office", "office medication"),
            _place("Stairwell", "in the stairwell", "stairs entrance"),
            _place("Car park", "in the car park", "outdoor community"),
        ),
        (),
        _people("BW", 8, 2, offset=5),
    ),
)

STAFF_GROUPS: tuple[tuple[str, str], ...] = (  # (name, cue guide)
    ("Direct support professional", "care_worker"),
    ("Home care worker", "care_worker"),
    ("Nurse", "nurse"),
    ("Scheduler / coordinator", "scheduler"),
    ("Supervisor", "supervisor"),
    ("Driver", "care_worker"),
)
DSP, HCW, NURSE, SCHEDULER, SUPERVISOR, DRIVER = (name for name, _ in STAFF_GROUPS)


def _staff(name: str, group: str, services: tuple[str, ...], keenness: float) -> StaffSpec:
    return StaffSpec(name.lower().replace(" ", "."), name, group, services, keenness)


_MAPLE, _OAK, _EAST, _NORTHGATE, _WEST, _BIRCH = (s.name for s in SERVICES)

STAFF: tuple[StaffSpec, ...] = (
    _staff("Amara Okafor", DSP, (_MAPLE,), 3.0),
    _staff("Ben Hollis", DSP, (_MAPLE,), 1.0),
    _staff("Chloe Marsh", DSP, (_MAPLE,), 1.6),
    _staff("Dariusz Nowak", DSP, (_MAPLE,), 0.5),
    _staff("Efua Mensah", DSP, (_MAPLE,), 1.2),
    _staff("Fiona Reid", DSP, (_MAPLE,), 0.4),
    _staff("Gareth Pryce", DSP, (_OAK,), 0.8),
    _staff("Hana Sato", DSP, (_OAK,), 2.2),
    _staff("Imran Qureshi", DSP, (_OAK,), 1.0),
    _staff("Jess Fairley", DSP, (_OAK,), 0.6),
    _staff("Kofi Boateng", DSP, (_OAK,), 1.4),
    _staff("Lena Fischer", DSP, (_BIRCH,), 1.8),
    _staff("Marcus Bell", DSP, (_BIRCH,), 0.7),
    _staff("Nadia Haddad", DSP, (_BIRCH,), 1.1),
    _staff("Owen Price", DSP, (_BIRCH,), 0.5),
    _staff("Paula Greco", DSP, (_NORTHGATE,), 1.5),
    _staff("Quentin Shaw", DSP, (_NORTHGATE,), 0.6),
    _staff("Ruth Adeyemi", DSP, (_NORTHGATE,), 1.0),
    _staff("Stan Kowalski", DRIVER, (_NORTHGATE,), 1.0),
    _staff("Tariq Aziz", HCW, (_EAST,), 2.4),
    _staff("Una Brennan", HCW, (_EAST,), 1.0),
    _staff("Vera Lindqvist", HCW, (_EAST,), 0.7),
    _staff("Wes Carter", HCW, (_EAST,), 1.3),
    _staff("Xin Li", HCW, (_EAST,), 0.5),
    _staff("Yasmin Khan", HCW, (_EAST,), 1.1),
    _staff("Zoe Hartley", SCHEDULER, (_EAST,), 1.5),
    _staff("Abdi Warsame", HCW, (_WEST,), 1.9),
    _staff("Bronwen Evans", HCW, (_WEST,), 1.0),
    _staff("Carla Mendes", HCW, (_WEST,), 0.8),
    _staff("Dylan Moore", HCW, (_WEST,), 0.4),
    _staff("Esther Obi", HCW, (_WEST,), 1.4),
    _staff("Femi Adebayo", HCW, (_WEST,), 0.9),
    _staff("Gwen Talbot", SCHEDULER, (_WEST,), 1.5),
    _staff("Helen Cho", NURSE, (_OAK, _NORTHGATE, _EAST), 1.2),
    _staff("Ifeoma Nwosu", NURSE, (_MAPLE, _BIRCH, _WEST), 1.2),
    _staff("Jack Dunne", DRIVER, (_MAPLE, _BIRCH), 0.8),
)

# Synthetic supervisors of the services the demo supervisor does not cover, so that every
# service has someone to triage its reports and answer its shift supervisor alerts. Like the
# frontline staff they never sign in; unlike them they hold the supervisor role.
SUPERVISORS: tuple[StaffSpec, ...] = (
    _staff("Kemi Adeleke", SUPERVISOR, (_EAST,), 0.4),
    _staff("Liam Connolly", SUPERVISOR, (_WEST,), 0.4),
    _staff("Maya Fernandes", SUPERVISOR, (_NORTHGATE,), 0.4),
    _staff("Nia Roberts", SUPERVISOR, (_BIRCH,), 0.4),
)

# The demo users of the service-scoped roles: the reporter sees Maple House only, the
# supervisor Maple House and Oak Lodge, so scoping is visible when switching users.
DEMO_SERVICES_BY_ROLE: dict[Role, tuple[str, ...]] = {
    Role.REPORTER: (_MAPLE,),
    Role.SUPERVISOR: (_MAPLE, _OAK),
}
# The demo reporter and supervisor file near misses too (the reporter's "My reports" is full).
_DEMO_REPORTER_KEENNESS = {Role.REPORTER.value: 1.5, Role.SUPERVISOR.value: 0.4}


# ---------------------------------------------------------------------------------------------
# When the planted patterns happen
# ---------------------------------------------------------------------------------------------


def demo_window(now: datetime, months: int = DEFAULT_MONTHS) -> tuple[datetime, datetime]:
    """The (start, end) of the demo's reports, naive UTC: `months` months up to `now`."""
    return now - timedelta(days=round(months * DAYS_PER_MONTH)), now


def late_start_cluster_window(now: datetime,
                              months: int = DEFAULT_MONTHS) -> tuple[datetime, datetime]:
    """The 3 weeks of the late-shift-start cluster in the North (about 5-6 months ago)."""
    start, end = demo_window(now, months)
    cluster_start = end - (end - start) * 0.31
    return cluster_start, cluster_start + timedelta(days=LATE_START_CLUSTER_DAYS)


def medication_rise_start(now: datetime, months: int = DEFAULT_MONTHS) -> datetime:
    """When family-note medication mismatches start to rise (month 6 of 18)."""
    start, end = demo_window(now, months)
    return start + (end - start) / 3


def medication_control_go_live(now: datetime, months: int = DEFAULT_MONTHS) -> datetime:
    """When the family-note check goes live (month 12 of 18: 6 months before `now`)."""
    start, end = demo_window(now, months)
    return start + (end - start) * 2 / 3


def _planted_count(kind: str, reports: int, months: int = DEFAULT_MONTHS) -> int:
    """How many reports a planted pattern gets (each capped at a tenth of the reports)."""
    cap = reports // 10
    if kind == "late_cluster":
        return min(max(12, round(0.008 * reports)), cap)
    if kind == "family_note":
        return min(max(30, round(0.028 * reports)), cap)
    # The bathroom doorway: one visit every 2-3 weeks at least (about 1.8 a month).
    return min(max(round(1.8 * months), round(0.012 * reports)), cap)


# ---------------------------------------------------------------------------------------------
# What each type of near miss looks like
# ---------------------------------------------------------------------------------------------

_STAFF_RECOVERY, _DESIGNED, _PERSON, _CHANCE = (b.value for b in Barrier)
_BARRIERS = (_STAFF_RECOVERY, _DESIGNED, _PERSON, _CHANCE)
_HOURS_DAYTIME = ((10.0, 2.5, 1.0), (15.0, 2.5, 1.0))


@dataclass(frozen=True)
class TypeProfile:
    """How often, where, when and by whom a type of near miss happens in the demo."""

    share: float  # of the background reports
    kinds: Mapping[str, float]  # affinity to each kind of service
    tags: Mapping[str, float]  # affinity to kinds of place
    hours: tuple[tuple[float, float, float], ...]  # local (centre hour, spread, weight)
    barriers: tuple[float, float, float, float]  # staff, designed control, person/family, chance
    person: float  # chance a person supported is named
    at_risk: float = 0.03
    flag: float = 0.0
    flags: Mapping[str, float] | None = None
    capture: float = 0.55  # chance the reporter fills the optional capture fields
    anonymous: float = 0.08


def _kinds(residential: float, home: float, day: float, supported: float) -> dict[str, float]:
    return {RESIDENTIAL: residential, HOME_CARE: home, DAY_PROGRAMME: day,
            SUPPORTED_LIVING: supported}


PROFILES: dict[str, TypeProfile] = {
    "transfer_near_fall": TypeProfile(
        0.16, _kinds(1.4, 0.8, 0.9, 0.8),
        {"bathroom": 5, "bedroom": 4, "stairs": 3, "lounge": 2, "entrance": 2, "activity": 1,
         "vehicle": 0.5, "outdoor": 0.5},
        ((7.5, 1.0, 3.0), (13.0, 2.0, 1.0), (20.0, 1.2, 3.0)), (0.70, 0.12, 0.10, 0.08), 0.97,
        flag=0.03, flags={"shift_handover": 1}),
    "medication_discrepancy": TypeProfile(
        0.14, _kinds(1.0, 1.3, 0.5, 1.0), {"medication": 6, "kitchen": 3, "bedroom": 1, "home": 1},
        ((8.0, 0.4, 3.0), (12.5, 0.4, 2.0), (17.0, 0.4, 2.0), (21.0, 0.5, 2.0)),
        (0.45, 0.35, 0.12, 0.08), 0.97, flag=0.2,
        flags={"medication_reconciliation": 0.7, "shift_handover": 0.2, "clinic_follow_up": 0.1}),
    "staffing_visit_continuity": TypeProfile(
        0.13, _kinds(0.3, 2.4, 0.3, 0.8), {"office": 3, "home": 3, "entrance": 1},
        ((7.5, 1.0, 3.0), (12.5, 1.0, 1.5), (17.5, 1.5, 2.5), (21.0, 1.0, 1.0)),
        (0.50, 0.25, 0.15, 0.10), 0.95, flag=0.15,
        flags={"scheduling_change": 0.8, "shift_handover": 0.2}),
    "skin_integrity_deterioration": TypeProfile(
        0.07, _kinds(1.3, 1.1, 0.4, 0.7), {"bedroom": 5, "bathroom": 3, "lounge": 1, "home": 1},
        ((8.0, 1.0, 3.0), (14.0, 2.0, 1.0), (21.0, 1.0, 2.0)), (0.62, 0.18, 0.12, 0.08), 1.0,
        at_risk=0.12, flag=0.25, flags={"shift_handover": 0.85, "clinic_follow_up": 0.15}),
    "interface_failure": TypeProfile(
        0.08, _kinds(1.0, 1.2, 0.8, 1.0),
        {"office": 4, "medication": 2, "lounge": 1, "kitchen": 1, "home": 1},
        _HOURS_DAYTIME, (0.35, 0.15, 0.35, 0.15), 0.9, flag=0.8,
        flags={"clinic_follow_up": 0.45, "scheduling_change": 0.25,
               "medication_reconciliation": 0.15, "shift_handover": 0.15}),
    "late_shift_start": TypeProfile(
        0.015, _kinds(1.2, 1.0, 0.7, 1.1),
        {"office": 5, "entrance": 3, "lounge": 1, "home": 1},
        ((7.0, 0.3, 3.0), (15.0, 0.3, 2.0), (22.0, 0.3, 1.5)), (0.55, 0.25, 0.08, 0.12), 0.35,
        flag=0.5, flags={"scheduling_change": 0.6, "shift_handover": 0.4}),
    "safeguarding_rights": TypeProfile(
        0.05, _kinds(0.8, 1.1, 0.9, 1.4),
        {"community": 3, "lounge": 2, "home": 2, "bedroom": 1, "entrance": 1, "vehicle": 1},
        _HOURS_DAYTIME, (0.60, 0.10, 0.20, 0.10), 0.9, at_risk=0.10, flag=0.03,
        flags={"shift_handover": 1}, anonymous=0.15),
    "environment_equipment": TypeProfile(
        0.14, _kinds(1.3, 0.7, 1.2, 1.1),
        {"kitchen": 3, "laundry": 3, "bathroom": 2, "medication": 2, "stairs": 2, "outdoor": 2,
         "entrance": 2, "bedroom": 1, "vehicle": 1, "activity": 1, "office": 0.5},
        ((9.0, 3.0, 2.0), (16.0, 3.0, 2.0), (22.0, 1.5, 0.5)), (0.55, 0.25, 0.05, 0.15), 0.25),
    "transport": TypeProfile(
        0.08, _kinds(1.0, 0.4, 2.2, 0.8), {"vehicle": 6, "entrance": 2, "community": 2},
        ((9.0, 1.0, 3.0), (14.0, 1.5, 1.0), (16.0, 1.0, 1.0)), (0.55, 0.20, 0.15, 0.10), 0.9,
        flag=0.1, flags={"scheduling_change": 0.6, "clinic_follow_up": 0.4}),
    "community_safety": TypeProfile(
        0.06, _kinds(0.8, 0.7, 1.6, 1.4), {"community": 6, "outdoor": 3, "entrance": 1},
        ((11.0, 2.0, 2.0), (15.0, 2.0, 2.0), (19.0, 1.5, 1.0)), (0.60, 0.10, 0.15, 0.15), 0.75,
        at_risk=0.04),
    "other": TypeProfile(
        0.05, _kinds(1.0, 1.0, 1.0, 1.0),
        {tag: 1 for tag in ("bathroom", "bedroom", "kitchen", "lounge", "office", "entrance",
                            "home", "activity", "laundry")},
        _HOURS_DAYTIME, (0.55, 0.15, 0.15, 0.15), 0.3, flag=0.03, flags={"shift_handover": 1}),
}

# How likely each staff group is to report each type (1 when not listed).
GROUP_AFFINITY: dict[str, Mapping[str, float]] = {
    SCHEDULER: {"staffing_visit_continuity": 6, "late_shift_start": 6, "interface_failure": 3,
                "transport": 2, "transfer_near_fall": 0.1, "skin_integrity_deterioration": 0.1,
                "medication_discrepancy": 0.2, "environment_equipment": 0.2,
                "community_safety": 0.2, "safeguarding_rights": 0.3},
    NURSE: {"skin_integrity_deterioration": 5, "medication_discrepancy": 4,
            "interface_failure": 1.5, "staffing_visit_continuity": 0.3, "late_shift_start": 0.3,
            "transport": 0.2, "community_safety": 0.2, "environment_equipment": 0.5},
    DRIVER: {"transport": 6, "community_safety": 2, "transfer_near_fall": 0.4,
             "medication_discrepancy": 0.05, "skin_integrity_deterioration": 0.05,
             "interface_failure": 0.3, "staffing_visit_continuity": 0.3},
    SUPERVISOR: {"late_shift_start": 2, "safeguarding_rights": 1.5, "interface_failure": 1.2},
    HCW: {"late_shift_start": 0.8},
    DSP: {"staffing_visit_continuity": 0.6, "late_shift_start": 0.8},
}


def _pronoun_words(they: str, them: str, their: str) -> dict[str, str]:
    return {"they": they, "them": them, "their": their, "They": they.capitalize(),
            "Their": their.capitalize()}


_PRONOUN_WORDS = {"he": _pronoun_words("he", "him", "his"),
                  "she": _pronoun_words("she", "her", "her"),
                  "they": _pronoun_words("they", "them", "their")}


def _pronouns(person: PersonSpec | None) -> dict[str, str]:
    return _PRONOUN_WORDS.get(person.pronoun if person else "they", _PRONOUN_WORDS["they"])


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def _iso(moment: datetime) -> str:
    """A datetime capture field as the form stores it (local time, to the minute)."""
    return moment.strftime("%Y-%m-%dT%H:%M")


@dataclass
class _Scene:
    """What a description writer knows about the near miss it describes."""

    rng: random.Random
    place: PlaceSpec
    person: PersonSpec | None
    local: datetime  # when it happened, provider's local time
    barrier: str
    kind: str
    planted: bool = False
    after_control: bool = False

    def words(self, **extra: str) -> dict[str, str]:
        return {**_pronouns(self.person), "place": self.place.phrase, **extra}

    def pick(self, options: Sequence[str], **extra: str) -> str:
        return self.rng.choice(options).format(**self.words(**extra))


Writer = Callable[[_Scene], tuple[str, dict[str, Any]]]

# -- Transfer / near fall (seed 1, operational example 1) -------------------------------------

_TASKS_BY_TAG = {
    "bathroom": ("evening bathroom routine", "morning shower transfer", "toilet transfer"),
    "bedroom": ("bed to chair transfer", "getting up in the morning", "bedtime transfer"),
    "stairs": ("walk down the stairs", "walk up to bed"),
    "lounge": ("stand from the armchair", "chair to wheelchair transfer"),
    "entrance": ("step out of the front door", "walk to the van"),
    "vehicle": ("transfer out of the vehicle", "transfer into the vehicle"),
    "activity": ("stand from the activity table", "walk to the dining table"),
    "home": ("walk to the kitchen", "stand from the sofa"),
}
_AIDS = ("walker", "rollator", "frame", "stick", "wheelchair")
_AID_POSITIONS = ("Within reach", "Slightly out of reach", "Out of reach", "Not in the room",
                  "Not used")
_AID_PHRASES = {"Slightly out of reach": "slightly out of reach", "Out of reach": "out of reach"}
_BALANCE = ("Usual for them", "Unsteady", "Tired", "Very tired or unwell")
_ENVIRONMENT = ("tight doorway", "wet floor after the shower", "poor lighting",
                "rug edge curled up", "clutter by the bed", "bath mat slipped",
                "door closer pulling the door shut", "uneven floor at the threshold",
                "nothing unusual")
_FALL_RECOVERY = {
    _STAFF_RECOVERY: ("staff steadied {them} before {they} fell.",
                      "I held {their} arm and guided {them} back to sit.",
                      "the second worker caught {them} under the arm and lowered {them} to a "
                      "chair.",
                      "staff stepped in, steadied {them} and brought the {aid} over."),
    _DESIGNED: ("the pre-transfer check picked it up and staff moved the {aid} before {they} "
                "stood.",
                "the sensor mat alarm brought staff in time to steady {them}.",
                "the two-person transfer in the plan meant the second worker was there to "
                "steady {them}."),
    _PERSON: ("{they} grabbed the rail and called out; staff reached {them} in time.",
              "{their} daughter, who was visiting, held {their} arm until staff came."),
    _CHANCE: ("{they} caught the door frame; nobody was close enough to help.",
              "{they} grabbed the nearest furniture and stayed up; no one was in reach."),
}
_FALL_TAILS = ("No injury; checked over by the shift lead.", "Told the supervisor at handover.",
               "The support plan says to park the {aid} by the door first.",
               "{Their} {aid} keeps being moved during cleaning.")
_BATHROOM_TAILS = ("Same doorway as before: the {aid} gets parked by the bath, not the door.",
                   "The space is tight and the set-up depends on who is on shift.",
                   "This keeps happening at this doorway.", "No injury.",
                   "Told the shift lead; nothing changed since last time.")
_FALL_ACTIONS = {
    _STAFF_RECOVERY: "Steadied {them}, sat {them} down, checked for pain and injury.",
    _DESIGNED: "Followed the transfer plan; second worker supported, {aid} moved into reach.",
    _PERSON: "Reached {them}, sat {them} down, checked for pain and injury.",
    _CHANCE: "Checked {them} for injury and stayed until {they} settled.",
}


def _near_fall(s: _Scene) -> tuple[str, dict[str, Any]]:
    r = s.rng
    tag = next((t for t in ("bathroom", "bedroom", "stairs", "lounge", "entrance", "vehicle",
                            "activity", "home") if t in s.place.tags), "lounge")
    task = "evening bathroom routine" if s.planted and s.local.hour >= 16 else r.choice(
        _TASKS_BY_TAG[tag])
    aid = r.choice(_AIDS[:3]) if s.planted else r.choice(_AIDS)
    if s.planted:
        position = r.choices(_AID_POSITIONS[:3], (1, 5, 2))[0]
        environment = "tight doorway" if r.random() < 0.6 else r.choice(_ENVIRONMENT[:4])
    else:
        position = r.choices(_AID_POSITIONS, (2, 3.5, 2, 1, 1.5))[0]
        environment = r.choice(_ENVIRONMENT)
    balance = r.choices(_BALANCE, (3.5, 3.5, 2, 1))[0]
    words = s.words(aid=aid, task=task)
    recovery = s.pick(_FALL_RECOVERY[s.barrier], aid=aid, task=task)
    if position in _AID_PHRASES:
        opening = f"{aid.capitalize()} {_AID_PHRASES[position]} {s.place.phrase}"
        if r.random() < 0.5:
            opening += f" during the {task}"
        description = f"{opening}; {recovery}"
    else:
        opening = {
            "Within reach": "{They} turned during the {task} and lost {their} balance {place}, "
                            "with the {aid} in reach but its brakes off",
            "Not in the room": "{They} set off {place} without {their} {aid}, which had been "
                               "left in another room",
            "Not used": "{They} stood up without waiting for support during the {task} and "
                        "swayed {place}",
        }[position].format(**words)
        description = f"{opening}. {_sentence(recovery)}"
    tails = _BATHROOM_TAILS if s.planted else _FALL_TAILS
    if r.random() < (0.6 if s.planted else 0.4):
        description += " " + s.pick(tails, aid=aid)
    capture = {
        "transfer_task": task.capitalize(),
        "mobility_aid_position": position,
        "balance_or_fatigue": balance,
        "immediate_action": _FALL_ACTIONS[s.barrier].format(**words),
        "environmental_condition": environment.capitalize(),
    }
    return description, capture


# -- Medication discrepancy (seed 1, operational example 2) -----------------------------------

_MEDS: tuple[tuple[str, tuple[str, ...]], ...] = (  # (medicine, doses seen on plans and labels)
    ("metformin", ("500 mg", "1 g")), ("warfarin", ("2 mg", "3 mg", "5 mg")),
    ("amlodipine", ("5 mg", "10 mg")), ("levothyroxine", ("50 micrograms", "75 micrograms")),
    ("sertraline", ("50 mg", "100 mg")), ("paracetamol", ("500 mg", "1 g")),
    ("insulin", ("12 units", "16 units", "20 units")), ("furosemide", ("20 mg", "40 mg")),
    ("prednisolone", ("5 mg", "10 mg")), ("apixaban", ("2.5 mg", "5 mg")),
    ("levetiracetam", ("250 mg", "500 mg")), ("lactulose", ("10 ml", "15 ml")),
)
_TABLETS = ("metformin", "amlodipine", "sertraline", "paracetamol", "furosemide")
_SOURCES = ("Care plan vs medication label", "Pharmacy change not in record", "Handover note",
            "Medication record (MAR) entry", "Other")
_SOURCE_WEIGHTS = (3, 3, 2, 3, 1)
_MISMATCH = {
    FAMILY_NOTE_SOURCE: (
        "Care plan prompt did not match the family note by the medication area",
        "Family note on the fridge said the {when} {med} dose changed after the GP visit, but "
        "the care plan still showed the old prompt",
        "The family left a note that {their} {med} was stopped, but the care plan still listed "
        "the {when} prompt",
        "Care plan said {dose_a} of {med}; the note from {their} son said {dose_b} since the "
        "hospital appointment",
    ),
    "Care plan vs medication label": (
        "The {med} box label said {dose_a} but the care plan said {dose_b}",
        "Label on the new {med} pack gave a different time from the care plan's {when} prompt",
    ),
    "Pharmacy change not in record": (
        "New blister pack from the pharmacy had {med} added, but it was not in our record",
        "Pharmacy stopped {med} last week, but it was still on the MAR for the {when} prompt",
    ),
    "Handover note": (
        "Handover note said the {when} {med} had been given early, but the MAR was blank",
        "Handover said {med} was paused; nothing in the care plan said so",
    ),
    "Medication record (MAR) entry": (
        "MAR showed the {when} {med} signed for before it was given",
        "Two different {med} doses ({dose_a} and {dose_b}) were written on the MAR for today",
    ),
    "Other": (
        "Eye drops found in the fridge without a pharmacy label",
        "Two {tablet} tablets found on the floor by the bed; the count did not match the MAR",
    ),
}
_MED_RECOVERY = {
    _STAFF_RECOVERY: ("worker paused and called the supervisor.",
                      "I did not give the prompt and rang the on-call supervisor.",
                      "held the prompt and checked with the pharmacy before going on."),
    _DESIGNED: ("the two-person MAR check caught it before the prompt.",
                "the medication change alert on the care app flagged it; worker called the "
                "supervisor."),
    _PERSON: ("{they} said the dose had changed, so the worker stopped and checked.",
              "{their} son rang during the visit to say the GP had changed it; worker held the "
              "prompt."),
    _CHANCE: ("only noticed because the pack looked different; nothing in our process would "
              "have caught it.",),
}
_FAMILY_NOTE_CONTROL = (
    "the new family-note check at the start of the visit caught it; supervisor confirmed the "
    "change.",
    "the family-note step on the visit checklist flagged it before the prompt.",
)
_MED_TAILS = ("Supervisor confirmed with the GP surgery.", "Record corrected the same day.",
              "Next visit told to check the note first.", "Clinical advice line called.")
_MED_ACTIONS = {
    _STAFF_RECOVERY: "Paused, did not prompt, called the supervisor.",
    _DESIGNED: "Stopped at the check, called the supervisor, waited for confirmation.",
    _PERSON: "Listened to {them}, held the prompt, called the supervisor.",
    _CHANCE: "Held the prompt and called the supervisor.",
}
_PROMPT_HOURS = (8, 12, 17, 21)


def _prompt_time(local: datetime) -> datetime:
    hour = min(_PROMPT_HOURS, key=lambda h: abs(h - (local.hour + local.minute / 60)))
    return local.replace(hour=hour, minute=0 if hour != 12 else 30)


def _time_word(hour: int) -> str:
    return "morning" if hour < 11 else "lunchtime" if hour < 15 else "teatime" if hour < 19 \
        else "bedtime"


def _medication(s: _Scene) -> tuple[str, dict[str, Any]]:
    r = s.rng
    source = FAMILY_NOTE_SOURCE if s.planted else r.choices(_SOURCES, _SOURCE_WEIGHTS)[0]
    med, doses = r.choice(_MEDS)
    dose_a, dose_b = r.sample(doses, 2)
    prompt = _prompt_time(s.local)
    words = {"med": med, "when": _time_word(prompt.hour), "dose_a": dose_a, "dose_b": dose_b,
             "tablet": r.choice(_TABLETS)}
    mismatch = _sentence(s.pick(_MISMATCH[source], **words))
    if s.planted and s.after_control and s.barrier == _DESIGNED:
        recovery = r.choice(_FAMILY_NOTE_CONTROL)
    else:
        recovery = s.pick(_MED_RECOVERY[s.barrier])
    description = f"{mismatch}; {recovery}"
    if r.random() < 0.35:
        description += " " + r.choice(_MED_TAILS)
    capture = {"medication_prompt_time": _iso(prompt), "source_of_discrepancy": source,
               "worker_action": _MED_ACTIONS[s.barrier].format(**s.words())}
    return description, capture


# -- Staffing / visit continuity (seed 1, operational example 3) ------------------------------

_DELAY_REASONS = ("an urgent support need at the previous visit", "a breakdown on the ring road",
                  "traffic after an accident", "the previous visit over-running (person unwell)",
                  "a sick call at short notice", "two visits booked at the same time",
                  "waiting at the hospital with another person", "a flat tyre")
_TASKS_DUE = ("meal support, medication prompting and bedtime assistance",
              "morning personal care and breakfast", "lunch and a medication prompt",
              "an insulin prompt and a meal", "catheter care and a tea-time meal",
              "bedtime assistance", "a shower and dressing for a clinic appointment")
_BACKUP = ("Backup found on the rota", "Backup found informally", "No backup available")
_COVER = {
    "Backup found on the rota": {
        _DESIGNED: "the late-visit alert fired at 15 minutes and the backup on the rota was sent.",
        _STAFF_RECOVERY: "the coordinator saw the gap on the board and moved the visit to the "
                         "backup worker on the rota.",
        _PERSON: "{their} daughter rang the office to ask where the carer was; the coordinator "
                 "sent the backup worker on the rota.",
        _CHANCE: "the backup on the rota happened to ring in early and was sent.",
    },
    "Backup found informally": {
        _STAFF_RECOVERY: "the coordinator spotted it early and redirected an off-route worker "
                         "who happened to be nearby.",
        _PERSON: "{their} daughter rang the office to ask where the carer was; the coordinator "
                 "found a worker nearby.",
        _CHANCE: "the next worker finished early and happened to pass by; no one had flagged "
                 "the gap.",
    },
    "No backup available": {
        _STAFF_RECOVERY: "no backup was free, so the coordinator rang the person, agreed a later "
                         "time and moved the next visit.",
        _PERSON: "{their} son stayed until the worker arrived; no backup was free.",
        _CHANCE: "no backup was free; the worker got there before the essential tasks were "
                 "missed.",
    },
}


def _staffing(s: _Scene) -> tuple[str, dict[str, Any]]:
    r = s.rng
    delay = r.choice((20, 25, 30, 35, 40, 45, 50, 60, 75, 90))
    reason, tasks = r.choice(_DELAY_REASONS), r.choice(_TASKS_DUE)
    # A designed control means the rota's backup; otherwise it is often found informally.
    backup = _BACKUP[0] if s.barrier == _DESIGNED else r.choices(_BACKUP, (3, 4, 1.5))[0]
    cover = _COVER[backup].get(s.barrier) or _COVER[backup][_STAFF_RECOVERY]
    description = (f"The rostered worker was running {delay} minutes late after {reason}; the "
                   f"next visit needed {tasks}. " + _sentence(cover.format(**s.words())))
    scheduled = s.local.replace(minute=(s.local.minute // 15) * 15)
    capture = {"scheduled_visit_time": _iso(scheduled),
               "worker_delay_reason": _sentence(reason.removeprefix("an ").removeprefix("a ")),
               "essential_tasks_due": _sentence(tasks), "backup_worker_availability": backup}
    return description, capture


# -- Skin integrity / early deterioration (seed 2, operational example 1) ---------------------

_OBSERVATIONS = ("a red area on {their} heel that did not fade when pressed",
                 "broken skin on {their} lower back, about 2 cm across",
                 "a new blister on {their} left hip", "redness under the brace strap",
                 "a dark patch on {their} right heel",
                 "that {they} seemed drowsier and more confused than usual, and felt hot",
                 "a swollen, warm lower leg", "a new cough and faster breathing than usual")
_CARE = ("morning personal care", "the evening wash", "a change of clothes",
         "repositioning in bed", "a shower")
_LAST_DOCUMENTED = ("Yesterday morning", "Three days ago", "Not documented before",
                    "At last week's skin check", "At the last nurse visit")
_HANDOVER = ("In the handover", "Not in the handover", "No handover took place")
_STOP_THE_LINE = {
    _STAFF_RECOVERY: "Stopped the line: told the shift supervisor straight away and a same-day "
                     "nurse review was booked.",
    _DESIGNED: "The daily skin check on the care app prompted the look; supervisor told and a "
               "nurse review arranged.",
    _PERSON: "{They} said it was sore, so I looked and told the supervisor at once.",
    _CHANCE: "Only seen because the bedding was changed early; told the supervisor.",
}


def _skin(s: _Scene) -> tuple[str, dict[str, Any]]:
    r = s.rng
    observation = s.pick(_OBSERVATIONS)
    handover = r.choices(_HANDOVER, (1.5, 5.5, 3))[0]
    last = r.choice(_LAST_DOCUMENTED)
    found = f"Noticed {observation} during {r.choice(_CARE)}"
    where = {"In the handover": "it was in the handover but not acted on",
             "Not in the handover": "it was not in the handover or the notes",
             "No handover took place": "there had been no handover this shift"}[handover]
    description = f"{found}; {where}. " + _STOP_THE_LINE[s.barrier].format(**s.words())
    notified = s.local + timedelta(minutes=r.randint(5, 40))
    capture = {"observation": _sentence(observation), "last_documented": last,
               "handover_status": handover, "supervisor_notified_at": _iso(notified)}
    return description, capture


# -- Interface failure (seed 2, operational example 2) -----------------------------------------

_CHANGES = (
    ("After {their} clinic appointment the follow-up changed to a blood test every two weeks",
     "Book the fortnightly blood test and remind {them} the day before"),
    ("The dietitian moved {them} to a soft diet at {their} clinic review",
     "Soft diet from today; update the meal plan"),
    ("The OT recommended two staff for all transfers after {their} home assessment",
     "Two staff for transfers from today"),
    ("{Their} hospital discharge letter stopped one of {their} tablets",
     "Remove the stopped tablet from the prompts"),
    ("{Their} follow-up appointment moved to Tuesday at 10:00",
     "Escort {them} to the appointment on Tuesday at 10:00"),
    ("The physio updated {their} exercise plan after {their} review",
     "Prompt the new exercises twice a day"),
    ("The GP asked for a daily fluid chart after {their} appointment",
     "Start the fluid chart today"),
)
_ENTERED = ("the scheduler updated the plan in the scheduling system",
            "the office put the change in the care record",
            "the nurse emailed the change to the office")
_TEAM = ("worker on the next shift", "worker on the evening visit", "rest of the team")
_DISCOVERED = ("a family member phoned to confirm the new appointment", "{they} told me",
               "I found the clinic letter on the kitchen table", "the pharmacy asked about it",
               "the clinic rang to confirm the new time")
_INTERFACE_RECOVERY = {
    _STAFF_RECOVERY: "Checked with the office before the next visit and told the team.",
    _DESIGNED: "The read-receipt check on plan changes showed nobody had confirmed it, so the "
               "office rang the team.",
    _PERSON: "Without the call the follow-up would have been missed.",
    _CHANCE: "Caught by luck: nothing in the system told the next shift.",
}


def _interface(s: _Scene) -> tuple[str, dict[str, Any]]:
    r = s.rng
    change, follow_up = (t.format(**s.words()) for t in r.choice(_CHANGES))
    discovered = s.pick(_DISCOVERED)
    description = (f"{change}; {r.choice(_ENTERED)}, but the {r.choice(_TEAM)} was never told. "
                   f"We found out only because {discovered}. " + _INTERFACE_RECOVERY[s.barrier])
    capture = {"what_changed": change, "how_discovered": _sentence(discovered),
               "follow_up_requirement": follow_up}
    return description, capture


# -- Late shift start / coverage (seed 2, operational example 3) -------------------------------

_LATE_CAUSES = ("a last-minute rota change and nobody confirmed cover",
                "the rota changed after 8 pm and the worker did not see it",
                "the handover did not say who had confirmed coverage",
                "two workers each thought the other had the shift",
                "a swap agreed by text was never put on the rota",
                "the agency worker was sent to the wrong address")
_CLUSTER_CAUSES = _LATE_CAUSES[:4]
_LATE_RECOVERY = {
    _STAFF_RECOVERY: ("The worker on shift stayed on until cover arrived.",
                      "The shift lead covered the essential support until the worker came."),
    _DESIGNED: ("The coverage check at handover flagged the gap and the on-call supervisor found "
                "cover.",),
    _PERSON: ("A family member who was visiting noticed nobody had arrived and rang the office.",),
    _CHANCE: ("Nobody had confirmed cover; the worker happened to check the rota app and came "
              "in.",),
}


def _late_start(s: _Scene) -> tuple[str, dict[str, Any]]:
    r = s.rng
    hour = min((7, 15, 22), key=lambda h: abs(h - (s.local.hour + s.local.minute / 60)))
    scheduled = s.local.replace(hour=hour, minute=0)
    delay = r.choice((15, 20, 25, 30, 40, 45, 60, 75, 90))
    cause = r.choice(_CLUSTER_CAUSES if s.planted else _LATE_CAUSES)
    if s.kind == HOME_CARE:
        opening = f"The {scheduled:%H:%M} visit round started {delay} minutes late: {cause}."
    else:
        shift = {7: "early", 15: "late", 22: "night"}[hour]
        opening = (f"The {shift} shift ({scheduled:%H:%M}) started {delay} minutes late: "
                   f"{cause}.")
    description = f"{opening} {r.choice(_LATE_RECOVERY[s.barrier])}"
    rota_change = "rota" in cause or "swap" in cause or r.random() < 0.3
    capture = {"scheduled_start": _iso(scheduled),
               "actual_start": _iso(scheduled + timedelta(minutes=delay)),
               "rota_change": rota_change}
    return description, capture


# -- Safeguarding or rights concern (seed 2, expectation 2) -----------------------------------

_CONCERNS = (
    "A caller claiming to be from the bank asked {them} for {their} card PIN while I was there.",
    "A new 'friend' keeps asking {them} to lend money and visits every day.",
    "{Their} bedroom door was locked from the outside when I arrived; nothing in the plan "
    "allows this.",
    "Bed rails were up overnight without the assessment the plan requires.",
    "A visitor shouted at {them} and took {their} phone.",
    "A worker from another agency offered to do {their} shopping with {their} bank card.",
    "A relative asked staff to take {their} phone away as a punishment.",
    "{They} had been left with the wheelchair lap belt fastened all afternoon, which is not in "
    "the plan.",
)
_PROTECTION = {
    _STAFF_RECOVERY: "I stepped in, stayed with {them} and told the safeguarding lead the same "
                     "day.",
    _DESIGNED: "The money-handling checklist flagged it and the supervisor called the "
               "safeguarding lead.",
    _PERSON: "{They} told me about it; I reassured {them} and reported it straight away.",
    _CHANCE: "It came up in passing; reported to the safeguarding lead.",
}


def _safeguarding(s: _Scene) -> tuple[str, dict[str, Any]]:
    concern = s.pick(_CONCERNS)
    protection = _PROTECTION[s.barrier].format(**s.words())
    return f"{concern} {protection}", {"concern": concern, "immediate_protection": protection}


# -- Environment / equipment ---------------------------------------------------------------------

_HAZARDS = {
    "medication": ("sharps cabinet found unlocked during the shift",
                   "medication fridge reading 12 °C"),
    "kitchen": ("oven left on after lunch", "kettle flex frayed near the sink",
                "knife block left on the edge of the counter"),
    "bathroom": ("shower water came out scalding hot", "grab rail loose from the wall",
                 "shower chair leg bent"),
    "laundry": ("laundry chemicals left on an open shelf", "dryer vent blocked with lint"),
    "stairs": ("stair gate latch broken", "loose carpet on the top step"),
    "outdoor": ("icy path to the door", "broken paving slab by the gate"),
    "entrance": ("front door keypad not locking", "ramp handrail loose"),
    "vehicle": ("wheelchair clamp in the vehicle not locking", "seat belt extender missing"),
    "bedroom": ("hoist battery flat just before a transfer", "pressure mattress pump switched off",
                "bed brakes not working"),
    "lounge": ("trailing cable across the walkway", "recliner chair motor sticking"),
    "activity": ("craft knife left out on the table", "hot glue gun left plugged in"),
    "office": ("fire door wedged open with a chair", "first aid kit empty"),
    "home": ("smoke alarm with no battery", "space heater next to the curtains"),
    "community": ("broken bench at the usual bus stop",),
}
_MADE_SAFE = ("Made it safe on the spot and told the shift lead.",
              "Isolated it, put an out-of-use tag on it and rang maintenance.",
              "Removed it from use and logged it for repair.",
              "Locked it away and told the supervisor.")
_FOUND_BY = {_STAFF_RECOVERY: "spotted during the shift", _DESIGNED: "found on the daily check",
             _PERSON: "{they} pointed it out", _CHANCE: "noticed by chance"}


def _environment(s: _Scene) -> tuple[str, dict[str, Any]]:
    r = s.rng
    tags = sorted(t for t in s.place.tags if t in _HAZARDS) or ["office"]
    hazard = r.choice(_HAZARDS[r.choice(tags)])
    made_safe = r.choice(_MADE_SAFE)
    found = _FOUND_BY[s.barrier].format(**s.words())
    description = f"{_sentence(hazard)} {s.place.phrase} ({found}). {made_safe}"
    return description, {"hazard": _sentence(hazard), "made_safe": made_safe}


# -- Transport, community safety, other --------------------------------------------------------

_JOURNEYS = ("clinic appointment at the hospital", "dentist appointment", "day centre pickup",
             "dialysis transport", "swimming session", "GP appointment", "work placement")
_JOURNEY_FAULTS = ("the booked transport was cancelled and nobody was told",
                   "the driver had the old address",
                   "no wheelchair-accessible vehicle had been booked",
                   "the pickup time on the schedule was an hour late",
                   "no escort had been arranged for the journey",
                   "{their} name was not on the pickup list")
_JOURNEY_RECOVERY = {
    _STAFF_RECOVERY: "I rang the office and we booked a taxi in time.",
    _DESIGNED: "The day-before transport check caught it and it was rebooked.",
    _PERSON: "{Their} sister rang to check the time and the error came to light.",
    _CHANCE: "The driver happened to call ahead and the mistake was found.",
}


def _transport(s: _Scene) -> tuple[str, dict[str, Any]]:
    journey, fault = s.rng.choice(_JOURNEYS), s.pick(_JOURNEY_FAULTS)
    description = (f"Transport plan for the {journey} nearly failed: {fault}. "
                   + _JOURNEY_RECOVERY[s.barrier].format(**s.words()))
    return description, {"journey": _sentence(journey), "what_went_wrong": _sentence(fault)}


_SITUATIONS = (
    "{They} stepped toward the road at the crossing before the lights changed",
    "A dog off its lead jumped up at {them} in the park",
    "A group followed us from the bus stop, shouting",
    "Pavement works forced us into the road with the wheelchair",
    "{They} got separated from the group at the shopping centre for about five minutes",
    "The car park at the visit is unlit and a man approached the worker's car",
)
_RESPONSES = {
    _STAFF_RECOVERY: "I held {their} arm, moved us away and told the supervisor afterwards.",
    _DESIGNED: "We followed the outing risk plan: stayed together and called the office.",
    _PERSON: "{They} saw it first and called out; we moved away safely.",
    _CHANCE: "Nothing stopped it; it passed without harm.",
}


def _community(s: _Scene) -> tuple[str, dict[str, Any]]:
    situation = s.pick(_SITUATIONS)
    response = _RESPONSES[s.barrier].format(**s.words())
    return f"{situation}. {response}", {"situation": situation, "response": response}


_OTHER_DETAILS = ("Fire door wedged open with a chair", "Emergency grab bag was missing its torch",
                  "{Their} pendant alarm phone was flat, so the alarm would not have worked",
                  "Food past its date was about to be served",
                  "Smoke alarm chirping with a low battery and nobody had logged it",
                  "The key safe code was written on the door frame")


def _other(s: _Scene) -> tuple[str, dict[str, Any]]:
    details = s.pick(_OTHER_DETAILS)
    return (f"{details} {s.place.phrase}. Sorted on the spot and told the shift lead.",
            {"details": details})


WRITERS: dict[str, Writer] = {
    "transfer_near_fall": _near_fall,
    "medication_discrepancy": _medication,
    "staffing_visit_continuity": _staffing,
    "skin_integrity_deterioration": _skin,
    "interface_failure": _interface,
    "late_shift_start": _late_start,
    "safeguarding_rights": _safeguarding,
    "environment_equipment": _environment,
    "transport": _transport,
    "community_safety": _community,
    "other": _other,
}

_SAFEGUARDS = {
    "transfer_near_fall": "Two staff for all transfers until the review; walking aid kept by "
                          "the door.",
    "medication_discrepancy": "Medication held until the pharmacist confirms; supervisor on the "
                              "phone.",
    "skin_integrity_deterioration": "Repositioning every two hours started, pressure cushion in "
                                    "place, nurse visit booked for today.",
    "safeguarding_rights": "Safeguarding lead told; {they} will not be left alone with the "
                           "visitor.",
}
_GENERIC_SAFEGUARDS = ("Stayed with {them} and asked the on-call supervisor to come out.",
                       "Second worker stays with {them} until the supervisor arrives.",
                       "Told the shift lead; checks every 30 minutes until the review.")


# ---------------------------------------------------------------------------------------------
# The pure generator
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoPlace:
    id: int
    spec: PlaceSpec


@dataclass(frozen=True)
class DemoPerson:
    id: int
    spec: PersonSpec


@dataclass(frozen=True)
class DemoReporter:
    user_id: int
    staff_group_id: int | None
    group: str | None
    keenness: float


@dataclass(frozen=True)
class DemoService:
    """A demo service as stored: ids of its places, routes, people and reporting staff."""

    id: int
    spec: ServiceSpec
    region: str | None
    places: tuple[DemoPlace, ...]
    routes: tuple[int, ...]  # in the plan's order (home care: day runs, then the evening run)
    people: tuple[DemoPerson, ...]
    reporters: tuple[DemoReporter, ...]
    supervisors: tuple[int, ...] = ()  # users with the supervisor role covering the service


@dataclass(frozen=True)
class DemoPlaces:
    """Everything the generator needs from the database, as plain values."""

    services: tuple[DemoService, ...]
    staff_groups: Mapping[str, int]
    type_versions: Mapping[str, int]
    # Org-wide leads by role id (safeguarding, clinical, operations, quality): user ids, the
    # role's demo user first.
    leads: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


def _allocate(total: int, weights: Sequence[float], rng: random.Random) -> list[int]:
    """Share `total` out over `weights`: the exact total, each share within one of its due."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    offset = rng.random()
    counts: list[int] = []
    cumulative, previous = 0.0, 0
    for weight in weights:
        cumulative += weight * total / weight_sum
        reached = min(total, math.floor(cumulative + offset))
        counts.append(max(0, reached - previous))
        previous += counts[-1]
    # Floating point can leave the last unit unplaced; give it to the heaviest day.
    if previous != total:
        counts[max(range(len(weights)), key=lambda i: weights[i])] += total - previous
    return counts


def _noise(rng: random.Random, sigma: float) -> float:
    """Day-to-day variation, so trend lines look like real ones rather than rulers."""
    return rng.lognormvariate(0.0, sigma)


_WEEKDAY = (1.1, 1.05, 1.0, 1.0, 0.95, 0.75, 0.7)


@dataclass
class _Tables:
    """Cumulative weights for fast weighted choices, built once per generation."""

    types: list[str]
    type_cum: list[float]
    service_cum: dict[str, list[float]]
    place_cum: dict[tuple[int, str], list[float]]
    reporter_cum: dict[tuple[int, str], list[float]]
    person_cum: dict[int, list[float]]


def _cum(weights: Sequence[float]) -> list[float]:
    return list(accumulate(weights))


def _pick(rng: random.Random, cum: list[float]) -> int:
    return min(bisect(cum, rng.random() * cum[-1]), len(cum) - 1)


@lru_cache(maxsize=64)
def _hour_weights(hours: tuple[tuple[float, float, float], ...]) -> list[float]:
    return _cum([weight for _centre, _spread, weight in hours])


@lru_cache(maxsize=64)
def _barrier_weights(weights: tuple[float, float, float, float]) -> list[float]:
    return _cum(weights)


def _build_tables(places: DemoPlaces, taxonomy: TaxonomySpec) -> _Tables:
    known = {t.key for t in taxonomy.types if t.active} & set(places.type_versions)
    types = [key for key in PROFILES if key in known]
    if not types or not places.services:
        raise ValueError("the demo needs its services and the taxonomy loaded (run nearmiss init)")
    tables = _Tables(types, _cum([PROFILES[k].share for k in types]), {}, {}, {}, {})
    for key in types:
        profile = PROFILES[key]
        tables.service_cum[key] = _cum(
            [s.spec.volume * profile.kinds.get(s.spec.kind, 1.0) for s in places.services])
        for index, service in enumerate(places.services):
            weights = [sum(profile.tags.get(tag, 0) for tag in p.spec.tags)
                       for p in service.places]
            tables.place_cum[index, key] = _cum(weights if any(weights) else
                                                [1.0] * len(service.places))
            if service.reporters:
                tables.reporter_cum[index, key] = _cum(
                    [r.keenness * GROUP_AFFINITY.get(r.group or "", {}).get(key, 1.0)
                     for r in service.reporters])
    for index, service in enumerate(places.services):
        if service.people:
            tables.person_cum[index] = _cum([p.spec.needs for p in service.people])
    return tables


@dataclass(frozen=True)
class _Planted:
    """One report of a planted pattern: what is fixed about it."""

    kind: str  # "late_cluster", "bathroom", "family_note" or "open_safeguarding"
    service_index: int
    local: datetime | None = None  # a fixed local time ("open_safeguarding")


class _Generator:
    """Builds one report row at a time (all randomness from one seeded Random)."""

    def __init__(self, places: DemoPlaces, taxonomy: TaxonomySpec, rng: random.Random,
                 zone: ZoneInfo, now: datetime, go_live: datetime):
        self.places, self.rng, self.zone, self.now = places, rng, zone, now
        self.now_local = to_local(now, zone)
        self.go_live = go_live
        self.tables = _build_tables(places, taxonomy)
        self.specs: dict[str, NearMissTypeSpec] = {t.key: t for t in taxonomy.types}
        self.flag_keys = {f.key for f in taxonomy.interface_flags}
        self.default_group = {
            kind: places.staff_groups.get(HCW if kind == HOME_CARE else DSP)
            for kind in (RESIDENTIAL, HOME_CARE, DAY_PROGRAMME, SUPPORTED_LIVING)}

    # -- when -------------------------------------------------------------------------------

    def local_time(self, day: date, hours: tuple[tuple[float, float, float], ...]) -> datetime:
        """A local time on `day` drawn from the type's daily rhythm (never after now)."""
        r = self.rng
        midnight = datetime.combine(day, time())
        is_today = day == self.now_local.date()
        for _ in range(25):
            centre, spread, _weight = r.choices(hours, cum_weights=_hour_weights(hours))[0]
            minutes = int((r.gauss(centre, spread) % 24) * 60)
            moment = midnight + timedelta(minutes=minutes)
            if not is_today or moment < self.now_local - timedelta(minutes=1):
                return moment
        elapsed = max(1, int((self.now_local - midnight).total_seconds() // 60) - 1)
        return midnight + timedelta(minutes=r.randrange(elapsed))

    def barrier(self, weights: tuple[float, float, float, float]) -> str:
        return self.rng.choices(_BARRIERS, cum_weights=_barrier_weights(weights))[0]

    def reported_at(self, occurred: datetime) -> datetime:
        """Minutes to a day after it happened: most reports the same shift."""
        r = self.rng
        band = r.random()
        if band < 0.6:
            seconds = r.randint(10 * 60, 2 * 3600)
        elif band < 0.9:
            seconds = r.randint(2 * 3600, 12 * 3600)
        else:
            seconds = r.randint(12 * 3600, 24 * 3600)
        return min(self.now, occurred + timedelta(seconds=seconds))

    # -- who and where ----------------------------------------------------------------------

    def choose_route(self, service: DemoService, place: PlaceSpec, person: DemoPerson | None,
                     type_key: str, local: datetime) -> int | None:
        r = self.rng
        if not service.routes:
            return None
        if service.spec.kind == HOME_CARE:
            if r.random() < 0.08:
                return None
            day_runs = service.routes[:-1] or service.routes
            if not 6 <= local.hour < 17:
                return service.routes[-1]
            if person is not None:
                return day_runs[person.spec.run % len(day_runs)]
            return r.choice(day_runs)
        if "vehicle" in place.tags or type_key == "transport" or (
                type_key == "community_safety" and r.random() < 0.5):
            return r.choice(service.routes)
        return None

    def row(self, type_key: str, day: date, planted: _Planted | None = None) -> dict[str, Any]:
        """One near-miss report row (every column but the reference number)."""
        r, tables, profile = self.rng, self.tables, PROFILES[type_key]
        kind = planted.kind if planted else None
        if planted is not None:
            service_index = planted.service_index
        else:
            service_index = _pick(r, tables.service_cum[type_key])
        service = self.places.services[service_index]

        place: DemoPlace
        person: DemoPerson | None = None
        if kind == "bathroom":
            place = next(p for p in service.places if p.spec.name == BATHROOM_LOCATION)
            person = next((p for p in service.people if p.spec.ref == REPEAT_FALLER_REF), None)
            if person is None or (r.random() < 0.2 and len(service.people) > 1):
                person = service.people[_pick(r, tables.person_cum[service_index])]
            hours: tuple[tuple[float, float, float], ...] = ((7.5, 0.75, 1.0), (20.5, 1.0, 3.0))
        else:
            place = service.places[_pick(r, tables.place_cum[service_index, type_key])]
            if service.people and r.random() < profile.person:
                person = service.people[_pick(r, tables.person_cum[service_index])]
            hours = profile.hours
        local = planted.local if planted and planted.local else self.local_time(day, hours)
        occurred = to_utc(local, self.zone)
        after_control = kind == "family_note" and occurred >= self.go_live

        if kind == "bathroom":
            barrier = self.barrier((0.82, 0.0, 0.1, 0.08))
        elif kind == "late_cluster":
            barrier = self.barrier((0.6, 0.05, 0.1, 0.25))
        elif kind == "family_note":
            weights = (0.25, 0.7, 0.05, 0.0) if after_control else (0.75, 0.0, 0.15, 0.1)
            barrier = self.barrier(weights)
        else:
            barrier = self.barrier(profile.barriers)

        scene = _Scene(r, place.spec, person.spec if person else None, local, barrier,
                       service.spec.kind, planted=kind is not None, after_control=after_control)
        description, capture = WRITERS[type_key](scene)

        still_at_risk = r.random() < profile.at_risk
        safeguards = None
        if still_at_risk:
            template = _SAFEGUARDS.get(type_key) if r.random() < 0.6 else None
            safeguards = (template or r.choice(_GENERIC_SAFEGUARDS)).format(**scene.words())

        flag = None
        flag_chance = 0.3 if kind == "family_note" else profile.flag
        flags = {"medication_reconciliation": 1.0} if kind == "family_note" else profile.flags
        if flags and r.random() < flag_chance:
            usable = [(k, w) for k, w in flags.items() if k in self.flag_keys]
            if usable:
                flag = r.choices([k for k, _ in usable], [w for _, w in usable])[0]

        reporter: DemoReporter | None = None
        if r.random() >= profile.anonymous and service.reporters:
            reporter = service.reporters[_pick(r, tables.reporter_cum[service_index, type_key])]
        staff_group_id = (reporter.staff_group_id if reporter is not None
                          else self.default_group.get(service.spec.kind))

        return {
            "type_key": type_key,
            "type_version": self.places.type_versions[type_key],
            "description": description,
            "occurred_at": occurred,
            # The open safeguarding concern is reported at once, so its hour has run out by now.
            "reported_at": (occurred + timedelta(minutes=r.randint(10, 40))
                            if kind == "open_safeguarding" else self.reported_at(occurred)),
            "service_id": service.id,
            "location_id": place.id,
            "barrier": barrier,
            "still_at_risk": still_at_risk,
            "immediate_safeguards": safeguards,
            "person_id": person.id if person else None,
            "route_id": self.choose_route(service, place.spec, person, type_key, local),
            "staff_group_id": staff_group_id,
            "interface_flag": flag,
            "capture_fields": self.capture(type_key, capture, keep_source=kind == "family_note"),
            "reporter_id": reporter.user_id if reporter else None,
            "status": ReportStatus.NEW.value,
            "source": DEMO_SOURCE,
            "submission_key": None,
            "version_id": 1,
        }

    def capture(self, type_key: str, values: dict[str, Any], *,
                keep_source: bool) -> dict[str, Any]:
        """The optional quick-form fields a reporter filled in, valid for the live template."""
        r = self.rng
        fill = keep_source or r.random() < PROFILES[type_key].capture
        spec = self.specs.get(type_key)
        if spec is None or not fill:
            return {}
        kept: dict[str, Any] = {}
        for wanted in spec.capture_fields:
            if wanted.key not in values:
                continue
            forced = keep_source and wanted.key == "source_of_discrepancy"
            if not forced and r.random() >= 0.8:
                continue  # people skip some optional fields
            value = values[wanted.key]
            if wanted.kind == "choice" and value not in wanted.options:
                continue
            if wanted.kind == "yes_no" and not isinstance(value, bool):
                continue
            kept[wanted.key] = value
        return kept


def _report_rows(places: DemoPlaces, taxonomy: TaxonomySpec, *, reports: int, seed: int,
                 months: int, now: datetime, zone: ZoneInfo,
                 safeguarding_minutes: int = 60) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Yield (report row as filed, planted pattern or None) in order of reported_at.

    `safeguarding_minutes`: how soon a safeguarding escalation must be acknowledged (the open
    concern is reported long enough ago to be overdue). Memory stays flat: the rows are made
    day by day and held only until no later row can be reported before them.
    """
    if reports <= 0:
        return
    rng = random.Random(seed)
    start, _ = demo_window(now, months)
    go_live = medication_control_go_live(now, months)
    generator = _Generator(places, taxonomy, rng, zone, now, go_live)
    now_local = to_local(now, zone)
    first_day = to_local(start, zone).date() + timedelta(days=1)
    days = [first_day + timedelta(days=i) for i in range((now_local.date() - first_day).days + 1)]
    elapsed_today = (now_local - datetime.combine(now_local.date(), time())) / timedelta(days=1)

    def day_weight(index: int, day: date) -> float:
        fraction = index / max(1, len(days) - 1)
        weight = _WEEKDAY[day.weekday()] * (0.8 + 0.4 * fraction)  # reporting culture grows
        return weight * (elapsed_today if day == now_local.date() else 1.0)

    # Planted counts scale with the reports asked for, each capped at a tenth of them.
    cap = reports // 10
    services = places.services
    north = [i for i, s in enumerate(services) if s.region == LATE_START_REGION] or \
        list(range(len(services)))
    maple = next((i for i, s in enumerate(services) if s.spec.name == BATHROOM_SERVICE
                  and any(p.spec.name == BATHROOM_LOCATION for p in s.places)), None)
    types = set(generator.tables.types)
    n_late = _planted_count("late_cluster", reports) if "late_shift_start" in types else 0
    n_med = _planted_count("family_note", reports) if "medication_discrepancy" in types else 0
    # d. One safeguarding concern reported a few hours ago that nobody has acknowledged yet
    #    (it is reported at most 40 minutes after it happened: overdue by an hour or more).
    open_local: datetime | None = None
    if "safeguarding_rights" in types and cap >= 1:
        open_local = now_local.replace(second=0) - timedelta(
            minutes=safeguarding_minutes + rng.randint(90, 300))
    n_open = 1 if open_local is not None else 0

    # b. The bathroom doorway: a near fall every 2-3 weeks, more per visit at large scale.
    slots: list[int] = []
    if maple is not None and "transfer_near_fall" in types:
        slot = rng.randint(0, 10)
        while slot < len(days):
            slots.append(slot)
            slot += rng.randint(14, 21)
    n_bathroom = min(max(len(slots), round(0.012 * reports)), cap) if slots else 0
    bathroom = [0] * len(days)
    for slot, count in zip(slots, _allocate(n_bathroom, [1.0] * len(slots), rng), strict=True):
        for _ in range(count):
            spread = 0 if count <= 3 else rng.randint(0, 3)
            bathroom[min(slot + spread, len(days) - 1)] += 1

    # a. The late-start cluster: a 3-week bulge in the North, busiest mid-window.
    cluster_start, cluster_end = late_start_cluster_window(now, months)
    first_cluster_day = to_local(cluster_start, zone).date()
    last_cluster_day = to_local(cluster_end, zone).date()
    in_cluster = [i for i, d in enumerate(days) if first_cluster_day <= d < last_cluster_day]
    late = [0] * len(days)
    if in_cluster:
        weights = [(math.sin(math.pi * (k + 0.5) / len(in_cluster)) + 0.3)
                   * (1.0 if days[i].weekday() < 5 else 0.6) * _noise(rng, 0.3)
                   for k, i in enumerate(in_cluster)]
        for i, count in zip(in_cluster, _allocate(n_late, weights, rng), strict=True):
            late[i] = count
    else:
        n_late = 0

    # c. Family-note mismatches: flat, a steady rise, then a fall once the control is live.
    rise_start = medication_rise_start(now, months)
    rise_length = go_live - rise_start

    def family_note_rate(day: date) -> float:
        moment = to_utc(datetime.combine(day, time(12)), zone)
        if moment < rise_start:
            return 1.0
        if moment < go_live:
            return 1.0 + 5.0 * ((moment - rise_start) / rise_length)
        settled = (moment - go_live) / timedelta(days=FAMILY_NOTE_SETTLE_DAYS)
        return 6.0 - 5.4 * min(1.0, settled)

    family_note = _allocate(n_med, [
        family_note_rate(d) * (1.0 if d.weekday() < 5 else 0.8) * _noise(rng, 0.25)
        * (elapsed_today if d == now_local.date() else 1.0) for d in days], rng)

    background = _allocate(reports - n_late - n_med - n_bathroom - n_open,
                           [day_weight(i, d) * _noise(rng, 0.25) for i, d in enumerate(days)],
                           rng)
    med_services = generator.tables.service_cum.get("medication_discrepancy")
    north_cum = _cum([services[i].spec.volume
                      * PROFILES["late_shift_start"].kinds.get(services[i].spec.kind, 1.0)
                      for i in north])

    pending: list[tuple[datetime, int, dict[str, Any], str | None]] = []
    sequence = 0
    for index, day in enumerate(days):
        made: list[tuple[dict[str, Any], str | None]] = []
        for _ in range(bathroom[index]):
            made.append((generator.row("transfer_near_fall", day,
                                       _Planted("bathroom", maple or 0)), "bathroom"))
        for _ in range(late[index]):
            service_index = north[_pick(rng, north_cum)]
            made.append((generator.row("late_shift_start", day,
                                       _Planted("late_cluster", service_index)), "late_cluster"))
        for _ in range(family_note[index]):
            assert med_services is not None
            made.append((generator.row("medication_discrepancy", day,
                                       _Planted("family_note", _pick(rng, med_services))),
                         "family_note"))
        if open_local is not None and day == open_local.date():
            service_index = _pick(rng, generator.tables.service_cum["safeguarding_rights"])
            made.append((generator.row("safeguarding_rights", day, _Planted(
                "open_safeguarding", service_index, open_local)), "open_safeguarding"))
        for _ in range(background[index]):
            type_key = generator.tables.types[_pick(rng, generator.tables.type_cum)]
            made.append((generator.row(type_key, day), None))
        for row, kind in made:
            heapq.heappush(pending, (row["reported_at"], sequence, row, kind))
            sequence += 1
        # Rows made later happen on later days, so anything reported before tomorrow is final.
        boundary = to_utc(datetime.combine(day + timedelta(days=1), time()), zone)
        while pending and pending[0][0] < boundary:
            _at, _seq, row, kind = heapq.heappop(pending)
            yield row, kind
    while pending:
        _at, _seq, row, kind = heapq.heappop(pending)
        yield row, kind


# ---------------------------------------------------------------------------------------------
# After filing: triage, escalations and notifications, as a provider that triages promptly
# ---------------------------------------------------------------------------------------------

TRIAGE_BACKLOG_DAYS = 3  # every report older than this is triaged; younger ones may wait
_SLOWEST_TRIAGE = timedelta(hours=70)  # "a few slower": still inside the backlog window
# Share of the reports of the last few days still waiting for triage, by age in whole days:
# the board's "New" column (10-30 cards with the default 2,500 reports).
_STILL_NEW = (0.95, 0.8, 0.55)
NOTIFY_DAYS = 14  # notifications only for recent escalations: older ones would be noise
_WAITING_HOURS = 48  # an escalation of a still-new report this recent may still be waiting
_LATE_ACKNOWLEDGEMENTS = 0.07  # share acknowledged after the allowed time

# Severity potential (high, medium, low) by type: deterioration and safeguarding concerns are
# mostly high, unsafe conditions and transport mostly low or medium.
_SEVERITY_MIX: dict[str, tuple[float, float, float]] = {
    "transfer_near_fall": (0.25, 0.5, 0.25),
    "medication_discrepancy": (0.3, 0.5, 0.2),
    "staffing_visit_continuity": (0.15, 0.5, 0.35),
    "skin_integrity_deterioration": (0.6, 0.35, 0.05),
    "interface_failure": (0.25, 0.55, 0.2),
    "late_shift_start": (0.1, 0.5, 0.4),
    "safeguarding_rights": (0.55, 0.4, 0.05),
    "environment_equipment": (0.15, 0.45, 0.4),
    "transport": (0.1, 0.45, 0.45),
    "community_safety": (0.2, 0.5, 0.3),
    "other": (0.05, 0.35, 0.6),
}
_PLANTED_SEVERITY: dict[str, tuple[float, float, float]] = {
    "bathroom": (0.4, 0.5, 0.1),  # the same person nearly falls again and again
    "late_cluster": (0.2, 0.6, 0.2),
    "family_note": (0.35, 0.5, 0.15),
}
_SEVERITIES = (Severity.HIGH, Severity.MEDIUM, Severity.LOW)  # the order of the mixes
_DEEPER_INVESTIGATION = 0.08  # the triager asks for more than the matrix's minimum


@lru_cache(maxsize=64)
def _severity_weights(mix: tuple[float, float, float]) -> list[float]:
    return _cum(mix)

# Types where the triager sometimes finds a safeguarding signal the reporter did not flag.
_TRIAGE_SIGNALS: dict[str, tuple[float, str]] = {
    "community_safety": (0.05, "abuse_or_neglect_concern"),
    "staffing_visit_continuity": (0.02, "abuse_or_neglect_concern"),
    "transport": (0.02, "rights_restriction"),
    "transfer_near_fall": (0.01, "restraint_related"),
    "medication_discrepancy": (0.01, "abuse_or_neglect_concern"),
    "other": (0.03, "boundary_issue"),
}
# The signals a safeguarding concern's own words point at (see _CONCERNS).
_SIGNAL_CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PIN", ("financial_exploitation",)),
    ("lend money", ("boundary_issue", "financial_exploitation")),
    ("bank card", ("boundary_issue", "financial_exploitation")),
    ("locked from the outside", ("rights_restriction",)),
    ("Bed rails", ("restraint_related",)),
    ("lap belt", ("restraint_related", "rights_restriction")),
    ("shouted", ("abuse_or_neglect_concern",)),
    ("punishment", ("rights_restriction",)),
)
_TRIAGE_SAFEGUARDING_REASON = ("Triage found a safeguarding or rights signal: decide on "
                               "safeguarding and external reporting.")  # as core.triage.service

# Which lead triages a report routed to them (else a supervisor of the service, or quality).
_LEAD_TRIAGES: dict[str, float] = {"safeguarding": 0.6, "clinical": 0.3, "operations": 0.25}
_QUALITY_TRIAGES = 0.15

_TRIAGE_NOTES: dict[str, tuple[str, ...]] = {
    "single": ("Checked the details with the reporter.",
               "Supervisor to follow up at the next team meeting.",
               "Reporter thanked; nothing similar in the last three months."),
    "repeat": ("Seen before here: look at what the earlier reports changed.",
               "Same person or place as earlier reports; check the control is still in place.",
               "Repeat theme: bring to the weekly cluster review."),
    "cluster": ("Part of the late-start cluster in the North: how is cover confirmed after a "
                "rota change?",
                "Cluster across the region's services: for the quality lead's review."),
}

# Minutes from acknowledging to deciding, by escalation kind (low, high).
_DECIDE_MINUTES: dict[str, tuple[int, int]] = {
    "safeguarding": (20, 20 * 60), "supervisor_alert": (5, 3 * 60),
    "clinical_review": (60, 8 * 60), "operations": (4 * 60, 5 * 24 * 60),
}
_EXTERNAL_SHARE: dict[str, float] = {
    "financial_exploitation": 0.45, "boundary_issue": 0.3, "rights_restriction": 0.4,
    "restraint_related": 0.35, "abuse_or_neglect_concern": 0.5,
}
_REPORTED_TO = ("Adult protective services", "Adult protective services and the police "
                "non-emergency line", "The person's case manager and adult protective services",
                "State licensing agency")
_SAFEGUARDING_REASONS: dict[str, tuple[str, str]] = {  # signal: (reported, not reported)
    "financial_exploitation": (
        "Attempted financial exploitation: referred the same day, the bank alerted with the "
        "person's consent and the money-handling plan reviewed.",
        "No money was lost and the person refused: handled in the service, money-handling plan "
        "reviewed and family told."),
    "boundary_issue": (
        "Boundary concern about another agency's worker: referred, and their agency told.",
        "Boundary conversation with the worker's agency; below the referral threshold, "
        "monitoring for four weeks."),
    "rights_restriction": (
        "Unplanned restriction of the person's rights: reportable; referred and stopped at once.",
        "Restriction stopped at once and the plan updated; explained to the family; below the "
        "threshold for an external report."),
    "restraint_related": (
        "Restraint-related practice without the required assessment: reported, practice "
        "stopped pending review.",
        "Equipment used against the plan: stopped, best-interests review booked; no harm, no "
        "referral needed."),
    "abuse_or_neglect_concern": (
        "Possible abuse or neglect: referral made and a protection plan agreed.",
        "Talked with the person: no sign of abuse or neglect; support plan updated and "
        "monitoring agreed."),
}
_PERSON_SAFE_NOTES = (
    "Went to see the person at once: settled and safe; safeguards in place until the review.",
    "Rang the worker on shift: person safe, second worker with them, checked again an hour later.",
    "On-call supervisor visited: person comfortable; checks every 30 minutes started.",
    "Confirmed with the shift lead by phone: person safe, plan followed, handover updated.",
)
_CLINICAL_OUTCOMES = (
    "Category 1 pressure damage: repositioning every two hours, pressure cushion, skin check "
    "each visit; review in 48 hours.",
    "Category 2 pressure ulcer: district nurse dressing plan, air mattress ordered, daily checks.",
    "Skin intact on review: continue daily checks; handover template updated.",
    "Early signs of infection: GP contacted the same day; fluids and observations every four "
    "hours.",
    "Possible chest infection: GP home visit arranged, observations every four hours, family "
    "told.",
)
_PATHWAY_ENTERED = ("Scheduling system", "Electronic care record", "Email to the office inbox",
                    "Pharmacy portal", "Paper diary in the office")
_PATHWAY_RECEIVER = ("Worker on the next shift", "Evening visit worker",
                     "Whole team at handover", "The person's key worker", "Day programme staff")
_PATHWAY_FAILED = ("No read receipt on plan changes", "Change not pushed to the rota app",
                   "Office did not ring the team after the change",
                   "Handover sheet not updated",
                   "Nobody confirmed the change at the start of the visit")
_PATHWAY_NOTES = ("", "Confirmation step added to the change process; audit in four weeks.",
                  "Same gap as an earlier interface failure; on the operations meeting agenda.")


@dataclass
class _Slot:
    """Where a report's id arrives once it is stored (triage records point at earlier ones)."""

    seq: int  # its place in the generated sequence: what makes two runs compare equal
    id: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DemoNotice:
    """A notification to one recipient of an escalation."""

    user_id: int
    read_at: datetime | None


@dataclass
class DemoEscalation:
    """An escalations row (without report_id) and the notifications it sent."""

    row: dict[str, Any]
    where: str  # "Maple House, Bathroom doorway": for the notification's text
    notices: tuple[DemoNotice, ...] = ()


@dataclass
class DemoRecord:
    """One demo near miss with everything that happened to it up to `now`."""

    report: dict[str, Any]  # a near_miss_reports row (the reference is added when stored)
    slot: _Slot
    triage: dict[str, Any] | None = None  # a triage_records row without report_id
    related: tuple[_Slot, ...] = ()  # earlier reports the triager linked
    transitions: list[dict[str, Any]] = field(default_factory=list)  # without report_id
    escalations: list[DemoEscalation] = field(default_factory=list)
    review: dict[str, Any] | None = None  # a reviews row without report_id
    gate_checks: list[dict[str, Any]] = field(default_factory=list)  # without report_id
    evidence: list[dict[str, Any]] = field(default_factory=list)  # validation_evidence rows
    communications: list[dict[str, Any]] = field(default_factory=list)
    plan: str | None = None  # the key of the action plan that links it (see _demo_plans)


class _History:
    """Decides what happened to each report after filing (its own seeded Random).

    Reports come in reporting order; the planner remembers the latest report per (type,
    person) and (type, location) to find repeats, which keeps memory flat.
    """

    def __init__(self, places: DemoPlaces, taxonomy: TaxonomySpec, *, seed: int, now: datetime,
                 rules: Settings, plans: Sequence[_PlanSpec] = ()):
        # A separate stream: the history never changes the reports a seed gives.
        self.rng = random.Random(f"demo-history-{seed}")
        self.flow = _Workflow(places, taxonomy, seed=seed, now=now, rules=rules, plans=plans)
        self.now, self.rules = now, rules
        self.specs = {t.key: t for t in taxonomy.types}
        self.signal_keys = [s.key for s in taxonomy.safeguarding_signals]
        self.services = {s.id: s for s in places.services}
        self.places = {p.id: p.spec.name for s in places.services for p in s.places}
        # "Person's home: kitchen" is every client's kitchen: sharing it is no repeat theme.
        self.generic_places = {p.id for s in places.services if s.spec.kind == HOME_CARE
                               for p in s.places if p.spec.tags & {"home", "community"}}
        self.leads = places.leads
        self.window = timedelta(days=rules.triage.recurrence_window_days)
        self.levels = {(severity, recurrence): review_level(severity, recurrence, rules.triage)
                       for severity in Severity for recurrence in Recurrence}
        self.latest: dict[tuple[str, str, int], tuple[datetime, _Slot]] = {}
        self.cluster: list[tuple[datetime, _Slot]] = []  # the latest planted cluster members
        self.seq = 0

    # -- flags at filing ------------------------------------------------------------------

    def recurrence(self, row: dict[str, Any], slot: _Slot,
                   planted: str | None) -> tuple[Recurrence, tuple[_Slot, ...]]:
        """Repeat when an earlier report of the type shares the person or the place within the
        recurrence window (a cheap form of propose_recurrence); the planted cluster is one."""
        occurred, type_key = row["occurred_at"], row["type_key"]
        keys: list[tuple[str, str, int]] = []
        if row["location_id"] not in self.generic_places:
            keys.append(("location", type_key, row["location_id"]))
        if row["person_id"] is not None:
            keys.append(("person", type_key, row["person_id"]))
        related: list[_Slot] = []
        for key in keys:
            seen = self.latest.get(key)
            if seen is not None and occurred - self.window <= seen[0] <= occurred \
                    and all(s is not seen[1] for s in related):
                related.append(seen[1])
            if seen is None or seen[0] <= occurred:
                self.latest[key] = (occurred, slot)
        if planted == "late_cluster":
            # Reporting order is not occurrence order: link only members that happened before.
            earlier = tuple(s for at, s in self.cluster if at <= occurred)[-2:]
            self.cluster = [*self.cluster[-3:], (occurred, slot)]
            return Recurrence.CLUSTER, earlier
        if related or planted == "bathroom":  # the doorway has been a problem all along
            return Recurrence.REPEAT, tuple(related)
        return Recurrence.SINGLE, ()

    # -- the record -----------------------------------------------------------------------

    def plan(self, row: dict[str, Any], planted: str | None) -> DemoRecord:
        spec = self.specs[row["type_key"]]
        slot = _Slot(self.seq)
        self.seq += 1
        recurrence, related = self.recurrence(row, slot, planted)
        row.update(stop_the_line=spec.stop_the_line, safeguarding=spec.safeguarding_signal,
                   is_repeat=recurrence is not Recurrence.SINGLE,
                   in_cluster=recurrence is Recurrence.CLUSTER,
                   status_changed_at=row["reported_at"], severity=None, review_level=None,
                   routed_to=None, triaged_at=None)
        record = DemoRecord(row, slot, related=related)
        service = self.services[row["service_id"]]
        signals, external = self.signals(row, spec)
        triaged_at = None if planted == "open_safeguarding" else self.triage_time(row)
        if triaged_at is not None:
            triager = self.triager(service, self.route(row, spec, signals))
            if triager is not None:
                self.triage(record, spec, recurrence, signals, external, triager, triaged_at,
                            planted)
                self.flow.advance(record, planted, service)
        where = f"{service.spec.name}, {self.places.get(row['location_id'], '?')}"
        new = row["status"] == ReportStatus.NEW.value
        for need in needs_for_new_report(spec, still_at_risk=row["still_at_risk"],
                                         interface_flag=row["interface_flag"]):
            waiting = planted == "open_safeguarding" and need.kind is EscalationKind.SAFEGUARDING
            record.escalations.append(self.escalation(
                need.kind, need.reason, row["reported_at"], row["reporter_id"], service, where,
                new=new, waiting=waiting, signals=signals, external=external))
        if record.triage is not None and signals and not spec.safeguarding_signal:
            # The triage answer raised it (core.triage.service.triage_report).
            record.escalations.append(self.escalation(
                EscalationKind.SAFEGUARDING, _TRIAGE_SAFEGUARDING_REASON,
                record.triage["triaged_at"], record.triage["triaged_by_id"], service, where,
                new=False, waiting=False, signals=signals, external=external))
        return record

    def signals(self, row: dict[str, Any], spec: NearMissTypeSpec) -> tuple[list[str], bool]:
        """The safeguarding signals the triager records, and whether it is reported outside."""
        r = self.rng
        found: set[str] = set()
        if spec.safeguarding_signal:
            text = row["description"]
            for cue, keys in _SIGNAL_CUES:
                if cue in text:
                    found.update(keys)
            found = found or {"abuse_or_neglect_concern"}
        else:
            chance, signal = _TRIAGE_SIGNALS.get(spec.key, (0.0, ""))
            if chance and r.random() < chance:
                found = {signal}
        if not found:
            return [], False
        usable = sorted(k for k in found if k in self.signal_keys)
        if not usable and self.signal_keys:
            usable = [self.signal_keys[0]]
        share = max((_EXTERNAL_SHARE.get(k, 0.3) for k in usable), default=0.3)
        if not spec.safeguarding_signal:
            share /= 2  # found at triage: usually handled within the service
        return usable, r.random() < share

    def route(self, row: dict[str, Any], spec: NearMissTypeSpec,
              signals: list[str]) -> TriageRoute:
        """As core.triage.proposal.proposed_route, on the report as triage leaves it."""
        if spec.safeguarding_signal or signals:
            return TriageRoute.SAFEGUARDING
        if row["interface_flag"] and spec.route_to == "supervisor":
            return TriageRoute.OPERATIONS
        return TriageRoute(spec.route_to)

    def triage_time(self, row: dict[str, Any]) -> datetime | None:
        """When the report was triaged, or None while it is still waiting (the backlog)."""
        r, reported = self.rng, row["reported_at"]
        urgent = row["still_at_risk"] or self.specs[row["type_key"]].stop_the_line \
            or self.specs[row["type_key"]].safeguarding_signal
        band = r.random()
        if urgent:  # the on-call supervisor triages these at once, day or night
            minutes = r.uniform(10, 120) if band < 0.85 else r.uniform(120, 480)
        elif band < 0.55:
            minutes = r.uniform(30, 6 * 60)
        elif band < 0.8:
            minutes = r.uniform(6 * 60, 24 * 60)
        elif band < 0.95:
            minutes = r.uniform(24 * 60, 48 * 60)
        else:
            minutes = r.uniform(48 * 60, 66 * 60)
        at = reported + timedelta(minutes=minutes)
        if not urgent:
            local = to_local(at, self.rules.zone)
            if local.hour >= 22 or local.hour < 7:  # nobody triages routine reports at night
                morning = local.date() + timedelta(days=1 if local.hour >= 22 else 0)
                at = to_utc(datetime.combine(morning, time(7, 30))
                            + timedelta(minutes=r.randint(0, 150)), self.rules.zone)
            at = min(at, reported + _SLOWEST_TRIAGE)
        age = self.now - reported
        if age < timedelta(days=TRIAGE_BACKLOG_DAYS):
            still_new = _STILL_NEW[min(int(age / timedelta(days=1)), len(_STILL_NEW) - 1)]
            if r.random() < (still_new / 2 if urgent else still_new):
                return None
            if at > self.now:  # triaged, so some time between reporting and now
                at = reported + (self.now - reported) * r.uniform(0.2, 0.9)
        return at.replace(microsecond=0)

    def triager(self, service: DemoService, route: TriageRoute) -> int | None:
        """A lead for the reports routed to them, else a supervisor of the service or quality."""
        r = self.rng
        leads = self.leads.get(route.value, ())
        if leads and r.random() < _LEAD_TRIAGES.get(route.value, 0.0):
            return leads[0]
        quality = self.leads.get(Role.QUALITY.value, ())
        if service.supervisors and (not quality or r.random() >= _QUALITY_TRIAGES):
            return r.choice(service.supervisors)
        if quality:
            return quality[0]
        return next((ids[0] for ids in self.leads.values() if ids), None)

    def triage(self, record: DemoRecord, spec: NearMissTypeSpec, recurrence: Recurrence,
               signals: list[str], external: bool, triager: int, at: datetime,
               planted: str | None) -> None:
        """The four questions answered, the matrix applied and the report moved to triaged."""
        r, row = self.rng, record.report
        mix = _PLANTED_SEVERITY.get(planted or "", _SEVERITY_MIX.get(spec.key, (0.2, 0.5, 0.3)))
        if row["still_at_risk"]:  # someone still at risk: never low potential
            mix = (mix[0] + 0.5 * mix[2], mix[1] + 0.5 * mix[2], 0.0)
        severity = r.choices(_SEVERITIES, cum_weights=_severity_weights(mix))[0]
        level = self.levels[severity, recurrence]  # core.triage.matrix.review_level
        investigation = level
        if level is not ReviewLevel.ROOT_CAUSE_ANALYSIS and r.random() < _DEEPER_INVESTIGATION:
            investigation = list(ReviewLevel)[level.depth + 1]
        route = self.route(row, spec, signals)
        notes = r.choice(_TRIAGE_NOTES[recurrence.value]) if r.random() < 0.3 else None
        record.triage = {
            "at_risk_now": row["still_at_risk"],
            "immediate_safeguards": row["immediate_safeguards"] if row["still_at_risk"] else None,
            "safeguarding_trigger": bool(signals), "safeguarding_signals": signals,
            "external_reporting": external, "recurrence": recurrence.value,
            "severity": severity.value, "matrix_level": level.value,
            "investigation": investigation.value, "route": route.value, "notes": notes,
            "triaged_by_id": triager, "triaged_at": at,
        }
        row.update(status=ReportStatus.TRIAGED.value, status_changed_at=at,
                   severity=severity.value, review_level=investigation.value,
                   routed_to=route.value, triaged_at=at, safeguarding=row["safeguarding"]
                   or bool(signals), version_id=row["version_id"] + 1)
        record.transitions.append({
            "from_status": ReportStatus.NEW.value, "to_status": ReportStatus.TRIAGED.value,
            "at": at, "actor_id": triager, "reason": f"Triaged: {level.label} by the matrix"})

    # -- escalations ----------------------------------------------------------------------

    def escalation(self, kind: EscalationKind, reason: str, raised_at: datetime,
                   raised_by: int | None, service: DemoService, where: str, *, new: bool,
                   waiting: bool, signals: list[str], external: bool) -> DemoEscalation:
        """Raised, acknowledged (mostly in time) and decided, as far as `now` allows."""
        r, now = self.rng, self.now
        allowed = self.rules.escalation.acknowledge_within_minutes[kind.value]
        row: dict[str, Any] = {
            "kind": kind.value, "reason": reason, "raised_at": raised_at,
            "raised_by_id": raised_by, "due_at": escalation_due(kind, raised_at,
                                                                self.rules.escalation),
            "acknowledged_at": None, "acknowledged_by_id": None, "decided_at": None,
            "decided_by_id": None,
        }
        recipients = (service.supervisors if kind is EscalationKind.SUPERVISOR_ALERT
                      else self.leads.get(kind.recipient_role.value, ()))
        late = r.random() < _LATE_ACKNOWLEDGEMENTS
        acknowledged = raised_at + timedelta(
            minutes=allowed * (r.uniform(1.1, 3.0) if late else r.uniform(0.1, 0.95)))
        decided = acknowledged + timedelta(minutes=r.uniform(*_DECIDE_MINUTES[kind.value]))
        # A new report's recent escalation may still be waiting: the inbox has work in it.
        waiting = waiting or (new and now - raised_at < timedelta(hours=_WAITING_HOURS)
                              and r.random() < 0.3)
        actor = None
        if recipients and not waiting and acknowledged <= now:
            actor = recipients[0] if kind is not EscalationKind.SUPERVISOR_ALERT \
                else r.choice(recipients)
            row.update(acknowledged_at=acknowledged.replace(microsecond=0),
                       acknowledged_by_id=actor)
            if decided <= now:
                row.update(decided_at=decided.replace(microsecond=0), decided_by_id=actor,
                           decision=self.decision(kind, acknowledged, decided, signals,
                                                  external))
        notices: tuple[DemoNotice, ...] = ()
        if raised_at >= now - timedelta(days=NOTIFY_DAYS):
            notices = tuple(DemoNotice(user, self.read_at(user, actor, row["acknowledged_at"]))
                            for user in recipients)
        return DemoEscalation(row, where, notices)

    def read_at(self, user: int, actor: int | None,
                acknowledged: datetime | None) -> datetime | None:
        """Read when acknowledged by them; others who were told read it a little later."""
        if acknowledged is None:
            return None
        if user == actor:
            return acknowledged
        seen = acknowledged + timedelta(minutes=self.rng.randint(5, 8 * 60))
        return seen if seen <= self.now else None

    def decision(self, kind: EscalationKind, acknowledged: datetime, decided: datetime,
                 signals: list[str], external: bool) -> dict[str, Any]:
        """A decision in the shape core.escalation.service stores for the kind."""
        r = self.rng
        if kind is EscalationKind.SAFEGUARDING:
            fallback = _SAFEGUARDING_REASONS["abuse_or_neglect_concern"]
            made, kept = _SAFEGUARDING_REASONS.get(signals[0], fallback) if signals else fallback
            told = acknowledged + (decided - acknowledged) * r.uniform(0.2, 0.9)
            return {"external_report_made": external,
                    "reported_to": r.choice(_REPORTED_TO) if external else None,
                    "reported_at": told.isoformat(timespec="minutes") if external else None,
                    "reason": made if external else kept}
        if kind is EscalationKind.OPERATIONS:
            return {"where_entered": r.choice(_PATHWAY_ENTERED),
                    "who_should_have_received": r.choice(_PATHWAY_RECEIVER),
                    "failed_confirmation_step": r.choice(_PATHWAY_FAILED),
                    "notes": r.choice(_PATHWAY_NOTES)}
        if kind is EscalationKind.CLINICAL_REVIEW:
            return {"how": r.choice(CLINICAL_REVIEW_WAYS), "outcome": r.choice(_CLINICAL_OUTCOMES)}
        return {"note": r.choice(_PERSON_SAFE_NOTES)}


# ---------------------------------------------------------------------------------------------
# After triage: review, gates, validation evidence, closure, and the plans reports wait on
# ---------------------------------------------------------------------------------------------

# Hours from one step to the next by review level (low, high; most near the low end): the
# review starts, the review is done (every gate ticked), the report is validated and closed.
_START_HOURS: dict[str, tuple[float, float]] = {
    "none": (1, 30), "supervisor_review": (4, 96), "barrier_review": (12, 144),
    "root_cause_analysis": (24, 192)}
_REVIEW_HOURS: dict[str, tuple[float, float]] = {
    "none": (0.3, 8), "supervisor_review": (2, 72), "barrier_review": (24, 168),
    "root_cause_analysis": (72, 336)}
_VALIDATE_HOURS: dict[str, tuple[float, float]] = {
    "none": (2, 48), "supervisor_review": (20, 168), "barrier_review": (48, 240),
    "root_cause_analysis": (96, 336)}
_STALLED_IN_REVIEW = 0.005  # blocked by a "cannot proceed without" gate nobody can tick yet
_STALLED_VALIDATING = 0.003  # waiting for the last piece of validation evidence
_NOT_APPLICABLE = 0.3  # of the gates that may be marked not applicable
_QUALITY_REVIEWS = 0.12
_QUALITY_CLOSES = 0.2
# Who reviews a report routed to a lead (else a supervisor of the service).
_LEAD_REVIEWS: dict[str, float] = {"safeguarding": 0.7, "clinical": 0.5, "operations": 0.6}


def _span(rng: random.Random, bounds: tuple[float, float]) -> timedelta:
    """Hours between `bounds`, most near the low end, to the whole second."""
    low, high = bounds
    return timedelta(seconds=int(3600 * (low + (high - low) * rng.random() ** 1.6)))


_REVIEW_TEXT: dict[tuple[str, str], tuple[str, ...]] = {
    ("transfer_near_fall", "transfer_task"): (
        "Bathroom routine", "Bed to chair transfer", "Stand from the armchair",
        "Toilet transfer", "Getting up in the morning", "Walk to the dining table"),
    ("transfer_near_fall", "staff_present"): (
        "One DSP", "Two staff: a DSP and the shift lead", "One worker; the second was on a break",
        "Two DSPs", "One worker (agency)"),
    ("transfer_near_fall", "immediate_action"): (
        "Steadied {them}, sat {them} down and checked for injury.",
        "Held {their} arm, brought the walker over and finished the transfer with two staff.",
        "Lowered {them} to a chair; checked over by the shift lead."),
    ("transfer_near_fall", "support_plan_guidance"): (
        "Walker within reach and one staff at {their} side for bathroom transfers.",
        "Two staff for transfers after 6 pm; walker parked by the door first.",
        "Prompt {them} to use the grab rail; walking aid within reach at all times."),
    ("transfer_near_fall", "environmental_condition"): _ENVIRONMENT,
    ("transfer_near_fall", "supervisor_review"): (
        "Walked through the routine with the shift: the walker is parked wherever the last "
        "person left it.",
        "Checked the room and the plan with the team; the guidance is not on display where the "
        "transfer happens.",
        "Reviewed on the next shift: staff knew the plan but the space is tight at the door.",
        "Observed the next two routines: walking aid in place both times."),
    ("medication_discrepancy", "worker_action"): tuple(_MED_ACTIONS.values()),
    ("medication_discrepancy", "current_presentation"): (
        "Settled and well", "Usual self; no change", "Well; asked about the new tablets",
        "A little more confused than usual this evening", "Comfortable; no side effects seen"),
    ("medication_discrepancy", "clinical_advice_decision"): (
        "Pharmacist confirmed the new dose in the family note; prompt given at the new dose.",
        "GP surgery confirmed the change; prompt given as the note said.",
        "Advice line: hold the dose until the pharmacy confirms the change in the morning.",
        "Nurse confirmed the care plan dose is current; the family note was out of date."),
    ("medication_discrepancy", "representative_communication"): (
        "Daughter told by phone the same day and asked to send changes to the office.",
        "Son told at the next visit; he will email changes to the office from now on.",
        "No representative: discussed with {them} directly.",
        "Family told; they had assumed the office already knew."),
    ("medication_discrepancy", "next_visit_instruction"): (
        "Check the family note against the care plan before every prompt.",
        "Prompt at the confirmed dose; call the office if the note and the plan differ.",
        "Use the updated record only; the old note is removed from the folder."),
    ("staffing_visit_continuity", "worker_delay_reason"): tuple(
        _sentence(d.removeprefix("an ").removeprefix("a ")) for d in _DELAY_REASONS),
    ("staffing_visit_continuity", "essential_tasks_due"): tuple(
        _sentence(t) for t in _TASKS_DUE),
    ("staffing_visit_continuity", "person_communication"): (
        "Rang {them} to say the worker was on the way.",
        "Daughter told about the later time; she was happy to wait.",
        "Told {them} at the door and apologised for the delay.",
        "Left a message for the family; they called back later."),
    ("staffing_visit_continuity", "supervisor_decision"): (
        "Backup sent from the rota; essential tasks first.",
        "Visit moved 40 minutes later with the person's agreement; the next visit swapped.",
        "Off-route worker redirected; route to be reviewed.",
        "Coordinator to keep a named backup for this run's evening visits."),
    ("staffing_visit_continuity", "outcome_after_support"): (
        "All essential tasks done; person settled.",
        "Meal and medication prompt given 35 minutes late; no harm.",
        "Visit completed by the backup worker; person comfortable.",
        "Bedtime support done; the family thanked the coordinator."),
    ("skin_integrity_deterioration", "last_documented"): _LAST_DOCUMENTED,
    ("skin_integrity_deterioration", "immediate_safeguards"): (
        "Repositioning every two hours, pressure cushion in place, heels off-loaded.",
        "Air mattress checked and set for {their} weight; turns charted.",
        "Skin checked at every visit; barrier cream and dressing as the nurse advised.",
        "Fluids encouraged, observations every four hours, GP told."),
    ("interface_failure", "where_entered"): _PATHWAY_ENTERED,
    ("interface_failure", "who_should_have_received"): _PATHWAY_RECEIVER,
    ("interface_failure", "failed_confirmation_step"): _PATHWAY_FAILED,
    ("interface_failure", "how_discovered"): tuple(_sentence(d) for d in _DISCOVERED),
    ("interface_failure", "what_changed"): tuple(c for c, _ in _CHANGES),
    ("interface_failure", "follow_up_requirement"): tuple(f for _, f in _CHANGES),
    ("late_shift_start", "coverage_confirmed_by"): (
        "Nobody: the rota showed the shift as covered",
        "The shift lead, by text, but the worker never replied",
        "The on-call supervisor, after the shift should have started",
        "The scheduler, before the rota changed again"),
    ("late_shift_start", "supports_at_risk"): (
        "Morning personal care and breakfast", "The 8:00 medication round",
        "Evening meal and bedtime support", "Community outing at 10:00",
        "Night checks and repositioning"),
    ("safeguarding_rights", "who_involved"): (
        "A caller claiming to be from the bank", "A new acquaintance of the person",
        "A worker from another agency", "A relative", "A visitor"),
    ("safeguarding_rights", "immediate_protection"): tuple(_PROTECTION.values()),
    ("safeguarding_rights", "safeguarding_lead_decision"): tuple(
        reason for pair in _SAFEGUARDING_REASONS.values() for reason in pair),
    ("environment_equipment", "made_safe"): _MADE_SAFE,
    ("transport", "journey"): tuple(_sentence(j) for j in _JOURNEYS),
    ("transport", "corrected_how"): (
        "Taxi booked with an accessible vehicle; {they} arrived on time.",
        "Appointment rebooked for next week and the family told.",
        "Driver given the right address; pickup 20 minutes late, appointment kept.",
        "Escort arranged from the day programme."),
    ("community_safety", "response"): tuple(_RESPONSES.values()),
}
# Choice fields: weights by option (missing options weigh 1), and the answer once it is done.
_CHOICE_WEIGHTS: dict[tuple[str, str], dict[str, float]] = {
    ("staffing_visit_continuity", "person_risk_level"): {"Low": 3, "Medium": 5, "High": 2},
    ("skin_integrity_deterioration", "nurse_review_arranged"): {
        "Same-day nurse review": 6.5, "Telehealth consult": 3, "Not yet arranged": 0.5},
}
_CHOICE_WHEN_DONE: dict[tuple[str, str], tuple[str, ...]] = {
    ("medication_discrepancy", "medication_record_status"): ("Corrected",),
    ("skin_integrity_deterioration", "nurse_review_arranged"): (
        "Same-day nurse review", "Same-day nurse review", "Telehealth consult"),
}
# Datetime fields: minutes after the near miss (local time, as the form stores them).
_DATETIME_MINUTES: dict[str, tuple[int, int]] = {
    "supervisor_contact_time": (5, 40), "supervisor_notified_at": (5, 40),
    "revised_arrival_time": (20, 90), "actual_start": (15, 90)}

_WHAT_STOPPED_HARM: dict[str, tuple[str, ...]] = {
    _STAFF_RECOVERY: ("The worker noticed and recovered it: vigilance, not a designed control.",
                      "Staff stepped in at the last moment.",
                      "The worker's own double-check; nothing in the process prompted it."),
    _DESIGNED: ("The {control} caught it, as designed.",
                "The {control} did its job before anyone was at risk."),
    _PERSON: ("{They} noticed and spoke up.", "{Their} family spotted it and rang the office."),
    _CHANCE: ("Nothing: it simply did not happen this time.", "Luck: no barrier was in place."),
}
_CONTROLS: dict[str, str] = {
    "transfer_near_fall": "pre-transfer check", "medication_discrepancy": "medication check",
    "staffing_visit_continuity": "late-visit alert and the rota's backup",
    "skin_integrity_deterioration": "daily skin check prompt",
    "interface_failure": "read-receipt check", "late_shift_start": "coverage check at handover",
    "safeguarding_rights": "money-handling checklist", "environment_equipment": "daily check",
    "transport": "day-before transport check", "community_safety": "outing risk plan",
}
_RELIABLE: dict[str, tuple[tuple[str, ...], list[float]]] = {  # barrier: (answers, cum weights)
    _DESIGNED: (("yes", "partly"), [0.7, 1.0]),
    _STAFF_RECOVERY: (("partly", "no"), [0.45, 1.0]),
    _PERSON: (("partly", "no"), [0.4, 1.0]),
    _CHANCE: (("no",), [1.0]),
}
_WORK_AGAIN: dict[str, tuple[tuple[str, ...], list[float]]] = {
    _DESIGNED: (("yes", "unsure"), [0.75, 1.0]),
    _STAFF_RECOVERY: (("yes", "unsure", "no"), [0.1, 0.6, 1.0]),
    _PERSON: (("unsure", "no"), [0.5, 1.0]),
    _CHANCE: (("no",), [1.0]),
}
_WORK_AGAIN_NOTES: dict[str, tuple[str, ...]] = {
    "yes": ("Built into the routine: it does not depend on who is on shift.",),
    "unsure": ("Depends on who is on shift and how busy it is.",
               "Probably, if the regular team is on."),
    "no": ("Not with agency staff or at the evening peak.",
           "Not under pressure: it relied on one person noticing."),
}
_RECLASSIFIED: dict[str, str] = {  # what a reviewer finds the barrier really was, now and then
    _DESIGNED: _STAFF_RECOVERY, _STAFF_RECOVERY: _CHANCE, _PERSON: _STAFF_RECOVERY,
    _CHANCE: _PERSON}
_FACTORS: dict[str, tuple[str, ...]] = {  # likely contributing factors by type, likeliest first
    "transfer_near_fall": ("equipment", "environment", "staffing", "support_planning"),
    "medication_discrepancy": ("communication", "support_planning", "supervision"),
    "staffing_visit_continuity": ("staffing", "timing", "communication"),
    "skin_integrity_deterioration": ("communication", "supervision", "support_planning"),
    "interface_failure": ("communication", "support_planning", "timing"),
    "late_shift_start": ("staffing", "communication", "supervision", "timing"),
    "safeguarding_rights": ("supervision", "support_planning", "communication"),
    "environment_equipment": ("equipment", "environment", "supervision"),
    "transport": ("communication", "timing", "support_planning"),
    "community_safety": ("environment", "support_planning", "staffing"),
}
_FINDINGS: dict[str, tuple[str, ...]] = {
    "transfer_near_fall": (
        "The walking aid was out of reach because nobody owns setting it up; the plan says "
        "where it goes but it is not on display.",
        "Tight space and a wet floor: the transfer relied on the worker catching {them}.",
        "Evening fatigue made {them} unsteady; the plan did not say to use two staff after "
        "6 pm."),
    "medication_discrepancy": (
        "The change reached the family before it reached the record; nothing tells workers to "
        "check the family note.",
        "The pharmacy's change was not in the record: no one owns entering it the same day.",
        "Handover note and MAR disagreed; the worker paused, which is the barrier we want."),
    "staffing_visit_continuity": (
        "The backup was found through informal knowledge of who was nearby; the rota shows no "
        "backup for essential visits.",
        "The run has no slack between 17:00 and 19:00: one urgent visit makes every later "
        "visit late."),
    "skin_integrity_deterioration": (
        "The change was seen but not handed over: the handover sheet has no prompt for skin "
        "changes.",
        "Notes were written after the handover, so the next shift did not know."),
    "interface_failure": (
        "The plan was updated in one system and nothing told the team: no confirmation step "
        "exists for plan changes.",
        "The change sat in the office inbox; the next-shift worker had no way to see it."),
    "late_shift_start": (
        "The rota changed late and nobody confirmed cover; the handover does not say who "
        "confirms it.",),
    "safeguarding_rights": (
        "Staff recognised the signal and acted; the plan did not cover this risk.",
        "Boundaries with other agencies' workers are not in the support plan."),
    "environment_equipment": (
        "Found on a walk-round, not on a scheduled check: no check covers this item.",
        "The fault had been there for days; the daily check does not include it."),
    "transport": (
        "The booking was made once and never confirmed: no day-before check exists.",),
    "community_safety": (
        "The outing risk plan did not cover this place or time of day.",),
}
_PLANTED_FINDINGS: dict[tuple[str, bool], tuple[str, ...]] = {  # (planted, after the control)
    ("bathroom", False): (
        "Same doorway again: the walker is parked by the bath, not the door. Staff recovery, "
        "not a control, stopped the fall.",
        "Repeat at the bathroom doorway: the space is tight and equipment positioning varies "
        "with who sets up the routine."),
    ("family_note", False): (
        "The family note had the newer dose; the record was out of date. Similar mismatches "
        "at other services: for the root cause analysis.",),
    ("family_note", True): (
        "The family-note check caught the mismatch before the prompt: the control worked as "
        "designed.",),
    ("late_cluster", False): (
        "Part of the late-start cluster: the rota changed after 8 pm and nobody confirmed "
        "cover.",),
}
_OUTCOMES: dict[str, str] = {
    "transfer_near_fall": "Transfer guidance on display and the team briefed; the follow-up "
                          "observation found the walking aid in place.",
    "medication_discrepancy": "Record corrected, workers briefed and the follow-up audit clean.",
    "staffing_visit_continuity": "Visit delivered; route reviewed and the backup list updated.",
    "skin_integrity_deterioration": "Nurse review done, safeguards in place and handovers "
                                    "complete on spot checks.",
    "interface_failure": "Latest plan confirmed at the point of care; confirmation step added.",
    "late_shift_start": "Cover confirmed for the following shifts; handover clarified.",
    "safeguarding_rights": "Person protected; decision and timeline recorded; plan reviewed.",
    "environment_equipment": "Hazard removed and the equipment checked on follow-up.",
    "transport": "Journey rebooked and the transport plan updated.",
    "community_safety": "Risk assessment updated; the next outing observed.",
}
_OUTCOME_TAILS: dict[str, str] = {
    "yes": " The control is reliable now.",
    "partly": " Partly reliable: kept on the repeat-theme watch list.",
    "no": " Still relies on staff: theme kept under review.",
}
_GATE_NOTES: dict[str, tuple[str, ...]] = {
    "person_remains_safe": ("Checked on {them} the same day: safe and settled.",
                            "Seen by the shift lead: no injury, settled."),
    "staff_briefing": ("Team briefed at handover; names on the briefing sheet.",
                       "Discussed at the team meeting; every shift briefed by the end of the "
                       "week."),
    "visible_transfer_guidance": ("Transfer guidance card put up by the door.",
                                  "Plan summary laminated and on display in the room."),
    "revised_control_observed": ("Observed the next two routines: control followed.",
                                 "Shift lead watched the evening routine: walking aid in "
                                 "place."),
    "communication_review": ("Repeated risk: family told and the case manager informed.",
                             "Reviewed: nothing beyond the family's usual update needed."),
    "confirmed_medication_guidance": ("Pharmacist confirmed the current dose.",
                                      "GP surgery confirmed the change by email."),
    "corrected_care_record": ("Care record and MAR updated the same day.",
                              "Record corrected and checked by a second person."),
    "worker_instruction": ("Worker told what to prompt at the next visit.",
                           "Instruction added to the visit notes for every worker."),
    "representative_communication": ("Daughter told by phone.",
                                     "Representative told and asked to send changes to the "
                                     "office."),
    "other_workers_updated": ("Every worker on the run told through the care app; read "
                              "receipts checked.",
                              "Message to every worker supporting {them}; confirmed at "
                              "handover."),
    "person_welfare_confirmation": ("Rang {them} after the visit: well and had eaten.",
                                    "Backup worker confirmed all was well."),
    "completed_visit_evidence": ("Visit log shows every task done.",
                                 "Care app record complete for the visit."),
    "coordinator_debrief": ("Debriefed the coordinator the next morning.",
                            "Coordinator debrief: backup found informally, run at capacity."),
    "route_pressure_review": ("Run reviewed: too many visits between 17:00 and 19:00.",
                              "No slack after the urgent visit; one visit moved."),
    "case_manager_visibility_decision": ("Case manager told: not the first time on this run.",
                                         "Not needed yet: first time for this person; will "
                                         "tell if it repeats."),
    "immediate_safeguards_confirmed": ("Repositioning plan and cushion checked in place.",
                                       "Mattress setting and turns chart checked."),
    "same_day_nurse_review": ("Nurse reviewed the same day.",
                              "Telehealth consult that afternoon; advice followed."),
    "handover_workflow_review": ("Handover sheet reviewed: no prompt for skin changes.",
                                 "Checked with both shifts: notes were written after the "
                                 "handover."),
    "pathway_mapped": ("Pathway mapped: entered in the scheduling system, no notification to "
                       "the next shift.",
                       "Mapped with the office: email to the inbox, nobody confirms receipt."),
    "frontline_has_latest_plan": ("Team confirmed they can see the updated plan on the app.",
                                  "Next-shift worker read the plan back to the office."),
    "follow_up_requirement_met": ("Follow-up booked and on the rota.",
                                  "Appointment confirmed with the clinic and on the rota."),
    "coverage_confirmed": ("Cover confirmed for the rest of the week.",),
    "handover_clarified": ("Shift leads now name who confirmed cover at handover.",),
    "supervisor_sign_off": ("Exception signed off by the on-call supervisor.",),
    "person_protected": ("Plan updated so {they} are never left alone with the visitor.",
                         "Protection plan agreed with {them}."),
    "safeguarding_decision_recorded": ("Decision and timeline recorded by the safeguarding "
                                       "lead.",),
    "external_reporting_decided": ("External reporting decided and recorded.",),
    "hazard_removed": ("Isolated and tagged out of use.", "Removed the same day."),
    "equipment_checked": ("Maintenance checked and repaired it.", "Replaced with a new one."),
    "person_reached_destination": ("Arrived on time by taxi.",
                                   "Appointment rebooked; the family told."),
    "transport_plan_updated": ("Transport plan updated with the right address and vehicle.",),
    "risk_assessment_updated": ("Outing risk assessment updated.",),
}
_NOT_APPLICABLE_NOTES: tuple[str, ...] = (
    "The person makes their own medicines decisions and did not want family told.",
    "No representative: the person was told directly.",
)
_NOT_APPLICABLE_TEXTS = dict.fromkeys(("he", "she", "they"), _NOT_APPLICABLE_NOTES)
_EVIDENCE_NOTES: dict[str, tuple[str, ...]] = {
    "near_miss_evidence": ("Report and shift notes read; they match the account.",),
    "supervisor_review": ("Supervisor review notes filed with the report.",),
    "environmental_check": ("Area checked: floor clear, walking aid's place marked.",
                            "Checked the area: hazard gone."),
    "revised_transfer_control": ("Revised transfer control in the plan and on display.",),
    "staff_understanding": ("Three staff talked through the routine: all knew it.",),
    "follow_up_observation": ("Observed two routines a week later: control followed.",),
    "discrepancy_evidence": ("Photo of the family note and the MAR page on file.",
                             "Copies of the care plan page and the note on file."),
    "supervisor_decision": ("Decision noted in the supervisor log.",),
    "clinical_guidance": ("Pharmacist's email with the confirmed dose on file.",
                          "Clinical advice line call logged with the advice given."),
    "record_correction": ("Corrected record checked by a second person.",),
    "staff_briefing": ("Briefing sheet signed by the workers on the run.",),
    "follow_up_audit": ("Audit of the next five visits: prompts matched the record.",),
    "near_miss_timing": ("Timeline from the rota and the care app checked.",),
    "backup_decision": ("Backup decision in the coordinator log.",),
    "communication_completed": ("Calls to the person and family logged.",),
    "visit_outcome": ("Visit record shows every essential task done.",),
    "route_review": ("Route review notes filed.",),
    "follow_up_monitoring": ("Late visits on the run watched for four weeks: none missed.",),
    "escalation_time": ("Escalated 20 minutes after it was found (care app times).",),
    "handover_completeness": ("Handover sheets for the week checked: skin changes recorded.",),
    "skin_observation_spot_checks": ("Spot check of skin notes: complete.",),
    "supervisory_review_log": ("Entry in the supervisory review log.",),
    "competency_validation": ("Staff on the shift completed the early-deterioration "
                              "competency check.",),
    "workflow_change_log": ("Change log shows the confirmation step added.",),
    "confirmation_timestamps": ("Read receipts for the plan change: every worker within a "
                                "day.",),
    "point_of_care_access_audit": ("Audit: 10 of 10 staff found the latest plan on the app at "
                                   "the visit.",),
    "late_start_trend": ("Late-start near misses checked against the region's trend.",),
    "coverage_confirmation_rate": ("Cover confirmed for 19 of 20 shifts that week.",),
    "downstream_missed_supports": ("No missed supports on the rota that week.",),
    "escalation_timeline": ("Timeline from report to decision recorded.",),
    "decision_rationale": ("Rationale recorded by the safeguarding lead.",),
    "protection_plan_review": ("Protection plan reviewed with the person.",),
    "follow_up_inspection": ("Re-inspected a week later: safe.",),
    "journey_evidence": ("Taxi receipt and attendance at the appointment confirmed.",),
    "plan_check": ("Transport plan checked before the next journey.",),
    "risk_assessment_evidence": ("Updated risk assessment on file.",),
}
# Communication decisions, by the gate that asks for them: (audience, told, not told).
_COMMUNICATIONS: dict[str, tuple[str, str, str]] = {
    "representative_communication": (
        "family", "Told the family about the confirmed dose and asked them to send changes to "
                  "the office.",
        "Not needed: {they} make {their} own medicines decisions."),
    "communication_review": (
        "family", "Told the family about the repeated near falls and the revised transfer "
                  "plan.",
        "Not needed: the family's usual monthly update covers it."),
    "case_manager_visibility_decision": (
        "case_manager", "Case manager told: similar late visits have repeated on this run.",
        "Not needed yet: first time for this person; will tell if it repeats."),
    "safeguarding_decision_recorded": (
        "representative", "Representative told what happened and what the provider did.",
        "Not told: {they} asked for the family not to be involved."),
}


def _first_sentence(text: str, limit: int) -> str:
    end = min((i for i in (text.find(". "), text.find("; ")) if i > 0), default=len(text))
    return text[:min(end + 1, limit)].strip().rstrip(";")


@dataclass(frozen=True)
class _Timeline:
    """When a report's review started and when it finishes, validates and closes (these may
    lie after `now`; None: not on its way there, stalled or waiting on its plan)."""

    started: datetime
    finished: datetime | None
    validating: datetime | None
    closed: datetime | None
    stall: str | None = None  # "in_review" or "validating"


_PRONOUN_KEYS = ("he", "she", "they")


def _by_pronoun(pool: Sequence[str], **extra: str) -> dict[str, tuple[str, ...]]:
    """Each text of a pool written out once for each pronoun (the generator only picks)."""
    return {key: tuple(text.format(**_PRONOUN_WORDS[key], **extra) for text in pool)
            for key in _PRONOUN_KEYS}


def _literal(text: str) -> str:
    """A label kept as it is when the pool it joins is formatted."""
    return text.replace("{", "{{").replace("}", "}}")


def _seconds(span: timedelta, share: float) -> timedelta:
    """A share of a span, to the whole second (stored times carry no microseconds)."""
    return timedelta(seconds=int(span.total_seconds() * share))


@dataclass(frozen=True)
class _Kit:
    """What the workflow writes for one near-miss type, prepared once."""

    fields: tuple[tuple[str, str, Any], ...]  # (key, how the value is made, its data)
    gates: tuple[tuple[str, bool, dict[str, tuple[str, ...]]], ...]  # key, may be n/a, notes
    items: tuple[tuple[str, dict[str, tuple[str, ...]]], ...]  # validation item key, notes
    factors: tuple[tuple[str, ...], ...]  # contributing factor sets to pick from
    stopped: dict[str, dict[str, tuple[str, ...]]]  # what stopped harm, by barrier class
    findings: dict[str, tuple[str, ...]]
    outcome: str
    communications: dict[str, tuple[str, dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]]


def _kit(spec: NearMissTypeSpec, factors: Sequence[str], limits: Any) -> _Kit:
    fields: list[tuple[str, str, Any]] = []
    for wanted in spec.fields:
        if wanted.source is not None:
            continue
        key = (spec.key, wanted.key)
        if wanted.kind == "choice":
            weights = _CHOICE_WEIGHTS.get(key, {})
            choice = (wanted.options, _cum([weights.get(o, 1.0) for o in wanted.options]))
            settled = tuple(o for o in _CHOICE_WHEN_DONE.get(key, ()) if o in wanted.options)
            fields.append((wanted.key, "choice", (choice, settled)))
        elif wanted.kind == "yes_no":
            fields.append((wanted.key, "external" if wanted.key == "external_report" else "yes",
                           None))
        elif wanted.kind == "number":
            fields.append((wanted.key, "number", None))
        elif wanted.kind == "datetime":
            how = ("prompt" if wanted.key == "medication_prompt_time" else "quarter"
                   if wanted.key in ("scheduled_visit_time", "scheduled_start") else "after")
            fields.append((wanted.key, how, _DATETIME_MINUTES.get(wanted.key, (0, 60))))
        else:
            limit = limits.short_text_max_chars if wanted.kind == "text" \
                else limits.description_max_chars
            pool = _REVIEW_TEXT.get(key)
            if pool:
                fields.append((wanted.key, "pool", {k: tuple(t[:limit] for t in v)
                                                    for k, v in _by_pronoun(pool).items()}))
            else:
                fields.append((wanted.key, "sentence", limit))
    control = _CONTROLS.get(spec.key, "designed check")
    findings = {f"{planted}:{after}": pool
                for (planted, after), pool in _PLANTED_FINDINGS.items()}
    likely = tuple(k for k in _FACTORS.get(spec.key, ()) if k in factors)[:3] \
        or tuple(factors[:3])
    # One, two or (now and then) three of the likeliest factors.
    sets = [(k,) for k in likely] * 3 + [tuple(sorted(pair)) for pair in combinations(likely, 2)] \
        * 7 + [tuple(sorted(likely))] * 4
    communications = {}
    for gate in spec.gates:
        found = _COMMUNICATIONS.get(gate.key)
        if found is not None:
            audience, told, not_told = found
            communications[gate.key] = (audience, _by_pronoun((told,)), _by_pronoun((not_told,)))
    return _Kit(
        tuple(fields),
        tuple((g.key, g.may_be_not_applicable,
               _by_pronoun(_GATE_NOTES.get(g.key, (f"Done: {_literal(g.label)}.",))))
              for g in spec.gates),
        tuple((v.key, _by_pronoun(_EVIDENCE_NOTES.get(v.key, (f"Seen and recorded: "
                                                                f"{_literal(v.label)}.",))))
              for v in spec.validation),
        tuple(sets),
        {barrier: _by_pronoun(pool, control=control)
         for barrier, pool in _WHAT_STOPPED_HARM.items()},
        {"": _by_pronoun(_FINDINGS.get(spec.key, ("Reviewed with the team; see the gates.",))),
         **{key: _by_pronoun(pool) for key, pool in findings.items()}},
        _OUTCOMES.get(spec.key, "Every validation item has evidence."),
        communications)


class _Workflow:
    """Review, gates, validation evidence and closure after triage, and which reports the
    action plans link (its own seeded Random: the triage history a seed gives stays the same).

    Old reports are closed with every gate checked and every validation item evidenced; recent
    ones sit in review or validation; reports a plan links wait in "actions" until its control
    goes live, then validate and close once it is verified (see `_demo_plans`). Written for
    speed: texts are prepared per type and pronoun, times are whole seconds.
    """

    def __init__(self, places: DemoPlaces, taxonomy: TaxonomySpec, *, seed: int,
                 now: datetime, rules: Settings, plans: Sequence[_PlanSpec]):
        self.rng = random.Random(f"demo-workflow-{seed}")
        self.now, self.rules = now, rules
        self.zone = rules.zone
        self.offset = to_local(now, rules.zone) - now  # for office hours, near enough
        factors = [f.key for f in taxonomy.contributing_factors]
        self.kits = {t.key: _kit(t, factors, rules.report) for t in taxonomy.types}
        self.pronouns = {p.id: p.spec.pronoun for s in places.services for p in s.people}
        self.service_names = {s.id: s.spec.name for s in places.services}
        self.leads = places.leads
        self.quality = places.leads.get(Role.QUALITY.value, ())
        # Routine plans (one type at one service, windows that do not overlap) are found by
        # (type, service) and date; a million reports cannot each scan thousands of plans.
        self.plans = tuple(p for p in plans if not p.key.startswith("routine_"))
        self.routine: dict[tuple[str, str], tuple[list[datetime], list[_PlanSpec]]] = {}
        for plan in sorted((p for p in plans if p.key.startswith("routine_")),
                           key=lambda p: p.link_from):
            assert plan.type_key is not None and len(plan.services) == 1
            starts, found = self.routine.setdefault((plan.type_key, plan.services[0]), ([], []))
            starts.append(plan.link_from)
            found.append(plan)
        self.linked: Counter[str] = Counter()

    # -- when -----------------------------------------------------------------------------

    def daytime(self, at: datetime) -> datetime:
        """The next moment in office hours (08:00-19:00 local) from `at`."""
        local = at + self.offset
        hour = local.hour + local.minute / 60
        if 8 <= hour < 19:
            return at
        wait = (8 - hour if hour < 8 else 32 - hour) + self.rng.uniform(0.1, 3.0)
        return at + timedelta(seconds=int(wait * 3600))

    def plan_for(self, row: dict[str, Any], planted: str | None,
                 triaged: datetime) -> _PlanSpec | None:
        """The action plan that links this report, if any (each plan links a few)."""
        if triaged > self.now - timedelta(hours=3):
            return None
        for plan in self.plans:
            if plan.planted is not None:
                if planted != plan.planted:
                    continue
            elif planted is not None or row["type_key"] != plan.type_key or (
                    plan.services and self.service_names[row["service_id"]] not in plan.services):
                continue
            if not plan.link_from <= row["reported_at"] < plan.link_until \
                    or self.linked[plan.key] >= plan.link_cap:
                continue
            if self.rng.random() < plan.link_share:
                self.linked[plan.key] += 1
                return plan
        if planted is None and self.routine:
            starts, found = self.routine.get(
                (row["type_key"], self.service_names[row["service_id"]]), ((), ()))
            index = bisect(starts, row["reported_at"]) - 1
            if index >= 0:
                plan = found[index]
                if row["reported_at"] < plan.link_until \
                        and self.linked[plan.key] < plan.link_cap \
                        and self.rng.random() < plan.link_share:
                    self.linked[plan.key] += 1
                    return plan
        return None

    def timeline(self, level: str, triaged: datetime, plan: _PlanSpec | None) -> _Timeline:
        r, now = self.rng, self.now
        started = self.daytime(triaged + _span(r, _START_HOURS[level]))
        finished = self.daytime(started + _span(r, _REVIEW_HOURS[level]))
        if plan is None:
            chance = r.random()
            if chance < _STALLED_IN_REVIEW:
                return _Timeline(started, None, None, None, "in_review")
            if chance < _STALLED_IN_REVIEW + _STALLED_VALIDATING:
                return _Timeline(started, finished, finished, None, "validating")
            return _Timeline(started, finished, finished,
                             self.daytime(finished + _span(r, _VALIDATE_HOURS[level])))
        # Linked to a plan: the review is done by soon after the plan links it; the report
        # validates once the plan's control is live and closes once it is verified.
        latest = min(plan.created_at + timedelta(seconds=r.randint(2 * 3600, 48 * 3600)),
                     now - timedelta(hours=1))
        if finished > latest:
            finished = max(latest, triaged + timedelta(seconds=r.randint(2400, 7200)))
            started = triaged + _seconds(finished - triaged, r.uniform(0.2, 0.7))
        validating = closed = None
        if plan.validate_at is not None:
            validating = max(plan.validate_at + timedelta(seconds=r.randint(0, 30 * 3600)),
                             finished + timedelta(hours=1))
            if plan.close_after is not None:
                closed = self.daytime(max(plan.close_after, validating) + _span(r, (2, 120)))
        return _Timeline(started, finished, validating, closed)

    # -- who ------------------------------------------------------------------------------

    def reviewer(self, service: DemoService, route: str) -> int | None:
        """A lead for reports routed to them, else a supervisor of the service (or quality)."""
        r = self.rng
        leads = self.leads.get(route, ())
        if leads and r.random() < _LEAD_REVIEWS.get(route, 0.0):
            return leads[0]
        supervisors = service.supervisors
        if supervisors and (not self.quality or r.random() >= _QUALITY_REVIEWS):
            return supervisors[int(r.random() * len(supervisors))]
        return self.quality[0] if self.quality else (leads[0] if leads else None)

    # -- the record -----------------------------------------------------------------------

    def advance(self, record: DemoRecord, planted: str | None, service: DemoService) -> None:
        """Review, validate and close a triaged report as far as `now` allows."""
        row, triage = record.report, record.triage
        assert triage is not None
        kit = self.kits.get(row["type_key"])
        reviewer = self.reviewer(service, row["routed_to"])
        if kit is None or reviewer is None:
            return
        r, now = self.rng, self.now
        plan = self.plan_for(row, planted, triage["triaged_at"])
        times = self.timeline(row["review_level"], triage["triaged_at"], plan)
        started = times.started
        if started > now:
            return  # still waiting for its review: the board's "Triaged" column
        closer = self.quality[0] if self.quality and r.random() < _QUALITY_CLOSES else reviewer
        record.plan = plan.key if plan is not None else None
        finished = times.finished
        done = finished is not None and finished <= now
        validating = times.validating if times.validating and times.validating <= now else None
        closed = times.closed if times.closed and times.closed <= now else None

        version = row["version_id"]
        moves = record.transitions
        moves.append({"from_status": "triaged", "to_status": "in_review", "at": started,
                      "actor_id": reviewer, "reason": "Review started"})
        status, at = "in_review", started
        if done:
            assert finished is not None
            after_review = "actions" if plan is not None else "validating"
            moves.append({"from_status": "in_review", "to_status": after_review, "at": finished,
                          "actor_id": reviewer, "reason": "Review complete"})
            status, at = after_review, finished
            if plan is not None and validating is not None:
                moves.append({"from_status": "actions", "to_status": "validating",
                              "at": validating, "actor_id": reviewer,
                              "reason": "Actions in place; validating"})
                status, at = "validating", validating
            if closed is not None:
                moves.append({"from_status": "validating", "to_status": "closed", "at": closed,
                              "actor_id": closer, "reason": "Closed"})
                status, at = "closed", closed
        row.update(status=status, status_changed_at=at, version_id=version + len(moves) - 1)

        # How far the review got: done, or a share of the way (a stalled one nearly all).
        if done:
            progress = 1.0
        elif finished is None:
            progress = r.uniform(0.8, 1.0)
        else:
            progress = min(0.95, (now - started) / (finished - started))
        review_end = finished or started + _seconds(now - started, 0.6)
        pronoun = self.pronouns.get(row["person_id"], "they")
        record.gate_checks = gates = self.gates(kit, started, review_end, reviewer, service,
                                                pronoun, stalled=finished is None)
        record.review = self.review(kit, row, triage, planted, reviewer, times, progress,
                                    pronoun, closer if closed else None, plan)
        if kit.communications and gates:
            record.communications = self.communications(kit, row, gates, started, reviewer,
                                                        pronoun)
        if done and validating is not None:
            # Stalled, or in its plan's test window: the last item waits (follow-up checks).
            end = times.closed or validating + _seconds(now - validating, r.uniform(0.3, 0.9))
            record.evidence = self.evidence(kit, validating, end, reviewer, closer, pronoun,
                                            keep_open=0 if times.closed else 1)

    def review(self, kit: _Kit, row: dict[str, Any], triage: dict[str, Any],
               planted: str | None, reviewer: int, times: _Timeline, progress: float,
               pronoun: str, closer: int | None, plan: _PlanSpec | None) -> dict[str, Any]:
        """A reviews row (without report_id): the type's fields and the leaders' questions;
        `closer` when it is closed."""
        r = self.rng
        rand = r.random
        done = progress >= 1.0
        capture = row["capture_fields"]
        values: dict[str, Any] = {}
        local: datetime | None = None
        for key, how, data in kit.fields:
            if key in capture:
                values[key] = capture[key]  # where the review starts from
                continue
            if not done and rand() >= progress:
                continue
            if how == "pool":
                pool = data[pronoun]
                values[key] = pool[int(rand() * len(pool))]
            elif how == "choice":
                (options, cum), settled = data
                values[key] = settled[int(rand() * len(settled))] if done and settled \
                    else options[min(bisect(cum, rand() * cum[-1]), len(options) - 1)]
            elif how == "sentence":
                values[key] = _first_sentence(row["description"], data) or "Recorded at review."
            elif how == "yes":
                values[key] = rand() < 0.65
            elif how == "external":
                values[key] = bool(triage["external_reporting"])
            elif how == "number":
                values[key] = float(r.randint(1, 5))
            else:  # a datetime, as the form stores it: local time to the minute
                if local is None:
                    local = to_local(row["occurred_at"], self.zone).replace(second=0)
                if how == "prompt":
                    values[key] = _iso(_prompt_time(local))
                elif how == "quarter":
                    values[key] = _iso(local.replace(minute=local.minute // 15 * 15))
                else:
                    values[key] = _iso(local + timedelta(minutes=r.randint(*data)))
        barrier = row["barrier"]
        reliable = would = note = findings = stopped = None
        factors: list[str] = []
        barrier_class = barrier  # the review starts from what the reporter said
        if done or rand() < progress - 0.2:
            if rand() < 0.1:
                barrier_class = _RECLASSIFIED.get(barrier, barrier)
            answers, cum = _RELIABLE.get(barrier_class, _RELIABLE[_CHANCE])
            reliable = answers[bisect(cum, rand())] if len(answers) > 1 else answers[0]
            answers, cum = _WORK_AGAIN.get(barrier_class, _WORK_AGAIN[_CHANCE])
            would = answers[bisect(cum, rand())] if len(answers) > 1 else answers[0]
            if rand() < 0.3:
                notes = _WORK_AGAIN_NOTES[would]
                note = notes[int(rand() * len(notes))]
            pool = (kit.stopped.get(barrier_class) or kit.stopped[_CHANCE])[pronoun]
            stopped = pool[int(rand() * len(pool))]
            if kit.factors:
                factors = list(kit.factors[int(rand() * len(kit.factors))])
            if done or rand() < progress:
                after = planted == "family_note" and barrier == _DESIGNED
                pool = (kit.findings.get(f"{planted}:{after}") or kit.findings[""])[pronoun]
                findings = pool[int(rand() * len(pool))]
        outcome = None
        if closer is not None:
            if plan is not None:
                outcome = f"Closed with the plan “{plan.title}” in place. {plan.outcome}".strip()
            else:
                outcome = kit.outcome + _OUTCOME_TAILS.get(reliable or "", "")
        started = times.started
        updated = times.finished if done and times.finished else \
            started + _seconds(self.now - started, 0.8)
        return {
            "template_version": row["type_version"], "field_values": values,
            "what_stopped_harm": stopped, "control_reliable": reliable, "would_work_again": would,
            "would_work_again_note": note, "contributing_factors": factors,
            "barrier_class": barrier_class, "findings": findings, "reviewer_id": reviewer,
            "started_at": started, "updated_at": updated,
            "closed_at": times.closed if closer is not None else None,
            "closed_by_id": closer, "outcome": outcome,
        }

    def gates(self, kit: _Kit, start: datetime, end: datetime, reviewer: int,
              service: DemoService, pronoun: str, *, stalled: bool) -> list[dict[str, Any]]:
        """The "cannot proceed without" items ticked one after another between `start` and
        `end` (a stalled review leaves one open)."""
        rand, now = self.rng.random, self.now
        count = len(kit.gates)
        if not count:
            return []
        span = (end - start).total_seconds() / count
        left_open = int(rand() * count) if stalled else -1
        others = service.supervisors
        rows = []
        for index, (key, may_be_not_applicable, notes) in enumerate(kit.gates):
            at = start + timedelta(seconds=int(span * (index + rand())))
            if at > now:
                break
            if index == left_open:
                continue
            by = reviewer if rand() < 0.85 or not others else others[int(rand() * len(others))]
            if may_be_not_applicable and rand() < _NOT_APPLICABLE:
                state, pool = "not_applicable", _NOT_APPLICABLE_TEXTS[pronoun]
            else:
                state, pool = "done", notes[pronoun]
            rows.append({"gate_key": key, "state": state, "note": pool[int(rand() * len(pool))],
                         "checked_by_id": by, "checked_at": at})
        return rows

    def evidence(self, kit: _Kit, start: datetime, end: datetime, reviewer: int, closer: int,
                 pronoun: str, keep_open: int) -> list[dict[str, Any]]:
        """Evidence for the validation items, recorded one after another from `start` to
        `end` (leaving the last `keep_open` for later)."""
        rand, now = self.rng.random, self.now
        items = kit.items[:len(kit.items) - keep_open] if keep_open else kit.items
        if not items:
            return []
        span = (end - start).total_seconds() / len(items)
        rows = []
        for index, (key, notes) in enumerate(items):
            at = start + timedelta(seconds=int(span * (index + rand())))
            if at > now:
                break
            pool = notes[pronoun]
            rows.append({"item_key": key, "note": pool[int(rand() * len(pool))],
                         "recorded_by_id": closer if rand() < 0.2 else reviewer,
                         "recorded_at": at})
        return rows

    def communications(self, kit: _Kit, row: dict[str, Any], gates: list[dict[str, Any]],
                       start: datetime, reviewer: int, pronoun: str) -> list[dict[str, Any]]:
        """Now and then a decision about telling the family, representative or case manager,
        where a gate asks for one."""
        r = self.rng
        rows = []
        for gate in gates:
            found = kit.communications.get(gate["gate_key"])
            if found is None or r.random() >= (0.8 if row["is_repeat"] else 0.35):
                continue
            audience, told, not_told = found
            communicated = gate["state"] == "done" and (row["is_repeat"] or r.random() < 0.6)
            at = max(gate["checked_at"] - timedelta(minutes=r.randint(5, 240)), start)
            rows.append({"audience": audience, "communicated": communicated,
                         "what": (told if communicated else not_told)[pronoun][0],
                         "communicated_at": at - timedelta(minutes=r.randint(0, 30))
                         if communicated else None,
                         "decided_by_id": reviewer, "recorded_at": at})
        return rows


# ---------------------------------------------------------------------------------------------
# Action plans: the three planted patterns' controls and a handful of others
# ---------------------------------------------------------------------------------------------

_LINK_SHARE_OTHER = 0.35  # of the candidate reports, how many a plan's builder links
_SUSTAINED = "Supervisory review: the control is still in place and used on every shift."


@dataclass(frozen=True)
class _MeasureSpec:
    """A verification measure: which reports count (services: "linked", "north" or "all")."""

    type_keys: tuple[str, ...]
    services: str = "linked"
    location: str | None = None  # a location name in the (single) measured service
    capture: tuple[tuple[str, str], ...] = ()
    per: str = "week"
    target: float | None = None


@dataclass(frozen=True)
class _ActionSpec:
    """One action as it stands at `now`: dates are local, times naive UTC."""

    title: str
    description: str
    kind: str  # a key of ACTION_HIERARCHY
    owner: str  # a role id, or "supervisor" (one covering every service the plan serves)
    created_at: datetime
    deadline: date
    review_date: date
    status: ActionStatus
    checks: tuple[str, ...]
    checks_done: int
    go_live: date | None = None
    window_days: int | None = None
    verdict_at: datetime | None = None  # verified effective or not effective then
    verdict_note: str = ""
    stopped_at: datetime | None = None
    stop_reason: str = ""
    measure: _MeasureSpec | None = None


@dataclass(frozen=True)
class _PlanSpec:
    """An action plan, which reports it links, and when those reports move on."""

    key: str
    title: str
    theme: str
    source: str  # report | rca | cluster
    created_at: datetime
    created_by: str  # a role id, or "supervisor"
    actions: tuple[_ActionSpec, ...]
    outcome: str  # what a linked report's closure says
    link_from: datetime  # it links reports reported in [link_from, link_until)
    link_until: datetime
    link_cap: int
    link_share: float
    planted: str | None = None  # links reports of this planted pattern ...
    type_key: str | None = None  # ... or of this type (in these services: empty for any)
    services: tuple[str, ...] = ()
    validate_at: datetime | None = None  # linked reports validate then (None: wait in actions)
    close_after: datetime | None = None  # and close after this (None: stay validating)
    rca: bool = False  # built from a root cause analysis of its reports
    cluster_region: str | None = None


class _Calendar:
    """Local days and times relative to `now` (plans are dated from it)."""

    def __init__(self, now: datetime, zone: ZoneInfo, rules: Settings):
        self.now, self.zone, self.rules = now, zone, rules
        self.today = to_local(now, zone).date()

    def day(self, days_ago: int) -> date:
        return self.today - timedelta(days=days_ago)

    def at(self, day: date, hour: float = 10.5) -> datetime:
        return to_utc(datetime.combine(day, time()) + timedelta(hours=hour), self.zone)

    def local_day(self, moment: datetime) -> date:
        return to_local(moment, self.zone).date()

    def action(self, title: str, description: str, kind: str, owner: str, *, created: date,
               deadline: date, review: date, status: ActionStatus, checks: tuple[str, ...],
               done: int | None = None, go_live: date | None = None, window: int | None = None,
               verdict: date | None = None, note: str = "", stopped: date | None = None,
               reason: str = "", measure: _MeasureSpec | None = None) -> _ActionSpec | None:
        """An action as far as today allows (a verdict still to come leaves it in test)."""
        today = self.today
        if created >= today:
            return None
        window = window or (self.rules.actions.test_window_days if go_live else None)
        if status in (ActionStatus.VERIFIED_EFFECTIVE, ActionStatus.NOT_EFFECTIVE) and (
                verdict is None or verdict > today):
            status, verdict = ActionStatus.IN_TEST, None
        if status is ActionStatus.STOPPED and (stopped is None or stopped > today):
            status, stopped = ActionStatus.IN_PROGRESS, None
        if status is ActionStatus.IN_TEST and (go_live is None or go_live > today):
            status, go_live = ActionStatus.IN_PROGRESS, None
        if status in (ActionStatus.PLANNED, ActionStatus.IN_PROGRESS):
            go_live = None
        if status is ActionStatus.PLANNED:
            done = 0
        total = len(checks)
        if status is ActionStatus.VERIFIED_EFFECTIVE:
            done = total  # never verified effective while a check is open
        done = total if done is None else min(done, total)
        if status is ActionStatus.IN_PROGRESS and done == 0 and total > 1:
            done = 1  # work has visibly started
        return _ActionSpec(title, description, kind, owner, self.at(created, 11.0), deadline,
                           review, status, checks, done, go_live, window,
                           self.at(verdict, 15.0) if verdict else None, note,
                           self.at(stopped, 12.0) if stopped else None, reason, measure)


def _plan(calendar: _Calendar, key: str, title: str, theme: str, *, created: date,
          created_by: str, actions: Sequence[_ActionSpec | None], outcome: str,
          link_from: datetime, link_until: datetime, link_cap: int, link_share: float,
          validate_with: int | None = None, close_with: int | None = None,
          close_after: datetime | None = None, source: str = "report", **kind: Any,
          ) -> _PlanSpec | None:
    """A plan if it could have been made by now: linked reports validate when action
    `validate_with` goes live and close once action `close_with` has its verdict (or stop)."""
    kept = tuple(a for a in actions if a is not None)
    if created >= calendar.today or not kept or link_from >= link_until:
        return None
    by_title = {a.title: a for a in kept}
    chosen = [by_title.get(a.title) if a is not None else None for a in actions]
    validate_at = None
    if validate_with is not None and (lead := chosen[validate_with]) and lead.go_live:
        validate_at = calendar.at(lead.go_live, 9.0)
    if close_with is not None and (lead := chosen[close_with]):
        close_after = lead.verdict_at or lead.stopped_at
    if validate_at is None:
        close_after = None
    return _PlanSpec(key, title, theme, source, calendar.at(created), created_by, kept, outcome,
                     link_from, link_until, link_cap, link_share, validate_at=validate_at,
                     close_after=close_after, **kind)


def _demo_plans(now: datetime, *, months: int, reports: int, rules: Settings,
                ) -> tuple[_PlanSpec, ...]:
    """The action plans of the demo, dated so that each fits what the reports show.

    a. the late-start cluster: a coverage lock live two weeks after it, verified effective
       at the still-in-place check's look at the evidence (two weeks were too few to tell);
    b. the bathroom doorway: a memo that did not work (not effective), then a pre-transfer
       equipment check in its test window now, with refresher training alongside;
    c. the family-note mismatches: a root cause analysis, then the family-note check that goes
       live at `medication_control_go_live`, verified effective (at the second look, too)
       and sustained;
    and a handful of others across services and owners (overdue, due soon, stopped, in
    progress, in test, verified), more of them for larger demos (at most 14).
    """
    c = _Calendar(now, rules.zone, rules)
    start, _end = demo_window(now, months)
    plans: list[_PlanSpec | None] = []
    S = ActionStatus

    # c. The family-note check (the root cause analysis's plan).
    go_live = c.local_day(medication_control_go_live(now, months))
    created = go_live - timedelta(days=21)
    n_med = _planted_count("family_note", reports, months)
    plans.append(_plan(
        c, "family_note", "Family-note check at every medication visit",
        "Care plan and family note disagree about a medicine: the change reached the family "
        "before the record, at several services. Workers caught it each time, by vigilance.",
        created=created, created_by=Role.QUALITY.value, source="rca", rca=True,
        planted="family_note", link_from=c.at(created) - timedelta(weeks=12),
        link_until=c.at(created), link_cap=40, link_share=min(1.0, 30 / max(1, 0.33 * n_med)),
        outcome="The family-note check is live and verified effective.",
        validate_with=0, close_with=0, actions=[
            c.action("Family-note check at every medication visit",
                     "Before every prompt the worker checks the family note against the care "
                     "plan; a difference stops the prompt until the office confirms.",
                     "checklist", Role.QUALITY.value, created=created, deadline=go_live,
                     review=go_live + timedelta(days=14), status=S.VERIFIED_EFFECTIVE,
                     checks=("Check card in every medication folder",
                             "Workers briefed at team meetings (sign-in sheets)",
                             "Family-note step added to the visit record",
                             "Spot check of 20 medication visits"),
                     # Two weeks of a few reports a week are too few to tell (issue 17): the
                     # verdict waits for the second look, every week since go-live.
                     go_live=go_live, window=14,
                     verdict=go_live + timedelta(days=14 + rules.actions.sustainment_after_days
                                                 + 2),
                     note="Two weeks were too few to tell; by the still-in-place check "
                          "family-note mismatches had fallen well below the twelve weeks "
                          "before, and the check (not staff vigilance) now catches them.",
                     measure=_MeasureSpec(("medication_discrepancy",), "all",
                                          capture=(("source_of_discrepancy",
                                                    FAMILY_NOTE_SOURCE),))),
            c.action("Office updates the care record the same day a family note changes a "
                     "medicine",
                     "Families send changes to the office; the office updates the record and "
                     "tells every worker on the run the same day.",
                     "standard_communication", Role.CLINICAL.value, created=created,
                     deadline=go_live + timedelta(days=7), review=go_live + timedelta(days=21),
                     status=S.VERIFIED_EFFECTIVE,
                     checks=("Families told where to send changes",
                             "Same-day update logged for a month"),
                     go_live=go_live + timedelta(days=3), window=14,
                     verdict=go_live + timedelta(days=20),
                     note="Audit: 23 of 24 changes in the record the same day."),
        ]))

    # a. The late-start cluster in the North: a coverage lock.
    cluster_start, cluster_end = late_start_cluster_window(now, months)
    created = c.local_day(cluster_start) + timedelta(days=15)
    go_live = c.local_day(cluster_end) + timedelta(days=14)
    n_late = _planted_count("late_cluster", reports, months)
    plans.append(_plan(
        c, "late_cluster", "Late shift starts in the North: coverage lock",
        "A cluster of late shift starts across the North region's services: last-minute rota "
        "changes and unclear handover on who confirmed cover (weekly cluster review, barrier "
        "review with supervisors and schedulers).",
        created=created, created_by=Role.QUALITY.value, source="cluster",
        planted="late_cluster", cluster_region=LATE_START_REGION,
        link_from=cluster_start - timedelta(days=1), link_until=c.at(created), link_cap=30,
        link_share=min(1.0, 24 / max(1, 0.6 * n_late)),
        outcome="Coverage lock live and verified effective; late starts back to background.",
        validate_with=0, close_with=0, actions=[
            c.action("Coverage lock: rota closes 48 h before the shift; exceptions need "
                     "supervisor sign-off",
                     "The rota cannot change within 48 hours of a shift unless a supervisor "
                     "signs off the exception and names who confirmed cover.",
                     "forcing_function", Role.OPERATIONS.value, created=created,
                     deadline=go_live, review=go_live + timedelta(days=14),
                     status=S.VERIFIED_EFFECTIVE,
                     checks=("Rota system locks changes inside 48 hours",
                             "Exception pathway agreed with the supervisors",
                             "Schedulers briefed"),
                     # A background of about one a fortnight: two weeks cannot tell (issue
                     # 17), the still-in-place check's look at every week since go-live can.
                     go_live=go_live, window=14,
                     verdict=go_live + timedelta(days=14 + rules.actions.sustainment_after_days
                                                 + 3),
                     note="No late-start cluster since the lock; coverage confirmed on 96% of "
                          "shifts in the eight weeks since go-live.",
                     measure=_MeasureSpec(("late_shift_start",), "north")),
            c.action("Handover names who confirmed cover for each shift",
                     "The shift lead names who confirmed cover for the next shift at every "
                     "handover.", "standard_communication", Role.QUALITY.value,
                     created=created, deadline=go_live - timedelta(days=3),
                     review=go_live + timedelta(days=14), status=S.VERIFIED_EFFECTIVE,
                     checks=("Handover sheet has a 'cover confirmed by' line",),
                     go_live=go_live - timedelta(days=4), window=14,
                     verdict=go_live + timedelta(days=17),
                     note="Spot checks: the line filled in on 28 of 30 handovers."),
        ]))

    # b. The bathroom doorway: a memo that did not work, then a designed check.
    n_bathroom = _planted_count("bathroom", reports, months)
    memo_created = c.day(130)
    memo_live = c.day(120)
    plans.append(_plan(
        c, "bathroom_memo", "Near falls at the Maple House bathroom doorway",
        "Repeated near falls at the bathroom doorway, most with the same person; staff steady "
        "them each time.", created=memo_created, created_by="supervisor", planted="bathroom",
        link_from=c.at(memo_created) - timedelta(weeks=16), link_until=c.at(memo_created),
        link_cap=8, link_share=min(1.0, 6 / max(1, 0.2 * n_bathroom)),
        outcome="Memo issued; the doorway stays on the repeat-theme watch list.",
        validate_with=0, close_after=c.at(memo_live + timedelta(days=10)), actions=[
            c.action("Memo: keep the walker within reach at the bathroom door",
                     "A memo to every shift: park the walker by the door before the bathroom "
                     "routine.", "policy_memo", "supervisor", created=memo_created,
                     deadline=memo_live, review=memo_live + timedelta(days=28),
                     status=S.NOT_EFFECTIVE, checks=("Memo read and signed by every shift",),
                     go_live=memo_live, window=28, verdict=memo_live + timedelta(days=31),
                     note="Near falls at the doorway carried on after the memo: it relies on "
                          "memory. A stronger control is needed.",
                     measure=_MeasureSpec(("transfer_near_fall",), "linked",
                                          location=BATHROOM_LOCATION, target=0.0)),
        ]))
    check_created = c.day(35)
    check_live = c.day(10)
    plans.append(_plan(
        c, "bathroom_check", "Bathroom doorway: pre-transfer equipment check",
        "The memo did not stop the near falls at the bathroom doorway: equipment positioning "
        "varies with who sets up the routine, and the space is tight.",
        created=check_created, created_by=Role.QUALITY.value, planted="bathroom",
        link_from=c.at(memo_created), link_until=c.at(check_created), link_cap=8,
        link_share=min(1.0, 6 / max(1, 0.17 * n_bathroom)),
        outcome="Pre-transfer equipment check verified.", validate_with=0, close_with=0,
        actions=[
            c.action("Pre-transfer equipment check at the bathroom door",
                     "Before every bathroom transfer: walker by the door, floor dry, mat flat, "
                     "grab rail free. A card at the door lists the four checks.",
                     "checklist", "supervisor", created=check_created,
                     deadline=check_live, review=check_live + timedelta(days=14),
                     status=S.IN_TEST,
                     checks=("Check card fixed at the bathroom door",
                             "Every shift shown the check", "Two routines observed"),
                     done=2, go_live=check_live, window=14,
                     measure=_MeasureSpec(("transfer_near_fall",), "linked",
                                          location=BATHROOM_LOCATION, per="100_shifts")),
            c.action("Refresher training on safe transfers",
                     "A refresher on safe transfers for the Maple House team.", "training",
                     "supervisor", created=check_created, deadline=c.day(-4),
                     review=c.day(-10), status=S.IN_PROGRESS,
                     checks=("Session booked", "Attendance recorded"), done=1),
            c.action("Walker parking spot marked by the bathroom door",
                     "A floor marking and a wall hook at the door, so the walker has one "
                     "place.", "physical_change", "supervisor", created=check_created,
                     deadline=c.day(-21), review=c.day(-28), status=S.PLANNED,
                     checks=("Maintenance request raised", "Marking in place")),
        ]))

    plans.extend(_other_plans(c, reports))
    kept = [p for p in plans if p is not None and p.link_until > start]
    kept.extend(p for p in _routine_plans(c, reports, months, start, len(kept))
                if p is not None and p.link_until > start)
    return tuple(kept)


def _other_plans(c: _Calendar, reports: int) -> list[_PlanSpec | None]:
    """Plans for themes the supervisors and leads found, most important first: how many
    scales gently with the demo's size."""
    S, day = ActionStatus, c.day
    wanted = max(3, min(14, round(8 + 2 * math.log2(max(reports, 1) / DEFAULT_REPORTS))))

    def window(older: int, newer: int) -> dict[str, datetime]:
        return {"link_from": c.at(day(older), 0), "link_until": c.at(day(newer), 0)}

    share = _LINK_SHARE_OTHER
    templates: list[Callable[[], _PlanSpec | None]] = [
        lambda: _plan(
            c, "interface_clinic", "Plan changes after clinic visits reach the next worker",
            "Plans updated after clinic appointments, and the next worker never told.",
            created=day(40), created_by=Role.OPERATIONS.value, type_key="interface_failure",
            **window(200, 45), link_cap=3, link_share=share,
            outcome="Read-back in place and verified.", validate_with=1, close_with=1,
            actions=[
                c.action("Read receipts on every plan change in the scheduling system",
                         "The scheduling system asks the rostered worker to confirm each plan "
                         "change; unread changes show on the office board.", "software",
                         Role.OPERATIONS.value, created=day(40), deadline=day(6),
                         review=day(-7), status=S.IN_PROGRESS,
                         checks=("Change request raised with the scheduling supplier",
                                 "Read receipts switched on for plan changes",
                                 "Coordinators shown the unread-changes report"), done=1),
                c.action("Coordinator reads back clinic changes to the next-shift worker",
                         "After a clinic appointment the coordinator rings the next worker and "
                         "has the change read back.", "read_back", Role.OPERATIONS.value,
                         created=day(40), deadline=day(30), review=day(14),
                         status=S.VERIFIED_EFFECTIVE,
                         checks=("Read-back step in the coordinators' procedure",
                                 "Spot check of 20 plan changes"),
                         go_live=day(30), window=14, verdict=day(14),
                         note="Spot check: 18 of 20 changes read back the same day."),
            ]),
        lambda: _plan(
            c, "transport_confirm", "Transport plans confirmed the day before",
            "Booked journeys failing on the day: wrong address, no accessible vehicle, pickup "
            "time wrong.", created=day(16), created_by="supervisor", type_key="transport",
            services=(_NORTHGATE,), **window(200, 20), link_cap=3, link_share=0.5,
            outcome="", actions=[
                c.action("Day-before call to confirm every booked journey",
                         "The day before, the office rings the transport provider and checks "
                         "the address, time and vehicle.", "read_back", "supervisor",
                         created=day(16), deadline=day(-3), review=day(-10),
                         status=S.IN_PROGRESS,
                         checks=("Call list built from the bookings",
                                 "Calls logged for a week"), done=1),
                c.action("Booking form cannot be sent without the vehicle type",
                         "The transport booking form refuses a booking with no vehicle type.",
                         "forcing_function", Role.OPERATIONS.value, created=day(16),
                         deadline=day(-30), review=day(-35), status=S.PLANNED,
                         checks=("Form changed by the transport provider",
                                 "Test booking made")),
            ]),
        lambda: _plan(
            c, "pharmacy_changes", "Pharmacy changes entered the same day",
            "Pharmacy changes reaching the worker before the record at Birchwood.",
            created=day(185), created_by="supervisor", type_key="medication_discrepancy",
            services=(_BIRCH,), **window(330, 190), link_cap=2, link_share=0.6,
            outcome="Read-back verified; the memo was superseded.", validate_with=1,
            close_with=1, actions=[
                c.action("Office enters pharmacy changes in the care record the same day",
                         "A memo to the office team.", "policy_memo", "supervisor",
                         created=day(185), deadline=day(160), review=day(150),
                         status=S.STOPPED, checks=("Memo sent to the office team",),
                         stopped=day(170),
                         reason="Superseded by the provider-wide family-note check and the "
                                "same-day record update (see the family-note plan)."),
                c.action("Shift lead reads back medication changes at handover",
                         "Any change to a medicine is read back at handover and initialled on "
                         "the MAR.", "read_back", "supervisor", created=day(185),
                         deadline=day(178), review=day(160), status=S.VERIFIED_EFFECTIVE,
                         checks=("Handover sheet has a medication-changes line",
                                 "Two weeks of handovers checked"),
                         go_live=day(178), window=14, verdict=day(162),
                         note="Every change in the fortnight read back and initialled."),
            ]),
        lambda: _plan(
            c, "skin_handover", "Skin changes handed over at every shift change",
            "Skin changes seen on one shift and not handed over to the next at Oak Lodge.",
            created=day(90), created_by=Role.CLINICAL.value,
            type_key="skin_integrity_deterioration", services=(_OAK,), **window(240, 95),
            link_cap=3, link_share=0.5, outcome="Handover prompt verified.", validate_with=0,
            close_with=0, actions=[
                c.action("Skin-change prompt on the handover sheet",
                         "The handover sheet asks, for every person: any new skin change?",
                         "standard_communication", Role.CLINICAL.value, created=day(90),
                         deadline=day(76), review=day(54), status=S.VERIFIED_EFFECTIVE,
                         checks=("Prompt added to the handover sheet",
                                 "Spot check of two weeks of handovers"),
                         go_live=day(75), window=21, verdict=day(52),
                         note="Spot checks: skin changes on every handover sheet checked."),
                c.action("Nurse spot-checks skin observation notes every week",
                         "The nurse reviews a sample of skin notes each week and feeds back.",
                         "leadership", Role.CLINICAL.value, created=day(90), deadline=day(-20),
                         review=day(-6), status=S.IN_PROGRESS,
                         checks=("Rota of weekly spot checks", "First four weeks logged"),
                         done=1),
            ]),
        lambda: _plan(
            c, "staffing_backup", "Backup cover visible before essential visits",
            "Essential visits saved only because a coordinator knew an off-route worker was "
            "nearby.", created=day(55), created_by=Role.QUALITY.value,
            type_key="staffing_visit_continuity", services=(_WEST,), **window(200, 60),
            link_cap=3, link_share=share, outcome="", validate_with=0, actions=[
                c.action("Backup workers shown on the coordinators' board for every essential "
                         "visit",
                         "The board shows a named backup for each essential visit, so nobody "
                         "relies on knowing who is nearby.", "software", Role.OPERATIONS.value,
                         created=day(55), deadline=day(20), review=day(-10), status=S.IN_TEST,
                         checks=("Board shows the backup for each essential visit",
                                 "Coordinators trained"),
                         go_live=day(18), window=28,
                         measure=_MeasureSpec(("staffing_visit_continuity",), "linked",
                                              per="100_visits")),
                c.action("Second coordinator confirms the backup before 5 pm",
                         "For evening essential visits a second coordinator confirms the backup "
                         "by 5 pm.", "redundancy", "supervisor", created=day(55),
                         deadline=day(-12), review=day(-14), status=S.IN_PROGRESS,
                         checks=("Added to the coordinators' afternoon checklist",
                                 "Two weeks of confirmations logged"), done=1),
            ]),
        lambda: _plan(
            c, "money_handling", "Money handling on shopping visits",
            "Boundary and financial-exploitation signals around shopping and bank cards.",
            created=day(50), created_by=Role.SAFEGUARDING.value,
            type_key="safeguarding_rights", **window(300, 60), link_cap=2, link_share=share,
            outcome="", actions=[
                c.action("Money-handling checklist and receipts for every shopping visit",
                         "Every shopping visit: cash counted in and out, receipts kept, no "
                         "cards or PINs handled.", "checklist", Role.SAFEGUARDING.value,
                         created=day(50), deadline=day(-9), review=day(-14),
                         status=S.IN_PROGRESS,
                         checks=("Checklist in every home with shopping visits",
                                 "Receipts audit after four weeks"), done=1),
                c.action("Boundaries refresher for home care workers",
                         "What to do when someone asks for money, cards or PINs.", "training",
                         Role.SAFEGUARDING.value, created=day(50), deadline=day(-25),
                         review=day(-30), status=S.PLANNED,
                         checks=("Session booked", "Attendance recorded")),
            ]),
        lambda: _plan(
            c, "daily_checks", "Equipment hazards found by chance at Northgate",
            "Equipment faults and hazards at the day programme found by chance, not on a "
            "check.", created=day(140), created_by="supervisor",
            type_key="environment_equipment", services=(_NORTHGATE,), **window(400, 150),
            link_cap=3, link_share=share, outcome="Daily checks verified and sustained.",
            validate_with=0, close_with=0, actions=[
                c.action("Daily equipment and room check sheet, minibus included",
                         "A check sheet for every room and the minibus, done before people "
                         "arrive.", "checklist", "supervisor", created=day(140),
                         deadline=day(126), review=day(110), status=S.VERIFIED_EFFECTIVE,
                         checks=("Check sheet in every room and the minibus",
                                 "Four weeks of sheets reviewed"),
                         go_live=day(125), window=14, verdict=day(108),
                         note="Hazards now found on the morning check, not by chance."),
                c.action("Self-locking wheelchair clamps fitted in the minibus",
                         "Replace the manual clamps with self-locking ones.", "physical_change",
                         Role.OPERATIONS.value, created=day(140), deadline=day(112),
                         review=day(95), status=S.VERIFIED_EFFECTIVE,
                         checks=("Clamps ordered", "Clamps fitted and tested"),
                         go_live=day(110), window=14, verdict=day(94),
                         note="Fitted and tested; no clamp faults since."),
            ]),
        lambda: _plan(
            c, "outing_risk", "Community outing risk plans",
            "Risks on community outings the outing risk plan did not cover.",
            created=day(95), created_by=Role.QUALITY.value, type_key="community_safety",
            services=(_BIRCH,), **window(300, 100), link_cap=2, link_share=0.5,
            outcome="Outing risk plans verified.", validate_with=0, close_with=0, actions=[
                c.action("Outing risk plan reviewed before each new venue",
                         "A short risk check before taking anyone to a new place.",
                         "checklist", "supervisor", created=day(95), deadline=day(82),
                         review=day(60), status=S.VERIFIED_EFFECTIVE,
                         checks=("Venue check added to the outing plan",),
                         go_live=day(80), window=21, verdict=day(57),
                         note="Every new venue in the test checked beforehand."),
            ]),
        lambda: _plan(
            c, "night_medicines", "Night medicines at Oak Lodge",
            "Medication discrepancies on the night round at Oak Lodge.", created=day(45),
            created_by="supervisor", type_key="medication_discrepancy", services=(_OAK,),
            **window(250, 50), link_cap=2, link_share=share, outcome="", actions=[
                c.action("Second signature on the MAR for night medicines",
                         "A second member of staff checks and signs night medicines.",
                         "double_check", "supervisor", created=day(45), deadline=day(3),
                         review=day(-4), status=S.IN_PROGRESS,
                         checks=("Second-signature column on the MAR",
                                 "Night staff briefed"), done=1),
            ]),
        lambda: _plan(
            c, "hoist_battery", "Hoist batteries flat before transfers",
            "The hoist battery found flat just before a transfer at Oak Lodge.",
            created=day(160), created_by="supervisor", type_key="environment_equipment",
            services=(_OAK,), **window(420, 170), link_cap=2, link_share=0.5,
            outcome="Charging rota verified.", validate_with=0, close_with=0, actions=[
                c.action("Hoist battery on a charging rota, with a charged spare",
                         "The night shift charges the hoist battery; a charged spare is kept.",
                         "redundancy", "supervisor", created=day(160), deadline=day(150),
                         review=day(130), status=S.VERIFIED_EFFECTIVE,
                         checks=("Spare battery bought", "Charging on the night checklist"),
                         go_live=day(148), window=14, verdict=day(132),
                         note="No flat battery in the test window."),
            ]),
        lambda: _plan(
            c, "east_evening", "East evening run under pressure",
            "Late evening visits on the East evening run.", created=day(30),
            created_by=Role.QUALITY.value, type_key="staffing_visit_continuity",
            services=(_EAST,), **window(200, 35), link_cap=3, link_share=share,
            outcome="", validate_with=0, actions=[
                c.action("Shorter East evening run at the 17:00-19:00 peak",
                         "Split the evening run at the peak so one urgent visit does not make "
                         "every later visit late.", "staffing_workload", Role.OPERATIONS.value,
                         created=day(30), deadline=day(14), review=day(-14), status=S.IN_TEST,
                         checks=("New run published", "Workers told"), go_live=day(12),
                         window=28,
                         measure=_MeasureSpec(("staffing_visit_continuity",), "linked",
                                              per="100_visits")),
            ]),
        lambda: _plan(
            c, "clinic_letters", "Clinic letters left in the kitchen",
            "Clinic letters found at the person's home before the office had them.",
            created=day(20), created_by=Role.OPERATIONS.value, type_key="interface_failure",
            **window(150, 25), link_cap=2, link_share=share, outcome="", actions=[
                c.action("Clinic letters scanned to the care record the same day",
                         "Workers photograph new clinic letters into the care app; the office "
                         "updates the plan the same day.", "simplify_standardise",
                         Role.OPERATIONS.value, created=day(20), deadline=day(-40),
                         review=day(-45), status=S.PLANNED,
                         checks=("Care app photo upload switched on", "Office procedure")),
            ]),
        lambda: _plan(
            c, "bedroom_sensor", "Night-time near falls getting out of bed",
            "Near falls getting out of bed at night at Oak Lodge.", created=day(110),
            created_by="supervisor", type_key="transfer_near_fall", services=(_OAK,),
            **window(300, 115), link_cap=2, link_share=0.5, outcome="Sensor mat verified.",
            validate_with=0, close_with=0, actions=[
                c.action("Sensor mat by the bed at night",
                         "A sensor mat alerts staff when the person gets up at night.",
                         "physical_change", "supervisor", created=day(110), deadline=day(100),
                         review=day(80), status=S.VERIFIED_EFFECTIVE,
                         checks=("Sensor mat fitted", "Night staff shown the alert"),
                         go_live=day(98), window=21, verdict=day(75),
                         note="Staff reached the person before standing on every alert."),
            ]),
        lambda: _plan(
            c, "agency_confirm", "Agency shifts confirmed the day before",
            "Agency workers sent late or to the wrong address in the South.", created=day(25),
            created_by=Role.QUALITY.value, type_key="late_shift_start",
            services=(_MAPLE, _BIRCH), **window(300, 30), link_cap=2, link_share=0.6,
            outcome="", actions=[
                c.action("Agency bookings confirmed by text the day before",
                         "The scheduler texts each agency worker the address and start time "
                         "the day before.", "read_back", Role.OPERATIONS.value,
                         created=day(25), deadline=day(-6), review=day(-12),
                         status=S.IN_PROGRESS, checks=("Text template agreed",), done=1),
            ]),
    ]
    return [make() for make in templates[:wanted]]


# Routine plans: what a large provider's supervisors make week in, week out. The hand-written
# plans above stay the story; these keep plans, actions and feedback in proportion to the
# reports (about one plan per `_REPORTS_PER_PLAN` reports), so a million-report demo has the
# action register and "what changed" history of a provider that size.
_REPORTS_PER_PLAN = 250
_ROUTINE_LINK_CAP = 8

# Per type: what the linked reports showed, then controls (title, description, kind, checks).
_ROUTINE_CONTROLS: dict[str, tuple[str, tuple[tuple[str, str, str, tuple[str, ...]], ...]]] = {
    "transfer_near_fall": (
        "Near falls during transfers, each caught by the worker steadying the person.",
        (("Pre-transfer equipment check card in every bathroom and bedroom",
          "Before a transfer: aid in reach, brakes on, floor clear, footwear on.",
          "checklist", ("Cards fixed in every room", "Two transfers observed per shift")),
         ("Grab rails fitted where people stand up",
          "Grab rails by the bed and toilet where the near falls happened.",
          "physical_change", ("Rails ordered", "Rails fitted and load-tested")),
         ("Two-person transfer flagged on the rota",
          "Shifts with a two-person transfer show it, so the second worker is free then.",
          "software", ("Rota flag switched on", "Two weeks of shifts checked")))),
    "medication_discrepancy": (
        "Medication prompts that did not match the record, each caught before the dose.",
        (("New prescriptions checked against the record by a second worker",
          "Any new or changed medicine is checked against the record by a second worker "
          "before the first prompt.", "double_check",
          ("Check added to the medication round", "Two weeks of changes audited")),
         ("One medication record per person, in one place",
          "Old printed charts withdrawn; the electronic record is the only one.",
          "simplify_standardise", ("Printed charts withdrawn", "Spot check of ten homes")),
         ("Pharmacy changes read back to the office",
          "The worker reads back each pharmacy change to the office, who updates the record.",
          "read_back", ("Read-back line on the visit record", "Two weeks of changes checked")))),
    "staffing_visit_continuity": (
        "Essential visits nearly missed, each saved by a coordinator or a worker nearby.",
        (("Backup worker named for every essential visit",
          "The scheduling board shows a named backup for each essential visit.",
          "software", ("Board shows the backup", "Coordinators trained")),
         ("Extra worker on the peak-time run",
          "An extra worker covers the busiest two hours of the run.",
          "staffing_workload", ("Extra shift on the rota", "Four weeks of runs checked")))),
    "skin_integrity_deterioration": (
        "Skin changes seen late or not handed over, each caught on a later check.",
        (("Skin check prompt at every personal-care visit",
          "The visit record asks about skin at every personal-care visit.",
          "standard_communication", ("Prompt in the visit record", "Two weeks of records")),
         ("Repositioning chart by the bed",
          "A chart by the bed shows when the person was last moved.",
          "checklist", ("Charts in every room that needs one", "Charts audited weekly")))),
    "interface_failure": (
        "Changes from clinics and other services that nearly did not reach the worker.",
        (("Clinic letters scanned to the record the same day",
          "Workers photograph new letters into the care app; the office updates the plan.",
          "simplify_standardise", ("Upload switched on", "Office procedure agreed")),
         ("Plan changes confirmed by the next worker",
          "The next worker confirms each plan change in the app before the visit.",
          "software", ("Confirmation step switched on", "Unconfirmed changes on the board")))),
    "late_shift_start": (
        "Shifts that nearly started uncovered, each filled at the last minute.",
        (("Rota locked 48 hours before the shift",
          "Changes inside 48 hours need a supervisor's sign-off and a named cover.",
          "forcing_function", ("Lock switched on", "Exception pathway agreed")),
         ("Cover confirmed by text the day before",
          "The scheduler texts the worker the start time and place the day before.",
          "read_back", ("Text template agreed", "Two weeks of texts checked")))),
    "safeguarding_rights": (
        "Boundary and rights concerns, each stopped before harm.",
        (("Money-handling checklist with receipts",
          "Cash counted in and out, receipts kept; no cards or PINs handled.",
          "checklist", ("Checklist in every home", "Receipts audit after four weeks")),
         ("Restrictions reviewed by the manager every week",
          "The manager reviews every restriction in place each week with the team.",
          "leadership", ("Weekly review booked", "Four reviews logged")))),
    "environment_equipment": (
        "Equipment faults and hazards found by chance rather than on a check.",
        (("Daily room and equipment check sheet",
          "A check sheet for each room and vehicle, done before people arrive.",
          "checklist", ("Sheets in every room", "Four weeks of sheets reviewed")),
         ("Charged spare for every hoist and powered aid",
          "A charged spare battery is kept, on a charging rota.",
          "redundancy", ("Spares bought", "Charging on the night checklist")),
         ("Faulty equipment tagged out of use at once",
          "Any fault: tag the equipment out of use and log it for repair the same day.",
          "simplify_standardise", ("Tags in every store", "Repair log checked")))),
    "transport": (
        "Journeys that nearly went wrong: clamps, seat belts, pick-ups and drop-offs.",
        (("Pre-journey vehicle and restraint check",
          "Before every journey: clamps locked, belts on, doors checked, route confirmed.",
          "checklist", ("Check card in every vehicle", "Two weeks of journeys checked")),
         ("Self-locking wheelchair clamps",
          "Manual clamps replaced with self-locking ones.",
          "physical_change", ("Clamps ordered", "Clamps fitted and tested")))),
    "community_safety": (
        "Risks on community outings the risk plan did not cover.",
        (("Venue risk check before each new outing",
          "A short risk check before taking anyone somewhere new.",
          "checklist", ("Check added to the outing plan", "Every new venue checked")),
         ("Outing buddy system",
          "Two workers stay together on outings with more than two people.",
          "redundancy", ("Pairs on the outing rota", "Four weeks of outings checked")))),
    "other": (
        "Assorted near misses the team grouped at its monthly review.",
        (("Monthly near-miss huddle with the manager",
          "The manager goes through the month's near misses with the team.",
          "leadership", ("Huddle booked", "Three huddles logged")),)),
}
_ROUTINE_COMPANIONS: tuple[tuple[str, str, str], ...] = (
    ("Team briefing on the change", "Every shift briefed on what changed and why.",
     "training"),
    ("Reminder in the team's weekly update", "A reminder of the new way of working.",
     "policy_memo"),
    ("Sign where the change applies", "A sign at the place the near misses happened.",
     "warning"),
)


def _routine_plans(c: _Calendar, reports: int, months: int, start: datetime, existing: int,
                   ) -> list[_PlanSpec | None]:
    """Plans about one type of near miss at one service, each linking a few of the reports
    before it; how many follows the demo's size, spread over services and types as the
    reports are, with statuses by age (old ones verified, stopped or not effective; recent
    ones in progress or in test; a few overdue)."""
    wanted = reports // _REPORTS_PER_PLAN - existing
    if wanted <= 0:
        return []
    rng = random.Random(f"demo-routine-plans-{reports}-{months}")
    S, today = ActionStatus, c.today
    first = c.local_day(start) + timedelta(days=42)
    span = (today - timedelta(days=2) - first).days
    if span < 14:
        return []
    pairs = [(service, key) for service in SERVICES for key in _ROUTINE_CONTROLS
             if key in PROFILES]
    totals = {key: sum(s.volume * PROFILES[key].kinds.get(s.kind, 1.0) for s in SERVICES)
              for key in _ROUTINE_CONTROLS if key in PROFILES}
    weights = [PROFILES[key].share * s.volume * PROFILES[key].kinds.get(s.kind, 1.0)
               / totals[key] for s, key in pairs]
    per_day = reports / max(1, (today - c.local_day(start)).days)
    plans: list[_PlanSpec | None] = []
    for (service, key), count, weight in zip(pairs, _allocate(wanted, weights, rng), weights,
                                             strict=True):
        if count == 0:
            continue
        theme, controls = _ROUTINE_CONTROLS[key]
        gap = span / count
        window = max(7, min(56, round(gap)))
        expected = max(1.0, window * per_day * weight * 0.9)  # the reviewed share links
        previous: date | None = None
        for n in range(count):
            created = first + timedelta(days=int(gap * (n + rng.random())))  # in its slot
            link_from = c.at(max(previous or created - timedelta(days=window),
                                 created - timedelta(days=window)), 0)
            previous = created
            title, description, kind, checks = controls[int(rng.random() * len(controls))]
            fate = rng.random()
            go_live = created + timedelta(days=rng.randint(7, 28))
            test_days = rng.choice((14, 21, 28))
            verdict = go_live + timedelta(days=test_days + rng.randint(1, 6))
            owner = "supervisor" if rng.random() < 0.8 else Role.QUALITY.value
            stopped = None
            if fate < 0.72:
                status, note = S.VERIFIED_EFFECTIVE, "Spot checks in the test window: the " \
                    "control was in use and the near misses it targets fell."
            elif fate < 0.82:
                status, note = S.NOT_EFFECTIVE, "The near misses carried on at the same " \
                    "rate: a stronger control is needed."
            elif fate < 0.87:
                status, note = S.STOPPED, ""
                stopped = created + timedelta(days=rng.randint(10, 40))
            elif (today - created).days < 120:  # stuck: overdue by now, most of them
                status, note = S.IN_PROGRESS, ""
            else:  # stuck for a while, then done late
                go_live += timedelta(days=rng.randint(30, 60))
                verdict += timedelta(days=rng.randint(30, 60))
                status, note = S.VERIFIED_EFFECTIVE, "Went live late (supplier delay); spot " \
                    "checks in the test window found it in use."
            deadline = go_live if status is not S.IN_PROGRESS else \
                created + timedelta(days=rng.randint(14, 45))
            lead = c.action(
                title, description, kind, owner, created=created, deadline=deadline,
                review=deadline + timedelta(days=test_days), status=status, checks=checks,
                done=1 if status is S.IN_PROGRESS else None, go_live=go_live, window=test_days,
                verdict=verdict, note=note, stopped=stopped,
                reason="Superseded by a stronger control for the same risk.")
            actions = [lead]
            if rng.random() < 0.45:
                extra_title, extra_description, extra_kind = _ROUTINE_COMPANIONS[
                    int(rng.random() * len(_ROUTINE_COMPANIONS))]
                extra_live = go_live + timedelta(days=3)
                actions.append(c.action(
                    extra_title, extra_description, extra_kind, "supervisor", created=created,
                    deadline=extra_live, review=extra_live + timedelta(days=14),
                    status=S.VERIFIED_EFFECTIVE if status is not S.IN_PROGRESS
                    else S.IN_PROGRESS, checks=("Done on every shift",),
                    go_live=extra_live, window=14,
                    verdict=extra_live + timedelta(days=16),
                    note="Every shift confirmed the briefing."))
            plans.append(_plan(
                c, f"routine_{service.name}_{key}_{n}", f"{title} ({service.name})", theme,
                created=created, created_by=owner, type_key=key, services=(service.name,),
                link_from=link_from, link_until=c.at(created, 0), link_cap=_ROUTINE_LINK_CAP,
                link_share=min(1.0, 1.5 * _ROUTINE_LINK_CAP / expected),
                outcome=("The control is in place and verified effective." if fate < 0.72
                         else "It did not reduce these near misses; the theme stays on the "
                              "watch list." if fate < 0.82
                         else "Superseded by a stronger control for the same risk."),
                validate_with=0, close_with=0, actions=actions))
    return plans


def generate_demo(places: DemoPlaces, taxonomy: TaxonomySpec, *,
                  reports: int = DEFAULT_REPORTS, seed: int = 7, months: int = DEFAULT_MONTHS,
                  now: datetime, zone: ZoneInfo, rules: Settings | None = None,
                  plans: Sequence[_PlanSpec] | None = None) -> Iterator[DemoRecord]:
    """Yield `reports` demo near misses with their history up to `now`, in reporting order.

    Pure and deterministic: the same arguments give the same records (no reference numbers or
    ids yet). `rules` gives the triage matrix, escalation times and action rules (default: the
    settings); `plans` the action plans that link reports (default: `_demo_plans`).
    """
    rules = rules or settings()
    if plans is None:
        plans = _demo_plans(now, months=months, reports=reports, rules=rules)
    history = _History(places, taxonomy, seed=seed, now=now, rules=rules, plans=plans)
    for row, planted in _report_rows(
            places, taxonomy, reports=reports, seed=seed, months=months, now=now, zone=zone,
            safeguarding_minutes=rules.escalation.acknowledge_within_minutes["safeguarding"]):
        yield history.plan(row, planted)


def generate_demo_rows(places: DemoPlaces, taxonomy: TaxonomySpec, *,
                       reports: int = DEFAULT_REPORTS, seed: int = 7,
                       months: int = DEFAULT_MONTHS, now: datetime, zone: ZoneInfo,
                       rules: Settings | None = None) -> Iterator[dict[str, Any]]:
    """Yield `reports` demo near-miss rows in order of reported_at (no reference numbers yet).

    The rows as they stand at `now` (flags, triage outcome, status); see `generate_demo`.
    """
    for record in generate_demo(places, taxonomy, reports=reports, seed=seed, months=months,
                                now=now, zone=zone, rules=rules):
        yield record.report


# ---------------------------------------------------------------------------------------------
# Storing it
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSummary:
    """What `load_demo` did."""

    reports: int  # reports created by this call
    services: int  # services in the database afterwards
    users_created: list[str]  # usernames created by this call (demo role users + staff)
    first_occurred: datetime | None  # naive UTC
    last_occurred: datetime | None
    triaged: int = 0  # reports triaged (the rest are still new)
    escalations: int = 0  # escalations raised for them
    reviewed: int = 0  # reports whose review has started
    closed: int = 0  # reports closed after review and validation
    action_plans: int = 0  # action plans created (with their actions)
    actions: int = 0
    feedback_updates: int = 0  # "what changed because you reported" updates published


def prepare_demo_provider(engine: Engine) -> list[str]:
    """Create the demo provider's reference data and users (idempotent); returns new usernames."""
    with UnitOfWork(engine) as uow:
        for name, cue_guide in STAFF_GROUPS:
            org.get_or_create_staff_group(uow, SYSTEM, name, cue_guide=cue_guide)
        for region in sorted({s.region for s in SERVICES}):
            org.get_or_create_region(uow, SYSTEM, region)
        for spec in SERVICES:
            service_id = org.get_or_create_service(uow, SYSTEM, spec.name, region=spec.region,
                                                   kind=spec.kind)
            for place in spec.places:
                org.get_or_create_location(uow, SYSTEM, service_id, place.name)
            for route in spec.routes:
                org.get_or_create_route(uow, SYSTEM, service_id, route)
            for person in spec.people:
                org.get_or_create_person(uow, SYSTEM, service_id, person.ref,
                                         display_name=person.name)
        uow.commit()
    created = ensure_demo_users(lambda: UnitOfWork(engine), services=DEMO_SERVICES_BY_ROLE)
    _complete_demo_accounts(engine)
    with read_session(engine) as session:
        existing = set(session.scalars(select(User.username)))
    missing = [(s, Role.REPORTER) for s in STAFF if s.username not in existing]
    missing += [(s, Role.SUPERVISOR) for s in SUPERVISORS if s.username not in existing]
    if missing:
        # Synthetic staff never sign in: the hash of a random token nobody knows, hashed once
        # (at the configured cost, so a wrong password for them takes as long as any other).
        unusable = hash_password(secrets.token_hex(32), rounds=settings().sign_in.bcrypt_rounds)
        for staff, role in missing:
            add_user(UnitOfWork(engine), SYSTEM, NewUser(
                username=staff.username, display_name=staff.display_name, password="",
                roles=(role.value,), services=staff.services,
                email=f"{staff.username}@demo.nearmiss.invalid", staff_group=staff.group,
            ), password_hash=unusable)
            created.append(staff.username)
    return created


def _complete_demo_accounts(engine: Engine) -> None:
    """Give demo accounts made before the services existed their services and staff group.

    `nearmiss init` creates the demo users on an empty database, so the reporter and the
    supervisor start with no services and no staff group. Only what is still empty is filled
    in: an administrator's later changes are left alone.
    """
    with read_session(engine) as session:
        groups = dict(session.execute(select(StaffGroup.name, StaffGroup.id)).all())
        accounts = {u.username: (u.id, u.staff_group_id, bool(u.services),
                                 tuple(sorted(r.role for r in u.roles)))
                    for u in session.scalars(select(User).where(
                        User.username.in_([role.value for role in DEMO_ACCOUNTS])))}
    for role, services in DEMO_SERVICES_BY_ROLE.items():
        account = accounts.get(role.value)
        if account is not None and not account[2]:
            update_user_access(UnitOfWork(engine), SYSTEM, role.value, roles=account[3],
                               services=services)
    missing_group = [(role, accounts[role.value][0], groups[group])
                     for role, (_name, group) in DEMO_ACCOUNTS.items()
                     if role.value in accounts and accounts[role.value][1] is None
                     and group in groups]
    if missing_group:
        with UnitOfWork(engine) as uow:
            for role, user_id, group_id in missing_group:
                user = uow.session.get(User, user_id)
                assert user is not None
                user.staff_group_id = group_id
                uow.record(SYSTEM, "user.staff_group_set", "user", user_id,
                           before={"staff_group_id": None},
                           after={"staff_group_id": group_id, "username": role.value})
            uow.commit()


def _users_by_role(session: Session) -> tuple[dict[str, tuple[int, ...]], dict[int, set[int]]]:
    """Active users of the roles that triage or handle escalations, and supervisors' services.

    Each role's demo user (username = role id) comes first: it is the one who acts.
    """
    roles = [r.value for r in (Role.SUPERVISOR, Role.SAFEGUARDING, Role.CLINICAL,
                               Role.OPERATIONS, Role.QUALITY)]
    holders: dict[str, list[tuple[bool, str, int]]] = {role: [] for role in roles}
    for user_id, username, role in session.execute(
            select(User.id, User.username, UserRole.role)
            .join(UserRole, UserRole.user_id == User.id)
            .where(User.active.is_(True), UserRole.role.in_(roles))):
        holders[role].append((username != role, username, user_id))
    leads = {role: tuple(user_id for *_key, user_id in sorted(found))
             for role, found in holders.items()}
    covered: dict[int, set[int]] = {}
    for user_id, service_id in session.execute(
            select(UserService.user_id, UserService.service_id)
            .where(UserService.user_id.in_(leads[Role.SUPERVISOR.value] or (-1,)))):
        covered.setdefault(service_id, set()).add(user_id)
    return leads, covered


def demo_places(session: Session) -> DemoPlaces:
    """Read the ids of the demo provider's services, places, people, staff and leads."""
    groups = dict(session.execute(select(StaffGroup.name, StaffGroup.id)).all())
    group_names = {v: k for k, v in groups.items()}
    keenness = ({s.username: s.keenness for s in (*STAFF, *SUPERVISORS)}
                | _DEMO_REPORTER_KEENNESS)
    leads, supervisors_of = _users_by_role(session)
    users = session.execute(
        select(User.id, User.username, User.staff_group_id, UserService.service_id)
        .join(UserService, UserService.user_id == User.id)
        .where(User.username.in_(keenness), User.active.is_(True))
        .order_by(User.username)
    ).all()
    service_rows = {name: (service_id, region) for service_id, name, region in session.execute(
        select(Service.id, Service.name, Region.name)
        .outerjoin(Region, Region.id == Service.region_id).where(Service.active.is_(True)))}
    services = []
    for spec in SERVICES:
        if spec.name not in service_rows:
            continue
        service_id, region = service_rows[spec.name]
        locations = dict(session.execute(select(Location.name, Location.id).where(
            Location.service_id == service_id, Location.active.is_(True))).all())
        routes = dict(session.execute(select(Route.name, Route.id).where(
            Route.service_id == service_id, Route.active.is_(True))).all())
        # By service too: a reference held by another service is not this service's person.
        people = dict(session.execute(select(PersonSupported.local_ref, PersonSupported.id).where(
            PersonSupported.service_id == service_id, PersonSupported.active.is_(True))).all())
        places = tuple(DemoPlace(locations[p.name], p) for p in spec.places if p.name in locations)
        if not places:
            continue
        services.append(DemoService(
            id=service_id, spec=spec, region=region, places=places,
            routes=tuple(routes[name] for name in spec.routes if name in routes),
            people=tuple(DemoPerson(people[p.ref], p) for p in spec.people if p.ref in people),
            reporters=tuple(
                DemoReporter(user_id, group_id, group_names.get(group_id), keenness[username])
                for user_id, username, group_id, user_service in users
                if user_service == service_id),
            supervisors=tuple(u for u in leads[Role.SUPERVISOR.value]
                              if u in supervisors_of.get(service_id, ())),
        ))
    versions = dict(session.execute(
        select(NearMissType.key, NearMissType.current_version)
        .where(NearMissType.active.is_(True))).all())
    return DemoPlaces(tuple(services), groups, versions,
                      {role: ids for role, ids in leads.items() if role != Role.SUPERVISOR})


def _reserve_numbers(session: Session, year: int, count: int) -> int:
    """Take `count` reference numbers of `year` at once; returns the first one."""
    dialect = session.get_bind().dialect.name
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        upsert(ReferenceCounter)
        .values(year=year, last_value=count)
        .on_conflict_do_update(index_elements=[ReferenceCounter.year],
                               set_={"last_value": ReferenceCounter.last_value + count})
        .returning(ReferenceCounter.last_value)
    )
    return session.execute(statement).scalar_one() - count + 1


def _notification_text(kind: EscalationKind, reference: str, escalation: DemoEscalation,
                       rules: Settings) -> tuple[str, str]:
    """The title and body core.escalation.service.raise_escalation writes."""
    due_local = to_local(escalation.row["due_at"], rules.zone).strftime("%d %b %H:%M")
    body = (f"{kind.label} for near miss {reference} at {escalation.where}.\n"
            f"{escalation.row['reason']}\nAcknowledge by {due_local} in the portal: "
            f"{rules.email.portal_url}")
    return f"{kind.label}: {reference}"[:200], body


def _insert_reports(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert report rows (a plain executemany, the fast path); their new ids in row order."""
    table = NearMissReport.__table__
    # Ids only grow, so this transaction's rows are above the highest id seen before them;
    # matching on the reference leaves out anything another writer added meanwhile.
    before = session.scalar(select(func.max(table.c.id))) or 0
    _insert_many(session, table, rows)
    ids = {reference: report_id for reference, report_id in session.execute(
        select(table.c.reference, table.c.id).where(table.c.id > before))}
    return [ids[row["reference"]] for row in rows]


def _sqlite_value(column: Any) -> Callable[[Any], Any] | None:
    """How SQLAlchemy stores a value of this column on SQLite (None: as it is)."""
    kind = column.type
    if isinstance(kind, DateTime):
        return lambda v: v if v is None else v.isoformat(" ", "microseconds")
    if isinstance(kind, Date):
        return lambda v: v if v is None else v.isoformat()
    if isinstance(kind, JSON):
        return lambda v: v if v is None else json.dumps(v)
    return None


@lru_cache(maxsize=32)
def _sqlite_insert(table: Any, names: tuple[str, ...],
                   ) -> tuple[str, Callable[[dict[str, Any]], Any],
                              tuple[tuple[int, Callable[[Any], Any]], ...]] | None:
    """A plain INSERT for the driver, a getter of a row's values and the conversions they
    need (by position); None when a column left out has a default SQLAlchemy would fill in
    (then SQLAlchemy inserts)."""
    left_out = [c for c in table.c if c.name not in names and not c.primary_key]
    if len(names) < 2 or any(c.default is not None or c.server_default is not None
                             for c in left_out):
        return None
    statement = (f"INSERT INTO {table.name} ({', '.join(names)}) "
                 f"VALUES ({', '.join('?' for _ in names)})")
    conversions = tuple((index, convert) for index, name in enumerate(names)
                        if (convert := _sqlite_value(table.c[name])) is not None)
    return statement, itemgetter(*names), conversions


def _insert_many(session: Session, table: Any, rows: list[dict[str, Any]], *,
                 ids: bool = False) -> list[int]:
    """Insert many rows at once; with `ids`, their new ids in row order (slower: RETURNING).

    On SQLite the rows go straight to the driver, stored exactly as SQLAlchemy would store
    them: its per-row bind processing would otherwise dominate a large load.
    """
    if not rows:
        return []
    if not ids:
        names = tuple(rows[0])
        plain = _sqlite_insert(table, names) if session.get_bind().dialect.name == "sqlite" \
            else None
        if plain is None:
            session.execute(insert(table), rows)
            return []
        statement, values_of, conversions = plain
        values = []
        for row in rows:
            value = list(values_of(row))
            for index, convert in conversions:
                value[index] = convert(value[index])
            values.append(tuple(value))
        session.connection().exec_driver_sql(statement, values)
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.execute(statement, rows).scalars())


def _store_chunk(engine: Engine, records: list[DemoRecord], *, rules: Settings) -> Counter[str]:
    """Number and insert one chunk of reports and their history in one audited transaction."""
    rows = [record.report for record in records]
    years = [to_local(row["reported_at"], rules.zone).year for row in rows]
    counts: Counter[str] = Counter()
    with UnitOfWork(engine) as uow:
        session = uow.session
        # Continue each year's counter where it stands (the form may have filed some), in the
        # same transaction as the rows, so a failed chunk leaves no gap.
        next_number = {year: _reserve_numbers(session, year, count)
                       for year, count in sorted(Counter(years).items())}
        for row, year in zip(rows, years, strict=True):
            row["reference"] = f"{rules.reference_prefix}-{year}-{next_number[year]:05d}"
            next_number[year] += 1
        for record, report_id in zip(records, _insert_reports(session, rows), strict=True):
            record.slot.id = report_id

        triage_rows, transition_rows = [], []
        review_rows, gate_rows, evidence_rows, communication_rows = [], [], [], []
        # Grouped by (decided, notified): an undecided escalation leaves `decision` out, so it is
        # SQL NULL as the service leaves it, and only notified ones need their ids back.
        escalations: dict[tuple[bool, bool], list[tuple[DemoRecord, DemoEscalation]]] = {
            (decided, notified): [] for decided in (True, False) for notified in (True, False)}
        for record in records:
            report_id = record.slot.id
            if record.triage is not None:
                linked = sorted({s.id for s in record.related if s.id is not None})
                triage_rows.append({**record.triage, "report_id": report_id,
                                    "related_report_ids": linked})
            transition_rows.extend({**t, "report_id": report_id} for t in record.transitions)
            if record.review is not None:
                review_rows.append({**record.review, "report_id": report_id})
                counts["closed"] += record.review["closed_at"] is not None
                gate_rows.extend({**g, "report_id": report_id} for g in record.gate_checks)
                evidence_rows.extend({**e, "report_id": report_id} for e in record.evidence)
                communication_rows.extend({**c, "report_id": report_id}
                                          for c in record.communications)
            for escalation in record.escalations:
                counts["escalations"] += 1
                counts["acknowledged"] += escalation.row["acknowledged_at"] is not None
                counts["decided"] += escalation.row["decided_at"] is not None
                escalations["decision" in escalation.row, bool(escalation.notices)].append(
                    (record, escalation))
        _insert_many(session, TriageRecord.__table__, triage_rows)
        _insert_many(session, ReportTransition.__table__, transition_rows)
        _insert_many(session, Review.__table__, review_rows)
        _insert_many(session, GateCheck.__table__, gate_rows)
        _insert_many(session, ValidationEvidence.__table__, evidence_rows)
        _insert_many(session, CommunicationDecision.__table__, communication_rows)
        notification_rows = []
        for (_decided, notified), group in escalations.items():
            escalation_rows = [{**e.row, "report_id": record.slot.id} for record, e in group]
            if not notified:
                _insert_many(session, Escalation.__table__, escalation_rows)
                continue
            escalation_ids = _insert_many(session, Escalation.__table__, escalation_rows,
                                          ids=True)
            for (record, escalation), escalation_id in zip(group, escalation_ids, strict=True):
                kind = EscalationKind(escalation.row["kind"])
                title, body = _notification_text(kind, record.report["reference"], escalation,
                                                 rules)
                notification_rows.extend({
                    "user_id": notice.user_id, "report_id": record.slot.id,
                    "escalation_id": escalation_id, "kind": f"escalation.{kind.value}",
                    "title": title, "body": body, "created_at": escalation.row["raised_at"],
                    "read_at": notice.read_at, "email_to": None, "email_status": "not_needed",
                    "email_attempts": 0, "email_error": None, "email_sent_at": None,
                } for notice in escalation.notices)
        _insert_many(session, Notification.__table__, notification_rows)
        # Each triage moved its report once (new -> triaged); the rest are later moves.
        counts.update(reports=len(rows), triaged=len(triage_rows), transitions=len(triage_rows),
                      review_transitions=len(transition_rows) - len(triage_rows),
                      reviews=len(review_rows), gate_checks=len(gate_rows),
                      evidence=len(evidence_rows), communications=len(communication_rows),
                      notifications=len(notification_rows))
        references = {"first_reference": rows[0]["reference"],
                      "last_reference": rows[-1]["reference"]}
        uow.record(SYSTEM, "demo.reports_loaded", "near_miss_report", None,
                   after={"count": len(rows), **references})
        uow.record(SYSTEM, "demo.triage_loaded", "near_miss_report", None, after={
            **{key: counts[key] for key in ("triaged", "transitions", "escalations",
                                            "acknowledged", "decided", "notifications")},
            **references})
        uow.record(SYSTEM, "demo.reviews_loaded", "near_miss_report", None, after={
            "reviews": counts["reviews"], "closed": counts["closed"],
            "transitions": counts["review_transitions"], "gate_checks": counts["gate_checks"],
            "evidence": counts["evidence"], "communications": counts["communications"],
            **references})
        uow.commit()
    return counts


# Weekly activity by kind of service: (visits per person supported, shifts per person).
_ACTIVITY: dict[str, tuple[float | None, float | None]] = {
    HOME_CARE: (19.5, None),  # about three visits a day each
    RESIDENTIAL: (None, 8.0),  # early, late and night shifts, two or three staff each
    DAY_PROGRAMME: (4.2, 2.2),  # attendances, and staff days
    SUPPORTED_LIVING: (None, 5.5),
}


def _activity_rows(places: DemoPlaces, *, now: datetime, months: int, zone: ZoneInfo,
                   seed: int) -> list[dict[str, Any]]:
    """Visits and shifts per service and week over the demo's period (the denominators of
    "per 100 visits/shifts"): growing a little, dipping at Christmas, never exact."""
    rng = random.Random(f"demo-activity-{seed}")
    start, _ = demo_window(now, months)
    first = week_start_of(to_local(start, zone).date())
    last = week_start_of(to_local(now, zone).date())
    weeks = (last - first).days // 7 + 1
    rows = []
    for service in places.services:
        per_visit, per_shift = _ACTIVITY.get(service.spec.kind, (None, 6.0))
        people = max(1, len(service.spec.people))
        for index in range(weeks):
            week = first + timedelta(weeks=index)
            scale = (0.92 + 0.1 * index / max(1, weeks - 1)) * rng.uniform(0.95, 1.05)
            if (week.month, week.day) >= (12, 20) or (week.month, week.day) <= (1, 3):
                scale *= 0.85 if service.spec.kind in (HOME_CARE, DAY_PROGRAMME) else 1.0
            rows.append({
                "service_id": service.id, "week_start": week,
                "visits": round(people * per_visit * scale) if per_visit else None,
                "shifts": round(people * per_shift * scale) if per_shift else None})
    return rows


@dataclass(frozen=True)
class _Linked:
    """A stored report an action plan links."""

    report_id: int
    service_id: int
    severity: str | None
    in_cluster: bool


_RCA_WHYS = (
    "Why did the worker find a mismatch? The family note had a newer dose than the care plan.",
    "Why was the care plan older? Families tell whoever is there; nothing brings the change to "
    "the office.",
    "Why does nothing bring it? No step in the visit asks the worker to compare the note and "
    "the plan.",
    "Why was the mismatch caught at all? The worker paused and rang: vigilance, not a control.",
)


def _store_plans(engine: Engine, plans: Sequence[_PlanSpec],
                 links: Mapping[str, Sequence[_Linked]], places: DemoPlaces, *, now: datetime,
                 months: int, seed: int, rules: Settings) -> Counter[str]:
    """Store activity counts, the root cause analysis and the action plans with their
    actions, checks, measures (evaluated on the stored reports) and sustainment checks."""
    counts: Counter[str] = Counter()
    zone = rules.zone
    calendar = _Calendar(now, zone, rules)
    services = {s.id: s for s in places.services}
    by_name = {s.spec.name: s for s in places.services}
    with UnitOfWork(engine) as uow:
        session = uow.session
        dialect = session.get_bind().dialect.name
        upsert = pg_insert if dialect == "postgresql" else sqlite_insert
        activity = _activity_rows(places, now=now, months=months, zone=zone, seed=seed)
        if activity:  # a second load leaves the weeks already there alone
            session.execute(upsert(ActivityCount.__table__).on_conflict_do_nothing(
                index_elements=["service_id", "week_start"]), activity)
        regions = dict(session.execute(select(Region.name, Region.id)).all())
        factor_keys = [f.key for f in live_taxonomy(session).contributing_factors]

        def lead(role: str) -> int | None:
            found = places.leads.get(role) or places.leads.get(Role.QUALITY.value) or ()
            return found[0] if found else None

        def owner(role: str, served: set[int]) -> int | None:
            if role != "supervisor":
                return lead(role)
            common = set.intersection(*(set(services[s].supervisors) for s in served)) \
                if served and served <= set(services) else set()
            first = services[min(served)].supervisors if common else ()
            return next((u for u in first if u in common), None) or lead(Role.QUALITY.value)

        for spec in plans:
            linked = list(links.get(spec.key, ()))
            if not linked:
                continue
            served = {item.service_id for item in linked}
            region_services = {s.id for s in places.services
                               if spec.cluster_region and s.region == spec.cluster_region}
            served |= region_services
            creator = owner(spec.created_by, served)
            if creator is None:
                continue
            rca_id = None
            if spec.rca:
                rca = RootCauseAnalysis(
                    title="Care plan and family note mismatches across services",
                    problem="Workers keep finding that the medication prompt in the care plan "
                            "does not match a recent family note, at several services; each "
                            "time a worker paused and rang the office.",
                    five_whys=list(_RCA_WHYS),
                    contributing_factors=[k for k in factor_keys
                                          if k in ("communication", "support_planning")],
                    findings="Changes reach families before the provider's record, and no step "
                             "in the visit compares the two. Fix: a family-note check at every "
                             "medication visit, and the office updating the record the same "
                             "day.",
                    status="complete", lead_id=creator,
                    opened_at=spec.created_at - timedelta(days=20),
                    completed_at=spec.created_at - timedelta(days=1))
                session.add(rca)
                session.flush()
                rca_id = rca.id
                session.execute(insert(RootCauseAnalysisReport.__table__), [
                    {"rca_id": rca_id, "report_id": item.report_id} for item in linked[:100]])
                counts["root_cause_analyses"] += 1
            plan = ActionPlan(
                title=spec.title, theme=spec.theme, source=spec.source, rca_id=rca_id,
                cluster_type_key="late_shift_start" if spec.source == "cluster" else None,
                cluster_service_id=None, cluster_region_id=regions.get(spec.cluster_region or ""),
                high_potential=any(item.severity == "high" for item in linked),
                clustered=spec.source == "cluster" or any(item.in_cluster for item in linked),
                created_by_id=creator, created_at=spec.created_at)
            session.add(plan)
            session.flush()
            session.execute(insert(ActionPlanReport.__table__), [
                {"plan_id": plan.id, "report_id": item.report_id} for item in linked])
            counts["plans"] += 1
            counts["linked_reports"] += len(linked)
            single = next(iter(served)) if len(served) == 1 else None
            for action_spec in spec.actions:
                action_owner = owner(action_spec.owner, served)
                if action_owner is None:
                    continue
                _store_action(uow, calendar, plan.id, action_spec, action_owner, single,
                              served, by_name, counts)
        uow.record(SYSTEM, "demo.activity_loaded", "activity_count", None,
                   after={"rows": len(activity), "services": len(places.services)})
        uow.record(SYSTEM, "demo.actions_loaded", "action_plan", None, after={
            key: counts[key] for key in ("plans", "actions", "evidence_checks",
                                         "checks_completed", "measures", "verdicts",
                                         "sustainment_checks", "linked_reports",
                                         "root_cause_analyses")})
        uow.commit()
    counts["activity_weeks"] = len(activity)
    return counts


_WHY_TEMPLATE = ("Because staff reported {count} near miss{es} about {theme}: each one showed "
                 "where the old way could fail before anyone was hurt.")


def _store_feedback(engine: Engine, *, now: datetime, rules: Settings) -> Counter[str]:
    """A published "what changed because you reported" update for every control that went
    live, linked to the plan's reports and the action, from the person who led the plan.

    Updates already there (a second load) are left alone; reporters are not notified (the
    demo's history is in the past)."""
    counts: Counter[str] = Counter()
    zone = rules.zone
    with UnitOfWork(engine) as uow:
        session = uow.session
        answered = set(session.scalars(select(FeedbackUpdateAction.action_id)))
        live = session.execute(
            select(Action.id, Action.title, Action.description, Action.go_live_date,
                   Action.plan_id, ActionPlan.theme, ActionPlan.created_by_id)
            .join(ActionPlan, ActionPlan.id == Action.plan_id)
            .where(Action.go_live_date.is_not(None),
                   Action.status.in_([ActionStatus.IN_TEST.value,
                                      ActionStatus.VERIFIED_EFFECTIVE.value]))
            .order_by(Action.id)).all()
        for action_id, title, description, go_live, plan_id, theme, author in live:
            if action_id in answered:
                continue
            published = to_utc(datetime.combine(go_live + timedelta(days=1), time(10)), zone)
            if published > now:
                continue
            reports = session.execute(
                select(NearMissReport.id, NearMissReport.service_id)
                .join(ActionPlanReport, ActionPlanReport.report_id == NearMissReport.id)
                .where(ActionPlanReport.plan_id == plan_id)).all()
            if not reports:
                continue
            why = _WHY_TEMPLATE.format(count=len(reports), es="" if len(reports) == 1 else "es",
                                       theme=theme.lower())
            update = FeedbackUpdate(
                title=title[:200], what_changed=description or title, why=why,
                status="published", published_at=published, published_by_id=author,
                created_by_id=author, created_at=published - timedelta(hours=2),
                updated_at=published, revision=1)
            session.add(update)
            session.flush()
            session.add(FeedbackUpdateRevision(
                update_id=update.id, revision=1, title=update.title,
                what_changed=update.what_changed, why=why, edited_by_id=author,
                edited_at=update.created_at))
            session.execute(insert(FeedbackUpdateReport.__table__), [
                {"update_id": update.id, "report_id": report_id} for report_id, _ in reports])
            session.add(FeedbackUpdateAction(update_id=update.id, action_id=action_id))
            session.execute(insert(FeedbackUpdateService.__table__), [
                {"update_id": update.id, "service_id": service_id}
                for service_id in sorted({service for _, service in reports})])
            counts["feedback_updates"] += 1
            counts["feedback_linked_reports"] += len(reports)
        uow.record(SYSTEM, "demo.feedback_loaded", "feedback_update", None,
                   after={"updates": counts["feedback_updates"],
                          "linked_reports": counts["feedback_linked_reports"]})
        uow.commit()
    return counts


def _store_action(uow: UnitOfWork, calendar: _Calendar, plan_id: int, spec: _ActionSpec,
                  owner_id: int, single: int | None, served: set[int],
                  by_name: Mapping[str, DemoService], counts: Counter[str]) -> None:
    """One action with its evidence checks, measure and sustainment check."""
    session, rules, now = uow.session, calendar.rules, calendar.now
    kind = KINDS_BY_KEY[spec.kind]
    events = [spec.created_at]
    live_at = calendar.at(spec.go_live, 9.0) if spec.go_live else None
    if live_at is not None:
        events.append(live_at)
    ended = spec.verdict_at or spec.stopped_at
    if ended is not None:
        events.append(ended)
    action = Action(
        plan_id=plan_id, title=spec.title, description=spec.description, owner_id=owner_id,
        service_id=single, deadline=spec.deadline, review_date=spec.review_date,
        status=spec.status.value, strength=kind.strength.value, strength_category=kind.key,
        go_live_date=spec.go_live, test_window_days=spec.window_days,
        created_by_id=owner_id, created_at=spec.created_at, updated_at=max(events))
    session.add(action)
    session.flush()
    counts["actions"] += 1
    # Evidence checks: the first ones done, spread from creation to the verdict (or now).
    finish = ended or (live_at + timedelta(days=2) if live_at else None) or \
        now - timedelta(hours=20)
    finish = min(finish, now - timedelta(hours=1))
    for position, name in enumerate(spec.checks):
        done = position < spec.checks_done
        at = spec.created_at + (finish - spec.created_at) * (position + 1) / (spec.checks_done + 1)
        session.add(ActionEvidenceCheck(
            action_id=action.id, position=position, name=name,
            completed_at=at.replace(microsecond=0) if done else None,
            completed_by_id=owner_id if done else None,
            note=f"Done: {name[:1].lower()}{name[1:]}." if done else None))
        counts["evidence_checks"] += 1
        counts["checks_completed"] += done
    if spec.measure is not None:
        measure = spec.measure
        if measure.services == "north":
            service_ids = tuple(sorted(s.id for s in by_name.values()
                                       if s.region == LATE_START_REGION))
        elif measure.services == "all":
            service_ids = ()
        else:
            service_ids = tuple(sorted(served))
        locations = ()
        if measure.location and len(service_ids) == 1:
            locations = tuple(p.id for s in by_name.values() if s.id == service_ids[0]
                              for p in s.places if p.spec.name == measure.location)
        filters = MeasureFilters(type_keys=measure.type_keys, service_ids=service_ids,
                                 location_ids=locations, capture=dict(measure.capture))
        row = VerificationMeasure(action_id=action.id, filters=filters.to_json(),
                                  per=measure.per, direction="decrease", target=measure.target,
                                  baseline_weeks=rules.actions.baseline_weeks)
        if spec.verdict_at is not None and spec.go_live is not None:
            # As confirm_verdict does: the numbers at the time, and the person's verdict.
            evaluation = evaluate(session, filters, per=measure.per, direction="decrease",
                                  target=measure.target, go_live=spec.go_live,
                                  window_days=spec.window_days or 0,
                                  baseline_weeks=rules.actions.baseline_weeks,
                                  today=calendar.local_day(spec.verdict_at),
                                  rules=rules.actions)
            proposal = evaluation.proposal
            row.baseline_value, row.observed_value = evaluation.baseline, evaluation.observed
            row.proposed_verdict, row.p_value = proposal.verdict, proposal.p_value
            if proposal.counts is not None:
                row.baseline_count = proposal.counts.baseline
                row.observed_count = proposal.counts.observed
            counts["verdicts"] += 1
        session.add(row)
        counts["measures"] += 1
    if spec.verdict_at is not None:
        effective = spec.status is ActionStatus.VERIFIED_EFFECTIVE
        measure_row = session.scalar(select(VerificationMeasure).where(
            VerificationMeasure.action_id == action.id)) if spec.measure else None
        if measure_row is not None:
            measure_row.confirmed_verdict = "effective" if effective else "not_effective"
            measure_row.confirmed_by_id, measure_row.confirmed_at = owner_id, spec.verdict_at
            measure_row.confirmation_note = spec.verdict_note
            if effective and measure_row.proposed_verdict != "effective":
                # As confirm_verdict requires: effective against the numbers needs a reason.
                measure_row.override_reason = ("Confirmed on the evidence checks; the counts "
                                               "alone could not tell yet.")
        if effective and spec.go_live is not None:
            # As confirm_verdict schedules it (later when verified at the second look).
            due = sustainment_date(spec.go_live, spec.window_days or 0, rules.actions)
            verified_on = calendar.local_day(spec.verdict_at)
            if due <= verified_on:
                due = verified_on + timedelta(days=rules.actions.sustainment_after_days)
            action.sustainment_check_date = due
            confirmed = calendar.at(due + timedelta(days=2), 14.0)
            sustained = confirmed <= now - timedelta(hours=1)
            session.add(SustainmentCheck(
                action_id=action.id, due_date=due,
                confirmed_at=confirmed if sustained else None,
                confirmed_by_id=owner_id if sustained else None,
                in_place=True if sustained else None, note=_SUSTAINED if sustained else None))
            counts["sustainment_checks"] += 1
    if spec.stopped_at is not None:
        # The reason lives in the audit trail, as set_status records it.
        user = session.get(User, owner_id)
        assert user is not None
        uow.record(build_actor(user), "action.status_changed", "action", action.id,
                   at=spec.stopped_at, before={"status": ActionStatus.IN_PROGRESS.value},
                   after={"status": ActionStatus.STOPPED.value, "note": spec.stop_reason})


def load_demo(engine: Engine, *, reports: int = DEFAULT_REPORTS, seed: int = 7,
              months: int = DEFAULT_MONTHS, now: datetime | None = None,
              progress: Callable[[int, int], None] | None = None,
              chunk_size: int = CHUNK_SIZE) -> DemoSummary:
    """Load the demo provider and `reports` synthetic near misses (see the module docstring).

    Safe to call again: reference data and users are reused, more reports are added with
    reference numbers continuing each year's counter. `progress(done, total)` is called after
    each chunk of reports.
    """
    if reports < 0:
        raise ValueError("reports must be zero or more")
    if months < 1:
        raise ValueError("months must be at least 1")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    now = (now or utcnow()).replace(microsecond=0)
    rules = settings()
    created = prepare_demo_provider(engine)
    with read_session(engine) as session:
        places = demo_places(session)
        taxonomy = live_taxonomy(session)
    plans = _demo_plans(now, months=months, reports=reports, rules=rules)
    records = generate_demo(places, taxonomy, reports=reports, seed=seed, months=months,
                            now=now, zone=rules.zone, rules=rules, plans=plans)
    done = 0
    first: datetime | None = None
    last: datetime | None = None
    totals: Counter[str] = Counter()
    chunk: list[DemoRecord] = []
    links: dict[str, list[_Linked]] = {}

    def flush() -> None:
        nonlocal done, first, last
        totals.update(_store_chunk(engine, chunk, rules=rules))
        for record in chunk:
            if record.plan is not None and record.slot.id is not None:
                links.setdefault(record.plan, []).append(_Linked(
                    record.slot.id, record.report["service_id"], record.report["severity"],
                    record.report["in_cluster"]))
        done += len(chunk)
        occurred = [record.report["occurred_at"] for record in chunk]
        first = min(occurred) if first is None else min(first, *occurred)
        last = max(occurred) if last is None else max(last, *occurred)
        chunk.clear()
        if progress is not None:
            progress(done, reports)

    for record in records:
        chunk.append(record)
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    # The action plans link stored reports, and their measures count them: stored last.
    totals.update(_store_plans(engine, plans, links, places, now=now, months=months, seed=seed,
                               rules=rules))
    totals.update(_store_feedback(engine, now=now, rules=rules))
    # Bulk inserts skip the filing's cluster scan: find the episodes (and link the planted
    # late-start cluster to its plan) as an import does.
    recompute_episodes(UnitOfWork(engine), SYSTEM, now=now, rules=rules)
    refresh_planner_statistics(engine)
    with read_session(engine) as session:
        services = session.scalar(select(func.count()).select_from(Service)) or 0
    return DemoSummary(done, services, created, first, last, triaged=totals["triaged"],
                       escalations=totals["escalations"], reviewed=totals["reviews"],
                       closed=totals["closed"], action_plans=totals["plans"],
                       actions=totals["actions"], feedback_updates=totals["feedback_updates"])
