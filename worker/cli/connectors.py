"""`ces connectors list|setup|test`: the helpdesks, their webhook URLs, and whether they answer."""

from __future__ import annotations

import typer

from ces.worker.cli.common import FORMAT, CliError, Format, out, runtime
from ces.worker.helpdesk_address import run_checks
from ces.worker.queries import listings
from ces.worker.queries.formats import render

connectors_app = typer.Typer(no_args_is_help=True, help="Helpdesk connectors: list, test, setup steps.")


def _connector(rt, connector_id: str):
    conn = rt.connector(connector_id)
    if conn is None:
        known = ", ".join(rt.connectors) or "none configured"
        raise CliError(f"no connector {connector_id!r} (known: {known})")
    return conn


@connectors_app.command("list")
def connectors_list(fmt: Format = FORMAT):
    """Connectors with their webhook URL, state, last event and last error."""
    rows = listings.connectors(runtime())
    columns = ["id", "kind", "webhook_url", "mode", "last_event", "api_calls_last_minute", "rate_limit_per_minute",
               "last_error_at", "last_error"]
    out(render(rows, columns + (["can"] if fmt != Format.table else []), fmt.value))


@connectors_app.command("setup")
def connectors_setup(connector_id: str):
    """Print the webhook URL and the exact steps to take in the helpdesk."""
    rt = runtime(check_schema=False)
    out(_connector(rt, connector_id).setup_instructions())


@connectors_app.command("test")
def connectors_test(connector_id: str):
    """Call the helpdesk with the configured credentials and say what works."""
    rt = runtime(check_schema=False, quiet=True)
    conn = _connector(rt, connector_id)
    # Addresses entered in the console are checked as the console checks them; the file's are the operator's.
    results = run_checks(conn, check_address_first=conn.id in rt.live_connectors.snapshot().stored,
                             allow_http=rt.settings.console.allow_http_helpdesks)
    for r in results:
        out(f"{'ok  ' if r.ok else 'FAIL'}  {r.name}: {r.detail}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)
