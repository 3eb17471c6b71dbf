"""A small threaded HTTP server for simulated helpdesk APIs (the demo, tests, benchmarks).

Each helpdesk's simulator adds the routes of its documented API. Faults can be injected (a status
with headers for the next N calls, a fixed latency) and every request is recorded, so that tests
can count what reached the "helpdesk".
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class StubRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class StubResponse:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[StubRequest], StubResponse]


class StubServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.routes: list[tuple[str, re.Pattern, Handler]] = []
        self.requests: list[StubRequest] = []
        self.faults: deque[StubResponse] = deque()
        self.latency = 0.0
        self.lock = threading.RLock()
        stub = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall

            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                stub._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.server = ThreadingHTTPServer((host, port), _Handler)
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, method: str, pattern: str):
        def register(handler: Handler) -> Handler:
            self.routes.append((method, re.compile(f"^{pattern}$"), handler))
            return handler
        return register

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None, body: Any = None) -> None:
        with self.lock:
            for _ in range(count):
                self.faults.append(StubResponse(status, body or {"error": f"simulated {status}"}, headers or {}))

    def start(self) -> StubServer:
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True, name="stub-server")
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = urlsplit(h.path)
        req = StubRequest(h.command, parts.path, parse_qs(parts.query),
                          {k.lower(): v for k, v in h.headers.items()}, body, time.time())
        with self.lock:
            self.requests.append(req)
            fault = self.faults.popleft() if self.faults else None
        if self.latency:
            time.sleep(self.latency)
        if fault is not None:
            resp = fault
        else:
            resp = StubResponse(404, {"error": "RecordNotFound", "description": "Not found"})
            for method, pattern, handler in self.routes:
                m = pattern.match(parts.path)
                if m and method == h.command:
                    req.params = m.groupdict()
                    try:
                        resp = handler(req)
                    except Exception as exc:  # a bug in a simulator shows as a 500, like a real server
                        resp = StubResponse(500, {"error": type(exc).__name__, "description": str(exc)})
                    break
        payload = b"" if resp.body is None else json.dumps(resp.body).encode()
        h.send_response(resp.status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(payload)))
        for k, v in resp.headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        with self.lock:
            return sum(1 for r in self.requests if (method is None or r.method == method)
                       and r.path.startswith(path_prefix))


class SimulatedHelpdesk:
    """A simulated helpdesk's lifecycle on its StubServer (`self.server`): its URL, start, stop."""

    server: StubServer

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
