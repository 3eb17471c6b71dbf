"""Sign-in throttling, shared by every server process through Redis: after `signin_failures`
failed attempts on one account, or `signin_address_failures` from one client address, within
`signin_window_minutes`, sign-ins there are refused until the window ends (counted from its first
failure). Without Redis nothing is refused (logged): the Argon2 pool still bounds the pace."""

from __future__ import annotations

import hashlib
import math

import redis
import structlog

log = structlog.get_logger("ces.console")


def _digest(value: str) -> str:
    """Key names hold no e-mail or client address that anyone reading Redis could take."""
    return hashlib.sha256(value.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]


class Throttle:
    def __init__(self, settings):
        self.client = redis.Redis.from_url(settings.broker_url, socket_timeout=1, socket_connect_timeout=1)
        self.prefix = f"{settings.broker_prefix}ces:signin:"
        c = settings.console
        self.window = max(1, int(c.signin_window_minutes * 60))
        self.limits = {"account": c.signin_failures, "address": c.signin_address_failures}

    def _keys(self, account: str, address: str) -> dict[str, str]:
        return {"account": f"{self.prefix}account:{_digest(account)}",
                "address": f"{self.prefix}address:{_digest(address)}"}

    def wait_minutes(self, account: str, address: str) -> int | None:
        """Minutes until sign-in may be tried again here, or None if it may be now."""
        keys = self._keys(account, address)
        try:
            pipe = self.client.pipeline()
            for key in keys.values():
                pipe.get(key).ttl(key)
            got = pipe.execute()
        except redis.RedisError as exc:
            log.warning("signin_throttle_unavailable", error=type(exc).__name__)
            return None
        waits = [ttl for (kind, _), count, ttl in zip(keys.items(), got[0::2], got[1::2])
                 if count is not None and int(count) >= self.limits[kind] and ttl > 0]
        return math.ceil(max(waits) / 60) if waits else None

    def failed(self, account: str, address: str) -> None:
        try:
            pipe = self.client.pipeline()
            for key in self._keys(account, address).values():
                pipe.incr(key).expire(key, self.window, nx=True)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("signin_throttle_unavailable", error=type(exc).__name__)

    def succeeded(self, account: str) -> None:
        """The account's count starts again; the address's does not (one good password of one's own
        must not buy more guesses at others)."""
        try:
            self.client.delete(self._keys(account, "")["account"])
        except redis.RedisError as exc:
            log.warning("signin_throttle_unavailable", error=type(exc).__name__)
