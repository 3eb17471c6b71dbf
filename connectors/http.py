"""The one HTTP client for every outbound call.

Every call has a (connect, read) timeout. Transient failures (connection errors, 5xx) are retried a
bounded number of times with exponential backoff and jitter; a 429 is never slept on inside a worker:
it raises RateLimited with the server's Retry-After so that the caller reschedules in the database.
Non-idempotent calls (a note, a reply) are retried only when the request surely never arrived.
URLs can be secrets (Slack and Teams webhook URLs): errors and logs name only the host and a label.
"""

from __future__ import annotations

import email.utils
import os
import random
import socket
import ssl
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import structlog
from urllib3.exceptions import NewConnectionError

from ces.config.models import HttpSettings
from ces.connectors.errors import (
    PermanentApiError,
    RateLimited,
    TransientApiError,
    UncertainApiError,
)

log = structlog.get_logger("ces.http")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
GATEWAY_ERRORS = frozenset({502, 503, 504})


class RateLimiter(Protocol):
    def acquire(self, key: str, per_minute: int) -> None: ...


def backoff_delay(attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random, so retries spread out."""
    ceiling = min(cap, base * (2 ** attempt))
    return ceiling / 2 + rand() * ceiling / 2


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def retry_after_of(headers, now: datetime | None = None) -> float | None:
    """How long the server asks us to wait: Retry-After, else the vendor headers that say the same
    (Help Scout's X-RateLimit-Retry-After, the IETF draft's RateLimit-Reset in seconds, and
    X-RateLimit-Reset, which Intercom and others send as a Unix time)."""
    wait = parse_retry_after(headers.get("Retry-After"), now)
    if wait is not None:
        return wait
    for name in ("X-RateLimit-Retry-After", "RateLimit-Reset"):
        try:
            return max(0.0, float(headers[name]))
        except (KeyError, TypeError, ValueError):
            continue
    try:
        reset = float(headers["X-RateLimit-Reset"])
    except (KeyError, TypeError, ValueError):
        return None
    if reset > 1_000_000_000:  # a Unix time (seconds, or milliseconds)
        reset = reset / 1000 if reset > 100_000_000_000 else reset
        return max(0.0, reset - (now or datetime.now(timezone.utc)).timestamp())
    return max(0.0, reset)


# What a failed status means, in an admin's words (`ces connectors test`, `ces surveys`, `ces flags`).
STATUS_CAUSES = {
    400: "the helpdesk refused the request",
    401: "wrong credentials",
    403: "missing permission",
    404: "wrong address or subdomain, or the item no longer exists",
    408: "the server timed out",
    500: "server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def connection_cause(exc: requests.RequestException) -> str:
    """Why a call got no answer, in words: the causes an admin can act on are told apart."""
    if isinstance(exc, requests.ConnectTimeout):
        return "unreachable (timeout while connecting)"
    if isinstance(exc, requests.Timeout):
        return "no answer in time (read timeout)"
    for link in _chain(exc):
        if isinstance(link, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(link):
            return "unreachable (TLS certificate problem)"
        if isinstance(link, socket.gaierror) or type(link).__name__ == "NameResolutionError":
            return "unreachable (DNS name not found)"
        if isinstance(link, ConnectionRefusedError):
            return "unreachable (connection refused)"
        if isinstance(link, ssl.SSLError):
            return "unreachable (TLS handshake failed)"
        if isinstance(link, ConnectionResetError):
            return "connection reset"
        if isinstance(link, TimeoutError):
            return "unreachable (timeout while connecting)"
    return "unreachable (connection failed)"


def status_cause(status: int) -> str:
    words = STATUS_CAUSES.get(status) or ("server error" if status >= 500 else "request refused")
    return f"answered {status}: {words}"


def _never_sent(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


class HttpClient:
    def __init__(self, settings: HttpSettings, *, limiter: RateLimiter | None = None,
                 sleep: Callable[[float], None] = time.sleep, user_agent: str = "ces-worker",
                 observer: Callable[[str, str, str | None, Exception | None], None] | None = None):
        self.settings = settings
        self.limiter = limiter
        self.sleep = sleep
        # (service, outcome, rate key, the error) of every call: /metrics, and the last error of
        # each helpdesk account for `ces connectors list`.
        self.observer = observer
        # One Session: a kept-alive connection per helpdesk host. The environment (HTTPS_PROXY,
        # NO_PROXY, REQUESTS_CA_BUNDLE) is read once per host instead of at every call, which requests
        # does when trust_env is on (about 1.5 ms of CPU per call, a tenth of a survey's sending).
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self.session.trust_env = False
        self._environment: dict[tuple[str, str], dict[str, Any]] = {}

    def request(self, method: str, url: str, *, label: str = "", idempotent: bool | None = None,
                rate_key: str | None = None, per_minute: int | None = None, **kwargs: Any) -> requests.Response:
        service = rate_key.split(":", 1)[0] if rate_key else (label.split(" ", 1)[0].lower() or "other")
        try:
            resp = self._request(method, url, label=label, idempotent=idempotent, rate_key=rate_key,
                                 per_minute=per_minute, **kwargs)
        except Exception as exc:
            self._observe(service, {"RateLimited": "rate_limited", "PermanentApiError": "permanent",
                                    "TicketLocked": "permanent", "UncertainApiError": "uncertain"}
                          .get(type(exc).__name__, "transient"), rate_key, exc)
            raise
        self._observe(service, "ok", rate_key)
        return resp

    def observe_refusal(self, rate_key: str, error: Exception) -> None:
        """A refusal the status did not show (Zendesk answers bad credentials with 200 and an
        anonymous user): observed as a failed call, so that health sees the credentials fail."""
        self._observe(rate_key.split(":", 1)[0], "permanent", rate_key, error)

    def _observe(self, service: str, outcome: str, rate_key: str | None, error: Exception | None = None) -> None:
        if self.observer is not None:
            try:
                self.observer(service, outcome, rate_key, error)
            except Exception:  # metrics never break a call
                pass

    def _environment_for(self, url: str) -> dict[str, Any]:
        """The proxies and CA bundle the environment gives this URL's host, as requests would read them."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._environment:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            self._environment[key] = {"proxies": requests.utils.get_environ_proxies(url), "verify": verify}
        return self._environment[key]

    def _request(self, method: str, url: str, *, label: str = "", idempotent: bool | None = None,
                 rate_key: str | None = None, per_minute: int | None = None, **kwargs: Any) -> requests.Response:
        method = method.upper()
        idempotent = method in IDEMPOTENT if idempotent is None else idempotent
        host = urlsplit(url).hostname or "?"
        what = f"{label or method} at {host}"
        s = self.settings
        timeout = (s.connect_timeout_seconds, s.read_timeout_seconds)
        attempt = 0
        while True:
            if self.limiter and rate_key and per_minute:
                self.limiter.acquire(rate_key, per_minute)
            started = time.monotonic()
            try:
                resp = self.session.request(method, url, timeout=timeout, allow_redirects=False,
                                            **self._environment_for(url), **kwargs)
            except requests.RequestException as exc:
                kind, cause = type(exc).__name__, connection_cause(exc)
                log.info("http_error", call=label, host=host, error=kind, attempt=attempt)
                safe = idempotent or _never_sent(exc)
                if not safe:
                    raise UncertainApiError(f"{what}: {kind} after the request was sent", cause=cause) from None
                if attempt < s.retries:
                    self.sleep(backoff_delay(attempt, s.backoff_base_seconds, s.backoff_max_seconds))
                    attempt += 1
                    continue
                raise TransientApiError(f"{what}: {cause} ({attempt + 1} attempts)", cause=cause) from None
            status = resp.status_code
            log.debug("http_call", call=label, host=host, status=status,
                      ms=round((time.monotonic() - started) * 1000, 1))
            if status < 300:
                return resp
            retry_after = retry_after_of(resp.headers)
            if status == 429 or (status == 503 and retry_after is not None):
                raise RateLimited(f"{what}: {status}, retry after {retry_after or 0:g} s",
                                  retry_after=retry_after if retry_after is not None else s.backoff_max_seconds,
                                  status=status)
            if status >= 500 or status in (408,):
                if (idempotent or status in GATEWAY_ERRORS) and attempt < s.retries:
                    self.sleep(backoff_delay(attempt, s.backoff_base_seconds, s.backoff_max_seconds))
                    attempt += 1
                    continue
                raise TransientApiError(f"{what}: {status} {resp.reason or ''}".rstrip(), status=status,
                                        body=resp.text[:2000], cause=status_cause(status))
            if 300 <= status < 400:
                raise PermanentApiError(f"{what}: unexpected redirect {status}; check base_url", status=status,
                                        cause=f"answered {status}: a redirect (check base_url)")
            cause = status_cause(status)
            raise PermanentApiError(f"{what}: {status} {resp.reason or ''} ({cause.partition(': ')[2]})"
                                    .replace("  (", " ("), status=status, body=resp.text[:2000], cause=cause)
