"""A simulated sending system for the generic connector: it keeps its own tickets and, when one
changes, signs and POSTs the Standard Webhooks message the contract in setup.txt describes. There
is no API to serve. Used by tests only."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from datetime import datetime, timezone

import requests

from ces.connectors.generic.connector import REOPENED, SOLVED, UPDATED, sign

_KEEP = object()  # update(): leave this value as it is
RESOLVED_STATES = ("solved", "closed")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GenericSender:
    def __init__(self, secret: str | list[str] = "whsec_c2ltdWxhdGVkLXNlbmRlci1zZWNyZXQtMzJieXRlcw==", *,
                 webhook_url: str | None = None):
        self.secrets = [secret] if isinstance(secret, str) else list(secret)  # several while rotating
        self.webhook_url = webhook_url
        self.tickets: dict[str, dict] = {}
        self.deliveries: list[dict] = []  # what we sent: {"id", "type", "status", "body"}
        self._ids = itertools.count(48213)
        self._lock = threading.Lock()

    def create_ticket(self, requester_email: str | None, *, requester_name: str | None = None, locale: str = "en",
                      channel: str = "email", group: str | None = None, assignee: str | None = None,
                      ticket_id: str | None = None, send: bool = True) -> str:
        """A new open ticket; with a webhook URL, the ticket.updated the contract asks for at creation."""
        with self._lock:
            tid = ticket_id or str(next(self._ids))
            self.tickets[tid] = {"ticket_id": tid, "requester_email": requester_email,
                                 "requester_name": requester_name, "locale": locale, "channel": channel,
                                 "group": group, "assignee": assignee, "status": "open", "updated_at": _now()}
        if send and self.webhook_url:
            self.deliver(UPDATED, self.tickets[tid])
        return tid

    def set_status(self, ticket_id: str, status: str, *, repeat: int = 1) -> list[requests.Response]:
        """Solved/closed → ticket.solved; back from solved/closed → ticket.reopened; else ticket.updated."""
        data = self.tickets[str(ticket_id)]
        previous, data["status"], data["updated_at"] = data["status"], status, _now()
        if status in RESOLVED_STATES and previous not in RESOLVED_STATES:
            kind = SOLVED
        elif status in RESOLVED_STATES:
            kind = SOLVED if status == "closed" and previous != "closed" else UPDATED
        elif previous in RESOLVED_STATES:
            kind = REOPENED
        else:
            kind = UPDATED
        return self.deliver(kind, data, repeat=repeat)

    def update(self, ticket_id: str, *, group: object = _KEEP, assignee: object = _KEEP,
               repeat: int = 1) -> list[requests.Response]:
        """A transfer: a new group and/or assignee (None unassigns), told as ticket.updated."""
        data = self.tickets[str(ticket_id)]
        if group is not _KEEP:
            data["group"] = group
        if assignee is not _KEEP:
            data["assignee"] = assignee
        data["updated_at"] = _now()
        return self.deliver(UPDATED, data, repeat=repeat)

    def headers(self, body: bytes, msg_id: str, timestamp: str | None = None) -> dict[str, str]:
        ts = timestamp or str(int(time.time()))
        signatures = " ".join(sign(secret, msg_id, ts, body) for secret in self.secrets)
        return {"Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts,
                "webhook-signature": signatures}

    def deliver(self, kind: str, data: dict, *, repeat: int = 1, msg_id: str | None = None) -> list[requests.Response]:
        """POST one message; a repeat is a retry: same id and body, fresh timestamp and signature."""
        assert self.webhook_url, "set webhook_url first"
        body = json.dumps({"type": kind, "timestamp": data.get("updated_at") or _now(), "data": dict(data)}).encode()
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        out = []
        for _ in range(repeat):
            resp = requests.post(self.webhook_url, data=body, headers=self.headers(body, msg_id), timeout=15)
            self.deliveries.append({"id": msg_id, "type": kind, "status": resp.status_code, "body": json.loads(body)})
            out.append(resp)
        return out
