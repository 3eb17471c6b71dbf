"""`ces`: run the service and look after it. Errors are one line; exit 0 fine, 1 problems, 2 usage.

One module per command group (running.py, config.py, connectors.py, surveys.py, events.py,
alerts.py, reports.py, signals.py, privacy.py, users.py, tokens.py, model.py, secrets.py, status.py); here
they are put together, and main() turns every error into its one line."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Optional

import structlog
import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from ces.config import ConfigError
from ces.worker import logs
from ces.worker.cli import running
from ces.worker.cli.alerts import alerts_app
from ces.worker.cli.common import CliError
from ces.worker.cli.config import config_app
from ces.worker.cli.connectors import connectors_app
from ces.worker.cli.events import events_app
from ces.worker.cli.model import model_app
from ces.worker.cli.privacy import erase_cmd
from ces.worker.cli.reports import flags_cmd, report
from ces.worker.cli.secrets import secrets_app
from ces.worker.cli.signals import signals_app
from ces.worker.cli.status import status_cmd
from ces.worker.cli.surveys import surveys_app
from ces.worker.cli.tokens import audit_cmd, tokens_app
from ces.worker.cli.users import users_app
from ces.worker.db.migrate import SchemaBehind
from ces.worker.retry import Permanent, Transient

try:  # Typer vends its own copy of Click's exceptions since 0.2x
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older Typer on Click
    from click import exceptions as click_errors

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="ces-worker: Customer Effort Score surveys after every solved ticket.")
app.add_typer(config_app, name="config")
app.add_typer(connectors_app, name="connectors")
app.add_typer(surveys_app, name="surveys")
app.add_typer(events_app, name="events")
app.add_typer(alerts_app, name="alerts")
app.add_typer(signals_app, name="signals")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(model_app, name="model")
app.add_typer(secrets_app, name="secrets")
for command in (running.migrate, running.serve, running.worker, running.scheduler, running.up, running.demo):
    app.command()(command)
app.command()(report)
app.command("erase")(erase_cmd)
app.command("flags")(flags_cmd)
app.command("audit")(audit_cmd)
app.command("status")(status_cmd)


@app.callback()
def _main(config: Optional[str] = typer.Option(None, "--config", "-c", help="TOML file (else CES_CONFIG)"),
          debug: bool = typer.Option(False, "--debug", help="an unexpected error's traceback on the terminal too "
                                     "(or CES_DEBUG=1)")):
    if config:
        os.environ["CES_CONFIG"] = config
    if debug:
        os.environ["CES_DEBUG"] = "1"


def usage_error(exc: click_errors.UsageError) -> str:
    """A usage error as one line, README's promise (Click's own is a usage line, a hint and a box)."""
    text = " ".join(exc.format_message().replace("Value error, ", "").split())
    where = exc.ctx.command_path if exc.ctx else "ces"
    return f"ces: error: {text} (see `{where} --help`)"


def main(argv: list[str] | None = None) -> None:
    """Usage errors are one line and exit 2; every other error is one line and exit 1, no traceback."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="ces", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click_errors.NoArgsIsHelpError as exc:  # `ces` or `ces connectors` alone: the help
        exc.show()  # (Typer's rich help has printed itself already; then this is empty)
        sys.exit(2)
    except click_errors.UsageError as exc:
        typer.echo(usage_error(exc), err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except (CliError, SchemaBehind, Transient, Permanent) as exc:
        message = f"ces: {exc}"
    except ConfigError as exc:
        message = f"ces: configuration: {exc}"
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if getattr(exc, "orig", None) else type(exc).__name__
        message = f"ces: database: {reason}"
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        message = unexpected(exc)
    typer.echo(message, err=True)
    sys.exit(1)


def unexpected(exc: Exception) -> str:
    """A bug or an outage nobody foresaw: one line for the person, the traceback in the log (and,
    with --debug or CES_DEBUG=1, on the terminal)."""
    if not structlog.is_configured():
        logs.configure()
    structlog.get_logger("ces.cli").error("unexpected_error", error=logs.error_text(exc), exc_info=exc)
    if os.environ.get("CES_DEBUG", "") not in ("", "0"):
        traceback.print_exception(exc, file=sys.stderr)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"ces: error: unexpected {type(exc).__name__}: {detail} (traceback in the log; --debug shows it here)"
