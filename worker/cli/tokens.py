"""`ces tokens`: keys to the read API, and `ces audit`: who did what."""

from __future__ import annotations

from datetime import datetime, time, timezone
from typing import Optional

import typer

from ces.worker import audit
from ces.worker.api import tokens
from ces.worker.cli.common import FORMAT, MOST, Format, call, runtime
from ces.worker.queries.formats import render

tokens_app = typer.Typer(no_args_is_help=True, help="Read API tokens: create, list, revoke.")


def _run(fn, *args, **kwargs):
    return call(fn, *args, errors=(tokens.TokenError,), **kwargs)


@tokens_app.command("create")
def create(email: str = typer.Argument(..., help="the console account it acts for (it sees what they see)"),
           scope: list[str] = typer.Option(..., "--scope", help=f"repeat: {', '.join(tokens.SCOPES)}"),
           name: str = typer.Option("token", "--name", help="what it is for, as listings show it"),
           days: float = typer.Option(90, "--days", help="it stops working after this many days")):
    """Make a token and print it: it is shown this once (only its hash is kept)."""
    token_id, secret = _run(tokens.create, email, name, scope, days)
    typer.echo(f"token {token_id} for {email.strip().lower()} ({', '.join(sorted(set(scope)))}), "
               f"valid {days:g} days. Keep it now; it is not shown again:\n{secret}")


@tokens_app.command("list")
def list_(fmt: Format = FORMAT):
    """Every token: its first characters, for whom, scopes, who made it and when, when it expires, last
    used, state (never the secret)."""
    rows = _run(tokens.listing)
    typer.echo(render(rows, ["id", "prefix", "name", "person", "scopes", "created_by", "created", "expires",
                             "last_used", "state"], fmt.value))


@tokens_app.command("revoke")
def revoke(token_id: int = typer.Argument(..., help="its id, from `ces tokens list`")):
    """Stop a token at once."""
    _run(tokens.revoke, token_id)
    typer.echo(f"token {token_id} revoked")


def audit_cmd(since: Optional[str] = typer.Option(None, help="from this UTC date"),
              actor: Optional[str] = typer.Option(None, help="who: user:5, token:3, cli, or an account's e-mail"),
              action: Optional[str] = typer.Option(None, help="what, e.g. sign_in, user.disable, survey.resend"),
              limit: int = typer.Option(100, min=1, max=MOST, help="how many, newest first"),
              fmt: Format = FORMAT):
    """Who did what: sign-ins, account and token changes, API calls (newest first)."""
    start = None
    if since is not None:
        try:
            start = datetime.combine(datetime.fromisoformat(since).date(), time.min, tzinfo=timezone.utc)
        except ValueError:
            raise typer.BadParameter(f"{since!r} is not a date like 2026-01-31", param_hint="--since") from None
    rt = runtime(quiet=True)
    with rt.transaction() as s:
        rows = [dict(at=e.at, actor=e.actor, action=e.action, target=e.target, address=e.address, detail=e.detail)
                for e in audit.entries(s, since=start, actor=audit.actor_named(s, actor or ""), action=action or None,
                                       limit=limit)]
    columns = ["at", "actor", "action", "target", "address"] + (["detail"] if fmt != Format.table else [])
    typer.echo(render(rows, columns, fmt.value, json_obj=rows))
