"""`ces users`: the console's accounts. `add` and `reset` print a one-time sign-in link (valid
`console.link_hours`) where the person sets a password; `disable` ends their sessions at once."""

from __future__ import annotations

from typing import Optional

import typer

from ces.worker.cli.common import FORMAT, CliError, Format, call, settings
from ces.worker.console import users
from ces.worker.db.models import Role
from ces.worker.privacy import normalize_email
from ces.worker.queries.formats import render

users_app = typer.Typer(no_args_is_help=True, help="Console accounts: add, list, disable, enable, reset.")


def _run(fn, *args, **kwargs):
    try:
        return call(fn, *args, errors=(), **kwargs)
    except users.UserError as exc:
        raise CliError(exc.for_cli) from None


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
    link = _run(users.add, email, role, team, name)
    hours = settings().console.link_hours
    typer.echo(f"{normalize_email(email)} added as {role}. Send them this link (one use, {hours:g} h), "
               f"where they set a password:\n{link}")


COLUMNS = ["email", "name", "role", "teams", "sign_in", "totp", "state", "created", "last_seen"]


@users_app.command("list")
def list_(fmt: Format = FORMAT):
    """Accounts with their role, teams, how they sign in, and when they were last seen."""
    typer.echo(render(_run(users.listing), COLUMNS, fmt.value))


@users_app.command("disable")
def disable(email: str = typer.Argument(..., help="their e-mail address")):
    """Stop an account from signing in; its sessions end and its API tokens are revoked at once."""
    ended, revoked = _run(users.disable, email)
    typer.echo(f"{normalize_email(email)} disabled; {ended} session(s) ended"
               + (f", {revoked} API token(s) revoked" if revoked else ""))


@users_app.command("enable")
def enable(email: str = typer.Argument(..., help="their e-mail address")):
    """Let a disabled account sign in again: prints a new one-time link (its API tokens stay revoked)."""
    link = _run(users.enable, email)
    typer.echo(f"{normalize_email(email)} enabled; a new link to sign in:\n{link}")


@users_app.command("reset")
def reset(email: str = typer.Argument(..., help="their e-mail address"),
          totp: bool = typer.Option(False, "--totp", help="also remove their second factor (a lost phone)")):
    """Print a new one-time link to set a password (older unused links stop working)."""
    link = _run(users.reset, email, totp=totp)
    typer.echo(f"New link for {normalize_email(email)}" + (" (second factor removed)" if totp else "")
               + f":\n{link}")
