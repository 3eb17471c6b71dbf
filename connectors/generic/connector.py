"""Generic connector: any system that sends Standard Webhooks.

Facts (standard-webhooks/standard-webhooks
spec/standard-webhooks.md and libraries/python/standardwebhooks/webhooks.py):

- Headers: `webhook-id` (the same on every retry: our delivery id), `webhook-timestamp` (Unix
  seconds), `webhook-signature`: space-separated "v1,<base64 signature>" entries, any of which may
  match (the sender signs with several secrets while it rotates them).
- Signature: base64 HMAC-SHA256 over f"{id}.{timestamp}.{raw body}", keyed with the secret's bytes:
  the secret is "whsec_" + base64; strip the prefix and decode it.
- Body: {"type": ..., "timestamp": ISO-8601, "data": {...}}, the contract `setup` prints.

There is no API behind this connector: every event carries the ticket as the webhook describes it,
and history (status, group, assignee) is what the webhooks told.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any

from ces.config.models import ConnectorSettings
from ces.config.secrets import MissingSecret
from ces.connectors.base import CheckResult, Connector, DeliveryRule, InboundRequest, Person, Ticket, TicketEvent
from ces.connectors.errors import BadSignature, StaleTimestamp, Unparseable
from ces.connectors.models import Channel, EntryKind, EventKind, HistoryEntry, Status
from ces.connectors.standard_webhooks import SECRET_PREFIX, secret_key, sign  # noqa: F401  (sign: for senders and tests)
from ces.connectors.timeparse import parse_time

SOLVED = "ticket.solved"
REOPENED = "ticket.reopened"
UPDATED = "ticket.updated"

_STATUSES = {s.value: s for s in Status}
_STATUSES.update({"on_hold": Status.HOLD, "resolved": Status.SOLVED, "done": Status.SOLVED,
                  "archived": Status.CLOSED, "reopened": Status.OPEN, "waiting": Status.PENDING})

# Common channel names (lower case, "-" and " " read as "_") → Channel; anything else is OTHER.
_CHANNELS = {
    **dict.fromkeys(["email", "e_mail", "mail"], Channel.EMAIL),
    **dict.fromkeys(["chat", "live_chat", "livechat", "web_chat"], Channel.CHAT),
    **dict.fromkeys(["messaging", "whatsapp", "sms", "messenger", "telegram", "line", "wechat", "imessage",
                     "apple_messages", "rcs", "viber"], Channel.MESSAGING),
    **dict.fromkeys(["phone", "voice", "call", "telephone", "callback"], Channel.PHONE),
    **dict.fromkeys(["web", "web_form", "webform", "form", "portal", "widget", "help_center", "contact_form",
                     "mobile", "app", "in_app"], Channel.WEB),
    **dict.fromkeys(["social", "twitter", "x", "facebook", "instagram", "linkedin"], Channel.SOCIAL),
    "api": Channel.API,
}


def status_of(value: object) -> Status | None:
    if not isinstance(value, str):
        return None
    return _STATUSES.get(value.strip().lower().replace("-", "_").replace(" ", "_"))


def channel_of(value: object) -> Channel:
    if not isinstance(value, str):
        return Channel.OTHER
    return _CHANNELS.get(value.strip().lower().replace("-", "_").replace(" ", "_"), Channel.OTHER)


class GenericSettings(ConnectorSettings):
    secret_names = {"webhook_secret": True}
    kind: str = "generic"


class GenericConnector(Connector):
    kind = "generic"
    title = "Generic (Standard Webhooks)"
    Settings = GenericSettings
    delivery = DeliveryRule("webhook-id (signed with the timestamp and body)", signed=True)
    capabilities = frozenset()  # no API: notes and public replies raise Unsupported (the base's)
    history_from_webhooks = frozenset({EntryKind.STATUS, EntryKind.GROUP, EntryKind.ASSIGNEE})
    settings: GenericSettings

    # --- intake -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest) -> None:
        msg_id = request.header("webhook-id")
        timestamp = request.header("webhook-timestamp")
        signatures = request.header("webhook-signature")
        if not (msg_id and timestamp and signatures):
            raise BadSignature("missing webhook-id, webhook-timestamp or webhook-signature header")
        keys = []
        for secret in self.settings.secret_values("webhook_secret"):
            try:
                keys.append(secret_key(secret))
            except ValueError:
                continue  # a malformed secret can match nothing; `ces connectors test` names it
        if not keys:
            raise BadSignature("no usable webhook secret configured (expected whsec_ + base64)")
        signed = f"{msg_id}.{timestamp}.".encode() + request.body
        expected = [hmac.new(key, signed, hashlib.sha256).digest() for key in keys]
        presented = []
        for entry in signatures.split():
            version, _, value = entry.partition(",")
            if version != "v1":
                continue  # v1a (asymmetric) and future versions are not ours to check
            try:
                presented.append(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                continue
        if not any(hmac.compare_digest(e, p) for e in expected for p in presented):
            raise BadSignature("no webhook-signature entry matches the configured secret")
        # Checked after the signature, so that only an authentic timestamp is trusted.
        try:
            sent = datetime.fromtimestamp(int(timestamp.strip()), timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise StaleTimestamp(f"unreadable webhook-timestamp {timestamp[:20]!r}") from None
        tolerance = self.settings.timestamp_tolerance_seconds
        if abs((request.received_at - sent).total_seconds()) > tolerance:
            raise StaleTimestamp(f"webhook-timestamp is more than {tolerance} s away from now")

    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        """ticket.solved → STATUS solved (closed when data.status is "closed"); ticket.reopened →
        STATUS with data.status (open unless it names another unresolved state), previous solved;
        ticket.updated → UPDATED with an entry for each of group, assignee and status it carries
        (values only: transfers come from successive values). ticket.updated never solves or
        reopens a ticket, even when data.status says solved: senders send ticket.solved and
        ticket.reopened for that. Any other type is IGNORED."""
        envelope = request.json()
        if not isinstance(envelope, dict):
            raise Unparseable("body is not a JSON object")
        delivery = request.header("webhook-id")
        if not delivery:
            raise Unparseable("missing webhook-id header")
        kind = envelope.get("type")
        data = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
        ticket_id = _text(data.get("ticket_id"))
        known = kind in (SOLVED, REOPENED, UPDATED)
        if known and not ticket_id:
            raise Unparseable("no data.ticket_id")
        occurred = (parse_time(envelope.get("timestamp")) or parse_time(data.get("updated_at"))
                    or request.received_at)
        common: dict[str, Any] = dict(delivery_id=delivery, ticket_id=ticket_id, occurred_at=occurred,
                                      payload=envelope)
        stated = status_of(data.get("status"))
        if kind == SOLVED:
            status = Status.CLOSED if stated == Status.CLOSED else Status.SOLVED
            return [TicketEvent(kind=EventKind.STATUS, status=status, summary=f"{kind}: {status}",
                                ticket=describe(ticket_id, data, status), **common)]
        if kind == REOPENED:
            status = stated if stated and stated not in (Status.SOLVED, Status.CLOSED) else Status.OPEN
            return [TicketEvent(kind=EventKind.STATUS, status=status, previous_status=Status.SOLVED,
                                summary=f"{kind}: solved → {status}", ticket=describe(ticket_id, data, status),
                                **common)]
        ticket = describe(ticket_id, data, stated or Status.OPEN) if ticket_id else None
        if kind == UPDATED:
            entries = []
            for key, entry_kind in (("group", EntryKind.GROUP), ("assignee", EntryKind.ASSIGNEE)):
                if key in data:
                    entries.append(HistoryEntry(at=occurred, kind=entry_kind, value=_text(data.get(key))))
            if stated is not None:
                entries.append(HistoryEntry(at=occurred, kind=EntryKind.STATUS, value=stated.value))
            summary = ", ".join(f"{e.kind.value} {e.value or 'none'}" for e in entries) or "no tracked values"
            return [TicketEvent(kind=EventKind.UPDATED, summary=f"{kind}: {summary}", entries=entries,
                                ticket=ticket, **common)]
        return [TicketEvent(kind=EventKind.IGNORED, summary=f"type {str(kind)[:60]!r} is not one we act on",
                            ticket=ticket, **common)]

    # --- admin --------------------------------------------------------------------------------
    def setup_instructions(self) -> str:
        example = json.dumps({"type": SOLVED, "timestamp": "2026-11-23T10:15:45Z", "data": {
            "ticket_id": "48213", "requester_email": "maria.garcia@example.com", "requester_name": "María García",
            "locale": "es", "channel": "email", "group": "Billing", "assignee": "Priya Patel", "status": "solved",
            "updated_at": "2026-11-23T10:15:45Z"}}, indent=2, ensure_ascii=False)
        return self.setup_text(secret_var=self.env_var("webhook_secret", "CES_GENERIC_WEBHOOK_SECRET"),
                               tolerance=self.settings.timestamp_tolerance_seconds,
                               example="\n".join("    " + line for line in example.splitlines()))

    def check(self) -> list[CheckResult]:
        """Nothing to call: verifies that the secret is set and is a well-formed whsec_ secret."""
        results = [CheckResult("api", True, "nothing to call: this connector has no helpdesk API; tickets are "
                               "described by the webhooks themselves, and notes or replies are not possible")]
        try:
            secrets = self.settings.secret_values("webhook_secret")
        except MissingSecret as exc:
            return results + [CheckResult("webhook secret", False, f"{exc.message}; {exc.fix}")]
        if not secrets:
            return results + [CheckResult("webhook secret", False, "no webhook_secret_env or webhook_secret_file")]
        for n, secret in enumerate(secrets, 1):
            name = "webhook secret" if len(secrets) == 1 else f"webhook secret {n} of {len(secrets)}"
            try:
                key = secret_key(secret)
            except ValueError as exc:
                results.append(CheckResult(name, False, f"not a Standard Webhooks secret: {exc}"))
                continue
            prefixed = secret.strip().startswith(SECRET_PREFIX)
            results.append(CheckResult(name, True, f"set, {len(key)} random bytes"
                                       + ("" if prefixed else " (without the usual whsec_ prefix)")))
        return results


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def describe(ticket_id: str | None, data: dict, status: Status) -> Ticket | None:
    """The ticket as the webhook's data describes it."""
    if not ticket_id:
        return None
    email, name, locale = _text(data.get("requester_email")), _text(data.get("requester_name")), _text(data.get("locale"))
    raw_channel = _text(data.get("channel"))
    return Ticket(id=ticket_id, status=status,
                  requester=Person(email=email, name=name, locale=locale) if email or name or locale else None,
                  channel=channel_of(raw_channel), raw_channel=raw_channel,
                  group=_text(data.get("group")), assignee=_text(data.get("assignee")),
                  assignee_id=_text(data.get("assignee_id")), assignee_email=_text(data.get("assignee_email")),
                  updated_at=parse_time(data.get("updated_at")))
