"""`ces events`: the stored webhook events, and replaying one."""

from __future__ import annotations

import typer

from ces.worker.cli.common import FORMAT, LIMIT, CliError, Format, out, runtime
from ces.worker.queries import listings
from ces.worker.queries.formats import render
from ces.worker.resend import NotResent, replay_event

events_app = typer.Typer(help="Stored webhook events: list them, replay a failed one.")


@events_app.callback(invoke_without_command=True)
def events(ctx: typer.Context, failed: bool = typer.Option(False, "--failed", help="only failed events"),
           limit: int = LIMIT, fmt: Format = FORMAT):
    """Stored webhook events with their state and outcome, newest first."""
    if ctx.invoked_subcommand:
        return
    rows = listings.events(runtime(), failed=failed, limit=limit)
    out(render(rows, ["id", "connector", "ticket", "event", "state", "attempts", "received", "outcome"], fmt.value))


@events_app.command("replay")
def events_replay(event_id: int):
    """Process a failed (or done) event again; duplicates of its effects are still prevented."""
    rt = runtime()
    try:
        queued = replay_event(rt, event_id)
    except NotResent as exc:
        raise CliError(str(exc)) from None
    out(f"event {event_id} queued again" + ("" if queued else " (broker down: the scheduler will enqueue it)"))
