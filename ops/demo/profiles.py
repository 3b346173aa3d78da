"""How often, where, when and by whom each type of near miss happens in the demo."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.reports.vocabulary import Barrier
from ops.demo.provider import (
    DAY_PROGRAMME,
    DRIVER,
    DSP,
    HCW,
    HOME_CARE,
    NURSE,
    RESIDENTIAL,
    SCHEDULER,
    SUPERVISOR,
    SUPPORTED_LIVING,
    PersonSpec,
    PlaceSpec,
)

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
