"""POST /webhooks/{connector_id}: verify → parse → store → 202."""

from __future__ import annotations

from datetime import datetime, timezone

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from ces.config.secrets import MissingSecret
from ces.connectors.errors import WebhookRejected
from ces.connectors.models import InboundRequest
from ces.worker.intake import DatabaseUnavailable, event_row, result_of
from ces.worker.web.errors import json_error

log = structlog.get_logger("ces.intake")
router = APIRouter()

WEBHOOKS = Counter("ces_webhooks_total", "Webhooks received, by connector and outcome", ["connector", "outcome"])


class TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "the helpdesk's webhook payload, verified over its raw bytes"}}}}}


@router.post("/webhooks/{connector_id}", openapi_extra=_BODY, responses={
    202: {"description": "stored"}, 200: {"description": "duplicate or nothing new"},
    401: {"description": "bad_signature or stale_timestamp"}, 404: {"description": "unknown_connector"},
    413: {"description": "payload_too_large"}, 422: {"description": "unparseable"},
    503: {"description": "database_unavailable"}})
async def receive(connector_id: str, request: Request) -> JSONResponse:
    rt = request.app.state.rt
    settings = rt.settings
    connector = rt.connector(connector_id)
    if connector is None:
        WEBHOOKS.labels("unknown", "unknown_connector").inc()
        return json_error(404, "unknown_connector", "no connector has this id")
    label = connector_id

    def reject(status: int, code: str, detail: str, headers=None) -> JSONResponse:
        WEBHOOKS.labels(label, code).inc()
        log.info("webhook_rejected", connector=label, error=code, detail=detail)
        return json_error(status, code, detail, headers)

    limit = settings.intake.max_body_bytes
    try:
        body = await _read_body(request, limit)
    except TooLarge:
        return reject(413, "payload_too_large", f"the body is larger than {limit} bytes")
    received_at = datetime.now(timezone.utc)
    inbound = InboundRequest(method=request.method, path=request.url.path, query=request.url.query,
                             headers={k.lower(): v for k, v in request.headers.items()}, body=body,
                             received_at=received_at, public_url=settings.public_url)
    try:
        connector.verify(inbound)
        answer = connector.handshake(inbound)
        if answer is not None:
            WEBHOOKS.labels(label, "handshake").inc()
            return JSONResponse(answer, status_code=200)
        events = connector.parse(inbound)
    except WebhookRejected as exc:
        return reject(exc.status, exc.code, exc.detail)
    except MissingSecret as exc:
        # Not the sender's fault: ask it to come back once the admin has fixed the configuration.
        return reject(503, "connector_misconfigured", f"the connector's {exc.key} is not usable: {exc.message}",
                      {"Retry-After": str(settings.intake.retry_after_seconds)})
    rows = [event_row(connector_id, e, received_at, settings.worker.requeue_after_seconds) for e in events]
    try:
        ids = await request.app.state.writer.submit(rows) if rows else []
    except DatabaseUnavailable as exc:
        return reject(503, "database_unavailable", f"cannot store the webhook now ({exc}); retry later",
                      {"Retry-After": str(settings.intake.retry_after_seconds)})
    result = result_of(rows, ids)
    WEBHOOKS.labels(label, result.status).inc()
    log.debug("webhook", connector=label, status=result.status, events=result.events)
    return JSONResponse({"status": result.status, "events": result.events}, status_code=result.http_status)
