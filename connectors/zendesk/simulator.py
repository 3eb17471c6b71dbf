"""A simulated Zendesk: the Support API calls ces-worker makes, and webhooks it sends when a
ticket's status changes (as an event subscription or as the triggers `setup` prints), signed
like Zendesk signs them, and the Webhooks API that provisioning calls (simulator_webhooks.py). Used by the demo, the tests and the benchmarks."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import requests

from ces.connectors.simulator import SimulatedHelpdesk, StubRequest, StubResponse, StubServer
from ces.connectors.zendesk.connector import sign
from ces.connectors.zendesk.simulator_webhooks import WebhooksApi


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def _now(precise: bool = False) -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z" if precise else now.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SimTicket:
    id: int
    subject: str
    requester_id: int
    status: str = "new"
    channel: str = "email"
    group_id: int | None = None
    assignee_id: int | None = None
    tags: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    comments: list[dict] = field(default_factory=list)
    audits: list[dict] = field(default_factory=list)


class ZendeskSimulator(WebhooksApi, SimulatedHelpdesk):
    def __init__(self, *, email: str = "admin@acme.test", token: str = "sim-token", secret: str = "sim-secret",
                 port: int = 0):
        self.email, self.token, self.secret = email, token, secret
        self.server = StubServer(port=port)
        self.users: dict[int, dict] = {}
        self.groups: dict[int, dict] = {}
        self.tickets: dict[int, SimTicket] = {}
        self.webhook_url: str | None = None
        self.deliveries: list[dict] = []  # what we sent: {"invocation", "status", "body"}
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self.api_user_id = self.add_user("CES integration", email, role="admin")
        s = self.server
        s.route("GET", r"/api/v2/tickets/(?P<id>\d+)\.json")(self._get_ticket)
        s.route("PUT", r"/api/v2/tickets/(?P<id>\d+)\.json")(self._put_ticket)
        s.route("PUT", r"/api/v2/tickets/(?P<id>\d+)/tags\.json")(self._change_tags)
        s.route("DELETE", r"/api/v2/tickets/(?P<id>\d+)/tags\.json")(self._change_tags)
        s.route("POST", r"/api/v2/tickets\.json")(self._create_followup)
        s.route("GET", r"/api/v2/tickets/(?P<id>\d+)/audits\.json")(self._get_audits)
        s.route("GET", r"/api/v2/tickets/(?P<id>\d+)/metrics\.json")(self._get_metrics)
        s.route("GET", r"/api/v2/users/(?P<id>\d+)/tickets/requested\.json")(self._requested)
        s.route("GET", r"/api/v2/users/me\.json")(self._me)
        self.add_webhook_routes()

    # --- data ---------------------------------------------------------------------------------
    def add_user(self, name: str, email: str | None, *, locale: str = "en-US", role: str = "end-user",
                 time_zone: str = "Europe/London") -> int:
        uid = next(self._ids)
        self.users[uid] = {"id": uid, "name": name, "email": email, "locale": locale, "role": role,
                           "iana_time_zone": time_zone, "time_zone": time_zone, "active": True}
        return uid

    def add_group(self, name: str) -> int:
        gid = next(self._ids)
        self.groups[gid] = {"id": gid, "name": name}
        return gid

    def create_ticket(self, requester_id: int, subject: str, *, channel: str = "email", group_id: int | None = None,
                      assignee_id: int | None = None, tags: list[str] | None = None,
                      created_at: datetime | None = None) -> SimTicket:
        with self._lock:
            tid = next(self._ids)
            ticket = SimTicket(tid, subject, requester_id, "open", channel, group_id, assignee_id, tags or [])
            if created_at is not None:
                ticket.created_at = created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            self.tickets[tid] = ticket
        self._audit(ticket, requester_id, channel, [
            {"type": "Comment", "author_id": requester_id, "body": subject, "public": True},
            {"type": "Create", "field_name": "status", "value": "open"},
            {"type": "Create", "field_name": "group_id", "value": _id(group_id)},
            {"type": "Create", "field_name": "assignee_id", "value": _id(assignee_id)},
        ])
        return ticket

    def _audit(self, ticket: SimTicket, author_id: int, channel: str, events: list[dict]) -> None:
        with self._lock:
            audit_id = next(self._ids)
            for e in events:
                e["id"] = next(self._ids)
            ticket.audits.append({"id": audit_id, "ticket_id": ticket.id, "created_at": _now(precise=True),
                                  "author_id": author_id, "via": {"channel": channel, "source": {"rel": None}},
                                  "metadata": {"system": {}, "custom": {}}, "events": events})

    def comment(self, ticket_id: int, author_id: int, body: str, *, public: bool = True,
                channel: str = "web") -> None:
        """A message on the ticket, by the customer (through `channel`) or an agent."""
        self._audit(self.tickets[ticket_id], author_id, channel,
                    [{"type": "Comment", "author_id": author_id, "body": body, "public": public}])

    def assign(self, ticket_id: int, *, by: int, group_id: int | None = None, assignee_id: int | None = None) -> None:
        """A transfer: to another group and/or agent."""
        t = self.tickets[ticket_id]
        events = []
        if group_id is not None and group_id != t.group_id:
            events.append({"type": "Change", "field_name": "group_id", "value": _id(group_id),
                           "previous_value": _id(t.group_id)})
            t.group_id = group_id
        if assignee_id is not None and assignee_id != t.assignee_id:
            events.append({"type": "Change", "field_name": "assignee_id", "value": _id(assignee_id),
                           "previous_value": _id(t.assignee_id)})
            t.assignee_id = assignee_id
        self._audit(t, by, "web", events)

    def api_ticket(self, t: SimTicket) -> dict:
        return {"id": t.id, "url": f"{self.url}/api/v2/tickets/{t.id}.json", "subject": t.subject,
                "raw_subject": t.subject, "status": t.status, "requester_id": t.requester_id,
                "submitter_id": t.requester_id, "assignee_id": t.assignee_id, "group_id": t.group_id,
                "organization_id": None, "brand_id": 360000001, "tags": t.tags, "priority": "normal",
                "type": "question", "via": {"channel": t.channel, "source": {"from": {}, "to": {}, "rel": None}},
                "created_at": t.created_at, "updated_at": t.updated_at, "is_public": True,
                "custom_status_id": 1, "ticket_form_id": 1, "satisfaction_rating": None}

    # --- API ----------------------------------------------------------------------------------
    def _authorized(self, req: StubRequest) -> bool:
        auth = req.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:] == self.token
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return user == f"{self.email}/token" and password == self.token
        return False

    def _unauthorized(self) -> StubResponse:
        return StubResponse(401, {"error": "Couldn't authenticate you"})

    def _ticket_of(self, req: StubRequest) -> tuple[SimTicket | None, StubResponse | None]:
        """The ticket the path names, or Zendesk's refusal of the call (401 unauthenticated, 404 unknown)."""
        if not self._authorized(req):
            return None, self._unauthorized()
        t = self.tickets.get(int(req.params["id"]))
        if t is None:
            return None, StubResponse(404, {"error": "RecordNotFound", "description": "Not found"})
        return t, None

    def _get_ticket(self, req: StubRequest) -> StubResponse:
        t, refused = self._ticket_of(req)
        if refused:
            return refused
        body: dict = {"ticket": self.api_ticket(t)}
        include = ",".join(req.query.get("include", [])).split(",")
        if "users" in include:
            ids = {t.requester_id, t.assignee_id} - {None}
            body["users"] = [self.users[i] for i in ids if i in self.users]
        if "groups" in include:
            body["groups"] = [self.groups[t.group_id]] if t.group_id in self.groups else []
        if "organizations" in include:
            body["organizations"] = []
        return StubResponse(200, body)

    def _put_ticket(self, req: StubRequest) -> StubResponse:
        t, refused = self._ticket_of(req)
        if refused:
            return refused
        if t.status == "closed":
            return StubResponse(422, {"error": "RecordInvalid", "description": "Record validation errors",
                                      "details": {"status": [{"description": "Status: closed prevents ticket update"}]}})
        change = (req.json() or {}).get("ticket", {})
        events = []
        if "comment" in change:
            t.comments.append({"author_id": self.api_user_id, **change["comment"]})
            events.append({"type": "Comment", "author_id": self.api_user_id, "body": change["comment"].get("body"),
                           "public": change["comment"].get("public", True)})
        if change.get("status") and change["status"] != t.status:
            events.append({"type": "Change", "field_name": "status", "value": change["status"],
                           "previous_value": t.status})
            t.status = change["status"]
        if change.get("group_id") and change["group_id"] != t.group_id:
            events.append({"type": "Change", "field_name": "group_id", "value": _id(change["group_id"]),
                           "previous_value": _id(t.group_id)})
            t.group_id = change["group_id"]
        if events:
            self._audit(t, self.api_user_id, "api", events)
        t.updated_at = _now()
        return StubResponse(200, {"ticket": self.api_ticket(t), "audit": {"id": next(self._ids)}})

    def _change_tags(self, req: StubRequest) -> StubResponse:
        t, refused = self._ticket_of(req)
        if refused:
            return refused
        tags = set((req.json() or {}).get("tags", []))
        t.tags = sorted(set(t.tags) - tags if req.method == "DELETE" else set(t.tags) | tags)
        return StubResponse(200, {"tags": t.tags})

    def _create_followup(self, req: StubRequest) -> StubResponse:
        if not self._authorized(req):
            return self._unauthorized()
        body = (req.json() or {}).get("ticket", {})
        source = self.tickets.get(int(body.get("via_followup_source_id") or 0))
        if source is None:
            return StubResponse(422, {"error": "RecordInvalid", "description": "Record validation errors"})
        followup = self.create_ticket(source.requester_id, body.get("subject", "Follow-up"), channel="api",
                                      group_id=source.group_id)
        followup.comments.append({"author_id": self.api_user_id, **body.get("comment", {})})
        return StubResponse(201, {"ticket": self.api_ticket(followup)})

    def _get_audits(self, req: StubRequest) -> StubResponse:
        t, refused = self._ticket_of(req)
        if refused:
            return refused
        # Like Zendesk's sideload: the users and groups the audits mention, not the whole account.
        ids = {a.get("author_id") for a in t.audits} | {t.requester_id, t.assignee_id}
        ids |= {int(e["value"]) for a in t.audits for e in a["events"]
                if e.get("field_name") == "assignee_id" and str(e.get("value") or "").isdigit()}
        group_ids = {t.group_id} | {int(e["value"]) for a in t.audits for e in a["events"]
                                    if e.get("field_name") == "group_id" and str(e.get("value") or "").isdigit()}
        return StubResponse(200, {"audits": t.audits, "users": [self.users[i] for i in ids if i in self.users],
                                  "groups": [self.groups[g] for g in group_ids if g in self.groups],
                                  "meta": {"has_more": False}, "links": {"prev": None, "next": None}})

    def _get_metrics(self, req: StubRequest) -> StubResponse:
        t, refused = self._ticket_of(req)
        if refused:
            return refused
        changes = [e for a in t.audits for e in a["events"] if e["type"] in ("Create", "Change")]
        stations = {f: len([e for e in changes if e.get("field_name") == f and e.get("value")])
                    for f in ("group_id", "assignee_id")}
        statuses = [e["value"] for e in changes if e.get("field_name") == "status"]
        reopens = sum(1 for a, b in zip(statuses, statuses[1:]) if a == "solved" and b != "closed")
        return StubResponse(200, {"ticket_metric": {
            "id": t.id, "ticket_id": t.id, "group_stations": stations["group_id"],
            "assignee_stations": stations["assignee_id"], "reopens": reopens,
            "replies": sum(1 for a in t.audits for e in a["events"]
                           if e["type"] == "Comment" and e.get("public") and e["author_id"] != t.requester_id),
            "created_at": t.created_at, "updated_at": t.updated_at}})

    def _requested(self, req: StubRequest) -> StubResponse:
        if not self._authorized(req):
            return self._unauthorized()
        uid = int(req.params["id"])
        mine = sorted((t for t in self.tickets.values() if t.requester_id == uid), key=lambda t: t.created_at,
                      reverse=True)
        return StubResponse(200, {"tickets": [self.api_ticket(t) for t in mine], "next_page": None,
                                  "previous_page": None, "count": len(mine)})

    def _me(self, req: StubRequest) -> StubResponse:
        if not self._authorized(req):
            return StubResponse(200, {"user": {"id": None, "name": "Anonymous user", "role": "end-user"}})
        return StubResponse(200, {"user": self.users[self.api_user_id]})

    # --- webhooks -----------------------------------------------------------------------------
    def set_status(self, ticket_id: int, status: str, *, style: str = "event", deliveries: int = 1,
                   send: bool = True) -> list[requests.Response]:
        """Change a ticket's status as an agent would; deliver the webhook(s) Zendesk would send."""
        t = self.tickets[ticket_id]
        previous, t.status, t.updated_at = t.status, status, _now()
        self._audit(t, t.assignee_id or t.requester_id, "web",
                    [{"type": "Change", "field_name": "status", "value": status, "previous_value": previous}])
        if not send:
            return []
        if style == "event":
            body = self.status_event(t, previous)
        else:
            if status == "solved":
                which = "ticket.solved"
            elif previous == "solved" and status != "closed":
                which = "ticket.unsolved"
            else:
                return []  # no trigger of ours matches this change
            body = {"ces_event": which, "ticket_id": str(t.id), "status": status.capitalize()}
        return self.deliver(body, repeat=deliveries)

    def status_event(self, t: SimTicket, previous: str) -> dict:
        return {
            "type": "zen:event-type:ticket.status_changed", "account_id": 22129848, "id": str(uuid.uuid4()),
            "time": _now(precise=True), "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{t.id}",
            "detail": {"actor_id": str(t.assignee_id or t.requester_id), "assignee_id": str(t.assignee_id or ""),
                       "brand_id": "360000001", "created_at": t.created_at, "description": t.subject,
                       "external_id": None, "form_id": "1", "group_id": str(t.group_id or ""), "id": str(t.id),
                       "is_public": True, "organization_id": None, "priority": "NORMAL",
                       "requester_id": str(t.requester_id), "status": t.status.upper(), "subject": t.subject,
                       "submitter_id": str(t.requester_id), "tags": t.tags, "type": "QUESTION",
                       "updated_at": t.updated_at, "via": {"channel": t.channel}},
            "event": {"current": t.status.upper(), "previous": previous.upper()},
        }

    def deliver(self, body: dict, *, repeat: int = 1, invocation: str | None = None) -> list[requests.Response]:
        """POST a signed webhook; a repeat reuses the invocation id, as Zendesk's retries do."""
        assert self.webhook_url, "set webhook_url first"
        raw = json.dumps(body).encode()
        invocation = invocation or str(uuid.uuid4())
        out = []
        for _ in range(repeat):
            ts = _now()
            headers = {"Content-Type": "application/json", "User-Agent": "Zendesk Webhook",
                       "X-Zendesk-Account-Id": "22129848", "X-Zendesk-Webhook-Id": "01HSIMWEBHOOK",
                       "X-Zendesk-Webhook-Invocation-Id": invocation,
                       "X-Zendesk-Webhook-Signature-Timestamp": ts,
                       "X-Zendesk-Webhook-Signature": sign(self.secret, ts, raw)}
            resp = requests.post(self.webhook_url, data=raw, headers=headers, timeout=15)
            self.deliveries.append({"invocation": invocation, "status": resp.status_code, "body": body})
            out.append(resp)
        return out
