"""A local SMTP server (aiosmtpd) that keeps every message: the demo's mailbox and the tests'.

Messages are kept in memory and, with a directory, written there as .eml files (the demo's
/demo/mail page reads them). Refusals can be injected: the next N messages get a given code. A
delay before the final 250 (`delay_reply_seconds`) holds the sender in the window where the
message is already stored but not yet acknowledged: the one a crash makes uncertain.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import threading
import time
from collections import deque
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from ces.worker.demo.ports import free_port


class _Handler:
    def __init__(self, sink: MailSink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        reply = self.sink._received(envelope)
        delay = self.sink.delay_reply_seconds
        if delay and reply.startswith("250"):
            await asyncio.sleep(delay)  # stored; the sender waits for our 250
        return reply


class MailSink:
    def __init__(self, directory: str | Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 delay_reply_seconds: float = 0.0):
        self.delay_reply_seconds = delay_reply_seconds  # may be changed while running
        self.directory = Path(directory) if directory else None
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.messages: list[EmailMessage] = []
        self.arrived_at: list[float] = []  # time.monotonic() of each message, for benchmarks
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refusals: deque[str] = deque()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.controller = Controller(_Handler(self), hostname=host, port=port or free_port(host))

    @property
    def host(self) -> str:
        return self.controller.hostname

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self) -> MailSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def refuse_next(self, count: int, reply: str = "451 4.3.0 Try again later") -> None:
        with self._lock:
            self.refusals.extend([reply] * count)

    def _received(self, envelope) -> str:
        with self._lock:
            if self.refusals:
                return self.refusals.popleft()
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(msg)
            self.arrived_at.append(time.monotonic())
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            if self.directory:
                (self.directory / f"{next(self._counter):06d}.eml").write_bytes(envelope.content)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)
