"""`ces erase`: a customer's personal data removed on request."""

from __future__ import annotations

import typer

from ces.worker.cli.common import out, runtime
from ces.worker.privacy import erase


def erase_cmd(email: str = typer.Option(..., "--email", help="the customer's e-mail address")):
    """Remove a customer's personal data (answers keep only their scores; an opt-out is kept as a
    keyed hash so that the customer is still never surveyed)."""
    if "@" not in email:
        raise typer.BadParameter(f"{email!r} is not an e-mail address", param_hint="--email")
    rt = runtime()
    counts = erase(rt, email)
    out("erased: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
