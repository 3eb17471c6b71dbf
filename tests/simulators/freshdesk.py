"""A simulated Freshdesk: the API v2 calls ces-worker makes, and the webhooks the two automation
rules of `setup` send when a ticket's status, group or agent changes (rendered as Freshdesk renders
them, with the shared secret as basic auth or a custom header). Used by tests only."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import requests

from ces.connectors.freshdesk.connector import ASSIGNMENT_EVENT, STATUS_EVENT
from ces.connectors.simulator import SimulatedHelpdesk, StubRequest, StubResponse, StubServer
from ces.connectors.timeparse import parse_time

STATUS_NAMES = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed", 6: "Waiting on Customer"}
STATUS_CODES = {"open": 2, "pending": 3, "resolved": 4, "solved": 4, "closed": 5}


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SimTicket:
    id: int
    subject: str
    requester_id: int
    created_at: datetime
    status: int = 2
    source: int = 1
    group_id: int | None = None
    responder_id: int | None = None
    tags: list[str] = field(default_factory=list)
    description: str = ""
    updated_at: datetime | None = None
    stats: dict[str, str | None] = field(default_factory=dict)
    conversations: list[dict] = field(default_factory=list)


class FreshdeskSimulator(SimulatedHelpdesk):
    def __init__(self, *, api_key: str = "sim-api-key", secret: str = "sim-webhook-secret", webhook_auth: str = "basic",
                 webhook_username: str = "ces-worker", webhook_header: str = "X-CES-Webhook-Secret", port: int = 0):
        self.api_key, self.secret = api_key, secret
        self.webhook_auth, self.webhook_username, self.webhook_header = webhook_auth, webhook_username, webhook_header
        self.server = StubServer(port=port)
        self.contacts: dict[int, dict] = {}
        self.agents: dict[int, dict] = {}
        self.groups: dict[int, dict] = {}
        self.tickets: dict[int, SimTicket] = {}
        self.webhook_url: str | None = None
        self.deliveries: list[dict] = []  # what we sent: {"status", "body"}
        self._ids = itertools.count(43000000001)
        self._ticket_ids = itertools.count(101)
        self._lock = threading.RLock()
        self._clock = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
        self.api_agent_id = self.add_agent("CES integration", "ces@acme.test")
        s = self.server
        s.route("GET", r"/api/v2/tickets/(?P<id>\d+)")(self._get_ticket)
        s.route("PUT", r"/api/v2/tickets/(?P<id>\d+)")(self._put_ticket)
        s.route("GET", r"/api/v2/tickets")(self._list_tickets)
        s.route("GET", r"/api/v2/tickets/(?P<id>\d+)/conversations")(self._conversations)
        s.route("POST", r"/api/v2/tickets/(?P<id>\d+)/notes")(self._note)
        s.route("POST", r"/api/v2/tickets/(?P<id>\d+)/reply")(self._reply)
        s.route("GET", r"/api/v2/contacts/(?P<id>\d+)")(self._contact)
        s.route("GET", r"/api/v2/agents/me")(self._me)
        s.route("GET", r"/api/v2/agents/(?P<id>\d+)")(self._agent)
        s.route("GET", r"/api/v2/groups/(?P<id>\d+)")(self._group)
        s.route("GET", r"/api/v2/groups")(self._list_groups)

    def _tick(self) -> datetime:
        """Freshdesk's times have one-second resolution; ours move on by at least that, so that two
        changes of one ticket never render the same webhook body (its delivery id)."""
        with self._lock:
            self._clock = max(self._clock + timedelta(seconds=1), datetime.now(timezone.utc).replace(microsecond=0))
            return self._clock

    # --- data ---------------------------------------------------------------------------------
    def add_contact(self, name: str, email: str | None, *, language: str = "en",
                    time_zone: str = "Eastern Time (US & Canada)") -> int:
        cid = next(self._ids)
        at = _iso(self._tick())
        self.contacts[cid] = {"active": True, "address": None, "company_id": None, "description": None,
                              "email": email, "id": cid, "job_title": None, "language": language, "mobile": None,
                              "name": name, "phone": None, "time_zone": time_zone, "twitter_id": None,
                              "custom_fields": {}, "tags": [], "other_emails": [], "unique_external_id": None,
                              "created_at": at, "updated_at": at, "view_all_tickets": False, "deleted": False}
        return cid

    def add_agent(self, name: str, email: str, *, ticket_scope: int = 1) -> int:
        aid = next(self._ids)
        at = _iso(self._tick())
        self.agents[aid] = {"available": True, "occasional": False, "id": aid, "ticket_scope": ticket_scope,
                            "signature": None, "group_ids": [], "role_ids": [43000046001], "skill_ids": [],
                            "available_since": None, "type": "support_agent", "created_at": at, "updated_at": at,
                            "contact": {"active": True, "email": email, "job_title": None, "language": "en",
                                        "last_login_at": at, "mobile": None, "name": name, "phone": None,
                                        "time_zone": "Eastern Time (US & Canada)", "created_at": at,
                                        "updated_at": at}}
        return aid

    def add_group(self, name: str) -> int:
        gid = next(self._ids)
        at = _iso(self._tick())
        self.groups[gid] = {"id": gid, "name": name, "description": None, "escalate_to": None,
                            "unassigned_for": None, "business_hour_id": None, "group_type": "support_agent_group",
                            "created_at": at, "updated_at": at}
        return gid

    def create_ticket(self, requester_id: int, subject: str, *, source: int = 1, group_id: int | None = None,
                      responder_id: int | None = None, tags: list[str] | None = None,
                      description: str = "Hello, I need help.", send: bool = True) -> SimTicket:
        """A new ticket; with a webhook URL, the "CES: ticket created" rule reports its first group
        and agent (the body of the group/agent rule)."""
        with self._lock:
            at = self._tick()
            ticket = SimTicket(next(self._ticket_ids), subject, requester_id, at, 2, source, group_id, responder_id,
                               tags or [], description, at,
                               {"agent_responded_at": None, "requester_responded_at": None,
                                "first_responded_at": None, "status_updated_at": _iso(at), "reopened_at": None,
                                "resolved_at": None, "closed_at": None, "pending_since": None})
            self.tickets[ticket.id] = ticket
        if send and self.webhook_url and (group_id or responder_id):
            self.deliver(self.assignment_body(ticket, None))
        return ticket

    def assignment_body(self, t: SimTicket, change: tuple | None, performer_id: int | None = None) -> dict:
        agent = self.agents.get(t.responder_id or 0, {}).get("contact", {})
        event = f"{{{change[0]}:{{from:{_id(change[1])},to:{_id(change[2])}}}}}" if change else ""
        return {"ces_event": ASSIGNMENT_EVENT, "ticket_id": str(t.id),
                "group": (self.groups.get(t.group_id or 0) or {}).get("name", ""),
                "agent": agent.get("name", ""), "agent_email": agent.get("email", ""),
                "triggered_event": event, "updated_at": self._ruby_time(t.updated_at),
                "performer_id": _id(performer_id), "requester_id": str(t.requester_id)}

    def add_conversation(self, ticket_id: int, user_id: int, body: str, *, incoming: bool = False,
                         private: bool = False, source: int = 0) -> dict:
        t = self.tickets[ticket_id]
        with self._lock:
            at = self._tick()
            conv = {"body": f"<div>{body}</div>", "body_text": body, "id": next(self._ids), "incoming": incoming,
                    "private": private, "user_id": user_id, "support_email": None, "source": source,
                    "category": 1 if incoming else (2 if source == 2 else 3), "to_emails": [], "from_email": None,
                    "cc_emails": [], "bcc_emails": None, "email_failure_count": None, "outgoing_failures": None,
                    "thread_id": None, "thread_message_id": None, "created_at": _iso(at), "updated_at": _iso(at),
                    "last_edited_at": None, "last_edited_user_id": None, "attachments": [], "automation_id": None,
                    "automation_type_id": None, "auto_response": False, "ticket_id": t.id, "threading_type": None,
                    "source_additional_info": None}
            t.conversations.append(conv)
            t.updated_at = at
            if incoming:
                t.stats["requester_responded_at"] = _iso(at)
            elif not private:
                t.stats["agent_responded_at"] = _iso(at)
                t.stats["first_responded_at"] = t.stats["first_responded_at"] or _iso(at)
        return conv

    def api_ticket(self, t: SimTicket) -> dict:
        return {"cc_emails": [], "fwd_emails": [], "reply_cc_emails": [], "ticket_cc_emails": [],
                "ticket_bcc_emails": [], "fr_escalated": False, "spam": False, "email_config_id": None,
                "group_id": t.group_id, "priority": 1, "requester_id": t.requester_id, "responder_id": t.responder_id,
                "source": t.source, "company_id": None, "status": t.status, "subject": t.subject,
                "association_type": None, "support_email": None, "to_emails": None, "product_id": None, "id": t.id,
                "type": "Question", "due_by": _iso(t.created_at + timedelta(days=3)),
                "fr_due_by": _iso(t.created_at + timedelta(days=1)), "is_escalated": False,
                "description": f"<div>{t.description}</div>", "description_text": t.description,
                "custom_fields": {}, "created_at": _iso(t.created_at), "updated_at": _iso(t.updated_at or t.created_at),
                "associated_tickets_count": None, "tags": list(t.tags), "structured_description": None,
                "nr_due_by": None, "nr_escalated": False}

    # --- API ----------------------------------------------------------------------------------
    def _authorized(self, req: StubRequest) -> bool:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, _password = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.api_key  # Freshdesk ignores the password that goes with an API key

    def _guard(self, req: StubRequest) -> StubResponse | None:
        if not self._authorized(req):
            return StubResponse(401, {"code": "invalid_credentials",
                                      "message": "You have to be logged in to perform this action."})
        return None

    def _find(self, req: StubRequest) -> SimTicket | StubResponse:
        denied = self._guard(req)
        if denied:
            return denied
        t = self.tickets.get(int(req.params["id"]))
        return t if t is not None else StubResponse(404, None)

    def _page(self, req: StubRequest, items: list, path: str, extra: dict | None = None) -> StubResponse:
        per_page = min(int((req.query.get("per_page") or ["30"])[0]), 100)
        page = int((req.query.get("page") or ["1"])[0])
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = urlencode({**(extra or {}), "page": page + 1, "per_page": per_page})
            headers["Link"] = f'<{self.url}{path}?{query}>; rel="next"'
        return StubResponse(200, chunk, headers)

    def _get_ticket(self, req: StubRequest) -> StubResponse:
        t = self._find(req)
        if isinstance(t, StubResponse):
            return t
        body = self.api_ticket(t)
        include = ",".join(req.query.get("include", [])).split(",")
        if "requester" in include:
            c = self.contacts.get(t.requester_id) or {}
            body["requester"] = {"id": t.requester_id, "name": c.get("name"), "email": c.get("email"),
                                 "mobile": None, "phone": None}
        if "stats" in include:
            body["stats"] = dict(t.stats)
        return StubResponse(200, body)

    def _put_ticket(self, req: StubRequest) -> StubResponse:
        t = self._find(req)
        if isinstance(t, StubResponse):
            return t
        change = req.json() or {}
        with self._lock:
            if "tags" in change:
                t.tags = list(change["tags"])
            if "group_id" in change:
                t.group_id = change["group_id"]
            if "status" in change:
                self._apply_status(t, int(change["status"]), self._tick())
            t.updated_at = self._tick()
        return StubResponse(200, self.api_ticket(t))

    def _list_tickets(self, req: StubRequest) -> StubResponse:
        denied = self._guard(req)
        if denied:
            return denied
        q = {k: v[0] for k, v in req.query.items()}
        found = list(self.tickets.values())
        if "requester_id" in q:
            found = [t for t in found if str(t.requester_id) == q["requester_id"]]
        if "email" in q:
            found = [t for t in found if (self.contacts.get(t.requester_id) or {}).get("email") == q["email"]]
        since = parse_time(q.get("updated_since")) or datetime.now(timezone.utc) - timedelta(days=30)
        found = [t for t in found if (t.updated_at or t.created_at) >= since]
        key = q.get("order_by", "created_at")
        found.sort(key=lambda t: getattr(t, key) or t.created_at, reverse=q.get("order_type", "desc") == "desc")
        extra = {k: v for k, v in q.items() if k not in ("page", "per_page")}
        return self._page(req, [self.api_ticket(t) for t in found], "/api/v2/tickets", extra)

    def _conversations(self, req: StubRequest) -> StubResponse:
        t = self._find(req)
        if isinstance(t, StubResponse):
            return t
        return self._page(req, list(t.conversations), req.path)

    def _note(self, req: StubRequest) -> StubResponse:
        t = self._find(req)
        if isinstance(t, StubResponse):
            return t
        body = req.json() or {}
        conv = self.add_conversation(t.id, self.api_agent_id, body.get("body", ""), private=body.get("private", True),
                                     source=2)
        return StubResponse(201, conv)

    def _reply(self, req: StubRequest) -> StubResponse:
        t = self._find(req)
        if isinstance(t, StubResponse):
            return t
        conv = self.add_conversation(t.id, self.api_agent_id, (req.json() or {}).get("body", ""), source=0)
        return StubResponse(201, conv)

    def _contact(self, req: StubRequest) -> StubResponse:
        denied = self._guard(req)
        return denied or (StubResponse(200, c) if (c := self.contacts.get(int(req.params["id"]))) else StubResponse(404, None))

    def _agent(self, req: StubRequest) -> StubResponse:
        denied = self._guard(req)
        return denied or (StubResponse(200, a) if (a := self.agents.get(int(req.params["id"]))) else StubResponse(404, None))

    def _me(self, req: StubRequest) -> StubResponse:
        return self._guard(req) or StubResponse(200, self.agents[self.api_agent_id])

    def _group(self, req: StubRequest) -> StubResponse:
        denied = self._guard(req)
        return denied or (StubResponse(200, g) if (g := self.groups.get(int(req.params["id"]))) else StubResponse(404, None))

    def _list_groups(self, req: StubRequest) -> StubResponse:
        return self._guard(req) or self._page(req, list(self.groups.values()), req.path)

    # --- changes and webhooks -----------------------------------------------------------------
    def _apply_status(self, t: SimTicket, status: int, at: datetime) -> None:
        previous, t.status = t.status, status
        t.stats["status_updated_at"] = _iso(at)
        if status == 4:
            t.stats["resolved_at"] = _iso(at)
        elif status == 5:
            t.stats["closed_at"] = _iso(at)
            t.stats["resolved_at"] = t.stats["resolved_at"] or _iso(at)
        elif previous in (4, 5):
            t.stats["reopened_at"] = _iso(at)
        t.stats["pending_since"] = _iso(at) if status == 3 else None

    def set_status(self, ticket_id: int, status: int | str, *, performer_id: int | None = None, deliveries: int = 1,
                   send: bool = True) -> list[requests.Response]:
        """Change a ticket's status as an agent would; deliver the status rule's webhook."""
        code = STATUS_CODES[status.lower()] if isinstance(status, str) else status
        t = self.tickets[ticket_id]
        with self._lock:
            previous = t.status
            t.updated_at = self._tick()
            self._apply_status(t, code, t.updated_at)
        if not send or previous == code:
            return []
        return self.deliver(self.status_body(t, previous, performer_id), repeat=deliveries)

    def assign(self, ticket_id: int, *, group_id: int | None = -1, responder_id: int | None = -1,
               performer_id: int | None = None, send: bool = True) -> list[requests.Response]:
        """Move a ticket to another group and/or agent (None unassigns; -1 leaves it); deliver the
        group/agent rule's webhook, which reports the first change only in triggered_event."""
        t = self.tickets[ticket_id]
        changed = []
        with self._lock:
            if group_id != -1 and group_id != t.group_id:
                changed.append(("group_id", t.group_id, group_id))
                t.group_id = group_id
            if responder_id != -1 and responder_id != t.responder_id:
                changed.append(("responder_id", t.responder_id, responder_id))
                t.responder_id = responder_id
            t.updated_at = self._tick()
        if not send or not changed:
            return []
        return self.deliver(self.assignment_body(t, changed[0], performer_id))

    def status_body(self, t: SimTicket, previous: int, performer_id: int | None = None) -> dict:
        """The status rule's body as Freshdesk renders it (every placeholder a string)."""
        c = self.contacts.get(t.requester_id) or {}
        performer = performer_id if performer_id is not None else (t.responder_id or self.api_agent_id)
        return {"ces_event": STATUS_EVENT, "ticket_id": str(t.id), "status": STATUS_NAMES.get(t.status, "Custom"),
                "triggered_event": f"{{status:{{from:{previous},to:{t.status}}}}}",
                "updated_at": self._ruby_time(t.updated_at), "performer_id": str(performer),
                "requester_id": str(t.requester_id), "requester_email": c.get("email") or "",
                "group": (self.groups.get(t.group_id or 0) or {}).get("name", ""),
                "agent": self.agents.get(t.responder_id or 0, {}).get("contact", {}).get("name", "")}

    @staticmethod
    def _ruby_time(at: datetime | None) -> str:
        return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else ""

    def headers(self) -> dict[str, str]:
        """What the rule's webhook sends besides the body: the shared secret, as configured."""
        headers = {"Content-Type": "application/json", "User-Agent": "Freshdesk"}
        if self.webhook_auth == "basic":
            token = base64.b64encode(f"{self.webhook_username}:{self.secret}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        else:
            headers[self.webhook_header] = self.secret
        return headers

    def deliver(self, body: dict, *, repeat: int = 1) -> list[requests.Response]:
        """POST the rendered body; a repeat sends the same bytes, as Freshdesk's retries do."""
        assert self.webhook_url, "set webhook_url first"
        raw = json.dumps(body).encode()
        out = []
        for _ in range(repeat):
            resp = requests.post(self.webhook_url, data=raw, headers=self.headers(), timeout=15)
            self.deliveries.append({"status": resp.status_code, "body": body})
            out.append(resp)
        return out


def _id(value: int | None) -> str:
    return "" if value is None else str(value)
