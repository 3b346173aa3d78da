"""The signals that need a decision this period: the governance pack's one-page summary.

A meeting that is shown everything decides nothing, so the summary names at most
`MAX_SIGNALS` (5) signals, chosen by this fixed rule:

1. Candidates, by kind, in this order of priority (a legal duty first, then harm that may be
   building up, then whether the controls work):
   - "escalation": safeguarding escalations raised in the period whose decision (including
     whether to report externally, to the regulator or the local authority) is not recorded,
     or that were acknowledged late; one signal for all of them;
   - "cluster": cluster episodes of the period still open (nobody has acknowledged them,
     linked an action or dismissed them): ongoing ones first, then the largest against its
     threshold, then the latest;
   - "spc": special-cause variation in the period on the control charts (core.spc): all near
     misses first, then each type, the latest first. A commissioner's pack reads the
     commissioner's own chart only (provider-wide, drawn only where no point is a small count);
   - "verdict": actions whose verdict is due (the test window has ended and a person has not
     confirmed it), failing (not effective and not yet reworked), or too early to tell: failing
     and due first, then too early; the longest live first;
   - "sustainment": still-in-place checks that found the control had lapsed (in the period),
     then checks that are overdue, the most overdue first.
2. Selection: the first candidate of each kind, in the order above; then the remaining places
   are filled by priority and order. So every kind that has a signal is seen, and no kind can
   crowd out a more urgent one.
3. The summary lists them by kind and says how many more of each kind were left out. When there
   are none it says so, in words.

Each signal carries a "Making Data Count" style icon (core.spc_icons.Icon): H or L for a special
cause or a cluster, P, F or ? for a verdict or a check, so that colour is never the only sign.
Nothing in a signal is free text: types, services and regions by name, actions by their kind
and theme (a board's pack adds the action's title), weeks rather than dates; a commissioner's
counts are published as on the commissioner page (small ones hidden).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.actions.episodes import EpisodeView
from core.actions.vocabulary import ActionStatus
from core.auth.actor import SYSTEM, Actor
from core.auth.policy import Capability, require
from core.clock import to_local
from core.commissioner import deid
from core.commissioner import views as cv
from core.commissioner.action_evidence import ActionEvidence, ActionEvidenceTable, action_evidence
from core.commissioner.deid import iso_week
from core.config import Settings
from core.escalation.models import Escalation
from core.escalation.rules import EscalationKind
from core.metrics.clusters import clusters_in_period
from core.metrics.governance import Scope
from core.reports.models import NearMissReport
from core.spc import CONCERN, FAIL, HIGH, HIT_AND_MISS, NEITHER, PASS, SpcRules, xmr
from core.spc_icons import Icon, assurance_icon_of, special_cause_icon, variation_of
from core.taxonomy.models import NearMissType
from core.triage.vocabulary import EpisodeStatus
from core.weeks import as_date, local_midnight_utc, week_start_of, week_start_sql

MAX_SIGNALS = 5
KINDS = ("escalation", "cluster", "spc", "verdict", "sustainment")
KIND_LABELS = {"escalation": "Safeguarding decisions", "cluster": "Open clusters",
               "spc": "Control chart signals", "verdict": "Verdicts",
               "sustainment": "Still-in-place checks"}
SPC_HISTORY_WEEKS = 52
SPC_MIN_TOTAL = 12  # a series with fewer near misses a year gives no meaningful chart

NONE_TEXT = ("No signal needs a decision this period: no safeguarding decision is awaited, no "
             "cluster is open, the control charts show no special cause, no verdict is due or "
             "failing, and no still-in-place check is overdue or found a control lapsed.")


@dataclass(frozen=True)
class Signal:
    """One thing a meeting should decide on, with its icon (no free text)."""

    kind: str  # one of KINDS
    icon: Icon
    headline: str
    detail: str
    decision: str  # what the meeting is asked to decide
    order: tuple[Any, ...] = ()  # within its kind: smaller first

    @property
    def priority(self) -> int:
        return KINDS.index(self.kind)


@dataclass(frozen=True)
class SignalSummary:
    """The signals chosen (at most MAX_SIGNALS) and how many of each kind there were."""

    signals: tuple[Signal, ...]
    found: dict[str, int] = field(default_factory=dict)  # kind -> candidates

    @property
    def left_out(self) -> dict[str, int]:
        """Kind -> candidates not in the summary (kinds with none left out are absent)."""
        shown = {kind: sum(s.kind == kind for s in self.signals) for kind in KINDS}
        return {kind: n - shown[kind] for kind, n in self.found.items() if n > shown[kind]}

    @property
    def text(self) -> str:
        """The summary's sentence: how many signals, or that there are none."""
        if not self.signals:
            return NONE_TEXT
        total = sum(self.found.values())
        words = (f"{len(self.signals)} signal{'s' if len(self.signals) != 1 else ''} "
                 "need a decision this period" if len(self.signals) != 1 else
                 "1 signal needs a decision this period")
        if total > len(self.signals):
            more = "; ".join(f"{n} more {KIND_LABELS[kind].lower()}"
                             for kind, n in self.left_out.items())
            words += f" (of {total}: {more}, in the sections that follow)"
        return words + "."


RULE_TEXT = ("Chosen by a fixed rule (core/exports/signals.py): at most five; safeguarding "
             "decisions first, then open clusters, control chart special causes, verdicts due, "
             "failing or too early to tell, and overdue or failed still-in-place checks; the "
             "first of each kind that has one, then the rest in that order.")


def select_signals(candidates: Iterable[Signal], limit: int = MAX_SIGNALS) -> SignalSummary:
    """The rule's selection (see the module): the first candidate of each kind by priority,
    then the rest by priority and order; listed by kind."""
    ranked = sorted(candidates, key=lambda s: (s.priority, s.order))
    found = {kind: sum(s.kind == kind for s in ranked) for kind in KINDS}
    chosen: list[Signal] = []
    for kind in KINDS:
        first = next((s for s in ranked if s.kind == kind), None)
        if first is not None and len(chosen) < limit:
            chosen.append(first)
    for candidate in ranked:
        if len(chosen) >= limit:
            break
        if candidate not in chosen:
            chosen.append(candidate)
    chosen.sort(key=lambda s: (s.priority, s.order))
    return SignalSummary(tuple(chosen), {k: n for k, n in found.items() if n})


# -- candidates ----------------------------------------------------------------------------------

def escalation_signals(session: Session, start: date, end: date, *, limit: int,
                       now: datetime, rules: Settings) -> list[Signal]:
    """Safeguarding escalations of the period without a recorded decision, or acknowledged
    late: one signal (counts published with the commissioner's threshold, `limit`)."""
    rows = session.execute(select(Escalation.decided_at, Escalation.acknowledged_at,
                                  Escalation.due_at).where(
        Escalation.kind == EscalationKind.SAFEGUARDING.value,
        Escalation.raised_at >= local_midnight_utc(start, rules.zone),
        Escalation.raised_at < local_midnight_utc(end, rules.zone))).all()
    undecided = sum(1 for decided, _, _ in rows if decided is None)
    late = sum(1 for _, acknowledged, due in rows if (acknowledged or now) > due)
    if not undecided and not late:
        return []
    parts = []
    if undecided:
        parts.append(f"{deid.count(undecided, limit).text} without a recorded decision on "
                     "external reporting")
    if late:
        parts.append(f"{deid.count(late, limit).text} acknowledged late or not yet")
    icon = (assurance_icon_of(FAIL, "Missed the time to acknowledge") if late else
            assurance_icon_of(HIT_AND_MISS, "A decision is awaited"))
    return [Signal("escalation", icon, "Safeguarding escalations: " + "; ".join(parts),
                   f"Raised in the period, of {deid.count(len(rows), limit).text} in all.",
                   "Confirm each safeguarding decision, including whether to report it "
                   "externally, is recorded with its reasons.", (0,))]


def cluster_signals(episodes: Iterable[EpisodeView], *, limit: int,
                    board: bool) -> list[Signal]:
    """Open cluster episodes: ongoing first, then the largest against its threshold."""
    found = []
    for episode in episodes:
        if episode.status is not EpisodeStatus.OPEN:
            continue
        weeks = f"{iso_week(episode.start)} to {iso_week(episode.end)}"
        reports = deid.count(episode.report_count, limit).text
        detail = (f"{episode.peak} in {episode.window_days} days where {episode.usual:g} is "
                  f"usual; {reports} reports" if board else f"{reports} reports")
        detail += "; still going on." if episode.ongoing else "."
        found.append(Signal(
            "cluster", special_cause_icon(CONCERN, HIGH, "A cluster: more than usual"),
            f"Open cluster: {episode.type_name} in {episode.scope_name} ({episode.scope}), "
            f"{weeks}", detail,
            "Acknowledge it, link it to an action, or dismiss it with a reason.",
            (not episode.ongoing, -episode.peak / max(episode.threshold, 1),
             -episode.end.toordinal(), episode.episode_id)))
    return found


def spc_signals(series: Iterable[tuple[str, pd.Series]], start: date, end: date, *,
                board: bool, granularity: str = "week",
                rules: SpcRules | None = None) -> list[Signal]:
    """Special causes in [start, end) on each named series (one signal a series, its latest
    special-cause point); a chart's points are periods starting on their index."""
    found = []
    span = 6 if granularity == "week" else 27
    for position, (name, values) in enumerate(series):
        frame = xmr(values.astype(float), rules=rules)
        inside = [stamp for stamp, row in frame.iterrows() if row["special_cause"]
                  and start <= stamp.date() + timedelta(days=span) and stamp.date() < end]
        if not inside:
            continue
        latest = inside[-1]
        row = frame.loc[latest]
        icon = variation_of(frame.loc[:latest], NEITHER)
        higher = row["side"] == HIGH
        when = iso_week(latest.date()) if granularity == "week" else f"{latest:%Y-%m}"
        detail = f"Special cause ({row['rule']}) in {when}"
        if board:
            detail += f": {row['value']:g} where the mean is {row['mean']:.1f}"
        found.append(Signal(
            "spc", icon, f"{name}: {'higher' if higher else 'lower'} than usual", detail + ".",
            "Look into the cause, or record why it is expected (a rise can also mean better "
            "reporting)." if higher else "Look into the cause, or record why it is expected (a "
            "fall can also mean less reporting).",
            (position != 0, -latest.toordinal(), name)))
    return found


def verdict_signals(rows: Iterable[ActionEvidence], *, titles: dict[int, str]) -> list[Signal]:
    """Actions whose verdict is due, failing, or too early to tell."""
    found = []
    for row in rows:
        failing = (row.verdict_key == "not_effective"
                   and row.status == ActionStatus.NOT_EFFECTIVE.label)
        if not (failing or row.verdict_due or row.verdict_key == "too_early"):
            continue
        if failing or row.verdict_key == "proposed_not_effective":
            icon = assurance_icon_of(FAIL, "Not effective")
        elif row.verdict_key == "proposed_effective":
            icon = assurance_icon_of(PASS, "Effective, proposed by the numbers")
        else:
            icon = assurance_icon_of(HIT_AND_MISS, "Not known yet")
        decision = ("Agree a stronger action: this one did not work." if failing else
                    "Confirm the verdict: effective or not." if row.verdict_due else
                    "Let the test run on, widen its measure, or judge it by its evidence "
                    "checks.")
        found.append(Signal("verdict", icon, _action_words(row, titles),
                            f"{row.verdict}.", decision,
                            (not (failing or row.verdict_due), row.go_live.toordinal(),
                             row.action_id)))
    return found


def sustainment_signals(rows: Iterable[ActionEvidence], start: date, end: date, *,
                        titles: dict[int, str]) -> list[Signal]:
    """Still-in-place checks that found a lapse in the period, then overdue ones."""
    found = []
    for row in rows:
        lapsed = (row.sustainment_key == "lapsed" and row.sustainment_checked is not None
                  and start <= row.sustainment_checked < end)
        if not lapsed and row.sustainment_key != "overdue":
            continue
        assert row.sustainment_due is not None
        icon = (assurance_icon_of(FAIL, "The control had lapsed") if lapsed else
                assurance_icon_of(HIT_AND_MISS, "Not checked: still in place?"))
        found.append(Signal(
            "sustainment", icon, _action_words(row, titles), f"Still in place: "
            f"{row.sustainment}.",
            "Agree what to do now the control has lapsed." if lapsed else
            "Have the still-in-place check done and recorded.",
            (not lapsed, row.sustainment_due.toordinal(), row.action_id)))
    return found


def _action_words(row: ActionEvidence, titles: dict[int, str]) -> str:
    title = titles.get(row.action_id)
    if title and len(title) > 80:  # a board's title, cut so the summary stays on one page
        title = title[:79] + "…"
    what = f"{row.kind} ({row.strength.lower()})"
    return (f"{title}: {what}" if title else what) + (f" for {row.theme}, {row.where}, live "
                                                      f"from {row.go_live_week}")


def _board_series(session: Session, history: Scope, rules: Settings,
                  ) -> list[tuple[str, pd.Series]]:
    """Weekly near misses over the history, all and by type (types with enough of them)."""
    week = week_start_sql(session, NearMissReport.occurred_at, rules.zone)
    counts: dict[str, dict[date, int]] = {}
    for monday, key, n in session.execute(
            select(week, NearMissReport.type_key, func.count())
            .where(*history.conditions(SYSTEM, rules.zone))
            .group_by(week, NearMissReport.type_key)):
        counts.setdefault(key, {})[as_date(monday)] = int(n)
    weeks = [history.start + timedelta(weeks=i)
             for i in range((history.end - history.start).days // 7)]
    index = pd.DatetimeIndex(weeks)
    every = pd.Series([sum(c.get(w, 0) for c in counts.values()) for w in weeks], index=index)
    series = [("All near misses", every)] if every.sum() >= SPC_MIN_TOTAL else []
    for key, name in session.execute(select(NearMissType.key, NearMissType.name)
                                     .order_by(NearMissType.position)):
        values = pd.Series([counts.get(key, {}).get(w, 0) for w in weeks], index=index)
        if values.sum() >= SPC_MIN_TOTAL:
            series.append((name, values))
    return series if len(weeks) >= 2 else []


def decision_signals(session: Session, actor: Actor, start: date, end: date, *,
                     suppress: bool, rules: Settings, today: date | None = None,
                     evidence: ActionEvidenceTable | None = None,
                     titles: dict[int, str] | None = None,
                     episodes: list[EpisodeView] | None = None, now: datetime) -> SignalSummary:
    """The signals of [start, end) that need a decision, chosen by the module's rule.

    `suppress` True publishes counts as the commissioner page does and reads only the
    commissioner's own control chart; False (a board) gives exact counts and every type's
    chart. `evidence` and `episodes` may be passed when the caller has them already."""
    require(actor, Capability.EXPORT_PACK)
    today = today or to_local(now, rules.zone).date()
    limit = rules.commissioner.suppress_below if suppress else 1
    if evidence is None:
        evidence = action_evidence(session, actor, start=start, end=end, rules=rules,
                                   suppress=suppress, today=today, now=now)
    if episodes is None:
        episodes = clusters_in_period(session, SYSTEM, start, end, rules=rules, now=now)
    spc_rules = SpcRules(**rules.spc.model_dump())
    complete_end = min(week_start_of(end), week_start_of(today))
    history = Scope(complete_end - timedelta(weeks=SPC_HISTORY_WEEKS), complete_end)
    if suppress:  # the commissioner's own chart: weekly, monthly or none (small counts)
        trend = cv.trend(session, actor, history, rules=rules, suppress=True, now=now)
        charts = [] if trend.frame.empty else [("All near misses", trend.frame["value"])]
        granularity = trend.granularity
    else:
        charts, granularity = _board_series(session, history, rules), "week"
    titles = titles or {}
    candidates = [
        *escalation_signals(session, start, end, limit=limit, rules=rules, now=now),
        *cluster_signals(episodes, limit=limit, board=not suppress),
        *spc_signals(charts, start, end, board=not suppress, granularity=granularity,
                     rules=spc_rules),
        *verdict_signals(evidence.rows, titles=titles),
        *sustainment_signals(evidence.rows, start, end, titles=titles)]
    return select_signals(candidates)
