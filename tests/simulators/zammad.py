"""A simulated Zammad: the REST calls ces-worker makes, with in-memory users, groups and tickets
that keep a history and articles as Zammad does, and the trigger webhook Zammad sends when a
ticket's state changes (default payload, X-Zammad-Delivery, X-Hub-Signature), and the webhook
and trigger APIs provisioning calls (zammad_admin.py). Used by tests,
including an end-to-end test whose worker runs in another process."""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import requests

from ces.connectors.simulator import SimulatedHelpdesk, StubRequest, StubResponse, StubServer
from ces.connectors.zammad.connector import sign
from tests.simulators.zammad_admin import AdminApi

STATE_IDS = {"new": 1, "open": 2, "pending reminder": 3, "closed": 4, "merged": 5, "removed": 6,
             "pending close": 7}
ARTICLE_TYPE_IDS = {"email": 1, "sms": 2, "chat": 3, "fax": 4, "phone": 5, "note": 10, "web": 11}
SENDER_IDS = {"Agent": 1, "Customer": 2, "System": 3}
TRIGGER = "CES: ticket state changed"


def _now() -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


@dataclass
class SimTicket:
    id: int
    number: str
    title: str
    customer_id: int
    group_id: int
    owner_id: int = 1
    state: str = "new"
    channel: str = "email"
    tags: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    created_by_id: int = 1
    updated_by_id: int = 1


class ZammadSimulator(AdminApi, SimulatedHelpdesk):
    def __init__(self, *, token: str = "sim-token", secret: str = "sim-secret", port: int = 0):
        self.token, self.secret = token, secret
        self.server = StubServer(port=port)
        # Headers and body go out in two writes: without TCP_NODELAY each keep-alive call waits
        # ~40 ms for a delayed ACK. The handler class is this server's own, so only it changes.
        self.server.server.RequestHandlerClass.disable_nagle_algorithm = True
        self.users: dict[int, dict] = {}
        self.groups: dict[int, dict] = {}
        self.tickets: dict[int, SimTicket] = {}
        self.articles: dict[int, list[dict]] = {}
        self.histories: dict[int, list[dict]] = {}
        self.webhook_url: str | None = None
        self.deliveries: list[dict] = []  # what we sent: {"delivery", "status", "body"}
        self._ids = itertools.count(2)  # user 1 is Zammad's system user "-"
        self._history_ids = itertools.count(70001)
        self._lock = threading.RLock()
        self.users[1] = self._user_record(1, "-", "", "", ["Admin"], active=False)
        self.api_user_id = self.add_user("CES", "worker", "ces-worker@acme.test", role="Agent")
        self.agent_id = self.add_user("Alex", "Agent", "alex@acme.test", role="Agent")  # acts when nobody owns
        self.default_group_id = self.add_group("Users")  # Zammad's own first group
        s = self.server
        s.route("GET", r"/api/v1/users/me")(self._me)
        s.route("GET", r"/api/v1/users/(?P<id>\d+)")(self._get_user)
        s.route("GET", r"/api/v1/tickets/search")(self._search)
        s.route("GET", r"/api/v1/tickets")(self._index)
        s.route("GET", r"/api/v1/tickets/(?P<id>\d+)")(self._get_ticket)
        s.route("PUT", r"/api/v1/tickets/(?P<id>\d+)")(self._put_ticket)
        s.route("POST", r"/api/v1/tickets")(self._post_ticket)
        s.route("GET", r"/api/v1/ticket_history/(?P<id>\d+)")(self._history)
        s.route("GET", r"/api/v1/ticket_articles/by_ticket/(?P<id>\d+)")(self._articles)
        s.route("POST", r"/api/v1/ticket_articles")(self._post_article)
        s.route("GET", r"/api/v1/tags")(self._tags)
        s.route("POST", r"/api/v1/tags/add")(self._change_tag)
        s.route("DELETE", r"/api/v1/tags/remove")(self._change_tag)
        self.add_admin_routes()

    # --- data ---------------------------------------------------------------------------------
    def _user_record(self, uid: int, first: str, last: str, email: str, roles: list[str], *, locale: str = "en-us",
                     active: bool = True) -> dict:
        role_ids = {"Admin": 1, "Agent": 2, "Customer": 3}
        return {"id": uid, "login": email or "-", "firstname": first, "lastname": last, "email": email,
                "active": active, "organization_id": None, "vip": False, "verified": False, "out_of_office": False,
                "preferences": {"locale": locale}, "role_ids": [role_ids[r] for r in roles], "roles": roles,
                "group_ids": {}, "created_at": _now(), "updated_at": _now(), "created_by_id": 1,
                "updated_by_id": 1}

    def add_user(self, first: str, last: str, email: str, *, role: str = "Customer", locale: str = "en-us") -> int:
        with self._lock:
            uid = next(self._ids)
            self.users[uid] = self._user_record(uid, first, last, email, [role], locale=locale)
        return uid

    def add_group(self, name: str) -> int:
        with self._lock:
            gid = next(self._ids)
            self.groups[gid] = {"id": gid, "name": name, "active": True, "follow_up_possible": "yes",
                                "follow_up_assignment": True}
        return gid

    def fullname(self, uid: int | None) -> str:
        user = self.users.get(uid or 1) or self.users[1]
        return " ".join(p for p in (user["firstname"], user["lastname"]) if p) or "-"

    def create_ticket(self, customer_id: int, title: str, *, group_id: int | None = None, owner_id: int | None = None,
                      channel: str = "email", body: str = "Hello, I need help.") -> SimTicket:
        """A ticket opened by the customer with a first article, as an incoming e-mail would."""
        with self._lock:
            tid = next(self._ids)
            ticket = SimTicket(tid, str(30000 + tid), title, customer_id, group_id or self.default_group_id,
                               owner_id or 1, "new", channel,
                               created_by_id=customer_id, updated_by_id=customer_id)
            self.tickets[tid] = ticket
            self.articles[tid] = []
            self.histories[tid] = [self._history_item(ticket, "created", None, None, None, customer_id)]
            self.add_article(tid, customer_id, body, type=channel, sender="Customer")
            if owner_id:
                self._change(ticket, "owner", self.fullname(1), self.fullname(owner_id), customer_id)
        return ticket

    def add_article(self, ticket_id: int, author_id: int, body: str, *, type: str = "email", sender: str = "Agent",
                    internal: bool = False, to: str | None = None) -> dict:
        with self._lock:
            t = self.tickets[ticket_id]
            aid = next(self._ids)
            at = _now()
            article = {"id": aid, "ticket_id": ticket_id, "type_id": ARTICLE_TYPE_IDS.get(type, 10), "type": type,
                       "sender_id": SENDER_IDS[sender], "sender": sender, "from": self.fullname(author_id),
                       "to": to, "cc": None, "subject": t.title, "body": body, "content_type": "text/plain",
                       "internal": internal, "created_by_id": author_id, "updated_by_id": author_id,
                       "origin_by_id": None, "created_at": at, "updated_at": at, "attachments": [],
                       "preferences": {}, "created_by": self.users[author_id]["login"],
                       "updated_by": self.users[author_id]["login"]}
            self.articles[ticket_id].append(article)
            self.histories[ticket_id].append({"id": next(self._history_ids), "o_id": aid, "related_o_id": ticket_id,
                                              "created_by_id": author_id, "created_at": at,
                                              "object": "Ticket::Article", "type": "created"})
        return article

    def _history_item(self, t: SimTicket, type: str, attribute: str | None, value_from: str | None,
                      value_to: str | None, by: int) -> dict:
        item = {"id": next(self._history_ids), "o_id": t.id, "created_by_id": by, "created_at": _now(),
                "object": "Ticket", "type": type}
        if attribute:
            item.update({"attribute": attribute, "value_from": value_from, "value_to": value_to})
        return item

    def _change(self, t: SimTicket, attribute: str, value_from: str, value_to: str, by: int) -> None:
        self.histories[t.id].append(self._history_item(t, "updated", attribute, value_from, value_to, by))
        t.updated_at, t.updated_by_id = _now(), by

    def assign(self, ticket_id: int, *, group_id: int | None = None, owner_id: int | None = None,
               by: int | None = None) -> None:
        """A transfer as an agent would do it (no webhook: our trigger watches the state only)."""
        with self._lock:
            t = self.tickets[ticket_id]
            actor = by or t.owner_id
            if group_id is not None and group_id != t.group_id:
                self._change(t, "group", self.groups[t.group_id]["name"], self.groups[group_id]["name"], actor)
                t.group_id = group_id
            if owner_id is not None and owner_id != t.owner_id:
                self._change(t, "owner", self.fullname(t.owner_id), self.fullname(owner_id), actor)
                t.owner_id = owner_id

    # --- the API's answers --------------------------------------------------------------------
    def ticket_json(self, t: SimTicket, *, expand: bool) -> dict:
        body = {"id": t.id, "number": t.number, "title": t.title, "group_id": t.group_id, "owner_id": t.owner_id,
                "customer_id": t.customer_id, "organization_id": None, "state_id": STATE_IDS.get(t.state, 2),
                "priority_id": 2, "create_article_type_id": ARTICLE_TYPE_IDS.get(t.channel, 1),
                "create_article_sender_id": 2, "article_count": len(self.articles.get(t.id, [])),
                "article_ids": [a["id"] for a in self.articles.get(t.id, [])], "pending_time": None,
                "note": None, "preferences": {}, "created_at": t.created_at, "updated_at": t.updated_at,
                "created_by_id": t.created_by_id, "updated_by_id": t.updated_by_id,
                "close_at": t.updated_at if t.state == "closed" else None}
        if expand:
            body.update({"group": self.groups[t.group_id]["name"], "state": t.state, "priority": "2 normal",
                         "owner": self.users[t.owner_id]["login"], "customer": self.users[t.customer_id]["login"],
                         "organization": None, "create_article_type": t.channel, "create_article_sender": "Customer",
                         "created_by": self.users[t.created_by_id]["login"],
                         "updated_by": self.users[t.updated_by_id]["login"]})
        return body

    def _authorized(self, req: StubRequest) -> bool:
        auth = req.headers.get("authorization", "")
        return auth in (f"Token token={self.token}", f"Bearer {self.token}")

    def _guard(self, req: StubRequest) -> StubResponse | None:
        if not self._authorized(req):
            return StubResponse(401, {"error": "Invalid token!", "error_human": "Invalid token!"})
        return None

    def _not_found(self, what: str, key: object) -> StubResponse:
        message = f"Couldn't find {what} with 'id'={key}"
        return StubResponse(404, {"error": message, "error_human": message})

    def _ticket(self, req: StubRequest) -> SimTicket | None:
        return self.tickets.get(int(req.params["id"]))

    def _lookup(self, req: StubRequest, ticket_id) -> tuple[SimTicket | None, StubResponse | None]:
        """The ticket `ticket_id` names, or Zammad's refusal (401 bad token, 404 unknown ticket)."""
        if denied := self._guard(req):
            return None, denied
        t = self.tickets.get(int(ticket_id or 0))
        return (t, None) if t is not None else (None, self._not_found("Ticket", ticket_id))

    def _expand(self, req: StubRequest) -> bool:
        return req.query.get("expand", ["false"])[0] == "true"

    def _me(self, req: StubRequest) -> StubResponse:
        return self._guard(req) or StubResponse(200, self.users[self.api_user_id])

    def _get_user(self, req: StubRequest) -> StubResponse:
        if denied := self._guard(req):
            return denied
        user = self.users.get(int(req.params["id"]))
        return StubResponse(200, user) if user else self._not_found("User", req.params["id"])

    def _index(self, req: StubRequest) -> StubResponse:
        if denied := self._guard(req):
            return denied
        per_page = int(req.query.get("per_page", ["100"])[0])
        return StubResponse(200, [self.ticket_json(t, expand=False) for t in list(self.tickets.values())[:per_page]])

    def _get_ticket(self, req: StubRequest) -> StubResponse:
        if denied := self._guard(req):
            return denied
        t = self._ticket(req)
        return StubResponse(200, self.ticket_json(t, expand=self._expand(req))) if t else self._not_found("Ticket", req.params["id"])

    def _search(self, req: StubRequest) -> StubResponse:
        """Only the query ces-worker sends: customer_id:N, newest first."""
        if denied := self._guard(req):
            return denied
        query = req.query.get("query", [""])[0]
        found = [t for t in self.tickets.values() if query == f"customer_id:{t.customer_id}"]
        found.sort(key=lambda t: t.created_at, reverse=req.query.get("order_by", ["asc"])[0] == "desc")
        page, per_page = int(req.query.get("page", ["1"])[0]), int(req.query.get("per_page", ["50"])[0])
        found = found[(page - 1) * per_page:page * per_page]
        if self._expand(req):
            return StubResponse(200, [self.ticket_json(t, expand=True) for t in found])
        return StubResponse(200, {"tickets": [t.id for t in found], "tickets_count": len(found),
                                  "assets": {"Ticket": {str(t.id): self.ticket_json(t, expand=False) for t in found}}})

    def _put_ticket(self, req: StubRequest) -> StubResponse:
        t, refused = self._lookup(req, req.params["id"])
        if refused:
            return refused
        change = req.json() or {}
        with self._lock:
            if "group_id" in change or "group" in change:
                gid = change.get("group_id") or next((g for g, v in self.groups.items() if v["name"] == change["group"]), None)
                if gid not in self.groups:
                    return StubResponse(422, {"error": "No such group", "error_human": "No such group"})
                self.assign(t.id, group_id=gid, by=self.api_user_id)
            if "state" in change:
                self.set_status(t.id, change["state"], by=self.api_user_id)
        return StubResponse(200, self.ticket_json(t, expand=False))

    def _post_ticket(self, req: StubRequest) -> StubResponse:
        if denied := self._guard(req):
            return denied
        body = req.json() or {}
        if body.get("customer_id") not in self.users or body.get("group_id") not in self.groups:
            return StubResponse(422, {"error": "Invalid customer or group", "error_human": "Invalid customer or group"})
        article = body.get("article") or {}
        with self._lock:
            tid = next(self._ids)
            t = SimTicket(tid, str(30000 + tid), body.get("title") or "", body["customer_id"], body["group_id"],
                          state="open", channel=article.get("type", "note"), created_by_id=self.api_user_id,
                          updated_by_id=self.api_user_id)
            self.tickets[tid], self.articles[tid] = t, []
            self.histories[tid] = [self._history_item(t, "created", None, None, None, self.api_user_id)]
            if article:
                self.add_article(tid, self.api_user_id, article.get("body", ""), type=article.get("type", "note"),
                                 internal=bool(article.get("internal")))
        return StubResponse(201, self.ticket_json(t, expand=False))

    def _history(self, req: StubRequest) -> StubResponse:
        t, refused = self._lookup(req, req.params["id"])
        if refused:
            return refused
        ids = {t.customer_id, t.owner_id} | {h["created_by_id"] for h in self.histories[t.id]}
        return StubResponse(200, {"history": list(self.histories[t.id]),
                                  "assets": {"User": {str(i): self.users[i] for i in ids if i in self.users}}})

    def _articles(self, req: StubRequest) -> StubResponse:
        if denied := self._guard(req):
            return denied
        t = self._ticket(req)
        return StubResponse(200, list(self.articles[t.id])) if t else self._not_found("Ticket", req.params["id"])

    def _post_article(self, req: StubRequest) -> StubResponse:
        body = req.json() or {}
        t, refused = self._lookup(req, body.get("ticket_id"))
        if refused:
            return refused
        article = self.add_article(t.id, self.api_user_id, body.get("body", ""), type=body.get("type", "note"),
                                   internal=bool(body.get("internal")), to=body.get("to"))
        return StubResponse(201, article)

    def _tags(self, req: StubRequest) -> StubResponse:
        if denied := self._guard(req):
            return denied
        t = self.tickets.get(int(req.query.get("o_id", ["0"])[0]))
        return StubResponse(200, {"tags": list(t.tags)}) if t else self._not_found("Ticket", req.query.get("o_id"))

    def _change_tag(self, req: StubRequest) -> StubResponse:
        body = req.json() or {}
        t, refused = self._lookup(req, body.get("o_id"))
        if refused:
            return refused
        if req.method == "DELETE":
            t.tags = [tag for tag in t.tags if tag != body.get("item")]
            return StubResponse(200, True)
        if body.get("item") not in t.tags:
            t.tags.append(body["item"])
        return StubResponse(201, True)

    # --- webhooks -----------------------------------------------------------------------------
    def set_status(self, ticket_id: int, state: str, *, by: int | None = None, deliveries: int = 1,
                   send: bool = True) -> list[requests.Response]:
        """Change a ticket's state as an agent would; the trigger "State has changed" then sends
        the webhook (unless the state did not change, as in Zammad)."""
        with self._lock:
            t = self.tickets[ticket_id]
            actor = by or (t.owner_id if t.owner_id != 1 else self.agent_id)
            if state == t.state:
                return []
            self._change(t, "state", t.state, state, actor)
            t.state = state
            body = self.webhook_body(t)
        if not send or not self.webhook_url:
            return []
        return self.deliver(body, repeat=deliveries)

    def webhook_body(self, t: SimTicket) -> dict:
        """Zammad's default payload: the ticket with its associations nested, and the article
        of the update ({} when there was none)."""
        def user(uid: int) -> dict:
            u = dict(self.users[uid])
            for hidden in ("preferences", "group_ids", "last_login", "login_failed", "password"):
                u.pop(hidden, None)
            return u

        ticket = self.ticket_json(t, expand=False)
        ticket.update({"state": t.state, "customer": user(t.customer_id), "owner": user(t.owner_id),
                       "group": dict(self.groups[t.group_id]), "created_by": user(t.created_by_id),
                       "updated_by": user(t.updated_by_id), "organization": {}, "priority": {"id": 2, "name": "2 normal"},
                       "create_article_type": t.channel, "create_article_sender": "Customer"})
        return {"ticket": dict(sorted(ticket.items())), "article": {}}

    def deliver(self, body: dict, *, repeat: int = 1, delivery: str | None = None) -> list[requests.Response]:
        """POST a signed webhook; a repeat keeps the delivery id, as Zammad's job retries do."""
        assert self.webhook_url, "set webhook_url first"
        raw = json.dumps(body).encode()
        delivery = delivery or str(uuid.uuid4())  # an ActiveJob job id
        out = []
        for _ in range(repeat):
            headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Zammad User Agent",
                       "X-Zammad-Trigger": TRIGGER, "X-Zammad-Delivery": delivery,
                       "X-Hub-Signature": sign(self.secret, raw)}
            resp = requests.post(self.webhook_url, data=raw, headers=headers, timeout=15)
            self.deliveries.append({"delivery": delivery, "status": resp.status_code, "body": body})
            out.append(resp)
        return out
