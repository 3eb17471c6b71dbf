"""Slow clients and the connection cap of `ces serve`: what uvicorn does not bound by itself.

uvicorn closes a keep-alive connection that stays silent, but a client that sends one header
line every few seconds, or its body a byte at a time, keeps its connection (and a file
descriptor) for as long as it likes, and a head may grow without end; at the open-files limit
the server stops accepting anyone. Here every connection is in one phase:

- waiting for a request head, since it connected or since its last response: closed after
  `server.header_timeout_seconds`, or at once past `server.max_header_bytes`;
- reading a request body, since its head: closed after `server.body_timeout_seconds`;
- being answered: no deadline here (the app's own timeouts apply).

A sweep closes what is past its deadline: the waiting connections are kept oldest first, so the
sweep looks only at those due. At `server.max_connections`, a new connection makes room by
closing the one that has waited longest for a head (a good client sends its head within
milliseconds of connecting; a slow one has been waiting), and is refused only when every
connection is past its head. The per-request cost is a few dictionary operations.
"""

from __future__ import annotations

import resource
import time
from typing import ClassVar

import h11
import structlog
from prometheus_client import Counter
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # uvicorn[standard] brings httptools

from ces.config.models import ServerSettings
from ces.worker.runtime import get_runtime

log = structlog.get_logger("ces.http")
CLOSED = Counter("ces_http_connections_closed_total", "Connections closed by the server's limits, by reason",
                 ["reason"])

HEAD, BODY, BUSY = "head", "body", "busy"
# File descriptors kept for everything but client connections: database and Redis pools, log
# files, templates, the listening socket.
RESERVED_FILES = 128
MOST_CONNECTIONS = 10_000  # the default cap where the open-files limit is high: about 5 KiB each
_431 = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: 28\r\nconnection: close\r\n\r\nrequest head is too large.\r\n")


def raise_open_files_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (as Go's runtime does); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # some systems cap the soft limit lower than an infinite hard one
            pass
    return soft


def default_max_connections() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return MOST_CONNECTIONS
    return max(16, min(soft - RESERVED_FILES, MOST_CONNECTIONS))


class Guard:
    """The connections of one server (one event loop), by phase."""

    def __init__(self, loop, limits: ServerSettings):
        self.loop = loop
        self.limits = limits
        self.max_connections = limits.max_connections or default_max_connections()
        self.deadlines = {HEAD: limits.header_timeout_seconds, BODY: limits.body_timeout_seconds}
        # phase → {connection: since}, in the order they entered it (so oldest first)
        self.since: dict[str, dict] = {HEAD: {}, BODY: {}}
        self.open = 0
        self.closed: dict[str, int] = {}  # since the last log line
        self.logged_at = 0.0
        self.tick = min(1.0, max(0.05, min(self.deadlines.values()) / 4))
        loop.call_later(self.tick, self.sweep)

    def connected(self, conn) -> bool:
        """Count a new connection; False when there is no room for it."""
        if self.open >= self.max_connections:
            oldest = next(iter(self.since[HEAD]), None)
            if oldest is None:
                self.count("refused")
                return False
            self.close(oldest, "evicted")
        self.open += 1
        conn._phase = HEAD
        self.since[HEAD][conn] = time.monotonic()
        return True

    def enter(self, conn, phase: str) -> None:
        """The connection moves to `phase` (nothing for one already closed or refused)."""
        old = conn._phase
        if old == phase or old is None:
            return
        if old in self.since:
            del self.since[old][conn]
        conn._phase = phase
        if phase in self.since:
            self.since[phase][conn] = time.monotonic()
        if phase == HEAD:
            conn._head_bytes = 0

    def lost(self, conn) -> None:
        if conn._phase is not None:
            self.leave(conn)

    def leave(self, conn) -> None:
        self.since.get(conn._phase, {}).pop(conn, None)
        conn._phase = None
        self.open -= 1

    def close(self, conn, reason: str) -> None:
        self.leave(conn)
        self.count(reason)
        conn.transport.close()

    def count(self, reason: str) -> None:
        CLOSED.labels(reason).inc()
        self.closed[reason] = self.closed.get(reason, 0) + 1

    def sweep(self) -> None:
        now = time.monotonic()
        for phase, reason in ((HEAD, "header_timeout"), (BODY, "body_timeout")):
            waiting, cutoff = self.since[phase], now - self.deadlines[phase]
            while waiting:
                conn, since = next(iter(waiting.items()))
                if since > cutoff:
                    break
                self.close(conn, reason)
        if self.closed and now - self.logged_at >= 60:  # under attack: one line a minute, not one per connection
            # Timeouts alone are ordinary (a browser's unused preconnection); a full server is not.
            at_cap = "evicted" in self.closed or "refused" in self.closed
            (log.warning if at_cap else log.info)("connections_closed", open=self.open,
                                                  max_connections=self.max_connections, **self.closed)
            self.closed, self.logged_at = {}, now
        self.loop.call_later(self.tick, self.sweep)


class Guarded:
    """Mixed into uvicorn's HTTP protocols: reports each connection's phase to its server's Guard."""

    limits: ClassVar[ServerSettings | None] = None  # None: the process's runtime settings
    _phase: str | None = None
    _head_bytes = 0

    def _guard_of_server(self) -> Guard:
        guard = getattr(self.server_state, "ces_guard", None)
        if guard is None:
            limits = self.limits
            if limits is None:
                limits = get_runtime().settings.server
            guard = self.server_state.ces_guard = Guard(self.loop, limits)
        return guard

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._guard = self._guard_of_server()
        if not self._guard.connected(self):
            transport.close()

    def connection_lost(self, exc) -> None:
        self._guard.lost(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase == HEAD:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._phase == HEAD and self._head_bytes > self._guard.limits.max_header_bytes:
            if not self.transport.is_closing():
                self.transport.write(_431)
            self._guard.close(self, "header_too_large")


class GuardedHttpTools(Guarded, HttpToolsProtocol):
    """uvicorn's httptools protocol; its parser's callbacks mark the phases."""

    def on_headers_complete(self) -> None:
        self._guard.enter(self, BODY)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        answered = self.cycle is not None and self.cycle.response_complete  # answered before the body ended
        self._guard.enter(self, HEAD if answered else BUSY)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        waits = self._phase == BUSY and not self.pipeline  # else the next request is already under way
        super().on_response_complete()
        if waits:
            self._guard.enter(self, HEAD)


class GuardedH11(Guarded, H11Protocol):
    """uvicorn's pure-Python protocol, for `http="h11"`; h11's own state gives the phase."""

    _PHASES: ClassVar[dict] = {h11.IDLE: HEAD, h11.SEND_BODY: BODY}

    def handle_events(self) -> None:  # after new data, and after an answer when the next request may start
        super().handle_events()
        self._guard.enter(self, self._PHASES.get(self.conn.their_state, BUSY))


GuardedProtocol = GuardedHttpTools  # what `ces serve` runs: uvicorn's fastest parser, as before
