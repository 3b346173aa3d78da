"""False and true "effective" verdicts on simulated near-miss counts, before and after issue 17.

Each simulated test is one control on one measure: a baseline of 12 weeks before go-live, a
14-day test window, and the still-in-place check 42 days after the window (the settings'
defaults), with Poisson counts at a steady rate (the control changes nothing) or with a drop
from go-live. Every test has its own seed. Both rules see the same counts:

- before: the original `propose_verdict` of `core/actions/measures.py` ("effective" whenever
  the rate falls by 20%), loaded from git at `--before-rev`; it had one look, at the window's
  end;
- after: `core.actions.evidence.propose` with the thresholds `evaluate` uses
  (`core.actions.measures.look_rules`): the exact Poisson rate comparison at the window's end,
  and again at the still-in-place check on every week since go-live.

With `--demo` it loads the default demo (2,500 reports) into a temporary SQLite database and
re-checks each "verified effective" action that has a measure against the rule now: the
proposal at the end of its test window, at the still-in-place check, and the one stored with
its verdict.

Usage (from the project root):
    python bench/verdicts.py                 # 4,000 tests per row, a Markdown table
    python bench/verdicts.py --tests 500     # quicker
    python bench/verdicts.py --baseline-weeks 26   # a longer baseline than the settings'
    python bench/verdicts.py --demo          # the demo's verified-effective actions
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.actions.evidence import Counts, p_in_words, propose  # noqa: E402
from core.actions.measures import look_rules  # noqa: E402
from core.config import ActionRules, settings  # noqa: E402

BEFORE_REV = "3b7b0fa"  # the last commit with the 20%-fall rule


def before_rule(rev: str) -> Any:
    """The original `propose_verdict`, as it was at `rev`."""
    source = subprocess.run(["git", "show", f"{rev}:core/actions/measures.py"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("bench_before_measures")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:core/actions/measures.py", "exec"), module.__dict__)
    return module.propose_verdict


@dataclass(frozen=True)
class Scenario:
    label: str
    per_week: float  # near misses a week before go-live (per 100 visits with `visits`)
    drop: float = 0.0  # the real drop from go-live (0: the control changes nothing)
    visits: tuple[int, int] | None = None  # weekly visits drawn from this range: "per 100"


@dataclass
class Tally:
    tests: int = 0
    before_effective: int = 0
    window_effective: int = 0
    window_too_early: int = 0
    either_effective: int = 0


def simulate(scenario: Scenario, tests: int, row: int, old_rule: Any,
             rules: ActionRules | None = None) -> Tally:
    rules = rules or settings().actions
    window_days, baseline_weeks = rules.test_window_days, rules.baseline_weeks
    second_days = window_days + rules.sustainment_after_days
    tally = Tally()
    for seed in range(tests):
        rng = np.random.default_rng([row, seed])
        if scenario.visits:
            low, high = scenario.visits
            weekly = rng.integers(low, high + 1, size=baseline_weeks + second_days // 7 + 1)
            base_exposure = float(weekly[:baseline_weeks].sum()) / 100
            after = weekly[baseline_weeks:]
            # Days of the test: each week's visits shared by its days (as `exposure_between`).
            daily = np.repeat(after / 7, 7)
            window_exposure = float(daily[:window_days].sum()) / 100
            second_exposure = float(daily[:second_days].sum()) / 100
            rate = scenario.per_week  # here: near misses per 100 visits
            base_mean = rate * base_exposure
            window_mean = rate * window_exposure * (1 - scenario.drop)
            extra_mean = rate * (second_exposure - window_exposure) * (1 - scenario.drop)
            per = "100_visits"
        else:
            base_exposure = float(baseline_weeks)
            window_exposure, second_exposure = window_days / 7, second_days / 7
            base_mean = scenario.per_week * base_exposure
            window_mean = scenario.per_week * window_exposure * (1 - scenario.drop)
            extra_mean = scenario.per_week * (second_exposure - window_exposure) * \
                (1 - scenario.drop)
            per = "week"
        n1 = int(rng.poisson(base_mean))
        in_window = int(rng.poisson(window_mean))
        since = in_window + int(rng.poisson(extra_mean))

        old = old_rule(n1 / base_exposure, in_window / window_exposure, direction="decrease",
                       target=None, min_improvement=rules.min_improvement)
        window = propose(Counts(n1, base_exposure, in_window, window_exposure, baseline_weeks,
                                window_days, per), direction="decrease", target=None,
                         rules=look_rules(rules, "window"), later_look="the check")
        second = propose(Counts(n1, base_exposure, since, second_exposure, baseline_weeks,
                                second_days, per), direction="decrease", target=None,
                         rules=look_rules(rules, "sustainment"))
        tally.tests += 1
        tally.before_effective += old.verdict == "effective"
        tally.window_effective += window.verdict == "effective"
        tally.window_too_early += window.verdict == "too_early"
        tally.either_effective += "effective" in (window.verdict, second.verdict)
    return tally


SCENARIOS = (
    Scenario("no change, 1.5 a week (the issue's case)", 1.5),
    Scenario("no change, 0.5 a week", 0.5),
    Scenario("no change, 1 a week", 1.0),
    Scenario("no change, 3 a week", 3.0),
    Scenario("no change, 5 a week", 5.0),
    Scenario("no change, 10 a week", 10.0),
    Scenario("no change, 17 a week", 17.0),
    Scenario("no change, 20 a week", 20.0),
    Scenario("no change, 1 per 100 visits (120-280 visits a week)", 1.0, visits=(120, 280)),
    Scenario("80% drop, 3 a week", 3.0, drop=0.8),
    Scenario("50% drop, 3 a week", 3.0, drop=0.5),
    Scenario("50% drop, 1.5 a week", 1.5, drop=0.5),
)


def percent(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}% ({count:,})"


def demo_recheck(reports: int) -> None:
    """Load the demo into a temporary SQLite database; re-check its verified-effective actions."""
    folder = tempfile.mkdtemp(prefix="nearmiss-verdicts-")
    url = f"sqlite:///{folder}/demo.db"
    os.environ["NEARMISS_DATABASE_URL"] = url
    os.environ["NEARMISS_DATA_DIR"] = folder
    from datetime import timedelta

    from sqlalchemy import select

    from core.actions.measures import MeasureFilters, evaluate, sustainment_date
    from core.actions.models import Action, VerificationMeasure
    from core.actions.vocabulary import ActionStatus
    from core.db import dispose_engines, engine_for, read_session
    from ops.bootstrap import initialise
    from ops.demo import load_demo

    initialise(url)
    engine = engine_for(url)
    summary = load_demo(engine, reports=reports)
    rules = settings().actions
    with read_session(engine) as session:
        rows = session.execute(select(Action, VerificationMeasure).outerjoin(
            VerificationMeasure, VerificationMeasure.action_id == Action.id).where(
            Action.status == ActionStatus.VERIFIED_EFFECTIVE.value)).all()
        print(f"Demo: {summary.reports:,} reports, {summary.actions} actions, {len(rows)} "
              f"verified effective, {sum(m is not None for _a, m in rows)} of them with a "
              "measure (the others rest on their evidence checks alone).\n")
        print("| action | at the window's end (as the demo verified it before) | at the "
              "still-in-place check | proposal stored with its verdict |")
        print("|---|---|---|---|")
        for action, measure in rows:
            if measure is None or action.go_live_date is None:
                continue
            window = action.test_window_days or 0
            looks = []
            for day in (action.go_live_date + timedelta(days=window),
                        sustainment_date(action.go_live_date, window, rules)):
                evaluation = evaluate(
                    session, MeasureFilters.from_json(measure.filters), per=measure.per,
                    direction=measure.direction, target=measure.target,
                    go_live=action.go_live_date, window_days=window,
                    baseline_weeks=measure.baseline_weeks, today=day,
                    rules=settings())
                proposal = evaluation.proposal
                counts = proposal.counts
                looks.append(f"{proposal.verdict.replace('_', ' ')}: "
                             + (f"{counts.baseline} before, {counts.observed} after "
                                f"({p_in_words(proposal.p_value)})" if counts and
                                proposal.p_value is not None else "no counts"))
            stored = measure.proposed_verdict or "—"
            if measure.override_reason:
                stored += " (confirmed with a reason)"
            print(f"| {action.title[:60]} | {looks[0]} | {looks[1]} | "
                  f"{stored.replace('_', ' ')} |")
    dispose_engines()
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=4000, help="simulated tests per row")
    parser.add_argument("--before-rev", default=BEFORE_REV,
                        help="the git revision whose propose_verdict is the rule before")
    parser.add_argument("--baseline-weeks", type=int, default=None,
                        help="weeks before go-live in the baseline (default: the settings')")
    parser.add_argument("--demo", action="store_true",
                        help="re-check the demo's verified-effective actions instead")
    parser.add_argument("--reports", type=int, default=2500, help="demo size (with --demo)")
    args = parser.parse_args()
    if args.demo:
        demo_recheck(args.reports)
        return
    old_rule = before_rule(args.before_rev)
    rules = settings().actions
    if args.baseline_weeks:
        rules = rules.model_copy(update={"baseline_weeks": args.baseline_weeks})
    started = time.perf_counter()
    print(f"{args.tests:,} simulated tests per row (seeds 0-{args.tests - 1}); baseline "
          f"{rules.baseline_weeks} weeks, window {rules.test_window_days} days, still-in-place "
          f"check {rules.sustainment_after_days} days later; alphas "
          f"{rules.evidence_alpha_window} (window) and {rules.evidence_alpha_sustainment} "
          "(check).\n")
    print("| simulated control | before: effective at the window's end | after: effective at "
          "the window's end | after: too early at the window's end | after: effective by the "
          "still-in-place check |")
    print("|---|---|---|---|---|")
    for row, scenario in enumerate(SCENARIOS):
        tally = simulate(scenario, args.tests, row, old_rule, rules)
        print(f"| {scenario.label} | {percent(tally.before_effective, tally.tests)} | "
              f"{percent(tally.window_effective, tally.tests)} | "
              f"{percent(tally.window_too_early, tally.tests)} | "
              f"{percent(tally.either_effective, tally.tests)} |", flush=True)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
