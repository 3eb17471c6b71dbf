"""Driving the plain pipeline functions in-process: store a webhook, run what it enqueues."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from ces.connectors.models import InboundRequest
from ces.worker.db.models import Answer, Survey, WebhookEvent
from ces.worker.intake import request_rows, store_batch
from tests.support import fixture_bytes, fixture_json, zendesk_headers

ZENDESK = "https://acme.zendesk.com"


class Clock:
    def __init__(self, start: datetime | None = None):
        self.now = start or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def catch_up(self, seconds: float = 1) -> None:
        """Past the wall clock, which a command run in between (`ces ... resend`) went by: on a busy
        machine more than a second may have gone since the test began."""
        self.now = max(self.now, datetime.now(timezone.utc)) + timedelta(seconds=seconds)


def receive(rt, fixture: str, invocation: str, *, body: bytes | None = None, connector: str = "zendesk-main"):
    """What intake does with one Zendesk webhook, without HTTP: verify, parse, store, enqueue."""
    body = body if body is not None else fixture_bytes("zendesk", fixture)
    stamp = rt.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    return deliver(rt, connector, body, zendesk_headers(body, invocation=invocation, timestamp=stamp))


def deliver(rt, connector: str, body: bytes, headers: dict[str, str], *, verify: bool = True) -> list[int | None]:
    """What intake does with one webhook to any connector, without HTTP: verify, parse, check,
    store, enqueue. The new events' ids (None for a duplicate). verify=False stores what a verified
    one would (each connector's own tests check its signatures)."""
    now = rt.now()
    req = InboundRequest("POST", f"/webhooks/{connector}", "", {k.lower(): v for k, v in headers.items()}, body, now,
                         rt.settings.public_url)
    conn = rt.connector(connector)
    if verify:
        conn.verify(req)
    rows = request_rows(conn, req, conn.parse(req), rt.settings.worker.requeue_after_seconds)
    [ids] = store_batch(rt, [rows])
    for row, event_id in zip(rows, ids):
        if event_id and row["state"] == "received":
            rt.enqueue("ces.process_event", event_id)
    return ids


def status_body(status: str, previous: str, *, ticket_id: str = "5158", time: str | None = None) -> bytes:
    import json

    d = fixture_json("zendesk", "status_changed_solved.json")
    d["detail"]["id"], d["subject"] = ticket_id, f"zen:ticket:{ticket_id}"
    d["detail"]["status"] = status.upper()
    d["event"] = {"current": status.upper(), "previous": previous.upper()}
    d["time"] = time or datetime.now(timezone.utc).isoformat()
    return json.dumps(d).encode()


def ticket_json(ticket_id: str = "5158", *, status: str = "solved", email: str | None = "maria.garcia@example.com",
                locale: str = "es", name: str = "María García", channel: str = "email") -> dict:
    d = copy.deepcopy(fixture_json("zendesk", "api_ticket_show.json"))
    d["ticket"]["id"] = int(ticket_id)
    d["ticket"]["status"] = status
    d["ticket"]["via"]["channel"] = channel
    d["users"][0].update(email=email, locale=locale, name=name)
    return d


def mock_ticket(api, ticket_id: str = "5158", **kw):
    api.get(f"{ZENDESK}/api/v2/tickets/{ticket_id}.json", json=ticket_json(ticket_id, **kw))


def surveys(rt) -> list[Survey]:
    with rt.transaction() as s:
        return list(s.scalars(select(Survey).order_by(Survey.id)))


def drained_survey(rt, queue) -> Survey:
    """Every queued job run, then the one survey there is (it fails if there are none or several)."""
    queue.drain(rt)
    [survey] = surveys(rt)
    return survey


def events(rt) -> list[WebhookEvent]:
    with rt.transaction() as s:
        return list(s.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def answers(rt) -> list[Answer]:
    with rt.transaction() as s:
        return list(s.scalars(select(Answer).order_by(Answer.id)))


def mock_history(api, ticket_id: str = "5158", *, requested: list[dict] | None = None, audits: dict | None = None):
    """Zendesk's metrics, audits and the requester's tickets for a ticket, as the API returns them."""
    base = f"{ZENDESK}/api/v2"
    api.get(f"{base}/tickets/{ticket_id}/metrics.json", json=fixture_json("zendesk", "api_ticket_metrics.json"))
    api.get(f"{base}/tickets/{ticket_id}/audits.json", json=audits or fixture_json("zendesk", "api_ticket_audits.json"))
    tickets = fixture_json("zendesk", "api_user_tickets_requested.json")
    if requested is not None:
        tickets["tickets"] = requested
    api.get(f"{base}/users/8447388090494/tickets/requested.json", json=tickets)
