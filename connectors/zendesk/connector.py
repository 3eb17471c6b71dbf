"""Zendesk connector.

Facts (developer.zendesk.com/documentation/webhooks/): the signature is base64 HMAC-SHA256 over the
X-Zendesk-Webhook-Signature-Timestamp header string and the raw body (in either order: see
verify), the secret used verbatim. The invocation id is the idempotency key of a retry, but it is
not signed: the signed timestamp and body are a second key (signed_key), so that a captured
request replayed under a new invocation id within the tolerance is still a duplicate. A webhook
reaches us either from an event subscription (fixed schema: ticket in `detail`, status in
`event.current`, UPPERCASE) or from a trigger whose body the admin pastes (the one `setup`
prints). Trigger placeholders render display-formatted, possibly translated text, so only the
ticket id is trusted and everything else is re-fetched from the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from ces.config.models import ConnectorSettings
from ces.connectors import base, provisioning
from ces.connectors.api import json_link, optional_str
from ces.connectors.base import CheckResult, Connector, InboundRequest, Person, Ticket, TicketEvent, TicketHistory
from ces.connectors.errors import ApiError, BadSignature, PermanentApiError, StaleTimestamp, TicketLocked, Unparseable
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, HistoryEntry, Status
from ces.connectors.timeparse import is_digits, parse_time
from ces.connectors.zendesk import provision as zendesk_provision

STATUS_EVENT = "zen:event-type:ticket.status_changed"
TRIGGER_SOLVED = "ticket.solved"
TRIGGER_UNSOLVED = "ticket.unsolved"

_STATUSES = {s.value: s for s in Status}
_STATUSES.update({"archived": Status.CLOSED, "scrubbed": Status.DELETED})

# via.channel values → the channel a customer used.
_CHANNELS = {
    "email": Channel.EMAIL,
    "chat": Channel.CHAT,
    "native_messaging": Channel.MESSAGING,
    "messaging": Channel.MESSAGING,
    "sunshine_conversations_api": Channel.MESSAGING,
    "whatsapp": Channel.MESSAGING,
    "sms": Channel.MESSAGING,
    "line": Channel.MESSAGING,
    "wechat": Channel.MESSAGING,
    "telegram": Channel.MESSAGING,
    "voice": Channel.PHONE,
    "phone": Channel.PHONE,
    "web": Channel.WEB,
    "web_form": Channel.WEB,
    "web_widget": Channel.WEB,
    "mobile": Channel.WEB,
    "mobile_sdk": Channel.WEB,
    "help_center": Channel.WEB,
    "twitter": Channel.SOCIAL,
    "facebook": Channel.SOCIAL,
    "instagram_dm": Channel.SOCIAL,
    "api": Channel.API,
    "web_service": Channel.API,
}


def status_of(value: object) -> Status | None:
    return _STATUSES.get(str(value).strip().lower()) if value else None


def channel_of(value: object) -> Channel:
    return _CHANNELS.get(str(value or "").lower(), Channel.OTHER)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.digest(secret.encode(), timestamp.encode() + body, "sha256")
    return base64.b64encode(digest).decode()


def sign_body_first(secret: str, timestamp: str, body: bytes) -> str:
    """The order of the earlier version of Zendesk's verification page (see verify)."""
    digest = hmac.digest(secret.encode(), body + timestamp.encode(), "sha256")
    return base64.b64encode(digest).decode()


# The timestamp header exactly as Zendesk writes it ("2021-03-25T05:09:27Z"): a fixed length and
# form, so that with two accepted orders no byte can move between the timestamp and the body.
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)


class ZendeskSettings(ConnectorSettings):
    default_base_url = "https://{subdomain}.zendesk.com"
    secret_names = {"webhook_secret": True, "api_token": False, "oauth_token": False}
    kind: str = "zendesk"
    subdomain: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    email: str | None = None
    api_user_id: str | None = None  # our own API user: its changes are never customer or agent activity

    @model_validator(mode="after")
    def _where_and_how(self):
        if not self.base_url and not self.subdomain:
            raise ValueError("set subdomain (e.g. \"acme\") or base_url (e.g. \"https://acme.zendesk.com\")")
        if self.base_url and self.subdomain:
            raise ValueError("set either subdomain or base_url, not both")
        has_token, has_oauth = self.has_secret("api_token"), self.has_secret("oauth_token")
        if has_token and has_oauth:
            raise ValueError("set either api_token_env/_file or oauth_token_env/_file, not both")
        if not has_token and not has_oauth:
            raise ValueError("missing API credentials: set oauth_token_env (recommended) or api_token_env with email")
        if has_token and not self.email:
            raise ValueError("api_token needs email (the agent the token belongs to)")
        return self


class ZendeskConnector(Connector):
    kind = "zendesk"
    title = "Zendesk"
    Settings = ZendeskSettings
    capabilities = base.EVERYTHING | {base.PROVISION}
    default_rate_limit_per_minute = 200  # Team plan; Growth/Professional 400, Enterprise 700
    api_errors = {422: (TicketLocked, "the ticket is closed")}  # "Status: closed prevents ticket update"
    delivery = base.DeliveryRule("X-Zendesk-Webhook-Invocation-Id (unsigned), or the signed timestamp + body",
                                 signed=False)
    settings: ZendeskSettings

    # --- intake -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest) -> None:
        """Either order of timestamp and body, each with the secret. Zendesk's verification page
        (developer.zendesk.com/documentation/webhooks/verifying/) says base64(HMACSHA256(TIMESTAMP +
        BODY)); the earlier version of the same page (…/documentation/event-connectors/webhooks/
        verifying/) said base64(HMACSHA256((BODY)(TIMESTAMP))), and its worked example verifies only
        that way. Accepting both costs no safety: both need the secret, and the timestamp must be
        of Zendesk's exact form (TIMESTAMP), so that its bytes and the body's cannot be traded."""
        signature = request.header("x-zendesk-webhook-signature")
        timestamp = request.header("x-zendesk-webhook-signature-timestamp")
        if not signature or not timestamp:
            raise BadSignature("missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp")
        if not TIMESTAMP.fullmatch(timestamp):
            raise BadSignature(f"X-Zendesk-Webhook-Signature-Timestamp {timestamp[:40]!r} is not of the form "
                               "2021-03-25T05:09:27Z")
        given = signature.encode()
        if not any(hmac.compare_digest(signer(secret, timestamp, request.body).encode(), given)
                   for secret in self.settings.secret_values("webhook_secret") for signer in (sign, sign_body_first)):
            raise BadSignature("signature does not match the webhook's signing secret")
        sent = parse_time(timestamp)
        if sent is None:
            raise StaleTimestamp(f"unreadable signature timestamp {timestamp[:40]!r}")
        tolerance = self.settings.timestamp_tolerance_seconds
        if abs((request.received_at - sent).total_seconds()) > tolerance:
            raise StaleTimestamp(f"signature timestamp is more than {tolerance} s away from now")

    def signed_key(self, request: InboundRequest) -> str | None:
        """The signed timestamp and body. Beyond the tolerance a request is stale, so a key for
        ever is the same as a key within the tolerance."""
        timestamp = request.header("x-zendesk-webhook-signature-timestamp") or ""
        return hashlib.sha256(timestamp.encode() + request.body).hexdigest()

    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        data = request.json()
        if not isinstance(data, dict):
            raise Unparseable("body is not a JSON object")
        invocation = request.header("x-zendesk-webhook-invocation-id")
        event_type = data.get("type")
        if isinstance(event_type, str) and event_type.startswith("zen:event-type:"):
            return [self._parse_event(data, event_type, invocation, request.received_at)]
        return [self._parse_trigger(data, invocation, request)]

    def _parse_event(self, data: dict, event_type: str, invocation: str | None,
                     received_at: datetime) -> TicketEvent:
        detail = data.get("detail") if isinstance(data.get("detail"), dict) else {}
        delivery = invocation or data.get("id")
        if not delivery:
            raise Unparseable("no X-Zendesk-Webhook-Invocation-Id header and no event id")
        occurred = parse_time(data.get("time")) or parse_time(detail.get("updated_at")) or received_at
        if not event_type.startswith("zen:event-type:ticket."):
            return TicketEvent(delivery_id=str(delivery), kind=EventKind.IGNORED, occurred_at=occurred,
                               summary=event_type.removeprefix("zen:event-type:"))
        ticket_id = _ticket_id(detail.get("id")) or _ticket_id(str(data.get("subject", "")).rpartition(":")[2])
        if not ticket_id:
            raise Unparseable("no ticket id in detail.id or subject")
        base = dict(delivery_id=str(delivery), ticket_id=ticket_id, occurred_at=occurred,
                    actor_id=optional_str(detail.get("actor_id")), payload=data)
        if event_type != STATUS_EVENT:
            return TicketEvent(kind=EventKind.IGNORED, summary=event_type.removeprefix("zen:event-type:"), **base)
        change = data.get("event") if isinstance(data.get("event"), dict) else {}
        current = status_of(change.get("current")) or status_of(detail.get("status"))
        if current is None:
            raise Unparseable("status event without a known status in event.current")
        previous = status_of(change.get("previous"))
        return TicketEvent(kind=EventKind.STATUS, status=current, previous_status=previous,
                           summary=f"status {previous or '?'} → {current}", **base)

    def _parse_trigger(self, data: dict, invocation: str | None, request: InboundRequest) -> TicketEvent:
        ticket_id = _ticket_id(data.get("ticket_id"))
        if not ticket_id:
            raise Unparseable("no ticket_id in the body (paste the body `ces connectors setup` prints)")
        if not invocation:
            raise Unparseable("missing X-Zendesk-Webhook-Invocation-Id header")
        occurred = parse_time(request.header("x-zendesk-webhook-signature-timestamp")) or request.received_at
        base = dict(delivery_id=invocation, ticket_id=ticket_id, occurred_at=occurred, payload=data)
        which = data.get("ces_event")
        if which == TRIGGER_SOLVED:
            return TicketEvent(kind=EventKind.STATUS, status=Status.SOLVED, summary="trigger: solved", **base)
        if which == TRIGGER_UNSOLVED:
            # The trigger fires on "status changed from Solved, status is not Closed"; the rendered
            # status label may be translated, so only an exact English name refines it.
            now = status_of(data.get("status"))
            now = now if now not in (None, Status.SOLVED, Status.CLOSED) else Status.OPEN
            return TicketEvent(kind=EventKind.STATUS, status=now, previous_status=Status.SOLVED,
                               summary=f"trigger: solved → {now}", **base)
        return TicketEvent(kind=EventKind.IGNORED, summary="trigger body without ces_event", **base)

    # --- API ----------------------------------------------------------------------------------
    def auth(self) -> dict[str, Any]:
        if self.settings.has_secret("oauth_token"):
            return {"headers": {"Authorization": f"Bearer {self.settings.secret('oauth_token')}"}}
        return {"auth": (f"{self.settings.email}/token", self.settings.secret("api_token"))}

    def api_root(self) -> str:
        return f"{self.settings.api_base}/api/v2"

    def ticket_url(self, ticket_id: str) -> str | None:
        return agent_url(self.settings.api_base, ticket_id)

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        data = self.api.get_json(f"tickets/{ticket_id}.json", "ticket", include="users,groups,organizations")
        return ticket_from_api(data, self.settings.api_base)

    def fetch_history(self, ticket_id: str, ticket: Ticket | None = None) -> TicketHistory:
        """Audits give the exact sequence; metrics give Zendesk's own counters, which stand in
        when the audits cannot be read (OAuth tokens need the global read scope for them)."""
        ticket = ticket or self.fetch_ticket(ticket_id)
        history = TicketHistory(ticket=ticket)
        try:
            metric = self.api.get_json(f"tickets/{ticket_id}/metrics.json", "ticket metrics").get("ticket_metric") or {}
            history.counters = metric_counters(metric)
        except PermanentApiError as exc:
            history.missing.append(f"metrics: {exc.detail}")
        try:
            history.entries = self._audit_entries(ticket_id, ticket)
        except PermanentApiError as exc:
            history.missing.append(f"audits: {exc.detail}")
        return history

    def _audit_entries(self, ticket_id: str, ticket: Ticket) -> list[HistoryEntry]:
        entries: list[HistoryEntry] = []
        for data in self.api.paginate(f"tickets/{ticket_id}/audits.json", "ticket audits", _next_cursor,
                                      params={"page[size]": 100, "include": "users,groups"}):
            users = {str(u.get("id")): u for u in data.get("users") or []}
            groups = {str(g.get("id")): g.get("name") for g in data.get("groups") or []}
            for audit in data.get("audits") or []:
                entries.extend(self._audit(audit, users, groups, ticket))
        return entries

    def _actor(self, author_id: object, users: dict, ticket: Ticket) -> Actor:
        author = optional_str(author_id)
        if author is None or author == "-1":
            return Actor.SYSTEM
        if self.is_ours(author):
            return Actor.US
        role = (users.get(author) or {}).get("role")
        if role == "end-user" or (role is None and ticket.requester and author == ticket.requester.id):
            return Actor.CUSTOMER
        return Actor.AGENT

    def _audit(self, audit: dict, users: dict, groups: dict, ticket: Ticket) -> list[HistoryEntry]:
        at = parse_time(audit.get("created_at"))
        if at is None:
            return []
        channel = channel_of((audit.get("via") or {}).get("channel"))
        out = []
        for event in audit.get("events") or []:
            kind = event.get("type")
            source_id = optional_str(event.get("id"))
            if kind == "Comment":
                actor = self._actor(event.get("author_id", audit.get("author_id")), users, ticket)
                out.append(HistoryEntry(at=at, kind=EntryKind.MESSAGE if event.get("public") else EntryKind.NOTE,
                                        actor=actor, channel=channel, source_id=source_id))
            elif kind in ("Create", "Change"):
                field_name = event.get("field_name")
                actor = self._actor(audit.get("author_id"), users, ticket)
                value, previous = event.get("value"), event.get("previous_value")
                if field_name == "status":
                    out.append(HistoryEntry(at=at, kind=EntryKind.STATUS, actor=actor, value=_lower(value),
                                            previous=_lower(previous), source_id=source_id))
                elif field_name == "group_id":
                    out.append(HistoryEntry(at=at, kind=EntryKind.GROUP, actor=actor, value=_name(groups, value),
                                            previous=_name(groups, previous), source_id=source_id))
                elif field_name == "assignee_id":
                    names = {k: u.get("name") for k, u in users.items()}
                    out.append(HistoryEntry(at=at, kind=EntryKind.ASSIGNEE, actor=actor, value=_name(names, value),
                                            previous=_name(names, previous), source_id=source_id))
        return out

    def recent_tickets(self, requester: Person, since: datetime) -> list[Ticket]:
        if not requester.id:
            return []
        out: list[Ticket] = []
        for data in self.api.paginate(f"users/{requester.id}/tickets/requested.json", "requester's tickets",
                                      json_link("next_page"),
                                      params={"sort_by": "created_at", "sort_order": "desc", "per_page": 100}):
            for raw in data.get("tickets") or []:
                ticket = ticket_from_api({"ticket": raw}, self.settings.api_base)
                if ticket.created_at and ticket.created_at < since:
                    return out
                out.append(ticket)
        return out

    def post_internal_note(self, ticket_id: str, text: str) -> None:
        # `body` is plain text (`html_body` would be HTML): the text goes as it is.
        self.api.write("PUT", f"tickets/{ticket_id}.json", "internal note",
                       {"ticket": {"comment": {"body": text, "public": False}}})

    def post_public_reply(self, ticket_id: str, text: str) -> None:
        self.api.write("PUT", f"tickets/{ticket_id}.json", "public reply",
                       {"ticket": {"comment": {"body": text, "public": True}}})

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self.api.write("PUT", f"tickets/{ticket_id}/tags.json", "tags", {"tags": tags})

    def remove_tags(self, ticket_id: str, tags: list[str]) -> None:
        self.api.write("DELETE", f"tickets/{ticket_id}/tags.json", "untag", {"tags": tags})

    def reopen(self, ticket_id: str, *, group: str | None = None) -> None:
        change: dict[str, Any] = {"status": "open"}
        if group:
            change["group_id"] = int(group) if is_digits(str(group)) else group
        self.api.write("PUT", f"tickets/{ticket_id}.json", "reopen", {"ticket": change})

    def create_followup(self, ticket_id: str, subject: str, text: str) -> str:
        data = self.api.write("POST", "tickets.json", "follow-up ticket", {"ticket": {
            "via_followup_source_id": int(ticket_id), "subject": subject,
            "comment": {"body": text, "public": False}}})
        return str((data.get("ticket") or {}).get("id"))

    # --- admin --------------------------------------------------------------------------------
    def setup_instructions(self) -> str:
        return self.setup_text(base=self.settings.api_base,
                               secret_var=self.env_var("webhook_secret", "ZENDESK_WEBHOOK_SECRET"))

    def provision(self) -> base.Provisioned:
        return provisioning.run(self, zendesk_provision.provision, zendesk_provision.REMINDER)

    def test_delivery(self) -> CheckResult:
        return zendesk_provision.test_delivery(self)

    def check(self) -> list[CheckResult]:
        results = []
        try:
            me = self.api.get_json("users/me.json", "current user").get("user") or {}
        except ApiError as exc:
            return [CheckResult("authentication", False, exc.detail)]
        if not me.get("id"):
            words = "Zendesk answered as an anonymous user: check the credentials"
            self.http.observe_refusal(self.rate_key, PermanentApiError(words, status=401, cause=words))
            return [CheckResult("authentication", False, words)]
        role = me.get("role")
        results.append(CheckResult("authentication", True, f"signed in as {me.get('name')} ({role})",
                                   {"user_id": str(me["id"])}))
        results.append(CheckResult("internal notes", role in ("agent", "admin"),
                                   "agents and admins can add internal notes" if role in ("agent", "admin")
                                   else f"role {role!r} cannot add internal notes"))
        return results + self.own_user_check(me["id"], "the credentials belong to user")


def _next_cursor(resp, data: dict) -> str | None:
    """Cursor pagination: `links.next` while `meta.has_more`."""
    return (data.get("links") or {}).get("next") if (data.get("meta") or {}).get("has_more") else None


def _lower(value: object) -> str | None:
    status = status_of(value)
    return status.value if status else None


def _name(names: dict, value: object) -> str | None:
    key = optional_str(value)
    return None if key is None else (names.get(key) or key)


def _minutes(metric: dict, key: str) -> float | None:
    value = metric.get(key)
    if isinstance(value, dict):
        value = value.get("calendar")
    return float(value) if isinstance(value, (int, float)) else None


def metric_counters(metric: dict) -> dict[str, float]:
    """Zendesk's ticket metrics, under the documented counter names of TicketHistory."""
    out = {}
    for name, key in (("group_stations", "group_stations"), ("assignee_stations", "assignee_stations"),
                      ("reopens", "reopens"), ("replies", "replies")):
        if isinstance(metric.get(key), (int, float)):
            out[name] = float(metric[key])
    for name, key in (("first_reply_minutes", "reply_time_in_minutes"),
                      ("requester_wait_minutes", "requester_wait_time_in_minutes"),
                      ("full_resolution_minutes", "full_resolution_time_in_minutes")):
        value = _minutes(metric, key)
        if value is not None:
            out[name] = value
    return out


def _ticket_id(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text if is_digits(text) else None


def agent_url(base: str, ticket_id: object) -> str:
    return f"{base}/agent/tickets/{ticket_id}"


def ticket_from_api(data: dict, base: str) -> Ticket:
    t = data.get("ticket") or {}
    users = {str(u.get("id")): u for u in data.get("users") or []}
    groups = {str(g.get("id")): g for g in data.get("groups") or []}
    orgs = {str(o.get("id")): o for o in data.get("organizations") or []}
    req = users.get(str(t.get("requester_id")), {})
    assignee = users.get(str(t.get("assignee_id")), {})
    via = t.get("via") or {}
    source = via.get("source") or {}
    merged = source.get("rel") == "merge" or "closed_by_merge" in (t.get("tags") or [])
    return Ticket(
        id=str(t["id"]),
        status=status_of(t.get("status")) or Status.OPEN,
        subject=t.get("subject"),
        requester=Person(id=optional_str(t.get("requester_id")), email=req.get("email"), name=req.get("name"),
                         locale=req.get("locale"), time_zone=req.get("iana_time_zone")) if req else
        Person(id=optional_str(t.get("requester_id"))),
        assignee=assignee.get("name"),
        assignee_id=optional_str(t.get("assignee_id")),
        assignee_email=assignee.get("email"),
        group=(groups.get(str(t.get("group_id"))) or {}).get("name"),
        brand=optional_str(t.get("brand_id")),
        organization=(orgs.get(str(t.get("organization_id"))) or {}).get("name"),
        channel=channel_of(via.get("channel")),
        raw_channel=optional_str(via.get("channel")),
        tags=list(t.get("tags") or []),
        created_at=parse_time(t.get("created_at")),
        updated_at=parse_time(t.get("updated_at")),
        url=agent_url(base, t["id"]),
        merged=merged,
    )
