"""What every `ces` command shares: the runtime it builds, the output formats, dates given on the
command line, and the one-line error (CliError) that main() prints."""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import date, datetime, timezone
from enum import Enum
from typing import Optional

import typer

from ces.config import Settings, load_settings
from ces.worker import logs
from ces.worker.db.engine import sqlite_file
from ces.worker.db.migrate import require_current
from ces.worker.queries.reports import default_range
from ces.worker.resend import resend_many
from ces.worker.runtime import Runtime, set_runtime
from ces.worker.surveys.scales import SCALES


class CliError(Exception):
    """One line for the admin; exit code 1."""


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


FORMAT = typer.Option(Format.table, "--format", help="table, json or csv")
MOST = 100_000  # rows a listing prints at the most (a larger --limit is a usage error, not a database's)
LIMIT = typer.Option(50, min=1, max=MOST, help="how many, newest first")


def settings() -> Settings:
    return load_settings()


def runtime(check_schema: bool = True, *, quiet: bool = False) -> Runtime:
    """`quiet`: a command whose output is its answer logs warnings and errors only (its retries
    and calls would be JSON lines between the answer's)."""
    current = settings()
    if check_schema:
        _require_database_file(current)
    quieter = quiet and logging.getLevelName(current.log_level.upper()) in (logging.DEBUG, logging.INFO)
    logs.configure("WARNING" if quieter else current.log_level)
    rt = Runtime(current)
    if check_schema:
        require_current(rt.engine)
    set_runtime(rt)
    return rt


def call(fn, *args, errors: tuple[type[Exception], ...], **kwargs):
    """`fn(rt, ...)` with a quiet runtime (the answer is the output); its own errors (`errors`)
    become the CLI's one-line error."""
    rt = runtime(quiet=True)
    try:
        return fn(rt, *args, **kwargs)
    except errors as exc:
        raise CliError(str(exc)) from None


def _require_database_file(current: Settings) -> None:
    """Connecting to SQLite creates its file: a command that reads must not leave a stray
    ./ces.db behind (only `ces migrate` and `ces up` create the database)."""
    path = sqlite_file(current.database_url)
    if path is not None and not path.is_file():
        where = " (CES_CONFIG is not set: the default database)" if no_config() else ""
        raise CliError(f"no database at {path}{where}: run `ces migrate` to create it, or point CES_CONFIG at "
                       "your configuration")


def no_config() -> bool:
    return not os.environ.get("CES_CONFIG")


def out(text: str) -> None:
    typer.echo(text)


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def parse_date(value: Optional[str], name: str) -> Optional[date]:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-01-31", param_hint=name) from None


def date_range(since: Optional[str], until: Optional[str]) -> tuple[date, date]:
    d_since, d_until = default_range(datetime.now(timezone.utc).date())
    d_since = parse_date(since, "--since") or d_since
    d_until = parse_date(until, "--until") or d_until
    if d_until <= d_since:
        raise typer.BadParameter("--until must be after --since", param_hint="--until")
    return d_since, d_until


# Choices Typer checks and lists in --help: a wrong value is the standard one-line usage error.
ScaleChoice = Enum("ScaleChoice", {key: key for key in SCALES}, type=str)


UNCERTAIN_TOO = typer.Option(False, "--uncertain", help="also uncertain ones: check first that they did not arrive")


def ids_argument(what: str):
    return typer.Argument(..., metavar="ID...", help=f"{what} ids", min=1, max=2**63 - 1)


def resend_each(noun: str, ids: list[int], uncertain: bool) -> None:
    """`ces surveys resend` and `ces alerts resend`: each id queued again, or one line saying why not."""
    outcome = resend_many(runtime(), noun, ids, uncertain=uncertain)
    for row_id, queued in outcome.queued:
        out(f"{noun} {row_id} queued again" + ("" if queued else " (broker down: the scheduler will enqueue it)"))
    if outcome.refused:
        raise CliError("; ".join(outcome.refused))
