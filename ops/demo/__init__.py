"""Realistic synthetic demo data: a small care provider and 18 months of its near misses.

`load_demo` builds a provider with two regions (North, South) and six services of different
kinds (community residences Maple House and Oak Lodge, the Eastside and Westside home care
branches with their runs, the Northgate day programme, Birchwood supported living), their
locations, routes, people supported (local references such as "MH-01", "EH-014"), staff groups,
one demo user per role, 36 synthetic frontline staff and four synthetic supervisors (so every
service has one). It then writes near misses of every taxonomy type, spread over the last
`months` months up to `now`, with what happened to them since (triage, escalations,
notifications), with bulk inserts in chunks so that a million reports load in minutes with flat
memory. The same seed and `now` give the same data (`generate_demo` is the pure generator;
`load_demo` only stores what it yields).

Planted patterns (the governance features must find them):

a. Late shift start cluster in one region. Background: about one "late_shift_start" near miss a
   month per region. On top, a cluster of 12-20+ (0.8% of the reports, at least 12) in the North
   region's services (Oak Lodge, Eastside Home Care, Northgate Day Programme) inside a 3-week
   window about 5-6 months before `now` (`late_start_cluster_window`): last-minute rota changes
   and nobody confirming cover, as in seed 2's operational example 3.
b. Repeated near falls at Maple House's "Bathroom doorway": a "transfer_near_fall" there every
   2-3 weeks through the whole period (about 31 over 18 months), most of them with the same
   person, MH-01, and nearly all stopped by staff recovery rather than a designed control (seed
   1's operational example 1: the service relies on staff vigilance).
c. Medication record mismatches rise, then fall after a control: "medication_discrepancy"
   reports whose capture field source_of_discrepancy is "Care plan vs family note". The weekly
   rate is low for the first third of the window, rises steadily (about six-fold) from month 6
   to month 12, and falls back to a low level within two weeks of the control going live at
   month 12 (`medication_control_go_live`, 6 months before `now` with the default 18 months);
   after it the designed control, not staff, is what mostly catches them.

d. An overdue safeguarding concern: one "safeguarding_rights" report filed a few hours before
   `now` whose escalation nobody has acknowledged, so the safeguarding lead's inbox and the
   board's red "escalation overdue" flag have something to show.

Planted counts scale with `reports` (each is capped at a tenth of the reports) and stay
detectable with as few as 500 reports; the rest follow a realistic type mix in which all
eleven taxonomy types appear.

What happened after filing (`generate_demo`, a seeded stream of its own, so it never changes
the reports a seed gives) is a provider that triages promptly:

- Flags as filing sets them: stop the line and safeguarding from the type's template; repeats
  (an earlier report of the type with the same person or place within the recurrence window;
  the bathroom doorway falls always) and the late-start cluster's members.
- Triage: every report older than `TRIAGE_BACKLOG_DAYS` is triaged, most within hours, some
  within a day or two, urgent ones at once; of the last few days' reports most still wait (the
  board's "New" column, 10-30 cards with the default 2,500 reports). Each triage has its
  TriageRecord (the four questions, the severity x recurrence matrix, the route as the triage
  proposal gives it) and a new -> triaged ReportTransition, by a supervisor of the service or
  an org-wide lead. Later stages are left to `_advance_after_triage`: reports stop at triaged.
- Escalations as filing (and a triage safeguarding answer) raise them, acknowledged by someone
  holding the role (about 7% late) and decided with a decision in the service's stored shape;
  the last day or two's may still be waiting. Notifications only for the last `NOTIFY_DAYS`.

Each chunk is one transaction with two audit events ("demo.reports_loaded" and
"demo.triage_loaded", with counts), so the audit chain stays short and verifiable.
"""

from __future__ import annotations

from ops.demo.escalations import NOTIFY_DAYS
from ops.demo.history import TRIAGE_BACKLOG_DAYS
from ops.demo.load import DemoSummary, load_demo
from ops.demo.pipeline import generate_demo, generate_demo_rows
from ops.demo.places import DemoPlaces
from ops.demo.provider import (
    BATHROOM_LOCATION,
    BATHROOM_SERVICE,
    DEFAULT_MONTHS,
    DEFAULT_REPORTS,
    DEMO_SERVICES_BY_ROLE,
    FAMILY_NOTE_SOURCE,
    LATE_START_REGION,
    REPEAT_FALLER_REF,
    STAFF,
    SUPERVISORS,
    demo_window,
    late_start_cluster_window,
    medication_control_go_live,
    medication_rise_start,
)
from ops.demo.reference import demo_places, prepare_demo_provider

__all__ = [
    "BATHROOM_LOCATION", "BATHROOM_SERVICE", "DEFAULT_MONTHS", "DEFAULT_REPORTS",
    "DEMO_SERVICES_BY_ROLE", "FAMILY_NOTE_SOURCE", "LATE_START_REGION", "NOTIFY_DAYS",
    "REPEAT_FALLER_REF", "STAFF", "SUPERVISORS", "TRIAGE_BACKLOG_DAYS", "DemoPlaces",
    "DemoSummary", "demo_places", "demo_window", "generate_demo", "generate_demo_rows",
    "late_start_cluster_window", "load_demo", "medication_control_go_live",
    "medication_rise_start", "prepare_demo_provider",
]
