"""The demo's data files (`data/demo/*.yaml`), read and checked once per process.

`provider.yaml` names the provider (services, places, people, staff) and its habits, and lists
the story files in order; each story file holds one seed story: its near-miss type (how often,
where, the reporter's words, what reviewers write), what is planted, and the action plans that
answer it. `everyday.yaml` holds the other types and the texts every type shares. A typo in a
file is refused with its file, line and key (`core.yamlfile.load_model`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.config import PROJECT_ROOT
from core.yamlfile import ConfigFileError, load_model

ModelT = TypeVar("ModelT", bound=BaseModel)

DATA_DIR = PROJECT_ROOT / "data" / "demo"
BARRIERS = ("staff_recovery", "designed_control", "person_or_family", "chance")
# "today", "130 days ago", "in 4 days", "cluster_end + 14 days", "second_look + 2 days"
WHEN = re.compile(r"^(?:today|(\d+) (?:days?|weeks?) ago|in (\d+) (?:days?|weeks?)|"
                  r"[a-z_]+(?: [+-] \d+ (?:days?|weeks?))?)$")


class Strict(BaseModel):
    """Unknown keys are refused: a misspelt key would otherwise be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Weights = dict[str, float]  # option: relative weight
Texts = list[str]
Hours = list[tuple[float, float, float]]  # local (centre hour, spread in hours, weight)


def _check_when(value: str | None) -> str | None:
    if value is not None and not WHEN.match(value):
        raise ValueError(f"{value!r} is not a date: write 'today', '12 days ago', 'in 4 days' "
                         "or an anchor such as 'cluster_end + 14 days'")
    return value


class Barriers(Strict):
    """What stopped the near miss becoming harm, as relative weights."""

    staff_recovery: float
    designed_control: float
    person_or_family: float
    chance: float

    def weights(self) -> tuple[float, float, float, float]:
        return (self.staff_recovery, self.designed_control, self.person_or_family, self.chance)


class Severity(Strict):
    high: float
    medium: float
    low: float

    def mix(self) -> tuple[float, float, float]:
        return (self.high, self.medium, self.low)


class Signal(Strict):
    chance: float
    signal: str


class Rates(Strict):
    """How often, where and when a type happens, and what the reporter and triager find."""

    share: float = Field(ge=0)  # of the everyday (background) reports
    by_kind_of_service: Weights
    by_kind_of_place: Weights
    times_of_day: Hours
    what_stopped_it: Barriers
    names_a_person: float = Field(ge=0, le=1)
    still_at_risk: float = Field(0.03, ge=0, le=1)
    interface_flag: float = Field(0.0, ge=0, le=1)
    interface_flags: Weights = {}
    fills_capture_fields: float = Field(0.55, ge=0, le=1)
    anonymous: float = Field(0.08, ge=0, le=1)
    severity: Severity
    triage_finds_signal: Signal | None = None


class Communication(Strict):
    audience: str
    told: str
    not_told: str


class Review(Strict):
    """What reviewers write for the type (texts may use {they}, {them}, {their})."""

    control: str | None = None  # the designed control a review names
    likely_factors: list[str] = []
    field_texts: dict[str, Texts] = {}
    choice_weights: dict[str, Weights] = {}
    choice_when_done: dict[str, Texts] = {}
    findings: Texts = ["Reviewed with the team; see the gates."]
    outcome: str = "Every validation item has evidence."
    gate_notes: dict[str, Texts] = {}
    evidence_notes: dict[str, Texts] = {}
    communications: dict[str, Communication] = {}


class Control(Strict):
    title: str
    description: str
    kind: str
    checks: Texts


class Routine(Strict):
    """Routine plans about this type (large demos): what they say, which controls."""

    theme: str
    controls: list[Control]


class NearMissType(Strict):
    key: str
    rates: Rates
    words: dict[str, Any]  # the reporter's words; each writer names the keys it needs
    review: Review
    routine_plans: Routine | None = None


class Measure(Strict):
    types: list[str]
    services: Literal["linked", "all", "region"] = "linked"
    region: str | None = None
    location: str | None = None
    capture: dict[str, str] = {}
    per: str = "week"
    target: float | None = None


class PlanAction(Strict):
    title: str
    description: str
    kind: str
    owner: str  # a role, or "supervisor": one covering every service the plan serves
    created: str | None = None  # default: when the plan was made
    deadline: str
    review: str
    status: Literal["planned", "in_progress", "in_test", "verified_effective", "not_effective",
                    "stopped"]
    checks: Texts
    checks_done: int | None = None
    go_live: str | None = None
    test_days: int | None = None
    verdict: str | None = None
    verdict_note: str = ""
    stopped: str | None = None
    stop_reason: str = ""
    measure: Measure | None = None

    _dates = field_validator("created", "deadline", "review", "go_live", "verdict",
                             "stopped")(_check_when)


class Share(Strict):
    """Link about `aim` reports when the window holds `of_story` of the story's reports."""

    aim: float
    of_story: float


class Links(Strict):
    """Which reports the plan's builder linked: a story's, or one type's in some services."""

    story: Literal["doorway_falls", "family_notes", "late_start_cluster"] | None = None
    type: str | None = None
    services: list[str] = []
    from_: str = Field(alias="from")
    until: str
    at_most: int
    share: float | Share

    _dates = field_validator("from_", "until")(_check_when)


class RootCause(Strict):
    title: str
    problem: str
    five_whys: Texts
    factors: list[str]
    findings: str
    opened: str
    completed: str

    _dates = field_validator("opened", "completed")(_check_when)


class Plan(Strict):
    key: str
    rank: int | None = None  # None: a story's own plan, always made; else by importance
    title: str
    theme: str
    created: str
    created_by: str
    source: Literal["report", "rca", "cluster"] = "report"
    links: Links
    outcome: str = ""
    validate_when_live: int | None = None  # linked reports validate when action N goes live
    close_when_decided: int | None = None  # ... and close once action N has its verdict
    close_after: str | None = None
    cluster_region: str | None = None
    rca: RootCause | None = None
    actions: list[PlanAction]

    _dates = field_validator("created", "close_after")(_check_when)


class StoryHeader(Strict):
    title: str
    seed: str
    where_to_look: Texts


class DoorwayFalls(Strict):
    """Seed 1, example 1: near falls at one doorway, mostly the same person."""

    service: str
    place: str
    person: str
    someone_else: float
    every_days: tuple[int, int]
    first_within_days: int
    per_month_at_least: float
    share_of_reports: float
    times_of_day: Hours
    what_stopped_it: Barriers
    severity: Severity
    words: dict[str, Any]
    findings: Texts


class BeforeAfter(Strict):
    before: Barriers
    after: Barriers


class FindingsBeforeAfter(Strict):
    before: Texts
    after: Texts


class FamilyNotes(Strict):
    """Seed 1, example 2: family-note mismatches rise, then fall once a check goes live."""

    source: str
    share_of_reports: float
    at_least: int
    rise_starts: float  # share of the demo's months gone when the rise starts
    control_goes_live: float
    rises_to: float  # times the early rate, by go-live
    falls_to: float  # times the early rate, once the check has settled
    settles_in_days: int
    weekends: float
    what_stopped_it: BeforeAfter
    interface_flag: float
    severity: Severity
    words: dict[str, Texts]
    findings: FindingsBeforeAfter


class LateStartCluster(Strict):
    """Seed 2, example 3: a 3-week burst of late starts across one region's services."""

    region: str
    days: int
    starts_before_now: float  # share of the demo's months before now
    share_of_reports: float
    at_least: int
    weekends: float
    what_stopped_it: Barriers
    severity: Severity
    causes: Texts
    triage_notes: Texts
    findings: Texts


class Pathway(Strict):
    """The operations lead's map of an information pathway (an escalation's decision)."""

    where_entered: Texts
    who_should_have_received: Texts
    failed_confirmation_step: Texts
    notes: Texts


class RecentCase(Strict):
    """One case from the last day or two, written as the seed tells it, so the story is on
    the page where a user would look for it when the demo opens."""

    service: str
    place: str
    person: str | None = None
    hours_ago: float = Field(gt=0, le=72)
    what_stopped_it: Literal["staff_recovery", "designed_control", "person_or_family", "chance"]
    still_at_risk: bool = False
    description: str
    capture: dict[str, Any] = {}
    escalations: dict[str, Literal["waiting", "acknowledged", "decided"]] = {}


class StoryFile(Strict):
    story: StoryHeader
    doorway_falls: DoorwayFalls | None = None
    family_notes: FamilyNotes | None = None
    late_start_cluster: LateStartCluster | None = None
    clinical_review_outcomes: Texts | None = None
    pathway: Pathway | None = None
    recent_case: RecentCase | None = None
    near_miss_type: NearMissType
    plans: list[Plan] = []


class Safeguarding(Strict):
    reported_to: Texts
    external_share: Weights
    reasons: dict[str, dict[Literal["reported", "not_reported"], str]]
    cues: dict[str, list[str]]
    reason_at_triage: str


class AfterFiling(Strict):
    """Texts every type shares: triage notes, decisions, review answers, plan notes."""

    still_at_risk_safeguards: Texts
    triage_notes: dict[str, Texts]
    supervisor_alert_notes: Texts
    safeguarding: Safeguarding
    what_stopped_harm: dict[str, Texts]
    control_reliable: dict[str, Weights]
    would_work_again: dict[str, Weights]
    would_work_again_notes: dict[str, Texts]
    reviewer_reclassifies: dict[str, str]
    outcome_tails: dict[str, str]
    not_applicable_notes: Texts
    routine_companions: list[dict[Literal["title", "description", "kind"], str]]
    routine_texts: dict[Literal["verified", "not_effective", "went_live_late", "superseded",
                                "companion_checks", "companion_verified", "outcome_verified",
                                "outcome_not_effective"], str]
    sustained_note: str
    feedback_why: str


class OverdueConcern(Strict):
    """A safeguarding concern reported hours ago that nobody has acknowledged yet."""

    type: str
    minutes_past_due: tuple[int, int]


class EverydayFile(Strict):
    near_miss_types: list[NearMissType]
    overdue_concern: OverdueConcern
    after_filing: AfterFiling
    plans: list[Plan] = []


class PlaceData(Strict):
    name: str
    said: str  # how a reporter names it in a sentence: "at the bathroom doorway"
    kind: str  # kinds of place, space-separated: "bathroom home"


class PersonData(Strict):
    ref: str
    name: str | None = None
    pronoun: Literal["he", "she", "they"]
    needs: float  # relative share of near misses involving them
    day_run: int = 1


class ServiceData(Strict):
    name: str
    region: str
    kind: str
    share: float
    places: list[PlaceData]
    routes: list[str] = []
    people: list[PersonData]


class StaffData(Strict):
    name: str
    group: str
    services: list[str]
    keenness: float


class DemoUser(Strict):
    services: list[str]
    keenness: float


class Reporting(Strict):
    weekday: dict[Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], float]
    growth: tuple[float, float]
    day_to_day: float


class Activity(Strict):
    visits_per_person: float | None = None
    shifts_per_person: float | None = None


class TriageHabits(Strict):
    backlog_days: int
    slowest_hours: float
    still_new_by_age: list[float]
    by_lead: Weights
    by_quality_lead: float
    deeper_investigation: float
    with_a_note: float


class EscalationHabits(Strict):
    notify_days: int
    may_wait_hours: float
    waiting: float
    acknowledged_late: float
    decide_minutes: dict[str, tuple[int, int]]


class ReviewHabits(Strict):
    start_hours: dict[str, tuple[float, float]]
    review_hours: dict[str, tuple[float, float]]
    validate_hours: dict[str, tuple[float, float]]
    stalled_in_review: float
    stalled_validating: float
    not_applicable: float
    by_lead: Weights
    by_quality_lead: float
    closed_by_quality_lead: float
    datetime_minutes: dict[str, tuple[int, int]]


class PlanHabits(Strict):
    reports_per_routine_plan: int
    routine_link_cap: int


class Habits(Strict):
    triage: TriageHabits
    escalations: EscalationHabits
    review: ReviewHabits
    plans: PlanHabits


class ProviderFile(Strict):
    stories: list[str]
    everyday: str
    services: list[ServiceData]
    staff_groups: list[dict[Literal["name", "cue_guide"], str]]
    staff: list[StaffData]
    supervisors: list[StaffData]
    demo_users: dict[Literal["reporter", "supervisor"], DemoUser]
    reporting_by_staff_group: dict[str, Weights]
    reporting: Reporting
    activity: dict[str, Activity]
    habits: Habits


class DemoData(BaseModel):
    """Every demo file, checked, with each planted story found once."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    provider: ProviderFile
    stories: dict[str, StoryFile]  # by file name, in the provider's order
    everyday: EverydayFile
    types: dict[str, NearMissType]
    plans: list[Plan]
    doorway_falls: DoorwayFalls
    family_notes: FamilyNotes
    late_start_cluster: LateStartCluster
    clinical_review_outcomes: Texts
    pathway: Pathway
    recent_cases: dict[str, RecentCase]  # by near-miss type


_PLANTED = ("doorway_falls", "family_notes", "late_start_cluster", "clinical_review_outcomes",
            "pathway")


def _once(stories: dict[str, StoryFile], folder: Path) -> dict[str, Any]:
    """Each planted block from the one story file that has it."""
    found: dict[str, Any] = {}
    for name, story in stories.items():
        for key in _PLANTED:
            value = getattr(story, key)
            if value is None:
                continue
            if key in found:
                raise ConfigFileError(folder / name, None, key, "is in two story files")
            found[key] = value
    missing = [key for key in _PLANTED if key not in found]
    if missing:
        raise ConfigFileError(folder, None, missing[0], "is in no story file")
    return found


def _load(path: Path, model: type[ModelT]) -> ModelT:
    """Parse a file with the fast (C) YAML reader; on any problem read it again the slow way,
    which names the line and the key."""
    try:
        return model.model_validate(yaml.load(path.read_text(encoding="utf-8"),
                                              Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError):
        return load_model(path, model)


@lru_cache(maxsize=4)
def demo_data(folder: Path = DATA_DIR) -> DemoData:
    """Read and check the demo's files (cached: they are read once per process)."""
    provider = _load(folder / "provider.yaml", ProviderFile)
    stories = {name: _load(folder / name, StoryFile) for name in provider.stories}
    everyday = _load(folder / provider.everyday, EverydayFile)
    types: dict[str, NearMissType] = {}
    for found in (*(s.near_miss_type for s in stories.values()), *everyday.near_miss_types):
        if found.key in types:
            raise ConfigFileError(folder, None, found.key, "is described twice")
        types[found.key] = found
    plans = [p for s in stories.values() for p in s.plans] + list(everyday.plans)
    keys = [p.key for p in plans]
    if len(set(keys)) != len(keys):
        raise ConfigFileError(folder, None, "plans", "two plans share a key")
    recent = {s.near_miss_type.key: s.recent_case for s in stories.values() if s.recent_case}
    return DemoData(provider=provider, stories=stories, everyday=everyday, types=types,
                    plans=plans, recent_cases=recent, **_once(stories, folder))
