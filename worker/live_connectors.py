"""The connectors a process works with: the TOML file's and the console's (stored), merged.

Every process (server, workers, scheduler) sees a console change within seconds: it compares the
table's watermark (rows and the sum of their versions: one small query) with what it loaded, at
most every POLL_SECONDS, and rebuilds the set when it moved or a rotated webhook secret's grace
period ended. Workers and the scheduler check when they use the connectors and the last check is
older than that (a worker thread may wait for the query). The server checks from a thread of its
own (start_polling), so that intake's event loop never waits for the database: it keeps answering
from the set it has while the database is slow or down. A TOML id always wins over a stored one
(the console refuses such ids; this covers a file edited afterwards).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from ces.connectors.base import Connector
from ces.connectors.registry import connector_class
from ces.worker import stored_connectors

log = structlog.get_logger("ces.connectors")

POLL_SECONDS = 2.0


@dataclass
class Snapshot:
    connectors: dict[str, Connector] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)  # ids that come from the console
    failing: dict[str, str] = field(default_factory=dict)  # stored id → why it cannot work
    watermark: tuple[int, int] | None = None
    expires: datetime | None = None  # the first end of a grace period: rebuild then


class LiveConnectors:
    def __init__(self, rt):
        self.rt = rt
        self._snapshot: Snapshot | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()

    def _build(self, settings) -> Connector:
        return connector_class(settings.kind)(settings, http=self.rt.http, public_url=self.rt.settings.public_url)

    def snapshot(self) -> Snapshot:
        if self._snapshot is None or (self._poller is None and time.monotonic() - self._checked >= POLL_SECONDS):
            with self._lock:
                if self._snapshot is None or time.monotonic() - self._checked >= POLL_SECONDS:
                    self._checked = time.monotonic()
                    self.check()
        return self._snapshot

    def start_polling(self) -> None:
        """Check every POLL_SECONDS from a thread of its own (the server); callers never wait."""
        self.snapshot()
        stop = self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, args=(stop,), name="ces-connectors-poll", daemon=True)
        self._poller.start()

    def stop_polling(self) -> None:
        self._stop.set()
        self._poller = None

    def _poll(self, stop: threading.Event) -> None:
        while not stop.wait(POLL_SECONDS):
            self.check()

    def check(self) -> bool:
        """Reload if the stored connectors changed; whether it did. Never raises."""
        try:
            with self.rt.reading() as s:
                mark = stored_connectors.watermark(s)
            current = self._snapshot
            expired = current is not None and current.expires is not None and current.expires <= self.rt.now()
            if current is None or mark != current.watermark or expired:
                self._snapshot = self._load()
                return True
            return False
        except Exception as exc:  # the database away: keep working with what we have
            log.warning("connectors_check_failed", error=type(exc).__name__)
            if self._snapshot is None:
                self._snapshot = self._load()  # the TOML's alone, for now
            return False

    def _load(self) -> Snapshot:
        snap = Snapshot({c.id: self._build(c) for c in self.rt.settings.connectors})
        try:
            with self.rt.reading() as s:
                snap.watermark = stored_connectors.watermark(s)
                loaded = stored_connectors.load(s, self.rt.now())
        except Exception as exc:  # no table yet (schema not upgraded), or no database: the TOML's alone
            log.warning("stored_connectors_unavailable", error=type(exc).__name__)
            return snap
        for item in loaded:
            if item.row_id in snap.connectors:
                continue
            if item.problem:
                snap.failing[item.row_id] = item.problem
            if item.settings is not None:
                snap.connectors[item.row_id] = self._build(item.settings)
                snap.stored.add(item.row_id)
            if item.grace_until and (snap.expires is None or item.grace_until < snap.expires):
                snap.expires = item.grace_until
        return snap
