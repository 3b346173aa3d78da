"""Is a change in a verification measure evidence, or chance? (Pure: no database.)

A control's measure counts near misses in the weeks before go-live (the baseline) and during
its test. Counts of rare events vary a lot by chance alone: at a steady 1.5 a week, a
two-week window with 20% fewer than the baseline turns up in about 4 windows in 10. So the
rate during the test is compared with the baseline by an exact test for two Poisson rates:
given n1 near misses in baseline exposure t1 and n2 in test exposure t2, under "no change"
n2 given n1 + n2 is Binomial(n1 + n2, t2 / (t1 + t2)). Exposure is weeks, or hundreds of
visits or shifts for a rate "per 100 visits/shifts". The test is one-sided, in the direction
the measure calls better.

The proposal is one of:

- "effective": a change this large in the better direction would rarely happen by chance
  (p at most the look's alpha), the rate improved by at least `min_improvement`, and the
  target (if any) is met;
- "not_effective": the planned change is ruled out (a change of that size would rarely leave
  counts this far from it), or the rate improved beyond chance but too little or short of the
  target;
- "too_early": neither; with how long a test would need to run to show the planned change
  with `power` (80%) at the baseline's rate;
- "insufficient_data": no baseline or no exposure to compare with.

There are two looks: at the end of the test window, and at the still-in-place
(sustainment) check, comparing the baseline with every week since go-live. Each look has its
own alpha, chosen so that a control that changes nothing is proposed effective at either look
in at most 5% of tests (`bench/verdicts.py` measures it). A person always confirms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

MAX_TEST_WEEKS = 104  # a test needing longer than two years is reported as "not feasible"


# -- exact tails --------------------------------------------------------------------------------

def _log_pmf(i: int, n: int, log_p: float, log_q: float) -> float:
    return (math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
            + i * log_p + (n - i) * log_q)


def _sum_exp(logs: list[float]) -> float:
    if not logs:
        return 0.0
    top = max(logs)
    return math.exp(top) * math.fsum(math.exp(v - top) for v in logs)


@lru_cache(maxsize=65536)
def binomial_at_most(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed exactly term by term."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    if k > n * p:  # the other tail is the shorter sum and keeps small values precise
        return max(0.0, 1.0 - binomial_at_least(k + 1, n, p))
    return min(1.0, _sum_exp([_log_pmf(i, n, log_p, log_q) for i in range(k + 1)]))


@lru_cache(maxsize=65536)
def binomial_at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    if k < n * p:
        return max(0.0, 1.0 - binomial_at_most(k - 1, n, p))
    return min(1.0, _sum_exp([_log_pmf(i, n, log_p, log_q) for i in range(k, n + 1)]))


def poisson_at_most(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean)."""
    if k < 0:
        return 0.0
    if mean <= 0:
        return 1.0
    log_mean = math.log(mean)
    return min(1.0, _sum_exp([i * log_mean - mean - math.lgamma(i + 1) for i in range(k + 1)]))


def _share(t1: float, t2: float, ratio: float) -> float:
    """The test's expected share of all the counts when its rate is `ratio` x the baseline's."""
    return ratio * t2 / (t1 + ratio * t2)


def chance_of_change(n1: int, t1: float, n2: int, t2: float, *, direction: str,
                     ratio: float = 1.0) -> float:
    """One-sided p-value: the chance of a test count this far in the better direction (this
    low for "decrease", this high for "increase") if the test's rate were `ratio` times the
    baseline's (1: no change)."""
    share = _share(t1, t2, ratio)
    if direction == "decrease":
        return binomial_at_most(n2, n1 + n2, share)
    return binomial_at_least(n2, n1 + n2, share)


def chance_of_shortfall(n1: int, t1: float, n2: int, t2: float, *, direction: str,
                        ratio: float) -> float:
    """One-sided p-value against a planned change: the chance of a test count this far on the
    worse side if the rate really were `ratio` times the baseline's."""
    share = _share(t1, t2, ratio)
    if direction == "decrease":
        return binomial_at_least(n2, n1 + n2, share)
    return binomial_at_most(n2, n1 + n2, share)


# -- how long a test needs ------------------------------------------------------------------------

def _shows(n1: int, t1: float, n2: int, t2: float, direction: str, alpha: float) -> bool:
    return chance_of_change(n1, t1, n2, t2, direction=direction) <= alpha


def _power(n1: int, t1: float, t2: float, *, direction: str, ratio: float,
           alpha: float) -> float:
    """The chance that a test of exposure t2 shows a change, if the rate really is `ratio` x
    the baseline's estimate (the baseline counts are already known)."""
    rate = n1 / t1
    mean = rate * ratio * t2
    null_mean = rate * t2
    if direction == "decrease":
        # Counts up to some c show a drop (the p-value grows with the count): find c.
        low, high = -1, max(0, math.ceil(null_mean))
        if not _shows(n1, t1, 0, t2, direction, alpha):
            return 0.0
        low = 0
        while high - low > 1:
            middle = (low + high) // 2
            if _shows(n1, t1, middle, t2, direction, alpha):
                low = middle
            else:
                high = middle
        return poisson_at_most(low, mean)
    # "increase": counts from some c up show a rise.
    low = max(0, math.floor(null_mean))
    high = max(1, 2 * low)
    while not _shows(n1, t1, high, t2, direction, alpha):
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        if _shows(n1, t1, middle, t2, direction, alpha):
            high = middle
        else:
            low = middle
    return 1.0 - poisson_at_most(high - 1, mean)


@lru_cache(maxsize=4096)
def weeks_to_show(n1: int, t1: float, exposure_per_week: float, *, direction: str,
                  change: float, alpha: float, power: float) -> int | None:
    """The shortest test, in whole weeks, that would show a change of `change` (0.5: half as
    many, or half as many again) at the baseline's rate with probability `power`; None when
    even `MAX_TEST_WEEKS` would not (or the baseline has no near misses)."""
    if n1 <= 0 or t1 <= 0 or exposure_per_week <= 0 or change <= 0:
        return None
    ratio = max(0.0, 1.0 - change) if direction == "decrease" else 1.0 + change
    for weeks in range(1, MAX_TEST_WEEKS + 1):
        if _power(n1, t1, weeks * exposure_per_week, direction=direction, ratio=ratio,
                  alpha=alpha) >= power:
            return weeks
    return None


# -- the proposal -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Counts:
    """What a look compares: near misses and exposure before go-live and since.

    Exposure is in weeks for a rate per week, in hundreds of visits or shifts for a rate per
    100 visits/shifts. `test_days` is the length of the test period in days.
    """

    baseline: int
    baseline_exposure: float
    observed: int
    observed_exposure: float
    baseline_weeks: int
    test_days: int
    per: str = "week"

    @property
    def baseline_rate(self) -> float:
        return self.baseline / self.baseline_exposure

    @property
    def observed_rate(self) -> float:
        return self.observed / self.observed_exposure

    @property
    def exposure_per_week(self) -> float:
        """Exposure a week, as in the baseline (1 for a rate per week)."""
        return self.baseline_exposure / self.baseline_weeks


@dataclass(frozen=True)
class VerdictRules:
    """The thresholds of one look."""

    alpha: float  # the chance of "effective" for a control that changes nothing, at most
    min_improvement: float  # the smallest improvement called effective (0.2: 20%)
    planned_change: float  # the change a test is sized for when the measure has no target
    power: float = 0.8  # how sure a test of the needed length is to show the planned change


@dataclass(frozen=True)
class Verdict:
    """What the numbers suggest, in words a meeting can read; a person confirms."""

    verdict: str  # effective | not_effective | too_early | insufficient_data | running
    reason: str
    counts: Counts | None = None
    p_value: float | None = None  # chance of a change this large with no real change
    planned_change: float | None = None
    weeks_needed: int | None = None  # total test length to show the planned change
    more_weeks: int | None = None  # beyond the weeks already run


def chance_in_words(p: float) -> str:
    """'about 1 time in 40' for p = 0.024: a p-value a meeting can read."""
    if p > 0.5:
        return "more often than not"
    if p * 10_000 < 1:
        return "less than 1 time in 10,000"
    times = 1 / p
    if times < 10:
        rounded = round(times)
    elif times < 100:
        rounded = 5 * round(times / 5)
    elif times < 1000:
        rounded = 10 * round(times / 10)
    else:
        rounded = 100 * round(times / 100)
    return f"about 1 time in {rounded:,}"


def p_in_words(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _amount(exposure: float, per: str, days: int, *, baseline: bool) -> str:
    if baseline:
        span = f"the {days // 7} weeks before go-live"
    else:
        span = f"the {days // 7}-week test" if days % 7 == 0 else f"the {days}-day test"
    if per == "week":
        return span
    unit = "visits" if per == "100_visits" else "shifts"
    return f"{round(exposure * 100):,} {unit} in {span}"


def _rate(value: float, per: str) -> str:
    return f"{value:.2f} a week" if per == "week" else \
        f"{value:.2f} per 100 {'visits' if per == '100_visits' else 'shifts'}"


def describe_counts(counts: Counts) -> str:
    """'30 near misses in the 12 weeks before go-live (2.50 a week); 1 in the 2-week test
    (0.50 a week), 80% fewer'."""
    per = counts.per
    before = (f"{counts.baseline} near misses in "
              f"{_amount(counts.baseline_exposure, per, 7 * counts.baseline_weeks, baseline=True)}"
              f" ({_rate(counts.baseline_rate, per)})")
    during = (f"{counts.observed} in "
              f"{_amount(counts.observed_exposure, per, counts.test_days, baseline=False)}"
              f" ({_rate(counts.observed_rate, per)})")
    if counts.baseline_rate > 0:
        change = (counts.observed_rate - counts.baseline_rate) / counts.baseline_rate
        if abs(change) >= 0.005:
            during += f", {abs(change):.0%} {'fewer' if change < 0 else 'more'}"
        else:
            during += ", the same rate"
    return f"{before}; {during}"


def planned_change_of(counts: Counts, *, direction: str, target: float | None,
                      default: float) -> float:
    """The change the test is sized for: to the target when there is one (and it asks for a
    change), else the default share."""
    base = counts.baseline_rate
    if target is not None and base > 0:
        change = (1 - target / base) if direction == "decrease" else (target / base - 1)
        if change > 0:
            return min(change, 1.0)
    return default


def propose(counts: Counts | None, *, direction: str, target: float | None,
            rules: VerdictRules, later_look: str | None = None) -> Verdict:
    """The proposal of one look. `later_look` names when the evidence is looked at again (for
    a "too early" at the end of the test window), None at the last look."""
    if counts is None or counts.baseline_exposure <= 0 or counts.observed_exposure <= 0:
        return Verdict("insufficient_data", "There is no baseline or no test period to compare "
                                            "yet (for a rate per 100 visits or shifts, the "
                                            "services' activity counts are needed).", counts)
    if direction == "decrease" and counts.baseline == 0:
        return Verdict("insufficient_data", "No near misses counted before go-live: a fall "
                                            "cannot be shown.", counts)
    decrease = direction == "decrease"
    change_word = "drop" if decrease else "rise"
    n1, t1, n2, t2 = (counts.baseline, counts.baseline_exposure, counts.observed,
                      counts.observed_exposure)
    p = chance_of_change(n1, t1, n2, t2, direction=direction)
    planned = planned_change_of(counts, direction=direction, target=target,
                                default=rules.planned_change)
    numbers = describe_counts(counts)
    base, seen = counts.baseline_rate, counts.observed_rate
    improvement = ((base - seen) / base if decrease else
                   ((seen - base) / base if base > 0 else math.inf))
    meets = target is None or (seen <= target if decrease else seen >= target)
    chance = (f"A {change_word} this large would happen by chance {chance_in_words(p)} "
              f"({p_in_words(p)})")
    evidence = dict(counts=counts, p_value=p, planned_change=planned)
    if p <= rules.alpha and improvement > 0:
        if improvement < rules.min_improvement:
            return Verdict("not_effective", f"Not effective: {numbers}. {chance}, but the rate "
                           f"improved by only {improvement:.0%}, less than the "
                           f"{rules.min_improvement:.0%} a control should bring.", **evidence)
        if not meets:
            assert target is not None
            return Verdict("not_effective", f"Not effective yet: {numbers}. {chance}, but the "
                           f"target of {_rate(target, counts.per)} is not met.", **evidence)
        return Verdict("effective", f"Effective: {numbers}. {chance}: unlikely to be chance.",
                       **evidence)
    ratio = (1 - planned) if decrease else (1 + planned)
    shortfall = chance_of_shortfall(n1, t1, n2, t2, direction=direction, ratio=ratio)
    if shortfall <= rules.alpha:
        return Verdict("not_effective", f"Not effective: {numbers}. A {change_word} of "
                       f"{planned:.0%} would leave this many {chance_in_words(shortfall)}: "
                       "the planned change did not happen.", **evidence)
    needed = weeks_to_show(n1, t1, counts.exposure_per_week, direction=direction,
                           change=planned, alpha=rules.alpha, power=rules.power)
    weeks_run = counts.test_days / 7
    later = (f" The evidence is looked at again on {later_look}, with every week since "
             "go-live." if later_look else " This was the last look: confirm it not effective, "
             "or effective with a reason.")
    if needed is None:
        length = (f"Even {MAX_TEST_WEEKS // 52} years of testing could not show a "
                  f"{change_word} of {planned:.0%} at this rate: widen the measure (more "
                  "services or types) or judge by the evidence checks.")
        more = None
    elif needed > weeks_run:
        more = math.ceil(needed - weeks_run)
        length = (f"At this rate the test needs about {more} more "
                  f"{'week' if more == 1 else 'weeks'} to show a {change_word} of "
                  f"{planned:.0%}.")
    else:
        more = 0
        length = (f"A test this long usually shows a {change_word} of {planned:.0%}; this "
                  "one neither shows it nor rules it out.")
    seen_so_far = (f"{chance}, so it could be chance." if improvement > 0 else
                   f"There is no {change_word} so far.")
    return Verdict("too_early", f"Too early to tell: {numbers}. {seen_so_far} {length}{later}",
                   weeks_needed=needed, more_weeks=more, **evidence)
