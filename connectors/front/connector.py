"""Front connector.

Facts (dev.frontapp.com "Application webhooks", "Rule
webhooks", Events reference; zulip/zulip zerver/webhooks/front fixtures):
- An application webhook wraps the event: {type: "conversation_archived" | …, authorization:
  {id: "cmp_…"}, payload: <event>}. It is signed with the app's signing key: `x-front-signature`
  = base64 HMAC-SHA256(key, "<x-front-request-timestamp>:" + raw body), the timestamp in ms. When an
  admin saves the webhook, Front sends {type: "sync"} with `x-front-challenge`.
- A rule webhook (Settings > Rules, action "Send to a webhook") sends the bare event, signed with
  the API secret: `x-front-signature` = base64 HMAC-SHA1(secret, raw body), with no timestamp, so a
  replay cannot be told by its age (the event id still makes it a duplicate). `webhook_kind`
  chooses which scheme the connector checks.
- The event: {id: "evt_…" (the delivery id), type, emitted_at (seconds, with decimals),
  conversation: {id: "cnv_…", status, assignee, recipient, tags, …}, source, target}.

Status mapping: Front's "archived" is its done state (a new inbound message unarchives it), so
archive → SOLVED; reopen (unarchive) → OPEN with previous SOLVED; trash → DELETED. Front reaches no
state by itself after archiving, so nothing maps to CLOSED. Where the conversation carries a ticket
status category (Front ticketing), resolved → SOLVED, waiting → PENDING, open → OPEN. Assignment,
moves and everything else → IGNORED: the events API gives the whole timeline later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, model_validator

from ces.config.models import ConnectorSettings
from ces.connectors import base, markup
from ces.connectors.api import bearer, json_link, optional_str
from ces.connectors.base import CheckResult, Connector, InboundRequest, Person, Ticket, TicketEvent, TicketHistory
from ces.connectors.errors import (
    ApiError,
    BadSignature,
    PermanentApiError,
    StaleTimestamp,
    Unparseable,
    Unsupported,
)
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, HistoryEntry, Status
from ces.connectors.timeparse import is_digits, parse_time

CONVERSATION_STATUSES = {"archived": Status.SOLVED, "deleted": Status.DELETED, "assigned": Status.OPEN,
                         "unassigned": Status.OPEN, "open": Status.OPEN, "snoozed": Status.PENDING}
STATUS_CATEGORIES = {"resolved": Status.SOLVED, "waiting": Status.PENDING, "open": Status.OPEN}
# message.type → channel.
CHANNELS = {
    "email": Channel.EMAIL,
    "front_chat": Channel.CHAT,
    "intercom": Channel.CHAT,
    "smooch": Channel.MESSAGING,
    "sms": Channel.MESSAGING,
    "whatsapp": Channel.MESSAGING,
    "yalo_wha": Channel.MESSAGING,
    "facebook": Channel.MESSAGING,
    "tweet_dm": Channel.MESSAGING,
    "tweet": Channel.SOCIAL,
    "instagram": Channel.SOCIAL,
    "googleplay": Channel.SOCIAL,
    "call": Channel.PHONE,
    "phone-call": Channel.PHONE,
    "truly-call": Channel.PHONE,
    "custom": Channel.API,
}
MESSAGE_EVENTS = frozenset({"inbound", "outbound", "out_reply"})
_next = json_link("_pagination", "next")
PAGES = 10  # of 100 events or conversations: a longer timeline is cut and reported in `missing`


def sign_application(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b":" + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_rule(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest()).decode()


def channel_of(message_type: object) -> Channel:
    return CHANNELS.get(str(message_type or "").lower(), Channel.OTHER)


def status_of(conversation: dict) -> Status | None:
    category = conversation.get("status_category")
    if category in STATUS_CATEGORIES:
        return STATUS_CATEGORIES[category]
    return CONVERSATION_STATUSES.get(str(conversation.get("status") or ""))


class FrontSettings(ConnectorSettings):
    default_base_url = "https://api2.frontapp.com"
    # webhook_secret: for application webhooks the app's signing key, for rule webhooks the
    # company's API secret.
    secret_names = {"api_token": True, "webhook_secret": True}
    kind: str = "front"
    # Rule webhooks work with any Front plan that has rules and need nothing from our side when they
    # are saved; application webhooks expect their challenge echoed when saved (see setup.txt).
    webhook_kind: Literal["application", "rule"] = "rule"
    # The teammate ces-worker writes as (comments, replies): its actions are never agent activity.
    api_user_id: str | None = Field(None, pattern=r"^tea_[A-Za-z0-9]+$")
    reply_channel_id: str | None = Field(None, pattern=r"^(cha|chn)_[A-Za-z0-9]+$")

    @model_validator(mode="after")
    def _teammate(self):
        if self.reply_channel_id and not self.api_user_id:
            raise ValueError("reply_channel_id needs api_user_id: Front sends a reply as a teammate "
                             "(its id starts with tea_)")
        return self


class FrontConnector(Connector):
    kind = "front"
    title = "Front"
    Settings = FrontSettings
    # Not FOLLOWUP: Front never locks an archived conversation; reopening it is the follow-up.
    capabilities = base.EVERYTHING - {base.FOLLOWUP}
    delivery = base.DeliveryRule("the event id in the signed body", signed=True)
    default_rate_limit_per_minute = 50  # Starter plan; Growth 100, Scale 200+ (company-wide budget)
    settings: FrontSettings

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._tags: dict[str, str] = {}

    # --- intake -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest) -> None:
        signature = (request.header("x-front-signature") or "").strip()
        if not signature:
            raise BadSignature("missing X-Front-Signature")
        secrets = self.settings.secret_values("webhook_secret")
        if self.settings.webhook_kind == "rule":
            if not any(hmac.compare_digest(sign_rule(s, request.body).encode(), signature.encode()) for s in secrets):
                raise BadSignature("signature does not match the API secret (rule webhook)")
            return
        timestamp = (request.header("x-front-request-timestamp") or "").strip()
        if not timestamp:
            raise BadSignature("missing X-Front-Request-Timestamp")
        if not any(hmac.compare_digest(sign_application(s, timestamp, request.body).encode(), signature.encode())
                   for s in secrets):
            raise BadSignature("signature does not match the app's signing key")
        sent = parse_time(timestamp) if is_digits(timestamp) else None
        if sent is None:
            raise StaleTimestamp(f"unreadable X-Front-Request-Timestamp {timestamp[:40]!r}")
        tolerance = self.settings.timestamp_tolerance_seconds
        if abs((request.received_at - sent).total_seconds()) > tolerance:
            raise StaleTimestamp(f"request timestamp is more than {tolerance} s away from now")

    def handshake(self, request: InboundRequest) -> dict[str, Any] | None:
        """Saving an application webhook sends a signed {type: "sync"} with `x-front-challenge`,
        to be echoed within 10 s, or Front refuses the URL."""
        challenge = request.header("x-front-challenge")
        return {"challenge": challenge} if challenge else None

    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        data = request.json()
        if not isinstance(data, dict):
            raise Unparseable("body is not a JSON object")
        if data.get("type") == "sync":
            return []  # the check Front makes when an admin saves an application webhook
        event = data["payload"] if isinstance(data.get("payload"), dict) else data
        event_id, kind = optional_str(event.get("id")), str(event.get("type") or data.get("type") or "")
        if not event_id:
            raise Unparseable("event without an id")
        conversation = event.get("conversation") if isinstance(event.get("conversation"), dict) else {}
        ticket_id = optional_str(conversation.get("id"))
        occurred = parse_time(event.get("emitted_at")) or request.received_at
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        actor = optional_str((source.get("data") or {}).get("id")) if isinstance(source.get("data"), dict) else None
        common = dict(delivery_id=event_id, occurred_at=occurred, actor_id=actor, payload=data)
        if not ticket_id:
            if kind in ("archive", "reopen", "trash"):
                raise Unparseable(f"{kind} event {event_id} without conversation.id")
            return [TicketEvent(kind=EventKind.IGNORED, summary=kind or "event", **common)]
        if kind == "archive":
            return [TicketEvent(kind=EventKind.STATUS, ticket_id=ticket_id, status=Status.SOLVED,
                                previous_status=Status.OPEN, summary="conversation archived", **common)]
        if kind == "reopen":
            return [TicketEvent(kind=EventKind.STATUS, ticket_id=ticket_id, status=Status.OPEN,
                                previous_status=Status.SOLVED, summary="conversation reopened", **common)]
        if kind == "trash":
            return [TicketEvent(kind=EventKind.STATUS, ticket_id=ticket_id, status=Status.DELETED,
                                summary="conversation deleted", **common)]
        return [TicketEvent(kind=EventKind.IGNORED, ticket_id=ticket_id, summary=kind or "event", **common)]

    # --- API ----------------------------------------------------------------------------------
    def auth(self) -> dict[str, Any]:
        auth = bearer(self.settings.secret("api_token"))
        auth["headers"]["Accept"] = "application/json"
        return auth

    def _pages(self, path: str, label: str, **params: Any) -> tuple[list[dict], bool]:
        """Front's `_pagination.next` links; returns the items and whether the list was cut."""
        items: list[dict] = []
        for data in self.api.paginate(path, label, _next, params={"limit": 100, **params}, pages=PAGES):
            items.extend(data.get("_results") or [])
            if not _next(None, data):
                return items, False
        return items, True

    def _ticket(self, c: dict, inbox: str | None = None) -> Ticket:
        recipient = c.get("recipient") if isinstance(c.get("recipient"), dict) else {}
        handle = recipient.get("handle")
        contact_link = ((recipient.get("_links") or {}).get("related") or {}).get("contact") or ""
        assignee = c.get("assignee") if isinstance(c.get("assignee"), dict) else {}
        last = c.get("last_message") if isinstance(c.get("last_message"), dict) else {}
        return Ticket(
            id=str(c["id"]),
            status=status_of(c) or Status.OPEN,
            subject=c.get("subject"),
            requester=Person(id=contact_link.rsplit("/", 1)[-1] or None,
                             email=handle if handle and "@" in handle else None,
                             name=recipient.get("name")) if recipient else None,
            assignee=_name(assignee),
            assignee_id=optional_str(assignee.get("id")),
            assignee_email=assignee.get("email"),
            group=inbox,
            channel=channel_of(last.get("type")) if last else Channel.OTHER,
            raw_channel=last.get("type") if last else None,
            tags=[t.get("name") for t in c.get("tags") or [] if t.get("name")],
            created_at=parse_time(c.get("created_at")),
            updated_at=parse_time(last.get("created_at")) if last else None,
            url=self.ticket_url(c["id"]),
        )

    def _inbox(self, ticket_id: str) -> str | None:
        inboxes = self.api.get_json(f"conversations/{ticket_id}/inboxes", "conversation inboxes").get("_results") or []
        return inboxes[0].get("name") if inboxes else None

    def ticket_url(self, ticket_id: str) -> str | None:
        return f"https://app.frontapp.com/open/{ticket_id}"

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        ticket = self._ticket(self.api.get_json(f"conversations/{ticket_id}", "conversation"), self._inbox(ticket_id))
        if ticket.raw_channel is None:
            # The conversation object names no channel: the newest message tells it.
            newest = self.api.get_json(f"conversations/{ticket_id}/messages", "conversation messages", limit=1)
            for message in newest.get("_results") or []:
                ticket = ticket.model_copy(update={"channel": channel_of(message.get("type")),
                                                   "raw_channel": optional_str(message.get("type"))})
        return ticket

    def fetch_history(self, ticket_id: str, ticket: Ticket | None = None) -> TicketHistory:
        """The events timeline holds assignments, moves between inboxes, archives and reopens, and
        every message and comment; without the events scope, messages alone are read instead. A
        ticket given is not used: the conversation is read here with its inbox."""
        ticket = self._ticket(self.api.get_json(f"conversations/{ticket_id}", "conversation"), self._inbox(ticket_id))
        history = TicketHistory(ticket=ticket)
        messages: list[dict] = []
        try:
            events, cut = self._pages(f"conversations/{ticket_id}/events", "conversation events")
            history.entries = self._event_entries(events)
            messages = [e["target"]["data"] for e in events if e.get("type") in MESSAGE_EVENTS
                        and isinstance((e.get("target") or {}).get("data"), dict)]
            if cut:
                history.missing.append(f"events: only the newest {len(events)} events were read")
        except PermanentApiError as exc:
            history.missing.append(f"events: {exc.detail}")
            try:
                messages, _ = self._pages(f"conversations/{ticket_id}/messages", "conversation messages")
                history.entries = sorted((e for m in messages if (e := self._message_entry(m)) is not None),
                                         key=lambda e: e.at)
            except PermanentApiError as exc2:
                history.missing.append(f"messages: {exc2.detail}")
        # The channel the customer first wrote through (the conversation object names none).
        inbound = sorted((m for m in messages if m.get("is_inbound")), key=lambda m: m.get("created_at") or 0)
        if inbound and ticket.raw_channel is None:
            first = optional_str(inbound[0].get("type"))
            history.ticket = ticket.model_copy(update={"channel": channel_of(first), "raw_channel": first})
        return history

    def _teammate_actor(self, teammate_id: str | None) -> Actor:
        return Actor.US if self.is_ours(teammate_id) else Actor.AGENT

    def _event_actor(self, event: dict) -> Actor:
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        kind = (source.get("_meta") or {}).get("type")
        data = source.get("data") if isinstance(source.get("data"), dict) else {}
        if kind == "teammate":
            return self._teammate_actor(optional_str(data.get("id")))
        return Actor.SYSTEM  # rules, API integrations, inbox automations

    def _message_entry(self, message: dict, at: datetime | None = None) -> HistoryEntry | None:
        at = at or parse_time(message.get("created_at"))
        if at is None:
            return None
        author = message.get("author") if isinstance(message.get("author"), dict) else None
        if message.get("is_inbound"):
            actor = Actor.CUSTOMER
        else:
            actor = self._teammate_actor(optional_str(author.get("id"))) if author else Actor.SYSTEM
        return HistoryEntry(at=at, kind=EntryKind.MESSAGE, actor=actor, channel=channel_of(message.get("type")),
                            source_id=optional_str(message.get("id")))

    def _event_entries(self, events: list[dict]) -> list[HistoryEntry]:
        out: list[HistoryEntry] = []
        status: Status | None = None
        assignee: str | None = None
        inbox: str | None = None
        for event in sorted(events, key=lambda e: e.get("emitted_at") or 0):
            at = parse_time(event.get("emitted_at"))
            if at is None:
                continue
            kind, eid = event.get("type"), optional_str(event.get("id"))
            target = event.get("target") if isinstance(event.get("target"), dict) else {}
            data = target.get("data")
            actor = self._event_actor(event)
            if kind in MESSAGE_EVENTS and isinstance(data, dict):
                entry = self._message_entry(data, at)
                if entry is not None:
                    out.append(entry.model_copy(update={"source_id": eid}))
            elif kind == "comment":
                author = (data or {}).get("author") if isinstance(data, dict) else None
                who = self._teammate_actor(optional_str(author.get("id"))) if isinstance(author, dict) else actor
                out.append(HistoryEntry(at=at, kind=EntryKind.NOTE, actor=who, source_id=eid))
            elif kind in ("assign", "unassign"):
                name = _name(data) if kind == "assign" and isinstance(data, dict) else None
                out.append(HistoryEntry(at=at, kind=EntryKind.ASSIGNEE, actor=actor, value=name, previous=assignee,
                                        source_id=eid))
                assignee = name
            elif kind == "move":
                inboxes = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
                name = next((i.get("name") for i in inboxes if isinstance(i, dict) and i.get("name")), None)
                out.append(HistoryEntry(at=at, kind=EntryKind.GROUP, actor=actor, value=name, previous=inbox,
                                        source_id=eid))
                inbox = name
            new = {"archive": Status.SOLVED, "reopen": Status.OPEN, "trash": Status.DELETED}.get(kind)
            if new is not None and new != status:
                out.append(HistoryEntry(at=at, kind=EntryKind.STATUS, actor=actor, value=new.value,
                                        previous=status.value if status else None, source_id=eid))
                status = new
        return out

    def recent_tickets(self, requester: Person, since: datetime) -> list[Ticket]:
        """A contact's conversations come by recent activity, not by creation, so every page
        within the cap is read and filtered on created_at."""
        alias = f"alt:email:{requester.email}" if requester.email else requester.id
        if not alias:
            return []
        conversations, _ = self._pages(f"contacts/{quote(alias, safe=':@')}/conversations",
                                       "requester's conversations")
        tickets = [self._ticket(c) for c in conversations]
        tickets = [t for t in tickets if t.created_at and t.created_at >= since]
        return sorted(tickets, key=lambda t: t.created_at, reverse=True)

    def post_internal_note(self, ticket_id: str, text: str) -> None:
        # A comment's body "can include markdown formatting" (Add comment): our text, escaped.
        body: dict[str, Any] = {"body": markup.markdown(text)}
        if self.settings.api_user_id:
            body["author_id"] = self.settings.api_user_id
        self.api.write("POST", f"conversations/{ticket_id}/comments", "internal comment", body)

    def post_public_reply(self, ticket_id: str, text: str) -> None:
        if not self.settings.api_user_id:
            raise Unsupported("Front sends a reply as a teammate: set api_user_id (tea_…) to reply")
        body: dict[str, Any] = {"author_id": self.settings.api_user_id, "body": text}
        if self.settings.reply_channel_id:
            body["channel_id"] = self.settings.reply_channel_id
        self.api.write("POST", f"conversations/{ticket_id}/messages", "public reply", body)

    def _tag_ids(self, names: list[str], *, create: bool = True) -> list[str]:
        """Front tags conversations by tag id: find the tags by name (one listing for all the
        names not seen yet), create the ones that do not exist (or leave them out)."""
        if any(n not in self._tags for n in names):
            tags, _ = self._pages("tags", "tags")
            self._tags.update({t.get("name"): str(t.get("id")) for t in tags})
        for name in names:
            if name not in self._tags and create:
                created = self.api.write("POST", "tags", "create tag", {"name": name})
                self._tags[name] = str(created["id"])
        return [self._tags[n] for n in names if n in self._tags]

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self.api.write("POST", f"conversations/{ticket_id}/tags", "tags", {"tag_ids": self._tag_ids(tags)})

    def remove_tags(self, ticket_id: str, tags: list[str]) -> None:
        ids = self._tag_ids(tags, create=False)  # a tag that does not exist is on no conversation
        if ids:
            self.api.write("DELETE", f"conversations/{ticket_id}/tags", "untag", {"tag_ids": ids})

    def reopen(self, ticket_id: str, *, group: str | None = None) -> None:
        """`group` is an inbox id (inb_…): the conversation is moved there as it reopens."""
        change: dict[str, Any] = {"status": "open"}
        if group:
            change["inbox_id"] = str(group)
        self.api.write("PATCH", f"conversations/{ticket_id}", "reopen", change)

    # --- admin --------------------------------------------------------------------------------
    def setup_instructions(self) -> str:
        here = Path(__file__).parent
        secret_var = self.env_var("webhook_secret", "FRONT_WEBHOOK_SECRET")
        token_var = self.env_var("api_token", "FRONT_API_TOKEN")
        steps = (here / f"steps_{self.settings.webhook_kind}.txt").read_text(encoding="utf-8").rstrip("\n")
        steps = steps.format(webhook_url=self.webhook_url, secret_var=secret_var)
        return self.setup_text(token_var=token_var, kind=self.settings.webhook_kind, webhook_steps=steps)

    def check(self) -> list[CheckResult]:
        try:
            me = self.api.get_json("me", "company")
        except ApiError as exc:
            return [CheckResult("authentication", False, exc.detail)]
        results = [CheckResult("authentication", True, f"API token of {me.get('name')} ({me.get('id')})")]
        if self.settings.api_user_id:
            try:
                mate = self.api.get_json(f"teammates/{self.settings.api_user_id}", "teammate")
                results.append(CheckResult("internal notes", True,
                                           f"comments and replies are written as {_name(mate)}"))
            except ApiError as exc:
                results.append(CheckResult("internal notes", False,
                                           f"api_user_id {self.settings.api_user_id} is not a teammate: {exc.detail}"))
        else:
            results.append(CheckResult("internal notes", False, "api_user_id is not set: comments are posted as the "
                                       "API token and public replies are impossible; set it to a teammate id"))
        results.append(self.probe("history", lambda: self.api.get_json("events", "events", limit=1),
                                  "conversation events (assignments, moves, archives) can be read",
                                  "cannot read events (give the token the events scope): "))
        return results


def _name(teammate: dict | None) -> str | None:
    if not teammate:
        return None
    full = " ".join(p for p in (teammate.get("first_name"), teammate.get("last_name")) if p)
    return full or teammate.get("username") or teammate.get("email") or optional_str(teammate.get("id"))

