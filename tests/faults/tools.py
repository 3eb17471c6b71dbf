"""What the fault tests break things with: per-ticket faults in the simulated Zendesk, a TCP proxy
in front of PostgreSQL that can be switched off, a Redis server of the test's own, the database
as the tests read it, and signed webhooks sent to any of several `ces serve` processes."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from ces.connectors.simulator import StubRequest, StubResponse
from ces.connectors.zendesk.connector import sign
from ces.connectors.zendesk.simulator import ZendeskSimulator
from ces.worker.db.engine import normalize_url
from tests.support import ZENDESK_SECRET, free_port, wait_until

# --- the simulated Zendesk, misbehaving for chosen tickets ------------------------------------------

Fault = Callable[[int, float], "StubResponse | float | None"]
"""Given the number of this request for the ticket (from 0) and the time since the first one:
a response to answer instead, a number of seconds to stall before answering normally, or None."""


def first(n: int, status: int, headers: dict[str, str] | None = None) -> Fault:
    """The first n requests get `status`; then the API has recovered."""
    return lambda i, _: StubResponse(status, {"error": f"simulated {status}"}, headers or {}) if i < n else None


def during(seconds: float, status: int, headers: dict[str, str] | None = None) -> Fault:
    """Every request within `seconds` of the first gets `status` (e.g. a rate-limited account)."""
    return lambda _, since: StubResponse(status, {"error": f"simulated {status}"}, headers or {}) \
        if since < seconds else None


def always(status: int) -> Fault:
    return lambda i, _: StubResponse(status, {"error": f"simulated {status}"})


def stall_first(n: int, seconds: float) -> Fault:
    """The first n requests answer only after `seconds` (longer than the caller's read timeout)."""
    return lambda i, _: seconds if i < n else None


def held(gate: threading.Event, limit: float = 30.0) -> Fault:
    """Every request waits until the test opens the gate (a slow helpdesk, exactly as slow as needed)."""
    def fault(_i, _since):
        gate.wait(limit)
        return None
    return fault


@dataclass
class Seen:
    at: float  # when the request arrived
    status: int  # what it was answered


class TicketFaults:
    """Faults on GET /api/v2/tickets/{id}.json for chosen tickets; every answer is recorded per ticket."""

    def __init__(self, sim: ZendeskSimulator):
        self.sim = sim
        self.faults: dict[int, Fault] = {}
        self.seen: dict[int, list[Seen]] = {}
        self.lock = threading.Lock()
        sim.server.routes.insert(0, ("GET", re.compile(r"^/api/v2/tickets/(?P<id>\d+)\.json$"), self._handle))

    def set(self, ticket_id: int, fault: Fault | None) -> None:
        with self.lock:
            if fault is None:
                self.faults.pop(ticket_id, None)
            else:
                self.faults[ticket_id] = fault

    def _handle(self, req: StubRequest) -> StubResponse:
        tid = int(req.params["id"])
        with self.lock:
            seen = self.seen.setdefault(tid, [])
            n = len(seen)
            since = req.at - seen[0].at if seen else 0.0
            fault = self.faults.get(tid)
            record = Seen(req.at, 0)
            seen.append(record)
        outcome = fault(n, since) if fault else None
        if isinstance(outcome, (int, float)):
            time.sleep(outcome)
            outcome = None
        resp = outcome or self.sim._get_ticket(req)
        record.status = resp.status
        return resp

    def count(self, ticket_id: int) -> int:
        with self.lock:
            return len(self.seen.get(ticket_id, []))

    def statuses(self, ticket_id: int) -> list[int]:
        with self.lock:
            return [s.status for s in self.seen.get(ticket_id, [])]

    def answers(self, ticket_id: int) -> list[Seen]:
        with self.lock:
            return list(self.seen.get(ticket_id, []))


# --- webhooks ------------------------------------------------------------------------------------


class Webhooks:
    """Zendesk's deliveries of status changes, sent where the test says (several `ces serve`)."""

    def __init__(self, sim: ZendeskSimulator, urls: list[str]):
        self.sim, self.urls = sim, urls

    def customer_ticket(self, i: int, subject: str | None = None):
        customer = self.sim.add_user(f"Customer {i}", f"customer{i}@example.com", locale="en-US")
        return self.sim.create_ticket(customer, subject or f"Question {i}")

    def solved(self, ticket) -> tuple[bytes, str]:
        """Solve the ticket in the helpdesk; the webhook body and its invocation id (not sent yet)."""
        self.sim.set_status(ticket.id, "solved", send=False)
        return json.dumps(self.sim.status_event(ticket, "open")).encode(), str(uuid.uuid4())

    def post(self, raw: bytes, invocation: str, url: str | None = None) -> requests.Response:
        """One delivery, signed now; a redelivery reuses the invocation id, as Zendesk's retries do."""
        ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        headers = {"Content-Type": "application/json", "User-Agent": "Zendesk Webhook",
                   "X-Zendesk-Account-Id": "22129848", "X-Zendesk-Webhook-Id": "01HSIMWEBHOOK",
                   "X-Zendesk-Webhook-Invocation-Id": invocation,
                   "X-Zendesk-Webhook-Signature-Timestamp": ts,
                   "X-Zendesk-Webhook-Signature": sign(ZENDESK_SECRET, ts, raw)}
        return requests.post((url or self.urls[0]) + "/webhooks/zendesk-main", data=raw, headers=headers,
                             timeout=30)

    def solve(self, ticket, url: str | None = None) -> requests.Response:
        raw, invocation = self.solved(ticket)
        return self.post(raw, invocation, url)


# --- the database, as the tests read it ----------------------------------------------------------


class Db:
    def __init__(self, url: str):
        self.engine = create_engine(normalize_url(url), pool_size=2)

    def rows(self, sql: str, **params) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def execute(self, sql: str, **params) -> int:
        with self.engine.begin() as conn:
            return conn.execute(text(sql), params).rowcount

    def survey(self, ticket_id: int | str) -> dict:
        [row] = self.rows("SELECT * FROM surveys WHERE ticket_external_id = :t", t=str(ticket_id))
        return row

    def surveys_by_ticket(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for row in self.rows("SELECT * FROM surveys ORDER BY id"):
            out.setdefault(row["ticket_external_id"], []).append(row)
        return out

    def attempts(self, survey_id: int) -> list[dict]:
        return self.rows("SELECT * FROM survey_attempts WHERE survey_id = :s ORDER BY number", s=survey_id)

    def state_of(self, ticket_id: int | str) -> str | None:
        return self.scalar("SELECT state FROM surveys WHERE ticket_external_id = :t", t=str(ticket_id))

    def quiet(self) -> bool:
        """Nothing left to do: no event, survey or job waiting or in progress."""
        return not self.scalar(
            "SELECT (SELECT count(*) FROM webhook_events WHERE state IN ('received', 'processing'))"
            " + (SELECT count(*) FROM surveys WHERE state IN ('pending', 'preparing', 'sending'))"
            " + (SELECT count(*) FROM jobs WHERE kind <> 'recheck')")

    def close(self) -> None:
        self.engine.dispose()


# --- PostgreSQL behind a switch --------------------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; off() cuts every connection and refuses new ones."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.enabled = True
        self.accepted = 0
        self.refused = 0
        self.pairs: set[tuple[socket.socket, socket.socket]] = set()
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                enabled = self.enabled
            if not enabled:
                self.refused += 1
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            pair = (client, upstream)
            with self.lock:
                self.pairs.add(pair)
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        with self.lock:
            self.pairs.discard(pair)
        _close(src)
        _close(dst)

    def off(self) -> None:
        with self.lock:
            self.enabled = False
            pairs = list(self.pairs)
            self.pairs.clear()
        for a, b in pairs:
            _close(a)
            _close(b)

    def on(self) -> None:
        with self.lock:
            self.enabled = True

    def stop(self) -> None:
        self.running = False
        self.off()
        _close(self.listener)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


# --- a Redis of the test's own -----------------------------------------------------------------------


class RedisServer:
    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = open(self.directory / f"redis-{self.port}.log", "ab")
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.directory)],
                                     stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._answers, 10, 0.05, f"redis on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
