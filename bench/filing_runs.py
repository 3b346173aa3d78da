"""Filing, run after run: each filing's time, and the statements that took it.

Run:  PYTHONPATH=$PWD .venv/bin/python bench/filing_runs.py \
          --url postgresql+psycopg://postgres@127.0.0.1:5432/nearmiss_bench_1000000 \
          [--filings 100] [--rounds 2]

Files `--filings` reports as the supervisor, into one service, as `bench/scale.py` does (so
each run adds that many reports to the bench database), and prints each round's median and
p95 and the statements that took most of its time, with the slowest single run of each. A
first round on a database not read since it was loaded shows what a cold cache costs; the
next ones, the steady state.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # sets the demo environment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a bench database")
    parser.add_argument("--filings", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    os.environ["NEARMISS_DATABASE_URL"] = options.url

    from sqlalchemy import event, select
    from sqlalchemy.engine import Engine

    from core.accounts.service import build_actor
    from core.auth.models import User
    from core.clock import utcnow
    from core.config import settings
    from core.db import read_session
    from core.filing.service import file_near_miss
    from core.organisation.queries import reporting_options
    from core.uow import UnitOfWork
    from tests.builders import local_now

    with read_session() as session:
        supervisor = build_actor(session.scalars(
            select(User).where(User.username == "supervisor")).one(), rules=settings())
        places = reporting_options(session, supervisor)
    service = places.services[0].id
    locations = [choice.id for choice in places.locations[service]]
    now = local_now()
    spent: dict[str, list[float]] = defaultdict(list)
    started_at: dict[int, float] = {}

    def before(_conn: Any, cursor: Any, *_: Any) -> None:
        started_at[id(cursor)] = time.perf_counter()

    def after(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        began = started_at.pop(id(cursor), None)
        if began is not None:
            spent[" ".join(statement.split())[:120]].append(time.perf_counter() - began)

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    filed = 0
    for round_number in range(1, options.rounds + 1):
        spent.clear()
        times = []
        for _ in range(options.filings):
            draft = scale.bench_draft(filed, service, locations, now)
            started = time.perf_counter()
            file_near_miss(UnitOfWork(), supervisor, draft, now=utcnow(), rules=settings())
            times.append(time.perf_counter() - started)
            filed += 1
        times.sort()
        print(f"round {round_number}: {options.filings} filings, median "
              f"{statistics.median(times) * 1000:.1f} ms, p95 "
              f"{times[int(len(times) * 0.95)] * 1000:.1f} ms, slowest "
              f"{times[-1] * 1000:.1f} ms")
        for statement, seconds in sorted(spent.items(), key=lambda s: -sum(s[1]))[:5]:
            print(f"  {sum(seconds) / options.filings * 1000:6.2f} ms a filing, slowest "
                  f"{max(seconds) * 1000:6.1f} ms  {statement}")


if __name__ == "__main__":
    main()
