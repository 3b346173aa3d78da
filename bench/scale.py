"""Scale benchmark: the portal's budgets at N near misses on SQLite or PostgreSQL.

Run:  .venv/bin/python bench/scale.py --reports 100000 --backend sqlite
      make bench                      (10k and 100k on both databases; BENCH_SIZES to change)

For one database size it loads the demo provider (kept between runs under bench/out/ or in a
PostgreSQL database named after the size, so a second run reuses it), then measures:

- filing a report (the service call) against a raw INSERT of the same row;
- the triage board page for a supervisor with 500+ open reports, and the action register, each
  cold (caches emptied) and repeated with nothing written (served from the caches keyed by the
  data version);
- each governance page run in AppTest with caches emptied;
- the commissioner's evidence page for the last complete quarter;
- the commissioner pack PDF for the last complete quarter;
- the peak memory of a `streamlit run` server while signed-in users open every heavy page.

Each run measures a copy of the loaded database, dropped after it: the 500 reports it files
(open reports the board must show) never reach the loaded one, so every run sees the same
data. Runs on the loaded database itself added 500 open reports each, and the board of a
second run was not the board of the first.

Each page is timed against its floor: the hand-written SQL that returns the figures it shows
(bench/floors.py, kept honest by tests/integration/test_bench_floors.py), so the ratio says
how much the page costs over what its data costs to fetch. A page run is the app's run in
AppTest, with one script cache for the process, as a server keeps (each AppTest run compiled
app.py and the page again; tests/streamlit_speedups.keep_compiled_scripts).

It prints a Markdown table (median, p95, floor, ratio, budget) for bench/RESULTS.md, and
with `--json FILE` writes the same measures keyed by name (`bench/growth.py` reads them to
compare sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PG_ADMIN = os.environ.get("NEARMISS_TEST_PG_ADMIN_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
sys.path.insert(0, str(ROOT))
OUT.mkdir(parents=True, exist_ok=True)
os.environ.update({"NEARMISS_ENV": "demo", "NEARMISS_DATA_DIR": str(OUT / "data")})

from tests.streamlit_speedups import keep_compiled_scripts  # noqa: E402  (after sys.path)

keep_compiled_scripts()


def _url(backend: str, reports: int) -> str:
    if backend == "sqlite":
        return f"sqlite:///{OUT / f'bench-{reports}.db'}"
    return PG_ADMIN.rsplit("/", 1)[0] + f"/nearmiss_bench_{reports}"


def _prepare(backend: str, reports: int) -> tuple[str, float | None, float | None]:
    """Create and load the database unless it is there already: (url, seconds, peak MB)."""
    from sqlalchemy import create_engine, text

    url = _url(backend, reports)
    if backend == "postgresql":
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": url.rsplit("/", 1)[1]}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"'))
        admin.dispose()
    env = {**os.environ, "NEARMISS_DATABASE_URL": url}
    nearmiss = str(ROOT / ".venv" / "bin" / "nearmiss")
    subprocess.run([nearmiss, "init"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    loaded = subprocess.run([nearmiss, "demo", "--reports", str(reports), "--if-empty"],
                            env=env, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if "no demo data loaded" in loaded.stdout:
        return url, None, None
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return url, seconds, peak_mb


def _run_copy(backend: str, url: str) -> str:
    """A fresh copy of the loaded database at `url` for one run (`_drop_run_copy` after):
    SQLite's online backup (the loaded file may hold a write-ahead log), PostgreSQL's
    database template."""

    if backend == "sqlite":
        import sqlite3
        from contextlib import closing

        loaded = url.removeprefix("sqlite:///")
        copy = loaded.removesuffix(".db") + "-run.db"
        for leftover in (copy, copy + "-wal", copy + "-shm"):
            Path(leftover).unlink(missing_ok=True)
        # closing(): a sqlite3 connection's own `with` ends a transaction, not the connection.
        with closing(sqlite3.connect(loaded)) as source, \
                closing(sqlite3.connect(copy)) as target:
            source.backup(target)
        return f"sqlite:///{copy}"
    name = url.rsplit("/", 1)[1]
    _as_admin(f'DROP DATABASE IF EXISTS "{name}_run"',
              f'CREATE DATABASE "{name}_run" TEMPLATE "{name}"')
    return f"{url}_run"


def _as_admin(*statements: str) -> None:
    """Run statements on the PostgreSQL server's admin database, outside a transaction (as
    CREATE and DROP DATABASE must)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


def _drop_run_copy(backend: str, copy: str) -> None:
    """Remove a run's copy (`_run_copy`)."""
    if backend == "sqlite":
        path = copy.removeprefix("sqlite:///")
        for leftover in (path, path + "-wal", path + "-shm"):
            Path(leftover).unlink(missing_ok=True)
        return
    _as_admin(f'DROP DATABASE IF EXISTS "{copy.rsplit("/", 1)[1]}" WITH (FORCE)')


def _times(action: Callable[[], Any], runs: int) -> list[float]:
    spent = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        spent.append(time.perf_counter() - started)
    return spent


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class Table:
    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.measures: dict[str, dict[str, Any]] = {}

    def add(self, what: str, times: list[float], floor: list[float] | None,
            budget: float | None, *, key: str) -> None:
        """A measure's row; `key` names it the same at every size (`what` may say counts)."""
        median, p95 = statistics.median(times), _p95(times)
        floor_median = statistics.median(floor) if floor else None
        self.measures[key] = {"what": what, "median": median, "p95": p95,
                              "floor": floor_median, "budget": budget}
        ratio = f"{median / floor_median:.1f}×" if floor_median else ""
        measured = p95 if what.startswith("filing") else median
        verdict = "" if budget is None else ("ok" if measured <= budget else "OVER")
        self.rows.append([what, _ms(median), _ms(p95),
                          _ms(floor_median) if floor_median else "", ratio,
                          _ms(budget) if budget else "", verdict])

    def note(self, what: str, value: str, budget: str = "", verdict: str = "") -> None:
        self.rows.append([what, value, "", "", "", budget, verdict])

    def write_json(self, path: Path, title: str) -> None:
        path.write_text(json.dumps({"title": title, "measures": self.measures}, indent=1))

    def print(self, title: str) -> None:
        print(f"\n### {title}\n")
        header = ["measure", "median", "p95", "floor (hand-written SQL)", "ratio", "budget",
                  ""]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in self.rows:
            print("| " + " | ".join(row) + " |")


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


BENCH_TYPES = ("transfer_near_fall", "medication_discrepancy", "environment_equipment", "other",
               "transport", "community_safety")


def bench_draft(i: int, service: int, locations: list[int], now: datetime) -> Any:
    """The bench's `i`th report to file: a busy week of ordinary reports, spread over types,
    places and days (500 of one type in one place would be a cluster the size of the whole
    board)."""
    from core.reports.drafts import NearMissDraft

    return NearMissDraft(
        description=f"Bench near miss {i}: walker out of reach at the doorway.",
        type_key=BENCH_TYPES[i % len(BENCH_TYPES)], occurred_at=now - timedelta(minutes=17 * i),
        service_id=service, location_id=locations[i % len(locations)],
        barrier="staff_recovery", still_at_risk=False)


def page_arguments(description: str) -> argparse.ArgumentParser:
    """The arguments of a bench that runs one page: the database, the page and who opens it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", required=True, help="the database (a bench database)")
    parser.add_argument("--page", required=True)
    parser.add_argument("--user", default="quality")
    return parser


def open_page(url: str, page: str, user: str) -> Any:
    """An AppTest signed in as the demo user `user` on the database at `url`, `page` opened
    once (what a page's later runs are timed from)."""
    os.environ["NEARMISS_DATABASE_URL"] = url

    from core.accounts.users import DEMO_PASSWORD
    from tests.apptest_helpers import new_app, sign_in

    at = sign_in(new_app(), user, DEMO_PASSWORD)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def forget_page_caches() -> None:
    """Empty every cache a page run reads from, for a cold run (what a run after a write
    costs): Streamlit's cached figures, the board's and register's kept reads and the medians
    kept by timings version."""
    import streamlit as st

    from core.metrics import governance as gov
    from ui.governance import forget_kept_reads

    st.cache_data.clear()
    forget_kept_reads()
    gov.forget_timings()


def run(backend: str, reports: int, *, memory: bool, json_path: Path | None = None) -> None:
    """Measure every budget at `reports` near misses on a copy of the loaded database."""
    loaded, load_seconds, load_peak = _prepare(backend, reports)
    url = _run_copy(backend, loaded)
    try:
        _measure(backend, reports, url, load_seconds, load_peak, memory=memory,
                 json_path=json_path)
    finally:
        from core.db import dispose_engines

        dispose_engines()
        _drop_run_copy(backend, url)


def _measure(backend: str, reports: int, url: str, load_seconds: float | None,
             load_peak: float | None, *, memory: bool, json_path: Path | None) -> None:
    """`run`'s measures on the database at `url` (the run's copy)."""
    os.environ["NEARMISS_DATABASE_URL"] = url

    from sqlalchemy import func, insert, select

    from bench import floors
    from core.accounts.service import build_actor
    from core.accounts.users import DEMO_PASSWORD
    from core.actions.queries import RegisterFilters, register, register_choices, register_counts
    from core.auth.models import User
    from core.clock import utcnow
    from core.commissioner.period import parse_period
    from core.config import settings
    from core.db import get_engine, read_session
    from core.exports.pack_pdf import build_pack
    from core.filing.service import file_near_miss
    from core.metrics import governance as gov
    from core.organisation.queries import reporting_options
    from core.reports.models import NearMissReport
    from core.reports.workflow import BOARD_COLUMNS
    from core.taxonomy.service import live_taxonomy
    from core.triage.board import BoardFilters, load_board
    from core.uow import UnitOfWork
    from core.views import triage_board as board_views
    from core.weeks import week_start_of
    from tests.apptest_helpers import new_app, sign_in
    from tests.builders import local_now
    from ui.governance import today

    engine = get_engine()
    zone = settings().zone
    table = Table()
    runs = 5 if reports <= 100_000 else 3  # a cold governance run at a million takes seconds
    with read_session() as session:
        total = session.scalar(select(func.count()).select_from(NearMissReport))
        users = {u.username: build_actor(u,
                                         rules=settings()) for u in session.scalars(select(User))}
        supervisor = users["supervisor"]
        options = reporting_options(session, supervisor)
    if load_seconds is not None:
        table.note("demo load (`nearmiss demo`)", f"{load_seconds:.0f} s",
                   verdict=f"peak {load_peak:.0f} MB")

    # Filing: the supervisor files 500 reports into one of their services (these are the open
    # reports their board must show), against a raw INSERT of the same row.
    service = options.services[0].id
    locations = [choice.id for choice in options.locations[service]]
    now = local_now()
    counter = iter(range(10**9))
    filing = _times(lambda: file_near_miss(
        UnitOfWork(), supervisor, bench_draft(next(counter), service, locations, now),
        now=utcnow(), rules=settings()), 500)
    with read_session() as session:
        template = session.scalars(select(NearMissReport).order_by(
            NearMissReport.id.desc()).limit(1)).one()
        row = {c.key: getattr(template, c.key) for c in NearMissReport.__table__.columns
               if c.key != "id"}
    raw_counter = iter(range(10**9))

    def raw_insert() -> None:
        n = next(raw_counter)
        with engine.begin() as conn:
            conn.execute(insert(NearMissReport.__table__).values(
                {**row, "reference": f"RAW-{n}", "submission_key": f"raw-{n}-{time.time_ns()}"}))

    floor = _times(raw_insert, 100)
    with engine.begin() as conn:  # the raw rows are not reports anyone filed
        conn.execute(NearMissReport.__table__.delete().where(
            NearMissReport.reference.like("RAW-%")))
    table.add("filing a report (p95 budget)", filing, floor, 0.050, key="filing")

    # The triage board, against its columns (filters at their defaults, the interface types
    # those routed to operations), its cards' clocks, the regulator section and clusters.
    with read_session() as session:
        board = load_board(session, supervisor, BoardFilters(), now=utcnow())
        interface_types = tuple(t.key for t in live_taxonomy(session).types
                                if t.route_to == "operations")

    def board_floor_query() -> None:
        with read_session() as session:
            floors.triage_board(session, supervisor, now=utcnow(), rules=settings(),
                                interface_types=interface_types)

    board_floor = _times(board_floor_query, 20)

    def board_reads() -> None:
        # What a cold page run reads, through the page's own view functions, without
        # Streamlit: the filters' choices, the columns and their cards' clocks, the cluster
        # section's totals and the regulator section's (its events too when a clock is overdue,
        # as the section then opens by itself).
        now, rules = utcnow(), settings()
        board_views.board_choices(supervisor)
        board_views.board_columns(supervisor, BoardFilters(), page_size=floors.BOARD_PAGE_SIZE,
                                  pages=dict.fromkeys(BOARD_COLUMNS, 1), now=now, rules=rules)
        board_views.board_cluster_totals(supervisor, now=now, rules=rules)
        regulator = board_views.board_regulator(
            supervisor, now=now, rules=rules, page_size=floors.BOARD_REGULATOR_PAGE_SIZE,
            details=False)
        if regulator.overdue:
            board_views.board_regulator(supervisor, now=now, rules=rules,
                                        page_size=floors.BOARD_REGULATOR_PAGE_SIZE)

    table.add("triage board's reads alone (the page's view functions, no Streamlit)",
              _times(board_reads, 20), board_floor, None, key="triage board, reads")
    at = open_page(url, "pages/triage_board.py", "supervisor")
    open_reports = sum(board.counts.values())

    def board_cold() -> None:
        forget_page_caches()
        at.run()

    # Cold: its caches emptied (what a run after a write costs). Repeated: nothing written
    # since, so its reads come from the caches keyed by the data version (ui/board.py).
    table.add(f"triage board, {open_reports} open (cold page run)", _times(board_cold, 10),
              board_floor, 0.5, key="triage board, cold")
    table.add(f"triage board, {open_reports} open (page run repeated)", _times(at.run, 10),
              board_floor, 0.5, key="triage board, repeated")
    # What every page run above pays before its own reads and drawing: the board's run with the
    # page's own script skipped (the sign-in check, navigation and menu, and AppTest's own
    # work of running the script and reading back what it drew), so a page's time can be read
    # as this plus its own part.
    from streamlit.navigation.page import StreamlitPage

    with mock.patch.object(StreamlitPage, "run", lambda self: None):
        frame = _times(board_cold, 10)
    table.add("the app's frame alone (a run with the page's own script skipped)", frame, None,
              None, key="app frame")

    # Governance pages, caches emptied before each run (the worst case).
    quality = users["quality"]
    end = week_start_of(today()) + timedelta(days=7)
    scope = gov.Scope(start=end - timedelta(weeks=52), end=end)

    def floor_of(fn: Callable[[Any], Any]) -> Callable[[], None]:
        def call() -> None:
            with read_session() as session:
                fn(session)
        return call

    period_args = (scope.start, scope.end, zone)
    pages = {
        "pages/governance.py": floor_of(lambda s: floors.trends(s, quality, *period_args)),
        "pages/governance_breakdowns.py": floor_of(
            lambda s: floors.breakdown_by_type(s, quality, *period_args)),
        "pages/governance_clusters.py": floor_of(lambda s: (
            floors.clusters(s, quality, *period_args),
            floors.repeats(s, quality, *period_args))),
        "pages/governance_culture.py": floor_of(lambda s: (
            floors.culture(s, quality, *period_args),
            floors.feedback_measures(s, quality, *period_args))),
        "pages/governance_controls.py": floor_of(lambda s: (
            floors.barrier_mix(s, quality, *period_args),
            floors.control_strength(s, quality, today=today()))),
    }
    # Issue 11's budgets: 1 s on SQLite up to 100k, 2 s on PostgreSQL (at 1M); SQLite at a
    # million has none (a provider that large runs PostgreSQL).
    budget = (2.0 if backend == "postgresql" else 1.0 if reports <= 100_000 else None)
    # What a page shows grows with the data where the floor does not say so: the clusters page
    # lists each cluster episode of the year (and a decision form for each open one).
    with read_session() as session:
        shown = {"pages/governance_clusters.py":
                 f", {len(floors.clusters(session, quality, *period_args))} clusters"}
    at = sign_in(new_app(), "quality", DEMO_PASSWORD)
    for page, query in pages.items():
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)

        def cold(page: str = page) -> None:
            forget_page_caches()
            at.switch_page(page).run()

        page_runs = _times(cold, runs)
        floor = _times(query, runs)
        table.add(f"{page.removeprefix('pages/')}{shown.get(page, '')} (cold page run)",
                  page_runs, floor, budget, key=page.removeprefix("pages/"))

    # The commissioner pack for the last complete quarter.
    this_quarter = (today().month - 1) // 3
    year = today().year if this_quarter else today().year - 1
    quarter = this_quarter or 4
    period = parse_period(f"{year}-Q{quarter}")
    commissioner = users["commissioner"]

    # The action register (every action plan's actions; no budget in the issue) and the
    # commissioner's evidence page for that quarter, each against the queries they need.
    with read_session() as session:
        actions = register_counts(session, quality, RegisterFilters(), today=today(),
                                  rules=settings()).total

    def register_queries() -> None:
        with read_session() as session:
            register_choices(session, quality)
            register(session, quality, RegisterFilters(), today=today(), rules=settings())
            register_counts(session, quality, RegisterFilters(), today=today(), rules=settings())

    at.switch_page("pages/actions.py").run()
    assert not at.exception, at.exception
    register_floor = _times(register_queries, runs)

    def register_cold() -> None:
        forget_page_caches()
        at.run()

    table.add(f"action register, {actions} actions (cold page run)", _times(register_cold, runs),
              register_floor, None, key="action register, cold")
    table.add(f"action register, {actions} actions (page run repeated)", _times(at.run, runs),
              register_floor, None, key="action register, repeated")

    def evidence_queries() -> None:
        with read_session() as session:
            floors.evidence(session, period.start, period.end, settings(), now=utcnow())

    evidence = open_page(url, "pages/commissioner.py", "commissioner")
    # The page opens on the last complete quarter: the pack's period. Its caches are emptied
    # before each run, as for the governance pages: a rerun that hits the data-version cache
    # would time the cache, not the page, against a floor that reads the database.

    def evidence_cold() -> None:
        forget_page_caches()
        evidence.run()

    with read_session() as session:  # the page lists each action live in the quarter
        live = len(floors.evidence(session, period.start, period.end, settings(),
                                   now=utcnow())["register"])
    table.add(f"evidence page, {period.label}, {live} actions (cold page run)",
              _times(evidence_cold, runs), _times(evidence_queries, runs), None,
              key="evidence page")

    def pack() -> None:
        with read_session() as session:
            build_pack(session, commissioner, period, "commissioner", now=utcnow(),
                       rules=settings())

    table.add(f"commissioner pack PDF, {period.label}", _times(pack, 3), None, 20.0,
              key="commissioner pack")
    if memory:
        table.note("streamlit server peak memory", f"{_server_peak_mb(url):.0f} MB", "600 MB")
    title = f"{backend}, {total:,} near misses ({date.today():%Y-%m-%d})"
    table.print(title)
    if json_path is not None:
        table.write_json(json_path, title)


def _server_peak_mb(url: str) -> float:
    """Run `streamlit run`, open every heavy page as three users, read the peak RSS."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, serve_portal
    from tests.browser.pages import LONG, wait_for_session_cookie, wait_until_idle

    log = OUT / "streamlit.log"
    with serve_portal(url, log) as base, sync_playwright() as playwright:
        pid = _listening_pid(base)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # URL paths are the pages' file names (app.py gives st.Page no url_path).
        visits = {"supervisor": ["triage_board", "actions"],
                  "quality": ["governance", "governance_breakdowns", "governance_clusters",
                              "governance_culture", "governance_controls"],
                  "commissioner": ["commissioner"]}
        for username, paths in visits.items():
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(base)
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password", exact=True).fill("nearmiss-demo")
            page.get_by_role("button", name="Sign in").click()
            wait_for_session_cookie(page)
            for path in paths:
                page.goto(f"{base}/{path}")
                page.wait_for_selector("h1", timeout=LONG)
                wait_until_idle(page)
        browser.close()
        status = Path(f"/proc/{pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def _listening_pid(base: str) -> int:
    """The pid listening on the server's port (a fork of the tests' warm parent, so its
    command line does not name the port)."""
    port = base.rsplit(":", 1)[1]
    found = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True,
                           text=True, check=True).stdout
    return int(found.split("pid=", 1)[1].split(",", 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the streamlit server memory measure (needs chromium)")
    parser.add_argument("--json", type=Path, help="also write the measures to this file")
    args = parser.parse_args()
    run(args.backend, args.reports, memory=not args.no_memory, json_path=args.json)


if __name__ == "__main__":
    main()
