"""Evidence per action: what changed in the near misses an action addresses after it went live.

For each action with a test window (a go-live date), live in the period:

- its theme: the near misses its verification measure counts (its types, and its services if
  the measure names any); an action without a measure counts the near-miss types of the
  reports its plan serves (and the cluster's type), in the action's service if it has one;
- near misses in two equal windows either side of go-live, and the rate a week in each: the
  window is the test window once it has ended, the days so far while it runs, and every day
  up to the still-in-place (sustainment) check once that is due, as the verdict looks at them
  (core.actions.measures.evaluate); equal windows make the two counts directly comparable;
- the verdict: a person's (confirmed), else what the numbers propose today, including "too
  early to tell"; and the still-in-place check: done (in place or lapsed), overdue, or due.

De-identification is the commissioner page's (core.commissioner.deid): a count from 1 to
threshold-1 reads "fewer than 5"; a rate resting on a hidden count is "suppressed", and so
is the change, which with the other count would give the hidden one away. No totals are
published across actions (their themes overlap, so a total would mean nothing), so no cell
can be worked out by subtraction. No titles, descriptions, names or report text: actions are
shown by their kind on the action hierarchy and their strength, as in the action register.
`max_hidden_share` says, as for every table, whether the table says much.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actions.measures import (
    Evaluation,
    MeasureFilters,
    MeasureToEvaluate,
    counts_around_each,
    evaluate_each,
    sustainment_date,
)
from core.actions.models import (
    Action,
    SustainmentCheck,
    VerificationMeasure,
)
from core.actions.queries import plan_types as read_plan_types
from core.actions.vocabulary import KINDS_BY_KEY, ActionStatus, Strength
from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.clock import to_local
from core.commissioner import deid
from core.commissioner.deid import Cell, LevelChoice, iso_week
from core.commissioner.views import live_in_period
from core.config import Settings
from core.organisation.models import Service
from core.taxonomy.models import NearMissType

TABLE_NAME = "the evidence per action"


@dataclass(frozen=True)
class ActionEvidence:
    """One action's evidence, as published (hidden figures keep no value)."""

    action_id: int
    theme: str  # the near-miss types counted ("All near misses" when the measure names none)
    where: str  # the services counted, or "Provider-wide"
    kind: str  # its kind on the action hierarchy
    strength: str  # Stronger | Intermediate | Weaker
    status: str
    go_live: date
    window_days: int  # each window's length (0: not live yet, nothing to count)
    before: Cell  # near misses in the window before go-live
    after: Cell  # near misses in the window from go-live
    before_rate: Cell  # a week
    after_rate: Cell
    change: Cell  # after against before, a percentage ("—" when nothing came before)
    verdict_key: str  # effective | not_effective | proposed_effective | ... (see VERDICTS)
    verdict: str  # in words
    verdict_due: bool  # a person's verdict is awaited now
    sustainment_key: str  # in_place | lapsed | overdue | due | after_verdict | none
    sustainment: str  # in words, with the check's week
    sustainment_due: date | None  # when the still-in-place check is (or was) due
    sustainment_checked: date | None = None  # the day it was checked (local), if it was

    @property
    def go_live_week(self) -> str:
        return iso_week(self.go_live)

    @property
    def windows(self) -> str:
        """The windows compared, in words: "14 days before and after go-live"."""
        if self.window_days <= 0:
            return "not live yet"
        return f"{self.window_days} days before and after"


# What the verdict column can say (key -> words; weeks are added where they help).
VERDICTS = {
    "effective": "Effective (confirmed)",
    "not_effective": "Not effective (confirmed)",
    "proposed_effective": "Effective, proposed by the numbers: to be confirmed",
    "proposed_not_effective": "Not effective, proposed by the numbers: to be confirmed",
    "too_early": "Too early to tell",
    "insufficient_data": "Not enough data to tell",
    "running": "Test running",
    "due": "Verdict due (judged by its evidence checks)",
    "not_live": "Not live yet",
    "stopped": "Stopped",
    "in_hand": "Being reworked",
}

COLUMNS = ("Theme", "Where", "Kind of action", "Strength", "Went live (week)", "Windows",
           "Before (near misses)", "After (near misses)", "Before (a week)", "After (a week)",
           "Change", "Verdict", "Still in place")


@dataclass(frozen=True)
class ActionEvidenceTable:
    """The evidence per action for a period, and how much of it is hidden."""

    rows: tuple[ActionEvidence, ...]
    fit: LevelChoice | None  # None: no rows
    threshold: int

    @property
    def hidden_share(self) -> float:
        """Of the counts that do not read 0, the share hidden (from the published cells)."""
        counts = [cell for row in self.rows for cell in (row.before, row.after)
                  if cell.hidden or (cell.value or 0) != 0]
        return sum(c.hidden for c in counts) / len(counts) if counts else 0.0

    @property
    def note(self) -> str:
        """How to read the table, and how much it hides (one caption)."""
        if not self.rows:
            return "No action with a test window was live in the period."
        words = ("Before and after are equal windows either side of go-live: the test window "
                 "once it has ended, the days so far while it runs, and every day up to the "
                 "still-in-place check once that is due. Rates are near misses a week.")
        if self.threshold > 1:
            words += (f" A rate or change resting on a count from 1 to {self.threshold - 1} "
                      "reads \"suppressed\".")
        if self.fit is not None and self.threshold > 1:
            # No totals are published here, so the level's usual "its totals say more" would
            # not hold: say only how much is hidden against the rule.
            share, most = self.hidden_share, self.fit.limit
            words += f" {share:.0%} of the counts that are not 0 are hidden" + (
                f" (at most the {most:.0%} the rule allows)." if self.fit.fits else
                f", more than the {most:.0%} the rule allows: with counts this small, the "
                "windows are too short to say much per action.")
        return words

    def records(self, *, text: bool = False) -> list[dict[str, int | float | str | None]]:
        """One row per action for a table or a spreadsheet: shown counts and rates are
        numbers (so they can be summed), hidden ones their label; with `text`, every figure
        as a reader sees it."""
        def value(cell: Cell) -> int | float | str | None:
            return cell.text if text else cell.export()

        return [{"Theme": row.theme, "Where": row.where, "Kind of action": row.kind,
                 "Strength": row.strength, "Went live (week)": row.go_live_week,
                 "Windows": row.windows, "Before (near misses)": value(row.before),
                 "After (near misses)": value(row.after),
                 "Before (a week)": value(row.before_rate),
                 "After (a week)": value(row.after_rate), "Change": value(row.change),
                 "Verdict": row.verdict, "Still in place": row.sustainment}
                for row in self.rows]


def _limit(rules: Settings, suppress: bool) -> int:
    """The suppression threshold; 1 (nothing hidden) for an internal audience."""
    return rules.commissioner.suppress_below if suppress else 1


def _windows(action: Action, today: date, rules: Settings) -> tuple[int, date]:
    """(each window's days, the still-in-place check's date) as the verdict looks today."""
    assert action.go_live_date is not None
    go_live, days = action.go_live_date, action.test_window_days or 0
    second = sustainment_date(go_live, days, rules.actions)
    if today <= go_live:
        return 0, second
    if today < go_live + timedelta(days=days):
        return (today - go_live).days, second
    if today < second:
        return days, second
    return (second - go_live).days, second


def _counted(counts: tuple[int, int] | None, days: int, limit: int,
             ) -> tuple[Cell, Cell, Cell, Cell, Cell]:
    """(before, after, before a week, after a week, change) as published, from the counts in
    the `days` either side of go-live (None: nothing to count)."""
    if counts is None:
        empty = Cell(None, threshold=limit)
        return empty, empty, empty, empty, Cell(None, threshold=limit, percent=True)
    before, after = counts
    weeks = days / 7
    # A rate is its count over the weeks, so it hides with its count; the change hides when
    # either count does (with the other count it would give the hidden one away).
    change = (after - before) / before if before else None
    return (deid.count(before, limit), deid.count(after, limit),
            deid.derived(round(before / weeks, 2), [before], limit),
            deid.derived(round(after / weeks, 2), [after], limit),
            deid.derived(change, [before, after], limit, percent=True))


def _settled_verdict(action: Action, measure: VerificationMeasure | None,
                     today: date) -> tuple[str, str, bool] | None:
    """(key, words, a person's verdict is awaited now) where the numbers are not needed (a
    confirmed verdict, an action stopped, reworked or not live yet, or no measure); None
    where the measure's evaluation proposes it (`_proposed_verdict`)."""
    assert action.go_live_date is not None
    status = ActionStatus(action.status)
    confirmed = measure.confirmed_verdict if measure else None
    if confirmed is None and status in (ActionStatus.VERIFIED_EFFECTIVE,
                                        ActionStatus.NOT_EFFECTIVE):
        confirmed = "effective" if status is ActionStatus.VERIFIED_EFFECTIVE else \
            "not_effective"
    if confirmed in ("effective", "not_effective"):
        return confirmed, VERDICTS[confirmed], False
    if status is ActionStatus.STOPPED:
        return "stopped", VERDICTS["stopped"], False
    if status is not ActionStatus.IN_TEST:
        return "in_hand", f"{VERDICTS['in_hand']} ({status.label.lower()})", False
    go_live, days = action.go_live_date, action.test_window_days or 0
    window_end = go_live + timedelta(days=days)
    if today < go_live:
        return "not_live", f"{VERDICTS['not_live']} (goes live in {iso_week(go_live)})", False
    if measure is None:
        if today < window_end:
            return "running", f"{VERDICTS['running']} (until {iso_week(window_end)})", False
        return "due", VERDICTS["due"], True
    return None


def _proposed_verdict(evaluation: Evaluation) -> tuple[str, str, bool]:
    """(key, words, a person's verdict is awaited now) as the measure's numbers propose."""
    proposed = evaluation.proposal.verdict
    if proposed == "running":
        return ("running", f"{VERDICTS['running']} (until {iso_week(evaluation.window_end)})",
                False)
    if proposed == "too_early":
        if evaluation.look == "window":  # the test runs on to the second look
            assert evaluation.sustainment_end is not None
            return ("too_early", f"{VERDICTS['too_early']}: looked at again in "
                                 f"{iso_week(evaluation.sustainment_end)}", False)
        return "too_early", f"{VERDICTS['too_early']} at the last look: a verdict is due", True
    key = {"effective": "proposed_effective",
           "not_effective": "proposed_not_effective"}.get(proposed, "insufficient_data")
    return key, VERDICTS[key], True


def _sustainment(action: Action, checks: list[SustainmentCheck], second: date, today: date,
                 rules: Settings) -> tuple[str, str, date | None, date | None]:
    """(key, words, the check's due date, the day it was checked) of the latest
    still-in-place check."""
    if checks:
        latest = max(checks, key=lambda c: (c.due_date, c.id))
        if latest.confirmed_at is not None:
            day = to_local(latest.confirmed_at, rules.zone).date()
            if latest.in_place:
                return "in_place", f"Yes (checked in {iso_week(day)})", latest.due_date, day
            return ("lapsed", f"No: lapsed (checked in {iso_week(day)}), being acted on",
                    latest.due_date, day)
        if latest.due_date < today:
            return ("overdue", f"Check overdue (due in {iso_week(latest.due_date)})",
                    latest.due_date, None)
        return "due", f"Check due in {iso_week(latest.due_date)}", latest.due_date, None
    if action.status == ActionStatus.IN_TEST.value:
        due = action.sustainment_check_date or second
        return "after_verdict", f"Checked after a verdict (from {iso_week(due)})", due, None
    return "none", "—", None, None


def action_evidence(session: Session, actor: Actor, *, start: date | None = None,
                    end: date | None = None, rules: Settings,
                    suppress: bool = True, now: datetime,
                    today: date | None = None) -> ActionEvidenceTable:
    """The evidence per action with a test window, live in [start, end) (see the module).

    `suppress` False (an internal board) shows exact counts; `today` is the day the windows
    and verdicts are read on (by default the provider's local day of `now`)."""
    require(actor, Capability.VIEW_COMMISSIONER_EVIDENCE)
    limit = _limit(rules, suppress)
    today = today or to_local(now, rules.zone).date()
    type_names = dict(session.execute(select(NearMissType.key, NearMissType.name)).all())
    services = dict(session.execute(select(Service.id, Service.name)).all())
    types_of_plans = read_plan_types(session)
    checks: dict[int, list[SustainmentCheck]] = {}
    rows = []
    live = (Action.go_live_date.is_not(None), *live_in_period(start, end, rules))
    found = session.execute(
        select(Action, VerificationMeasure)
        .outerjoin(VerificationMeasure, VerificationMeasure.action_id == Action.id)
        .where(*live).order_by(Action.go_live_date.desc(), Action.id)).all()
    # The actions' checks by the same conditions, not by a list of their ids: 1,465 ids at a
    # million reports took psycopg longer to send than the database to answer.
    for check in session.scalars(select(SustainmentCheck).where(
            SustainmentCheck.action_id.in_(select(Action.id).where(*live)))):
        checks.setdefault(check.action_id, []).append(check)
    counted: list[tuple[MeasureFilters | None, date, int, date]] = []
    for action, measure in found:
        assert action.go_live_date is not None
        days, second = _windows(action, today, rules)
        counted.append((_filters(action, measure, types_of_plans), action.go_live_date, days,
                        second))
    windows = [(filters, go_live, days) for filters, go_live, days, _ in counted
               if filters is not None and days > 0]
    counts = iter(counts_around_each(session, windows, rules=rules))  # type: ignore[arg-type]
    settled = [_settled_verdict(action, measure, today) for action, measure in found]
    # The rest are proposed by their measures, evaluated together (a measure is there).
    evaluations = iter(evaluate_each(session, [
        MeasureToEvaluate.of(measure, action.go_live_date, action.test_window_days or 0)
        for (action, measure), verdict in zip(
            found, settled, strict=True)
        if verdict is None and measure is not None and action.go_live_date is not None],
        today=today, rules=rules))
    for (action, _measure), (filters, _go_live, days, second), settled_verdict in zip(
            found, counted, settled, strict=True):
        assert action.go_live_date is not None
        before, after, before_rate, after_rate, change = _counted(
            next(counts) if filters is not None and days > 0 else None, days, limit)
        verdict_key, verdict, due = settled_verdict or _proposed_verdict(next(evaluations))
        sustained_key, sustained, sustained_due, checked = _sustainment(
            action, checks.get(action.id, []), second, today, rules)
        kind = KINDS_BY_KEY.get(action.strength_category)
        rows.append(ActionEvidence(
            action_id=action.id, theme=_theme(filters, type_names),
            where=_where(filters, services), kind=kind.label if kind else "Control",
            strength=Strength(action.strength).label, status=ActionStatus(action.status).label,
            go_live=action.go_live_date, window_days=days, before=before, after=after,
            before_rate=before_rate, after_rate=after_rate, change=change,
            verdict_key=verdict_key, verdict=verdict, verdict_due=due,
            sustainment_key=sustained_key, sustainment=sustained,
            sustainment_due=sustained_due, sustainment_checked=checked))
    table = ActionEvidenceTable(tuple(rows), None, limit)
    fit = deid.choose_level([(TABLE_NAME, table.hidden_share)],
                            rules.commissioner.max_hidden_share) if rows else None
    return ActionEvidenceTable(tuple(rows), fit, limit)


def _filters(action: Action, measure: VerificationMeasure | None,
             plan_types: Mapping[int, frozenset[str]]) -> MeasureFilters | None:
    """Which near misses the action addresses (None: no theme to count)."""
    if measure is not None:
        return MeasureFilters.from_json(measure.filters)
    types = plan_types.get(action.plan_id)
    if not types:
        return None
    return MeasureFilters(type_keys=tuple(sorted(types)),
                          service_ids=(action.service_id,) if action.service_id else ())


def _theme(filters: MeasureFilters | None, type_names: dict[str, str]) -> str:
    if filters is None:
        return "—"
    names = sorted(type_names.get(key, key) for key in filters.type_keys)
    theme = ", ".join(names) if names else "All near misses"
    narrower = (filters.location_ids or filters.route_ids or filters.staff_group_ids
                or filters.interface_flags or filters.capture)
    # Places, routes and staff groups are not named to a commissioner: say only that the
    # measure counts part of the theme.
    return theme + " (part, as its measure counts)" if narrower else theme


def _where(filters: MeasureFilters | None, services: dict[int, str]) -> str:
    if filters is None or not filters.service_ids:
        return "Provider-wide"
    return ", ".join(sorted(services.get(i, "?") for i in filters.service_ids))
