"""What leads and reviewers write: decisions, field texts, findings, gate notes and
validation evidence."""

from __future__ import annotations

import random
from datetime import timedelta

from ops.demo.profiles import _CHANCE, _DESIGNED, _PERSON, _STAFF_RECOVERY, _sentence
from ops.demo.writers import (
    _CHANGES,
    _DELAY_REASONS,
    _DISCOVERED,
    _ENVIRONMENT,
    _JOURNEYS,
    _LAST_DOCUMENTED,
    _MADE_SAFE,
    _MED_ACTIONS,
    _PROTECTION,
    _RESPONSES,
    _TASKS_DUE,
)

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
