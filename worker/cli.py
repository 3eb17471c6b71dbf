"""`ces`: run the service and look after it. Errors are one line; exit 0 fine, 1 problems, 2 usage."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from enum import Enum
from typing import Optional

import structlog
import typer
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from ces.config import ConfigError, Settings, load_settings
from ces.config.settings import config_source
from ces.worker.api.tokens_cli import audit_cmd, tokens_app
from ces.worker.console.users_cli import users_app
from ces.worker.model.cli import model_app

try:  # Typer vends its own copy of Click's exceptions since 0.2x
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older Typer on Click
    from click import exceptions as click_errors

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="ces-worker: Customer Effort Score surveys after every solved ticket.")
config_app = typer.Typer(no_args_is_help=True, help="Check the configuration.")
connectors_app = typer.Typer(no_args_is_help=True, help="Helpdesk connectors: list, test, setup steps.")
surveys_app = typer.Typer(help="Surveys: list them (with --failed, the ones that need a look).")
events_app = typer.Typer(help="Stored webhook events: list them, replay a failed one.")
alerts_app = typer.Typer(help="Alert deliveries: list them (with --failed, the ones that need a look), resend.")
signals_app = typer.Typer(no_args_is_help=True, help="Signals from the tickets' histories.")
app.add_typer(config_app, name="config")
app.add_typer(connectors_app, name="connectors")
app.add_typer(surveys_app, name="surveys")
app.add_typer(events_app, name="events")
app.add_typer(alerts_app, name="alerts")
app.add_typer(signals_app, name="signals")
app.add_typer(users_app, name="users")
app.add_typer(model_app, name="model")
app.add_typer(tokens_app, name="tokens")
app.command("audit")(audit_cmd)


class CliError(Exception):
    """One line for the admin; exit code 1."""


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class Serves(str, Enum):
    all = "all"
    public = "public"  # webhooks, survey, unsubscribe and alert pages (internet-facing)
    console = "console"  # the console (an internal address)


FORMAT = typer.Option(Format.table, "--format", help="table, json or csv")


def _settings() -> Settings:
    return load_settings()


def _runtime(check_schema: bool = True, *, quiet: bool = False):
    """`quiet`: a command whose output is its answer logs warnings and errors only (its retries
    and calls would be JSON lines between the answer's)."""
    from ces.worker import logs
    from ces.worker.db.migrate import require_current
    from ces.worker.runtime import Runtime, set_runtime

    settings = _settings()
    if check_schema:
        _require_database_file(settings)
    quieter = quiet and logging.getLevelName(settings.log_level.upper()) in (logging.DEBUG, logging.INFO)
    logs.configure("WARNING" if quieter else settings.log_level)
    rt = Runtime(settings)
    if check_schema:
        require_current(rt.engine)
    set_runtime(rt)
    return rt


def _require_database_file(settings: Settings) -> None:
    """Connecting to SQLite creates its file: a command that reads must not leave a stray
    ./ces.db behind (only `ces migrate` and `ces up` create the database)."""
    from ces.worker.db.engine import sqlite_file

    path = sqlite_file(settings.database_url)
    if path is not None and not path.is_file():
        where = " (CES_CONFIG is not set: the default database)" if _no_config() else ""
        raise CliError(f"no database at {path}{where}: run `ces migrate` to create it, or point CES_CONFIG at "
                       "your configuration")


def _out(text: str) -> None:
    typer.echo(text)


@app.callback()
def _main(config: Optional[str] = typer.Option(None, "--config", "-c", help="TOML file (else CES_CONFIG)")):
    if config:
        os.environ["CES_CONFIG"] = config


# --- running ------------------------------------------------------------------------------------
@app.command()
def migrate():
    """Create or upgrade the database schema (Alembic)."""
    from ces.worker.db.migrate import upgrade

    rt = _runtime(check_schema=False)
    before, after = upgrade(rt.engine)
    _out(f"database schema at {after}" + (" (was " + (before or "empty") + ")" if before != after else ", up to date"))


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="address to listen on"),
          port: int = typer.Option(8000, help="port to listen on"),
          processes: int = typer.Option(1, "--processes", help="server processes sharing the port (one per core)"),
          only: Serves = typer.Option("all", "--only", help="public (webhooks, survey pages), console, or all")):
    """Run the HTTP server (webhooks, survey pages, the console, health, metrics)."""
    import uvicorn

    from ces.worker.web.app import create_app
    from ces.worker.web.connections import GuardedProtocol, default_max_connections, raise_open_files_limit

    rt = _runtime()
    only = Serves(only).value
    if only == "console" and not rt.settings.console.enabled:
        raise CliError("the console is disabled ([console] enabled = false): nothing to serve with --only console")
    limits = rt.settings.server
    open_files = raise_open_files_limit()
    structlog.get_logger("ces.http").info(
        "http_limits", open_files=open_files, max_connections=limits.max_connections or default_max_connections(),
        header_timeout_seconds=limits.header_timeout_seconds, body_timeout_seconds=limits.body_timeout_seconds)
    # The guarded protocol bounds slow clients and the connections (worker/web/connections.py);
    # no WebSocket routes here, so no upgrades either.
    options = dict(host=host, port=port, http=GuardedProtocol, ws="none", access_log=False, log_config=None,
                   lifespan="on", timeout_graceful_shutdown=5)
    if processes > 1:  # each process builds its own runtime (and its own intake writer) from the settings
        rt.close()
        factory = {"all": "create_app", "public": "create_public_app", "console": "create_console_app"}[only]
        uvicorn.run(f"ces.worker.web.app:{factory}", factory=True, workers=processes, **options)
        return
    uvicorn.run(create_app(rt, only=only), **options)


@app.command()
def worker(concurrency: Optional[int] = typer.Option(None, help="tasks at once (default from [worker])"),
           pool: Optional[str] = typer.Option(None, help="threads, prefork or solo (default from [worker])")):
    """Run a Celery worker; start as many as you like, on any machine."""
    import socket

    from celery.signals import worker_process_init

    from ces.worker.celery_app import make_celery

    rt = _runtime()
    settings = rt.settings
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        import warnings

        from celery.exceptions import SecurityWarning

        warnings.filterwarnings("ignore", category=SecurityWarning)
        structlog.get_logger("ces.worker").info("running_as_root", advice="run workers as an unprivileged user")

    @worker_process_init.connect(weak=False)
    def _after_fork(**_):
        rt.engine.dispose(close=False)  # a forked child must not share the parent's connections

    celery = make_celery(settings)
    argv = ["--quiet", "worker", "-Q", settings.queue, "-P", pool or settings.worker.pool,
            "-c", str(concurrency or settings.worker.concurrency), "-l", settings.log_level,
            "-n", f"ces-{os.getpid()}@{socket.gethostname()}",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    from celery.signals import worker_shutting_down

    stopping = []
    worker_shutting_down.connect(lambda **_: stopping.append(True), weak=False)
    while True:
        celery.worker_main(argv)
        if stopping:
            return
        # Celery stopped on an error it could not recover from, not on a signal: start it again.
        # Nothing is lost: the rows are the truth, and a task's claim makes a rerun harmless.
        structlog.get_logger("ces.worker").warning("worker_restarting")
        time.sleep(1)


@app.command()
def scheduler():
    """Run the scheduler: exactly one per installation."""
    from ces.worker import scheduler as sched

    rt = _runtime()
    stop = _stop_on_signals()
    sched.run(rt, stop)


def _stop_on_signals():
    import threading

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _no_config() -> bool:
    return not os.environ.get("CES_CONFIG")


def ces_command() -> str:
    """This very `ces`, as a shell runs it: the running executable's absolute path (it may not be
    on PATH, e.g. in a venv), else `python -m ces.worker.cli`."""
    import shlex
    import shutil
    from pathlib import Path

    argv0 = sys.argv[0]
    path = Path(argv0) if os.sep in argv0 else Path(shutil.which(argv0) or argv0)
    if path.suffix != ".py" and path.is_file() and os.access(path, os.X_OK):
        return shlex.quote(str(path.absolute()))
    return f"{shlex.quote(sys.executable)} -m ces.worker.cli"


@app.command()
def up(host: str = typer.Option("127.0.0.1", help="address to listen on"),
       port: int = typer.Option(8000, help="port to listen on")):
    """Server, worker and scheduler on this machine in one command (with no config: the demo)."""
    if _no_config():
        _out("No configuration (CES_CONFIG is not set): running the demo. See README to configure.")
        return demo(keep=False, port=port, tickets=None)
    from ces.worker.db.migrate import upgrade

    rt = _runtime(check_schema=False)
    upgrade(rt.engine)
    rt.close()
    _out(f"ces up: {config_source()}\n  serving on   http://{host}:{port} (public URL {rt.settings.public_url})")
    for conn in rt.connectors.values():
        _out(f"  webhook      {conn.webhook_url}  ({conn.id}, {conn.kind})")
    sys.exit(supervise(up_commands(rt.settings, host, port), started=_started))


def _started(children: list[tuple[list[str], int]]) -> None:
    """The summary's last lines: what runs, then the logs (JSON lines on stderr) follow."""
    workers = [pid for cmd, pid in children if cmd[0] == "worker"]
    named = {cmd[0]: pid for cmd, pid in children}
    _out(f"  processes    server (pid {named['serve']}), {len(workers)} worker(s) "
         f"(pid {', '.join(map(str, workers))}), scheduler (pid {named['scheduler']})\n"
         "Logs follow on stderr (JSON lines). Ctrl-C or SIGTERM stops everything.")


def up_commands(settings, host: str, port: int) -> list[list[str]]:
    workers = [["worker"]] * settings.worker.processes
    return [["serve", "--host", host, "--port", str(port)], *workers, ["scheduler"]]


def supervise(commands: list[list[str]], env: dict | None = None, started=None) -> int:
    """Run `ces <command>` children; when one stops, or on Ctrl-C or SIGTERM, stop them all."""
    stop = _stop_on_signals()  # before the children exist: a signal meanwhile still stops them
    children = [subprocess.Popen([sys.executable, "-m", "ces.worker.cli", *cmd], env=env) for cmd in commands]
    if started is not None:
        started([(cmd, child.pid) for cmd, child in zip(commands, children)])
    code = 0
    try:
        while not stop.is_set():
            exited = [c for c in children if c.poll() is not None]
            if exited:
                code = exited[0].returncode or 0
                break
            stop.wait(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
    return code


@app.command()
def demo(keep: bool = typer.Option(False, "--keep", help="leave everything running to click around"),
         port: int = typer.Option(8000, help="port of the demo's HTTP server"),
         tickets: Optional[int] = typer.Option(None, help="how many tickets the simulated Zendesk solves")):
    """A simulated Zendesk solves tickets; customers answer; prints `ces report`."""
    from ces.worker.demo.run import run_demo

    sys.exit(run_demo(keep=keep, port=port, tickets=tickets))


# --- configuration ------------------------------------------------------------------------------
@config_app.command("check")
def config_check(offline: bool = typer.Option(False, "--offline",
                                              help="check the file alone: no connection to the database and Redis")):
    """Validate the configuration: every problem in one run, one line each naming file, key and fix;
    then connect to the database (it exists, its schema is current) and Redis, unless --offline."""
    from ces.config.settings import diagnose
    from ces.worker.preflight import broker_problems, database_problems

    if _no_config():
        _out("no configuration file set (CES_CONFIG): using defaults (the demo: `ces up` runs it)")
    settings, problems = diagnose()
    source = config_source()
    online = settings is not None and not offline and not _no_config()
    if online:  # a key already reported is not also tried with its default in its place
        wrong = {p.key for p in problems}
        problems += [] if "database_url" in wrong else database_problems(settings, source)
        problems += [] if "broker_url" in wrong else broker_problems(settings, source)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise typer.Exit(1)
    if not _no_config():
        checked = "; database and Redis answer" if online else " (offline: database and Redis not checked)"
        _out(f"{source}: configuration is valid ({len(settings.connectors)} connector(s)){checked}")


# --- connectors ---------------------------------------------------------------------------------
def _connector(rt, connector_id: str):
    conn = rt.connector(connector_id)
    if conn is None:
        known = ", ".join(rt.connectors) or "none configured"
        raise CliError(f"no connector {connector_id!r} (known: {known})")
    return conn


@connectors_app.command("list")
def connectors_list(fmt: Format = FORMAT):
    """Connectors with their webhook URL, state, last event and last error."""
    from sqlalchemy import func

    from ces.worker import listing
    from ces.worker.db.models import EventState, WebhookEvent
    from ces.worker.metrics import last_api_error

    rt = _runtime()
    rows = []
    with rt.transaction() as s:
        for conn in rt.connectors.values():
            last = s.scalar(select(func.max(WebhookEvent.received_at)).where(WebhookEvent.connector_id == conn.id))
            failed_event = s.execute(select(WebhookEvent.error, WebhookEvent.received_at)
                                     .where(WebhookEvent.connector_id == conn.id,
                                            WebhookEvent.state == EventState.FAILED)
                                     .order_by(WebhookEvent.id.desc()).limit(1)).first()
            # The newer of: an event that failed, a call to the helpdesk that failed.
            errors = [e for e in (tuple(failed_event) if failed_event else None, last_api_error(rt, conn.rate_key))
                      if e]
            error, error_at = max(errors, key=lambda e: e[1]) if errors else (None, None)
            mode = "disabled" if not conn.settings.enabled else ("dry-run" if conn.settings.dry_run else "enabled")
            used = rt.http.limiter.current(conn.rate_key) if rt.http.limiter else -1
            rows.append(dict(id=conn.id, kind=conn.kind, webhook_url=conn.webhook_url, mode=mode,
                             last_event=last, last_error_at=error_at, last_error=error[:160] if error else None,
                             api_calls_last_minute=None if used < 0 else used, rate_limit_per_minute=conn.rate_limit,
                             can=",".join(sorted(conn.capabilities)) or "webhooks only"))
    columns = ["id", "kind", "webhook_url", "mode", "last_event", "api_calls_last_minute", "rate_limit_per_minute",
               "last_error_at", "last_error"]
    _out(listing.render(rows, columns + (["can"] if fmt != Format.table else []), fmt.value))


@connectors_app.command("setup")
def connectors_setup(connector_id: str):
    """Print the webhook URL and the exact steps to take in the helpdesk."""
    rt = _runtime(check_schema=False)
    _out(_connector(rt, connector_id).setup_instructions())


@connectors_app.command("test")
def connectors_test(connector_id: str):
    """Call the helpdesk with the configured credentials and say what works."""
    rt = _runtime(check_schema=False, quiet=True)
    conn = _connector(rt, connector_id)
    results = conn.check()
    for r in results:
        _out(f"{'ok  ' if r.ok else 'FAIL'}  {r.name}: {r.detail}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


# --- reports and listings -----------------------------------------------------------------------
def _date(value: Optional[str], name: str) -> Optional[date]:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-01-31", param_hint=name) from None


def _range(since: Optional[str], until: Optional[str]) -> tuple[date, date]:
    from ces.worker.reports import default_range

    d_since, d_until = default_range(datetime.now(timezone.utc).date())
    d_since = _date(since, "--since") or d_since
    d_until = _date(until, "--until") or d_until
    if d_until <= d_since:
        raise typer.BadParameter("--until must be after --since", param_hint="--until")
    return d_since, d_until


@app.command()
def report(since: Optional[str] = typer.Option(None, help="first day, UTC (default: 30 days ago)"),
           until: Optional[str] = typer.Option(None, help="day after the last, UTC, exclusive (default: tomorrow)"),
           scale: str = typer.Option("ces7", help="ces7 or effort5 (never mixed)"),
           by: Optional[str] = typer.Option(None, help="connector, channel, group, agent, week or signal"),
           follow_up: bool = typer.Option(False, "--follow-up", help="time to acknowledge alerts, share followed up"),
           days: Optional[int] = typer.Option(None, min=1, help="with --follow-up: followed up within this many business "
                                              "days, Mon-Fri in alerts.timezone (default alerts.follow_up_business_days)"),
           fmt: Format = FORMAT):
    """Surveys sent, responses, response rate, CES (share of 5-7) and mean."""
    from ces.worker import listing
    from ces.worker.effort import duration
    from ces.worker.reports import GROUPS, ces_report, follow_up_report, signal_report

    if scale not in ("ces7", "effort5"):
        raise typer.BadParameter("use ces7 or effort5", param_hint="--scale")
    if by is not None and by not in GROUPS + ("signal",):
        raise typer.BadParameter(f"use one of {', '.join(GROUPS + ('signal',))}", param_hint="--by")
    d_since, d_until = _range(since, until)
    rt = _runtime()
    if follow_up:
        result = follow_up_report(rt, d_since, d_until, days=days)
        rows = [dict(r, time_to_acknowledge=duration(r["median_seconds_to_acknowledge"])
                     if r["median_seconds_to_acknowledge"] is not None else None) for r in result["rows"]]
        columns = ["team", "agent", "alerts", "acknowledged", "median_seconds_to_acknowledge", "followed_up",
                   "followed_up_within_days"]
        if fmt == Format.table:
            columns[4] = "time_to_acknowledge"
            _out(f"Follow-up of alerts opened {result['since']} to {result['until']} (exclusive); "
                 f"followed up within {result['days']} business days\n" + listing.table(rows, columns))
        else:
            _out(listing.render(rows, columns, fmt.value, json_obj=result))
        return
    if by == "signal":
        result = signal_report(rt, d_since, d_until, scale=scale)
        columns = ["signal", "value", "surveys_sent", "responses", "response_rate", "ces", "mean", "high_effort",
                   "high_effort_share"]
        text = listing.render(result["rows"], columns, fmt.value, json_obj=result)
        if fmt == Format.table:
            text = (f"CES by signal {result['since']} to {result['until']} (exclusive), scale {scale}; "
                    f"{result['high_effort_tickets']} high-effort tickets solved\n{text}")
        _out(text)
        return
    result = ces_report(rt, d_since, d_until, scale=scale, by=by)
    columns = ([by] if by else []) + ["surveys_sent", "responses", "response_rate", "ces", "mean"]
    text = listing.render(result["rows"], columns, fmt.value, json_obj=result)
    if fmt == Format.table:
        text = f"CES report {result['since']} to {result['until']} (exclusive), scale {scale}\n{text}"
    _out(text)


@app.command("erase")
def erase_cmd(email: str = typer.Option(..., "--email", help="the customer's e-mail address")):
    """Remove a customer's personal data (answers keep only their scores; an opt-out is kept as a
    keyed hash so that the customer is still never surveyed)."""
    from ces.worker.privacy import erase

    if "@" not in email:
        raise typer.BadParameter(f"{email!r} is not an e-mail address", param_hint="--email")
    rt = _runtime()
    counts = erase(rt, email)
    _out("erased: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@app.command("flags")
def flags_cmd(level: str = typer.Option("high", help="high, medium, low or all"),
              since: Optional[str] = typer.Option(None, help="assessed on or after this UTC date"),
              connector: Optional[str] = typer.Option(None, help="only this connector"),
              limit: int = typer.Option(50, help="how many, newest first"), fmt: Format = FORMAT):
    """High-effort tickets with their reasons, newest first."""
    from ces.worker import listing
    from ces.worker.reports import flags

    if level not in ("high", "medium", "low", "all"):
        raise typer.BadParameter("use high, medium, low or all", param_hint="--level")
    rt = _runtime()
    rows = flags(rt, level=None if level == "all" else level, since=_date(since, "--since"), connector=connector,
                 limit=limit)
    columns = ["connector", "ticket_id", "level", "index", "basis", "partial", "incomplete", "reasons", "assessed_at"]
    if fmt == Format.table:
        columns = ["connector", "ticket_id", "level", "index", "basis", "why", "assessed_at"]
    _out(listing.render(rows, columns, fmt.value, json_obj=rows))


@signals_app.command("rebuild")
def signals_rebuild(since: str = typer.Option(..., help="tickets solved on or after this UTC date"),
                    restart: bool = typer.Option(False, help="start over instead of resuming"),
                    batch: int = typer.Option(2000, help="tickets per transaction")):
    """Recompute signals and assessments from the stored histories (no helpdesk calls); resumable."""
    from ces.worker.rebuild import rebuild

    rt = _runtime()
    d_since = _date(since, "--since")
    total, done, seconds = rebuild(rt, d_since, restart=restart, batch=batch, progress=True)
    rate = f", {done / seconds:,.0f} tickets/s" if seconds > 0 and done else ""
    _out(f"rebuilt {done} of {total} tickets solved since {d_since}{rate}")


@alerts_app.callback(invoke_without_command=True)
def alerts_cmd(ctx: typer.Context,
               failed: bool = typer.Option(False, "--failed", help="only failed and uncertain deliveries"),
               limit: int = typer.Option(50, help="how many, newest first"), fmt: Format = FORMAT):
    """Alert deliveries with their state, age and the follow-up state (webhook URLs never shown)."""
    if ctx.invoked_subcommand:
        return
    from ces.worker import listing
    from ces.worker.db.models import Alert, AlertState, FollowUp
    from ces.worker.effort import duration

    rt = _runtime()
    now = rt.now()
    with rt.transaction() as s:
        stmt = (select(Alert, FollowUp.state, FollowUp.followed_up_note)
                .outerjoin(FollowUp, FollowUp.id == Alert.follow_up_id).order_by(Alert.id.desc()).limit(limit))
        if failed:
            stmt = stmt.where(Alert.state.in_(AlertState.PROBLEMS))
        rows = [dict(id=a.id, kind=a.kind, route=a.route, type=a.route_type, to=a.recipient,
                     ticket=a.content.get("ticket_id") or f"{len(a.content.get('tickets', []))} tickets",
                     state=a.state, follow_up=state, age=duration((now - a.created_at).total_seconds()),
                     created=a.created_at, reason=a.reason, note=note) for a, state, note in s.execute(stmt)]
    columns = ["id", "kind", "route", "to", "ticket", "state", "follow_up", "age", "reason"]
    # `note`: what the person who marked the case followed up said was done (JSON and CSV).
    _out(listing.render(rows, columns if fmt == Format.table else columns + ["type", "created", "note"], fmt.value))


@surveys_app.callback(invoke_without_command=True)
def surveys(ctx: typer.Context, failed: bool = typer.Option(False, "--failed", help="only failed and uncertain"),
            limit: int = typer.Option(50, help="how many, newest first"), fmt: Format = FORMAT):
    """Surveys with their state and reason, newest first."""
    if ctx.invoked_subcommand:
        return
    from ces.worker import listing
    from ces.worker.db.models import Survey, SurveyState

    rt = _runtime()
    with rt.transaction() as s:
        stmt = select(Survey).order_by(Survey.id.desc()).limit(limit)
        if failed:
            stmt = stmt.where(Survey.state.in_(SurveyState.PROBLEMS))
        # `due`: when a pending survey goes out (its delay, quiet hours, or the next try after a failure).
        rows = [dict(id=v.id, connector=v.connector_id, ticket=v.ticket_external_id, state=v.state,
                     to=v.email, created=v.created_at, due=v.send_after if v.state == SurveyState.PENDING else None,
                     sent=v.sent_at, attempts=v.attempts, reason=v.reason)
                for v in s.scalars(stmt)]
    _out(listing.render(rows, ["id", "connector", "ticket", "state", "to", "created", "due", "sent", "attempts",
                               "reason"], fmt.value))


UNCERTAIN_TOO = typer.Option(False, "--uncertain", help="also uncertain ones: check first that they did not arrive")


def _ids(what: str):
    return typer.Argument(..., metavar="ID...", help=f"{what} ids", min=1, max=2**63 - 1)


def _resend(noun: str, ids: list[int], uncertain: bool) -> None:
    from ces.worker.resend import NotResent, resend

    rt = _runtime()
    refused = []
    for row_id in ids:
        try:
            queued = resend(rt, noun, row_id, uncertain=uncertain)
        except NotResent as exc:
            refused.append(str(exc))
            continue
        _out(f"{noun} {row_id} queued again" + ("" if queued else " (broker down: the scheduler will enqueue it)"))
    if refused:
        raise CliError("; ".join(refused))


@surveys_app.command("resend")
def surveys_resend(survey_ids: list[int] = _ids("survey"), uncertain: bool = UNCERTAIN_TOO):
    """Send failed surveys again, once the cause is fixed (policy and fatigue are checked again)."""
    _resend("survey", survey_ids, uncertain)


@alerts_app.command("resend")
def alerts_resend(alert_ids: list[int] = _ids("alert"), uncertain: bool = UNCERTAIN_TOO):
    """Deliver failed alerts again, once the route is fixed."""
    _resend("alert", alert_ids, uncertain)


@surveys_app.command("preview")
def surveys_preview(locale: str = typer.Option("en", help="language, e.g. es, pt-BR, ar"),
                    scale: Optional[str] = typer.Option(None, help="ces7 or effort5 (default: [survey] scale)"),
                    connector: Optional[str] = typer.Option(None, help="use this connector's [connectors.survey]"),
                    out: Optional[str] = typer.Option(None, help="folder for the HTML files (default: a new one)")):
    """Render the survey mail and pages as a customer would see them."""
    import tempfile
    from pathlib import Path

    from ces.worker.surveys.preview import preview

    if scale not in (None, "ces7", "effort5"):
        raise typer.BadParameter("use ces7 or effort5", param_hint="--scale")
    settings = _settings()
    folder = Path(out or tempfile.mkdtemp(prefix="ces-preview-"))
    folder.mkdir(parents=True, exist_ok=True)
    result = preview(settings, locale=locale, scale=scale, connector_id=connector, folder=folder)
    _out(f"Subject: {result['subject']}\n\n{result['text']}\n")
    for name, path in result["files"].items():
        _out(f"{name}: {path}")


@surveys_app.command("test-send")
def surveys_test_send(address: str, locale: str = typer.Option("en", help="language of the mail"),
                      scale: Optional[str] = typer.Option(None, help="ces7 or effort5")):
    """Send a real survey mail to an admin; its links work, its answers are never reported."""
    from ces.worker.surveys.preview import test_send

    if scale not in (None, "ces7", "effort5"):
        raise typer.BadParameter("use ces7 or effort5", param_hint="--scale")
    if "@" not in address:
        raise typer.BadParameter(f"{address!r} is not an e-mail address", param_hint="ADDRESS")
    rt = _runtime()
    _out(test_send(rt, address, locale=locale, scale=scale))


@events_app.callback(invoke_without_command=True)
def events(ctx: typer.Context, failed: bool = typer.Option(False, "--failed", help="only failed events"),
           limit: int = typer.Option(50, help="how many, newest first"), fmt: Format = FORMAT):
    """Stored webhook events with their state and outcome, newest first."""
    if ctx.invoked_subcommand:
        return
    from ces.worker import listing
    from ces.worker.db.models import EventState, WebhookEvent

    rt = _runtime()
    with rt.transaction() as s:
        stmt = select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)
        if failed:
            stmt = stmt.where(WebhookEvent.state == EventState.FAILED)
        rows = [dict(id=e.id, connector=e.connector_id, ticket=e.ticket_id, event=e.summary, state=e.state,
                     attempts=e.attempts, received=e.received_at,
                     outcome=(e.error or e.outcome or "")[:160] or None)
                for e in s.scalars(stmt)]
    _out(listing.render(rows, ["id", "connector", "ticket", "event", "state", "attempts", "received", "outcome"],
                        fmt.value))


@events_app.command("replay")
def events_replay(event_id: int):
    """Process a failed (or done) event again; duplicates of its effects are still prevented."""
    from ces.worker.db.models import EventState, WebhookEvent
    from ces.worker.intake import PROCESS_EVENT

    rt = _runtime()
    now = rt.now()
    with rt.transaction() as s:
        event = s.get(WebhookEvent, event_id)
        if event is None:
            raise CliError(f"no event {event_id}")
        if event.state in EventState.PENDING:
            raise CliError(f"event {event_id} is {event.state} already")
        if event.state == EventState.IGNORED:
            raise CliError(f"event {event_id} was ignored ({event.outcome}); nothing to replay")
        event.state, event.attempts, event.error, event.next_try_at = EventState.RECEIVED, 0, None, now
    queued = rt.enqueue(PROCESS_EVENT, event_id)
    _out(f"event {event_id} queued again" + ("" if queued else " (broker down: the scheduler will enqueue it)"))


# --- entry point --------------------------------------------------------------------------------
def usage_error(exc: click_errors.UsageError) -> str:
    """A usage error as one line, README's promise (Click's own is a usage line, a hint and a box)."""
    text = " ".join(exc.format_message().replace("Value error, ", "").split())
    where = exc.ctx.command_path if exc.ctx else "ces"
    return f"ces: error: {text} (see `{where} --help`)"


def main(argv: list[str] | None = None) -> None:
    """Usage errors are one line and exit 2; every other error is one line and exit 1, no traceback."""
    from ces.worker.db.migrate import SchemaBehind
    from ces.worker.retry import Permanent, Transient

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
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        message = f"ces: unexpected error: {type(exc).__name__}: {detail}"
    typer.echo(message, err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
