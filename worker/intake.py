"""Intake: verify → parse → store (the stored event is the outbox) → answer → enqueue.

Webhooks that arrive together share one transaction: requests hand their rows to one writer,
which inserts everything waiting in one multi-row INSERT … ON CONFLICT DO NOTHING and commits
once. A 2xx still means "in the database"; the commit is simply shared (group commit). The push
to the broker happens after the answer and is best effort: the scheduler enqueues what it missed.

Because the commit is shared, a row that the database would refuse must never join a batch: every
value is checked against its column before (request_rows), and the request alone gets a 422.

Two deliveries are the same delivery (the second stores nothing) when:
- their delivery ids are equal (unique per connector), or, for a kind whose DeliveryRule has a
  window, equal and the stored one arrived within the window: a later one is stored as the key's
  next generation ("<key>#2", "#3", …; the unique index still settles two writers racing);
- their signed keys are equal (unique per connector): the signed parts of a kind whose own id
  travels unsigned, so a replay under a new id is still a duplicate.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy import select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ces.connectors.base import Connector
from ces.connectors.errors import InvalidField
from ces.connectors.models import EventKind, InboundRequest, TicketEvent
from ces.connectors.timeparse import EARLIEST, LATEST, in_range
from ces.worker.db.models import EventState, WebhookEvent
from ces.worker.db.types import storable_text as _text
from ces.worker.runtime import Runtime

log = structlog.get_logger("ces.intake")

PROCESS_EVENT = "ces.process_event"
PROCESS_EVENTS = "ces.process_events"  # the events one shared commit stored: one message, not one each
PUSH_CHUNK = 100  # ids per message at most: a burst still spreads over the worker's threads
# At most one push per this many seconds while webhooks stream in (the first goes at once): a
# Celery publish costs more CPU than a whole webhook, so ids wait a moment and go together. The
# survey is still out within about a second.
PUSH_EVERY = 0.05


class DatabaseUnavailable(Exception):
    pass


@dataclass(frozen=True)
class IntakeResult:
    status: str  # accepted | duplicate | ignored
    events: int  # events newly stored by this request

    @property
    def http_status(self) -> int:
        return 202 if self.events else 200


_TABLE = WebhookEvent.__table__  # Core, not the ORM: this is intake's hot path
# The longest text each column takes, read from the table itself so that the check cannot drift.
_LIMITS = {c.name: c.type.length for c in _TABLE.columns if getattr(c.type, "length", None)}


def _fits(column: str, value: str | None) -> str | None:
    if value is not None and len(value) > _LIMITS[column]:
        raise InvalidField(f"{column} is longer than {_LIMITS[column]} characters")
    return value


def _time_fits(field: str, at: datetime | None) -> None:
    """Connectors read times with parse_time, which gives none out of range; this holds the rest."""
    if at is not None and (at.tzinfo is None or not in_range(at)):
        raise InvalidField(f"{field} {at.isoformat()[:40]} is not a time from {EARLIEST:%Y} to before "
                           f"{LATEST:%Y} (UTC)")


def _times_fit(event: TicketEvent) -> None:
    _time_fits("occurred_at", event.occurred_at)
    for entry in event.entries:
        _time_fits("entries.at", entry.at)
    if event.ticket:
        _time_fits("ticket.created_at", event.ticket.created_at)
        _time_fits("ticket.updated_at", event.ticket.updated_at)


def request_rows(connector: Connector, request: InboundRequest, events: list[TicketEvent],
                 requeue_after: float) -> list[dict[str, Any]]:
    """The rows of one request's events, each checked to fit its columns (InvalidField if not), with
    the kind's delivery window and signed key."""
    signed = connector.signed_key(request)
    window = connector.delivery.window
    return [event_row(connector.id, e, request.received_at, requeue_after, window=window,
                      signed_key=signed if signed is None or not i else f"{signed}:{i}")
            for i, e in enumerate(events)]


def event_row(connector_id: str, event: TicketEvent, received_at: datetime, requeue_after: float, *,
              window: timedelta | None = None, signed_key: str | None = None) -> dict[str, Any]:
    ignored = event.kind == EventKind.IGNORED
    _times_fit(event)
    return {
        "connector_id": connector_id,
        "delivery_id": _fits("delivery_id", _text(event.delivery_id)),
        "signed_key": _fits("signed_key", signed_key),
        "kind": event.kind.value,
        "ticket_id": _fits("ticket_id", _text(event.ticket_id)),
        "status": event.status.value if event.status else None,
        "previous_status": event.previous_status.value if event.previous_status else None,
        "actor_id": _fits("actor_id", _text(event.actor_id)),
        "summary": _text(event.summary[:_LIMITS["summary"]]),
        "occurred_at": event.occurred_at,
        "received_at": received_at,
        "payload": event.payload,
        "entries": [e.model_dump(mode="json") for e in event.entries] or None,
        "ticket": event.ticket.model_dump(mode="json") if event.ticket else None,
        "state": EventState.IGNORED if ignored else EventState.RECEIVED,
        "attempts": 0,
        "next_try_at": None if ignored else received_at + timedelta(seconds=requeue_after),
        "outcome": "nothing to do for this event" if ignored else None,
        # Not a column: how long an equal delivery id is the same delivery (None: for ever).
        "window": window.total_seconds() if window else None,
    }


def insert_new(conn: Connection, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert the rows whose (connector, delivery) is new; return the new ids by that key."""
    if not rows:
        return {}
    if conn.dialect.name == "postgresql":
        return _insert_postgresql(conn, rows)
    # One statement for any number of rows (SQLAlchemy's "insertmanyvalues" batches them into
    # multi-row VALUES): compiled once and cached, where .values(rows) would compile per batch size.
    return {(c, d): i for i, c, d in conn.execute(_INSERT_SQLITE, [{k: r[k] for k in _COLUMNS} for r in rows])}


_COLUMNS = ("connector_id", "delivery_id", "signed_key", "kind", "ticket_id", "status", "previous_status", "actor_id",
            "summary", "occurred_at", "received_at", "payload", "entries", "ticket", "state", "attempts",
            "next_try_at", "outcome")
# One fixed statement whatever the batch size, with one parameter: the rows as one JSON array
# (orjson writes it in C; PostgreSQL reads it in C). No SQL to compile per batch and no per-value
# adaptation in Python: the hot path of intake on PostgreSQL. The JSON columns travel as JSON text
# inside it and are cast back: read as JSON values, PostgreSQL would unescape them to text first,
# and refuse a payload holding \u0000 or a lone surrogate that the json column itself takes.
_JSON = ("payload", "entries", "ticket")
_TYPES = {"occurred_at": "timestamptz", "received_at": "timestamptz", "next_try_at": "timestamptz", "attempts": "int"}
_CSV = ", ".join(_COLUMNS)
_RECORD = ", ".join(f"{c} {_TYPES.get(c, 'text')}" for c in _COLUMNS)  # the JSON columns as text, cast below
_SELECT = ", ".join(f"{c}::json" if c in _JSON else c for c in _COLUMNS)
# No conflict target: a row is skipped on either unique key (the delivery id, the signed key).
_RECORDSET = (f"INSERT INTO webhook_events ({_CSV}) SELECT {_SELECT} FROM json_to_recordset(%s) AS r({_RECORD}) "
              "ON CONFLICT DO NOTHING RETURNING id, connector_id, delivery_id")


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer beyond 64 bits, a lone surrogate: the slower encoder takes anything JSON has
        return json.dumps(value, default=str)


def _rows_json(rows: list[dict[str, Any]]) -> str:
    return _dumps([{**r, **{c: None if r[c] is None else _dumps(r[c]) for c in _JSON}} for r in rows])


def _insert_postgresql(conn: Connection, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    cursor = conn.connection.driver_connection.cursor()
    cursor.execute(_RECORDSET, (_rows_json(rows),))
    return {(c, d): i for i, c, d in cursor.fetchall()}


_INSERT_SQLITE = (sqlite.insert(_TABLE).on_conflict_do_nothing()  # either unique key, as on PostgreSQL
                  .returning(_TABLE.c.id, _TABLE.c.connector_id, _TABLE.c.delivery_id))
GENERATIONS_PER_QUERY = 8


def _generation_id(key: str, generation: int) -> str:
    return key if generation == 1 else f"{key}#{generation}"


def _stored_as(conn: Connection, row: dict[str, Any]) -> str:
    """The delivery id a row of a windowed kind is stored under: its key's newest generation while
    that arrived within the window (the insert then skips it: a duplicate), else the next one."""
    key, found, start = row["delivery_id"], {}, 1
    while True:
        names = {_generation_id(key, g): g for g in range(start, start + GENERATIONS_PER_QUERY)}
        hits = conn.execute(select(_TABLE.c.delivery_id, _TABLE.c.received_at).where(
            _TABLE.c.connector_id == row["connector_id"], _TABLE.c.delivery_id.in_(names))).all()
        found.update((names[d], at) for d, at in hits)
        if len(hits) < GENERATIONS_PER_QUERY:
            break
        start += GENERATIONS_PER_QUERY
    if not found:
        return key
    newest = max(found)
    within = (row["received_at"] - found[newest]).total_seconds() < row["window"]
    return _generation_id(key, newest if within else newest + 1)


def _within_windows(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as they are stored: those of windowed kinds under their generation's delivery id
    (copies: a batch written again after a dropped connection starts from the key)."""
    if not any(row["window"] for row in rows):
        return rows
    return [{**row, "delivery_id": _stored_as(conn, row)} if row["window"] else row for row in rows]


def _firsts(rows: list[dict[str, Any]]) -> list[bool]:
    """Whether each row is the first of the batch with its keys (a later one is a duplicate)."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for row in rows:
        keys = [("d", row["connector_id"], row["delivery_id"])]
        if row["signed_key"] is not None:
            keys.append(("s", row["connector_id"], row["signed_key"]))
        out.append(not seen.intersection(keys))
        seen.update(keys)
    return out


def store_batch(rt: Runtime, batch: list[list[dict[str, Any]]], conn: Connection | None = None
                ) -> list[list[int | None]]:
    """One transaction for several requests (on `conn`, else a connection from the pool). For each
    request, each row's new id or None (a duplicate)."""
    if conn is None:
        with rt.engine.connect() as pooled:
            return store_batch(rt, batch, pooled)
    with conn.begin():  # Core: no ORM session on intake's hot path
        rows = _within_windows(conn, [row for rows in batch for row in rows])
        firsts = _firsts(rows)
        new = insert_new(conn, [row for row, first in zip(rows, firsts) if first])
    ids = iter([new.get((row["connector_id"], row["delivery_id"])) if first else None
                for row, first in zip(rows, firsts)])
    return [[next(ids) for _ in rows] for rows in batch]


def result_of(rows: list[dict[str, Any]], ids: list[int | None]) -> IntakeResult:
    new = accepted = 0
    for row, i in zip(rows, ids):
        if i is not None:
            new += 1
            accepted += row["state"] != EventState.IGNORED
    if not new:
        return IntakeResult("duplicate" if rows else "ignored", 0)
    return IntakeResult("accepted" if accepted else "ignored", new)


def _dropped(conn: Connection, exc: Exception) -> bool:
    """Whether the server dropped the connection (rather than refusing the batch)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    try:  # psycopg's own error, raised on its cursor, says it through the connection
        return bool(getattr(conn.connection.driver_connection, "broken", False))
    except Exception:
        return False


def _give_up(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(DatabaseUnavailable("the database did not answer in time"))


class EventWriter:
    """Shares one commit among the webhooks waiting at the same moment. `intake.writers` batches
    are written at once, each on its own connection: while one waits for its commit to reach the
    disk, the next one is already inserting (and PostgreSQL flushes concurrent commits together)."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self._queue: asyncio.Queue | None = None
        writers = rt.settings.intake.writers
        self._db = ThreadPoolExecutor(writers, thread_name_prefix="ces-intake-db")
        self._push = ThreadPoolExecutor(1, thread_name_prefix="ces-intake-push")
        # The writers' own connections, kept between batches: no pool checkout and no ping per batch.
        # One that fails is thrown away; the next batch connects afresh.
        self._connections: list[Connection] = []
        self._to_push: list[int] = []  # new ids waiting for the push thread (touched on the event loop only)
        self._pushing = False
        self._closing = False
        self._task: asyncio.Task | None = None
        self._free: asyncio.Semaphore | None = None
        self._writing: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._free = asyncio.Semaphore(self.rt.settings.intake.writers)
        self._task = asyncio.create_task(self._run(), name="ces-event-writer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._writing:  # answers already being written finish first
            await asyncio.gather(*self._writing, return_exceptions=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while self._pushing and loop.time() < deadline:
            await asyncio.sleep(0.01)  # stored ids go to the broker now (or the scheduler sweeps them up later)
        self._closing = True  # no push after this: what is left is swept up by the scheduler
        self._db.shutdown(wait=True)
        self._push.shutdown(wait=True)
        for conn in self._connections:
            conn.close()

    def _store(self, batch: list[list[dict[str, Any]]]) -> list[list[int | None]]:
        try:
            conn, kept = self._connections.pop(), True  # list.pop and append are atomic: no lock needed
        except IndexError:
            conn, kept = self.rt.engine.connect(), False
        try:
            result = store_batch(self.rt, batch, conn)
        except Exception as exc:
            dropped = _dropped(conn, exc)
            conn.invalidate()  # whatever went wrong, this connection is not trusted again
            conn.close()
            if kept and dropped:
                # A kept connection the server dropped (a restart, an idle timeout): the batch again
                # on another. Safe: the insert skips what is there, and a row that did commit before
                # the drop is swept up and enqueued by the scheduler.
                return self._store(batch)
            raise
        self._connections.append(conn)
        return result

    async def submit(self, rows: list[dict[str, Any]]) -> list[int | None]:
        assert self._queue is not None, "EventWriter.start() was not awaited"
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put_nowait((rows, future))
        # A plain timer on the future: lighter than asyncio.timeout (no task cancellation to undo).
        timer = loop.call_later(self.rt.settings.intake.db_timeout_seconds, _give_up, future)
        try:
            return await future
        finally:
            timer.cancel()

    async def _run(self) -> None:
        limit = self.rt.settings.intake.batch_max
        while True:
            await self._free.acquire()  # a writer is free: take everything waiting now
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < limit:
                batch.append(self._queue.get_nowait())
            task = asyncio.create_task(self._write(batch))
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    async def _write(self, batch: list) -> None:
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._db, self._store, [rows for rows, _ in batch])
        except Exception as exc:
            log.warning("intake_store_failed", error=type(exc).__name__, requests=len(batch))
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(DatabaseUnavailable(type(exc).__name__))
            return
        finally:
            self._free.release()
        new_ids = []
        for (rows, fut), ids in zip(batch, results):
            if not fut.done():
                fut.set_result(ids)
            new_ids += [i for row, i in zip(rows, ids) if i is not None and row["state"] == EventState.RECEIVED]
        if new_ids:
            self._to_push += new_ids
            if not self._pushing:  # else the push under way takes these too: fewer, fuller messages
                self._pushing = True
                self._push_next(loop)

    def _push_next(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._closing:
            self._pushing = False
            return
        ids, self._to_push = self._to_push, []
        started = loop.time()
        done = loop.run_in_executor(self._push, self._enqueue, ids)
        done.add_done_callback(lambda _: self._pushed(loop, started))

    def _pushed(self, loop: asyncio.AbstractEventLoop, started: float) -> None:
        if self._to_push:
            loop.call_at(started + PUSH_EVERY, self._push_next, loop)
        else:
            self._pushing = False

    def _enqueue(self, ids: list[int]) -> None:
        for start in range(0, len(ids), PUSH_CHUNK):
            if not self.rt.enqueue(PROCESS_EVENTS, ids[start:start + PUSH_CHUNK]):
                break  # the broker is down: the scheduler picks these up once it is back
