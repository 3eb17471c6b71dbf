"""Slow clients and the connection cap (worker/web/connections.py): a client that trickles its
head or body is closed at its deadline, a head has a size limit, and at the cap a new connection
takes the place of the one that has waited longest for a head. Then the attack itself: 1,100
slowloris connections against `ces serve` held to 1,024 open files."""

from __future__ import annotations

import asyncio
import itertools
import json
import resource
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
import requests

from ces.config.models import ServerSettings
from ces.worker.web.connections import GuardedH11, GuardedHttpTools
from tests.support import ServedApp, Service, wait_until, zendesk_headers

QUICK = dict(header_timeout_seconds=1, body_timeout_seconds=1, max_header_bytes=4096, max_connections=4)
started: list[str] = []  # the requests the app has begun to handle


async def echo(scope, receive, send):
    """Reads the whole body and says how long it was."""
    if scope["type"] != "http":
        return
    started.append(scope["path"])
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(str(size)))]})
    await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture(params=[GuardedHttpTools, GuardedH11], ids=["httptools", "h11"])
def serve(request, app_port):
    """Starts the echo app on either guarded protocol, with QUICK limits and the test's own."""
    started.clear()
    with ExitStack() as stack:
        def start(**limits) -> ServedApp:
            protocol = type("Limited", (request.param,), {"limits": ServerSettings(**{**QUICK, **limits})})
            return stack.enter_context(ServedApp(echo, app_port, http=protocol, ws="none"))

        yield start


@pytest.fixture
def server(serve):
    return serve()


def connect(server) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return conn


def closed(conn: socket.socket) -> bool:
    """True once the server closed the connection (whatever it sent before)."""
    try:
        while chunk := conn.recv(65536):
            if not chunk:
                break
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def answer(conn: socket.socket, request: bytes) -> bytes:
    conn.sendall(request)
    return conn.recv(65536)


GET = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"


def trickle(conn: socket.socket, piece: bytes, times: int) -> None:
    """A slow client in the background: `piece` every 50 ms, until the server closes the connection."""

    def send():
        for _ in range(times):
            try:
                conn.sendall(piece)
            except OSError:
                return
            time.sleep(0.05)

    threading.Thread(target=send, daemon=True).start()


def test_a_head_sent_line_by_line_is_closed_at_its_deadline(server):
    slow = connect(server)
    slow.sendall(b"GET /x HTTP/1.1\r\n")
    trickle(slow, b"X-A: b\r\n", 100)  # one header line at a time, never the end of the head
    assert closed(slow)
    assert requests.get(server.url + "/x", timeout=10).status_code == 200


def test_a_body_sent_byte_by_byte_is_closed_at_its_deadline(server):
    slow = connect(server)
    slow.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
    trickle(slow, b"a", 1000)
    assert closed(slow)
    assert requests.post(server.url + "/x", data=b"a" * 1000, timeout=10).text == "1000"


def test_a_head_over_the_size_limit_is_refused(server):
    conn = connect(server)
    conn.sendall(b"GET /x HTTP/1.1\r\n" + b"X-A: " + b"a" * 8000 + b"\r\n")
    reply = conn.recv(65536)
    assert reply.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400"))  # h11 stops it first, at its own limit
    assert closed(conn)


def test_kept_connections_get_a_new_head_deadline_after_each_answer(serve):
    conn = connect(serve(header_timeout_seconds=2))
    for _ in range(3):
        assert answer(conn, GET).endswith(b"\r\n\r\n0")
        time.sleep(0.8)  # longer than the deadline in all: each head has its own
    conn.settimeout(4)  # less than uvicorn's own keep-alive timeout (5 s)
    assert closed(conn)  # idle past the head deadline


def test_at_the_cap_the_longest_waiting_connection_makes_room(serve):
    server = serve(header_timeout_seconds=60)
    slow = [connect(server) for _ in range(QUICK["max_connections"])]
    for conn in slow:
        conn.sendall(b"GET /x HTTP/1.1\r\n")
    good = connect(server)
    assert answer(good, GET).endswith(b"\r\n\r\n0")
    assert closed(slow[0])
    slow[1].settimeout(0.05)
    assert not closed(slow[1])  # one place was needed, one was taken


def test_at_the_cap_with_every_head_complete_a_new_connection_is_refused(serve):
    server = serve(body_timeout_seconds=60)
    busy = [connect(server) for _ in range(QUICK["max_connections"])]
    for conn in busy:  # heads complete, bodies under way: none of these may be pushed out
        conn.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\na")
    wait_until(lambda: len(started) == len(busy), message="the server to read every head")
    refused = connect(server)
    assert closed(refused)
    for conn in busy:
        conn.sendall(b"a" * 9)
        assert conn.recv(65536).endswith(b"\r\n\r\n10")


# --- the attack --------------------------------------------------------------------------------
class Slowloris:
    """`count` connections that each send a request head one line per `beat`, and reconnect on
    that beat once the server has closed them, as the slowloris tool does. In its own thread."""

    def __init__(self, port: int, count: int, beat: float):
        self.port, self.count, self.beat = port, count, beat
        self.opened = 0
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.stop: asyncio.Event | None = None

    def __enter__(self) -> Slowloris:
        self.thread.start()
        deadline = time.monotonic() + 20
        while self.opened < self.count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.opened >= self.count, f"only {self.opened} slow connections opened"
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)

    async def _run(self) -> None:
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
        await asyncio.gather(*(self._one(i) for i in range(self.count)))

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            pass

    async def _one(self, i: int) -> None:
        await self._pause(i / self.count)  # open them over a second
        while not self.stop.is_set():
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 3)
            except (OSError, TimeoutError):
                await self._pause(self.beat)
                continue
            self.opened += 1
            closed_by_server = asyncio.ensure_future(reader.read())
            try:
                writer.write(b"POST /webhooks/zendesk-main HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                while not self.stop.is_set():
                    await self._pause(self.beat)
                    if closed_by_server.done():
                        break
                    writer.write(b"X-Slow: 1\r\n")
            except OSError:
                pass
            finally:
                closed_by_server.cancel()
                writer.close()


_TICKETS = itertools.count(10_000)


def webhooks(url: str, session: requests.Session | None, seconds: float, every: float) -> list:
    """Good signed webhooks at a steady pace, each a new delivery (a ticket of its own: the same
    signed timestamp and body is the same delivery); what each got (or the error)."""
    outcomes, start = [], time.monotonic()
    post = session.post if session else requests.post
    for n in range(int(seconds / every)):
        time.sleep(max(0.0, start + n * every - time.monotonic()))
        body = json.dumps({"ces_event": "ticket.solved", "ticket_id": str(next(_TICKETS)), "status": "Solved"}).encode()
        headers = zendesk_headers(body, invocation=f"good-{uuid.uuid4()}")
        if session is None:
            headers["Connection"] = "close"
        try:
            outcomes.append(post(url, data=body, headers=headers, timeout=5).status_code)
        except requests.RequestException as exc:
            outcomes.append(type(exc).__name__)
    return outcomes


def open_files(limit: int):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_good_webhooks_get_through_a_slowloris_at_the_open_files_limit(config, app_port, tmp_path):
    config.write(extra="\n[server]\nheader_timeout_seconds = 3\nbody_timeout_seconds = 5\n")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process holds 1,100 sockets and more
    # The server as usually deployed: 1,024 open files, and no way to raise it.
    service = Service(config.env(), app_port, tmp_path).start(["serve", "--port", str(app_port)],
                                                              preexec_fn=open_files(1024))
    try:
        service.wait_ready()
        url = f"{service.url}/webhooks/zendesk-main"
        with Slowloris(app_port, count=1100, beat=1.0), ThreadPoolExecutor(2) as pool:
            fresh = pool.submit(webhooks, url, None, 10, 0.05)
            with requests.Session() as kept:
                kept_outcomes = pool.submit(webhooks, url, kept, 10, 0.05).result()
            fresh_outcomes = fresh.result()
        closed = requests.get(f"{service.url}/metrics", timeout=10).text
    finally:
        service.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    print(f"\naccepted during the attack: {fresh_outcomes.count(202)} of {len(fresh_outcomes)} on new connections, "
          f"{kept_outcomes.count(202)} of {len(kept_outcomes)} on a kept one")
    for outcomes in (fresh_outcomes, kept_outcomes):
        accepted = outcomes.count(202)
        assert accepted >= 0.99 * len(outcomes), (accepted, len(outcomes), sorted(set(map(str, outcomes))))
    # More slow connections than the cap (1,024 less the reserve): the oldest made room.
    assert 'ces_http_connections_closed_total{reason="evicted"}' in closed
