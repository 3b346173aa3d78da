"""What each type of near miss looks like: the reporter's words and capture fields."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ops.demo.profiles import (
    _CHANCE,
    _DESIGNED,
    _PERSON,
    _STAFF_RECOVERY,
    Writer,
    _iso,
    _Scene,
    _sentence,
)
from ops.demo.provider import FAMILY_NOTE_SOURCE, HOME_CARE

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
