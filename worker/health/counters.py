"""Health counters that every process bumps live in Redis (never in the database, so that a flood of
forged webhooks costs no database write; a process holds at most its last second of counts).

Webhooks are the hot path (thousands a second on one event loop), and a solved ticket makes
several helpdesk calls and sends a survey: a process adds webhooks, successful API calls and
surveys sent or failed up in memory and a thread writes them to Redis every FLUSH_SECONDS in one
round trip, so that the caller pays a dictionary update, not a Redis call; every other process sees
them within a second, and the process itself at once (reading flushes first). A failed API call is
written at once, after the successful calls still pending for its account (in the same round trip),
so that an earlier success never clears it; a success flushed late by another process does not
either (OK_FLUSHED compares the times). Everything else is written as it happens.

Counts are kept per minute in one hash per hour (`…:{what}:{subject}:{hour}`, field = minute),
which expire after a day and a bit; "last" facts (last webhook, last API error, last SMTP send,
last sweep) are hash fields. Writing never fails the caller: Redis being down turns recording off
for a few seconds (a webhook must still get its 202 quickly), and the page says Redis is down.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any

import redis
import structlog

from ces.config import Settings

log = structlog.get_logger("ces.health")

KEEP_SECONDS = 26 * 3600  # a day of minutes, plus the hour being written
PAUSE_SECONDS = 5.0  # after a Redis error, recording waits this long before trying again
FLUSH_SECONDS = 1.0  # webhooks, successful API calls and survey counts reach Redis this often
UNREACHABLE = "unreachable"
AUTH_STATUSES = (401, 403)


# The successful calls to a helpdesk account counted since the last flush (ARGV: how many, the
# last one's time): they clear down_since/auth_status only if no error was recorded after them —
# by another process, whose error reached Redis before this process's flush.
OK_FLUSHED = """
local key, ok = KEYS[1], tonumber(ARGV[2])
redis.call('HINCRBY', key, 'calls', ARGV[1])
local last_ok = tonumber(redis.call('HGET', key, 'last_ok'))
if not last_ok or last_ok < ok then redis.call('HSET', key, 'last_ok', ARGV[2]) end
local last_error = tonumber(redis.call('HGET', key, 'last_error_at'))
if not last_error or last_error <= ok then redis.call('HDEL', key, 'down_since', 'auth_status') end
"""

# The mail server's last acceptance, flushed late (ARGV: its time): it resets the refusals in a row
# only if no refusal was recorded after it, as OK_FLUSHED does for a helpdesk account.
SMTP_OK_FLUSHED = """
local key, ok = KEYS[1], tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', key, 'last_send_at'))
if not last or last < ok then redis.call('HSET', key, 'last_send_at', ARGV[1]) end
local refused = tonumber(redis.call('HGET', key, 'last_refusal_at'))
if not refused or refused <= ok then redis.call('HSET', key, 'refusals_in_a_row', 0) end
"""


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


class Counters:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        self.client = redis.Redis.from_url(settings.broker_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = f"{settings.broker_prefix}ces:health:"
        self.clock = clock
        self._paused_until = 0.0
        self._start_afresh()
        _instances.add(self)
        global _current
        _current = self  # send_mail's hook has no runtime to ask (see smtp_watched)

    def _start_afresh(self) -> None:
        """Nothing pending, no flusher (at start, and in a forked child: the parent flushes what it
        counted, and a lock its threads held at the fork would stay held here)."""
        self._lock = threading.Lock()  # guards the pending counts
        self._ordered = threading.Lock()  # one flush or error write at a time, so that API facts land in order
        self._counts: Counter[tuple[str, str, int]] = Counter()  # (what, connector, minute) → webhooks, surveys
        self._lasts: dict[str, dict[str, float]] = {}  # connector → last_webhooks / last_signature_failures
        self._api: dict[str, tuple[int, float]] = {}  # rate key → successful calls, the last one's time
        self._smtp_ok: float | None = None  # the last mail the server accepted, not yet flushed
        self._fields: Counter[tuple[str, str]] = Counter()  # (Redis hash, field) → increments (count_later)
        self._flusher: threading.Thread | None = None

    # --- writing ------------------------------------------------------------------------------
    def _write(self, fill: Callable[[Any], None]) -> None:
        if time.monotonic() < self._paused_until:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            fill(pipe)
            pipe.execute()
        except redis.RedisError as exc:
            self._paused_until = time.monotonic() + PAUSE_SECONDS
            log.warning("health_unrecorded", error=type(exc).__name__)

    def _count(self, pipe, what: str, subject: str, now: float, by: int = 1) -> None:
        hour, minute = divmod(int(now) // 60, 60)
        key = f"{self.prefix}{what}:{subject}:{hour}"
        pipe.hincrby(key, minute, by)
        pipe.expire(key, KEEP_SECONDS)

    def _last(self, pipe, subject: str, **fields: Any) -> None:
        pipe.hset(f"{self.prefix}last:{subject}", mapping={k: _json(v) for k, v in fields.items()})

    def _flushed_later(self) -> None:
        """Called holding _lock once something is pending: the flusher runs from the first count on."""
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_forever, name="ces-health-flush", daemon=True)
            self._flusher.start()
            atexit.register(self.flush)

    def webhook(self, connector_id: str, outcome: str) -> None:
        """One webhook of a known connector: accepted/duplicate/ignored, or why it was refused."""
        now = self.clock()
        what = "signature_failures" if outcome in ("bad_signature", "stale_timestamp") else "webhooks"
        with self._lock:
            self._counts[(what, connector_id, int(now) // 60 * 60)] += 1
            self._lasts.setdefault(connector_id, {})[f"last_{what}"] = now
            self._flushed_later()

    def flush(self) -> None:
        """Writes what was counted since the last flush (lost if Redis is down: uncountable)."""
        with self._ordered:
            with self._lock:
                counts, lasts, api, smtp_ok, increments = (self._counts, self._lasts, self._api, self._smtp_ok,
                                                           self._fields)
                self._counts, self._lasts, self._api, self._smtp_ok, self._fields = Counter(), {}, {}, None, Counter()
            if not counts and not lasts and not api and smtp_ok is None and not increments:
                return

            def fill(pipe):
                for (what, connector_id, minute), n in counts.items():
                    self._count(pipe, what, connector_id, minute, by=n)
                for connector_id, fields in lasts.items():
                    self._last(pipe, f"connector:{connector_id}", **fields)
                for rate_key, (calls, last_ok) in api.items():
                    self._api_ok(pipe, rate_key, calls, last_ok)
                if smtp_ok is not None:
                    pipe.eval(SMTP_OK_FLUSHED, 1, f"{self.prefix}last:smtp", _json(smtp_ok))
                for (key, field), n in increments.items():
                    pipe.hincrby(key, field, n)
            self._write(fill)

    def count_later(self, key: str, field: str) -> None:
        """HINCRBY key field 1, at the next flush (a count read at scrape time, e.g. /metrics')."""
        with self._lock:
            self._fields[(key, field)] += 1
            self._flushed_later()

    def _api_ok(self, pipe, rate_key: str, calls: int, last_ok: float) -> None:
        pipe.eval(OK_FLUSHED, 1, f"{self.prefix}api:{rate_key}", calls, _json(last_ok))

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def survey(self, connector_id: str, state: str) -> None:
        if state in ("sent", "failed"):
            now = self.clock()
            with self._lock:
                self._counts[(f"surveys_{state}", connector_id, int(now) // 60 * 60)] += 1
                self._flushed_later()

    def api_call(self, rate_key: str | None, outcome: str, error: Exception | None) -> None:
        """A helpdesk API call's outcome (the HTTP client's observer): ok clears the problem (at the
        next flush), an error is written at once, after the account's successes still pending."""
        if not rate_key:
            return  # Slack, Teams, outgoing webhooks: not a helpdesk account
        now, key = self.clock(), f"{self.prefix}api:{rate_key}"
        if error is None:
            with self._lock:
                calls, _ = self._api.get(rate_key, (0, now))
                self._api[rate_key] = (calls + 1, now)
                self._flushed_later()
            return
        with self._ordered:
            with self._lock:
                pending = self._api.pop(rate_key, None)

            def fill(pipe):
                if pending:
                    self._api_ok(pipe, rate_key, *pending)
                self._api_error(pipe, key, outcome, error, now)
            self._write(fill)

    def _api_error(self, pipe, key: str, outcome: str, error: Exception, now: float) -> None:
        status = getattr(error, "status", None)
        cause = getattr(error, "cause", None) or getattr(error, "detail", None) or type(error).__name__
        pipe.hincrby(key, "calls", 1)
        pipe.hincrby(key, "errors", 1)
        pipe.hset(key, mapping={"last_error": _json(str(cause)[:300]), "last_error_at": _json(now),
                                "last_status": _json(status)})
        if status in AUTH_STATUSES:
            pipe.hset(key, "auth_status", _json(status))
        elif outcome == "transient" and (status is None or status >= 500):
            pipe.hsetnx(key, "down_since", _json(now))

    def smtp(self, refusal: str | None) -> None:
        """A mail accepted (written at the next flush) or refused (at once, after the acceptance
        still pending, so that the refusals in a row count from the last acceptance)."""
        now, key = self.clock(), f"{self.prefix}last:smtp"
        if not refusal:
            with self._lock:
                self._smtp_ok = now
                self._flushed_later()
            return
        with self._ordered:
            with self._lock:
                pending, self._smtp_ok = self._smtp_ok, None

            def fill(pipe):
                if pending is not None:
                    pipe.eval(SMTP_OK_FLUSHED, 1, key, _json(pending))
                self._last(pipe, "smtp", last_refusal=refusal[:300], last_refusal_at=now)
                pipe.hincrby(key, "refusals_in_a_row", 1)
            self._write(fill)

    def swept(self) -> None:
        now = self.clock()
        self._write(lambda pipe: self._last(pipe, "scheduler", last_sweep_at=now))

    def backlog(self, waiting: int, keep_seconds: float) -> None:
        """One sample of the work waiting (the scheduler, every [health] sample_seconds)."""
        now, key = self.clock(), f"{self.prefix}backlog"

        def fill(pipe):
            pipe.zadd(key, {_json([now, waiting]): now})
            pipe.zremrangebyscore(key, "-inf", now - keep_seconds)
        self._write(fill)

    def once_per(self, name: str, seconds: float) -> bool:
        """True for one caller (of every process) per `seconds`: what is due is done once."""
        try:
            return bool(self.client.set(f"{self.prefix}due:{name}", "1", nx=True, px=max(1, int(seconds * 1000))))
        except redis.RedisError:
            return False

    def swap_state(self, component: str, state: str) -> str | None:
        """Stores the state last notified for `component`; returns the one before (atomic, so that
        of several processes only one sees a change)."""
        old = self.client.set(f"{self.prefix}notified:{component}", state, get=True)
        return old.decode() if old else None

    def forget(self, component: str) -> None:
        """A component gone (a connector deleted): its incident closes with it, so that a later one
        of the same name is notified afresh."""
        try:
            self.client.delete(f"{self.prefix}notified:{component}")
        except redis.RedisError:
            pass  # its state lingers in Redis only: the report no longer lists it

    def forget_gone(self, present: set[str]) -> int:
        """The incidents of connectors no longer in the report (deleted in the console, removed from
        the file) close unannounced, so that a later one of the same id is news; how many closed."""
        notified = f"{self.prefix}notified:"
        gone = [key for key in self.client.scan_iter(match=f"{notified}connector:*", count=200)
                if key.decode().removeprefix(notified) not in present]
        return self.client.delete(*gone) if gone else 0

    # --- reading ------------------------------------------------------------------------------
    def per_minute(self, what: str, subject: str, minutes: int, now: float | None = None) -> list[int]:
        """Counts of the last `minutes` minutes, oldest first (the current minute last)."""
        self.flush()
        now = self.clock() if now is None else now
        last = int(now) // 60
        hours = sorted({m // 60 for m in range(last - minutes + 1, last + 1)})
        pipe = self.client.pipeline(transaction=False)
        for hour in hours:
            pipe.hgetall(f"{self.prefix}{what}:{subject}:{hour}")
        found: dict[int, int] = {}
        for hour, counts in zip(hours, pipe.execute()):
            found.update({hour * 60 + int(m): int(n) for m, n in counts.items()})
        return [found.get(m, 0) for m in range(last - minutes + 1, last + 1)]

    def facts(self, subject: str) -> dict[str, Any]:
        """The "last …" fields of a connector, "smtp" or "scheduler"; or a helpdesk account's API
        facts with subject "api:{rate key}"."""
        self.flush()
        name = subject if subject.startswith("api:") else f"last:{subject}"
        raw = self.client.hgetall(f"{self.prefix}{name}")
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def backlog_samples(self) -> list[tuple[float, int]]:
        return sorted(tuple(json.loads(m)) for m in self.client.zrange(f"{self.prefix}backlog", 0, -1))

    def reachable(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False


_current: Counters | None = None
_instances: weakref.WeakSet[Counters] = weakref.WeakSet()


def _after_fork() -> None:
    for counters in list(_instances):
        counters._start_afresh()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork)


def smtp_watched(send: Callable) -> Callable:
    """send_mail's hook: each send or refusal recorded for the SMTP card. A refusal is whatever
    send_mail raises but "uncertain" (the message may have gone)."""
    @functools.wraps(send)
    def watched(*args, **kwargs):
        try:
            result = send(*args, **kwargs)
        except Exception as exc:
            if _current is not None and type(exc).__name__ != "MailUncertain":
                _current.smtp(str(exc) or type(exc).__name__)
            raise
        if _current is not None:
            _current.smtp(None)
        return result
    return watched
