"""A helpdesk's API rate limit, shared by every worker through Redis.

A sliding window of the last 60 seconds per helpdesk account (a sorted set of request times,
checked and appended atomically in Lua with Redis's own clock), so that no 60-second window ever
holds more requests than the limit, however many workers there are.
"""

from __future__ import annotations

import time
import uuid

import redis
import structlog

from ces.config import Settings
from ces.connectors.errors import RateLimited

log = structlog.get_logger("ces.ratelimit")

_SCRIPT = """
local key, limit, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return (tonumber(oldest[2]) + window - now)
"""

WINDOW_US = 60_000_000


class RedisRateLimiter:
    def __init__(self, settings: Settings, *, max_wait_seconds: float = 10.0):
        self.client = redis.Redis.from_url(settings.broker_url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = f"{settings.broker_prefix}ces:ratelimit:"
        self.max_wait = max_wait_seconds
        self._script = self.client.register_script(_SCRIPT)

    def acquire(self, key: str, per_minute: int) -> None:
        """Wait for a slot; a wait longer than max_wait raises so the task reschedules instead."""
        deadline = time.monotonic() + self.max_wait
        while True:
            try:
                wait_us = int(self._script(keys=[self.prefix + key], args=[per_minute, WINDOW_US, uuid.uuid4().hex]))
            except redis.RedisError as exc:
                # Without Redis the limit cannot be shared; the helpdesk's own 429 still protects us.
                log.warning("ratelimit_unavailable", error=type(exc).__name__)
                return
            if wait_us <= 0:
                return
            wait = wait_us / 1_000_000
            if time.monotonic() + wait > deadline:
                raise RateLimited(f"shared rate limit of {per_minute}/min reached", retry_after=wait,
                                  cause=f"rate limited (our shared budget of {per_minute}/min)")
            time.sleep(min(wait, 1.0))

    def current(self, key: str) -> int:
        """Requests made in the last 60 seconds (for `ces connectors list`)."""
        try:
            now_s, now_us = self.client.time()
            now = now_s * 1_000_000 + now_us
            return int(self.client.zcount(self.prefix + key, now - WINDOW_US, "+inf"))
        except redis.RedisError:
            return -1
