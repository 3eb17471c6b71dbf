"""`ces secrets`: the key that encrypts the console connectors' secrets (CES_SECRET_KEY)."""

from __future__ import annotations

import typer

from ces.worker import secretbox, stored_connectors
from ces.worker.cli.common import CliError, call, out

secrets_app = typer.Typer(no_args_is_help=True, help="CES_SECRET_KEY: make a key, rotate to a new one.")


@secrets_app.command("new-key")
def new_key():
    """Print a new key (for CES_SECRET_KEY; put it first, followed by the old one, then rotate)."""
    out(secretbox.new_key())


@secrets_app.command("rotate")
def rotate():
    """Re-encrypt every stored connector's secrets with the first key of CES_SECRET_KEY."""
    done, failed = call(stored_connectors.rotate_keys, errors=(secretbox.NoKey,))
    out(f"re-encrypted {done} connector(s) with the first key of {secretbox.VARIABLE}")
    if failed:
        raise CliError(f"no key in {secretbox.VARIABLE} opens the secrets of: {', '.join(failed)} "
                       "(add the key they were stored with, or enter their secrets again in the console)")
