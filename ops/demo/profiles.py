"""How often, where, when and by whom each type of near miss happens in the demo (each type's
`rates` in its data file), and what a description writer knows about one near miss."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.reports.vocabulary import Barrier
from ops.demo.data import Rates, demo_data
from ops.demo.provider import PersonSpec, PlaceSpec

STAFF_RECOVERY, DESIGNED, PERSON, CHANCE = (b.value for b in Barrier)
BARRIERS = (STAFF_RECOVERY, DESIGNED, PERSON, CHANCE)


@dataclass(frozen=True)
class TypeProfile:
    """How often, where, when and by whom a type of near miss happens in the demo."""

    share: float  # of the background reports
    kinds: Mapping[str, float]  # affinity to each kind of service
    tags: Mapping[str, float]  # affinity to kinds of place
    hours: tuple[tuple[float, float, float], ...]  # local (centre hour, spread, weight)
    barriers: tuple[float, float, float, float]  # staff, designed control, person/family, chance
    person: float  # chance a person supported is named
    at_risk: float
    flag: float
    flags: Mapping[str, float]
    capture: float  # chance the reporter fills the optional capture fields
    anonymous: float
    severity: tuple[float, float, float]  # high, medium, low potential at triage
    signal: tuple[float, str]  # chance the triager finds a safeguarding signal, and which


def _profile(rates: Rates) -> TypeProfile:
    signal = rates.triage_finds_signal
    return TypeProfile(
        rates.share, dict(rates.by_kind_of_service), dict(rates.by_kind_of_place),
        tuple(rates.times_of_day), rates.what_stopped_it.weights(), rates.names_a_person,
        rates.still_at_risk, rates.interface_flag, dict(rates.interface_flags),
        rates.fills_capture_fields, rates.anonymous, rates.severity.mix(),
        (signal.chance, signal.signal) if signal else (0.0, ""))


PROFILES: dict[str, TypeProfile] = {
    key: _profile(found.rates) for key, found in demo_data().types.items()}
# How likely each staff group is to report each type (1 when not listed).
GROUP_AFFINITY: dict[str, Mapping[str, float]] = dict(
    demo_data().provider.reporting_by_staff_group)


def _pronoun_words(they: str, them: str, their: str) -> dict[str, str]:
    return {"they": they, "them": them, "their": their, "They": they.capitalize(),
            "Their": their.capitalize()}


PRONOUN_WORDS = {"he": _pronoun_words("he", "him", "his"),
                 "she": _pronoun_words("she", "her", "her"),
                 "they": _pronoun_words("they", "them", "their")}


def pronouns(person: PersonSpec | None) -> dict[str, str]:
    return PRONOUN_WORDS.get(person.pronoun if person else "they", PRONOUN_WORDS["they"])


def sentence(text: str) -> str:
    """The text with its first letter in capitals."""
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def iso(moment: datetime) -> str:
    """A datetime capture field as the form stores it (local time, to the minute)."""
    return moment.strftime("%Y-%m-%dT%H:%M")


def weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    """One of the options, by its relative weight."""
    return rng.choices(list(weights), list(weights.values()))[0]


@dataclass
class Scene:
    """What a description writer knows about the near miss it describes."""

    rng: random.Random
    place: PlaceSpec
    person: PersonSpec | None
    local: datetime  # when it happened, provider's local time
    barrier: str
    kind: str  # the kind of service
    planted: str | None = None  # the story it belongs to
    after_control: bool = False

    def words(self, **extra: str) -> dict[str, str]:
        return {**pronouns(self.person), "place": self.place.phrase, **extra}

    def pick(self, options: Sequence[str], **extra: str) -> str:
        return self.rng.choice(options).format(**self.words(**extra))


Writer = Callable[[Scene], tuple[str, dict[str, Any]]]
