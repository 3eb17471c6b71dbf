"""Normalized models: everything downstream of a connector works on these, never on raw payloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict


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
    assignee: str | None = None
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


@dataclass
class CheckResult:
    """One line of `ces connectors test`."""

    name: str
    ok: bool
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
