"""Action plans for themes the supervisors and leads found."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from core.actions.vocabulary import ActionStatus
from core.auth.roles import Role
from ops.demo.plan_specs import _LINK_SHARE_OTHER, _Calendar, _MeasureSpec, _plan, _PlanSpec
from ops.demo.provider import _BIRCH, _EAST, _MAPLE, _NORTHGATE, _OAK, _WEST, DEFAULT_REPORTS


def _other_plans(c: _Calendar, reports: int) -> list[_PlanSpec | None]:
    """Plans for themes the supervisors and leads found, most important first: how many
    scales gently with the demo's size."""
    S, day = ActionStatus, c.day
    wanted = max(3, min(14, round(8 + 2 * math.log2(max(reports, 1) / DEFAULT_REPORTS))))

    def window(older: int, newer: int) -> dict[str, datetime]:
        return {"link_from": c.at(day(older), 0), "link_until": c.at(day(newer), 0)}

    share = _LINK_SHARE_OTHER
    templates: list[Callable[[], _PlanSpec | None]] = [
        lambda: _plan(
            c, "interface_clinic", "Plan changes after clinic visits reach the next worker",
            "Plans updated after clinic appointments, and the next worker never told.",
            created=day(40), created_by=Role.OPERATIONS.value, type_key="interface_failure",
            **window(200, 45), link_cap=3, link_share=share,
            outcome="Read-back in place and verified.", validate_with=1, close_with=1,
            actions=[
                c.action("Read receipts on every plan change in the scheduling system",
                         "The scheduling system asks the rostered worker to confirm each plan "
                         "change; unread changes show on the office board.", "software",
                         Role.OPERATIONS.value, created=day(40), deadline=day(6),
                         review=day(-7), status=S.IN_PROGRESS,
                         checks=("Change request raised with the scheduling supplier",
                                 "Read receipts switched on for plan changes",
                                 "Coordinators shown the unread-changes report"), done=1),
                c.action("Coordinator reads back clinic changes to the next-shift worker",
                         "After a clinic appointment the coordinator rings the next worker and "
                         "has the change read back.", "read_back", Role.OPERATIONS.value,
                         created=day(40), deadline=day(30), review=day(14),
                         status=S.VERIFIED_EFFECTIVE,
                         checks=("Read-back step in the coordinators' procedure",
                                 "Spot check of 20 plan changes"),
                         go_live=day(30), window=14, verdict=day(14),
                         note="Spot check: 18 of 20 changes read back the same day."),
            ]),
        lambda: _plan(
            c, "transport_confirm", "Transport plans confirmed the day before",
            "Booked journeys failing on the day: wrong address, no accessible vehicle, pickup "
            "time wrong.", created=day(16), created_by="supervisor", type_key="transport",
            services=(_NORTHGATE,), **window(200, 20), link_cap=3, link_share=0.5,
            outcome="", actions=[
                c.action("Day-before call to confirm every booked journey",
                         "The day before, the office rings the transport provider and checks "
                         "the address, time and vehicle.", "read_back", "supervisor",
                         created=day(16), deadline=day(-3), review=day(-10),
                         status=S.IN_PROGRESS,
                         checks=("Call list built from the bookings",
                                 "Calls logged for a week"), done=1),
                c.action("Booking form cannot be sent without the vehicle type",
                         "The transport booking form refuses a booking with no vehicle type.",
                         "forcing_function", Role.OPERATIONS.value, created=day(16),
                         deadline=day(-30), review=day(-35), status=S.PLANNED,
                         checks=("Form changed by the transport provider",
                                 "Test booking made")),
            ]),
        lambda: _plan(
            c, "pharmacy_changes", "Pharmacy changes entered the same day",
            "Pharmacy changes reaching the worker before the record at Birchwood.",
            created=day(185), created_by="supervisor", type_key="medication_discrepancy",
            services=(_BIRCH,), **window(330, 190), link_cap=2, link_share=0.6,
            outcome="Read-back verified; the memo was superseded.", validate_with=1,
            close_with=1, actions=[
                c.action("Office enters pharmacy changes in the care record the same day",
                         "A memo to the office team.", "policy_memo", "supervisor",
                         created=day(185), deadline=day(160), review=day(150),
                         status=S.STOPPED, checks=("Memo sent to the office team",),
                         stopped=day(170),
                         reason="Superseded by the provider-wide family-note check and the "
                                "same-day record update (see the family-note plan)."),
                c.action("Shift lead reads back medication changes at handover",
                         "Any change to a medicine is read back at handover and initialled on "
                         "the MAR.", "read_back", "supervisor", created=day(185),
                         deadline=day(178), review=day(160), status=S.VERIFIED_EFFECTIVE,
                         checks=("Handover sheet has a medication-changes line",
                                 "Two weeks of handovers checked"),
                         go_live=day(178), window=14, verdict=day(162),
                         note="Every change in the fortnight read back and initialled."),
            ]),
        lambda: _plan(
            c, "skin_handover", "Skin changes handed over at every shift change",
            "Skin changes seen on one shift and not handed over to the next at Oak Lodge.",
            created=day(90), created_by=Role.CLINICAL.value,
            type_key="skin_integrity_deterioration", services=(_OAK,), **window(240, 95),
            link_cap=3, link_share=0.5, outcome="Handover prompt verified.", validate_with=0,
            close_with=0, actions=[
                c.action("Skin-change prompt on the handover sheet",
                         "The handover sheet asks, for every person: any new skin change?",
                         "standard_communication", Role.CLINICAL.value, created=day(90),
                         deadline=day(76), review=day(54), status=S.VERIFIED_EFFECTIVE,
                         checks=("Prompt added to the handover sheet",
                                 "Spot check of two weeks of handovers"),
                         go_live=day(75), window=21, verdict=day(52),
                         note="Spot checks: skin changes on every handover sheet checked."),
                c.action("Nurse spot-checks skin observation notes every week",
                         "The nurse reviews a sample of skin notes each week and feeds back.",
                         "leadership", Role.CLINICAL.value, created=day(90), deadline=day(-20),
                         review=day(-6), status=S.IN_PROGRESS,
                         checks=("Rota of weekly spot checks", "First four weeks logged"),
                         done=1),
            ]),
        lambda: _plan(
            c, "staffing_backup", "Backup cover visible before essential visits",
            "Essential visits saved only because a coordinator knew an off-route worker was "
            "nearby.", created=day(55), created_by=Role.QUALITY.value,
            type_key="staffing_visit_continuity", services=(_WEST,), **window(200, 60),
            link_cap=3, link_share=share, outcome="", validate_with=0, actions=[
                c.action("Backup workers shown on the coordinators' board for every essential "
                         "visit",
                         "The board shows a named backup for each essential visit, so nobody "
                         "relies on knowing who is nearby.", "software", Role.OPERATIONS.value,
                         created=day(55), deadline=day(20), review=day(-10), status=S.IN_TEST,
                         checks=("Board shows the backup for each essential visit",
                                 "Coordinators trained"),
                         go_live=day(18), window=28,
                         measure=_MeasureSpec(("staffing_visit_continuity",), "linked",
                                              per="100_visits")),
                c.action("Second coordinator confirms the backup before 5 pm",
                         "For evening essential visits a second coordinator confirms the backup "
                         "by 5 pm.", "redundancy", "supervisor", created=day(55),
                         deadline=day(-12), review=day(-14), status=S.IN_PROGRESS,
                         checks=("Added to the coordinators' afternoon checklist",
                                 "Two weeks of confirmations logged"), done=1),
            ]),
        lambda: _plan(
            c, "money_handling", "Money handling on shopping visits",
            "Boundary and financial-exploitation signals around shopping and bank cards.",
            created=day(50), created_by=Role.SAFEGUARDING.value,
            type_key="safeguarding_rights", **window(300, 60), link_cap=2, link_share=share,
            outcome="", actions=[
                c.action("Money-handling checklist and receipts for every shopping visit",
                         "Every shopping visit: cash counted in and out, receipts kept, no "
                         "cards or PINs handled.", "checklist", Role.SAFEGUARDING.value,
                         created=day(50), deadline=day(-9), review=day(-14),
                         status=S.IN_PROGRESS,
                         checks=("Checklist in every home with shopping visits",
                                 "Receipts audit after four weeks"), done=1),
                c.action("Boundaries refresher for home care workers",
                         "What to do when someone asks for money, cards or PINs.", "training",
                         Role.SAFEGUARDING.value, created=day(50), deadline=day(-25),
                         review=day(-30), status=S.PLANNED,
                         checks=("Session booked", "Attendance recorded")),
            ]),
        lambda: _plan(
            c, "daily_checks", "Equipment hazards found by chance at Northgate",
            "Equipment faults and hazards at the day programme found by chance, not on a "
            "check.", created=day(140), created_by="supervisor",
            type_key="environment_equipment", services=(_NORTHGATE,), **window(400, 150),
            link_cap=3, link_share=share, outcome="Daily checks verified and sustained.",
            validate_with=0, close_with=0, actions=[
                c.action("Daily equipment and room check sheet, minibus included",
                         "A check sheet for every room and the minibus, done before people "
                         "arrive.", "checklist", "supervisor", created=day(140),
                         deadline=day(126), review=day(110), status=S.VERIFIED_EFFECTIVE,
                         checks=("Check sheet in every room and the minibus",
                                 "Four weeks of sheets reviewed"),
                         go_live=day(125), window=14, verdict=day(108),
                         note="Hazards now found on the morning check, not by chance."),
                c.action("Self-locking wheelchair clamps fitted in the minibus",
                         "Replace the manual clamps with self-locking ones.", "physical_change",
                         Role.OPERATIONS.value, created=day(140), deadline=day(112),
                         review=day(95), status=S.VERIFIED_EFFECTIVE,
                         checks=("Clamps ordered", "Clamps fitted and tested"),
                         go_live=day(110), window=14, verdict=day(94),
                         note="Fitted and tested; no clamp faults since."),
            ]),
        lambda: _plan(
            c, "outing_risk", "Community outing risk plans",
            "Risks on community outings the outing risk plan did not cover.",
            created=day(95), created_by=Role.QUALITY.value, type_key="community_safety",
            services=(_BIRCH,), **window(300, 100), link_cap=2, link_share=0.5,
            outcome="Outing risk plans verified.", validate_with=0, close_with=0, actions=[
                c.action("Outing risk plan reviewed before each new venue",
                         "A short risk check before taking anyone to a new place.",
                         "checklist", "supervisor", created=day(95), deadline=day(82),
                         review=day(60), status=S.VERIFIED_EFFECTIVE,
                         checks=("Venue check added to the outing plan",),
                         go_live=day(80), window=21, verdict=day(57),
                         note="Every new venue in the test checked beforehand."),
            ]),
        lambda: _plan(
            c, "night_medicines", "Night medicines at Oak Lodge",
            "Medication discrepancies on the night round at Oak Lodge.", created=day(45),
            created_by="supervisor", type_key="medication_discrepancy", services=(_OAK,),
            **window(250, 50), link_cap=2, link_share=share, outcome="", actions=[
                c.action("Second signature on the MAR for night medicines",
                         "A second member of staff checks and signs night medicines.",
                         "double_check", "supervisor", created=day(45), deadline=day(3),
                         review=day(-4), status=S.IN_PROGRESS,
                         checks=("Second-signature column on the MAR",
                                 "Night staff briefed"), done=1),
            ]),
        lambda: _plan(
            c, "hoist_battery", "Hoist batteries flat before transfers",
            "The hoist battery found flat just before a transfer at Oak Lodge.",
            created=day(160), created_by="supervisor", type_key="environment_equipment",
            services=(_OAK,), **window(420, 170), link_cap=2, link_share=0.5,
            outcome="Charging rota verified.", validate_with=0, close_with=0, actions=[
                c.action("Hoist battery on a charging rota, with a charged spare",
                         "The night shift charges the hoist battery; a charged spare is kept.",
                         "redundancy", "supervisor", created=day(160), deadline=day(150),
                         review=day(130), status=S.VERIFIED_EFFECTIVE,
                         checks=("Spare battery bought", "Charging on the night checklist"),
                         go_live=day(148), window=14, verdict=day(132),
                         note="No flat battery in the test window."),
            ]),
        lambda: _plan(
            c, "east_evening", "East evening run under pressure",
            "Late evening visits on the East evening run.", created=day(30),
            created_by=Role.QUALITY.value, type_key="staffing_visit_continuity",
            services=(_EAST,), **window(200, 35), link_cap=3, link_share=share,
            outcome="", validate_with=0, actions=[
                c.action("Shorter East evening run at the 17:00-19:00 peak",
                         "Split the evening run at the peak so one urgent visit does not make "
                         "every later visit late.", "staffing_workload", Role.OPERATIONS.value,
                         created=day(30), deadline=day(14), review=day(-14), status=S.IN_TEST,
                         checks=("New run published", "Workers told"), go_live=day(12),
                         window=28,
                         measure=_MeasureSpec(("staffing_visit_continuity",), "linked",
                                              per="100_visits")),
            ]),
        lambda: _plan(
            c, "clinic_letters", "Clinic letters left in the kitchen",
            "Clinic letters found at the person's home before the office had them.",
            created=day(20), created_by=Role.OPERATIONS.value, type_key="interface_failure",
            **window(150, 25), link_cap=2, link_share=share, outcome="", actions=[
                c.action("Clinic letters scanned to the care record the same day",
                         "Workers photograph new clinic letters into the care app; the office "
                         "updates the plan the same day.", "simplify_standardise",
                         Role.OPERATIONS.value, created=day(20), deadline=day(-40),
                         review=day(-45), status=S.PLANNED,
                         checks=("Care app photo upload switched on", "Office procedure")),
            ]),
        lambda: _plan(
            c, "bedroom_sensor", "Night-time near falls getting out of bed",
            "Near falls getting out of bed at night at Oak Lodge.", created=day(110),
            created_by="supervisor", type_key="transfer_near_fall", services=(_OAK,),
            **window(300, 115), link_cap=2, link_share=0.5, outcome="Sensor mat verified.",
            validate_with=0, close_with=0, actions=[
                c.action("Sensor mat by the bed at night",
                         "A sensor mat alerts staff when the person gets up at night.",
                         "physical_change", "supervisor", created=day(110), deadline=day(100),
                         review=day(80), status=S.VERIFIED_EFFECTIVE,
                         checks=("Sensor mat fitted", "Night staff shown the alert"),
                         go_live=day(98), window=21, verdict=day(75),
                         note="Staff reached the person before standing on every alert."),
            ]),
        lambda: _plan(
            c, "agency_confirm", "Agency shifts confirmed the day before",
            "Agency workers sent late or to the wrong address in the South.", created=day(25),
            created_by=Role.QUALITY.value, type_key="late_shift_start",
            services=(_MAPLE, _BIRCH), **window(300, 30), link_cap=2, link_share=0.6,
            outcome="", actions=[
                c.action("Agency bookings confirmed by text the day before",
                         "The scheduler texts each agency worker the address and start time "
                         "the day before.", "read_back", Role.OPERATIONS.value,
                         created=day(25), deadline=day(-6), review=day(-12),
                         status=S.IN_PROGRESS, checks=("Text template agreed",), done=1),
            ]),
    ]
    return [make() for make in templates[:wanted]]
