"""Intercom connector.

Facts (intercom/intercom-node types; Intercom's REST API
reference): a webhook is a `notification_event` envelope whose `id` (`notif_…`) is the
idempotency key and whose `data.item` is the conversation or ticket, shaped like the REST model of
the app's API version. `X-Hub-Signature` is "sha1=" + hex HMAC-SHA1 over the raw body keyed with
the app's client secret. Nothing time-stamped is signed: the body's `created_at` says when Intercom
made the notification but an attacker replaying a captured body would replay it too, so there is
no stale check for Intercom (the envelope id still makes a replay a duplicate).

Status mapping (Intercom has no state of its own after a resolution, so nothing maps to CLOSED):
- conversation.admin.closed → SOLVED (previous OPEN);
- conversation.admin.opened → OPEN, previous SOLVED: the topic means the conversation was closed
  (snoozed conversations wake up through conversation.admin.unsnoozed instead);
- conversation.user.replied → OPEN when the item says it was closed before (statistics.last_close_at
  is set) and is open now: Intercom reopens a closed conversation when the customer writes; the
  previous status is left unknown, the worker reopens only a solve it holds;
- ticket.state.updated: ticket_state category submitted → NEW, in_progress → OPEN,
  waiting_on_customer → PENDING, resolved → SOLVED; the previous state comes from the newest
  `ticket_state_updated_by_admin` part;
- every other topic → IGNORED (stored, with the conversation id when there is one).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from ces.config.models import ConnectorSettings
from ces.connectors import base, markup
from ces.connectors.api import bearer, optional_str
from ces.connectors.base import CheckResult, Connector, InboundRequest, Person, Ticket, TicketEvent, TicketHistory
from ces.connectors.errors import ApiError, BadSignature, PermanentApiError, Unparseable
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, HistoryEntry, Status
from ces.connectors.timeparse import parse_time

REGIONS = {"us": "https://api.intercom.io", "eu": "https://api.eu.intercom.io", "au": "https://api.au.intercom.io"}

CLOSED_TOPIC = "conversation.admin.closed"
OPENED_TOPIC = "conversation.admin.opened"
USER_REPLIED_TOPIC = "conversation.user.replied"
TICKET_STATE_TOPIC = "ticket.state.updated"

# ticket_state → Status: a plain string in API 2.10 and 2.11, an object whose `category` holds it
# from 2.12 (Intercom's OpenAPI, intercom/Intercom-OpenAPI descriptions/<version>/api.intercom.io.yaml,
# schema `ticket`). A ticket part's ticket_state and previous_ticket_state stay plain strings in 2.12.
TICKET_STATES = {
    "submitted": Status.NEW,
    "in_progress": Status.OPEN,
    "waiting_on_customer": Status.PENDING,
    "resolved": Status.SOLVED,
}
CONVERSATION_STATES = {"open": Status.OPEN, "closed": Status.SOLVED, "snoozed": Status.PENDING}

# source.type → the channel a customer used ("conversation" is the Messenger).
CHANNELS = {
    "conversation": Channel.CHAT,
    "email": Channel.EMAIL,
    "phone_call": Channel.PHONE,
    "phone_switch": Channel.PHONE,
    "sms": Channel.MESSAGING,
    "whatsapp": Channel.MESSAGING,
    "facebook": Channel.SOCIAL,
    "instagram": Channel.SOCIAL,
    "twitter": Channel.SOCIAL,
    "push": Channel.OTHER,
}
CUSTOMER_TYPES = frozenset({"user", "lead", "contact"})
ASSIGNMENT_PARTS = frozenset({"assignment", "default_assignment", "away_mode_assignment", "assign_and_reopen",
                              "assign_and_unsnooze", "assign_and_snooze"})
SEARCH_PAGES = 5  # at 150 a page: a requester with more conversations in the window is an outlier


def sign(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def channel_of(source_type: object) -> Channel:
    return CHANNELS.get(str(source_type or "").lower(), Channel.OTHER)


def ticket_state_of(value: object) -> Status | None:
    """ticket_state is a plain string in API 2.10 and 2.11, an object with `category` from 2.12."""
    if isinstance(value, dict):
        value = value.get("category")
    return TICKET_STATES.get(str(value or "").lower())


class IntercomSettings(ConnectorSettings):
    # The access token; the app's client secret, which signs the webhooks.
    secret_names = {"access_token": True, "client_secret": True}
    kind: str = "intercom"
    region: Literal["us", "eu", "au"] = "us"
    api_version: str = Field("2.11", pattern=r"^\d+\.\d+$")
    # The teammate (admin) ces-worker writes as: notes, replies, tags and reopens need one, and
    # changes made by it are never taken for agent activity.
    admin_id: str | None = Field(None, pattern=r"^\d+$")
    workspace_id: str | None = None  # the app id in app.intercom.com/a/apps/<id>/…, for ticket links

    @model_validator(mode="after")
    def _writer(self):
        if not self.admin_id:
            raise ValueError("missing admin_id: the id of the Intercom teammate ces-worker writes as (notes, tags, "
                             "reopens); `ces connectors test` prints the token owner's id")
        return self

    @property
    def api_base(self) -> str:
        return self.base_url or REGIONS[self.region]

    @property
    def api_user_id(self) -> str | None:
        """The worker skips status changes made by this actor (our own reopens)."""
        return self.admin_id


class IntercomConnector(Connector):
    kind = "intercom"
    title = "Intercom"
    Settings = IntercomSettings
    # Not FOLLOWUP: Intercom never locks a closed conversation, reopening it is the follow-up.
    capabilities = base.EVERYTHING - {base.FOLLOWUP}
    # 10,000 calls/min per app, enforced as 1/6 of that per 10-second window; the shared limiter
    # counts a sliding 60 s, so only the 10-second share can never overrun a window.
    default_rate_limit_per_minute = 1666
    delivery = base.DeliveryRule("the envelope id (notif_…) in the signed body", signed=True)
    settings: IntercomSettings

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._admins: dict[str, dict] = {}
        self._teams: dict[str, dict] = {}
        self._tags: dict[str, str] = {}

    # --- intake -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest) -> None:
        signature = request.header("x-hub-signature")
        if not signature:
            raise BadSignature("missing X-Hub-Signature")
        if not any(hmac.compare_digest(sign(secret, request.body).encode(), signature.strip().encode())
                   for secret in self.settings.secret_values("client_secret")):
            raise BadSignature("signature does not match the app's client secret")

    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        data = request.json()
        if not isinstance(data, dict) or data.get("type") != "notification_event":
            raise Unparseable("body is not an Intercom notification_event")
        topic = str(data.get("topic") or "")
        if topic == "ping":
            return []  # Intercom's "send test request": nothing to store
        item = (data.get("data") or {}).get("item") if isinstance(data.get("data"), dict) else None
        item = item if isinstance(item, dict) else {}
        # A notification without an id has never been seen; the body's hash still makes a retry a duplicate.
        delivery = str(data.get("id") or "sha256:" + request.digest())
        occurred = parse_time(data.get("created_at")) or request.received_at
        if item.get("type") not in ("conversation", "ticket"):
            return [TicketEvent(delivery_id=delivery, kind=EventKind.IGNORED, occurred_at=occurred,
                                summary=topic or "notification")]
        ticket_id = _str(item.get("id"))
        if not ticket_id:
            raise Unparseable(f"{topic}: no id in data.item")
        common = dict(delivery_id=delivery, ticket_id=ticket_id, payload=data)
        parts = _parts(item)
        if topic == CLOSED_TOPIC:
            part = _last(parts, {"close"})
            return [TicketEvent(kind=EventKind.STATUS, status=Status.SOLVED, previous_status=Status.OPEN,
                                occurred_at=_at(part, item, occurred), actor_id=_author(part),
                                summary="conversation closed", **common)]
        if topic == OPENED_TOPIC:
            part = _last(parts, {"open"})
            return [TicketEvent(kind=EventKind.STATUS, status=Status.OPEN, previous_status=Status.SOLVED,
                                occurred_at=_at(part, item, occurred), actor_id=_author(part),
                                summary="conversation reopened by a teammate", **common)]
        if topic == USER_REPLIED_TOPIC:
            stats = item.get("statistics") if isinstance(item.get("statistics"), dict) else {}
            part = _last(parts, {"comment"})
            if item.get("state") == "open" and stats.get("last_close_at"):
                return [TicketEvent(kind=EventKind.STATUS, status=Status.OPEN,
                                    occurred_at=_at(part, item, occurred), actor_id=_author(part),
                                    summary="customer replied to a conversation closed before", **common)]
            return [TicketEvent(kind=EventKind.IGNORED, occurred_at=_at(part, item, occurred),
                                summary="customer replied", **common)]
        if topic == TICKET_STATE_TOPIC:
            status = ticket_state_of(item.get("ticket_state"))
            if status is None:
                raise Unparseable("ticket.state.updated without a known ticket_state")
            part = _last(parts, {"ticket_state_updated_by_admin"})
            previous = ticket_state_of(part.get("previous_ticket_state")) if part else None
            return [TicketEvent(kind=EventKind.STATUS, status=status, previous_status=previous,
                                occurred_at=_at(part, item, occurred), actor_id=_author(part),
                                summary=f"ticket state {previous or '?'} → {status}", **common)]
        return [TicketEvent(kind=EventKind.IGNORED, occurred_at=occurred, summary=topic or "notification", **common)]

    # --- API ----------------------------------------------------------------------------------
    def auth(self) -> dict[str, Any]:
        auth = bearer(self.settings.secret("access_token"))
        auth["headers"].update({"Intercom-Version": self.settings.api_version, "Accept": "application/json"})
        return auth

    def _entry(self, cache: dict[str, dict], path: str, wanted: str | None) -> dict:
        """An admin or a team (name, e-mail), loaded once and again when an unknown id shows up."""
        if wanted is None:
            return {}
        if wanted not in cache:
            for entry in self.api.get_json(path, path).get(path) or []:
                cache[str(entry.get("id"))] = entry
            cache.setdefault(wanted, {})  # a deleted teammate: its id stands in, without asking again
        return cache[wanted]

    def _admin(self, admin_id: str | None) -> str | None:
        return self._entry(self._admins, "admins", admin_id).get("name") or admin_id

    def _team(self, team_id: str | None) -> str | None:
        return self._entry(self._teams, "teams", team_id).get("name") or team_id

    def _requester(self, conversation: dict) -> Person | None:
        contacts = (conversation.get("contacts") or {}).get("contacts") or []
        if not contacts:
            return None
        contact_id = _str(contacts[0].get("id"))
        contact = self.api.get_json(f"contacts/{contact_id}", "contact")
        return Person(id=contact_id, email=contact.get("email"), name=contact.get("name"),
                      locale=contact.get("language_override") or contact.get("browser_language"))

    def _ticket(self, conversation: dict, requester: Person | None = None, *, names: bool = True) -> Ticket:
        c = conversation
        source = c.get("source") or {}
        state = c.get("state") or ("open" if c.get("open") else "closed")
        workspace = self.settings.workspace_id
        admin_id = _str(c.get("admin_assignee_id"))
        return Ticket(
            id=str(c["id"]),
            status=ticket_state_of(c.get("ticket_state")) or CONVERSATION_STATES.get(state, Status.OPEN),
            subject=c.get("title") or source.get("subject") or None,
            requester=requester,
            assignee=self._admin(admin_id) if names else admin_id,
            assignee_id=admin_id,
            assignee_email=self._entry(self._admins, "admins", admin_id).get("email") if names else None,
            group=self._team(_str(c.get("team_assignee_id"))) if names else _str(c.get("team_assignee_id")),
            channel=channel_of(source.get("type")),
            raw_channel=_str(source.get("type")),
            tags=[t.get("name") for t in (c.get("tags") or {}).get("tags") or [] if t.get("name")],
            created_at=parse_time(c.get("created_at")),
            updated_at=parse_time(c.get("updated_at")),
            url=f"https://app.intercom.com/a/apps/{workspace}/conversations/{c['id']}" if workspace else None,
        )

    def _conversation(self, ticket_id: str) -> dict:
        """Customer tickets are conversations in Intercom and share their id; an id the
        conversations endpoint does not know is tried as a ticket (back-office and tracker
        tickets), read into the conversation's shape."""
        try:
            return self.api.get_json(f"conversations/{ticket_id}", "conversation", display_as="plaintext")
        except PermanentApiError as exc:
            if exc.status != 404:
                raise
            ticket = self.api.get_json(f"tickets/{ticket_id}", "ticket")
        attributes = ticket.get("ticket_attributes") if isinstance(ticket.get("ticket_attributes"), dict) else {}
        parts = (ticket.get("ticket_parts") or {}) if isinstance(ticket.get("ticket_parts"), dict) else {}
        return {**ticket, "title": attributes.get("_default_title_"),
                "conversation_parts": {"conversation_parts": parts.get("ticket_parts") or [],
                                       "total_count": parts.get("total_count")}}

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        conversation = self._conversation(ticket_id)
        return self._ticket(conversation, self._requester(conversation))

    def fetch_history(self, ticket_id: str, ticket: Ticket | None = None) -> TicketHistory:
        """One call gives the conversation, its parts (up to 500) and Intercom's own statistics."""
        conversation = self._conversation(ticket_id)
        missing: list[str] = []
        requester = None
        try:
            requester = self._requester(conversation)
        except PermanentApiError as exc:
            missing.append(f"requester: {exc.detail}")
        ticket = self._ticket(conversation, requester)
        history = TicketHistory(ticket=ticket, counters=statistics_counters(conversation), missing=missing)
        history.entries = self._entries(conversation, ticket)
        parts = conversation.get("conversation_parts") or {}
        total, got = parts.get("total_count"), len(parts.get("conversation_parts") or [])
        if isinstance(total, int) and total > got:
            history.missing.append(f"parts: Intercom returned {got} of {total} conversation parts")
        return history

    def _actor(self, author: dict | None) -> Actor:
        author = author or {}
        kind, author_id = author.get("type"), _str(author.get("id"))
        if kind in CUSTOMER_TYPES:
            return Actor.CUSTOMER
        if kind == "admin" and self.is_ours(author_id):
            return Actor.US
        if kind == "admin" and not author.get("from_ai_agent"):
            return Actor.AGENT
        return Actor.SYSTEM  # bots (Fin), workflows, teams acting through rules

    def is_ours(self, actor_id: str | None) -> bool:
        return actor_id is not None and str(actor_id) == self.settings.admin_id

    def _entries(self, c: dict, ticket: Ticket) -> list[HistoryEntry]:
        out: list[HistoryEntry] = []
        source = c.get("source") or {}
        created = parse_time(c.get("created_at"))
        if created and source:
            out.append(HistoryEntry(at=created, kind=EntryKind.MESSAGE, actor=self._actor(source.get("author")),
                                    channel=ticket.channel, source_id=_str(source.get("id"))))
        status, assignee, team = None, None, None
        for part in _parts(c):
            at = parse_time(part.get("created_at"))
            if at is None:
                continue
            kind = part.get("part_type")
            actor = self._actor(part.get("author"))
            pid = _str(part.get("id"))
            if kind in ("comment", "note"):
                channel = Channel.EMAIL if part.get("email_message_metadata") else ticket.channel
                out.append(HistoryEntry(at=at, kind=EntryKind.MESSAGE if kind == "comment" else EntryKind.NOTE,
                                        actor=actor, channel=channel, source_id=pid))
            if kind in ASSIGNMENT_PARTS:
                to = part.get("assigned_to") if isinstance(part.get("assigned_to"), dict) else {}
                to_type, to_id = to.get("type"), _str(to.get("id"))
                if to_type == "team":
                    name = self._team(to_id)
                    out.append(HistoryEntry(at=at, kind=EntryKind.GROUP, actor=actor, value=name, previous=team,
                                            source_id=pid))
                    team = name
                elif to_type in ("admin", "nobody_admin"):
                    name = self._admin(to_id) if to_type == "admin" else None
                    out.append(HistoryEntry(at=at, kind=EntryKind.ASSIGNEE, actor=actor, value=name,
                                            previous=assignee, source_id=pid))
                    assignee = name
            new = _part_status(part)
            if new is not None and new != status:
                out.append(HistoryEntry(at=at, kind=EntryKind.STATUS, actor=actor, value=new.value,
                                        previous=status.value if status else None, source_id=pid))
                status = new
        return out

    def recent_tickets(self, requester: Person, since: datetime) -> list[Ticket]:
        if not requester.id:
            return []
        body: dict[str, Any] = {
            "query": {"operator": "AND", "value": [
                {"field": "contact_ids", "operator": "=", "value": requester.id},
                {"field": "created_at", "operator": ">", "value": int(since.timestamp())}]},
            "pagination": {"per_page": 150}}
        out: list[Ticket] = []
        for _ in range(SEARCH_PAGES):
            data = self.api.write("POST", "conversations/search", "requester's conversations", body, idempotent=True)
            out.extend(self._ticket(c, requester, names=False) for c in data.get("conversations") or [])
            after = ((data.get("pages") or {}).get("next") or {}).get("starting_after")
            if not after:
                break
            body["pagination"] = {"per_page": 150, "starting_after": after}
        out = [t for t in out if t.created_at is None or t.created_at >= since]
        return sorted(out, key=lambda t: t.created_at or since, reverse=True)

    def _reply(self, ticket_id: str, message_type: str, text: str, label: str) -> None:
        self.api.write("POST", f"conversations/{ticket_id}/reply", label, {
            "message_type": message_type, "type": "admin", "admin_id": self.settings.admin_id, "body": text})

    def post_internal_note(self, ticket_id: str, text: str) -> None:
        # "Notes accept some HTML formatting" (Reply to a conversation): our text, escaped, lines kept.
        self._reply(ticket_id, "note", markup.html(text), "internal note")

    def post_public_reply(self, ticket_id: str, text: str) -> None:
        self._reply(ticket_id, "comment", text, "public reply")

    def _tag_ids(self, names: list[str], *, create: bool = True) -> list[str]:
        """Intercom tags conversations by tag id: find the tags by name (one listing for all the
        names not seen yet), create the ones that do not exist (or leave them out)."""
        if any(n not in self._tags for n in names):
            for tag in self.api.get_json("tags", "tags").get("data") or []:
                self._tags[tag.get("name")] = str(tag.get("id"))
        for name in names:
            if name not in self._tags and create:
                self._tags[name] = str(self.api.write("POST", "tags", "create tag", {"name": name})["id"])
        return [self._tags[n] for n in names if n in self._tags]

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        for tag_id in self._tag_ids(tags):
            self.api.write("POST", f"conversations/{ticket_id}/tags", "tag conversation",
                           {"id": tag_id, "admin_id": self.settings.admin_id})

    def remove_tags(self, ticket_id: str, tags: list[str]) -> None:
        for tag_id in self._tag_ids(tags, create=False):  # a tag that does not exist is on no conversation
            try:
                self.api.write("DELETE", f"conversations/{ticket_id}/tags/{tag_id}", "untag conversation",
                               {"admin_id": self.settings.admin_id})
            except PermanentApiError as exc:
                if exc.status != 404:  # 404: not on this conversation (any more)
                    raise

    def reopen(self, ticket_id: str, *, group: str | None = None) -> None:
        self.api.write("POST", f"conversations/{ticket_id}/parts", "reopen",
                       {"message_type": "open", "admin_id": self.settings.admin_id})
        if group:
            self.api.write("POST", f"conversations/{ticket_id}/parts", "assign to team", {
                "message_type": "assignment", "type": "team", "admin_id": self.settings.admin_id,
                "assignee_id": str(group)})

    # --- admin --------------------------------------------------------------------------------
    def setup_instructions(self) -> str:
        return self.setup_text(base=self.settings.api_base, version=self.settings.api_version,
                               secret_var=self.env_var("client_secret", "INTERCOM_CLIENT_SECRET"),
                               token_var=self.env_var("access_token", "INTERCOM_ACCESS_TOKEN"))

    def check(self) -> list[CheckResult]:
        try:
            me = self.api.get_json("me", "current admin")
        except ApiError as exc:
            return [CheckResult("authentication", False, exc.detail)]
        app = me.get("app") or {}
        results = [CheckResult("authentication", True,
                               f"token of {me.get('name')} (admin {me.get('id')}) in workspace {app.get('id_code')}",
                               {"admin_id": _str(me.get("id")), "workspace_id": app.get("id_code")})]
        try:
            admin = self.api.get_json(f"admins/{self.settings.admin_id}", "admin")
            results.append(CheckResult("internal notes", True,
                                       f"notes, tags and reopens are written as {admin.get('name')} "
                                       f"(admin {self.settings.admin_id})"))
        except ApiError as exc:
            results.append(CheckResult("internal notes", False,
                                       f"admin_id {self.settings.admin_id} is not a teammate of this workspace: "
                                       f"{exc.detail}"))
        search = {"query": {"field": "created_at", "operator": ">", "value": 0}, "pagination": {"per_page": 1}}
        results.append(self.probe(
            "history", lambda: self.api.write("POST", "conversations/search", "conversation search", search,
                                              idempotent=True),
            "conversations, their parts and statistics can be read", "cannot read conversations: "))
        return results


def statistics_counters(conversation: dict) -> dict[str, float]:
    """Intercom's conversation statistics under TicketHistory's counter names. Reply and resolution
    times are taken as calendar time from the timestamps (as Zendesk's calendar metrics), since
    Intercom's own durations subtract out-of-office hours."""
    s = conversation.get("statistics") if isinstance(conversation.get("statistics"), dict) else {}
    out: dict[str, float] = {}
    if isinstance(s.get("count_assignments"), (int, float)):
        out["assignee_stations"] = float(s["count_assignments"])
    if isinstance(s.get("count_reopens"), (int, float)):
        out["reopens"] = float(s["count_reopens"])
    first_contact, first_reply = s.get("first_contact_reply_at"), s.get("first_admin_reply_at")
    if isinstance(first_contact, (int, float)) and isinstance(first_reply, (int, float)):
        out["first_reply_minutes"] = max(0.0, (first_reply - first_contact) / 60)
    elif isinstance(s.get("time_to_admin_reply"), (int, float)):
        out["first_reply_minutes"] = s["time_to_admin_reply"] / 60
    created, closed = conversation.get("created_at"), s.get("last_close_at")
    if isinstance(created, (int, float)) and isinstance(closed, (int, float)):
        out["full_resolution_minutes"] = max(0.0, (closed - created) / 60)
    return out


def _part_status(part: dict) -> Status | None:
    kind = part.get("part_type")
    if kind in ("close",):
        return Status.SOLVED
    if kind in ("open", "assign_and_reopen", "unsnoozed", "timer_unsnooze", "assign_and_unsnooze"):
        return Status.OPEN
    if kind in ("snoozed", "assign_and_snooze"):
        return Status.PENDING
    if kind == "ticket_state_updated_by_admin":
        return ticket_state_of(part.get("ticket_state"))
    return None


def _parts(item: dict) -> list[dict]:
    for key in ("conversation_parts", "ticket_parts"):
        block = item.get(key)
        if isinstance(block, dict):
            return [p for p in block.get(key) or [] if isinstance(p, dict)]
    return []


def _last(parts: list[dict], kinds: set[str]) -> dict | None:
    return next((p for p in reversed(parts) if p.get("part_type") in kinds), None)


def _at(part: dict | None, item: dict, fallback: datetime) -> datetime:
    return (parse_time(part.get("created_at")) if part else None) or parse_time(item.get("updated_at")) or fallback


def _author(part: dict | None) -> str | None:
    return _str(((part or {}).get("author") or {}).get("id"))


def _str(value: object) -> str | None:
    """An id as text: Intercom writes 0 for "nobody"."""
    return None if value in (0, "0") else optional_str(value)
