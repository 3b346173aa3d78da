"""How the commissioner's figures read, table by table: shown, 0, "fewer than 5", "suppressed".

Not a test: a measurement for the README and reviews. Run against the database in
NEARMISS_DATABASE_URL (e.g. the standard demo), for one or more periods:

    NEARMISS_DATABASE_URL=sqlite:////tmp/demo.db NEARMISS_ENV=demo \\
        python bench/commissioner_cells.py 2026-Q4 2026-Q3

Spreadsheet tables count their inner cells (not the Total row and column). It reads only
what a commissioner is shown, as text, so it also runs on older versions of the portal.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path.cwd()))

from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.commissioner import views as cv
from core.commissioner.period import parse_period
from core.config import settings
from core.db import read_session
from core.exports.pack import export_tables
from core.metrics.governance import Scope

KINDS = ("shown", "0", "fewer than 5", "suppressed")


def reads(value: Any) -> str:
    """How one published figure reads."""
    text = value.text if hasattr(value, "text") else "fewer than 5" if value is None \
        else str(value)
    text = text.strip().lower()
    if text.startswith("fewer than"):
        return "fewer than 5"
    if text == "suppressed":
        return "suppressed"
    return "0" if text in ("0", "0%", "0.0") else "shown"


def tally(values: list[Any]) -> Counter[str]:
    return Counter(reads(v) for v in values)


def measure(label: str) -> dict[str, Counter[str]]:
    period = parse_period(label)
    scope = Scope(period.start, period.end)
    found: dict[str, Counter[str]] = {}
    with read_session() as session:
        for name, rows in export_tables(session, SYSTEM, period, "commissioner",
                                          rules=settings(), now=utcnow()).items():
            if name in ("Actions", "Notes"):
                continue
            cells = [v for row in rows if next(iter(row.values())) != "Total"
                     for k, v in list(row.items())[1:] if k != "Total"]
            found[f"export: {name}"] = tally(cells)
        for dimension in cv.DIMENSIONS:
            found[f"page: by {dimension}"] = tally(
                [v for _, v in cv.breakdown(session, SYSTEM, scope, dimension,
                                            rules=settings()).rows])
        escalations = cv.escalations(session, SYSTEM, scope, rules=settings())
        found["escalations: raised"] = tally([e.raised for e in escalations])
        found["escalations: % in time"] = tally([e.within_time for e in escalations])
        culture = cv.culture(session, SYSTEM, scope, rules=settings())
        found["culture: % without a name"] = tally([culture.anonymous_share])
        found["clusters: reports"] = tally([c.reports for c in cv.clusters(session, SYSTEM,
                                                                           scope, now=utcnow(),
                                                                           rules=settings())])
        register = cv.action_register(session, SYSTEM, start=period.start, end=period.end,
                                      rules=settings())
        rates = [v for column in ("Before (rate)", "During test (rate)")
                 for v in register.get(column, []) if v is not None and v == v]
        found["register: rates"] = tally(rates)
        trend = cv.trend(session, SYSTEM, Scope(period.start - timedelta(weeks=26),
                                                period.end), now=utcnow(), rules=settings())
        found[f"trend: points per {trend.granularity}"] = Counter({"shown": len(trend.frame)})
    return found


def main() -> None:
    for label in sys.argv[1:] or ["2026-Q4", "2026-Q3"]:
        print(f"== {label}")
        print(f"  {'table':42}" + "".join(f"{k:>14}" for k in KINDS))
        for name, counts in measure(label).items():
            print(f"  {name:42}" + "".join(f"{counts.get(k, 0):>14}" for k in KINDS))


if __name__ == "__main__":
    main()
