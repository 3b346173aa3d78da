"""What each type of near miss looks like: the reporter's words and capture fields, written
from each type's `words` in its data file (and a planted story's own words)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core.yamlfile import ConfigFileError
from ops.demo.data import DATA_DIR, demo_data
from ops.demo.profiles import DESIGNED, STAFF_RECOVERY, Scene, Writer, iso, sentence, weighted
from ops.demo.provider import FAMILY_NOTE_SOURCE, HOME_CARE

_DATA = demo_data()
WORDS: dict[str, dict[str, Any]] = {key: t.words for key, t in _DATA.types.items()}
_DOORWAY = _DATA.doorway_falls.words
_NOTES = _DATA.family_notes.words


# -- Transfer / near fall (seed 1, operational example 1) -------------------------------------

def _near_fall(s: Scene) -> tuple[str, dict[str, Any]]:
    r, w = s.rng, WORDS["transfer_near_fall"]
    planted = s.planted == "doorway_falls"
    tag = next((t for t in w["tasks_by_kind_of_place"] if t in s.place.tags), "lounge")
    if planted and s.local.hour >= 16:
        task = _DOORWAY["evening_task"]
    else:
        task = r.choice(w["tasks_by_kind_of_place"][tag])
    aid = r.choice(_DOORWAY["aids"] if planted else w["aids"])
    position = weighted(r, _DOORWAY["aid_positions"] if planted else w["aid_positions"])
    environment = weighted(r, _DOORWAY["environment"]) if planted else r.choice(w["environment"])
    balance = weighted(r, w["balance"])
    words = s.words(aid=aid, task=task)
    recovery = s.pick(w["recovery"][s.barrier], aid=aid, task=task)
    if position in w["aid_phrases"]:
        opening = f"{aid.capitalize()} {w['aid_phrases'][position]} {s.place.phrase}"
        if r.random() < w["says_the_task"]:
            opening += f" during the {task}"
        description = f"{opening}; {recovery}"
    else:
        description = f"{w['openings'][position].format(**words)}. {sentence(recovery)}"
    tails = _DOORWAY if planted else w
    if r.random() < tails["adds_a_tail"]:
        description += " " + s.pick(tails["tails"], aid=aid)
    return description, {
        "transfer_task": task.capitalize(), "mobility_aid_position": position,
        "balance_or_fatigue": balance,
        "immediate_action": w["immediate_action"][s.barrier].format(**words),
        "environmental_condition": environment.capitalize()}


# -- Medication discrepancy (seed 1, operational example 2) -----------------------------------

def prompt_time(local: datetime) -> datetime:
    """The medication round nearest to `local` (lunchtime's is at half past)."""
    hours = WORDS["medication_discrepancy"]["prompt_hours"]
    hour = min(hours, key=lambda h: abs(h - (local.hour + local.minute / 60)))
    return local.replace(hour=hour, minute=0 if hour != 12 else 30)


def _time_word(hour: int) -> str:
    return "morning" if hour < 11 else "lunchtime" if hour < 15 else "teatime" if hour < 19 \
        else "bedtime"


def _medication(s: Scene) -> tuple[str, dict[str, Any]]:
    r, w = s.rng, WORDS["medication_discrepancy"]
    planted = s.planted == "family_notes"
    source = FAMILY_NOTE_SOURCE if planted else weighted(r, w["sources"])
    med = r.choice(list(w["medicines"]))
    dose_a, dose_b = r.sample(w["medicines"][med], 2)
    prompt = prompt_time(s.local)
    words = {"med": med, "when": _time_word(prompt.hour), "dose_a": dose_a, "dose_b": dose_b,
             "tablet": r.choice(w["tablets"])}
    mismatch = sentence(s.pick(_NOTES["mismatch"] if planted else w["mismatch"][source],
                               **words))
    if planted and s.after_control and s.barrier == DESIGNED:
        recovery = r.choice(_NOTES["caught_by_the_check"])
    else:
        recovery = s.pick(w["recovery"][s.barrier])
    description = f"{mismatch}; {recovery}"
    if r.random() < w["adds_a_tail"]:
        description += " " + r.choice(w["tails"])
    return description, {"medication_prompt_time": iso(prompt), "source_of_discrepancy": source,
                         "worker_action": w["worker_action"][s.barrier].format(**s.words())}


# -- Staffing / visit continuity (seed 1, operational example 3) ------------------------------

def _staffing(s: Scene) -> tuple[str, dict[str, Any]]:
    r, w = s.rng, WORDS["staffing_visit_continuity"]
    delay = r.choice(w["delay_minutes"])
    reason, tasks = r.choice(w["delay_reasons"]), r.choice(w["tasks_due"])
    # A designed control means the rota's backup; otherwise it is often found informally.
    backup = next(iter(w["backup"])) if s.barrier == DESIGNED else weighted(r, w["backup"])
    cover = w["cover"][backup].get(s.barrier) or w["cover"][backup][STAFF_RECOVERY]
    description = (f"The rostered worker was running {delay} minutes late after {reason}; the "
                   f"next visit needed {tasks}. " + sentence(cover.format(**s.words())))
    scheduled = s.local.replace(minute=(s.local.minute // 15) * 15)
    return description, {
        "scheduled_visit_time": iso(scheduled),
        "worker_delay_reason": sentence(reason.removeprefix("an ").removeprefix("a ")),
        "essential_tasks_due": sentence(tasks), "backup_worker_availability": backup}


# -- Skin integrity / early deterioration (seed 2, operational example 1) ---------------------

def _skin(s: Scene) -> tuple[str, dict[str, Any]]:
    r, w = s.rng, WORDS["skin_integrity_deterioration"]
    observation = s.pick(w["observations"])
    handover = weighted(r, w["handover"])
    last = r.choice(w["last_documented"])
    found = f"Noticed {observation} during {r.choice(w['care'])}"
    description = (f"{found}; {w['handover_words'][handover]}. "
                   + w["stop_the_line"][s.barrier].format(**s.words()))
    notified = s.local + timedelta(minutes=r.randint(*w["supervisor_told_within_minutes"]))
    return description, {"observation": sentence(observation), "last_documented": last,
                         "handover_status": handover, "supervisor_notified_at": iso(notified)}


# -- Interface failure (seed 2, operational example 2) -----------------------------------------

def _interface(s: Scene) -> tuple[str, dict[str, Any]]:
    r, w = s.rng, WORDS["interface_failure"]
    chosen = r.choice(w["changes"])
    change, follow_up = (chosen[k].format(**s.words()) for k in ("change", "follow_up"))
    discovered = s.pick(w["discovered"])
    description = (f"{change}; {r.choice(w['entered'])}, but the {r.choice(w['team'])} was "
                   f"never told. We found out only because {discovered}. "
                   + w["recovery"][s.barrier])
    return description, {"what_changed": change, "how_discovered": sentence(discovered),
                         "follow_up_requirement": follow_up}


# -- Late shift start / coverage (seed 2, operational example 3) -------------------------------

def _late_start(s: Scene) -> tuple[str, dict[str, Any]]:
    r, w = s.rng, WORDS["late_shift_start"]
    starts = {int(hour): name for hour, name in w["shift_starts"].items()}
    hour = min(starts, key=lambda h: abs(h - (s.local.hour + s.local.minute / 60)))
    scheduled = s.local.replace(hour=hour, minute=0)
    delay = r.choice(w["delay_minutes"])
    planted = s.planted == "late_start_cluster"
    cause = r.choice(_DATA.late_start_cluster.causes if planted else w["causes"])
    if s.kind == HOME_CARE:
        opening = f"The {scheduled:%H:%M} visit round started {delay} minutes late: {cause}."
    else:
        opening = (f"The {starts[hour]} shift ({scheduled:%H:%M}) started {delay} minutes "
                   f"late: {cause}.")
    description = f"{opening} {r.choice(w['recovery'][s.barrier])}"
    rota_change = "rota" in cause or "swap" in cause or r.random() < w["rota_changed_anyway"]
    return description, {"scheduled_start": iso(scheduled),
                         "actual_start": iso(scheduled + timedelta(minutes=delay)),
                         "rota_change": rota_change}


# -- Safeguarding, environment, transport, community safety, other ----------------------------

def _safeguarding(s: Scene) -> tuple[str, dict[str, Any]]:
    w = WORDS["safeguarding_rights"]
    concern = s.pick(w["concerns"])
    protection = w["protection"][s.barrier].format(**s.words())
    return f"{concern} {protection}", {"concern": concern, "immediate_protection": protection}


def _environment(s: Scene) -> tuple[str, dict[str, Any]]:
    r, w = s.rng, WORDS["environment_equipment"]
    hazards = w["hazards_by_kind_of_place"]
    tags = sorted(t for t in s.place.tags if t in hazards) or ["office"]
    hazard = r.choice(hazards[r.choice(tags)])
    made_safe = r.choice(w["made_safe"])
    found = w["found_by"][s.barrier].format(**s.words())
    description = f"{sentence(hazard)} {s.place.phrase} ({found}). {made_safe}"
    return description, {"hazard": sentence(hazard), "made_safe": made_safe}


def _transport(s: Scene) -> tuple[str, dict[str, Any]]:
    w = WORDS["transport"]
    journey, fault = s.rng.choice(w["journeys"]), s.pick(w["faults"])
    description = (f"Transport plan for the {journey} nearly failed: {fault}. "
                   + w["recovery"][s.barrier].format(**s.words()))
    return description, {"journey": sentence(journey), "what_went_wrong": sentence(fault)}


def _community(s: Scene) -> tuple[str, dict[str, Any]]:
    w = WORDS["community_safety"]
    situation = s.pick(w["situations"])
    response = w["responses"][s.barrier].format(**s.words())
    return f"{situation}. {response}", {"situation": situation, "response": response}


def _other(s: Scene) -> tuple[str, dict[str, Any]]:
    w = WORDS["other"]
    details = s.pick(w["details"])
    return f"{details} {s.place.phrase}. {w['ending']}", {"details": details}


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
# The words each writer reads: a file missing one is refused at start, not mid-load.
_NEEDS: dict[str, tuple[str, ...]] = {
    "transfer_near_fall": ("tasks_by_kind_of_place", "aids", "aid_positions", "aid_phrases",
                           "openings", "says_the_task", "balance", "environment", "recovery",
                           "tails", "adds_a_tail", "immediate_action"),
    "medication_discrepancy": ("medicines", "tablets", "sources", "mismatch", "recovery",
                               "tails", "adds_a_tail", "worker_action", "prompt_hours"),
    "staffing_visit_continuity": ("delay_minutes", "delay_reasons", "tasks_due", "backup",
                                  "cover"),
    "skin_integrity_deterioration": ("observations", "care", "last_documented", "handover",
                                     "handover_words", "stop_the_line",
                                     "supervisor_told_within_minutes"),
    "interface_failure": ("changes", "entered", "team", "discovered", "recovery"),
    "late_shift_start": ("shift_starts", "delay_minutes", "causes", "recovery",
                         "rota_changed_anyway"),
    "safeguarding_rights": ("concerns", "protection"),
    "environment_equipment": ("hazards_by_kind_of_place", "made_safe", "found_by"),
    "transport": ("journeys", "faults", "recovery"),
    "community_safety": ("situations", "responses"),
    "other": ("details", "ending"),
}
for _key, _needs in _NEEDS.items():
    _missing = [n for n in _needs if n not in WORDS.get(_key, {})]
    if _key in WORDS and _missing:
        raise ConfigFileError(DATA_DIR, None, f"{_key}.words.{_missing[0]}", "is missing")


def still_at_risk_safeguards(type_key: str) -> str | None:
    """What the reporter did for someone still at risk, in the type's own words (if any)."""
    return WORDS.get(type_key, {}).get("still_at_risk_safeguards")
