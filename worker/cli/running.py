"""Running the service: `ces migrate`, `serve`, `worker`, `scheduler`, `up` (all three at once, the
processes supervised) and `demo`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings
from enum import Enum
from typing import Optional, get_args

import structlog
import typer
import uvicorn
from celery.exceptions import SecurityWarning
from celery.signals import worker_process_init, worker_process_shutdown, worker_shutting_down

from ces.config.models import WorkerSettings
from ces.config.settings import config_source
from ces.worker import scheduler as sched
from ces.worker.celery_app import make_celery
from ces.worker.cli.common import CliError, no_config, out, runtime, stop_on_signals
from ces.worker.db.migrate import upgrade
from ces.worker.demo.run import run_demo
from ces.worker.health.check import start_watchdog
from ces.worker.tasks import register_tasks
from ces.worker.web.app import create_app
from ces.worker.web.connections import GuardedProtocol, default_max_connections, raise_open_files_limit


class Serves(str, Enum):
    all = "all"
    public = "public"  # webhooks, survey, unsubscribe and alert pages (internet-facing)
    console = "console"  # the console (an internal address)


def migrate():
    """Create or upgrade the database schema (Alembic)."""
    rt = runtime(check_schema=False)
    before, after = upgrade(rt.engine)
    out(f"database schema at {after}" + (" (was " + (before or "empty") + ")" if before != after else ", up to date"))


def serve(host: str = typer.Option("127.0.0.1", help="address to listen on"),
          port: int = typer.Option(8000, help="port to listen on"),
          processes: int = typer.Option(1, "--processes", help="server processes sharing the port (one per core)"),
          only: Serves = typer.Option("all", "--only", help="public (webhooks, survey pages), console, or all")):
    """Run the HTTP server (webhooks, survey pages, the console, health, metrics)."""
    rt = runtime()
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


Pool = Enum("Pool", {p: p for p in get_args(WorkerSettings.model_fields["pool"].annotation)}, type=str)


def worker(concurrency: Optional[int] = typer.Option(None, min=1, help="tasks at once (default: worker.concurrency)"),
           pool: Optional[Pool] = typer.Option(None, help="threads, prefork or solo (default: worker.pool)")):
    """Run a Celery worker; start as many as you like, on any machine."""
    rt = runtime()
    settings = rt.settings
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        warnings.filterwarnings("ignore", category=SecurityWarning)
        structlog.get_logger("ces.worker").info("running_as_root", advice="run workers as an unprivileged user")

    @worker_process_init.connect(weak=False)
    def _after_fork(**_):
        rt.engine.dispose(close=False)  # a forked child must not share the parent's connections

    @worker_process_shutdown.connect(weak=False)
    def _before_exit(**_):
        rt.health.flush()  # a prefork child leaves by os._exit: atexit would not write its last counts

    celery = make_celery(settings)
    register_tasks(celery)
    argv = ["--quiet", "worker", "-Q", settings.queue, "-P", pool.value if pool else settings.worker.pool,
            "-c", str(concurrency or settings.worker.concurrency), "-l", settings.log_level,
            "-n", f"ces-{os.getpid()}@{socket.gethostname()}",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    stopping = []
    worker_shutting_down.connect(lambda **_: stopping.append(True), weak=False)
    start_watchdog(rt)  # a scheduler that stopped is noticed and notified by the workers
    while True:
        celery.worker_main(argv)
        if stopping:
            return
        # Celery stopped on an error it could not recover from, not on a signal: start it again.
        # Nothing is lost: the rows are the truth, and a task's claim makes a rerun harmless.
        structlog.get_logger("ces.worker").warning("worker_restarting")
        time.sleep(1)


def scheduler():
    """Run the scheduler: exactly one per installation."""
    rt = runtime()
    stop = stop_on_signals()
    sched.run(rt, stop)


def up(host: str = typer.Option("127.0.0.1", help="address to listen on"),
       port: int = typer.Option(8000, help="port to listen on")):
    """Server, worker and scheduler on this machine in one command (with no config: the demo)."""
    if no_config():
        out("No configuration (CES_CONFIG is not set): running the demo. See README to configure.")
        return demo(keep=False, port=port, tickets=None)
    rt = runtime(check_schema=False)
    upgrade(rt.engine)
    rt.close()
    out(f"ces up: {config_source()}\n  serving on   http://{host}:{port} (public URL {rt.settings.public_url})")
    for conn in rt.connectors.values():
        out(f"  webhook      {conn.webhook_url}  ({conn.id}, {conn.kind})")
    sys.exit(supervise(up_commands(rt.settings, host, port), started=_started))


def _started(children: list[tuple[list[str], int]]) -> None:
    """The summary's last lines: what runs, then the logs (JSON lines on stderr) follow."""
    workers = [pid for cmd, pid in children if cmd[0] == "worker"]
    named = {cmd[0]: pid for cmd, pid in children}
    out(f"  processes    server (pid {named['serve']}), {len(workers)} worker(s) "
        f"(pid {', '.join(map(str, workers))}), scheduler (pid {named['scheduler']})\n"
        "Logs follow on stderr (JSON lines). Ctrl-C or SIGTERM stops everything.")


def up_commands(settings, host: str, port: int) -> list[list[str]]:
    workers = [["worker"]] * settings.worker.processes
    return [["serve", "--host", host, "--port", str(port)], *workers, ["scheduler"]]


def supervise(commands: list[list[str]], env: dict | None = None, started=None) -> int:
    """Run `ces <command>` children; when one stops, or on Ctrl-C or SIGTERM, stop them all."""
    stop = stop_on_signals()  # before the children exist: a signal meanwhile still stops them
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


def demo(keep: bool = typer.Option(False, "--keep", help="leave everything running to click around"),
         port: int = typer.Option(8000, help="port of the demo's HTTP server"),
         tickets: Optional[int] = typer.Option(None, help="how many tickets the simulated Zendesk solves")):
    """A simulated Zendesk solves tickets; customers answer; prints `ces report`."""
    sys.exit(run_demo(keep=keep, port=port, tickets=tickets))
