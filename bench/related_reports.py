"""How well "reads alike" finds the same event told in other words: precision at 5.

A labelled set of made-up near-miss reports in families: each family is one kind of event
(a walker out of reach at the bathroom doorway, a pharmacy delivery of the wrong strength),
told six times in different words, by different people, with different details and what
stopped harm; forty families over all eleven types, so many reports of one type are about
other events (the hard negatives). Two reports of one family are a related pair; any other
two are not. The set is generated from a seed and written to bench/data/ (the reports, and a
sample of labelled pairs: each report with a paraphrase, a report of its type about another
event, and one of another type).

The families are split in two halves. The first half chooses the method (which TF-IDF views,
among a few); precision at 5 is then measured on the held-out half only: each of its reports
asks for the five most alike among every other report of both halves (480 queries' worth of
distractors), as core.review.related ranks candidates, and a hit is a report of its family.

    .venv/bin/python bench/related_reports.py [--seed 20] [--write]

`--write` rewrites bench/data/related_reports.csv and related_pairs.csv from the seed.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import TriageRules  # noqa: E402
from core.review.related import VIEWS, report_text, similarities  # noqa: E402

DATA = ROOT / "bench" / "data"
TYPE_NAMES = {
    "transfer_near_fall": "Transfer / near fall",
    "medication_discrepancy": "Medication discrepancy",
    "staffing_visit_continuity": "Staffing / visit continuity",
    "skin_integrity_deterioration": "Skin integrity / early deterioration",
    "interface_failure": "Interface failure",
    "late_shift_start": "Late shift start / coverage",
    "safeguarding_rights": "Safeguarding or rights concern",
    "environment_equipment": "Environment / equipment",
    "transport": "Transport",
    "community_safety": "Community safety",
    "other": "Other near miss",
}
BARRIERS = ("staff_recovery", "designed_control", "person_or_family", "chance")
PER_FAMILY = 6
K = 5
TYPO_SHARE = 0.3  # reports typed on a phone with a slip or two

# Each family: its type, then several ways people tell the same event. {who} and {when}
# vary per report; a lead-in, a closing remark and a few word swaps vary it further.
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "walker_doorway": ("transfer_near_fall", (
        "{Who} reached for the walker at the bathroom doorway but it was parked out of reach; "
        "staff steadied her {when}.",
        "Walking frame left by the bath, not at the door. {Who} grabbed the door frame and "
        "wobbled before I caught her arm.",
        "At the bathroom door the frame was not where the plan says; {who} lost balance and "
        "was steadied by the DSP {when}.",
        "{When} {who} nearly fell in the bathroom doorway because the walker was too far away "
        "to reach.")),
    "hoist_sling": ("transfer_near_fall", (
        "Hoist sling was the wrong size for {who}; noticed the loops slipping as the lift "
        "started and lowered back onto the bed.",
        "{When}, during a hoist transfer the sling looked too big and {who} began to slide, so "
        "we stopped and let the hoist down.",
        "Started lifting with the medium sling instead of the small one; the person slipped "
        "down in it and the transfer was abandoned safely.")),
    "wheelchair_brakes": ("transfer_near_fall", (
        "Wheelchair brakes were not on when {who} stood up to move to the bed; the chair "
        "rolled back and staff held it.",
        "{Who} went to stand from the wheelchair and it moved backwards because nobody had "
        "locked the brakes {when}.",
        "Chair not braked during the bed transfer: it slid away and I grabbed it before she "
        "sat down on nothing.")),
    "wet_shower_floor": ("transfer_near_fall", (
        "{Who} slipped on the wet shower room floor after washing; the carer caught them "
        "under the arms.",
        "Water pooled outside the shower tray and feet went from under {who} {when}; a staff "
        "member held on.",
        "Floor left wet after the shower, near slip for {who}: no non-slip mat was down.")),
    "bed_height": ("transfer_near_fall", (
        "Bed left at full height after cleaning; {who} tried to climb out and nearly fell.",
        "Bed not lowered back after housekeeping, the person almost slipped getting out "
        "{when}.",
        "High bed position after the sheets were changed: she nearly fell getting up in the "
        "night.")),
    "family_note_dose": ("medication_discrepancy", (
        "The evening medication prompt did not match the note the family left about the "
        "changed dose; I did not prompt and rang the supervisor.",
        "Family's note says the GP reduced the dose but the care plan still shows the old "
        "amount {when}; held off and called the office.",
        "Prompt sheet and the daughter's note disagree on the tablet strength; checked with "
        "the nurse before anything was given.")),
    "mar_signed_not_given": ("medication_discrepancy", (
        "MAR chart signed as given but the blister pack slot for the morning was still full.",
        "{When} found the morning pod untouched although the record says it was "
        "administered to {who}.",
        "Tablets still in the dosette for breakfast even though the chart was initialled, so "
        "the dose was never actually taken.")),
    "pharmacy_strength": ("medication_discrepancy", (
        "Pharmacy delivery had 10 mg tablets instead of 5 mg for {who}; spotted when checking "
        "the new box against the label.",
        "New box from the chemist was the wrong strength, double what is prescribed; not "
        "given and the pharmacy was called.",
        "Checked the delivered medicine {when} and the strength on the packet did not match "
        "the prescription.")),
    "double_dose_handover": ("medication_discrepancy", (
        "Night staff nearly gave paracetamol again because the day shift did not record the "
        "6pm dose.",
        "Handover missed that pain relief had already been given; a second dose was almost "
        "given {when}, caught by counting the tablets.",
        "The previous worker did not write the dose down so I nearly repeated it; counted "
        "what was left in the bottle and stopped.")),
    "insulin_pen_mixup": ("medication_discrepancy", (
        "Two insulin pens in the fridge; nearly used the one labelled for another tenant.",
        "Almost used a neighbour's insulin pen that is kept in the same fridge tray {when}.",
        "Insulin pens for two people stored together, the wrong one was picked up and caught "
        "at the name check.")),
    "late_worker_insulin": ("staffing_visit_continuity", (
        "Rostered worker running 40 minutes late for the lunchtime visit where insulin is "
        "prompted; the office sent a backup.",
        "Carer stuck in traffic and would have missed the essential meal and insulin call; "
        "the coordinator covered it.",
        "Backup worker found at short notice because the regular carer was over half an hour "
        "late for a time-critical visit.")),
    "missed_double_up": ("staffing_visit_continuity", (
        "Double-up visit for hoisting turned up with only one worker; we waited for the "
        "second before moving {who}.",
        "Second carer for the two-person transfer did not arrive {when}; the single carer "
        "nearly attempted it alone.",
        "Only one staff member sent to a call that needs two for the hoist; the coordinator "
        "sent another.")),
    "visit_dropped_rota": ("staffing_visit_continuity", (
        "Visit dropped off the rota after the schedule change, nobody was booked for the "
        "teatime call; {who} rang the office.",
        "The teatime call vanished from the schedule when the rota was edited; the client "
        "phoned to ask where the carer was.",
        "Scheduling system lost the evening visit after changes; picked up when the family "
        "called.")),
    "lone_worker_checkin": ("staffing_visit_continuity", (
        "Lone worker on a late visit did not check in and the office only noticed two hours "
        "later.",
        "Carer's safety check-call was missed after the evening visit; nobody followed up for "
        "ages.",
        "No one realised the lone worker had not called in after the night call.")),
    "red_heel": ("skin_integrity_deterioration", (
        "Noticed a red area on the heel of {who} that did not blanch; last skin check "
        "recorded three days ago; nurse asked to review.",
        "Non-blanching redness on the left heel found at the morning wash; repositioning not "
        "documented since Monday.",
        "Heel looks red and stays red when pressed; told the supervisor and booked a same-day "
        "nurse visit.")),
    "cushion_missing": ("skin_integrity_deterioration", (
        "Pressure cushion missing from the wheelchair {when}; {who} sat on the bare seat all "
        "afternoon.",
        "The pressure relieving cushion was not on the chair, it had gone to the laundry, "
        "and the client sat without it.",
        "Found the person sitting without their pressure cushion; it was left in the bedroom "
        "after cleaning.")),
    "fluids_confusion": ("skin_integrity_deterioration", (
        "{Who} drinking much less than usual and more confused; fluid chart not kept for two "
        "days; escalated to the nurse.",
        "Fluid intake charts blank since the weekend and she seems drowsy and muddled; nurse "
        "review requested.",
        "Low drinking and new confusion noticed {when}; nobody had been filling in the fluids "
        "record.")),
    "moisture_lesion": ("skin_integrity_deterioration", (
        "Sore, broken skin in the groin from wet pads not changed overnight.",
        "Moisture damage on the skin of {who} because continence pads had been left too "
        "long.",
        "Pad not changed through the night and the skin is now red and broken.")),
    "thickener_not_told": ("interface_failure", (
        "Care plan updated in the office system to thickened fluids but the frontline team "
        "was never told; found when I read the new plan.",
        "Speech therapist changed the drinks to thickened, entered online, but carers were "
        "still giving normal tea {when}.",
        "New guidance about thickener was in the e-record only; the visiting worker had not "
        "seen it and nearly gave a thin drink.")),
    "clinic_letter": ("interface_failure", (
        "Hospital clinic letter asking for daily weights sat in the office inbox; staff at "
        "the house knew nothing about it.",
        "Follow-up instructions from the outpatient appointment were never passed on to the "
        "team.",
        "The clinic wrote that weights should be taken every day; the letter was scanned but "
        "not shared with the carers.")),
    "address_change": ("interface_failure", (
        "Client moved to a new address but the schedule still had the old one; the worker "
        "went to the empty flat.",
        "Wrong address on the rota after the move: the carer arrived at the previous home "
        "and was late to the real one.",
        "Rota not updated with the person's new address so the visit was nearly missed.")),
    "allergy_record": ("interface_failure", (
        "New penicillin allergy from the GP not added to the care record; found during a "
        "medication check.",
        "The GP said {who} is allergic to penicillin but the electronic record still shows "
        "no allergies.",
        "Allergy information from the doctor's surgery did not reach our system.")),
    "night_cover": ("late_shift_start", (
        "Night shift cover was swapped last minute and nobody confirmed the replacement; the "
        "house had one staff until 11pm.",
        "Rota change at short notice: the relief worker was not confirmed and the night "
        "started short-staffed.",
        "Cover for the night shift not confirmed after a swap, so the sleep-in started with "
        "only one person on.")),
    "late_handover_seizure": ("late_shift_start", (
        "Morning staff arrived 45 minutes late so night staff stayed on; no handover of the "
        "seizure plan.",
        "Day shift started late and the night worker left before a proper handover about "
        "the new seizure care.",
        "Late start by the early shift meant the handover was rushed and the epilepsy plan "
        "changes were not passed on.")),
    "bank_pin": ("safeguarding_rights", (
        "A visitor asked {who} for her bank card PIN; staff stepped in and refused.",
        "Someone visiting tried to get the person's PIN number for the bank card; the carer "
        "intervened.",
        "Heard a caller asking the resident to tell him her card PIN; I stopped the "
        "conversation and reported it.")),
    "kitchen_locked": ("safeguarding_rights", (
        "Kitchen door locked by a worker to stop {who} snacking, not in the support plan; "
        "unlocked at once.",
        "Found the kitchen locked so the person could not get food; this restriction is not "
        "authorised.",
        "Staff member locked the kitchen to limit eating, a restriction of rights not in the "
        "plan.")),
    "cash_short": ("safeguarding_rights", (
        "Receipts and cash in the tin did not add up, twenty pounds short; counted twice with "
        "a colleague.",
        "Personal money tin was £20 down against the record; a second person checked the "
        "count.",
        "Cash balance for {who} does not match the book, twenty pounds unaccounted for.")),
    "sharps_cabinet": ("environment_equipment", (
        "Sharps cabinet left unlocked in the clinical room; found it open {when} and locked "
        "it.",
        "Cupboard with the needles and lancets was open and unattended.",
        "The sharps cabinet key was left in the lock and the door open.")),
    "bed_rail_gap": ("environment_equipment", (
        "Gap between the bed rail and mattress wide enough to trap an arm after the new "
        "mattress arrived.",
        "New mattress is thinner so the bed rails now leave a big gap; could trap a limb.",
        "Bedrail gap noticed at the side of the new mattress, entrapment risk; rails taken "
        "down until checked.")),
    "hot_water": ("environment_equipment", (
        "Hot tap in the bathroom running far too hot, the thermostatic valve seems broken; "
        "tested before the bath.",
        "Bath water from the tap scalding, the temperature valve is not working; I checked "
        "with the thermometer first.",
        "Water came out much hotter than normal at bath time {when}; mixer valve fault "
        "reported.")),
    "fire_door": ("environment_equipment", (
        "Fire door on the first floor wedged open with a chair.",
        "Someone propped the landing fire door open using a doorstop again.",
        "Upstairs fire door held open with a wedge {when}; removed it.")),
    "trailing_cable": ("environment_equipment", (
        "Extension cable trailing across the lounge floor where {who} walks with a stick.",
        "Lead stretched over the living room carpet, a trip hazard for someone using a cane.",
        "Trailing wire in the lounge; tucked it away before anyone tripped.")),
    "wheelchair_clamps": ("transport", (
        "Wheelchair not clamped in the minibus before setting off; the driver noticed at the "
        "first junction.",
        "Forgot to secure the wheelchair restraints in the van; it shifted when we braked.",
        "Chair tie-downs not fastened on the accessible bus; stopped and fixed before going "
        "on.")),
    "dialysis_transport": ("transport", (
        "Transport for the dialysis appointment was not booked; found out when the taxi did "
        "not arrive.",
        "No car came for the hospital dialysis session because nobody booked it; staff drove "
        "{who} instead.",
        "Booking for the transport to dialysis missing, realised when the pick-up time "
        "passed.")),
    "seatbelt": ("transport", (
        "{Who} unclipped the seatbelt during the drive to the day centre; staff pulled over "
        "safely.",
        "Passenger undid their belt on the way to the day programme; the driver stopped.",
        "Seat belt came undone while travelling {when}; the driver stopped at the side of "
        "the road.")),
    "road_crossing": ("community_safety", (
        "On the walk to the shops {who} stepped into the road without looking; staff held "
        "his arm.",
        "Nearly stepped out in front of a car crossing to the park; I pulled him back.",
        "At the pedestrian crossing he went before the green man; staff grabbed his hand.")),
    "lost_shopping": ("community_safety", (
        "{Who} wandered away in the shopping centre and was found at the exit ten minutes "
        "later.",
        "Lost sight of the person in the busy mall for a few minutes; security helped find "
        "them.",
        "During the outing he walked off in the supermarket and was missing briefly.")),
    "cafe_nuts": ("community_safety", (
        "Cafe sandwich had nuts although we asked; noticed the label before {who} ate it.",
        "Out for lunch, the food had peanuts despite the allergy being mentioned; caught "
        "from the packaging.",
        "Nut allergy: the cafe served a snack containing nuts, staff read the label and "
        "swapped it.")),
    "phone_on_bus": ("other", (
        "Work phone with client details left on the bus seat; the driver handed it in.",
        "Left the mobile with people's records on public transport; returned by the bus "
        "company.",
        "Lost the work phone holding client information on the bus {when}; it was handed "
        "back.")),
    "key_safe_code": ("other", (
        "Key safe code written on a sticky note by the door.",
        "Somebody wrote the key safe number on paper next to the front door.",
        "Code for the key box found written down and stuck near the entrance {when}.")),
}

WHO = ("the resident", "the person we support", "our client", "Mr D", "Ms K", "the tenant",
       "the gentleman", "the lady in room 4", "Mrs A", "the young man we support")
WHEN = ("this morning", "at 7pm", "during the night check", "at lunchtime",
        "on the late shift", "around 9:30", "after breakfast", "at teatime")
LEAD_IN = ("", "", "", "Just before lunch: ", "Evening report. ", "Reporting for the team: ",
           "Second time this month. ", "Quick one: ")
TAIL = ("", "", "", "No harm done.", "Shift lead informed.", "Logged for the supervisor.",
        "Family told at the next call.", "Everyone safe.", "Will mention at handover.")
# Word swaps people make (whole words); each applies to a report with a chance of one in two.
SWAPS = ((r"\bstaff member\b", "support worker"), (r"\bnoticed\b", "spotted"),
         (r"\bnearly\b", "almost"), (r"\bfound (?!out)", "discovered "),
         (r"\brang\b", "phoned"), (r"\btold\b", "informed"), (r"\bcarer\b", "care worker"))


@dataclass(frozen=True)
class Report:
    id: int
    family: str
    type_key: str
    barrier: str
    description: str

    @property
    def text(self) -> str:
        return report_text(self.description, TYPE_NAMES[self.type_key], self.barrier)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _typo(text: str, rng: random.Random) -> str:
    """One or two slips of a thumb on a phone: a letter dropped or two swapped in a word."""
    words = text.split(" ")
    long_ones = [n for n, word in enumerate(words) if len(word) >= 5 and word.isalpha()]
    for n in rng.sample(long_ones, min(len(long_ones), rng.choice((1, 2)))):
        word, at = words[n], rng.randrange(1, len(words[n]) - 2)
        words[n] = (word[:at] + word[at + 1:] if rng.random() < 0.5
                    else word[:at] + word[at + 1] + word[at] + word[at + 2:])
    return " ".join(words)


def generate(seed: int) -> list[Report]:
    """PER_FAMILY reports per family, each frame used in turn, details drawn from the seed."""
    rng = random.Random(seed)
    reports = []
    for family, (type_key, frames) in FAMILIES.items():
        typical = rng.choices(BARRIERS, weights=(6, 2, 1, 1))[0]
        order = list(frames)
        rng.shuffle(order)
        for n in range(PER_FAMILY):
            frame = order[n % len(order)]
            who, when = rng.choice(WHO), rng.choice(WHEN)
            body = frame.format(who=who, Who=_capital(who), when=when, When=_capital(when))
            for pattern, replacement in SWAPS:
                if rng.random() < 0.5:
                    body = re.sub(pattern, replacement, body)
            if rng.random() < TYPO_SHARE:
                body = _typo(body, rng)
            description = f"{rng.choice(LEAD_IN)}{body} {rng.choice(TAIL)}".strip()
            # The same event tends to be stopped the same way (a pharmacy check, a carer's
            # hand), not always.
            barrier = typical if rng.random() < 0.6 else rng.choice(BARRIERS)
            reports.append(Report(len(reports) + 1, family, type_key, barrier, description))
    return reports


def halves(seed: int) -> tuple[set[str], set[str]]:
    """Families split in two: the tuning half and the held-out half."""
    names = sorted(FAMILIES)
    random.Random(seed + 1).shuffle(names)
    middle = len(names) // 2
    return set(names[:middle]), set(names[middle:])


def labelled_pairs(reports: list[Report], seed: int) -> list[tuple[int, int, int]]:
    """(a, b, 1 if the same event) for each report: a paraphrase, a report of its type about
    another event, and a report of another type; each pair once."""
    rng = random.Random(seed + 2)
    pairs: dict[tuple[int, int], int] = {}
    for report in reports:
        same = [r for r in reports if r.family == report.family and r.id != report.id]
        same_type = [r for r in reports if r.type_key == report.type_key
                     and r.family != report.family]
        other = [r for r in reports if r.type_key != report.type_key]
        for pool, label in ((same, 1), (same_type, 0), (other, 0)):
            if pool:
                partner = rng.choice(pool)
                pairs.setdefault((min(report.id, partner.id), max(report.id, partner.id)),
                                 label)
    return [(a, b, label) for (a, b), label in sorted(pairs.items())]


def _top(reports: list[Report], query: Report,
         views: tuple[dict[str, Any], ...], k: int) -> list[tuple[float, Report]]:
    others = [r for r in reports if r.id != query.id]
    sims = similarities(query.text, [r.text for r in others], views=views)
    return sorted(zip(sims, others, strict=True), key=lambda p: -p[0])[:k]


def precision_at_k(reports: list[Report], families: set[str],
                   views: tuple[dict[str, Any], ...] = VIEWS, k: int = K) -> float:
    """Mean share of the k most alike (among all other reports) that are of the query's
    family, over the queries of `families`."""
    scores = []
    for query in (r for r in reports if r.family in families):
        top = _top(reports, query, views, k)
        scores.append(sum(1 for _, r in top if r.family == query.family) / k)
    return sum(scores) / len(scores)


def as_shown(reports: list[Report], families: set[str], floor: float,
             k: int = K) -> tuple[float, float]:
    """What the panel shows (the k most alike at or above the floor): the share of them
    that are the same event, and how many are shown on average."""
    hits = shown = 0
    queries = [r for r in reports if r.family in families]
    for query in queries:
        top = [(s, r) for s, r in _top(reports, query, VIEWS, k) if s >= floor]
        shown += len(top)
        hits += sum(1 for _, r in top if r.family == query.family)
    return hits / max(shown, 1), shown / len(queries)


def pair_separation(reports: list[Report], pairs: list[tuple[int, int, int]]) -> float:
    """Share of (related, unrelated) labelled pairs where the related pair scores higher
    (the area under the ROC curve), with the IDF fitted on every report."""
    by_id = {r.id: r for r in reports}
    texts = [r.text for r in reports]
    index = {r.id: n for n, r in enumerate(reports)}
    cache: dict[int, list[float]] = {}

    def score(a: int, b: int) -> float:
        if a not in cache:
            cache[a] = similarities(by_id[a].text, texts)
        return cache[a][index[b]]

    related = [score(a, b) for a, b, label in pairs if label]
    unrelated = [score(a, b) for a, b, label in pairs if not label]
    wins = sum((p > n) + 0.5 * (p == n) for p in related for n in unrelated)
    return wins / (len(related) * len(unrelated))


CHOICES: dict[str, tuple[dict[str, Any], ...]] = {
    "words": ({"analyzer": "word", "sublinear_tf": True},),
    "words, stop words dropped": ({"analyzer": "word", "stop_words": "english",
                                   "sublinear_tf": True},),
    "words and word pairs": ({"analyzer": "word", "stop_words": "english",
                              "ngram_range": (1, 2), "sublinear_tf": True},),
    "character 3-5-grams": ({"analyzer": "char_wb", "ngram_range": (3, 5),
                             "sublinear_tf": True},),
    "words + character 3-5-grams (core)": VIEWS,
}


def write(reports: list[Report], pairs: list[tuple[int, int, int]]) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    with (DATA / "related_reports.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "family", "type_key", "barrier", "description"])
        for r in reports:
            out.writerow([r.id, r.family, r.type_key, r.barrier, r.description])
    with (DATA / "related_pairs.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["report_a", "report_b", "same_event"])
        out.writerows(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="rewrite bench/data/ from the seed")
    args = parser.parse_args()
    reports = generate(args.seed)
    pairs = labelled_pairs(reports, args.seed)
    if args.write:
        write(reports, pairs)
    tuning, held_out = halves(args.seed)
    positives = sum(label for _, _, label in pairs)
    print(f"{len(reports)} reports in {len(FAMILIES)} families of {PER_FAMILY} "
          f"(seed {args.seed}); {len(pairs)} labelled pairs ({positives} the same event, "
          f"{len(pairs) - positives} not)")
    print(f"\nChoosing the method on the tuning half ({len(tuning)} families): precision at {K}")
    for name, views in CHOICES.items():
        print(f"  {precision_at_k(reports, tuning, views):.3f}  {name}")
    held = precision_at_k(reports, held_out)
    print(f"\nHeld-out half ({len(held_out)} families, {len(held_out) * PER_FAMILY} queries, "
          f"core's method): precision at {K} = {held:.3f}")
    floor = TriageRules().related_min_similarity
    share, mean = as_shown(reports, held_out, floor)
    print(f"As the panel shows them (at least {floor:.0%} alike): {mean:.1f} shown per report "
          f"on average, {share:.1%} of them the same event")
    print(f"Labelled pairs, core's method: a related pair scores above an unrelated one "
          f"{pair_separation(reports, pairs):.1%} of the time")


if __name__ == "__main__":
    main()
