"""`nearmiss digest`: the facts of a period for a quality lead."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from ops.cli.common import fail, guard, ready_engine, say


def digest_command(
    start: Annotated[datetime, typer.Option(
        "--from", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="First day of the period (the provider's local time).")],
    end: Annotated[datetime, typer.Option(
        "--to", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="Last day of the period (inclusive).")],
    output_format: Annotated[str, typer.Option(
        "--format", help="json (for another system) or md (for an email).")] = "json",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write to this file instead of the screen.", dir_okay=False)] = None,
) -> None:
    """The facts of a period for a quality lead: totals by type and service, clusters found
    (with their reports' references), control-chart signals, escalations and their
    acknowledgement times, actions overdue and verified. The JSON keys are in the README."""
    import json

    from core.db import read_session
    from core.metrics.digest import digest, digest_markdown

    if output_format not in ("json", "md"):
        fail("--format must be json or md.", code=2)
    if end < start:
        fail("--to is before --from.", code=2)
    with guard():
        engine = ready_engine()
        with read_session(engine) as session:
            facts = digest(session, SYSTEM, start.date(), end.date(),
                           now=utcnow(), rules=settings())
        text = (json.dumps(facts, indent=2, ensure_ascii=False) + "\n"
                if output_format == "json" else digest_markdown(facts))
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            say(f"Digest for {start:%Y-%m-%d} to {end:%Y-%m-%d} written to {out}.")
