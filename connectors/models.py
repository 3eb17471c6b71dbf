"""Normalized models: everything downstream of a connector works on these, never on raw payloads."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping

import orjson
from pydantic import BaseModel, ConfigDict, Field

from ces.connectors.errors import Unparseable


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    HOLD = "hold"
    SOLVED = "solved"
    CLOSED = "closed"
    DELETED = "deleted"


RESOLVED = frozenset({Status.SOLVED, Status.CLOSED})


class EventKind(StrEnum):
    STATUS = "status"  # the ticket's status changed (solved, closed, reopened…)
    UPDATED = "updated"  # another change worth keeping for history (assignment, group…)
    IGNORED = "ignored"  # stored for the record, nothing to do


class Actor(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"  # automations, triggers, the helpdesk itself
    US = "us"  # ces-worker's own API user: never counted as anyone's activity


class EntryKind(StrEnum):
    STATUS = "status"  # value: the new Status, previous: the old one
    GROUP = "group"  # value: the group (team) now handling the ticket
    ASSIGNEE = "assignee"  # value: the agent now assigned
    MESSAGE = "message"  # a message the customer can see, by the customer or an agent
    NOTE = "note"  # an internal note: not a reply to the customer


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    MESSAGING = "messaging"
    PHONE = "phone"
    WEB = "web"
    SOCIAL = "social"
    API = "api"
    OTHER = "other"


@dataclass(frozen=True)
class InboundRequest:
    """A webhook as it reached us: verification works on these exact bytes."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    received_at: datetime
    public_url: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def digest(self) -> str:
        """SHA-256 of the exact bytes received, in hex: a delivery key where the helpdesk sends none."""
        return hashlib.sha256(self.body).hexdigest()

    def json(self, hint: str = "") -> Any:
        """The body as JSON, or Unparseable. orjson reads it (in C, on intake's hot path); what it
        refuses but JSON allows (integers beyond 64 bits, UTF-16) goes to the standard parser.
        Nesting is bounded (MAX_DEPTH): no helpdesk nests deeper, and deeper payloads break the
        encoders downstream (orjson stops at 255 levels, the standard library at the recursion limit)."""
        try:
            data = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            try:  # NaN and Infinity are not JSON (the json column refuses them), though the parser takes them
                data = json.loads(self.body, parse_constant=_not_json)
            except RecursionError:
                raise Unparseable(f"body nests deeper than {MAX_DEPTH} levels") from None
            except (UnicodeDecodeError, ValueError):
                raise Unparseable("body is not JSON" + (f": {hint}" if hint else "")) from None
        # Counting brackets is one pass in C and bounds the depth: only a body with many of them is walked.
        if self.body.count(b"{") + self.body.count(b"[") > MAX_DEPTH and _deeper_than(data, MAX_DEPTH):
            raise Unparseable(f"body nests deeper than {MAX_DEPTH} levels")
        return data


MAX_DEPTH = 64  # levels of JSON nesting in a webhook body


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON nests deeper than `limit` objects and arrays (walked without recursion)."""
    level = [value]
    for _ in range(limit):
        level = [child for item in level if isinstance(item, (dict, list))
                 for child in (item.values() if isinstance(item, dict) else item)]
        if not level:
            return False
    return any(isinstance(item, (dict, list)) for item in level)


class Person(BaseModel):
    id: str | None = None
    email: str | None = None
    name: str | None = None
    locale: str | None = None
    time_zone: str | None = None


class Ticket(BaseModel):
    """A ticket as its helpdesk's API tells it now."""

    id: str
    status: Status
    subject: str | None = None
    requester: Person | None = None
    assignee: str | None = None  # the agent's name
    assignee_id: str | None = None  # the agent's id at the helpdesk
    assignee_email: str | None = None
    group: str | None = None
    brand: str | None = None
    organization: str | None = None
    channel: Channel = Channel.OTHER
    raw_channel: str | None = None
    tags: list[str] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None
    url: str | None = None  # where an agent opens it
    merged: bool = False


class HistoryEntry(BaseModel):
    """One thing that happened to a ticket, in the order the helpdesk recorded it."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: EntryKind
    actor: Actor = Actor.SYSTEM
    value: str | None = None
    previous: str | None = None
    channel: Channel | None = None  # for messages: the channel it came through
    source_id: str | None = None  # the helpdesk's own id for this change, if it has one


class TicketEvent(BaseModel):
    """One thing that happened to a ticket, as told by a webhook."""

    model_config = ConfigDict(frozen=True)

    delivery_id: str  # idempotency key, unique per connector
    kind: EventKind
    ticket_id: str | None = None
    status: Status | None = None
    previous_status: Status | None = None
    occurred_at: datetime
    actor_id: str | None = None
    summary: str = ""  # short description for listings; never the whole payload
    payload: dict[str, Any] | None = None  # kept for replay within the retention window
    # What the webhook tells of the ticket's history, for helpdesks whose API cannot (Freshdesk's
    # transfers, the generic connector): stored, then joined with what the API tells.
    entries: list[HistoryEntry] = Field(default_factory=list)  # a factory: no copy of a default per event
    # The ticket as the webhook describes it, for connectors that cannot read it back (no API).
    ticket: Ticket | None = None


class TicketHistory(BaseModel):
    """What a ticket went through, normalized: the input of every signal."""

    ticket: Ticket
    entries: list[HistoryEntry] = []
    # The helpdesk's own counters, used where entries cannot be read (documented keys:
    # group_stations, assignee_stations, reopens, first_reply_minutes, requester_wait_minutes).
    counters: dict[str, float] = {}
    missing: list[str] = []  # what could not be read, and why


@dataclass
class CheckResult:
    """One line of `ces connectors test`."""

    name: str
    ok: bool
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
