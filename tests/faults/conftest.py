"""Fixtures of the fault tests: real `ces` processes on PostgreSQL, a simulated Zendesk that can
misbehave per ticket, the database as the tests read it."""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.faults.tools import Db, TicketFaults, Webhooks
from tests.support import Service


@pytest.fixture
def db_url(pg_database):
    """Process-level runs use PostgreSQL, shared by every process, as a scaled-out installation does."""
    from tests.conftest import _truncate

    _truncate(pg_database)
    return pg_database


@pytest.fixture
def faults(zendesk) -> TicketFaults:
    # Callers that gave up on a stalled answer have closed the socket: no traceback for that.
    zendesk.server.server.handle_error = lambda request, client_address: None
    return TicketFaults(zendesk)


@pytest.fixture
def db(db_url):
    d = Db(db_url)
    yield d
    d.close()


@pytest.fixture
def hooks(zendesk, app_port) -> Webhooks:
    return Webhooks(zendesk, [f"http://127.0.0.1:{app_port}"])


@pytest.fixture
def launch(config, zendesk, sink, app_port, tmp_path):
    """launch(*commands, env=..., extra=..., **toml values): write the TOML, start `ces` processes
    (default: serve, worker, scheduler), wait until the server is ready. Stopped after the test."""
    started: list[Service] = []

    def start(*commands: list[str], env: dict[str, str] | None = None, extra: str = "", ready: bool = True,
              **values) -> Service:
        config.write(extra=extra, **{"smtp_port": sink.port, "zendesk_url": zendesk.url, **values})
        environment = config.env()
        environment.update(env or {})
        svc = Service(environment, app_port, tmp_path)
        started.append(svc)
        svc.start(*(commands or (["serve", "--port", str(app_port)], ["worker"], ["scheduler"])))
        if ready:
            svc.wait_ready()
        return svc

    start.port = app_port
    yield start
    for svc in started:
        svc.stop()


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL: no handler runs, nothing is cleaned up, as when a machine dies."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
