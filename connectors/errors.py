"""Errors a connector raises; intake and tasks map them to HTTP answers and retry decisions."""

from __future__ import annotations


class WebhookRejected(Exception):
    """Bad input at intake: the request changes nothing."""

    code = "bad_request"
    status = 400

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(detail)


class BadSignature(WebhookRejected):
    code, status = "bad_signature", 401


class StaleTimestamp(WebhookRejected):
    code, status = "stale_timestamp", 401


class Unparseable(WebhookRejected):
    code, status = "unparseable", 422


class InvalidField(WebhookRejected):
    """Read, but a value does not fit: an id longer than its column, a time outside 1970–2999."""

    code, status = "invalid_field", 422


class Unsupported(Exception):
    """The helpdesk (or this connector) cannot do this, e.g. no history API."""


class ApiError(Exception):
    """A helpdesk API call failed. `permanent` errors are not retried."""

    permanent = False

    def __init__(self, detail: str, *, status: int | None = None, body: str | None = None,
                 cause: str | None = None):
        # `body`: the start of the error response, for a connector to read the helpdesk's reason
        # (never put in messages or logs: it may repeat what we sent).
        # `cause`: what went wrong in an admin's words, without the call or host ("unreachable
        # (connection refused)", "answered 401: wrong credentials"), for one-line summaries.
        self.detail, self.status, self.body = detail, status, body
        self.cause = cause
        super().__init__(detail)


class PermanentApiError(ApiError):
    permanent = True  # 401, 403, 404, other 4xx: retrying changes nothing


class TicketLocked(PermanentApiError):
    """The helpdesk no longer lets us change this ticket (e.g. Zendesk: closed)."""


class TransientApiError(ApiError):
    pass  # 5xx, timeouts, connection errors, after the client's own bounded retries


class RateLimited(TransientApiError):
    def __init__(self, detail: str, *, retry_after: float, status: int = 429, cause: str | None = None):
        super().__init__(detail, status=status,
                         cause=cause or f"rate limited (answered {status}, retry after {retry_after:g} s)")
        self.retry_after = retry_after


class UncertainApiError(ApiError):
    """A non-idempotent call timed out after it was sent: the helpdesk may have applied it."""
