"""`ces connectors list|setup|test|provision`: the helpdesks, their webhook URLs, whether they
answer, and setting up their webhooks through the helpdesk's API."""

from __future__ import annotations

import typer

from ces.connectors.errors import Unsupported
from ces.worker.cli.common import FORMAT, CliError, Format, out, runtime
from ces.worker.helpdesk_address import run_checks
from ces.worker.queries import listings
from ces.worker.queries.formats import render

connectors_app = typer.Typer(no_args_is_help=True, help="Helpdesk connectors: list, test, setup steps, provision.")


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
    _print_results(results)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _print_results(results) -> None:
    for r in results:
        out(f"{'ok  ' if r.ok else 'FAIL'}  {r.name}: {r.detail}")


def _where(conn, name: str) -> str:
    """Where the connector reads secret `name` from, in words."""
    ref = conn.settings.secret_ref(name)
    if ref.file:
        return f"the file {ref.file}"
    if ref.variables:
        return f"the variable {ref.variables[0]}"
    return f"a variable named by {name}_env in the connector's table"


SHOW_SECRET = typer.Option(False, "--show-secret", help="Also print the secret (it lands in your terminal's history).")
TEST = typer.Option(False, "--test", help="Then ask the helpdesk for a signed test webhook (where it can send one).")


@connectors_app.command("provision")
def connectors_provision(connector_id: str, show_secret: bool = SHOW_SECRET, test: bool = TEST):
    """Create or update the webhook (and triggers) in the helpdesk through its API, named with the
    connector's id; running it again changes only what differs. Prints each step."""
    rt = runtime(check_schema=False, quiet=True)
    conn = _connector(rt, connector_id)
    try:
        done = conn.provision()
    except Unsupported as exc:
        raise CliError(f"{exc}: follow the steps of `ces connectors setup {connector_id}`") from None
    _print_results(done.steps)
    for name, value in done.secrets.items():
        out(f"store the {name} the helpdesk now uses in {_where(conn, name)}"
            + (f": {value}" if show_secret else " (`--show-secret` prints it)"))
    if done.ok and test:
        _test_delivery(conn)
    if not done.ok:
        raise typer.Exit(1)


def _test_delivery(conn) -> None:
    """The helpdesk's test webhook, once the secret is stored; a helpdesk that cannot send one
    is no failure (the first real webhook will tell)."""
    try:
        result = conn.test_delivery()
    except Unsupported as exc:
        out(f"skip  test delivery: {exc}; the first real webhook will show in `ces events`")
        return
    _print_results([result])
    if not result.ok:
        raise typer.Exit(1)
