"""The cluster rule's operating characteristic: false alarms on quiet data, detection of bursts.

    python bench/cluster_alerts.py                 # before (BEFORE_REV) and after, plot and tables
    python bench/cluster_alerts.py --only after    # this checkout's rule only
    python bench/cluster_alerts.py --demo          # also the demo's cluster episodes per year

It runs the portal's own rule function on simulated daily counts, many seeds:

- *stationary*: 6 services in 2 regions x 4 near-miss types, two years of Poisson reports at a
  steady 0.1-1 a week per type and service (drawn per seed), no bursts. Every episode the rule
  reports in the second year is a false alarm; the figure is episodes per service-year.
- *detection*: one service's type has a usual rate (1 a month, 1 a fortnight, 1 a week, 2 a
  week) and a burst of 3-8 extra reports within 9 days; the other services have 0.1-1 a week.
  Found: an episode covering that service (or its region) fires while a window holds the burst.
- *demo* (`--demo`): `nearmiss demo --reports 2500 --seed 7` at several dates, and the cluster
  review (`clusters_in_period`) over the last 365 days.

"Before" is the rule at BEFORE_REV (or `--before REV`): its `core/`, `data/` and `migrations/`
are taken from git into a temporary folder and this script runs again against them, so both
columns come from the real code of their day (core.metrics.clusters._windows then, with the
same service/region de-duplication as its cluster review; core.triage.cluster_rule.scan now).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BEFORE_REV = "3b7b0fa"  # the last commit with the old rule (issue 17)
SERVICES, TYPES, DAYS = 6, 4, 730
REGIONS = {0: (0, 1, 2), 1: (3, 4, 5)}
YEAR_START = 365
BURST_DAYS = 9
BURST_SIZES = (3, 4, 5, 6, 7, 8)
RATES = {"1 a month": 12 / 52, "1 a fortnight": 0.5, "1 a week": 1.0, "2 a week": 2.0}
DEMO_DATES = ("2026-06-01T12:00", "2026-10-01T12:00", "2026-11-23T12:00", "2026-12-04T05:00")
ORIGIN = date(2024, 1, 1)


# -- the two rules behind one interface ----------------------------------------------------

class Rule:
    """Episodes of one type from daily counts per service, by whichever rule core holds."""

    def __init__(self, **overrides: Any) -> None:
        from core.config import settings
        from core.triage import cluster_rule

        self.rules = settings().triage.model_copy(update=overrides)
        self.new = hasattr(cluster_rule, "scan")
        self.window = self.rules.cluster_window_days
        if self.new:
            self.module = cluster_rule
            self.budget = cluster_rule.series_budget(
                self.rules, services=SERVICES,
                series=cluster_rule.watched_series(TYPES, SERVICES, len(REGIONS)))

    def episodes(self, counts: np.ndarray, start: int, end: int) -> list[tuple[int, int, set]]:
        """(first firing day, last firing day, services covered) of each episode reported."""
        if self.new:
            history = self.module.TypeDays({s: counts[s].tolist() for s in range(SERVICES)},
                                           REGIONS, counts.shape[1])
            return [(e.opened_on, e.last_day, set(e.services))
                    for e in self.module.scan(history, start=start, end=end, budget=self.budget,
                                              rules=self.rules)]
        return self._old(counts, start, end)

    def _old(self, counts: np.ndarray, start: int, end: int) -> list[tuple[int, int, set]]:
        # core.metrics.clusters: _windows per service and per region, then _describe's rule:
        # a region finding repeating one service's is dropped, a service finding wholly
        # inside a region finding is part of it (compared by the reports they list).
        from core.metrics.clusters import _windows

        found = []
        scopes = [("service", (s,)) for s in range(SERVICES)] + [
            ("region", members) for members in REGIONS.values()]
        for scope, members in scopes:
            series = counts[list(members)].sum(axis=0)
            daily = {ORIGIN + timedelta(days=int(i)): int(v) for i, v in enumerate(series) if v}
            for first, last, _peak, usual in _windows(
                    daily, ORIGIN + timedelta(days=start), ORIGIN + timedelta(days=end),
                    self._settings()):
                lo, hi = (first - ORIGIN).days, (last - ORIGIN).days
                refs = frozenset((s, d, k) for s in members for d in range(lo, hi + 1)
                                 for k in range(int(counts[s, d])))
                fired = lo + self.window - 1  # the first window end in the run
                found.append((scope, set(members), refs, fired, hi, usual))
        regions = [f for f in found if f[0] == "region"]
        services = [f for f in found if f[0] == "service"]
        kept = [f for f in services if not any(f[2] <= r[2] for r in regions if r[2] != f[2])]
        kept += [r for r in regions if not any(s[2] == r[2] for s in services)]
        self.last_old = kept  # for the causes diagnosis
        return [(f[3], f[4], f[1]) for f in kept]

    def _settings(self) -> Any:
        from core.config import settings
        return settings().model_copy(update={"triage": self.rules})


# -- the simulations -----------------------------------------------------------------------

def stationary(rule: Rule, seeds: range) -> dict[str, Any]:
    """False episodes per service-year on two years of steady Poisson data."""
    per_seed = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        rates = rng.uniform(0.1, 1.0, (SERVICES, TYPES))
        counts = rng.poisson(rates[:, :, None] / 7, (SERVICES, TYPES, DAYS))
        episodes = sum(1 for t in range(TYPES)
                       for first, _last, _s in rule.episodes(counts[:, t], YEAR_START, DAYS)
                       if first >= YEAR_START)
        per_seed.append(episodes)
    mean = float(np.mean(per_seed))
    return {"seeds": len(per_seed), "episodes_per_year": mean,
            "per_service_year": mean / SERVICES,
            "per_service_year_p90": float(np.percentile(per_seed, 90)) / SERVICES}


def causes(seeds: range) -> dict[str, Any]:
    """Check the likely causes rather than assume them. The old rule: how many of its chance
    episodes had a usual count of 0, and how many were one burst told twice (a service and
    its region, overlapping). The new rule: false episodes with one remedy taken away."""
    rule = Rule()
    if not rule.new:
        total = zero = doubled = 0
        for seed in seeds:
            rng = np.random.default_rng(seed)
            rates = rng.uniform(0.1, 1.0, (SERVICES, TYPES))
            counts = rng.poisson(rates[:, :, None] / 7, (SERVICES, TYPES, DAYS))
            for t in range(TYPES):
                rule.episodes(counts[:, t], YEAR_START, DAYS)
                kept = [f for f in rule.last_old if f[3] >= YEAR_START]
                total += len(kept)
                zero += sum(1 for f in kept if f[5] == 0)
                doubled += sum(1 for s in kept for r in kept if s[0] == "service"
                               and r[0] == "region" and s[1] <= r[1]
                               and s[3] <= r[4] and r[3] <= s[4])
        return {"episodes": total, "usual_zero": zero, "service_and_region_twice": doubled,
                "seeds": len(seeds)}
    from core.triage.cluster_rule import series_budget, watched_series

    per_series = series_budget(rule.rules, services=SERVICES,
                               series=watched_series(TYPES, SERVICES, len(REGIONS)))
    variants = {
        "as configured": {},
        "no floor, no borrowing (none before = a usual rate of none)":
            {"cluster_usual_floor_per_week": 0.0, "cluster_borrow_days": 0},
        "budget not shared over the series (each series gets a service's)":
            {"cluster_false_alarms_per_service_year":
             rule.rules.cluster_false_alarms_per_service_year ** 2 / per_series},
        "12-week baseline, 14-day window (as before)":
            {"cluster_baseline_days": 84, "cluster_window_days": 14},
    }
    return {name: {"per_service_year": stationary(Rule(**update), seeds)["per_service_year"],
                   "found_6_in_9_at_1_a_fortnight": detection(Rule(**update), 6, 0.5, seeds)}
            for name, update in variants.items()}


def detection(rule: Rule, size: int, per_week: float, seeds: range) -> float:
    """Share of bursts of `size` reports in 9 days (at `per_week` usual) that are found."""
    found = 0
    for seed in seeds:
        rng = np.random.default_rng(1_000_000 + seed)
        rates = rng.uniform(0.1, 1.0, SERVICES)
        rates[0] = per_week
        counts = rng.poisson(rates[:, None] / 7, (SERVICES, DAYS))
        first = int(rng.integers(400, 700))
        for day in rng.integers(first, first + BURST_DAYS, size):
            counts[0, day] += 1
        last_window_end = first + BURST_DAYS - 1 + rule.window - 1
        found += any(0 in services and last >= first and opened <= last_window_end
                     for opened, last, services in rule.episodes(
                         counts, first - 2 * rule.window, last_window_end + 1))
    return found / len(seeds)


def demo_per_year() -> list[dict[str, Any]]:
    """The demo's cluster review over its last year, at several 'now's."""
    from core.auth.actor import SYSTEM
    from core.clock import to_local, utcnow
    from core.config import settings
    from core.db import engine_for, read_session
    from core.metrics.clusters import clusters_in_period
    from ops.bootstrap import initialise

    try:
        from ops.demo import load_demo
    except ImportError:  # a revision from before the demo moved to ops/ (--before)
        from core.demo import load_demo  # type: ignore[no-redef]

    rows = []
    for text in DEMO_DATES:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/demo.db"
            initialise(url)
            engine = engine_for(url)
            now = datetime.fromisoformat(text)
            load_demo(engine, reports=2500, seed=7, now=now)
            today = to_local(now, settings().zone).date()
            with read_session(engine) as session:
                found = clusters_in_period(session, SYSTEM, today - timedelta(days=365),
                                           today + timedelta(days=1), now=utcnow(),
                                           rules=settings())
            engine.dispose()
        no_action = sum(1 for c in found if getattr(c, "action_status", None) is None)
        late = [c for c in found if c.type_key == "late_shift_start"]
        rows.append({"now": text, "episodes": len(found), "no_action_yet": no_action,
                     "statuses": _statuses(found),
                     "late_start_found": [f"{c.scope} {c.scope_name} {c.start}..{c.end}"
                                          for c in late]})
    return rows


def _statuses(found: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in found:
        status = getattr(c, "status", None) or "(no status)"
        counts[status] = counts.get(status, 0) + 1
    return counts


def measure(seeds: int, with_demo: bool) -> dict[str, Any]:
    rule = Rule()
    result: dict[str, Any] = {
        "rule": "scan (budgeted)" if rule.new else "_windows (p-value)",
        "window_days": rule.window,
        "stationary": stationary(rule, range(seeds)),
        "detection": {name: {str(size): detection(rule, size, rate, range(seeds))
                             for size in BURST_SIZES} for name, rate in RATES.items()},
    }
    result["causes"] = causes(range(min(seeds, 200)))
    if with_demo:
        result["demo"] = demo_per_year()
    return result


# -- before: the same script against an older core -------------------------------------------

def measure_at(rev: str, seeds: int, with_demo: bool) -> dict[str, Any]:
    has_ops = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{rev}:ops"],
                             capture_output=True).returncode == 0
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "core",
                              "data", "migrations", "alembic.ini", *(["ops"] if has_ops else [])],
                             check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        out = Path(folder) / "result.json"
        env = {**os.environ, "PYTHONPATH": folder, "NEARMISS_SETTINGS":
               str(Path(folder) / "data" / "settings.yaml")}
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--only", "here",
                        "--seeds", str(seeds), "--json", str(out)]
                       + (["--demo"] if with_demo else []), check=True, env=env, cwd=folder)
        return json.loads(out.read_text())


# -- output --------------------------------------------------------------------------------

def tables(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| rule | window | false episodes per service-year (mean) | 90th percentile "
             "| seeds |", "|---|---|---|---|---|"]
    for label, r in results.items():
        s = r["stationary"]
        lines.append(f"| {label}: {r['rule']} | {r['window_days']} days | "
                     f"{s['per_service_year']:.2f} | {s['per_service_year_p90']:.2f} | "
                     f"{s['seeds']} |")
    for label, r in results.items():
        lines += ["", f"Detection, {label} (share of bursts found; burst = extra reports "
                      f"within {BURST_DAYS} days):", "",
                  "| usual rate | " + " | ".join(f"{n} in {BURST_DAYS} d" for n in BURST_SIZES)
                  + " |", "|---|" + "---|" * len(BURST_SIZES)]
        for name, row in r["detection"].items():
            lines.append(f"| {name} | " + " | ".join(f"{row[str(n)]:.0%}" for n in BURST_SIZES)
                         + " |")
    for label, r in results.items():
        c = r.get("causes")
        if not c:
            continue
        if "usual_zero" in c:
            lines += ["", f"Causes, {label} ({c['seeds']} seeds of the stationary data): of "
                          f"{c['episodes']} false episodes, {c['usual_zero']} had a usual count "
                          f"of 0 ({c['usual_zero'] / max(1, c['episodes']):.0%}); "
                          f"{c['service_and_region_twice']} service episodes were also told "
                          "as their region's, overlapping."]
        else:
            lines += ["", f"Causes, {label}: one remedy taken away at a time", "",
                      "| variant | false episodes per service-year | 6 in 9 days at 1 a "
                      "fortnight found |", "|---|---|---|"]
            lines += [f"| {name} | {v['per_service_year']:.2f} | "
                      f"{v['found_6_in_9_at_1_a_fortnight']:.0%} |" for name, v in c.items()]
    for label, r in results.items():
        if "demo" not in r:
            continue
        lines += ["", f"Demo (2,500 reports, seed 7), {label}: cluster review over the last 365 "
                      "days", "", "| now | episodes | no action yet | statuses | late-start "
                                  "cluster found as |", "|---|---|---|---|---|"]
        for d in r["demo"]:
            lines.append(f"| {d['now']} | {d['episodes']} | {d['no_action_yet']} | "
                         f"{', '.join(f'{k} {v}' for k, v in d['statuses'].items())} | "
                         f"{'; '.join(d['late_start_found']) or 'not found'} |")
        mean = np.mean([d["episodes"] for d in r["demo"]])
        lines.append(f"| mean | {mean:.1f} | | | |")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colours = dict(zip(RATES, ("#1b9e77", "#d95f02", "#7570b3", "#e7298a"), strict=True))
    styles = {"before": ("--", "o"), "after": ("-", "s")}
    for label, r in results.items():
        line, marker = styles.get(label, ("-", "."))
        fa = r["stationary"]["per_service_year"]
        for name, row in r["detection"].items():
            ax.plot(BURST_SIZES, [row[str(n)] for n in BURST_SIZES], line, marker=marker,
                    color=colours[name], label=f"{label} ({fa:.2f} false/service-yr): usual "
                                               f"{name}")
    ax.axhline(0.95, color="grey", linewidth=0.8)
    ax.annotate("goal: 6 in 9 days at 1 a fortnight, 95%", (6, 0.95), (3.1, 1.02),
                fontsize=8, color="grey")
    ax.set_xlabel(f"burst: extra reports within {BURST_DAYS} days")
    ax.set_ylabel("share of bursts found")
    ax.set_ylim(0, 1.08)
    ax.set_title("Cluster rule: detection by burst size and usual rate")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--only", choices=("before", "after", "here"))
    parser.add_argument("--before", default=BEFORE_REV, help="git revision of the old rule")
    parser.add_argument("--demo", action="store_true", help="also load the demo (slow)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--plot", type=Path, default=HERE / "cluster_alerts.png")
    args = parser.parse_args(argv)
    if args.only == "here":  # one rule: the core on PYTHONPATH (how "before" runs)
        result = measure(args.seeds, args.demo)
        if args.json:
            args.json.write_text(json.dumps(result, indent=1))
        else:
            print(json.dumps(result, indent=1))
        return
    sys.path.insert(0, str(ROOT))  # this checkout's core, whichever venv runs the script
    results: dict[str, dict[str, Any]] = {}
    if args.only in (None, "before"):
        results["before"] = measure_at(args.before, args.seeds, args.demo)
    if args.only in (None, "after"):
        results["after"] = measure(args.seeds, args.demo)
    print(tables(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.plot and len(results) > 0:
        plot(results, args.plot)
        print(f"\nPlot: {args.plot}")


if __name__ == "__main__":
    main()
