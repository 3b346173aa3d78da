"""Soak: N writers filing, triaging and acting at once for longer than CI can afford.

Run: .venv/bin/python bench/soak_writers.py [--writers 16] [--seconds 60] [--backend both]
Prints, per backend, the operations done, rows stored, retries and whether every check held
(exactly once, gapless references, one audit event per write, chain verifies).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
work = Path(tempfile.mkdtemp(prefix="nearmiss-soak-"))
os.environ.update({
    "NEARMISS_SETTINGS": str(ROOT / "tests" / "fixtures" / "settings.yaml"),
    "NEARMISS_COOKIE_KEY": "bench-cookie-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "NEARMISS_AUDIT_KEY": "bench:bench-audit-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "NEARMISS_DATA_DIR": str(work),
})

from sqlalchemy import create_engine, text  # noqa: E402

from core.db import dispose_engines, engine_for  # noqa: E402
from ops.bootstrap import initialise  # noqa: E402
from tests.builders import build_org  # noqa: E402
from tests.concurrency_workload import run_shift, what_was_stored  # noqa: E402

PG_ADMIN = os.environ.get("NEARMISS_TEST_PG_ADMIN_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def soak(url: str, writers: int, seconds: float) -> list[str]:
    initialise(url)
    engine = engine_for(url)
    org = build_org(engine)
    tally = run_shift(engine, org, writers=writers, seconds=seconds)
    stored = what_was_stored(engine)
    held = {
        "no writer error": not tally.errors,
        "every accepted report stored once": stored.reports == len(set(tally.filed.values()))
        == stored.distinct_references,
        "references gapless": stored.reference_numbers == list(range(1, stored.reports + 1)),
        "one filed event per report": set(stored.filed_events.values()) <= {1}
        and sum(stored.filed_events.values()) == stored.reports,
        "triage events match": stored.events_by_action["report.triaged"] == len(tally.triaged),
        "chain verifies": stored.chain_ok,
    }
    return [engine.dialect.name, str(writers), f"{seconds:g}", str(tally.operations),
            str(stored.reports), str(len(tally.triaged)), str(len(tally.plans)),
            str(stored.chain_events), str(sum(tally.retries.values())),
            "yes" if all(held.values()) else "NO: " + ", ".join(k for k, v in held.items()
                                                                  if not v)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    rows = []
    if args.backend in ("sqlite", "both"):
        rows.append(soak(f"sqlite:///{work / 'soak.db'}", args.writers, args.seconds))
    if args.backend in ("postgresql", "both"):
        name = f"nearmiss_soak_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            rows.append(soak(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", args.writers,
                             args.seconds))
        finally:
            dispose_engines()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    header = ["database", "writers", "seconds", "operations", "reports", "triaged", "plans",
              "audit events", "retries", "all checks held"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
