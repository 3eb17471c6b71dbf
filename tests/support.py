"""Helpers shared by the tests: configuration on disk, signed webhooks, a server on a socket."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
import uvicorn

from ces.connectors.zendesk.connector import sign
from ces.worker.demo import processes
from ces.worker.demo.ports import free_port  # noqa: F401 (the tests import it from here)

FIXTURES = Path(__file__).parent / "fixtures"
ZENDESK_SECRET = "s3cr3t-zendesk-signing-key"
ZENDESK_TOKEN = "zd-api-token-123"
# A person's browser: link-scanner user agents never answer a survey.
# Process-level runs (and the tests that read what every process logs) use PostgreSQL alone, emptied
# first, as a scaled-out installation does: `ces demo` covers SQLite.
POSTGRESQL_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
# SQLite alone, to keep a test quick where the pipeline tests already cover PostgreSQL.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
BROWSER = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/131.0.0.0 Safari/537.36", "Accept-Language": "en-GB,en;q=0.9"}


def fixture_bytes(kind: str, name: str) -> bytes:
    return (FIXTURES / kind / name).read_bytes()


def fixture_json(kind: str, name: str) -> dict:
    return json.loads(fixture_bytes(kind, name))


def zendesk_headers(body: bytes, *, secret: str = ZENDESK_SECRET, invocation: str = "inv-1",
                    timestamp: str | None = None) -> dict[str, str]:
    ts = timestamp or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"Content-Type": "application/json", "X-Zendesk-Webhook-Invocation-Id": invocation,
            "X-Zendesk-Webhook-Signature-Timestamp": ts, "X-Zendesk-Webhook-Signature": sign(secret, ts, body),
            "X-Zendesk-Webhook-Id": "01HTESTWEBHOOK", "X-Zendesk-Account-Id": "22129848"}


class Queue:
    """Stands in for the broker in plain-function tests: records what would be enqueued."""

    def __init__(self):
        self.items: deque[tuple[str, object]] = deque()
        self.down = False

    def __call__(self, task: str, row_id) -> None:
        if self.down:
            raise ConnectionError("broker down (test)")
        self.items.append((task, row_id))

    def events_only(self, rt) -> None:
        """Apply the first queued message of events, their surveys queued rather than sent: a
        test's moment between a solve and its send (a worker's event task sends one itself)."""
        from ces.worker.events import process_event

        task, ids = self.items.popleft()
        assert task in ("ces.process_event", "ces.process_events"), task
        for event_id in ids if isinstance(ids, list) else [ids]:
            process_event(rt, event_id)

    def drain(self, rt, limit: int = 1000) -> list[tuple[str, int]]:
        """Run what was enqueued, in order, as a worker would (without Celery)."""
        from ces.worker.tasks import TASKS

        done = []
        while self.items and len(done) < limit:
            task, row_id = self.items.popleft()
            TASKS[task](rt, row_id)
            done.append((task, row_id))
        return done


class ServedApp:
    """The real HTTP app, served by uvicorn on a socket, in a thread."""

    def __init__(self, app, port: int, **options):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                lifespan="on", **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def post(self, path: str, body: bytes, headers: dict | None = None, **kw) -> requests.Response:
        return requests.post(self.url + path, data=body, headers=headers or {}, timeout=10, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kw)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


class Service:
    """`ces` processes; their logs go to files (a pipe nobody reads would block them when full)."""

    def __init__(self, env: dict, port: int, logs: Path):
        self.env, self.port, self.logs = env, port, logs
        self.url = f"http://127.0.0.1:{port}"
        self.procs: list[subprocess.Popen] = []

    def start(self, *commands: list[str], **popen) -> Service:
        for args in commands:
            log = open(self.logs / f"{args[0]}-{len(self.procs)}.log", "wb")
            self.procs.append(subprocess.Popen([sys.executable, "-m", "ces.worker.cli", *args], env=self.env,
                                               stdout=subprocess.DEVNULL, stderr=log, **popen))
        return self

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.logs.glob("*.log")))

    def wait_ready(self) -> None:
        def ready():
            for p in self.procs:
                if p.poll() is not None:
                    raise AssertionError(f"a process exited:\n{self.log_tail()}")
            try:
                return requests.get(f"{self.url}/readyz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, 30, 0.1, "the server to be ready")
        time.sleep(1.0)  # let the worker connect to the broker

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ces.worker.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=60)

    def stop(self) -> None:
        processes.stop(self.procs, grace=15)

    @contextmanager
    def running(self, *others) -> Iterator[Service]:
        """The body runs against the service; an assertion that fails prints its processes' logs first; the
        service, then `others` (the simulators it talks to), are stopped either way."""
        try:
            yield self
        except AssertionError:
            print(self.log_tail())
            raise
        finally:
            self.stop()
            for other in others:
                other.stop()


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Exit code, output and the error line of a `ces` command (log lines are not the command's)."""
    from ces.worker.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out = capsys.readouterr()
    return done.value.code, out.out, "".join(line for line in out.err.splitlines(True) if line.startswith("ces:"))


def descendants(pid: int) -> set[int]:
    """Every process started under `pid`, from /proc."""
    found, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += list(children - found)
            found |= children
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False



def stops_on_sigterm(proc: subprocess.Popen, children: set[int]) -> None:
    """SIGTERM: the process exits cleanly within a minute and none of the processes it started live on."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert not [pid for pid in children if alive(pid)]

class Lines:
    """A child's stdout, line by line, waited for with a deadline (never a fixed sleep)."""

    def __init__(self, stream):
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in stream], daemon=True).start()

    def until(self, text: str, timeout: float = 240) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} never came; got {''.join(self.seen)[-2000:]}")


# --- values that once failed a whole batch of webhooks --------------------------------------------
LONG_ID = "9" * 65  # one more than the id columns take; digits, so that every kind's id check lets it through
DEEP = "[" * 5000 + "]" * 5000  # past the standard parser's recursion limit (orjson stops at 1,024)
JUST_TOO_DEEP = "[" * 65 + "]" * 65  # orjson reads it; MAX_DEPTH (64) does not
OUT_OF_RANGE_TIMES = [10**30, "9" * 30, 1e300, -1e12, "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00",
                      "1969-12-31T23:59:59Z"]


def with_value(body, path: tuple, value):
    """A copy of a JSON body with the value at `path` (keys and list indexes) replaced."""
    import copy

    out = copy.deepcopy(body)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def with_nesting(body, nesting: str) -> bytes:
    """The body (its first event, for an array) with one more key holding `nesting`, written as
    text: no Python recursion."""
    marker = "__nesting__"
    path = (0, marker) if isinstance(body, list) else (marker,)
    text = json.dumps(with_value(body, path, marker))
    return text.replace(f'"{marker}": "{marker}"', f'"{marker}": {nesting}').encode()


def assert_bounded(connector, request_of, body, *, ticket: tuple, actor: tuple | None = None,
                   delivery: tuple | None = None, times: list[tuple] = ()) -> None:
    """What intake makes of the values that once failed a whole shared commit (an id longer than its
    column), or the request with a 500 (deep nesting, times beyond datetime's range), on one kind:
    the first refused alone (422 invalid_field), deep nesting refused (422 unparseable), and a time
    out of range read as no time at all, so that the event stands at a time within range."""
    from ces.connectors.errors import InvalidField, Unparseable
    from ces.connectors.timeparse import in_range
    from ces.worker.intake import request_rows

    def rows(raw: bytes):
        request = request_of(raw)
        connector.verify(request)
        return request_rows(connector, request, connector.parse(request), 1.0)

    assert rows(json.dumps(body).encode()), "the body itself must give an event"
    for name, path in (("ticket_id", ticket), ("actor_id", actor), ("delivery_id", delivery)):
        if path is not None:
            value = LONG_ID if name != "delivery_id" else "d" * 256
            with pytest.raises(InvalidField, match=name):
                rows(json.dumps(with_value(body, path, value)).encode())
    for nesting in (DEEP, JUST_TOO_DEEP):
        with pytest.raises(Unparseable, match="nests deeper"):
            rows(with_nesting(body, nesting))
    for path in times:
        for value in OUT_OF_RANGE_TIMES:
            for row in rows(json.dumps(with_value(body, path, value)).encode()):
                assert in_range(row["occurred_at"]), (path, value)
