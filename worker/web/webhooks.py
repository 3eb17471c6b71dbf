"""POST /webhooks/{connector_id}: verify → parse → store → 202."""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timezone

import orjson
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import Counter

from ces.config.secrets import MissingSecret
from ces.connectors.errors import WebhookRejected
from ces.connectors.models import InboundRequest
from ces.worker import logs
from ces.worker.intake import DatabaseUnavailable, request_rows, result_of
from ces.worker.web.bodies import TooLarge, read_body
from ces.worker.web.errors import json_error

log = structlog.get_logger("ces.intake")
router = APIRouter()

WEBHOOKS = Counter("ces_webhooks_total", "Webhooks received, by connector and outcome", ["connector", "outcome"])


@functools.cache
def _counted(connector: str, outcome: str):
    """The counter of one (connector, outcome): looked up once, not at every webhook."""
    return WEBHOOKS.labels(connector, outcome)


# What a parser raises on a value it did not expect (pydantic's ValidationError is a ValueError).
_UNREADABLE = (ValueError, TypeError, LookupError, AttributeError, OverflowError, RecursionError)


_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "the helpdesk's webhook payload, verified over its raw bytes"}}}}}


@router.post("/webhooks/{connector_id}", openapi_extra=_BODY, responses={
    202: {"description": "stored"}, 200: {"description": "duplicate or nothing new"},
    401: {"description": "bad_signature or stale_timestamp"}, 404: {"description": "unknown_connector"},
    413: {"description": "payload_too_large"}, 422: {"description": "unparseable or invalid_field"},
    503: {"description": "database_unavailable"}})
async def receive(connector_id: str, request: Request) -> JSONResponse:
    rt = request.app.state.rt
    settings = rt.settings
    connector = rt.connector(connector_id)
    if connector is None:
        _counted("unknown", "unknown_connector").inc()
        return json_error(404, "unknown_connector", "no connector has this id")
    label = connector_id

    def reject(status: int, code: str, detail: str, headers=None) -> JSONResponse:
        _counted(label, code).inc()
        rt.health.webhook(label, code)  # Redis only: a flood of forged webhooks writes nothing to the database
        log.info("webhook_rejected", connector=label, error=code, detail=detail)
        return json_error(status, code, detail, headers)

    limit = settings.intake.max_body_bytes
    scope = request.scope  # straight from ASGI (header names already lower case): no URL object to build
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    try:
        body = await read_body(request, headers.get("content-length"), limit)
    except TooLarge:
        return reject(413, "payload_too_large", f"the body is larger than {limit} bytes")
    received_at = datetime.now(timezone.utc)
    inbound = InboundRequest(method=scope["method"], path=scope["path"],
                             query=scope.get("query_string", b"").decode("utf-8", "replace"), headers=headers,
                             body=body, received_at=received_at, public_url=settings.public_url)
    try:
        connector.verify(inbound)
        answer = connector.handshake(inbound)
        if answer is not None:
            _counted(label, "handshake").inc()
            return JSONResponse(answer, status_code=200)
        # Checked before the shared commit: a value the database would refuse fails this request alone.
        rows = request_rows(connector, inbound, connector.parse(inbound), settings.worker.requeue_after_seconds)
    except WebhookRejected as exc:
        return reject(exc.status, exc.code, exc.detail)
    except MissingSecret as exc:
        # Not the sender's fault: ask it to come back once the admin has fixed the configuration.
        return reject(503, "connector_misconfigured", f"the connector's {exc.key} is not usable: {exc.message}",
                      {"Retry-After": str(settings.intake.retry_after_seconds)})
    except _UNREADABLE as exc:
        # A body a connector could not take (a value it did not expect): the same every time, so a
        # 5xx would only have the helpdesk retry it for ever. Its type is logged, never the body.
        log.warning("webhook_unreadable", connector=label, error=type(exc).__name__)
        return reject(422, "unparseable", f"the body could not be read ({type(exc).__name__})")
    try:
        ids = await request.app.state.writer.submit(rows) if rows else []
    except DatabaseUnavailable as exc:
        return reject(503, "database_unavailable", f"cannot store the webhook now ({exc}); retry later",
                      {"Retry-After": str(settings.intake.retry_after_seconds)})
    result = result_of(rows, ids)
    _counted(label, result.status).inc()
    rt.health.webhook(label, result.status)
    if logs.threshold <= logging.DEBUG:
        log.debug("webhook", connector=label, status=result.status, events=result.events)
    return Response(orjson.dumps({"status": result.status, "events": result.events}), result.http_status,
                    media_type="application/json")
