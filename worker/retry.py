"""The one place that decides whether a failed step is tried again, and when."""

from __future__ import annotations

from dataclasses import dataclass

from ces.config.models import WorkerSettings
from ces.connectors.errors import ApiError, RateLimited, Unsupported
from ces.connectors.http import backoff_delay
from ces.worker.logs import error_text


@dataclass(frozen=True)
class Retry:
    delay: float
    reason: str


@dataclass(frozen=True)
class GiveUp:
    reason: str


class Transient(Exception):
    """Our own 'try again later' (e.g. the mail server is unreachable)."""


class Permanent(Exception):
    """Our own 'this will never work' (e.g. the mail server refused the address with 5xx)."""


def decide(attempt: int, error: BaseException, settings: WorkerSettings) -> Retry | GiveUp:
    """`attempt` is the number of the attempt that just failed, from 1."""
    reason = error_text(error)
    if isinstance(error, (Permanent, Unsupported)) or (isinstance(error, ApiError) and error.permanent):
        return GiveUp(reason)
    if isinstance(error, RateLimited):
        # A rate limit is the helpdesk asking us to wait, not a failure: it gets more patience.
        if attempt >= settings.max_attempts * 3:
            return GiveUp(f"still rate limited after {attempt} attempts: {reason}")
        return Retry(max(error.retry_after, 0.5), reason)
    if attempt >= settings.max_attempts:
        return GiveUp(f"gave up after {attempt} attempts: {reason}")
    return Retry(backoff_delay(attempt - 1, settings.retry_base_seconds, settings.retry_max_seconds), reason)
