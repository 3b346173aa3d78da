"""How long the trends chart takes to build: 52 weeks of the demo with its marked go-lives.

Run from the project root against a demo database, e.g.
    NEARMISS_DATABASE_URL=sqlite:////tmp/demo.db .venv/bin/python bench/spc_chart.py
(`nearmiss init` and `nearmiss demo` fill it first.) Prints the median time to build and
serialise the figure (30 runs) and of a trends page run with warm caches (10 runs, AppTest).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.getcwd())
os.environ.setdefault("NEARMISS_ENV", "demo")

from core.auth.actor import SYSTEM
from core.config import settings
from core.db import read_session
from core.metrics import governance as gov
from core.weeks import week_start_of
from ui import governance as gv


def main() -> None:
    end = week_start_of(gv.today()) + timedelta(days=7)
    scope = gov.Scope(start=end - timedelta(weeks=52), end=end)
    with read_session() as session:
        series = gv.complete_weeks(gov.weekly_series(session, SYSTEM, scope, rules=settings()))
        marks = gov.go_live_dates(session, SYSTEM, scope).marks
    # Rebased at the third go-live, as "compare before and after" does: two phases.
    frame = gv.spc_frame(series, [marks[2][0]] if len(marks) > 2 else [], None, "neither")
    times = []
    for _ in range(30):
        started = time.perf_counter()
        gv.spc_figure(frame, marks, title="All near misses", improvement="neither").to_json()
        times.append(time.perf_counter() - started)
    print(f"{len(series)} weeks, {len(marks)} go-lives: figure built and serialised, median "
          f"{statistics.median(times) * 1000:.0f} ms over 30")

    from tests.apptest_helpers import new_app, sign_in

    at = sign_in(new_app(), "quality", "nearmiss-demo")
    at.switch_page("pages/governance.py").run()
    assert not at.exception, at.exception
    runs = []
    for _ in range(10):
        started = time.perf_counter()
        at.run()
        runs.append(time.perf_counter() - started)
    print(f"trends page run (warm caches), median {statistics.median(runs) * 1000:.0f} ms "
          "over 10")


if __name__ == "__main__":
    main()
