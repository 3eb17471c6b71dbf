"""`ces config check`: every problem of the configuration in one run, then the database and Redis."""

from __future__ import annotations

import typer

from ces.config.settings import config_source, diagnose
from ces.worker.cli.common import no_config, out
from ces.worker.preflight import broker_problems, database_problems

config_app = typer.Typer(no_args_is_help=True, help="Check the configuration.")


@config_app.command("check")
def config_check(offline: bool = typer.Option(False, "--offline",
                                              help="check the file alone: no connection to the database and Redis")):
    """Validate the configuration: every problem in one run, one line each naming file, key and fix;
    then connect to the database (it exists, its schema is current) and Redis, unless --offline."""
    if no_config():
        out("no configuration file set (CES_CONFIG): using defaults (the demo: `ces up` runs it)")
    settings, problems = diagnose()
    source = config_source()
    online = settings is not None and not offline and not no_config()
    if online:  # a key already reported is not also tried with its default in its place
        wrong = {p.key for p in problems}
        problems += [] if "database_url" in wrong else database_problems(settings, source)
        problems += [] if "broker_url" in wrong else broker_problems(settings, source)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise typer.Exit(1)
    if not no_config():
        checked = "; database and Redis answer" if online else " (offline: database and Redis not checked)"
        out(f"{source}: configuration is valid ({len(settings.connectors)} connector(s)){checked}")
