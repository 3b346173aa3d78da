"""Time the commissioner's evidence page figures, cold, on a bench database.

Run:  .venv/bin/python bench/evidence_figures.py [--reports 1000000] [--period 2026-Q3] [--profile]

Uses the PostgreSQL database `nearmiss_bench_<reports>` that bench/scale.py and
bench/meeting_load.py load (loaded once, reused). Each run calls
`core.views.commissioner.evidence_figures` directly (no cache, no page), as the commissioner;
the first call is not counted (imports, compiled SQL). `--profile` prints the 25 heaviest
calls of one more run (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # the bench's demo environment and database names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--period", default="2026-Q3")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()
    os.environ["NEARMISS_DATABASE_URL"] = scale._url("postgresql", options.reports)
    from sqlalchemy import select

    from core.accounts.service import build_actor
    from core.auth.models import User
    from core.clock import utcnow
    from core.commissioner.period import parse_period
    from core.config import settings
    from core.db import read_session
    from core.metrics.governance import forget_timings
    from core.views.commissioner import evidence_figures

    rules = settings()
    with read_session() as session:
        actor = build_actor(session.scalar(select(User).where(User.username == "commissioner")),
                            rules=rules)
    period = parse_period(options.period)
    evidence_figures(actor, period, now=utcnow(), rules=rules)  # not counted
    for run in range(1, options.runs + 1):
        forget_timings()  # cold: the medians kept by timings version too
        started = time.perf_counter()
        evidence_figures(actor, period, now=utcnow(), rules=rules)
        print(f"run {run}: {time.perf_counter() - started:.2f} s")
    if options.profile:
        forget_timings()
        profile = cProfile.Profile()
        profile.enable()
        evidence_figures(actor, period, now=utcnow(), rules=rules)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
