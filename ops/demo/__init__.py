"""Realistic synthetic demo data: a small care provider and 18 months of its near misses.

The demo is data plus a small generator. `data/demo/` holds the provider (services, places,
people, staff, rates, how it works after filing) and one YAML file per seed story; this package
only draws from them with seeded random streams, so the same seed and `now` give the same
data. `load_demo` builds the provider (two regions, six services, one demo user per role,
synthetic staff and supervisors), then writes near misses of every taxonomy type over the last
`months` months up to `now` with what happened to them since (triage, escalations and
notifications, reviews, closures, action plans, "what changed" updates), in chunks of one
audited transaction each, so that a million reports load in minutes with flat memory.

The six stories, each where a user would look for it:

1. a near fall at the bathroom doorway (repeats at Maple House; a memo that failed, a
   pre-transfer check in test);
2. the medication prompt against the family note (a rise, a root cause analysis, a check
   that goes live and makes them fall);
3. the late worker and the backup cover (backup found informally; a plan to show it);
4. stop the line on skin integrity (supervisor alerts and same-day clinical reviews; this
   morning's in the clinical lead's inbox);
5. the interface failure after a clinic visit (pathways mapped by operations; yesterday's in
   their inbox);
6. the late-start cluster with the coverage lock (the only cluster the rule finds).

Everyday reports are spread evenly over the days for their rate, so chance never makes a
cluster, and escalations stay near a real service's share (about 11% of reports).

Modules: `data` (the files, checked), `provider` and `profiles` (the provider and the types'
rates), `writers` (the reporter's words), `generator` and `schedule` (report rows, day by day),
`history`, `escalations` and `workflow` (what happened after filing), `plan_specs` and `plans`
(action plans), `pipeline` (the pure generator), `reference`, `bulk`, `store_plans`,
`feedback` and `load` (storing it).
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
