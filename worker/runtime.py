"""What a process needs to do its work: settings, database, connectors, the queue, the clock.

Plain domain functions take a Runtime, so that tests build one against the real services and
call them without Celery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property

import structlog
from sqlalchemy.orm import Session

from ces.config import Settings, load_settings
from ces.config.models import ConnectorSettings
from ces.connectors.base import Connector
from ces.connectors.http import HttpClient
from ces.worker.celery_app import send
from ces.worker.db.engine import make_engine, make_sessionmaker
from ces.worker.db.types import utcnow
from ces.worker.health.counters import Counters
from ces.worker.live_connectors import LiveConnectors
from ces.worker.metrics import api_observer
from ces.worker.ratelimit import RedisRateLimiter

log = structlog.get_logger("ces.runtime")

Enqueue = Callable[[str, "int | list[int]"], None]


class Runtime:
    def __init__(self, settings: Settings, *, enqueue: Enqueue | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.settings = settings
        # One connection per worker thread (and the intake's writers), so that no task waits for one.
        pool = max(5, settings.worker.concurrency + 2, settings.intake.writers + 3)
        self.engine = make_engine(settings.database_url, connect_timeout=settings.intake.db_timeout_seconds,
                                  pool_size=pool)
        self.sessions = make_sessionmaker(self.engine)
        self._enqueue = enqueue
        self.now = clock
        self.health = Counters(settings)  # the live health counters (worker/health), in Redis

    @cached_property
    def http(self) -> HttpClient:
        return HttpClient(self.settings.http, limiter=RedisRateLimiter(self.settings), user_agent="ces-worker",
                          observer=api_observer(self))

    @cached_property
    def live_connectors(self) -> LiveConnectors:
        return LiveConnectors(self)

    @property
    def connectors(self) -> dict[str, Connector]:
        """The TOML file's connectors and the console's, as of a few seconds ago (live_connectors.py)."""
        return self.live_connectors.snapshot().connectors

    def connector(self, connector_id: str) -> Connector | None:
        return self.connectors.get(connector_id)

    def connector_settings(self, connector_id: str) -> ConnectorSettings | None:
        conn = self.connector(connector_id)
        return conn.settings if conn is not None else None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads: on SQLite it takes no write lock (engine.py), so a check
        made while a write transaction is open in the same thread cannot wait on it."""
        with self.sessions() as session:
            session.connection(execution_options={"read_only": True})
            yield session

    def enqueue(self, task: str, row_id: int | list[int]) -> bool:
        """Best effort: a row that is not enqueued now is enqueued by the scheduler later."""
        try:
            if self._enqueue is not None:
                self._enqueue(task, row_id)
            else:
                send(self.settings, task, row_id)
            return True
        except Exception as exc:  # the broker being down must never lose or fail the caller's work
            log.warning("enqueue_failed", task=task, id=row_id, error=type(exc).__name__)
            return False

    def close(self) -> None:
        if "live_connectors" in self.__dict__:
            self.live_connectors.stop_polling()
        self.engine.dispose()


_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """The process-wide runtime, built from the configuration on first use."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime(load_settings())
    return _runtime


def set_runtime(rt: Runtime | None) -> None:
    global _runtime
    _runtime = rt
