"""The demo provider's shape: its services, places, people and staff, and when the
planted stories happen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.auth.roles import Role

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
