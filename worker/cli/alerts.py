"""`ces alerts`: the alert deliveries, and resending failed ones."""

from __future__ import annotations

import typer

from ces.worker.cli.common import FORMAT, LIMIT, UNCERTAIN_TOO, Format, ids_argument, out, resend_each, runtime
from ces.worker.queries import listings
from ces.worker.queries.formats import render
from ces.worker.queries.scope import Scope

alerts_app = typer.Typer(help="Alert deliveries: list them (with --failed, the ones that need a look), resend.")


@alerts_app.callback(invoke_without_command=True)
def alerts_cmd(ctx: typer.Context,
               failed: bool = typer.Option(False, "--failed", help="only failed and uncertain deliveries"),
               limit: int = LIMIT, fmt: Format = FORMAT):
    """Alert deliveries with their state, age and the follow-up state (webhook URLs never shown)."""
    if ctx.invoked_subcommand:
        return
    rows = listings.alerts(Scope.everything(), runtime(), failed=failed, limit=limit)
    columns = ["id", "kind", "route", "to", "ticket", "state", "follow_up", "age", "reason"]
    # `note`: what the person who marked the case followed up said was done (JSON and CSV).
    out(render(rows, columns if fmt == Format.table else columns + ["type", "created", "note"], fmt.value))


@alerts_app.command("resend")
def alerts_resend(alert_ids: list[int] = ids_argument("alert"), uncertain: bool = UNCERTAIN_TOO):
    """Deliver failed alerts again, once the route is fixed."""
    resend_each("alert", alert_ids, uncertain)
