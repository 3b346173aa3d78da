"""`nearmiss audit`: verify the audit trail, seal its end, make a new audit key."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import Engine

from core.clock import utcnow
from ops.cli.common import EXIT_FAILED, fail, guard, ready_engine, say, warn

app = typer.Typer(help="Check the audit trail.", no_args_is_help=True)


@app.command("verify")
def audit_verify(
    chain_only: Annotated[bool, typer.Option("--chain-only", help="Check the signed chain "
                          "only, not the reports, escalations and actions against it.")] = False,
    show: Annotated[int, typer.Option(min=1, help="Show at most this many rows that differ "
                                      "from the audit trail.")] = 50,
) -> None:
    """Check every audit event's signature, its links and the signed chain end; then that every
    report, escalation, action and plan holds what the trail last recorded for it.

    Exit 1 names the first bad event, or each row edited outside the portal (table, row id,
    field, the value in the database and the last audited one).
    """
    from core.audit.chain import verify_chain
    from core.audit.keys import LEGACY_KEY_ID
    from core.db import read_session

    with guard():
        engine = ready_engine()
        with read_session(engine) as session:
            report = verify_chain(session)
        if report.ok:
            signed = report.events_checked - report.legacy_events
            keys = ", ".join(repr(k) for k in report.key_ids) or "none"
            legacy = (f"; {report.legacy_events} legacy events ({LEGACY_KEY_ID}, written before "
                      "the audit key) sealed by the first signed one" if report.legacy_events
                      else "")
            say(f"Audit chain OK: {report.events_checked} events ({signed} signed with key "
                f"{keys}{legacy}).")
        else:
            where = f" at event {report.first_bad_seq}" if report.first_bad_seq is not None else ""
            warn(f"Audit chain BROKEN{where}: {report.reason}. "
                 f"{report.events_checked} events before it verified.")
        state_ok = True if chain_only else _state_matches(engine, show)
        if not report.ok or not state_ok:
            raise typer.Exit(EXIT_FAILED)


def _state_matches(engine: Engine, show: int) -> bool:
    """Compare the stored rows with what the trail last recorded; print what differs."""
    from core.integrity.state import verify_state

    state = verify_state(engine, limit=show)
    tables = ", ".join(f"{count:,} {table}" for table, count in state.compared.items())
    bulk = ", ".join(f"{count:,} {table}" for table, count in state.bulk.items() if count)
    if state.ok:
        say(f"Current state matches the audit trail: {tables} compared.")
    else:
        warn(f"Current state does NOT match the audit trail in {state.total_mismatches} places "
             "(edited outside the portal):")
        for mismatch in state.mismatches:
            warn(f"  {mismatch.describe()}")
        if state.total_mismatches > len(state.mismatches):
            warn(f"  and {state.total_mismatches - len(state.mismatches)} more (--show N lists "
                 "more).")
        say(f"Compared: {tables}.")
    if bulk:
        say(f"Loaded in bulk by the demo, with no event of their own (not compared): {bulk}.")
    return state.ok


@app.command("seal")
def audit_seal(
    trust_unsigned: Annotated[bool, typer.Option(
        "--trust-unsigned", help="Also sign an end that is not signed at all (only for a "
        "database upgraded by other means than `nearmiss init`, after checking its trail).")
    ] = False,
) -> None:
    """Sign the end of the audit trail with the current key now (after a key rotation).

    `nearmiss init` does this itself; every write signs with the current key anyway.
    """
    from core.integrity.seal import seal_trail

    with guard():
        engine = ready_engine()
        sealed = seal_trail(engine, trust_unsigned=trust_unsigned, now=utcnow())
        if sealed is None:
            say("The audit trail's end is already signed with the current key.")
        else:
            say(f"Audit trail sealed: its {sealed.events_before} events, last signed with "
                f"{sealed.previous_key_id!r}, are now followed by an event signed with "
                f"{sealed.key_id!r}.")


@app.command("new-key")
def audit_new_key(
    key_id: Annotated[str | None, typer.Option("--id", help="The new key's id (default: one "
                                               "more than the highest numeric id on the "
                                               "keyring, or 1).")] = None,
) -> None:
    """Print a new random audit key line (ID:SECRET) to add as the last line of the key file."""
    import secrets

    from core.audit.keys import KEY_ID_PATTERN, AuditKeyProblem, load_keyring

    if key_id is None:
        try:
            numbers = [int(k.key_id) for k in load_keyring().keys if k.key_id.isdigit()]
        except AuditKeyProblem:
            numbers = []
        key_id = str(max(numbers, default=0) + 1)
    if not KEY_ID_PATTERN.match(key_id):
        fail("--id: use letters, digits, dots, dashes or underscores (up to 32).", code=2)
    typer.echo(f"{key_id}:{secrets.token_urlsafe(48)}")
