"""`ces users`: the console's accounts. `add` and `reset` print a one-time sign-in link (valid
`console.link_hours`) where the person sets a password; `disable` ends their sessions at once."""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from ces.worker import listing
from ces.worker.console import users
from ces.worker.db.models import Role
from ces.worker.privacy import normalize_email

users_app = typer.Typer(no_args_is_help=True, help="Console accounts: add, list, disable, reset.")


def cli_module():
    # The CLI's helpers, imported when a command runs: cli.py imports the command modules to register them.
    from ces.worker import cli

    return cli


def run_domain(fn, *args, errors: tuple[type[Exception], ...] = (users.UserError,), **kwargs):
    """`fn(rt, ...)` with a quiet runtime; its own errors become the CLI's one-line error."""
    cli = cli_module()
    rt = cli._runtime(quiet=True)
    try:
        return fn(rt, *args, **kwargs)
    except errors as exc:
        raise cli.CliError(str(exc)) from None


def _role(value: str) -> str:
    if value not in Role.ALL:
        raise typer.BadParameter("use admin, lead or agent", param_hint="--role")
    return value


@users_app.command("add")
def add(email: str = typer.Argument(..., help="their e-mail address (agents: as in the helpdesk)"),
        role: str = typer.Option(..., "--role", callback=_role, help="admin, lead or agent"),
        team: list[str] = typer.Option([], "--team", help="a helpdesk group they work in (repeat; leads: none = all)"),
        name: Optional[str] = typer.Option(None, "--name", help="their name, as the console shows it")):
    """Create an account and print its one-time sign-in link."""
    link = run_domain(users.add, email, role, team, name)
    hours = cli_module()._settings().console.link_hours
    typer.echo(f"{normalize_email(email)} added as {role}. Send them this link (one use, {hours:g} h), "
               f"where they set a password:\n{link}")


class ListFormat(str, Enum):  # as cli.Format (which this module cannot import: cli imports it)
    table = "table"
    json = "json"
    csv = "csv"


COLUMNS = ["email", "name", "role", "teams", "sign_in", "totp", "state", "created", "last_seen"]


@users_app.command("list")
def list_(fmt: ListFormat = typer.Option(ListFormat.table, "--format", help="table, json or csv")):
    """Accounts with their role, teams, how they sign in, and when they were last seen."""
    typer.echo(listing.render(run_domain(users.listing), COLUMNS, fmt.value))


@users_app.command("disable")
def disable(email: str = typer.Argument(..., help="their e-mail address")):
    """Stop an account from signing in; its sessions end at once."""
    ended = run_domain(users.disable, email)
    typer.echo(f"{normalize_email(email)} disabled; {ended} session(s) ended")


@users_app.command("reset")
def reset(email: str = typer.Argument(..., help="their e-mail address"),
          totp: bool = typer.Option(False, "--totp", help="also remove their second factor (a lost phone)")):
    """Print a new one-time link to set a password (older unused links stop working)."""
    link = run_domain(users.reset, email, totp=totp)
    typer.echo(f"New link for {normalize_email(email)}" + (" (second factor removed)" if totp else "")
               + f":\n{link}")
