"""Freshdesk connector.

Facts (Freshdesk's own webhook code as published in
Ramesh-Veeriaperumal/freshconsult: lib/va/webhook/util.rb, app/drops/helpdesk/ticket_drop.rb,
app/workers/webhook_v1_worker.rb):

- A change reaches us through an automation rule ("Ticket updates") whose action is "Trigger
  webhook" with a body the admin pastes (the two bodies `setup` prints). In JSON encoding every
  placeholder is rendered JSON-escaped, so placeholders always sit inside quotes.
- Freshdesk does not sign webhooks. Authenticity is a shared secret the rule sends: HTTP basic auth
  ("Requires authentication") or a custom header. There is no timestamp either, so a replayed
  request cannot be told from a retry by time: nothing is rejected as stale, and the delivery id
  makes a replay within the window below a duplicate instead.
- There is no delivery id. The body is rendered once and a failed delivery is retried with the same
  body, so the delivery id is the SHA-256 of the raw body, within a window (DELIVERY_WINDOW) longer
  than Freshdesk's retries: "We will do a retry 5 minutes after the initial web-hook failure …
  Subsequently, we retry 30 minutes later … we try again one hour (60 minutes) after the previous
  attempt" ("Receiving webhook failure emails", supportsandbox.freshdesk.com/support/solutions/
  articles/11000000028141), 95 minutes in all (a call over the account's API limit waits for the
  next hour, a rate limit's doing rather than a retry; should a retry come later still, the solve
  logic takes a solve already recorded as no news, and the API is read back before any survey goes
  out). A later identical body is a new change: a ticket
  solved again after a reopen sends the very same body when {{ticket.modified_on}} renders empty
  or equal (it is not in Freshdesk's documented placeholder list). What tells two changes apart
  within the window comes from documented placeholders ({{ticket.id}}, {{triggered_event}} with
  the statuses from and to, {{ticket.status}}); modified_on only adds to it where it renders.
- Only the ticket id and the status are trusted; everything else is read back through the API.
- The public API v2 has no per-ticket history, so group and agent changes come from a second rule
  whose webhook we turn into UPDATED events (history_from_webhooks).
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import Field, model_validator

from ces.config.models import ConnectorSettings
from ces.connectors import base, markup
from ces.connectors.api import link_header
from ces.connectors.base import CheckResult, Connector, InboundRequest, Person, Ticket, TicketEvent, TicketHistory
from ces.connectors.errors import ApiError, BadSignature, PermanentApiError, Unparseable
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, HistoryEntry, Status
from ces.connectors.timeparse import is_digits, parse_time

STATUS_EVENT = "ticket.status"
ASSIGNMENT_EVENT = "ticket.assignment"

# The bodies the two rules send (`setup` prints them). The status comes from documented placeholders:
# {{triggered_event}} ("{status:{from:2,to:4}}", status codes) and {{ticket.status}}. Two that are
# not in Freshdesk's picker are methods of its ticket drop and are used where they render:
# modified_on (when the change happened, for ordering) and event_performer (who made it: our own
# changes are not agent activity). Neither is needed to tell deliveries apart (DELIVERY_WINDOW).
# Bodies pasted before carry "status_id": "{{ticket.status_id}}" too; they still parse.
STATUS_BODY: dict[str, str] = {
    "ces_event": STATUS_EVENT,
    "ticket_id": "{{ticket.id}}",
    "status": "{{ticket.status}}",
    "triggered_event": "{{triggered_event}}",
    "updated_at": "{{ticket.modified_on}}",
    "performer_id": "{{event_performer.id}}",
    "requester_id": "{{ticket.requester.id}}",
    "requester_email": "{{ticket.requester.email}}",
    "group": "{{ticket.group.name}}",
    "agent": "{{ticket.agent.name}}",
}
ASSIGNMENT_BODY: dict[str, str] = {
    "ces_event": ASSIGNMENT_EVENT,
    "ticket_id": "{{ticket.id}}",
    "group": "{{ticket.group.name}}",
    "agent": "{{ticket.agent.name}}",
    "agent_email": "{{ticket.agent.email}}",
    "triggered_event": "{{triggered_event}}",
    "updated_at": "{{ticket.modified_on}}",
    "performer_id": "{{event_performer.id}}",
    "requester_id": "{{ticket.requester.id}}",
}

# An identical body within this window is Freshdesk retrying a delivery (its retries end 95
# minutes after the first failure; see the module's docstring); later, it is a new change.
DELIVERY_WINDOW = timedelta(hours=2)

# Ticket status codes. Custom statuses (6 and up, e.g. "Waiting on Customer") are unresolved
# states an admin added: open-like. Resolved (4) is the agent's solve; Closed (5) is what Freshdesk
# reaches by itself after a resolution (the "close resolved tickets" automation) or an agent sets.
OPEN, PENDING, RESOLVED, CLOSED = 2, 3, 4, 5
_STATUS_CODES = {OPEN: Status.OPEN, PENDING: Status.PENDING, RESOLVED: Status.SOLVED, CLOSED: Status.CLOSED}
# Labels are configurable and translated; only Freshdesk's English defaults are believed.
_STATUS_LABELS = {"open": Status.OPEN, "pending": Status.PENDING, "resolved": Status.SOLVED, "closed": Status.CLOSED}

# Ticket `source` codes (jscarle/Freshdesk.NET TicketSource.cs) → the channel the customer used.
_SOURCES: dict[int, tuple[str, Channel]] = {
    1: ("email", Channel.EMAIL),
    2: ("portal", Channel.WEB),
    3: ("phone", Channel.PHONE),
    4: ("forum", Channel.OTHER),
    5: ("twitter", Channel.SOCIAL),
    6: ("facebook", Channel.SOCIAL),
    7: ("chat", Channel.CHAT),
    8: ("mobihelp", Channel.OTHER),
    9: ("feedback_widget", Channel.WEB),
    10: ("outbound_email", Channel.EMAIL),
    11: ("ecommerce", Channel.OTHER),
    12: ("bot", Channel.MESSAGING),
}
# Conversation `source` codes: 0 reply and 2 note continue on the ticket's own channel (a portal
# reply and an e-mail reply look alike); the others name where the message came from.
_CONVERSATION_CHANNELS = {5: Channel.SOCIAL, 6: Channel.WEB, 7: Channel.SOCIAL, 8: Channel.EMAIL,
                          9: Channel.PHONE, 10: Channel.WEB, 11: Channel.OTHER}

# "{status:{from:4,to:6}}" (Zulip's captured fixtures), or the same as JSON, possibly with
# escaped quotes: quotes and backslashes are dropped before matching.
_CHANGE = re.compile(r"(\w+):\{from:([^,{}]*),to:([^,{}]*)\}")
# {{ticket.modified_on}} renders a Ruby time: "2026-11-23 10:15:45 UTC" or "… +0530".
_RUBY_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})\s*(UTC|Z|[+-]\d{2}:?\d{2})?$")


def status_of_code(value: object) -> Status | None:
    code = _int(value)
    if code is None or code < OPEN:
        return None
    return _STATUS_CODES.get(code, Status.OPEN)


def channel_of_source(value: object) -> tuple[Channel, str | None]:
    code = _int(value)
    if code is None:
        return Channel.OTHER, None
    name, channel = _SOURCES.get(code, (str(code), Channel.OTHER))
    return channel, name


def triggered_changes(value: object) -> dict[str, tuple[str, str]]:
    """{{triggered_event}} → {property: (from, to)}. Freshdesk reports the first matching event only."""
    if not isinstance(value, str):
        return {}
    text = re.sub(r"[\s\"'\\]", "", value)
    return {m.group(1): (m.group(2), m.group(3)) for m in _CHANGE.finditer(text)}


def webhook_time(value: object) -> datetime | None:
    parsed = parse_time(value)
    if parsed is not None or not isinstance(value, str):
        return parsed
    m = _RUBY_TIME.match(value.strip())
    if not m:
        return None
    zone = m.group(3) or "UTC"
    zone = "+00:00" if zone in ("UTC", "Z") else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
    return parse_time(f"{m.group(1)}T{m.group(2)}{zone}")


class FreshdeskSettings(ConnectorSettings):
    default_base_url = "https://{domain}.freshdesk.com"
    secret_names = {"webhook_secret": True, "api_key": True}
    kind: str = "freshdesk"
    domain: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]*$")  # acme → https://acme.freshdesk.com
    # How the rule's webhook presents the secret: HTTP basic auth ("Requires authentication",
    # username + password) or a custom header.
    webhook_auth: Literal["basic", "header"] = "basic"
    webhook_username: str = Field("ces-worker", min_length=1)
    webhook_header: str = Field("X-CES-Webhook-Secret", pattern=r"^[A-Za-z0-9-]+$")
    api_user_id: str | None = None  # the agent the API key belongs to: its changes are ours

    @model_validator(mode="after")
    def _where(self):
        if not self.base_url and not self.domain:
            raise ValueError("set domain (e.g. \"acme\" for acme.freshdesk.com) or base_url "
                             "(e.g. \"https://support.acme.com\")")
        if self.base_url and self.domain:
            raise ValueError("set either domain or base_url, not both")
        if self.webhook_auth == "header" and self.webhook_header.lower() in ("authorization", "content-type"):
            raise ValueError(f"webhook_header {self.webhook_header!r} is used by HTTP itself: pick a name "
                             "such as X-CES-Webhook-Secret")
        return self


class FreshdeskConnector(Connector):
    kind = "freshdesk"
    title = "Freshdesk"
    Settings = FreshdeskSettings
    capabilities = base.EVERYTHING - {base.FOLLOWUP}
    # No history API: status changes are the STATUS events themselves; transfers come from the
    # group/agent rule.
    history_from_webhooks = frozenset({EntryKind.STATUS, EntryKind.GROUP, EntryKind.ASSIGNEE})
    default_rate_limit_per_minute = 200  # Growth; Pro 400, Enterprise 700 (webhooks spend it too)
    delivery = base.DeliveryRule("SHA-256 of the body", signed=False, window=DELIVERY_WINDOW)
    settings: FreshdeskSettings

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._names: dict[tuple[str, str], dict] = {}  # group and agent names rarely change

    @property
    def rate_key(self) -> str:
        return f"{self.kind}:{self.settings.api_base}"

    # --- intake -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest) -> None:
        """Compare the shared secret the rule sends, in constant time, with every configured one.

        Freshdesk signs nothing and sends no timestamp: there is no stale check. A replayed request
        carries the same body, hence the same delivery id, and is a duplicate within the window."""
        s = self.settings
        user_ok = True
        if s.webhook_auth == "basic":
            header = request.header("authorization") or ""
            if header[:6].lower() != "basic ":
                raise BadSignature("missing HTTP basic credentials: tick \"Requires authentication\" in the rule")
            try:
                user, _, presented = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise BadSignature("unreadable HTTP basic credentials") from None
            user_ok = hmac.compare_digest(user.encode(), s.webhook_username.encode())
        else:
            presented = request.header(s.webhook_header)
            if presented is None:
                raise BadSignature(f"missing {s.webhook_header} header")
        matches = [hmac.compare_digest(presented.encode(), secret.encode()) for secret in s.secret_values("webhook_secret")]
        if not (any(matches) and user_ok):
            raise BadSignature("webhook credentials do not match the configured secret")

    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        """Our two bodies (`ces_event`), or a "simple"-mode body ({"freshdesk_webhook": {...}})
        told apart by its {{triggered_event}}. Anything else with a ticket id is IGNORED."""
        data = request.json("choose Encoding JSON in the rule's webhook")
        if isinstance(data, dict) and isinstance(data.get("freshdesk_webhook"), dict):
            data = data["freshdesk_webhook"]
        if not isinstance(data, dict):
            raise Unparseable("body is not a JSON object")
        ticket_id = _digits(data.get("ticket_id"))
        if not ticket_id:
            raise Unparseable("no ticket_id in the body (paste the body `ces connectors setup` prints)")
        changes = triggered_changes(data.get("triggered_event"))
        which = data.get("ces_event")
        common = dict(delivery_id=f"sha256:{request.digest()}", ticket_id=ticket_id,
                      occurred_at=webhook_time(data.get("updated_at")) or request.received_at,
                      actor_id=_digits(data.get("performer_id")), payload=data)
        if which == STATUS_EVENT or (which is None and "status" in changes):
            return [self._status_event(data, changes, common)]
        if which == ASSIGNMENT_EVENT or (which is None and ({"group_id", "responder_id"} & changes.keys())):
            return [self._assignment_event(data, common)]
        what = next(iter(changes), None) or str(which or data.get("triggered_event") or "unknown")[:60]
        return [TicketEvent(kind=EventKind.IGNORED, summary=f"not a status or assignment change: {what}", **common)]

    def _status_event(self, data: dict, changes: dict, common: dict) -> TicketEvent:
        """Status from {{ticket.status_id}} (bodies pasted before it was dropped), else the `to` of
        {{triggered_event}}, else an English default label; the previous status from the `from` of
        {{triggered_event}}."""
        change = changes.get("status", ("", ""))
        current = (status_of_code(data.get("status_id")) or status_of_code(change[1])
                   or _STATUS_LABELS.get(str(data.get("status") or data.get("ticket_status") or "").strip().lower()))
        if current is None:
            raise Unparseable("no readable status: the body needs \"triggered_event\": \"{{triggered_event}}\" "
                              "(paste the body `ces connectors setup` prints)")
        previous = status_of_code(change[0])
        return TicketEvent(kind=EventKind.STATUS, status=current, previous_status=previous,
                           summary=f"status {previous or '?'} → {current}", **common)

    def _assignment_event(self, data: dict, common: dict) -> TicketEvent:
        """The group and agent the ticket has now (names; empty = unassigned). Both are sent on
        every change: a value equal to the previous one is not a transfer."""
        actor = self._webhook_actor(common["actor_id"], _digits(data.get("requester_id")))
        entries = []
        if "group" in data:
            entries.append(HistoryEntry(at=common["occurred_at"], kind=EntryKind.GROUP, actor=actor,
                                        value=_text(data.get("group"))))
        if "agent" in data or "agent_email" in data:
            entries.append(HistoryEntry(at=common["occurred_at"], kind=EntryKind.ASSIGNEE, actor=actor,
                                        value=_text(data.get("agent")) or _text(data.get("agent_email"))))
        summary = ", ".join(f"{e.kind.value} {e.value or 'none'}" for e in entries) or "assignment without values"
        return TicketEvent(kind=EventKind.UPDATED, summary=summary, entries=entries, **common)

    def _webhook_actor(self, performer: str | None, requester: str | None) -> Actor:
        if performer is None:
            return Actor.SYSTEM
        if self.is_ours(performer):
            return Actor.US
        return Actor.CUSTOMER if performer == requester else Actor.AGENT

    # --- API ----------------------------------------------------------------------------------
    def auth(self) -> dict[str, Any]:
        return {"auth": (self.settings.secret("api_key"), "X")}  # Freshdesk: API key as user, any password

    def api_root(self) -> str:
        return f"{self.settings.api_base}/api/v2"

    def _pages(self, path: str, label: str, params: dict):
        """Items of a list endpoint, following the Link header's rel="next"."""
        for page in self.api.paginate(path, label, link_header, params=params):
            yield from page or []

    def _named(self, kind: str, item_id: object) -> dict:
        """A group's or an agent's name (and an agent's e-mail, in its `contact`), by id."""
        key = _digits(item_id)
        if key is None:
            return {}
        if (kind, key) not in self._names:
            try:
                data = self.api.get_json(f"{kind}s/{key}", kind)
            except PermanentApiError:
                data = {}  # e.g. a deleted agent, or a key without admin scope: the name stays unknown
            self._names[(kind, key)] = {**data, **(data.get("contact") or {})}
        return self._names[(kind, key)]

    def _ticket_data(self, ticket_id: str) -> dict:
        return self.api.get_json(f"tickets/{ticket_id}", "ticket", include="requester,stats")

    def _ticket(self, t: dict) -> Ticket:
        ticket = ticket_from_api(t, self.settings.api_base)
        group, agent = self._named("group", t.get("group_id")), self._named("agent", t.get("responder_id"))
        updates: dict[str, Any] = {"group": group.get("name"),
                                   "assignee": agent.get("name"), "assignee_email": agent.get("email"),
                                   "assignee_id": _digits(t.get("responder_id"))}
        if ticket.requester and ticket.requester.id:
            try:
                contact = self.api.get_json(f"contacts/{ticket.requester.id}", "contact")
            except PermanentApiError:
                contact = {}  # an agent as requester has no contact record
            zone = contact.get("time_zone")
            updates["requester"] = ticket.requester.model_copy(update={
                "locale": contact.get("language") or None,
                # Freshdesk stores Rails zone names ("Eastern Time (US & Canada)"); only IANA ones pass.
                "time_zone": zone if isinstance(zone, str) and ("/" in zone or zone == "UTC") else None,
                "email": ticket.requester.email or contact.get("email"),
                "name": ticket.requester.name or contact.get("name")})
        return ticket.model_copy(update=updates)

    def ticket_url(self, ticket_id: str) -> str | None:
        return agent_url(self.settings.api_base, ticket_id)

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        return self._ticket(self._ticket_data(ticket_id))

    def fetch_history(self, ticket_id: str, ticket: Ticket | None = None) -> TicketHistory:
        """Messages and notes from the conversations (the description is the first message);
        Freshdesk's stats give the first-response and resolution times. Status, group and agent
        changes are not in the API: they come from the stored webhooks."""
        raw = self._ticket_data(ticket_id)
        ticket = self._ticket(raw)
        history = TicketHistory(ticket=ticket, counters=stats_counters(raw))
        requester = ticket.requester.id if ticket.requester else None
        entries = []
        if ticket.created_at:
            outbound = _int(raw.get("source")) == 10  # "outbound email": the agent wrote first
            entries.append(HistoryEntry(at=ticket.created_at, kind=EntryKind.MESSAGE,
                                        actor=Actor.AGENT if outbound else Actor.CUSTOMER,
                                        channel=ticket.channel, source_id="description"))
        try:
            for c in self._pages(f"tickets/{ticket_id}/conversations", "conversations", {"per_page": 100}):
                entry = self._conversation(c, requester, ticket.channel)
                if entry:
                    entries.append(entry)
        except PermanentApiError as exc:
            history.missing.append(f"conversations: {exc.detail}")
        history.entries = sorted(entries, key=lambda e: e.at)
        return history

    def _conversation(self, c: dict, requester: str | None, ticket_channel: Channel) -> HistoryEntry | None:
        at = parse_time(c.get("created_at"))
        if at is None:
            return None
        user = _digits(c.get("user_id"))
        if self.is_ours(user):
            actor = Actor.US
        elif c.get("incoming") or (user is not None and user == requester):
            actor = Actor.CUSTOMER
        else:
            actor = Actor.AGENT
        # Public notes count as responses in Freshdesk (the customer sees them in the portal).
        kind = EntryKind.NOTE if c.get("private") else EntryKind.MESSAGE
        channel = _CONVERSATION_CHANNELS.get(_int(c.get("source")) or 0, ticket_channel)
        return HistoryEntry(at=at, kind=kind, actor=actor, channel=channel, source_id=_digits(c.get("id")))

    def recent_tickets(self, requester: Person, since: datetime) -> list[Ticket]:
        """GET /tickets filtered on the requester, newest first; updated_since bounds the scan
        (a ticket created since then was updated since then too)."""
        if requester.id:
            who = {"requester_id": requester.id}
        elif requester.email:
            who = {"email": requester.email}
        else:
            return []
        params = {**who, "updated_since": since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "order_by": "created_at", "order_type": "desc", "per_page": 100}
        out = []
        for raw in self._pages("tickets", "requester's tickets", params):
            ticket = ticket_from_api(raw, self.settings.api_base)
            if ticket.created_at and ticket.created_at < since:
                break
            out.append(ticket)
        return out

    def post_internal_note(self, ticket_id: str, text: str) -> None:
        self.api.write("POST", f"tickets/{ticket_id}/notes", "internal note",
                       {"body": markup.html(text), "private": True})

    def post_public_reply(self, ticket_id: str, text: str) -> None:
        self.api.write("POST", f"tickets/{ticket_id}/reply", "public reply", {"body": markup.html(text)})

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self._retag(ticket_id, lambda current: current + [t for t in tags if t not in current])

    def remove_tags(self, ticket_id: str, tags: list[str]) -> None:
        self._retag(ticket_id, lambda current: [t for t in current if t not in tags])

    def _retag(self, ticket_id: str, change) -> None:
        """PUT replaces the tags: read them first, write the changed set (if it changed)."""
        current = list(self.api.get_json(f"tickets/{ticket_id}", "ticket tags").get("tags") or [])
        wanted = change(current)
        if wanted != current:
            self.api.write("PUT", f"tickets/{ticket_id}", "tags", {"tags": wanted})

    def reopen(self, ticket_id: str, *, group: str | None = None) -> None:
        change: dict[str, Any] = {"status": OPEN}
        if group:
            change["group_id"] = self._group_id(group)
        self.api.write("PUT", f"tickets/{ticket_id}", "reopen", change)

    def _group_id(self, group: str) -> int:
        if is_digits(str(group)):
            return int(group)
        for g in self._pages("groups", "groups", {"per_page": 100}):
            if str(g.get("name", "")).casefold() == group.casefold():
                return int(g["id"])
        raise PermanentApiError(f"Freshdesk has no group named {group!r}")

    # --- admin --------------------------------------------------------------------------------
    def setup_instructions(self) -> str:
        s = self.settings
        if s.webhook_auth == "basic":
            auth = (f"Requires authentication: ticked, Username and password\n"
                    f"           Username: {s.webhook_username}\n"
                    f"           Password: the webhook secret (step 3)")
        else:
            auth = (f"Requires authentication: not ticked. Add custom headers: ticked\n"
                    f"           {{\"{s.webhook_header}\": \"<the webhook secret, step 3>\"}}")
        return self.setup_text(base=s.api_base, auth=auth,
                               status_body=_indent(json.dumps(STATUS_BODY, indent=2)),
                               assignment_body=_indent(json.dumps(ASSIGNMENT_BODY, indent=2)),
                               secret_var=self.env_var("webhook_secret", "FRESHDESK_WEBHOOK_SECRET"),
                               key_var=self.env_var("api_key", "FRESHDESK_API_KEY"),
                               window=f"{DELIVERY_WINDOW.total_seconds() / 3600:g} hours")

    def check(self) -> list[CheckResult]:
        try:
            me = self.api.get_json("agents/me", "current agent")
        except ApiError as exc:
            return [CheckResult("authentication", False, exc.detail)]
        agent_id = _digits(me.get("id"))
        contact = me.get("contact") or {}
        results = [CheckResult("authentication", True, f"signed in as {contact.get('name')} <{contact.get('email')}>, "
                               f"agent {agent_id}", {"user_id": agent_id})]
        if me.get("occasional"):
            results.append(CheckResult("internal notes", False, "the API key belongs to an occasional agent, who "
                                       "needs a day pass to add notes: use a full-time agent's key"))
        else:
            results.append(CheckResult("internal notes", True, "full-time agents can add private notes"))
        scope = _int(me.get("ticket_scope"))
        if scope != 1:
            what = {2: "group tickets", 3: "restricted (assigned tickets)"}.get(scope or 0, str(scope))
            results.append(CheckResult("ticket access", False, f"the agent's ticket scope is {what}: give it "
                                       "global access so that every solved ticket can be read"))
        results.append(self.probe("history", lambda: self.api.get_json("tickets", "tickets", per_page=1),
                                  "tickets and their conversations can be read; group and agent changes come "
                                  "from the second automation rule"))
        return results + self.own_user_check(agent_id, "the API key belongs to agent")


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip() if value is not None else ""
    return int(text) if is_digits(text) else None


def _digits(value: object) -> str | None:
    number = _int(value)
    return None if number is None else str(number)


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _indent(text: str, prefix: str = "       ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _minutes(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return round((end - start).total_seconds() / 60, 1)


def stats_counters(t: dict) -> dict[str, float]:
    """Freshdesk's own stats, as minutes since the ticket was created."""
    stats = t.get("stats") or {}
    created = parse_time(t.get("created_at"))
    out = {}
    for name, key in (("first_reply_minutes", "first_responded_at"), ("full_resolution_minutes", "resolved_at")):
        value = _minutes(created, parse_time(stats.get(key)))
        if value is not None:
            out[name] = value
    return out


def agent_url(base_url: str, ticket_id: object) -> str:
    return f"{base_url}/a/tickets/{ticket_id}"


def ticket_from_api(t: dict, base_url: str) -> Ticket:
    """A ticket of GET /tickets/{id} (with include=requester) or of the list endpoint; group and
    agent names need their own calls (the connector adds them)."""
    req = t.get("requester") if isinstance(t.get("requester"), dict) else {}
    channel, raw_channel = channel_of_source(t.get("source"))
    return Ticket(
        id=str(t["id"]),
        status=status_of_code(t.get("status")) or Status.OPEN,
        subject=t.get("subject"),
        requester=Person(id=_digits(t.get("requester_id")), email=req.get("email"), name=req.get("name")),
        channel=channel,
        raw_channel=raw_channel,
        tags=list(t.get("tags") or []),
        created_at=parse_time(t.get("created_at")),
        updated_at=parse_time(t.get("updated_at")),
        url=agent_url(base_url, t["id"]),
    )
