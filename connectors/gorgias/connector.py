"""Gorgias connector.

Facts (developers.gorgias.com):

- Delivery: an HTTP integration (reference/integrations) calls a URL with the method, headers and
  JSON form the admin configures, with `{{ticket.…}}` placeholders, on its triggers
  (ticket-created, ticket-updated, …). Gorgias signs nothing and sends no delivery id or
  timestamp: the strongest documented option is a custom header holding a secret, compared here
  in constant time. Its retry behaviour is not documented.
- Ticket status is "open" or "closed" (reference/tickets): closed is the solve, open after a
  solve the reopen. A spam ticket gets no survey.
- REST API under https://{domain}.gorgias.com/api, HTTP basic auth with the user's e-mail and an
  API key. Lists are cursor-paginated: `{"data": [...], "meta": {"next_cursor": …}}`
  (reference/pagination). Messages (reference/ticket-messages) carry their own `channel`,
  `from_agent`, `sender` and `sent_datetime`; an internal note is a message of channel
  "internal-note"; a message created without `sent_datetime` is sent (reference/create-ticket-message).
  Tags: POST/DELETE /tickets/{id}/tags (reference/create-ticket-tags), here by name.
- Rate limit (reference/limitations): API keys 40 requests per 20 s (leaky bucket, 2/s), 429
  with Retry-After beyond.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from ces.config.models import ConnectorSettings
from ces.connectors import base, markup
from ces.connectors.api import NextPage, optional_str
from ces.connectors.base import CheckResult, Connector, InboundRequest, Person, Ticket, TicketEvent, TicketHistory
from ces.connectors.errors import BadSignature, PermanentApiError, Unparseable
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, HistoryEntry, Status
from ces.connectors.timeparse import is_digits, parse_time

NOTE_CHANNEL = "internal-note"
_STATUSES = {"open": Status.OPEN, "closed": Status.SOLVED}
# Gorgias channel slugs (LegacyChannelSlug) → the channel a customer used.
_CHANNELS = {
    "email": Channel.EMAIL, "chat": Channel.CHAT, "phone": Channel.PHONE, "sms": Channel.MESSAGING,
    "whatsapp": Channel.MESSAGING, "facebook-messenger": Channel.MESSAGING,
    "instagram-direct-message": Channel.MESSAGING, "facebook": Channel.SOCIAL, "facebook-mention": Channel.SOCIAL,
    "facebook-recommendations": Channel.SOCIAL, "instagram-comment": Channel.SOCIAL,
    "instagram-ad-comment": Channel.SOCIAL, "instagram-mention": Channel.SOCIAL, "twitter": Channel.SOCIAL,
    "twitter-direct-message": Channel.MESSAGING, "tiktok-shop": Channel.MESSAGING, "api": Channel.API,
    "help-center": Channel.WEB, "contact_form": Channel.WEB,
}
# What setup asks the admin to paste as the integration's JSON form: only documented ticket fields.
FORM = ('{"ces_event": "gorgias-ticket", "ticket_id": "{{ticket.id}}", "status": "{{ticket.status}}", '
        '"spam": "{{ticket.spam}}", "updated_datetime": "{{ticket.updated_datetime}}", '
        '"assignee_email": "{{ticket.assignee_user.email}}", "team": "{{ticket.assignee_team.name}}"}')


def channel_of(slug: object) -> Channel:
    return _CHANNELS.get(str(slug or "").strip().lower(), Channel.OTHER)


class GorgiasSettings(ConnectorSettings):
    secret_names = {"webhook_secret": True, "api_key": True}
    kind: str = "gorgias"
    domain: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]*$")  # acme → https://acme.gorgias.com
    email: str = Field(..., min_length=3)  # the API key's user: basic auth's user name
    webhook_header: str = Field("X-CES-Webhook-Secret", pattern=r"^[A-Za-z0-9-]+$")
    api_user_id: str | None = None  # that user's id: its messages are ours, never an agent's

    @model_validator(mode="after")
    def _where(self):
        if bool(self.base_url) == bool(self.domain):
            raise ValueError("set domain (e.g. \"acme\" for acme.gorgias.com) or base_url, one of them")
        if self.webhook_header.lower() in ("authorization", "content-type"):
            raise ValueError(f"webhook_header {self.webhook_header!r} is used by HTTP itself: "
                             "pick a name such as X-CES-Webhook-Secret")
        return self

    @property
    def web(self) -> str:
        return self.base_url or f"https://{self.domain}.gorgias.com"


def next_cursor(path: str, params: dict) -> NextPage:
    """Gorgias's cursor rule: the same list again with meta.next_cursor, until there is none."""
    def rule(resp, data):
        cursor = ((data or {}).get("meta") or {}).get("next_cursor")
        return (path, {**params, "cursor": cursor}) if cursor else None
    return rule


class GorgiasConnector(Connector):
    kind = "gorgias"
    title = "Gorgias"
    Settings = GorgiasSettings
    capabilities = frozenset({base.TICKET, base.HISTORY, base.RECENT, base.NOTE, base.REPLY, base.TAGS, base.REOPEN})
    # The API has messages but no readable history of assignments: those come from the webhooks.
    history_from_webhooks = frozenset({EntryKind.STATUS, EntryKind.GROUP, EntryKind.ASSIGNEE})
    default_rate_limit_per_minute = 120  # API keys: 40 per 20 s, i.e. 2 per second
    # Nothing is signed and no id is sent: a retry is an identical body. The body carries the
    # ticket's updated_datetime, so a later change is another body; the window bounds the rest.
    delivery = base.DeliveryRule("SHA-256 of the body", signed=False, window=timedelta(hours=2))
    settings: GorgiasSettings

    # --- intake -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest) -> None:
        """The secret header the integration sends, compared in constant time with every
        configured secret. No signature, no timestamp: see README on what that leaves open."""
        presented = request.header(self.settings.webhook_header)
        if presented is None:
            raise BadSignature(f"missing {self.settings.webhook_header} header: add it to the HTTP integration")
        if not any(hmac.compare_digest(presented.encode(), secret.encode())
                   for secret in self.settings.secret_values("webhook_secret")):
            raise BadSignature("the webhook secret does not match the configured one")

    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        """One STATUS event per delivery (closed → SOLVED, open → OPEN, which the worker reads as
        a reopen after a solve), with the status, team and agent the ticket has now as history
        entries: Gorgias calls on every update, and a value equal to the one before is no change."""
        data = request.json("set the HTTP integration's request content type to application/json")
        ticket_id = str(data.get("ticket_id") or "").strip() if isinstance(data, dict) else ""
        if not ticket_id:
            raise Unparseable("no ticket_id in the body (paste the form `ces connectors setup` prints)")
        at = parse_time(data.get("updated_datetime")) or request.received_at
        common = dict(delivery_id=f"body:{request.digest()}", ticket_id=ticket_id, occurred_at=at,
                      payload={k: data.get(k) for k in ("ticket_id", "status", "spam", "updated_datetime")})
        status = _STATUSES.get(str(data.get("status") or "").strip().lower())
        if str(data.get("spam") or "").strip().lower() == "true":
            return [TicketEvent(kind=EventKind.IGNORED, summary="marked as spam", **common)]
        if status is None:
            return [TicketEvent(kind=EventKind.IGNORED, summary="no readable status", **common)]
        # The body does not say who made the change: the entries are the system's.
        entries = [HistoryEntry(at=at, kind=EntryKind.STATUS, value=status.value)] + [
            HistoryEntry(at=at, kind=kind, value=optional_str(data.get(key)))
            for kind, key in ((EntryKind.GROUP, "team"), (EntryKind.ASSIGNEE, "assignee_email")) if key in data]
        return [TicketEvent(kind=EventKind.STATUS, status=status, summary=f"status {status.value}",
                            entries=entries, **common)]

    # --- API ----------------------------------------------------------------------------------
    def auth(self) -> dict[str, Any]:
        return {"auth": (self.settings.email, self.settings.secret("api_key") or "")}

    def api_root(self) -> str:
        return f"{self.settings.web}/api"

    def ticket_url(self, ticket_id: str) -> str | None:
        return f"{self.settings.web}/app/ticket/{ticket_id}"

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        return self._ticket(self.api.get_json(f"tickets/{ticket_id}", "ticket") or {})

    def _ticket(self, t: dict) -> Ticket:
        customer, agent, team = (t.get(k) or {} for k in ("customer", "assignee_user", "assignee_team"))
        name = customer.get("name") or " ".join(p for p in (customer.get("firstname"), customer.get("lastname")) if p)
        return Ticket(
            id=str(t["id"]), status=_STATUSES.get(str(t.get("status") or "").lower(), Status.OPEN),
            subject=t.get("subject"),
            requester=Person(id=optional_str(customer.get("id")), email=customer.get("email") or None,
                             name=name or None, locale=t.get("language") or None),
            assignee=agent.get("name") or None, assignee_id=optional_str(agent.get("id")),
            assignee_email=agent.get("email") or None, group=team.get("name") or None,
            channel=channel_of(t.get("channel")), raw_channel=optional_str(t.get("channel")),
            tags=[str(tag.get("name")) for tag in t.get("tags") or [] if isinstance(tag, dict) and tag.get("name")],
            created_at=parse_time(t.get("created_datetime")), updated_at=parse_time(t.get("updated_datetime")),
            url=self.ticket_url(str(t["id"])))

    def fetch_history(self, ticket_id: str, ticket: Ticket | None = None) -> TicketHistory:
        """Customer messages, agent replies and notes with their times and channels; status,
        team and agent changes come from the stored webhooks (history_from_webhooks)."""
        history = TicketHistory(ticket=ticket or self.fetch_ticket(ticket_id))
        path, params = f"tickets/{ticket_id}/messages", {"limit": 100}
        try:
            for page in self.api.paginate(path, "ticket messages", next_cursor(path, params), params=params):
                history.entries += [e for m in page.get("data") or [] if (e := self._message(m))]
        except PermanentApiError as exc:
            history.missing.append(f"messages: {exc.detail}")
        history.entries.sort(key=lambda e: e.at)
        return history

    def _message(self, m: dict) -> HistoryEntry | None:
        at = parse_time(m.get("sent_datetime") or m.get("created_datetime"))
        if at is None or m.get("failed_datetime"):
            return None
        sender = optional_str((m.get("sender") or {}).get("id"))
        actor = Actor.US if self.is_ours(sender) else Actor.AGENT if m.get("from_agent") else Actor.CUSTOMER
        note = m.get("channel") == NOTE_CHANNEL or m.get("public") is False
        return HistoryEntry(at=at, kind=EntryKind.NOTE if note else EntryKind.MESSAGE, actor=actor,
                            channel=None if note else channel_of(m.get("channel")), source_id=optional_str(m.get("id")))

    def recent_tickets(self, requester: Person, since: datetime) -> list[Ticket]:
        """The customer's tickets, newest first, down to `since` (at most 10 pages of 30)."""
        if not requester.id or not is_digits(requester.id):
            return []
        params = {"customer_id": requester.id, "order_by": "created_datetime:desc", "limit": 30}
        out: list[Ticket] = []
        for page in self.api.paginate("tickets", "customer's tickets", next_cursor("tickets", params),
                                      params=params, pages=10):
            for raw in page.get("data") or []:
                ticket = self._ticket(raw)
                if ticket.created_at and ticket.created_at < since:
                    return out
                out.append(ticket)
        return out

    def post_internal_note(self, ticket_id: str, text: str) -> None:
        self.api.write("POST", f"tickets/{ticket_id}/messages", "internal note", {
            "channel": NOTE_CHANNEL, "via": "api", "from_agent": True, "sender": self._sender(), "body_text": text,
            "body_html": markup.html(text)})

    def post_public_reply(self, ticket_id: str, text: str) -> None:
        """An e-mail answering the customer's last e-mail, from the address it was sent to and
        through the same integration; Gorgias sends a message created without sent_datetime."""
        path = f"tickets/{ticket_id}/messages"
        messages = self.api.get_json(path, "ticket messages", limit=100).get("data") or []
        last = next((m for m in reversed(messages) if m.get("channel") == "email" and not m.get("from_agent")
                     and (m.get("source") or {}).get("from") and (m.get("source") or {}).get("to")), None)
        if last is None:
            raise PermanentApiError(f"Gorgias ticket {ticket_id}: no e-mail from the customer to reply to")
        self.api.write("POST", path, "public reply", {
            "channel": "email", "via": "api", "from_agent": True, "sender": self._sender(),
            "receiver": {"id": (last.get("sender") or {}).get("id")}, "integration_id": last.get("integration_id"),
            "source": {"type": "email", "from": last["source"]["to"][0], "to": [last["source"]["from"]]},
            "subject": f"Re: {last.get('subject') or ''}".strip(), "body_text": text, "body_html": markup.html(text)})

    def _sender(self) -> dict:
        return {"id": int(self.settings.api_user_id)} if self.settings.api_user_id else {"email": self.settings.email}

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self.api.write("POST", f"tickets/{ticket_id}/tags", "tag", {"names": tags})

    def remove_tags(self, ticket_id: str, tags: list[str]) -> None:
        self.api.write("DELETE", f"tickets/{ticket_id}/tags", "untag", {"names": tags})

    def reopen(self, ticket_id: str, *, group: str | None = None) -> None:
        change: dict[str, Any] = {"status": "open"}
        if group and is_digits(str(group)):
            change["assignee_team"] = {"id": int(group)}
        self.api.write("PUT", f"tickets/{ticket_id}", "reopen", change)

    # --- admin --------------------------------------------------------------------------------
    def setup_instructions(self) -> str:
        return self.setup_text(web=self.settings.web, form=FORM, header=self.settings.webhook_header,
                               secret_var=self.env_var("webhook_secret", "GORGIAS_WEBHOOK_SECRET"),
                               key_var=self.env_var("api_key", "GORGIAS_API_KEY"))

    def check(self) -> list[CheckResult]:
        return [self.probe("authentication", lambda: self.api.get_json("account", "account"),
                           f"signed in as {self.settings.email}"),
                self.probe("history", lambda: self.api.get_json("tickets", "tickets", limit=1),
                           "can list tickets and read their messages")]
