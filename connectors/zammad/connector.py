"""Zammad connector (self-hosted, so base_url is required).

Facts (zammad/zammad and its documentation, docs.zammad.org and admin-docs.zammad.org):

- Delivery: a Trigger whose action is a Webhook object. Zammad POSTs its default payload
  {"ticket": {...}, "article": {...}} (app/jobs/trigger_webhook_job.rb). The ticket's associations
  customer, owner, group, organization, priority, created_by and updated_by are nested objects;
  `state` is the state's *name* ("closed"), not an object (record_payload/ticket.rb). `article` is
  {} when the update added none. The payload never says what the state was before.
- Headers: X-Zammad-Trigger (the trigger's name), X-Zammad-Delivery (the ActiveJob job id) and,
  when the webhook has a signature token, X-Hub-Signature = "sha1=" + lowercase hex
  HMAC-SHA1(token, raw body) (lib/user_agent.rb, set_signature).
- Retries: non-2xx answers are retried 5 times, 10 s × attempt apart, by the same job, so the
  same X-Zammad-Delivery: that id is the idempotency key.
- No timestamp is signed, so no replay window can be enforced here (verify() has no stale
  check). A replayed delivery is a duplicate by its delivery id or, under a new id, by its signed
  body (signed_key), and because every event states
  the ticket's *current* state, a replay of an old one is recognised as older than the state
  already applied (occurred_at = the ticket's updated_at).
- REST API under {base_url}/api/v1, `Authorization: Token token=…` (access token) or
  `Bearer …` (OAuth); `?expand=true` adds association names beside the ids (api/intro.rst).
  History: GET /ticket_history/{id} → {"history": [...], "assets": {...}}, entries with
  object/type/attribute, value_from/value_to as display names, created_by_id (has_history.rb).
  Zammad documents no API rate limit.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from pydantic import model_validator

from ces.config.models import ConnectorSettings
from ces.connectors import base, provisioning
from ces.connectors.api import bearer, optional_str
from ces.connectors.base import CheckResult, Connector, InboundRequest, Person, Ticket, TicketEvent, TicketHistory
from ces.connectors.errors import ApiError, BadSignature, PermanentApiError, TicketLocked, Unparseable
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, HistoryEntry, Status
from ces.connectors.timeparse import is_digits, parse_time
from ces.connectors.zammad import provision as zammad_provision

SYSTEM_USER_ID = "1"  # Zammad's own user "-": system changes, and the owner of unassigned tickets
NOBODY = "-"  # the name history and expand give that user

# Zammad's default states. "closed" is the resolution an agent (or the pending-close timer) sets,
# so it is SOLVED; Zammad never moves a closed ticket on by itself. "merged" ends a ticket whose
# conversation continues in another one: CLOSED, with Ticket.merged set. "pending close" is still
# open until the timer closes it.
_STATES = {
    "new": Status.NEW,
    "open": Status.OPEN,
    "pending reminder": Status.PENDING,
    "pending close": Status.PENDING,
    "closed": Status.SOLVED,
    "merged": Status.CLOSED,
    "removed": Status.DELETED,
}
MERGED = "merged"

# Article types (Ticket::Article::Type names) → the channel a customer used.
_CHANNELS = {
    "email": Channel.EMAIL,
    "phone": Channel.PHONE,
    "web": Channel.WEB,
    "chat": Channel.CHAT,
    "sms": Channel.MESSAGING,
    "telegram personal-message": Channel.MESSAGING,
    "whatsapp message": Channel.MESSAGING,
    "twitter status": Channel.SOCIAL,
    "twitter direct-message": Channel.SOCIAL,
    "facebook feed post": Channel.SOCIAL,
    "facebook feed comment": Channel.SOCIAL,
}

LOCKED_MESSAGE = "Cannot follow-up on a closed ticket"


def channel_of(value: object) -> Channel:
    return _CHANNELS.get(str(value or "").strip().lower(), Channel.OTHER)


def sign(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


class ZammadSettings(ConnectorSettings):
    secret_names = {"webhook_secret": True, "api_token": False, "oauth_token": False}
    kind: str = "zammad"
    api_user_id: str | None = None  # our own API user: its changes are never customer or agent activity
    # State names that mean "resolved". Add your own closed-type states here (Zammad lets admins
    # create them); every other unknown state counts as open.
    solved_states: list[str] = ["closed"]

    @model_validator(mode="after")
    def _where_and_how(self):
        if not self.base_url:
            raise ValueError("base_url is required: Zammad is self-hosted, so set it to your Zammad's address, "
                             "e.g. base_url = \"https://support.example.com\"")
        has_token, has_oauth = self.has_secret("api_token"), self.has_secret("oauth_token")
        if has_token and has_oauth:
            raise ValueError("set either api_token_env/_file or oauth_token_env/_file, not both")
        if not has_token and not has_oauth:
            raise ValueError("missing API credentials: set api_token_env (a Zammad access token with the "
                             "ticket.agent permission) or oauth_token_env")
        if not [s for s in self.solved_states if s.strip()]:
            raise ValueError("solved_states must name at least one state, e.g. [\"closed\"]")
        return self

    def status_of(self, state: object) -> Status | None:
        name = str(state or "").strip().lower()
        if not name:
            return None
        if name in {s.strip().lower() for s in self.solved_states}:
            return Status.SOLVED
        return _STATES.get(name, Status.OPEN)


class ZammadConnector(Connector):
    kind = "zammad"
    title = "Zammad"
    Settings = ZammadSettings
    capabilities = base.EVERYTHING | {base.PROVISION}
    # Zammad documents no API limit and runs on the customer's own server: stay gentle (2/s).
    default_rate_limit_per_minute = 120
    delivery = base.DeliveryRule("X-Zammad-Delivery (unsigned), or the signed body", signed=False)
    settings: ZammadSettings

    # --- intake -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest) -> None:
        """X-Hub-Signature over the raw body. Zammad signs no timestamp, so there is no stale check."""
        signature = request.header("x-hub-signature")
        if not signature:
            raise BadSignature("missing X-Hub-Signature: set the webhook's HMAC SHA1 Signature Token in Zammad")
        given = signature.strip().lower().encode()
        if not any(hmac.compare_digest(sign(secret, request.body).encode(), given)
                   for secret in self.settings.secret_values("webhook_secret")):
            raise BadSignature("signature does not match the webhook's signature token")

    def signed_key(self, request: InboundRequest) -> str | None:
        """The signed body: X-Zammad-Delivery is not signed. Every change carries the ticket's own
        updated_at, so an identical body is the same change, whenever it comes."""
        return request.digest()

    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        """One STATUS event per delivery, stating the ticket's current state.

        States: "closed" (and solved_states) → SOLVED; "merged" → IGNORED here, because the
        conversation goes on in the ticket it was merged into and a survey would ask about a
        half-finished case (fetch_ticket reports such a ticket as CLOSED with merged=True);
        "new", "open", "pending reminder", "pending close" and unknown states → open-like, which
        the worker reads as a reopen when a solve is open. The previous state is not in the
        payload, so previous_status stays None.
        """
        data = request.json()
        if not isinstance(data, dict):
            raise Unparseable("body is not a JSON object")
        ticket = data.get("ticket")
        ticket_id = _id(ticket.get("id")) if isinstance(ticket, dict) else None
        if not ticket_id:
            raise Unparseable("no ticket.id in the body (leave the webhook's custom payload off)")
        state = ticket.get("state")
        if isinstance(state, dict):  # a hand-written payload may nest it
            state = state.get("name")
        updated_at = ticket.get("updated_at")
        delivery = request.header("x-zammad-delivery")
        if not delivery:
            # Zammad always sends it; without it a retry must still be a duplicate.
            digest = hashlib.sha256(f"{ticket_id}|{state}|{updated_at}".encode()).hexdigest()[:32]
            delivery = f"derived:{digest}"
        trigger = (request.header("x-zammad-trigger") or "").strip()
        base_event = dict(delivery_id=delivery, ticket_id=ticket_id,
                          occurred_at=parse_time(updated_at) or request.received_at,
                          actor_id=optional_str(ticket.get("updated_by_id")), payload=_kept(ticket, trigger))
        if not isinstance(state, str) or not state.strip():
            return [TicketEvent(kind=EventKind.IGNORED, summary="no ticket state in the payload", **base_event)]
        if state.strip().lower() == MERGED:
            return [TicketEvent(kind=EventKind.IGNORED, summary="merged into another ticket", **base_event)]
        status = self.settings.status_of(state)
        summary = f"state {state.strip()[:40]}" + (f" (trigger {trigger[:60]})" if trigger else "")
        return [TicketEvent(kind=EventKind.STATUS, status=status, summary=summary, **base_event)]

    # --- API ----------------------------------------------------------------------------------
    def auth(self) -> dict[str, Any]:
        if self.settings.has_secret("oauth_token"):
            return bearer(self.settings.secret("oauth_token"))
        return {"headers": {"Authorization": f"Token token={self.settings.secret('api_token')}"}}

    def api_root(self) -> str:
        return f"{self.settings.base_url}/api/v1"

    def _write(self, method: str, path: str, label: str, body: dict) -> Any:
        try:
            return self.api.write(method, path, label, body)
        except PermanentApiError as exc:
            # Agents may always follow up; a user without agent access to a closed ticket's group
            # gets 422 "Cannot follow-up on a closed ticket. Please create a new ticket."
            if exc.status == 422 and LOCKED_MESSAGE.lower() in (exc.body or "").lower():
                raise TicketLocked(f"{exc.detail}: the ticket is closed to follow-ups", status=422) from None
            raise

    def _user(self, user_id: object) -> dict:
        """A user's record, or {} when it cannot be read (e.g. no permission): never fatal."""
        if _id(user_id) in (None, SYSTEM_USER_ID):
            return {}
        try:
            return self.api.get_json(f"users/{user_id}", "user") or {}
        except PermanentApiError:
            return {}

    def ticket_url(self, ticket_id: str) -> str | None:
        return agent_url(self.settings.base_url, ticket_id)

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        data = self.api.get_json(f"tickets/{ticket_id}", "ticket", expand="true")
        customer = self._user(data.get("customer_id"))
        owner = self._user(data.get("owner_id"))
        try:
            tags = (self.api.get_json("tags", "ticket tags", object="Ticket", o_id=ticket_id) or {}).get("tags") or []
        except PermanentApiError:
            tags = []
        return ticket_from_api(data, self.settings, customer=customer, owner=owner, tags=tags)

    def fetch_history(self, ticket_id: str, ticket: Ticket | None = None) -> TicketHistory:
        """State, group and owner changes from the ticket history; messages and notes from the
        articles. Zammad keeps no counters of its own (no reopen or transfer counts)."""
        ticket = ticket or self.fetch_ticket(ticket_id)
        history = TicketHistory(ticket=ticket)
        customer_id = ticket.requester.id if ticket.requester else None
        entries: list[HistoryEntry] = []
        try:
            data = self.api.get_json(f"ticket_history/{ticket_id}", "ticket history") or {}
            entries += self._history_entries(data.get("history") or [], ticket, customer_id)
        except PermanentApiError as exc:
            history.missing.append(f"history: {exc.detail}")
        try:
            articles = self.api.get_json(f"ticket_articles/by_ticket/{ticket_id}", "ticket articles") or []
            entries += [e for a in articles if (e := self._article_entry(a, customer_id)) is not None]
        except PermanentApiError as exc:
            history.missing.append(f"articles: {exc.detail}")
        history.entries = sorted(entries, key=lambda e: e.at)  # stable: history order within a second
        return history

    def _actor(self, user_id: object, customer_id: str | None) -> Actor:
        uid = _id(user_id)
        if uid is None or uid == SYSTEM_USER_ID:
            return Actor.SYSTEM
        if self.is_ours(uid):
            return Actor.US
        if customer_id and uid == customer_id:
            return Actor.CUSTOMER
        return Actor.AGENT

    def _history_entries(self, items: list[dict], ticket: Ticket, customer_id: str | None) -> list[HistoryEntry]:
        """Ticket attribute changes. Zammad records no attribute values at creation, so the
        starting state, group and owner are taken from the first change (or the current value)."""
        changes = [i for i in items if i.get("object") == "Ticket" and i.get("type") == "updated"
                   and i.get("attribute") in ("state", "group", "owner")]
        out: list[HistoryEntry] = []
        created = next((i for i in items if i.get("object") == "Ticket" and i.get("type") == "created"), None)
        created_at = parse_time(created.get("created_at")) if created else ticket.created_at
        if created_at:
            actor = self._actor(created.get("created_by_id") if created else None, customer_id)
            first = {attr: next((c.get("value_from") for c in changes if c.get("attribute") == attr), None)
                     for attr in ("state", "group", "owner")}
            state = self._state(first["state"]) if first["state"] is not None else ticket.status.value
            group = _name(first["group"]) if first["group"] is not None else ticket.group
            owner = _name(first["owner"]) if first["owner"] is not None else ticket.assignee
            out.append(HistoryEntry(at=created_at, kind=EntryKind.STATUS, actor=actor, value=state, source_id="created"))
            if group:
                out.append(HistoryEntry(at=created_at, kind=EntryKind.GROUP, actor=actor, value=group,
                                        source_id="created"))
            if owner:
                out.append(HistoryEntry(at=created_at, kind=EntryKind.ASSIGNEE, actor=actor, value=owner,
                                        source_id="created"))
        for item in changes:
            at = parse_time(item.get("created_at"))
            if at is None:
                continue
            attr, source_id = item["attribute"], optional_str(item.get("id"))
            actor = self._actor(item.get("created_by_id"), customer_id)
            if attr == "state":
                out.append(HistoryEntry(at=at, kind=EntryKind.STATUS, actor=actor, value=self._state(item.get("value_to")),
                                        previous=self._state(item.get("value_from")), source_id=source_id))
            else:
                kind = EntryKind.GROUP if attr == "group" else EntryKind.ASSIGNEE
                out.append(HistoryEntry(at=at, kind=kind, actor=actor, value=_name(item.get("value_to")),
                                        previous=_name(item.get("value_from")), source_id=source_id))
        return out

    def _state(self, name: object) -> str | None:
        status = self.settings.status_of(name)
        return status.value if status else None

    def _article_entry(self, article: dict, customer_id: str | None) -> HistoryEntry | None:
        at = parse_time(article.get("created_at"))
        if at is None:
            return None
        author = article.get("created_by_id")
        sender = str(article.get("sender") or "").lower()
        if self.is_ours(_id(author)):
            actor = Actor.US
        elif sender == "customer":
            actor = Actor.CUSTOMER
        elif sender == "system":
            actor = Actor.SYSTEM
        elif sender == "agent":
            actor = Actor.AGENT
        else:
            actor = self._actor(author, customer_id)
        kind = EntryKind.NOTE if article.get("internal") else EntryKind.MESSAGE
        return HistoryEntry(at=at, kind=kind, actor=actor, channel=channel_of(article.get("type")),
                            source_id=optional_str(article.get("id")))

    def recent_tickets(self, requester: Person, since: datetime) -> list[Ticket]:
        """Search (customer_id:N, the documented query syntax) newest first; stop at `since`.
        The date is filtered here rather than in the query: range syntax depends on the
        search backend and is not documented."""
        if not _id(requester.id):
            return []
        out: list[Ticket] = []
        per_page = 50
        for page in range(1, 21):  # at most 1,000 tickets: a requester beyond that is not "repeat contact"
            found = self.api.get_json("tickets/search", "requester's tickets", query=f"customer_id:{requester.id}",
                                      sort_by="created_at", order_by="desc", expand="true", page=page,
                                      per_page=per_page, limit=per_page)
            if isinstance(found, dict):  # without expand Zammad answers {"tickets": ids, "assets": …}
                assets = (found.get("assets") or {}).get("Ticket") or {}
                found = [assets.get(str(i)) or {} for i in found.get("tickets") or []]
            for raw in found or []:
                ticket = ticket_from_api(raw, self.settings)
                if ticket.created_at and ticket.created_at < since:
                    return out
                out.append(ticket)
            if len(found or []) < per_page:
                break
        return out

    def post_internal_note(self, ticket_id: str, text: str) -> None:
        # A text/plain article: the text goes as it is.
        self._write("POST", "ticket_articles", "internal note",
                    {"ticket_id": int(ticket_id), "body": text, "content_type": "text/plain",
                     "type": "note", "internal": True})

    def post_public_reply(self, ticket_id: str, text: str) -> None:
        """An e-mail to the customer, sent by Zammad from the ticket's group address."""
        ticket = self.fetch_ticket(ticket_id)
        email = ticket.requester.email if ticket.requester else None
        if not email:
            raise PermanentApiError(f"Zammad ticket {ticket_id}: the customer has no e-mail address to reply to")
        self._write("POST", "ticket_articles", "public reply",
                    {"ticket_id": int(ticket_id), "to": email, "body": text, "content_type": "text/plain",
                     "type": "email", "internal": False})

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        for tag in tags:  # Zammad adds one tag per call
            self._write("POST", "tags/add", "tag", {"object": "Ticket", "o_id": int(ticket_id), "item": tag})

    def remove_tags(self, ticket_id: str, tags: list[str]) -> None:
        for tag in tags:
            self._write("DELETE", "tags/remove", "untag", {"object": "Ticket", "o_id": int(ticket_id), "item": tag})

    def reopen(self, ticket_id: str, *, group: str | None = None) -> None:
        change: dict[str, Any] = {"state": "open"}
        if group:
            if is_digits(str(group)):
                change["group_id"] = int(group)
            else:
                change["group"] = group  # Zammad resolves association names
        self._write("PUT", f"tickets/{ticket_id}", "reopen", change)

    def create_followup(self, ticket_id: str, subject: str, text: str) -> str:
        """A new ticket for the same customer and group, linked to the old one, with the text as
        an internal note (the customer is not written to)."""
        original = self.api.get_json(f"tickets/{ticket_id}", "ticket")
        data = self._write("POST", "tickets", "follow-up ticket", {
            "title": subject, "group_id": original.get("group_id"), "customer_id": original.get("customer_id"),
            "article": {"body": text, "content_type": "text/plain", "type": "note", "internal": True},
            "links": {"Ticket": {"normal": [int(ticket_id)]}}})
        return str((data or {}).get("id"))

    # --- admin --------------------------------------------------------------------------------
    def setup_instructions(self) -> str:
        return self.setup_text(base=self.settings.base_url,
                               secret_var=self.env_var("webhook_secret", "ZAMMAD_WEBHOOK_TOKEN"),
                               token_var=self.env_var("api_token", "ZAMMAD_API_TOKEN"))

    def provision(self) -> base.Provisioned:
        return provisioning.run(self, zammad_provision.provision, zammad_provision.REMINDER)

    def check(self) -> list[CheckResult]:
        try:
            me = self.api.get_json("users/me", "current user", expand="true") or {}
        except ApiError as exc:
            return [CheckResult("authentication", False, exc.detail)]
        if not me.get("id"):
            return [CheckResult("authentication", False, "Zammad did not say who the token belongs to")]
        name = " ".join(p for p in (me.get("firstname"), me.get("lastname")) if p) or me.get("login")
        results = [CheckResult("authentication", True, f"signed in as {name}", {"user_id": str(me["id"])})]
        roles = [str(r) for r in me.get("roles") or []]
        agent = "Agent" in roles or "Admin" in roles
        results.append(CheckResult(
            "internal notes", agent,
            "agents can add internal notes to tickets of groups they have change access to" if agent
            else f"roles {roles or 'none'} include no Agent: notes and replies will be refused"))
        try:
            sample = self.api.get_json("tickets", "tickets", page=1, per_page=1) or []
            if not sample:
                results.append(CheckResult("history", False, "this user sees no ticket yet, so history access "
                                                             "could not be tried: give it access to the groups"))
            else:
                self.api.get_json(f"ticket_history/{sample[0]['id']}", "ticket history")
                results.append(CheckResult("history", True, f"read the history of ticket {sample[0]['id']}"))
        except ApiError as exc:
            results.append(CheckResult("history", False, exc.detail))
        return results + self.own_user_check(me["id"], "the token belongs to user")


def _id(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text if is_digits(text) else None


def _name(value: object) -> str | None:
    """A display name from history; "-" is Zammad's nobody."""
    text = str(value).strip() if value is not None else ""
    return None if text in ("", NOBODY) else text


def _locale(value: object) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    lang, _, region = text.replace("_", "-").partition("-")
    return f"{lang.lower()}-{region.upper()}" if region else lang.lower()


def _kept(ticket: dict, trigger: str) -> dict:
    """What is stored of a delivery: ids and the state, no customer data or message text."""
    kept = {k: ticket.get(k) for k in ("id", "number", "state", "state_id", "group_id", "owner_id", "customer_id",
                                        "updated_at", "updated_by_id") if k in ticket}
    return {"ticket": kept, "trigger": trigger or None}


def _full_name(user: dict) -> str | None:
    name = " ".join(p for p in (user.get("firstname"), user.get("lastname")) if p and p != NOBODY).strip()
    return name or None


def agent_url(base_url: str, ticket_id: object) -> str:
    return f"{base_url}/#ticket/zoom/{ticket_id}"


def ticket_from_api(t: dict, settings: ZammadSettings, *, customer: dict | None = None, owner: dict | None = None,
                    tags: list[str] | None = None) -> Ticket:
    """A ticket from GET /tickets/{id}?expand=true (names beside the ids), with the customer and
    owner records when they were read."""
    customer = customer or {}
    login = t.get("customer") if isinstance(t.get("customer"), str) else None
    email = customer.get("email") or (login if login and "@" in login else None)
    owner_name = _full_name(owner or {}) or _name(t.get("owner") if isinstance(t.get("owner"), str) else None)
    owner_id = _id(t.get("owner_id"))
    if owner_id in (None, SYSTEM_USER_ID):
        owner_id = owner_name = owner = None
    state = t.get("state") if isinstance(t.get("state"), str) else None
    article_type = t.get("create_article_type")
    return Ticket(
        id=str(t["id"]),
        status=settings.status_of(state) or Status.OPEN,
        subject=t.get("title"),
        requester=Person(id=optional_str(t.get("customer_id")), email=email, name=_full_name(customer),
                         locale=_locale((customer.get("preferences") or {}).get("locale"))),
        assignee=owner_name,
        assignee_id=owner_id,
        assignee_email=(owner or {}).get("email") or None,
        group=t.get("group") if isinstance(t.get("group"), str) else None,
        organization=t.get("organization") if isinstance(t.get("organization"), str) else None,
        channel=channel_of(article_type),
        raw_channel=optional_str(article_type),
        tags=list(tags or []),
        created_at=parse_time(t.get("created_at")),
        updated_at=parse_time(t.get("updated_at")),
        url=agent_url(settings.base_url, t["id"]),
        merged=(state or "").strip().lower() == MERGED,
    )
