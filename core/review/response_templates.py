"""The learning response types, their templates and the suggestion table.

NHS England's Patient Safety Incident Response Framework (PSIRF, 2022) asks for a learning
response proportionate to what there is to learn, and names the methods: a swarm huddle, an
after-action review, a multidisciplinary team review and a patient safety incident
investigation. Beside them the portal keeps its full root cause analysis (core.review.rca) as one
more type, `full_rca`, with a page of its own.

The templates (fields, who takes part, time limit) live in data/learning_responses.yaml (or the
file NEARMISS_LEARNING_RESPONSES names), checked here by pydantic so a provider's mistake is
named with its line. The suggestion table (severity potential x recurrence -> response type)
comes from the same file; `DEFAULT_SUGGESTIONS` below is the rule when the file gives none:

| severity potential | single              | repeat              | cluster    |
|--------------------|---------------------|---------------------|------------|
| low                | swarm_huddle        | after_action_review | mdt_review |
| medium             | after_action_review | after_action_review | mdt_review |
| high               | mdt_review          | psii                | psii       |

A huddle for a low-risk one-off, an investigation for a high-risk recurrence, an after-action
review or an MDT review in between.
"""

from __future__ import annotations

import calendar
import os
import re
from collections.abc import Container
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.config import PROJECT_ROOT, RECURRENCES, SEVERITIES
from core.triage.vocabulary import Recurrence, Severity
from core.yamlfile import load_model

DEFAULT_PATH = PROJECT_ROOT / "data" / "learning_responses.yaml"
FULL_RCA = "full_rca"  # the existing root cause analysis, offered as one of the types
FULL_RCA_NAME = "Full root cause analysis"
FULL_RCA_PURPOSE = ("Group related near misses, ask why until the system cause shows, name the "
                    "contributing factors and record findings. Opened on its own page.")

DEFAULT_SUGGESTIONS: dict[str, dict[str, str]] = {
    "low": {"single": "swarm_huddle", "repeat": "after_action_review",
            "cluster": "mdt_review"},
    "medium": {"single": "after_action_review", "repeat": "after_action_review",
               "cluster": "mdt_review"},
    "high": {"single": "mdt_review", "repeat": "psii", "cluster": "psii"},
}

_KEY = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResponseField(_Strict):
    """One question of a template; every answer is free text."""

    key: str
    label: str = Field(min_length=1, max_length=200)
    help: str = Field("", max_length=500)
    required: bool = True

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError("use 2 to 40 lower-case letters, digits or _, starting with a letter")
        return value


class TimeLimit(_Strict):
    """How long a response may take from its start: exactly one of the three."""

    working_days: int | None = Field(None, ge=1, le=260)
    days: int | None = Field(None, ge=1, le=730)
    months: int | None = Field(None, ge=1, le=24)

    @model_validator(mode="after")
    def _exactly_one(self) -> TimeLimit:
        given = [v for v in (self.working_days, self.days, self.months) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of working_days, days or months")
        return self

    @property
    def label(self) -> str:
        """"within 2 working days", "within 30 days", "within 3 months"."""
        if self.working_days is not None:
            n, unit = self.working_days, "working day"
        elif self.days is not None:
            n, unit = self.days, "day"
        else:
            n, unit = self.months or 0, "month"
        return f"within {n} {unit}{'' if n == 1 else 's'}"

    def due(self, start: date, holidays: Container[date] = ()) -> date:
        """The last day a response started on `start` may take."""
        if self.working_days is not None:
            return add_working_days(start, self.working_days, holidays)
        if self.days is not None:
            return start + timedelta(days=self.days)
        return add_months(start, self.months or 0)


class ResponseTemplate(_Strict):
    """A learning response type: what it is for, who takes part, its time limit, its fields."""

    key: str
    name: str = Field(min_length=1, max_length=80)
    purpose: str = Field(min_length=1, max_length=1000)
    participants: tuple[str, ...] = Field(min_length=1)
    min_participants: int = Field(1, ge=1, le=30)
    time_limit: TimeLimit
    fields: tuple[ResponseField, ...] = Field(min_length=1, max_length=20)
    findings: tuple[str, ...] = Field(min_length=1)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError("use 2 to 40 lower-case letters, digits or _, starting with a letter")
        if value == FULL_RCA:
            raise ValueError(f"{FULL_RCA} is the full root cause analysis: it has no template")
        return value

    @model_validator(mode="after")
    def _fields_known(self) -> ResponseTemplate:
        keys = [f.key for f in self.fields]
        if len(set(keys)) != len(keys):
            raise ValueError("two fields share a key")
        unknown = [k for k in self.findings if k not in keys]
        if unknown:
            raise ValueError(f"findings names {', '.join(unknown)}, not a field of this type")
        return self

    def field(self, key: str) -> ResponseField | None:
        return next((f for f in self.fields if f.key == key), None)


class LearningResponses(_Strict):
    """The whole file: the response types and the suggestion table."""

    responses: tuple[ResponseTemplate, ...] = Field(min_length=1)
    suggestions: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_SUGGESTIONS.items()})

    @model_validator(mode="after")
    def _consistent(self) -> LearningResponses:
        keys = [t.key for t in self.responses]
        if len(set(keys)) != len(keys):
            raise ValueError("two response types share a key")
        if set(self.suggestions) != set(SEVERITIES):
            raise ValueError(f"suggestions needs exactly the rows {', '.join(SEVERITIES)}")
        for severity, row in self.suggestions.items():
            if set(row) != set(RECURRENCES):
                raise ValueError(f"suggestions row {severity!r} needs exactly the columns "
                                 f"{', '.join(RECURRENCES)}")
            for recurrence, key in row.items():
                if key != FULL_RCA and key not in keys:
                    raise ValueError(f"suggestions {severity}/{recurrence}: {key!r} is not a "
                                     f"response type here (nor {FULL_RCA})")
        return self

    def template(self, key: str) -> ResponseTemplate | None:
        return next((t for t in self.responses if t.key == key), None)

    def name_of(self, key: str) -> str:
        if key == FULL_RCA:
            return FULL_RCA_NAME
        found = self.template(key)
        return found.name if found else key


def add_working_days(start: date, count: int, holidays: Container[date] = ()) -> date:
    """The `count`-th working day after `start` (Monday to Friday, not in `holidays`)."""
    day = start
    left = count
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            left -= 1
    return day


def add_months(start: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def templates_path() -> Path:
    """The templates file: NEARMISS_LEARNING_RESPONSES, or data/learning_responses.yaml."""
    return Path(os.environ.get("NEARMISS_LEARNING_RESPONSES", DEFAULT_PATH))


@lru_cache(maxsize=4)
def _templates_at(path: str, mtime: float) -> LearningResponses:
    return load_model(path, LearningResponses)


def load_learning_responses(path: Path | None = None) -> LearningResponses:
    """Read and check the templates file (re-read when it changes on disk); ConfigFileError
    names the line of a mistake."""
    path = path or templates_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0  # load_model reports the missing file in words
    return _templates_at(str(path), mtime)


def suggest_response(severity: Severity | str, recurrence: Recurrence | str,
                     templates: LearningResponses | None = None) -> str:
    """The proportionate response type for a severity potential and a recurrence (the table
    in this module's docstring, or the provider's own from the templates file)."""
    table = (templates or load_learning_responses()).suggestions
    return table[Severity(severity).value][Recurrence(recurrence).value]
