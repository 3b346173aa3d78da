"""`nearmiss clusters`: the cluster rule's episodes."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from ops.cli.common import EXIT_CONFIG, fail, guard, ready_engine, say

app = typer.Typer(help="Cluster episodes (the cluster rule's findings).", no_args_is_help=True)


@app.command("recompute")
def clusters_recompute(
    since: Annotated[str | None, typer.Option(help="Scan from this local day (YYYY-MM-DD); "
                                              "default: the whole history.")] = None,
) -> None:
    """Find the cluster episodes in the stored reports (after a bulk load or a change to the
    cluster rule's settings); stored episodes keep their status."""
    from core.actions.episodes import serving_plan
    from core.triage.episodes import recompute_episodes
    from core.uow import UnitOfWork

    try:
        day = date.fromisoformat(since) if since else None
    except ValueError:
        fail(f"--since: {since!r} is not a date (YYYY-MM-DD).", EXIT_CONFIG)
    with guard():
        engine = ready_engine()
        done = recompute_episodes(UnitOfWork(engine), SYSTEM, since=day,
                                  now=utcnow(), rules=settings(),
                                  serving_plan=serving_plan)
        say(f"Cluster episodes: {done.episodes} found, {done.opened} new, {done.extended} "
            f"extended, {done.reopened} opened again.")
