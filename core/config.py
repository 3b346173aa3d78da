"""Where the portal's configuration comes from: environment variables and data/settings.yaml.

Environment (deployment): NEARMISS_DATABASE_URL, NEARMISS_ENV (demo|production),
NEARMISS_COOKIE_KEY, NEARMISS_SETTINGS, NEARMISS_TAXONOMY, NEARMISS_DATA_DIR (where evidence
files are written).
Settings file (what a provider tailors): thresholds, time zone, sign-in rules, role scopes.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.yamlfile import load_model

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "sqlite:///data/nearmiss.db"
DEMO_COOKIE_KEY = "nearmiss-demo-cookie-key-not-for-production"
# Values that must never be accepted as a production cookie key.
PLACEHOLDER_COOKIE_KEYS = frozenset({"", "change-me", "changeme", "some_key", DEMO_COOKIE_KEY})
MIN_COOKIE_KEY_LENGTH = 32


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportLimits(_Strict):
    description_max_chars: int = Field(2000, ge=50, le=20000)
    short_text_max_chars: int = Field(300, ge=20, le=5000)
    future_tolerance_minutes: int = Field(5, ge=0, le=120)
    oldest_days: int = Field(366, ge=1, le=3650)
    # No near miss, typed or imported, happened before this day: catches a mistyped year
    # (1900 for 2000) that would otherwise be filed under a reference of that year.
    earliest_date: date = Field(date(2000, 1, 1), ge=date(1900, 1, 1))


# The hard lock these keys set was replaced by throttling (see SignInRules).
_RETIRED_SIGN_IN_KEYS = {
    "max_failed_attempts": "account_free_failures",
    "lockout_minutes": "account_max_delay_seconds",
}


class SignInRules(_Strict):
    """Sessions, passwords, and how failed sign-ins are slowed down.

    Failed sign-ins are throttled, never answered by a lock anyone could trigger: after the
    free failures each further failure makes the next check wait longer (doubling from the
    first delay up to the cap), counted per account (the username typed) and per source
    (the client's address). The account's cap stays under two minutes, so the owner with
    the right password always gets in soon after a flood of wrong ones ends.
    """

    session_hours: float = Field(12, gt=0, le=24 * 30)
    idle_minutes: int = Field(60, ge=1, le=24 * 60)
    min_password_length: int = Field(12, ge=8, le=72)
    bcrypt_rounds: int = Field(12, ge=4, le=16)
    account_free_failures: int = Field(5, ge=1, le=50)
    account_first_delay_seconds: float = Field(2, gt=0, le=60)
    account_max_delay_seconds: float = Field(60, gt=0, le=110)
    source_free_failures: int = Field(10, ge=1, le=500)
    source_first_delay_seconds: float = Field(30, gt=0, le=3600)
    source_max_delay_seconds: float = Field(300, gt=0, le=24 * 3600)
    forget_failures_after_minutes: int = Field(60, ge=1, le=24 * 60)
    # Reverse proxies (addresses or networks) whose X-Forwarded-For header is believed.
    trusted_proxies: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _no_retired_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for old, new in _RETIRED_SIGN_IN_KEYS.items():
                if old in data:
                    raise ValueError(
                        f"{old} is no longer used: failed sign-ins are throttled, not locked. "
                        f"Remove it and see {new} and the other throttle settings.")
        return data

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an IP address or network") from exc
        return value

    @model_validator(mode="after")
    def _delays_grow(self) -> SignInRules:
        if self.account_first_delay_seconds > self.account_max_delay_seconds:
            raise ValueError("account_first_delay_seconds is above account_max_delay_seconds")
        if self.source_first_delay_seconds > self.source_max_delay_seconds:
            raise ValueError("source_first_delay_seconds is above source_max_delay_seconds")
        return self


class RoleScopes(_Strict):
    # Roles that see every service; all other roles see only the services assigned to the user.
    org_wide_roles: tuple[str, ...] = (
        "safeguarding", "clinical", "operations", "quality", "governance", "commissioner", "admin",
    )


SEVERITIES = ("low", "medium", "high")
RECURRENCES = ("single", "repeat", "cluster")
REVIEW_LEVELS = ("none", "supervisor_review", "barrier_review", "root_cause_analysis")


class TriageRules(_Strict):
    """The severity x recurrence matrix and the recurrence and cluster rules."""

    # matrix[severity][recurrence] -> review level (the minimum investigation).
    matrix: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "high": {"single": "barrier_review", "repeat": "barrier_review",
                 "cluster": "root_cause_analysis"},
        "medium": {"single": "supervisor_review", "repeat": "supervisor_review",
                   "cluster": "barrier_review"},
        "low": {"single": "none", "repeat": "supervisor_review", "cluster": "barrier_review"},
    })
    recurrence_window_days: int = Field(90, ge=1, le=730)
    # Reports that read alike (core/review/related.py; data/settings.yaml explains them).
    related_candidates: int = Field(1000, ge=10, le=20000)
    related_min_similarity: float = Field(0.15, ge=0, le=1)
    # The cluster rule (core/triage/cluster_rule.py; data/settings.yaml explains it in words).
    cluster_min_reports: int = Field(3, ge=2, le=100)
    cluster_window_days: int = Field(10, ge=1, le=365)
    cluster_baseline_days: int = Field(364, ge=14, le=730)
    cluster_borrow_days: int = Field(91, ge=0, le=730)
    cluster_usual_floor_per_week: float = Field(0.25, ge=0, le=100)
    cluster_false_alarms_per_service_year: float = Field(0.5, gt=0, le=52)

    @model_validator(mode="before")
    @classmethod
    def _retired_cluster_keys(cls, values: Any) -> Any:
        retired = {"cluster_baseline_factor", "cluster_p_value"} & set(values or {})
        if isinstance(values, dict) and retired:
            raise ValueError(
                f"{', '.join(sorted(retired))}: retired; the cluster rule now has a false-alarm "
                "budget (cluster_false_alarms_per_service_year), see data/settings.yaml")
        return values

    @field_validator("matrix")
    @classmethod
    def _complete(cls, matrix: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        if set(matrix) != set(SEVERITIES):
            raise ValueError(f"the matrix needs exactly the rows {', '.join(SEVERITIES)}")
        for severity, row in matrix.items():
            if set(row) != set(RECURRENCES):
                raise ValueError(f"matrix row {severity!r} needs exactly the columns "
                                 f"{', '.join(RECURRENCES)}")
            for recurrence, level in row.items():
                if level not in REVIEW_LEVELS:
                    raise ValueError(f"matrix cell {severity}/{recurrence}: {level!r} is not one "
                                     f"of {', '.join(REVIEW_LEVELS)}")
        return matrix


class EscalationRules(_Strict):
    """How soon each kind of escalation must be acknowledged before it is flagged red."""

    acknowledge_within_minutes: dict[str, int] = Field(default_factory=lambda: {
        "safeguarding": 60, "supervisor_alert": 30, "clinical_review": 240, "operations": 1440,
    })

    @field_validator("acknowledge_within_minutes")
    @classmethod
    def _known_kinds(cls, value: dict[str, int]) -> dict[str, int]:
        kinds = {"safeguarding", "supervisor_alert", "clinical_review", "operations"}
        if set(value) != kinds:
            raise ValueError(f"give a time for exactly these kinds: {', '.join(sorted(kinds))}")
        if any(minutes < 1 for minutes in value.values()):
            raise ValueError("times must be at least 1 minute")
        return value


class EmailSettings(_Strict):
    """Outgoing email for notifications; no smtp_host means in-app notifications only."""

    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    starttls: bool = False
    username: str | None = None  # the password comes from NEARMISS_SMTP_PASSWORD
    sender: str = "near-miss-portal@localhost"
    timeout_seconds: float = Field(10, gt=0, le=120)
    portal_url: str = "http://localhost:8501"


class AttachmentRules(_Strict):
    """Evidence files: how big, and which kinds (by extension, checked against the content)."""

    max_megabytes: float = Field(5, gt=0, le=50)
    allowed_types: tuple[str, ...] = ("pdf", "png", "jpg", "jpeg", "txt", "csv", "docx", "xlsx")


class ActionRules(_Strict):
    """Action plans: test windows, verification, sustainment, reminders."""

    test_window_days: int = Field(14, ge=1, le=365)
    baseline_weeks: int = Field(12, ge=2, le=104)
    # A rate must improve by at least this share on the baseline to be proposed "effective".
    min_improvement: float = Field(0.2, ge=0, lt=1)
    # The most a control that changes nothing may be proposed "effective" by chance, at the end
    # of its test window and at the still-in-place check (both looks together: under 5%).
    evidence_alpha_window: float = Field(0.04, gt=0, lt=0.5)
    evidence_alpha_sustainment: float = Field(0.02, gt=0, lt=0.5)
    # The change a test is sized for when its measure has no target (0.5: half as many).
    planned_change: float = Field(0.5, gt=0, le=1)
    # How sure a test of the length the portal names is to show the planned change.
    evidence_power: float = Field(0.8, gt=0.5, lt=1)
    sustainment_after_days: int = Field(42, ge=1, le=730)
    due_soon_days: int = Field(7, ge=1, le=60)


class SpcSettings(_Strict):
    """Which special-cause rules the control charts apply (see core/spc.py)."""

    beyond_limit: bool = True
    shift: bool = True
    shift_length: int = Field(7, ge=3, le=50)
    trend: bool = True
    trend_length: int = Field(7, ge=3, le=50)
    two_of_three: bool = True
    clip_lower_at_zero: bool = False
    provisional_below: int = Field(12, ge=2, le=1000)


class CommissionerRules(_Strict):
    """What leaves the provider for commissioners and funders."""

    suppress_below: int = Field(5, ge=2, le=100)  # counts from 1 to this minus 1 are hidden
    # A table over time is published at the finest level (week, month, quarter) hiding at most
    # this share of the cells that are not 0.
    max_hidden_share: float = Field(0.25, ge=0, le=1)


CLOCK_UNITS = ("hours", "days", "business_days")
CLOCK_STARTS = ("known", "occurred", "decided")
_ESCALATION_KINDS = ("safeguarding", "supervisor_alert", "clinical_review", "operations")
_ROLE_IDS = ("reporter", "supervisor", "safeguarding", "clinical", "operations", "quality",
             "governance", "commissioner", "admin")


class ClockRule(_Strict):
    """One deadline the jurisdiction sets for a reportable event (core/regulator/clocks.py).

    `hours` is elapsed time; `days` and `business_days` are counted on the provider's local
    calendar (same time of day, or the end of that day with `end_of_day`), so a change of
    clocks for summer time never moves a deadline by an hour.
    """

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    label: str = Field(min_length=1, max_length=120)
    within: int = Field(ge=1, le=3650)
    unit: str = "hours"
    start: str = "known"  # known (the report was filed) | occurred | decided (found reportable)
    end_of_day: bool = False  # days and business days: due at the end of that local day
    needs_reference: bool = False  # met only with the reference the state gave
    remind_before_hours: float = Field(6, ge=0, le=24 * 60)  # 0: only when overdue

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        if value not in CLOCK_UNITS:
            raise ValueError(f"unit must be one of {', '.join(CLOCK_UNITS)}")
        return value

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        if value not in CLOCK_STARTS:
            raise ValueError(f"start must be one of {', '.join(CLOCK_STARTS)}")
        return value

    @model_validator(mode="after")
    def _end_of_day_counts_days(self) -> ClockRule:
        if self.end_of_day and self.unit == "hours":
            raise ValueError("end_of_day applies to days and business_days, not hours")
        return self


class RegulatorCandidates(_Strict):
    """Which events the portal puts in front of a decider as possibly reportable."""

    escalation_kinds: tuple[str, ...] = ("safeguarding",)
    type_keys: tuple[str, ...] = ()
    harm_reached: bool = True  # re-classified as an incident: harm reached the person
    still_at_risk: bool = False
    window_days: int = Field(30, ge=1, le=366)  # listed as awaiting a decision this long

    @field_validator("escalation_kinds")
    @classmethod
    def _kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(_ESCALATION_KINDS)
        if unknown:
            raise ValueError(f"unknown escalation kinds {', '.join(sorted(unknown))} (use "
                             f"{', '.join(_ESCALATION_KINDS)})")
        return value


def _default_clocks() -> tuple[ClockRule, ...]:
    return (ClockRule(key="report_to_state", label="Reported to the state", within=24,
                           unit="hours", needs_reference=True),)


class RegulatorRules(_Strict):
    """The jurisdiction's reporting deadlines (regulator clocks) and who decides."""

    jurisdiction: str = Field("the state", min_length=1, max_length=120)
    country: str = Field("US", pattern=r"^[A-Z]{2}$")  # public holidays: ISO 3166 country
    subdivision: str | None = None  # e.g. NY; None: the country's holidays only
    deciders: tuple[str, ...] = ("supervisor", "quality", "safeguarding")
    remind_roles: tuple[str, ...] = ("safeguarding",)
    on_time_target: float = Field(0.9, gt=0, le=1)  # CMS 2024 HCBS Access Rule: 90%
    candidates: RegulatorCandidates = RegulatorCandidates()
    clocks: tuple[ClockRule, ...] = Field(default_factory=_default_clocks, min_length=1)

    @field_validator("deciders", "remind_roles")
    @classmethod
    def _roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(_ROLE_IDS)
        if unknown:
            raise ValueError(f"unknown roles {', '.join(sorted(unknown))} (use "
                             f"{', '.join(_ROLE_IDS)})")
        return value

    @field_validator("clocks")
    @classmethod
    def _unique_keys(cls, value: tuple[ClockRule, ...]) -> tuple[ClockRule, ...]:
        keys = [clock.key for clock in value]
        if len(set(keys)) != len(keys):
            raise ValueError("each clock needs a key of its own")
        return value

    @model_validator(mode="after")
    def _known_calendar(self) -> RegulatorRules:
        import holidays  # only when the settings are read: a calendar the package knows

        try:
            holidays.country_holidays(self.country, subdiv=self.subdivision, years=2026)
        except NotImplementedError as exc:
            raise ValueError(f"no public holidays known for {self.country}"
                             + (f"/{self.subdivision}" if self.subdivision else "")
                             + f": {exc}") from exc
        return self


class Settings(_Strict):
    """The provider-tailored settings file (data/settings.yaml)."""

    provider_name: str = "Near Miss Portal"
    timezone: str = "UTC"
    reference_prefix: str = Field("NM", pattern=r"^[A-Z]{1,6}$")
    report: ReportLimits = ReportLimits()
    sign_in: SignInRules = SignInRules()
    scopes: RoleScopes = RoleScopes()
    triage: TriageRules = TriageRules()
    escalation: EscalationRules = EscalationRules()
    email: EmailSettings = EmailSettings()
    attachments: AttachmentRules = AttachmentRules()
    actions: ActionRules = ActionRules()
    spc: SpcSettings = SpcSettings()
    commissioner: CommissionerRules = CommissionerRules()
    regulator: RegulatorRules = RegulatorRules()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as "
                             "'America/New_York' or 'Europe/London')") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Environment:
    """Deployment facts read from the process environment.

    `data_dir` is where the portal writes (evidence files); the configuration files it reads
    (settings, taxonomy, cues) default to the project's data/ folder.
    """

    database_url: str
    mode: str
    cookie_key: str | None
    settings_path: Path
    taxonomy_path: Path
    data_dir: Path

    @property
    def is_demo(self) -> bool:
        return self.mode == "demo"


def _resolve_sqlite_url(url: str) -> str:
    """Make a relative SQLite path relative to the project, not the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url[len(prefix):]
        if rest and not rest.startswith(":memory:"):
            return prefix + str((PROJECT_ROOT / rest).resolve())
    return url


ENVIRONMENT_VARIABLES = ("NEARMISS_DATA_DIR", "NEARMISS_ENV", "NEARMISS_DATABASE_URL",
                         "NEARMISS_COOKIE_KEY", "NEARMISS_SETTINGS", "NEARMISS_TAXONOMY")


def environment() -> Environment:
    """Read the deployment environment (cheap; call it whenever needed)."""
    return _environment_of(tuple(os.environ.get(name) for name in ENVIRONMENT_VARIABLES))


@lru_cache(maxsize=16)
def _environment_of(values: tuple[str | None, ...]) -> Environment:
    # Kept per set of values: resolving the database path touches the disk, and a page run
    # asks for the settings (so the environment) dozens of times.
    data_dir, mode, url, cookie_key, settings_path, taxonomy_path = values
    return Environment(
        database_url=_resolve_sqlite_url(DEFAULT_DATABASE_URL if url is None else url),
        mode=(mode or "production").strip().lower() or "production",
        cookie_key=cookie_key,
        settings_path=Path(PROJECT_ROOT / "data" / "settings.yaml" if settings_path is None
                           else settings_path),
        taxonomy_path=Path(PROJECT_ROOT / "data" / "taxonomy.yaml" if taxonomy_path is None
                           else taxonomy_path),
        data_dir=Path(PROJECT_ROOT / "data" if data_dir is None else data_dir),
    )


@lru_cache(maxsize=8)
def _settings_at(path: str, mtime: float) -> Settings:
    return load_model(path, Settings)


def settings() -> Settings:
    """The settings file, re-read when it changes on disk. Missing file: built-in defaults."""
    path = environment().settings_path
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return Settings()
    return _settings_at(str(path), mtime)


def cookie_key_problem(env: Environment, configured: str | None) -> str | None:
    """Why the sign-in cookie key cannot be used, or None when it is fine.

    Demo mode may use the built-in demo key; production needs a long random secret.
    """
    key = configured if configured is not None else env.cookie_key
    if env.is_demo:
        return None
    how = ("Set a long random secret (at least 32 characters) in NEARMISS_COOKIE_KEY or as "
           "cookie_key in .streamlit/secrets.toml, e.g. "
           "python -c 'import secrets; print(secrets.token_urlsafe(48))'.")
    if key is None or key.strip() in PLACEHOLDER_COOKIE_KEYS:
        return "No sign-in cookie key is set (or it is the example value). " + how
    if len(key) < MIN_COOKIE_KEY_LENGTH:
        return f"The sign-in cookie key is shorter than {MIN_COOKIE_KEY_LENGTH} characters. " + how
    return None


def effective_cookie_key(env: Environment, configured: str | None) -> str:
    """The key to sign cookies with (the demo key only in demo mode)."""
    key = configured if configured is not None else env.cookie_key
    if env.is_demo and (key is None or not key.strip()):
        return DEMO_COOKIE_KEY
    if key is None:
        raise ValueError("no cookie key configured")
    return key
