"""A shift change in miniature: many writers filing, triaging and acting at once for a bounded
time, and the checks that nothing was lost, doubled or left unaudited.

Used by tests/integration/test_concurrency.py (a few seconds, in `make test`) and
bench/soak_writers.py (longer runs, figures for the issue note).
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, func, select

from core.actions.service import ActionDraft, MeasureDraft, PlanDraft, create_plan, set_status
from core.actions.vocabulary import ActionStatus
from core.audit.chain import verify_chain
from core.audit.models import AuditEvent
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import ConflictError, StorageUnavailable
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from tests.builders import Org, draft, local_now

ANSWERS = TriageAnswers(at_risk_now=False, safeguarding_trigger=False, recurrence="single",
                        severity="low", investigation="none", route="supervisor")
TYPES = ("transfer_near_fall", "environment_equipment", "other")


@dataclass
class Tally:
    """What the writers were told succeeded (the database must hold exactly this)."""

    filed: dict[str, str] = field(default_factory=dict)  # submission key -> reference
    double_clicks: int = 0
    triaged: list[str] = field(default_factory=list)
    plans: list[int] = field(default_factory=list)
    status_changes: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def operations(self) -> int:
        return len(self.filed) + self.double_clicks + len(self.triaged) + len(self.plans) \
            + self.status_changes


def _retrying(tally: Tally, what: str, call):
    """Call until the database accepts it: what a user does after "not saved yet"."""
    for _attempt in range(20):
        try:
            return call()
        except StorageUnavailable:
            with tally.lock:
                tally.retries[what] += 1
            time.sleep(random.uniform(0.01, 0.05))
    raise RuntimeError(f"{what}: the database stayed unavailable")


def _version(engine: Engine, reference: str) -> int:
    with read_session(engine) as session:
        return session.scalar(select(NearMissReport.version_id).where(
            NearMissReport.reference == reference))


def run_shift(engine: Engine, org: Org, *, writers: int = 16, seconds: float = 5.0) -> Tally:
    """`writers` threads for `seconds`: 5/8 file, 1/4 triage, the rest open plans and act."""
    tally = Tally()
    to_triage: queue.Queue[str] = queue.Queue()
    to_act: queue.Queue[str] = queue.Queue()
    deadline = time.monotonic() + seconds
    quality = org.actor("quality")
    services = ((org.maple, org.maple_bathroom), (org.maple, org.maple_kitchen),
                (org.oak, org.oak_lounge))
    filers = max(1, writers * 5 // 8)
    triagers = max(1, writers // 4)

    def filer(number: int) -> None:
        rng = random.Random(number)
        sequence = 0
        while time.monotonic() < deadline:
            sequence += 1
            key = f"writer{number}-{sequence}"
            service, location = rng.choice(services)
            report = draft(org, submission_key=key, type_key=rng.choice(TYPES),
                           service_id=service, location_id=location,
                           description=f"Writer {number} near miss {sequence}: caught in time.",
                           occurred_at=local_now() - timedelta(minutes=rng.randint(0, 600)))
            filed = _retrying(tally, "file", lambda r=report: file_near_miss(
                UnitOfWork(engine), quality, r, now=utcnow(), rules=settings()))
            with tally.lock:
                tally.filed[key] = filed.reference
            to_triage.put(filed.reference)
            # A double click, the same submission again: on each writer's first report (so
            # a loaded machine's shift still has some; with each fifth only, 16 writers
            # filed fewer than five each in 4 s once), then every fifth.
            if sequence % 5 == 1:
                again = _retrying(tally, "file", lambda r=report: file_near_miss(
                    UnitOfWork(engine), quality, r, now=utcnow(), rules=settings()))
                if again.reference != filed.reference or not again.duplicate:
                    tally.errors.append(f"double click on {key} filed {again.reference}")
                with tally.lock:
                    tally.double_clicks += 1

    def triager() -> None:
        while time.monotonic() < deadline or not to_triage.empty():
            try:
                reference = to_triage.get(timeout=0.2)
            except queue.Empty:
                continue
            for _attempt in range(10):
                try:
                    _retrying(tally, "triage", lambda ref=reference: triage_report(
                        UnitOfWork(engine), quality, ref, ANSWERS,
                        expected_version=_version(engine, ref), now=utcnow(), rules=settings()))
                    break
                except ConflictError:  # flagged into a cluster meanwhile: reload and redo
                    with tally.lock:
                        tally.retries["triage conflict"] += 1
            else:
                tally.errors.append(f"{reference} never triaged")
                continue
            with tally.lock:
                tally.triaged.append(reference)
            to_act.put(reference)

    def actor_thread() -> None:
        # On a loaded machine triage may reach the first report only near the deadline: act on
        # it then (bounded), so the workload always includes plans built while others file.
        while time.monotonic() < deadline or (not tally.plans
                                               and time.monotonic() < deadline + 60):
            try:
                reference = to_act.get(timeout=0.2)
            except queue.Empty:
                continue
            today = local_now().date()
            plan = _retrying(tally, "plan", lambda ref=reference, today=today: create_plan(
                UnitOfWork(engine), quality, PlanDraft(
                    title=f"Prevent a repeat of {ref}", theme="Shift change",
                    report_references=[ref], actions=[ActionDraft(
                        title="Brief the team", kind="training", owner_id=quality.user_id,
                        deadline=today + timedelta(days=7),
                        review_date=today + timedelta(days=14),
                        evidence_checks=["Briefing signed by the team"])],
                    measure=MeasureDraft()), now=utcnow(), rules=settings()))
            with tally.lock:
                tally.plans.append(plan.plan_id)
            _retrying(tally, "action", lambda p=plan: set_status(
                UnitOfWork(engine), quality, p.action_ids[0], ActionStatus.IN_PROGRESS, note="",
                now=utcnow()))
            with tally.lock:
                tally.status_changes += 1

    def guarded(target, *args):
        def run() -> None:
            try:
                target(*args)
            except Exception as exc:  # a writer's failure is a finding, not a crash
                tally.errors.append(f"{type(exc).__name__}: {exc}")
        return threading.Thread(target=run)

    threads = [guarded(filer, n) for n in range(filers)]
    threads += [guarded(triager) for _ in range(triagers)]
    threads += [guarded(actor_thread) for _ in range(max(1, writers - filers - triagers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    return tally


@dataclass
class Stored:
    reports: int
    distinct_references: int
    reference_numbers: list[int]
    filed_events: Counter[str]
    events_by_action: Counter[str]
    chain_ok: bool
    chain_events: int


def what_was_stored(engine: Engine) -> Stored:
    with read_session(engine) as session:
        references = session.scalars(select(NearMissReport.reference)).all()
        filed_events = Counter(session.scalars(select(AuditEvent.entity_id).where(
            AuditEvent.action == "report.filed")).all())
        by_action = Counter(dict(session.execute(
            select(AuditEvent.action, func.count()).group_by(AuditEvent.action)).all()))
        chain = verify_chain(session)
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in references)
    return Stored(len(references), len(set(references)), numbers, filed_events, by_action,
                  chain.ok, chain.events_checked)
