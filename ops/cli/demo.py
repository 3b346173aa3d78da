"""`nearmiss demo`: fill the database with a fictional provider (for trying the portal out)."""

from __future__ import annotations

from typing import Annotated

import typer

from core.clock import to_local, utcnow
from core.config import environment, settings
from ops.cli.common import fail, guard, progress_bar, ready_engine, say


def demo(
    reports: Annotated[int, typer.Option(min=1, help="How many near misses to generate.")] = 2500,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 7,
    months: Annotated[int, typer.Option(min=1, help="Spread the reports over this many "
                                                    "months up to today.")] = 18,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing when the database "
                                           "already holds reports.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Load demo data even though "
                                        "NEARMISS_ENV is not demo.")] = False,
) -> None:
    """Fill the database with a fictional provider and its near misses (for trying it out)."""
    with guard():
        engine = ready_engine()
        if not environment().is_demo and not force:
            # Fictional reports in a live database cannot be removed (the audit trail keeps
            # them), so this needs saying twice.
            fail("This is not a demo installation (NEARMISS_ENV is not 'demo'). Demo data "
                 "would mix with real reports for good. Set NEARMISS_ENV=demo, or pass "
                 "--force if you are sure.")
        from core.db import read_session, refresh_planner_statistics
        from core.reports.queries import count_reports

        if if_empty:
            with read_session(engine) as session:
                existing = count_reports(session)
            if existing:
                say(f"The database already holds {existing} reports: no demo data loaded "
                    "(--if-empty).")
                return
        # The one place the command line reaches the demo generator.
        from core.regulator.demo_history import record_demo_clocks
        from ops.demo import load_demo

        with progress_bar() as bar:
            def progress(done: int, total: int) -> None:
                bar.update("Generating demo data", done, total)

            summary = load_demo(engine, reports=reports, seed=seed, months=months,
                                progress=progress)
        span = ""
        if summary.first_occurred and summary.last_occurred:
            # The provider's days: in UTC an evening report in New York is the next day's.
            zone = settings().zone
            span = (f", {to_local(summary.first_occurred, zone):%Y-%m-%d} to "
                    f"{to_local(summary.last_occurred, zone):%Y-%m-%d}")
        say(f"Demo data loaded: {summary.reports} reports across {summary.services} "
            f"services{span}: {summary.triaged} triaged, {summary.reviewed} reviewed, "
            f"{summary.closed} closed, {summary.escalations} escalations, "
            f"{summary.action_plans} action plans with {summary.actions} actions, "
            f"{summary.feedback_updates} \"what changed\" updates.")
        if summary.users_created:
            say(f"Demo users created: {', '.join(summary.users_created)}.")
        say(record_demo_clocks(engine, seed=seed,
                               now=utcnow(), rules=settings()).line())  # regulator clocks' history
        # The clocks came after load_demo's statistics: the board plans by their count too.
        refresh_planner_statistics(engine, ("regulator_decisions", "regulator_clocks"))
