"""Where a page's time in the database goes: each SQL statement of one cold page run, timed alone.

Run:  PYTHONPATH=$PWD .venv/bin/python bench/statement_times.py \
          --url sqlite:///bench/out/bench-100000.db --page pages/governance_clusters.py \
          --user quality [--top 12]

Signs in as `--user` (a demo user), opens `--page`, empties the caches (as the bench's cold
runs do) and records every statement the next run sends. Then it runs each SELECT again on
its own connection, three times, and prints the fastest time of each, slowest first, with the
rows it returned and the total: what the page asks of the database, apart from what Python
does with the answers. SQLite only (PostgreSQL has `pg_stat_statements` for this).
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # sets the demo environment the sign-in needs


def main() -> None:
    parser = scale.page_arguments(__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=12)
    options = parser.parse_args()
    if not options.url.startswith("sqlite:///"):
        parser.error("SQLite only")
    at = scale.open_page(options.url, options.page, options.user)

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", record)
    scale.forget_page_caches()
    at.run()
    event.remove(Engine, "before_cursor_execute", record)

    database = sqlite3.connect(options.url.removeprefix("sqlite:///"))
    timed: list[tuple[float, int, str]] = []
    for statement, parameters in sent:
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        fastest = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            rows = database.execute(statement, parameters).fetchall()
            fastest = min(fastest, time.perf_counter() - started)
        timed.append((fastest, len(rows), " ".join(statement.split())))
    print(f"{options.page} as {options.user}: {len(timed)} statements, "
          f"{sum(t for t, _, _ in timed) * 1000:.1f} ms in the database")
    for seconds, rows, statement in sorted(timed, reverse=True)[:options.top]:
        print(f"{seconds * 1000:7.2f} ms {rows:7d} rows  {statement[:160]}")


if __name__ == "__main__":
    main()
