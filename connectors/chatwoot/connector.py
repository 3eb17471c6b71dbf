"""Chatwoot connector (open source and self-hosted: base_url and account_id are required).

Facts (chatwoot/chatwoot, developers.chatwoot.com):
- Delivery: an account webhook on `conversation_status_changed`: the conversation (`id` = display id,
  `status`, `meta.sender`/`assignee`/`team`, `updated_at` in Unix seconds), `event` and
  `changed_attributes: [{"status": {"previous_value", "current_value"}}]`.
- Signature (v4.11.2 on, chatwoot/chatwoot#13573): `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret,
  "{timestamp}.{raw body}")>`, `X-Chatwoot-Timestamp` (Unix s), `X-Chatwoot-Delivery` (a UUID kept on retry).
- API: {base_url}/api/v1/accounts/{account_id}/…, header `api_access_token`. Messages: `message_type` 0
  incoming, 1 outgoing, 2 activity, 3 template; `private` marks a note. Activity messages alone record
  status, agent and team changes, in the account's language (read in English: config/locales/en.yml).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import Any

from pydantic import model_validator

from ces.config.models import ConnectorSettings
from ces.connectors import base, markup
from ces.connectors.api import optional_str
from ces.connectors.base import CheckResult, Connector, InboundRequest, Person, Ticket, TicketEvent, TicketHistory
from ces.connectors.errors import ApiError, BadSignature, PermanentApiError, StaleTimestamp, Unparseable
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, HistoryEntry, Status
from ces.connectors.timeparse import is_digits, parse_time

STATUSES = {"open": Status.OPEN, "resolved": Status.SOLVED, "pending": Status.PENDING, "snoozed": Status.HOLD}
CHANNELS = {f"Channel::{name}": channel for names, channel in (
    ("Email", Channel.EMAIL), ("WebWidget", Channel.CHAT), ("Api", Channel.API), ("Voice", Channel.PHONE),
    ("Whatsapp Sms TwilioSms Telegram Line", Channel.MESSAGING),
    ("FacebookPage Instagram TwitterProfile Tiktok", Channel.SOCIAL)) for name in names.split()}
INCOMING, OUTGOING, ACTIVITY = 0, 1, 2
MESSAGE_TYPES = {"incoming": INCOMING, "outgoing": OUTGOING, "activity": ACTIVITY, "template": 3}
PAGE = 20  # messages a page (MessageFinder)

# English activity texts (config/locales/en.yml, conversations.activity), most particular first.
_ACTIVITY = [
    (re.compile(r"Conversation was (?:marked resolved|resolved) by "), EntryKind.STATUS, Status.SOLVED),
    (re.compile(r"Conversation was (?:reopened|marked open) |System reopened "), EntryKind.STATUS, Status.OPEN),
    (re.compile(r"Conversation was marked as pending "), EntryKind.STATUS, Status.PENDING),
    (re.compile(r"Conversation was snoozed "), EntryKind.STATUS, Status.HOLD),
    (re.compile(r"Assigned to (?P<agent>.+) via (?P<team>.+) by .+"), EntryKind.GROUP, None),
    (re.compile(r"Assigned to (?P<name>.+) by .+"), EntryKind.ASSIGNEE, None),
    (re.compile(r"(?P<agent>.+) self-assigned this conversation"), EntryKind.ASSIGNEE, None),
    (re.compile(r"Conversation unassigned by "), EntryKind.ASSIGNEE, None),
    (re.compile(r"Unassigned from .+ by "), EntryKind.GROUP, None),
]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class ChatwootSettings(ConnectorSettings):
    secret_names = {"webhook_secret": True, "api_token": True}
    kind: str = "chatwoot"
    account_id: str  # the number in the dashboard's address: /app/accounts/{account_id}/…
    api_user_id: str | None = None  # the token's agent: its notes are never agent activity

    @model_validator(mode="after")
    def _where(self):
        if not self.base_url:
            raise ValueError("base_url is required: Chatwoot is self-hosted, set it to your Chatwoot's address, "
                             'e.g. base_url = "https://chat.example.com"')
        if not is_digits(self.account_id):
            raise ValueError(f"account_id must be the account's number, not {self.account_id!r}")
        return self


class ChatwootConnector(Connector):
    kind = "chatwoot"
    title = "Chatwoot"
    Settings = ChatwootSettings
    capabilities = base.EVERYTHING - {base.FOLLOWUP}
    # Rack::Attack allows 3000/min per IP (RACK_ATTACK_LIMIT); the server also serves its agents: stay gentle.
    default_rate_limit_per_minute = 300
    delivery = base.DeliveryRule("X-Chatwoot-Delivery (unsigned), or the signed timestamp + body", signed=False)
    settings: ChatwootSettings

    # --- intake -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest) -> None:
        signature, timestamp = request.header("x-chatwoot-signature"), request.header("x-chatwoot-timestamp")
        if not signature or not timestamp:
            raise BadSignature("missing X-Chatwoot-Signature or X-Chatwoot-Timestamp (Chatwoot signs from v4.11.2)")
        if not is_digits(timestamp) or len(timestamp) > 12:
            raise BadSignature(f"X-Chatwoot-Timestamp {timestamp[:40]!r} is not Unix seconds")
        given = signature.strip().lower().encode()
        if not any(hmac.compare_digest(sign(secret, timestamp, request.body).encode(), given)
                   for secret in self.settings.secret_values("webhook_secret")):
            raise BadSignature("signature does not match the webhook's secret")
        sent, tolerance = parse_time(int(timestamp)), self.settings.timestamp_tolerance_seconds
        if sent is None or abs((request.received_at - sent).total_seconds()) > tolerance:
            raise StaleTimestamp(f"signature timestamp is more than {tolerance} s away from now")

    def signed_key(self, request: InboundRequest) -> str | None:
        """The signed timestamp and body: past the tolerance a replay is stale anyway."""
        return hashlib.sha256((request.header("x-chatwoot-timestamp") or "").encode() + b"." + request.body).hexdigest()

    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        """`conversation_status_changed`: resolved → SOLVED, open/pending/snoozed as they are (open
        after resolved is a reopen). Every other event is stored and IGNORED."""
        data = request.json()
        if not isinstance(data, dict):
            raise Unparseable("body is not a JSON object")
        event = str(data.get("event") or "")
        conversation = data if event.startswith("conversation_") else data.get("conversation")
        ticket_id = _id(conversation.get("id")) if isinstance(conversation, dict) else None
        if not ticket_id:
            raise Unparseable("no conversation id in the body")
        status, previous = str(data.get("status") or ""), _previous_status(data.get("changed_attributes"))
        updated_at = conversation.get("updated_at")
        delivery = request.header("x-chatwoot-delivery") or "derived:" + hashlib.sha256(
            f"{ticket_id}|{status}|{updated_at}".encode()).hexdigest()[:32]
        kept = {k: conversation.get(k) for k in ("id", "status", "inbox_id", "updated_at") if k in conversation}
        common = dict(delivery_id=delivery, ticket_id=ticket_id, payload={"event": event, "conversation": kept},
                      occurred_at=parse_time(updated_at) or request.received_at)
        if event != "conversation_status_changed" or status not in STATUSES:
            return [TicketEvent(kind=EventKind.IGNORED, summary=f"event {event[:40]}", **common)]
        return [TicketEvent(kind=EventKind.STATUS, status=STATUSES[status], previous_status=STATUSES.get(previous),
                            summary=f"status {status}" + (f" (was {previous})" if previous else ""), **common)]

    # --- API ----------------------------------------------------------------------------------
    def auth(self) -> dict[str, Any]:
        return {"headers": {"api_access_token": self.settings.secret("api_token")}}

    def api_root(self) -> str:
        return f"{self.settings.base_url}/api/v1/accounts/{self.settings.account_id}"

    def ticket_url(self, ticket_id: str) -> str | None:
        return f"{self.settings.base_url}/app/accounts/{self.settings.account_id}/conversations/{ticket_id}"

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        return self._ticket(self.api.get_json(f"conversations/{ticket_id}", "conversation"))

    def _ticket(self, c: dict) -> Ticket:
        meta = c.get("meta") or {}
        sender, agent, team = meta.get("sender") or {}, meta.get("assignee") or {}, meta.get("team") or {}
        channel = optional_str(meta.get("channel"))
        return Ticket(
            id=str(c["id"]), status=STATUSES.get(str(c.get("status")), Status.OPEN),
            subject=(c.get("additional_attributes") or {}).get("mail_subject"),
            requester=Person(id=optional_str(sender.get("id")), email=sender.get("email") or None,
                             name=sender.get("name") or None),
            assignee=agent.get("available_name") or agent.get("name"), assignee_id=optional_str(agent.get("id")),
            assignee_email=agent.get("email") or None, group=team.get("name"),
            channel=CHANNELS.get(channel, Channel.OTHER), raw_channel=channel, tags=list(c.get("labels") or []),
            created_at=parse_time(c.get("created_at")),
            updated_at=parse_time(c.get("last_activity_at") or c.get("timestamp")), url=self.ticket_url(c["id"]))

    def fetch_history(self, ticket_id: str, ticket: Ticket | None = None) -> TicketHistory:
        """Messages and notes, and the activity messages for status, agent and team changes."""
        history = TicketHistory(ticket=ticket or self.fetch_ticket(ticket_id))
        try:
            teams = {t.get("name") for t in self.api.get_json("teams", "teams") or [] if isinstance(t, dict)}
        except PermanentApiError:
            teams = set()
        messages, path = [], f"conversations/{ticket_id}/messages"
        try:  # newest page first; `before` the oldest id read gives the page before it
            for page in self.api.paginate(path, "messages", lambda r, d: _before(path, d)):
                messages = list(page.get("payload") or []) + messages
        except PermanentApiError as exc:
            history.missing.append(f"messages: {exc.detail}")
        ticket, entries = history.ticket, []
        if ticket.created_at:
            entries.append(HistoryEntry(at=ticket.created_at, kind=EntryKind.STATUS, value=Status.OPEN.value,
                                        actor=Actor.CUSTOMER, source_id="created"))
        status = Status.OPEN.value
        for m in sorted(messages, key=lambda m: (m.get("created_at") or 0, m.get("id") or 0)):
            for entry in self._entries(m, ticket.channel, teams, status):
                entries.append(entry)
                status = entry.value if entry.kind == EntryKind.STATUS else status
        history.entries = entries
        return history

    def _entries(self, m: dict, channel: Channel, teams: set, status: str | None) -> list[HistoryEntry]:
        at, kind = parse_time(m.get("created_at")), MESSAGE_TYPES.get(m.get("message_type"), m.get("message_type"))
        if at is None:
            return []
        common = dict(at=at, source_id=optional_str(m.get("id")))
        if kind == ACTIVITY:
            return _activity(str(m.get("content") or ""), teams, status, common)
        sender = m.get("sender") or {}
        actor = Actor.CUSTOMER if kind == INCOMING else Actor.SYSTEM  # templates, bots, automations: SYSTEM
        if kind == OUTGOING and sender and sender.get("type", "user") == "user":
            actor = Actor.US if self.is_ours(optional_str(sender.get("id"))) else Actor.AGENT
        return [HistoryEntry(kind=EntryKind.NOTE if m.get("private") else EntryKind.MESSAGE, actor=actor,
                             channel=channel, **common)]

    def recent_tickets(self, requester: Person, since: datetime) -> list[Ticket]:
        if not _id(requester.id):
            return []
        found = self.api.get_json(f"contacts/{requester.id}/conversations", "contact's conversations") or {}
        tickets = [self._ticket(c) for c in found.get("payload") or [] if isinstance(c, dict) and c.get("id")]
        recent = [t for t in tickets if t.created_at and t.created_at >= since]
        return sorted(recent, key=lambda t: t.created_at, reverse=True)

    def post_internal_note(self, ticket_id: str, text: str) -> None:  # the dashboard renders Markdown
        self.api.write("POST", f"conversations/{ticket_id}/messages", "private note",
                       {"content": markup.markdown(text), "message_type": "outgoing", "private": True})

    def post_public_reply(self, ticket_id: str, text: str) -> None:
        self.api.write("POST", f"conversations/{ticket_id}/messages", "public reply",
                       {"content": text, "message_type": "outgoing", "private": False})

    def _labels(self, ticket_id: str, change) -> None:  # Chatwoot's call sets the whole list
        path = f"conversations/{ticket_id}/labels"
        labels = list((self.api.get_json(path, "labels") or {}).get("payload") or [])
        self.api.write("POST", path, "labels", {"labels": change(labels)})

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self._labels(ticket_id, lambda labels: labels + [t for t in tags if t not in labels])

    def remove_tags(self, ticket_id: str, tags: list[str]) -> None:
        self._labels(ticket_id, lambda labels: [t for t in labels if t not in tags])

    def reopen(self, ticket_id: str, *, group: str | None = None) -> None:
        self.api.write("POST", f"conversations/{ticket_id}/toggle_status", "reopen", {"status": "open"})
        if group:
            team = group if is_digits(str(group)) else next(
                (t.get("id") for t in self.api.get_json("teams", "teams") or [] if t.get("name") == group), None)
            if team is None:
                raise PermanentApiError(f"Chatwoot has no team named {group!r}")
            self.api.write("POST", f"conversations/{ticket_id}/assignments", "team", {"team_id": int(team)})

    # --- admin --------------------------------------------------------------------------------
    def setup_instructions(self) -> str:
        return self.setup_text(base=self.settings.base_url, account=self.settings.account_id,
                               secret_var=self.env_var("webhook_secret", "CHATWOOT_WEBHOOK_SECRET"),
                               token_var=self.env_var("api_token", "CHATWOOT_API_TOKEN"))

    def check(self) -> list[CheckResult]:
        try:
            me = self.api.get_json(f"{self.settings.base_url}/api/v1/profile", "profile") or {}
        except ApiError as exc:
            return [CheckResult("authentication", False, exc.detail)]
        mine, account_id = str(me.get("id")), self.settings.account_id
        role = next((a.get("role") for a in me.get("accounts") or [] if str(a.get("id")) == account_id), None)
        results = [CheckResult("authentication", bool(role), f"signed in as {me.get('name')} ({role})" if role
                               else f"{me.get('name')} is not in account {account_id}", {"user_id": mine})]
        results.append(self.probe("history", lambda: self.api.get_json("conversations", "conversations", page=1),
                                  "can list the account's conversations and read their messages"))
        try:  # GET /api (no token) tells the version; signing came in v4.11.2 (chatwoot/chatwoot#13573)
            version = str((self.api.get_json(f"{self.settings.base_url}/api", "version") or {}).get("version"))
            signs = tuple(int(n) for n in re.findall(r"\d+", version)[:3]) >= (4, 11, 2)
            results.append(CheckResult("signature", signs, f"Chatwoot {version} signs its webhooks" if signs
                                       else f"Chatwoot {version} signs no webhooks: upgrade to v4.11.2 or later"))
            inboxes = (self.api.get_json("inboxes", "inboxes") or {}).get("payload") or []
            surveying = ", ".join(i.get("name") or "?" for i in inboxes if i.get("csat_survey_enabled"))
            results.append(CheckResult("csat", not surveying, f"Chatwoot's own CSAT is on in {surveying}: switch "
                                       "it off" if surveying else "no inbox sends Chatwoot's own CSAT"))
        except ApiError as exc:
            results.append(CheckResult("version and csat", False, exc.detail))
        if self.settings.api_user_id not in (None, mine):
            results.append(CheckResult("api_user_id", False, f"api_user_id is not the token's agent, {mine}"))
        return results


def _id(value: object) -> str | None:
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    return text if is_digits(text) else None


def _previous_status(changes: object) -> str | None:
    for change in changes if isinstance(changes, list) else []:
        if isinstance(change, dict) and isinstance(change.get("status"), dict):
            return optional_str(change["status"].get("previous_value"))
    return None


def _before(path: str, page: Any) -> tuple[str, dict] | None:
    ids = [m["id"] for m in (page or {}).get("payload") or [] if isinstance(m.get("id"), int)]
    return (path, {"before": min(ids)}) if len(ids) >= PAGE else None


def _activity(text: str, teams: set, status: str | None, common: dict) -> list[HistoryEntry]:
    """An activity message as status, agent or team changes ([] for the others: labels, priority…)."""
    for pattern, kind, new_status in _ACTIVITY:
        found = pattern.match(text)
        if found and new_status is not None:
            by_contact = "resolved by" in text and "marked" not in text  # "…was resolved by {contact_name}"
            actor = Actor.CUSTOMER if by_contact else Actor.SYSTEM if "ystem" in text[:40] else Actor.AGENT
            return [HistoryEntry(kind=kind, actor=actor, value=new_status.value, previous=status, **common)]
        if found:
            names = found.groupdict()
            if "name" in names:  # "Assigned to X by Y": a team or an agent, told apart by the team names
                names = {"team" if names["name"] in teams else "agent": names["name"]}
            changes = {EntryKind.ASSIGNEE: names.get("agent"), EntryKind.GROUP: names.get("team")}
            return [HistoryEntry(kind=k, actor=Actor.AGENT, value=changes[k], **common)
                    for k in [k for k, v in changes.items() if v] or [kind]]
    return []
